//! Parse, round-trip and evaluate arbitrary policy text; must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attesto_policy::fuzzing::parse_and_evaluate(data));
