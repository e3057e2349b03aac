//! Parse arbitrary bytes as a TCG event log and as an IMA list; replay and decode what parses.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attesto_tpm::fuzzing::event_log(data));
