//! The HTTP surface: routes, the layers every request passes through, and the glue from
//! configuration to collateral sources.

pub mod attest;
pub mod context;
pub mod metadata;
pub mod policy;
pub mod tpm;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use attesto_collateral::{CacheOptions, CollateralSource, OfflineSource, PccsSource, PcsSource};
use attesto_provider::request::ApiVersion;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::config::{CollateralSourceKind, Config};
use crate::error::{ApiError, code, normalize_errors};
use crate::state::AppState;

/// The request id header, generated when the client sends none and echoed back.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-request-id");

/// Parses `api-version`; attest and policy endpoints require it, as MAA does.
///
/// # Errors
/// 400 `UnsupportedApiVersion` naming the versions this service speaks.
pub fn parse_api_version(value: Option<&String>) -> Result<ApiVersion, ApiError> {
    let Some(value) = value else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::UNSUPPORTED_API_VERSION,
            "the api-version query parameter is required (e.g. api-version=2022-08-01)",
        ));
    };
    value.parse::<ApiVersion>().map_err(|error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::UNSUPPORTED_API_VERSION,
            error.to_string(),
        )
    })
}

/// A JSON body with MAA's content type.
pub fn json_response(body: &serde_json::Value) -> Response {
    let mut response = (StatusCode::OK, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// The routes of one provider, served at the root (default or Host-selected provider) and
/// under `/providers/{provider}`.
fn provider_routes() -> Router<AppState> {
    Router::new()
        .route("/attest/{type}", post(attest::attest))
        .route("/attest/Tpm", post(tpm::attest_tpm))
        .route("/attest/Tee/{type}", post(attest::attest_tee))
        .route("/certs", get(metadata::certs))
        .route("/certs/", get(metadata::certs_trailing_slash))
        .route(
            "/.well-known/openid-configuration",
            get(metadata::openid_configuration),
        )
        .route(
            "/policies/{type}",
            get(policy::get_policy)
                .put(policy::set_policy)
                .post(policy::post_policy),
        )
        .route("/certificates", get(policy::get_certificates))
        .route("/certificates:add", post(policy::add_certificate))
        .route("/certificates:remove", post(policy::remove_certificate))
        .route(
            "/operations/policy/current",
            get(policy::legacy_get_policy)
                .put(policy::legacy_set_policy)
                .post(policy::legacy_reset_policy),
        )
        .route(
            "/operations/policy/certificates",
            get(policy::legacy_get_certificates)
                .put(policy::legacy_add_certificate)
                .post(policy::legacy_remove_certificate),
        )
}

/// Every route with every layer.
pub fn router(state: AppState) -> Router {
    let config = Arc::clone(&state.config);
    let metrics = state.metrics.clone();
    Router::new()
        .merge(provider_routes())
        .nest(crate::openapi::PROVIDER_PREFIX, provider_routes())
        .route("/health", get(metadata::health))
        .route("/metrics", get(export_metrics))
        .route("/openapi.json", get(crate::openapi::openapi_json))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                code::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint",
            )
        })
        .with_state(state)
        // Innermost first: body limits apply before a handler reads the body.
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ))
        .layer(axum::middleware::map_response(normalize_errors))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.request_timeout_secs),
        ))
        .layer(CatchPanicLayer::new())
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                let id = request
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// Export metrics
///
/// Prometheus metrics in the OpenMetrics text format: requests and latency per endpoint and
/// evidence type, policy denials, tokens issued, collateral cache hits, misses and age.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "Metrics_Get",
    tag = crate::openapi::tag::SERVICE,
    responses((
        status = 200,
        description = "The metrics.",
        body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8",
    )),
)]
pub(crate) async fn export_metrics(State(state): State<AppState>) -> Response {
    state.refresh_collateral_gauges();
    match state.metrics.encode() {
        Ok(text) => {
            let mut response = (StatusCode::OK, text).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            );
            response
        }
        Err(error) => ApiError::internal("encoding metrics", &error).into_response(),
    }
}

/// The collateral source the configuration names.
///
/// # Errors
/// An unreadable PCCS CA file or offline directory.
pub fn collateral_source_from(config: &Config) -> Result<Arc<dyn CollateralSource>> {
    let collateral = &config.collateral;
    Ok(match collateral.source {
        CollateralSourceKind::Pcs => {
            Arc::new(PcsSource::new(&collateral.pcs_url).context("Intel PCS collateral source")?)
        }
        CollateralSourceKind::Pccs => {
            let url = collateral
                .pccs_url
                .as_deref()
                .context("collateral.pccs_url is required for a PCCS source")?;
            Arc::new(
                PccsSource::new(url, collateral.pccs_ca_file.as_deref())
                    .context("PCCS collateral source")?,
            )
        }
        CollateralSourceKind::Offline => {
            let dir = collateral
                .offline_dir
                .as_deref()
                .context("collateral.offline_dir is required for an offline source")?;
            Arc::new(OfflineSource::open(dir).context("offline collateral source")?)
        }
    })
}

/// Cache behaviour from the configuration.
#[must_use]
pub fn cache_options(config: &Config) -> CacheOptions {
    CacheOptions {
        refresh_margin: Duration::from_secs(config.collateral.refresh_margin_secs),
        grace: config.collateral.grace_period_secs.map(Duration::from_secs),
        ..CacheOptions::default()
    }
}
