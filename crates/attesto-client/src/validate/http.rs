//! The two HTTP calls of a validation: `POST /attest/{type}` and `GET /certs`.

use std::time::Duration;

use attesto_jose::Jwks;
use serde_json::Value;

use super::{Endpoint, ValidateError, request_body};
use crate::sample::EnclaveInfo;

/// Largest response body read. Tokens are a few KiB; MAA's `/certs` with several quote-bearing
/// certificates stays well under 1 MiB.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

/// How to reach the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    /// PEM CA certificates to trust *instead of* the system's roots, for a self-hosted service
    /// with its own CA (attesto's generated `tls/ca.pem`). `None`: the system's roots.
    pub ca_pem: Option<Vec<u8>>,
    /// Time limit of each request.
    pub timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            ca_pem: None,
            timeout: Duration::from_secs(30),
        }
    }
}

/// An HTTP client bound to one service endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Endpoint,
}

impl Client {
    /// A client for `endpoint`.
    ///
    /// # Errors
    /// [`ValidateError::Client`] if the CA PEM holds no usable certificate or the TLS stack
    /// cannot start.
    pub fn new(endpoint: Endpoint, options: &ClientOptions) -> Result<Self, ValidateError> {
        let client_error = |reason: String| ValidateError::Client { reason };
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .user_agent(concat!("attesto-validate/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| client_error(format!("CA file: {e}")))?;
            if certs.is_empty() {
                return Err(client_error("the CA file holds no certificate".to_owned()));
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder.build().map_err(|e| client_error(chain(&e)))?;
        Ok(Self { http, endpoint })
    }

    /// The endpoint.
    #[must_use]
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Posts the file's evidence and enclave-held data; returns the token.
    ///
    /// # Errors
    /// [`ValidateError::Transport`], [`ValidateError::Service`] for any status but 200,
    /// [`ValidateError::Response`] for a body without a token.
    pub async fn attest(
        &self,
        info: &EnclaveInfo,
        api_version: &str,
    ) -> Result<String, ValidateError> {
        let url = format!(
            "{}/attest/{}?api-version={}",
            self.endpoint,
            info.variant().attestation_type(),
            percent_encode(api_version)
        );
        let request = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(request_body(info));
        let body = self.exchange(&url, request).await?;
        let value: Value = serde_json::from_slice(&body).map_err(|e| ValidateError::Response {
            url: url.clone(),
            reason: format!("not JSON: {e}"),
        })?;
        // 2020-10-01 and later answer {"token": "..."}; the 2018 preview a bare JSON string.
        let token = match &value {
            Value::Object(object) => object.get("token").and_then(Value::as_str),
            Value::String(token) => Some(token.as_str()),
            _ => None,
        };
        token.map(str::to_owned).ok_or(ValidateError::Response {
            url,
            reason: "no token in the answer".to_owned(),
        })
    }

    /// Fetches the signing keys (`GET /certs`).
    ///
    /// # Errors
    /// [`ValidateError::Transport`], [`ValidateError::Service`], [`ValidateError::Response`]
    /// for a body that is not a JWK Set.
    pub async fn signing_keys(&self) -> Result<Jwks, ValidateError> {
        let url = self.endpoint.certs_url();
        let request = self
            .http
            .get(&url)
            .header(reqwest::header::ACCEPT, "application/json");
        let body = self.exchange(&url, request).await?;
        let text = String::from_utf8_lossy(&body);
        Jwks::from_json(&text).map_err(|e| ValidateError::Response {
            url,
            reason: format!("not a JWK Set: {e}"),
        })
    }

    /// Sends a request and returns the body of a 200 answer, at most [`MAX_RESPONSE_BYTES`].
    async fn exchange(
        &self,
        url: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Vec<u8>, ValidateError> {
        let transport = |e: reqwest::Error| ValidateError::Transport {
            url: url.to_owned(),
            reason: chain(&e),
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len().saturating_add(chunk.len()) > MAX_RESPONSE_BYTES {
                return Err(ValidateError::Response {
                    url: url.to_owned(),
                    reason: format!("answer larger than {MAX_RESPONSE_BYTES} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if status != reqwest::StatusCode::OK {
            let (code, message) = service_error(&body);
            return Err(ValidateError::Service {
                url: url.to_owned(),
                status: status.as_u16(),
                code,
                message,
            });
        }
        Ok(body)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// MAA's `{"error":{"code","message"}}`, or the start of whatever else the body holds.
fn service_error(body: &[u8]) -> (Option<String>, String) {
    if let Ok(value) = serde_json::from_slice::<Value>(body) {
        let error = &value["error"];
        if let Some(message) = error["message"].as_str() {
            return (
                error["code"].as_str().map(str::to_owned),
                message.to_owned(),
            );
        }
    }
    let text = String::from_utf8_lossy(body);
    let start: String = text.chars().take(300).collect();
    (
        None,
        if start.is_empty() {
            "(empty body)".to_owned()
        } else {
            start
        },
    )
}

/// An error with its causes, so "connection refused" or the TLS reason is not lost.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_errors_are_read_from_the_maa_shape() {
        let (code, message) =
            service_error(br#"{"error":{"code":"InvalidParameter","message":"bad quote"}}"#);
        assert_eq!(code.as_deref(), Some("InvalidParameter"));
        assert_eq!(message, "bad quote");
        let (code, message) = service_error(b"<html>gateway</html>");
        assert_eq!(code, None);
        assert_eq!(message, "<html>gateway</html>");
        assert_eq!(service_error(b"").1, "(empty body)");
    }

    #[test]
    fn api_versions_are_escaped() {
        assert_eq!(percent_encode("2020-10-01"), "2020-10-01");
        assert_eq!(percent_encode("a&b=c d"), "a%26b%3Dc%20d");
    }
}
