//! Property tests: the parser never panics, printing round-trips, evaluation is deterministic.

use attesto_policy::{Claim, ClaimSet, ClaimValue, Issuer, Policy};
use proptest::prelude::*;

/// Fragments that recombine into text close to the grammar, so the parser's deeper paths run.
const FRAGMENTS: &[&str] = &[
    "version",
    "=",
    "1.0",
    "1.2",
    ";",
    "authorizationrules",
    "issuancerules",
    "configurationrules",
    "{",
    "}",
    "[",
    "]",
    "=>",
    "permit()",
    "deny()",
    "issue(",
    "add(",
    "issueproperty(",
    "type",
    "value",
    "issuer",
    "==",
    "!=",
    ">=",
    "<",
    "&&",
    "!",
    "c",
    ":",
    ".",
    ",",
    "(",
    ")",
    "\"a\"",
    "\"\\\"\"",
    "1",
    "-",
    "true",
    "JmesPath(",
    "JsonToClaimValue(",
    "AppendString(",
    "claim",
    " ",
    "\n",
    "//x\n",
    "\u{201d}",
    "\"",
    "é",
    "99999999999999999999",
];

fn near_policy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..80).prop_map(|parts| parts.concat())
}

const CONDITIONS: &[&str] = &[
    "type==\"a\"",
    "type==\"b\"",
    "value==1",
    "value>=2",
    "value<-3",
    "value!=\"x\"",
    "value==true",
    "issuer==\"AttestationService\"",
    "issuer!=\"CustomClaim\"",
];

const VALUES: &[&str] = &[
    "1",
    "-7",
    "true",
    "\"s\\\"q\\\\\"",
    "JsonToClaimValue(\"[1,2]\")",
    "AppendString(\"a\", \"b\")",
    "NegateBool(false)",
    "JmesPath(\"{\\\"a\\\":[1,2]}\", \"a[0]\")",
    "IsSubsetOf(JsonToClaimValue(\"[1]\"), JsonToClaimValue(\"[1,2]\"))",
];

fn condition(index: usize) -> impl Strategy<Value = String> {
    (
        0..3u8,
        prop::collection::vec(prop::sample::select(CONDITIONS), 0..3),
    )
        .prop_map(move |(prefix, props)| {
            let prefix = match prefix {
                0 => String::new(),
                1 => "!".to_owned(),
                _ => format!("c{index}:"),
            };
            format!("{prefix}[{}]", props.join(", "))
        })
}

fn rule(authorization: bool) -> impl Strategy<Value = String> {
    let conditions =
        (0..4usize).prop_flat_map(|count| (0..count).map(condition).collect::<Vec<_>>());
    (
        conditions,
        0..4u8,
        prop::sample::select(VALUES),
        any::<bool>(),
    )
        .prop_map(move |(conditions, action, value, reference)| {
            // Refer to the first condition's binding when it has one.
            let value = match conditions.first() {
                Some(first) if reference && first.starts_with("c0:") => "c0.value".to_owned(),
                _ => value.to_owned(),
            };
            let action = match (authorization, action) {
                (true, 0) => "permit()".to_owned(),
                (true, 1) => "deny()".to_owned(),
                (_, 2) => format!("add(type=\"t\", value={value})"),
                (false, 1) => "issueproperty(type=\"custom\", value=1)".to_owned(),
                _ => format!("issue(type=\"out\", value={value})"),
            };
            let conditions = conditions.join(" && ");
            if conditions.is_empty() {
                format!("=> {action};")
            } else {
                format!("{conditions} => {action};")
            }
        })
}

fn policy_text() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(rule(true), 0..5),
        prop::option::of(prop::collection::vec(rule(false), 0..5)),
    )
        .prop_map(|(authorization, issuance)| {
            let mut text = format!(
                "version=1.2;\nauthorizationrules {{\n{}\n}};\n",
                authorization.join("\n")
            );
            if let Some(issuance) = issuance {
                text.push_str(&format!("issuancerules {{\n{}\n}};\n", issuance.join("\n")));
            }
            text
        })
}

