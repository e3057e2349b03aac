//! Parse arbitrary bytes as every TPM structure and verify them as a quote and a signature
//! against a real GCE AK and log.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| attesto_tpm::fuzzing::tpm_structures(data));
