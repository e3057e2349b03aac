//! Entry points for fuzz targets (`fuzz/fuzz_targets/jwt_decode.rs`). Not a stable API.
//!
//! Each function runs the untrusted-input paths on arbitrary bytes; the property is "never
//! panics". No key is generated and no clock is read, so runs are deterministic.

use crate::jws::Jws;
use crate::maa;
use crate::verify::Unsecured;

/// Normalizes `data` as a request body, parses it as a JWS and exercises everything that reads
/// attacker-controlled parts: header re-serialization, signer-chain extraction, embedded-signer
/// verification, and the MAA payload decoders.
pub fn parse_jws(data: &[u8]) {
    let text = maa::normalize_request_body(data)
        .unwrap_or_else(|_| String::from_utf8_lossy(data).into_owned());
    let Ok(jws) = Jws::parse(&text) else {
        return;
    };
    let _ = jws.header().to_json();
    let _ = jws.signing_input();
    if let Some(jwk) = &jws.header().jwk {
        let _ = jwk.public_key();
    }
    let _ = jws.verify_with_embedded_signer(Unsecured::Accept);
    let _ = maa::decode_stored_policy(jws.payload());
    let _ = maa::decode_policy_certificate(jws.payload());
    let _ = maa::policy_token_hash(text.as_bytes());
}
