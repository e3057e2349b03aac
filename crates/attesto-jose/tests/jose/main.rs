//! Integration tests for attesto-jose: real MAA data, round trips, interoperability with an
//! independent JWT library, every rejection, trust checks, client validation and MAA payloads.

mod common;
mod interop;
mod maa_payloads;
mod properties;
mod real_data;
mod rejections;
mod roundtrip;
mod trust;
mod validation;
