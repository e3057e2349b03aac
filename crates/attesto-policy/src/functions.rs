//! The JmesPath engine behind `JmesPath(json, query)`: one shared runtime with the standard
//! functions plus MAA's `equals_ignore_case`, and the pre-checks that keep hostile queries away from
//! the (recursive) JmesPath compiler; then the six policy functions over evaluated values
//! ([`call`]).

use std::sync::{Arc, LazyLock};

use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, Expression, Rcvar, Runtime, Variable};

use serde_json::Value;

use crate::ast::Function;
use crate::claims::{ClaimValue, json_kind};
use crate::error::{Error, EvaluationErrorKind};
use crate::eval::{limit, runtime, values_equal};
use crate::limits::{self, Limit};
use crate::span::Span;

/// The runtime every query is compiled against.
static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    let mut runtime = Runtime::new();
    runtime.register_builtin_functions();
    runtime.register_function(
        "equals_ignore_case",
        Box::new(CustomFunction::new(
            Signature::new(vec![ArgumentType::Any, ArgumentType::Any], None),
            Box::new(|args: &[Rcvar], _: &mut Context<'_>| {
                Ok(Rcvar::new(Variable::Bool(equals_ignore_case(args))))
            }),
        )),
    );
    runtime
});

/// MAA's extension used by its ELAM samples: true iff both arguments are strings equal ignoring
/// case (Unicode lower-casing). Non-string arguments give false instead of an error, because event
/// logs routinely have entries without the field being compared (`EVENT_FILEPATH` is null in most
/// events), and one such entry must not abort the whole policy.
fn equals_ignore_case(args: &[Rcvar]) -> bool {
    match args {
        [left, right] => match (left.as_string(), right.as_string()) {
            (Some(left), Some(right)) => {
                left == right || left.to_lowercase() == right.to_lowercase()
            }
            _ => false,
        },
        _ => false,
    }
}

/// Why a query could not be compiled.
#[derive(Debug)]
pub(crate) enum QueryError {
    /// Too long or too deeply nested.
    Limit(Limit),
    /// Not JmesPath.
    Invalid(String),
}

/// Compiles a query after the size and nesting pre-checks.
pub(crate) fn compile(query: &str) -> Result<Arc<Expression<'static>>, QueryError> {
    if query.len() > limits::MAX_JMESPATH_QUERY_BYTES {
        return Err(QueryError::Limit(Limit::JmesPathQueryBytes));
    }
    if nesting_depth(query) > limits::MAX_JMESPATH_NESTING {
        return Err(QueryError::Limit(Limit::JmesPathNesting));
    }
    RUNTIME
        .compile(query)
        .map(Arc::new)
        .map_err(|error| QueryError::Invalid(error.to_string()))
}

/// Runs a compiled query against a document.
pub(crate) fn search(expression: &Expression<'static>, data: &Rcvar) -> Result<Rcvar, String> {
    let mut context = Context::new(expression.as_str(), &RUNTIME);
    jmespath::interpret(data, expression.as_ast(), &mut context).map_err(|error| error.to_string())
}

