//! A JSON object read the way MAA reads request bodies: member names match ignoring ASCII case
//! (`quote`, `Quote`, `QUOTE`), `null` means absent, unknown members are ignored.
//!
//! Members are kept as raw text and in order, so that two spellings of one member (`quote` and
//! `Quote`, or `quote` twice) are seen and rejected instead of one silently winning: which of
//! two quotes was attested must never depend on a JSON library's map policy.

use std::fmt;

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::request::RequestError;

/// The members of one JSON object, in document order, values unparsed.
pub(crate) struct Members<'a> {
    entries: Vec<(String, &'a RawValue)>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor<'a>(std::marker::PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for MembersVisitor<'a> {
            type Value = Members<'a>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Members<'a>, M::Error> {
                let mut entries = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, &'de RawValue>()? {
                    entries.push((name, value));
                }
                Ok(Members { entries })
            }
        }

        deserializer.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

impl<'a> Members<'a> {
    /// Reads an object from JSON text. `path` names the object in errors (`""` for the body).
    pub(crate) fn parse(text: &'a str, path: &str) -> Result<Members<'a>, RequestError> {
        if !text.trim_start().starts_with('{') {
            return Err(match path {
                "" => RequestError::NotAnObject {
                    found: kind_of_text(text),
                },
                _ => RequestError::WrongType {
                    field: path.to_owned(),
                    expected: "an object",
                    found: kind_of_text(text),
                },
            });
        }
        serde_json::from_str(text).map_err(|error| RequestError::NotJson {
            reason: error.to_string(),
        })
    }

    /// The value of member `name` (ASCII case ignored), `None` when absent or `null`.
    ///
    /// # Errors
    /// [`RequestError::DuplicateField`] when the object spells the member more than once.
    pub(crate) fn get(&self, name: &str, path: &str) -> Result<Option<&'a RawValue>, RequestError> {
        let mut found: Option<(&str, &'a RawValue)> = None;
        for (key, value) in &self.entries {
            if !key.eq_ignore_ascii_case(name) {
                continue;
            }
            if let Some((first, _)) = found {
                return Err(RequestError::DuplicateField {
                    field: join(path, name),
                    first: first.to_owned(),
                    second: key.clone(),
                });
            }
            found = Some((key.as_str(), *value));
        }
        Ok(found
            .map(|(_, value)| value)
            .filter(|value| value.get().trim() != "null"))
    }

    /// Whether member `name` is present with a non-null value.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|(key, value)| key.eq_ignore_ascii_case(name) && value.get().trim() != "null")
    }
}

/// `path.name`, or `name` at the top level.
pub(crate) fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// A string member's value.
///
/// # Errors
/// [`RequestError::WrongType`] if the value is not a JSON string.
pub(crate) fn string(raw: &RawValue, field: &str) -> Result<String, RequestError> {
    match serde_json::from_str::<Value>(raw.get()) {
        Ok(Value::String(text)) => Ok(text),
        Ok(other) => Err(RequestError::WrongType {
            field: field.to_owned(),
            expected: "a string",
            found: kind(&other),
        }),
        // Unreachable for text that already parsed as part of the body; reported as such anyway.
        Err(error) => Err(RequestError::NotJson {
            reason: error.to_string(),
        }),
    }
}

/// What a JSON value is, for messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What a JSON text is, for messages (`"not JSON"` if it does not parse).
fn kind_of_text(text: &str) -> &'static str {
    serde_json::from_str::<Value>(text).map_or("not JSON", |value| kind(&value))
}
