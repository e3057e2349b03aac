//! Checks the testkit's output against the DCAP spec with independent readers (`common`), and
//! against a second verifier (dcap-qvl) configured with the test root.

mod collateral;
mod common;
mod cross_verify;
mod pki;
mod quote;