fn claims() -> impl Strategy<Value = ClaimSet> {
    let value = prop_oneof![
        (-3i64..4).prop_map(ClaimValue::Integer),
        any::<bool>().prop_map(ClaimValue::Boolean),
        prop::sample::select(vec!["a", "x", "[1,2]", "{\"a\":1}"]).prop_map(ClaimValue::from),
    ];
    let issuer = prop::sample::select(vec![Issuer::AttestationService, Issuer::CustomClaim]);
    prop::collection::vec(
        (prop::sample::select(vec!["a", "b", "t"]), value, issuer),
        0..8,
    )
    .prop_map(|claims| {
        claims
            .into_iter()
            .map(|(claim_type, value, issuer)| Claim {
                claim_type: claim_type.into(),
                value,
                issuer,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parser_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Policy::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_near_policies(text in near_policy()) {
        if let Ok(policy) = Policy::parse(&text) {
            prop_assert_eq!(Policy::parse(&policy.to_string()).ok(), Some(policy));
        }
    }

    #[test]
    fn fuzz_entry_point_never_panics(text in near_policy()) {
        attesto_policy::fuzzing::parse_and_evaluate(text.as_bytes());
    }

    #[test]
    fn print_then_parse_is_identity(text in policy_text()) {
        let parsed = Policy::parse(&text);
        prop_assume!(parsed.is_ok());
        let policy = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let printed = policy.to_string();
        let reparsed = Policy::parse(&printed).map_err(|e| TestCaseError::fail(format!("{e}\n{printed}")))?;
        prop_assert_eq!(&reparsed, &policy);
        // Printing is stable.
        prop_assert_eq!(reparsed.to_string(), printed);
    }

    #[test]
    fn evaluation_is_deterministic(text in policy_text(), claims in claims()) {
        let parsed = Policy::parse(&text);
        prop_assume!(parsed.is_ok());
        let policy = parsed.map_err(|e| TestCaseError::fail(e.to_string()))?;
        let first = policy.evaluate(&claims);
        let second = policy.evaluate(&claims);
        match (first, second) {
            (Ok(first), Ok(second)) => {
                prop_assert_eq!(first.permitted, second.permitted);
                prop_assert_eq!(&first.decision, &second.decision);
                prop_assert_eq!(&first.issued_claims, &second.issued_claims);
                prop_assert_eq!(&first.properties, &second.properties);
                prop_assert_eq!(first.trace.to_string(), second.trace.to_string());
                prop_assert!(first.permitted || first.issued_claims.is_empty());
            }
            (Err(first), Err(second)) => prop_assert_eq!(first, second),
            (first, second) => prop_assert!(false, "{:?} vs {:?}", first.is_ok(), second.is_ok()),
        }
    }
}

/// The generator must mostly produce valid policies, or the round-trip property tests little.
#[test]
fn generated_policies_mostly_parse() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = policy_text();
    let mut parsed = 0;
    for _ in 0..200 {
        let Ok(tree) = strategy.new_tree(&mut runner) else {
            continue;
        };
        if Policy::parse(&tree.current()).is_ok() {
            parsed += 1;
        }
    }
    assert!(
        parsed > 150,
        "only {parsed} of 200 generated policies parse"
    );
}

/// The fuzz entry point over the whole fixture corpus (its round-trip assertion included).
#[test]
fn fuzz_entry_point_accepts_the_corpus() -> Result<(), std::io::Error> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/policies");
    for sub in ["", "invalid", "jws"] {
        for entry in std::fs::read_dir(dir.join(sub))? {
            let path = entry?.path();
            if path.is_file() {
                attesto_policy::fuzzing::parse_and_evaluate(&std::fs::read(&path)?);
            }
        }
    }
    Ok(())
}
