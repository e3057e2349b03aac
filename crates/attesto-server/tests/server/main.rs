//! Integration tests: a real server on an ephemeral port, real HTTPS, real evidence.

mod attest_real;
mod common;
mod http_errors;
mod oidc_admin;
mod policy_admin;
mod tpm;
