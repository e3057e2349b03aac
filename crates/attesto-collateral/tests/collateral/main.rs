//! Integration tests of attesto-collateral: sources against a mock PCS, the offline index, the
//! cache (single flight, expiry, failures, grace, refresher, persistence) and import.

mod cache;
mod common;
mod import;
mod offline;
mod pcs;
