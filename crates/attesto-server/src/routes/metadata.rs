//! What relying parties need to verify tokens: `/certs` (JWKS with `x5c`) and
//! `/.well-known/openid-configuration`, plus `/health`. None of them requires `api-version`
//! (the Python SDK sends none), but a value that is sent must be one we speak.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::routes::context::Ctx;
use crate::state::AppState;

/// The optional query of metadata endpoints.
#[derive(Debug, Deserialize)]
pub struct MetadataQuery {
    #[serde(rename = "api-version")]
    api_version: Option<String>,
}

fn check_optional_version(query: &MetadataQuery) -> Result<(), ApiError> {
    match &query.api_version {
        None => Ok(()),
        Some(version) => crate::routes::parse_api_version(Some(version)).map(|_| ()),
    }
}

fn json_response(body: &[u8], content_type: &'static str) -> Response {
    let mut response = (StatusCode::OK, body.to_vec()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Get the token signing keys
///
/// The provider's token signing keys as a JWK set with their certificates (`x5c`): the
/// active key first, then retired keys whose tokens may still be valid.
#[utoipa::path(
    get,
    path = "/certs",
    operation_id = "SigningCertificates_Get",
    tag = crate::openapi::tag::METADATA,
    params(crate::openapi::ApiVersionOptional),
    responses(
        (status = 200, description = "The signing keys.", body = crate::openapi::schema::JsonWebKeySet),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn certs(ctx: Ctx, Query(query): Query<MetadataQuery>) -> Result<Response, ApiError> {
    check_optional_version(&query)?;
    Ok(json_response(
        &ctx.provider.metadata.jwks,
        "application/json; charset=utf-8",
    ))
}

/// Get the token signing keys (trailing slash)
///
/// The same as `/certs`; some clients (Gramine) request it with a trailing slash.
#[utoipa::path(
    get,
    path = "/certs/",
    operation_id = "SigningCertificates_GetTrailingSlash",
    tag = crate::openapi::tag::METADATA,
    params(crate::openapi::ApiVersionOptional),
    responses(
        (status = 200, description = "The signing keys.", body = crate::openapi::schema::JsonWebKeySet),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn certs_trailing_slash(
    ctx: Ctx,
    query: Query<MetadataQuery>,
) -> Result<Response, ApiError> {
    certs(ctx, query).await
}

/// Get the OpenID metadata
///
/// OpenID Connect discovery metadata: the issuer, where its keys are, the claims tokens carry.
#[utoipa::path(
    get,
    path = "/.well-known/openid-configuration",
    operation_id = "MetadataConfiguration_Get",
    tag = crate::openapi::tag::METADATA,
    params(crate::openapi::ApiVersionOptional),
    responses(
        (status = 200, description = "The metadata.", body = crate::openapi::schema::OpenIdMetadata),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn openid_configuration(
    ctx: Ctx,
    Query(query): Query<MetadataQuery>,
) -> Result<Response, ApiError> {
    check_optional_version(&query)?;
    Ok(json_response(
        &ctx.provider.metadata.openid,
        "application/json; charset=utf-8",
    ))
}

/// Check liveness
///
/// Whether the store answers, with the issuer and the loaded providers.
#[utoipa::path(
    get,
    path = "/health",
    operation_id = "Health_Get",
    tag = crate::openapi::tag::SERVICE,
    responses(
        (status = 200, description = "Healthy.", body = crate::openapi::schema::Health),
        (status = 503, description = "The store does not answer.", body = crate::openapi::schema::Health),
    ),
)]
pub async fn health(State(state): State<AppState>) -> Response {
    let store = state.store.clone();
    let store_ok = tokio::task::spawn_blocking(move || store.providers().is_ok())
        .await
        .unwrap_or(false);
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if store_ok { "healthy" } else { "unhealthy" },
        "store": store_ok,
        "issuer": &*state.issuer,
        "providers": state.providers.loaded(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, axum::Json(body)).into_response()
}

/// Claims a token from this service may carry, for `claims_supported`.
const CLAIMS_SUPPORTED: &[&str] = &[
    "iss",
    "iat",
    "nbf",
    "exp",
    "jti",
    "nonce",
    "cnf",
    "x-ms-ver",
    "x-ms-attestation-type",
    "x-ms-policy-hash",
    "x-ms-policy-signer",
    "x-ms-runtime",
    "x-ms-inittime",
    "x-ms-sgx-is-debuggable",
    "x-ms-sgx-mrenclave",
    "x-ms-sgx-mrsigner",
    "x-ms-sgx-product-id",
    "x-ms-sgx-svn",
    "x-ms-sgx-ehd",
    "x-ms-sgx-report-data",
    "x-ms-sgx-collateral",
    "x-ms-sgx-config-id",
    "x-ms-sgx-config-svn",
    "x-ms-sgx-isv-extended-product-id",
    "x-ms-sgx-isv-family-id",
    "is-debuggable",
    "sgx-mrenclave",
    "sgx-mrsigner",
    "product-id",
    "svn",
    "tee",
    "maa-ehd",
    "aas-ehd",
    "maa-attestationcollateral",
    "tdx_mrtd",
    "tdx_rtmr0",
    "tdx_rtmr1",
    "tdx_rtmr2",
    "tdx_rtmr3",
    "tdx_mrseam",
    "tdx_report_data",
    "attester_tcb_status",
];

/// Pre-rendered metadata bodies; they change only when the signing identity does.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// `/certs`.
    pub jwks: Vec<u8>,
    /// `/.well-known/openid-configuration`.
    pub openid: Vec<u8>,
}

impl Metadata {
    /// Renders both documents for `issuer`, publishing every key in `signers` (the active one
    /// first, then retired keys whose tokens may still be valid).
    ///
    /// # Errors
    /// Serialization failure (never expected).
    pub fn new<'a>(
        issuer: &str,
        signers: impl IntoIterator<Item = &'a attesto_jose::TokenSigner>,
    ) -> Result<Metadata, serde_json::Error> {
        let jwks = serde_json::to_vec(&attesto_jose::jwks(signers))?;
        let openid: Value = json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/certs"),
            "response_types_supported": ["token", "none"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "revocation_endpoint": format!("{issuer}/revoke"),
            "claims_supported": CLAIMS_SUPPORTED,
        });
        Ok(Metadata {
            jwks,
            openid: serde_json::to_vec(&openid)?,
        })
    }
}
