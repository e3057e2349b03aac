//! Integration tests of the client library: the sample's real files and certificates, the
//! evidence sources against fake device trees, and token judgement on tokens signed here.
//! Validation against a running server is tested end to end in `attesto-cli`.

mod common;
mod evidence_sources;
mod judge;
mod sample_files;
mod signing_certs;
