//! Parse arbitrary bytes as a JWS/JWT request body and run every path that reads attacker input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attesto_jose::fuzzing::parse_jws(data));
