//! Integration tests of attesto-provider: request parsing, claims from real and minted quotes,
//! real MAA sample requests, and token payloads.

mod maa_sample;
mod minted;
mod real_quotes;
mod request_parsing;
mod support;
mod token_payload;
