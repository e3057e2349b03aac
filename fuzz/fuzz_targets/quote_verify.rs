//! Parse arbitrary bytes as a DCAP quote and verify them against fixed real collateral.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attesto_quote::fuzzing::parse_and_verify(data));
