//! Tests on real quotes and collateral from `testdata/` (never modified: mutations happen on
//! in-memory copies).

mod expected_cases;
mod maa_sample;
mod pcs_format;
mod support;
mod tampering;
mod truncation;