/// Maximum bracket nesting outside quoted parts (`'raw'`, `"identifier"`, `` `json` ``). Counting
/// every opening bracket would also be safe, but would reject long flat queries; quoted parts
/// cannot nest expressions, so they are skipped.
fn nesting_depth(query: &str) -> usize {
    let mut depth = 0usize;
    let mut deepest = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in query.chars() {
        if let Some(open) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == open {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => {
                depth = depth.saturating_add(1);
                deepest = deepest.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

// ---- The six policy functions over evaluated values ----

/// Values an expression produced: nothing (JsonToClaimValue of `null`), one, or a set.
pub(crate) enum Values {
    /// One value.
    One(ClaimValue),
    /// A set (possibly empty: nothing).
    Many(Vec<ClaimValue>),
}

pub(crate) struct Evaluated {
    pub(crate) values: Values,
    pub(crate) taint: Option<&'static str>,
}

impl Evaluated {
    pub(crate) fn one(value: ClaimValue, taint: Option<&'static str>) -> Evaluated {
        Evaluated {
            values: Values::One(value),
            taint,
        }
    }

    pub(crate) fn into_vec(self) -> Vec<ClaimValue> {
        match self.values {
            Values::One(value) => vec![value],
            Values::Many(values) => values,
        }
    }
}

/// Exactly one value, or a description of what was there instead.
pub(crate) fn single(values: Values) -> Result<ClaimValue, String> {
    match values {
        Values::One(value) => Ok(value),
        Values::Many(mut values) if values.len() == 1 => {
            values.pop().ok_or_else(|| "nothing".to_owned())
        }
        Values::Many(values) if values.is_empty() => Err("no value".to_owned()),
        Values::Many(values) => Err(format!("a set of {} values", values.len())),
    }
}

fn argument(
    function: Function,
    position: usize,
    evaluated: Option<Evaluated>,
    span: Span,
) -> Result<ClaimValue, Error> {
    let values = evaluated.map_or(Values::Many(Vec::new()), |evaluated| evaluated.values);
    single(values).map_err(|found| {
        if found == "no value" {
            runtime(
                span,
                EvaluationErrorKind::EmptyArgument {
                    function: function.name(),
                    position,
                },
            )
        } else {
            runtime(
                span,
                EvaluationErrorKind::TypeMismatch {
                    context: format!("argument {position} of {}", function.name()),
                    expected: "a single value",
                    found,
                },
            )
        }
    })
}

fn text_argument(
    function: Function,
    position: usize,
    value: &ClaimValue,
    span: Span,
) -> Result<Arc<str>, Error> {
    match value {
        ClaimValue::String(text) => Ok(text.clone()),
        ClaimValue::Json(json) => Ok(json.text().clone()),
        other => Err(runtime(
            span,
            EvaluationErrorKind::TypeMismatch {
                context: format!("argument {position} of {}", function.name()),
                expected: "String",
                found: other.type_name().to_owned(),
            },
        )),
    }
}

pub(crate) fn call(
    function: Function,
    args: Vec<Evaluated>,
    compiled: Option<&jmespath::Expression<'static>>,
    span: Span,
) -> Result<Values, Error> {
    let mut args = args.into_iter();
    match function {
        Function::JmesPath => {
            let document = argument(function, 1, args.next(), span)?;
            let query = argument(function, 2, args.next(), span)?;
            jmes_path(&document, &query, compiled, span).map(Values::One)
        }
        Function::JsonToClaimValue => {
            let json = argument(function, 1, args.next(), span)?;
            json_to_claim_value(&json, span)
        }
        Function::AppendString => {
            let left = argument(function, 1, args.next(), span)?;
            let right = argument(function, 2, args.next(), span)?;
            let left = text_argument(function, 1, &left, span)?;
            let right = text_argument(function, 2, &right, span)?;
            if left.len().saturating_add(right.len()) > limits::MAX_VALUE_BYTES {
                return Err(limit(span, Limit::ValueBytes));
            }
            let mut joined = String::with_capacity(left.len().saturating_add(right.len()));
            joined.push_str(&left);
            joined.push_str(&right);
            Ok(Values::One(ClaimValue::from(joined)))
        }
        Function::NegateBool => match argument(function, 1, args.next(), span)? {
            ClaimValue::Boolean(flag) => Ok(Values::One(ClaimValue::Boolean(!flag))),
            other => Err(runtime(
                span,
                EvaluationErrorKind::TypeMismatch {
                    context: "argument 1 of NegateBool".to_owned(),
                    expected: "Boolean",
                    found: other.type_name().to_owned(),
                },
            )),
        },
        Function::IsSubsetOf => {
            let subset = args.next().map(Evaluated::into_vec).unwrap_or_default();
            let superset = args.next().map(Evaluated::into_vec).unwrap_or_default();
            let result = subset.iter().all(|item| {
                superset
                    .iter()
                    .any(|candidate| values_equal(item, candidate))
            });
            Ok(Values::One(ClaimValue::Boolean(result)))
        }
        Function::ContainsOnlyValue => {
            let set = args.next().map(Evaluated::into_vec).unwrap_or_default();
            let value = argument(function, 2, args.next(), span)?;
            let result = !set.is_empty() && set.iter().all(|item| values_equal(item, &value));
            Ok(Values::One(ClaimValue::Boolean(result)))
        }
    }
}

/// `JmesPath(json, query)`: the result serialised as JSON text, a String claim value (so
/// `"bar"` comes back with its quotes and `JsonToClaimValue` turns it into `bar`, and no result
/// is the text `null`).
fn jmes_path(
    document: &ClaimValue,
    query: &ClaimValue,
    compiled: Option<&jmespath::Expression<'static>>,
    span: Span,
) -> Result<ClaimValue, Error> {
    let data: Rcvar = match document {
        ClaimValue::Json(json) => json.variable().cloned().ok_or_else(|| {
            runtime(
                span,
                EvaluationErrorKind::InvalidJson {
                    function: "JmesPath",
                    reason: "unsupported document".to_owned(),
                },
            )
        })?,
        ClaimValue::String(text) if text.is_empty() => {
            return Err(runtime(
                span,
                EvaluationErrorKind::EmptyArgument {
                    function: "JmesPath",
                    position: 1,
                },
            ));
        }
        ClaimValue::String(text) => Rcvar::new(Variable::from_json(text).map_err(|reason| {
            runtime(
                span,
                EvaluationErrorKind::InvalidJson {
                    function: "JmesPath",
                    reason,
                },
            )
        })?),
        other => {
            return Err(runtime(
                span,
                EvaluationErrorKind::TypeMismatch {
                    context: "argument 1 of JmesPath".to_owned(),
                    expected: "JSON text",
                    found: other.type_name().to_owned(),
                },
            ));
        }
    };
    let runtime_query;
    let expression = match compiled {
        Some(expression) => expression,
        None => {
            let text = text_argument(Function::JmesPath, 2, query, span)?;
            if text.is_empty() {
                return Err(runtime(
                    span,
                    EvaluationErrorKind::EmptyArgument {
                        function: "JmesPath",
                        position: 2,
                    },
                ));
            }
            runtime_query = compile(&text).map_err(|error| match error {
                QueryError::Limit(exceeded) => limit(span, exceeded),
                QueryError::Invalid(reason) => runtime(
                    span,
                    EvaluationErrorKind::InvalidJmesPath {
                        query: text.to_string(),
                        reason,
                    },
                ),
            })?;
            &*runtime_query
        }
    };
    let result = search(expression, &data)
        .map_err(|reason| runtime(span, EvaluationErrorKind::JmesPathFailed { reason }))?;
    let text = serde_json::to_string(&*result).map_err(|error| {
        runtime(
            span,
            EvaluationErrorKind::JmesPathFailed {
                reason: error.to_string(),
            },
        )
    })?;
    if text.len() > limits::MAX_JMESPATH_RESULT_BYTES {
        return Err(limit(span, Limit::JmesPathResultBytes));
    }
    Ok(ClaimValue::from(text))
}

/// `JsonToClaimValue(json)`: integer → Integer, boolean → Boolean, string → String, array of
/// those → a set (duplicates kept), `null` → nothing. Fractions, objects and nested arrays are
/// errors. An Integer or Boolean argument is already a claim value and passes through.
fn json_to_claim_value(json: &ClaimValue, span: Span) -> Result<Values, Error> {
    let parsed;
    let value: &Value = match json {
        ClaimValue::Integer(_) | ClaimValue::Boolean(_) => return Ok(Values::One(json.clone())),
        ClaimValue::Json(document) => document.value(),
        ClaimValue::String(text) => {
            parsed = serde_json::from_str::<Value>(text).map_err(|error| {
                runtime(
                    span,
                    EvaluationErrorKind::InvalidJson {
                        function: "JsonToClaimValue",
                        reason: error.to_string(),
                    },
                )
            })?;
            &parsed
        }
    };
    match value {
        Value::Null => Ok(Values::Many(Vec::new())),
        Value::Array(items) => items
            .iter()
            .map(|item| scalar_claim_value(item, span))
            .collect::<Result<_, _>>()
            .map(Values::Many),
        other => scalar_claim_value(other, span).map(Values::One),
    }
}

fn scalar_claim_value(value: &Value, span: Span) -> Result<ClaimValue, Error> {
    match value {
        Value::Bool(flag) => Ok(ClaimValue::Boolean(*flag)),
        Value::String(text) => Ok(ClaimValue::from(text.as_str())),
        Value::Number(number) => number.as_i64().map(ClaimValue::Integer).ok_or_else(|| {
            runtime(
                span,
                EvaluationErrorKind::NotConvertible {
                    found: "a fraction or an integer beyond 64 bits",
                },
            )
        }),
        Value::Array(_) => Err(runtime(
            span,
            EvaluationErrorKind::NotConvertible {
                found: "a nested array",
            },
        )),
        other @ (Value::Object(_) | Value::Null) => Err(runtime(
            span,
            EvaluationErrorKind::NotConvertible {
                found: json_kind(other),
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_skips_quoted_parts() {
        assert_eq!(nesting_depth("a[?b == '(((']"), 1);
        assert_eq!(nesting_depth("((a))"), 2);
        assert_eq!(nesting_depth("`\"[[[\"`"), 0);
    }

    #[test]
    fn deep_queries_are_refused_before_compiling() {
        let query = format!("{}a{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(
            compile(&query),
            Err(QueryError::Limit(Limit::JmesPathQueryBytes))
        ));
        let query = format!("{}a{}", "(".repeat(100), ")".repeat(100));
        assert!(matches!(
            compile(&query),
            Err(QueryError::Limit(Limit::JmesPathNesting))
        ));
    }

    #[test]
    fn equals_ignore_case_is_registered() -> Result<(), String> {
        let expression = compile("equals_ignore_case(a, 'HELLO')").map_err(|e| format!("{e:?}"))?;
        let data = Rcvar::new(Variable::from_json(r#"{"a":"hello"}"#)?);
        assert_eq!(search(&expression, &data)?.as_boolean(), Some(true));
        let data = Rcvar::new(Variable::from_json(r#"{"a":null}"#)?);
        assert_eq!(search(&expression, &data)?.as_boolean(), Some(false));
        Ok(())
    }
}
