//! MAA's error shape, `{"error":{"code":"...","message":"..."}}`, with the status codes its
//! clients act on (the Azure SDKs map 401, 404 and 409 to specific exceptions).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Error codes, stable strings clients may match on.
pub mod code {
    /// Malformed request: bad JSON, bad base64, a missing or mistyped field.
    pub const INVALID_PARAMETER: &str = "InvalidParameter";
    /// `api-version` missing or not one this service speaks.
    pub const UNSUPPORTED_API_VERSION: &str = "UnsupportedApiVersion";
    /// The evidence failed verification (signature, chain, CRL, TCB, QE identity, ...).
    pub const INVALID_EVIDENCE: &str = "InvalidEvidence";
    /// Runtime or init-time data does not match what the evidence binds.
    pub const DATA_BINDING_MISMATCH: &str = "DataBindingMismatch";
    /// The attestation policy denied the evidence.
    pub const POLICY_DENIED: &str = "PolicyEvaluationFailed";
    /// A policy (draft or uploaded) does not parse or evaluate.
    pub const INVALID_POLICY: &str = "InvalidPolicy";
    /// A change the provider's trust model forbids (unsigned policy in the isolated model,
    /// untrusted signer, removing the last signer).
    pub const INVALID_OPERATION: &str = "InvalidOperation";
    /// An uploaded policy does not parse; the message gives line and column.
    pub const POLICY_PARSING: &str = "PolicyParsingError";
    /// Missing or wrong credentials.
    pub const UNAUTHORIZED: &str = "Unauthorized";
    /// Authenticated but not allowed.
    pub const FORBIDDEN: &str = "Forbidden";
    /// Unknown path or attestation type.
    pub const NOT_FOUND: &str = "NotFound";
    /// The path exists, the method does not.
    pub const METHOD_NOT_ALLOWED: &str = "MethodNotAllowed";
    /// Body larger than the configured limit.
    pub const PAYLOAD_TOO_LARGE: &str = "PayloadTooLarge";
    /// No valid collateral could be obtained for the evidence.
    pub const COLLATERAL_UNAVAILABLE: &str = "CollateralUnavailable";
    /// The request took longer than the configured limit.
    pub const TIMEOUT: &str = "RequestTimeout";
    /// A bug or an unavailable dependency on our side.
    pub const INTERNAL: &str = "InternalServerError";
}

/// An error answered to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// One of [`code`].
    pub code: &'static str,
    /// What went wrong, for a developer reading it.
    pub message: String,
}

impl ApiError {
    /// Any error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    /// 400 InvalidParameter.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code::INVALID_PARAMETER, message)
    }

    /// 404 NotFound.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, message)
    }

    /// 500, logged with its cause; the client sees only a generic message and the request id.
    pub fn internal(context: &str, cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "{context}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            code::INTERNAL,
            format!("internal error: {context}"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(status = self.status.as_u16(), code = self.code, message = %self.message, "request failed");
        } else {
            tracing::info!(status = self.status.as_u16(), code = self.code, message = %self.message, "request rejected");
        }
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        response.extensions_mut().insert(ErrorCode(self.code));
        response
    }
}

/// Attached to error responses so metrics can count by code.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode(pub &'static str);

/// Rewrites responses produced by layers that know nothing of MAA (body limit, timeout,
/// unknown route, wrong method) into the MAA shape.
pub async fn normalize_errors(response: Response) -> Response {
    if response.extensions().get::<ErrorCode>().is_some() {
        return response;
    }
    let status = response.status();
    let (code, message) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            code::PAYLOAD_TOO_LARGE,
            "request body exceeds the configured limit",
        ),
        StatusCode::REQUEST_TIMEOUT => (code::TIMEOUT, "request timed out"),
        StatusCode::NOT_FOUND => (code::NOT_FOUND, "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => (
            code::METHOD_NOT_ALLOWED,
            "method not allowed on this endpoint",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (code::INVALID_PARAMETER, "unsupported content type"),
        StatusCode::INTERNAL_SERVER_ERROR => (code::INTERNAL, "internal error"),
        _ => return response,
    };
    ApiError::new(status, code, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shape_is_maa_cloud_error() -> anyhow::Result<()> {
        let response = ApiError::bad_request("quote: invalid base64").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await?;
        let value: serde_json::Value = serde_json::from_slice(&body)?;
        assert_eq!(
            value,
            json!({"error": {"code": "InvalidParameter", "message": "quote: invalid base64"}})
        );
        Ok(())
    }

    #[tokio::test]
    async fn foreign_errors_are_rewritten() -> anyhow::Result<()> {
        let raw = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        let response = normalize_errors(raw).await;
        let body = axum::body::to_bytes(response.into_body(), 1 << 16).await?;
        let value: serde_json::Value = serde_json::from_slice(&body)?;
        assert_eq!(value["error"]["code"], "PayloadTooLarge");
        Ok(())
    }
}
