//! Property tests: untrusted input never panics, and what attesto writes it can read back.

use attesto_jose::{Jws, base64url, fuzzing, maa};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::parse_jws(&data);
    }

    #[test]
    fn arbitrary_three_part_tokens_never_panic(
        header in proptest::collection::vec(any::<u8>(), 0..128),
        payload in proptest::collection::vec(any::<u8>(), 0..128),
        signature in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        // Well-formed base64url around arbitrary bytes reaches the JSON and signer code paths.
        let token = format!(
            "{}.{}.{}",
            base64url::encode(&header),
            base64url::encode(&payload),
            base64url::encode(&signature)
        );
        fuzzing::parse_jws(token.as_bytes());
    }

    #[test]
    fn arbitrary_json_headers_never_panic(json in "\\{(\"(alg|x5c|jwk|kid|crit|typ)\":(\"[A-Za-z0-9+/=]{0,12}\"|\\[\\]|\\{\\}|null|1),?){0,4}\\}") {
        let token = format!("{}.e30.", base64url::encode(json.as_bytes()));
        fuzzing::parse_jws(token.as_bytes());
    }

    #[test]
    fn base64url_round_trips(data in proptest::collection::vec(any::<u8>(), 0..256)) {
        let encoded = base64url::encode(&data);
        prop_assert!(!encoded.contains('='));
        prop_assert_eq!(base64url::decode(&encoded), Ok(data.clone()));
        prop_assert_eq!(base64url::decode(&base64url::encode_std(&data)), Ok(data));
    }

    #[test]
    fn unsecured_policies_round_trip(text in "[ -~]{0,200}") {
        let jws = Jws::parse(&maa::unsecured_policy_jws(&text)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let policy = maa::decode_stored_policy(jws.payload()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(policy.text, text);
    }
}
