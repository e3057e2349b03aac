//! `x-ms-policy-hash`.

use aws_lc_rs::digest::{SHA256, digest};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// MAA's policy hash: `BASE64URL(SHA256(UTF8(BASE64URL(UTF8(policy text)))))`, unpadded. The
/// inner encoding is of the exact text (no trimming, no newline normalisation), as the service
/// stores it.
///
/// ```
/// // The hash a real MAA token (shared West US, 2021) carried for the service's default SGX policy.
/// let text = attesto_policy::default_policy(attesto_policy::AttestationType::SgxEnclave);
/// assert_eq!(attesto_policy::policy_hash(text), "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw");
/// ```
#[must_use]
pub fn policy_hash(text: &str) -> String {
    let encoded = URL_SAFE_NO_PAD.encode(text.as_bytes());
    URL_SAFE_NO_PAD.encode(digest(&SHA256, encoded.as_bytes()).as_ref())
}

/// `x-ms-policy-token-hash` of a set-policy result: `BASE64URL(SHA256(the exact JWS body as
/// received))`, unpadded. Verified against a recorded MAA answer (fixture
/// `jws/set-policy-unsigned-request-body.txt` → `pyhI2FKMjRkvpvwS07hLclAyvsi5O4TrnzL5OPsIxzM`).
#[must_use]
pub fn policy_token_hash(jws: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest(&SHA256, jws.as_bytes()).as_ref())
}
