//! Parse arbitrary bytes as an MAA attest request body for every attestation type and version.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attesto_provider::fuzzing::parse_request(data));
