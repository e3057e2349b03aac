//! Prometheus metrics: requests and latency per endpoint and evidence type, policy denials, and
//! the collateral cache (hits, fetches, age), exported at `GET /metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::ErrorCode;

/// Labels of a served request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route template, e.g. `/attest/{type}`.
    pub endpoint: String,
    /// The attestation type, or `none`.
    pub evidence: String,
    /// HTTP status code.
    pub status: u16,
    /// MAA error code, or `none`.
    pub code: String,
}

/// Labels of a latency observation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct LatencyLabels {
    /// The route template.
    pub endpoint: String,
    /// The attestation type, or `none`.
    pub evidence: String,
}

/// Label naming an attestation type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct TypeLabel {
    /// The attestation type.
    pub evidence: String,
}

/// Label naming a collateral cache key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct CollateralLabel {
    /// e.g. `sgx/00a067110000/processor`.
    pub key: String,
}

/// Inserted into a response by handlers that know the attestation type.
#[derive(Debug, Clone)]
pub struct EvidenceLabel(pub &'static str);

/// All metrics of one server.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
    /// Attestations refused by policy, per type.
    pub policy_denials: Family<TypeLabel, Counter>,
    /// Tokens issued, per type.
    pub tokens_issued: Family<TypeLabel, Counter>,
    /// Collateral served from the cache.
    pub collateral_hits: Counter,
    /// Collateral lookups that had to fetch.
    pub collateral_misses: Counter,
    /// Seconds since each cached collateral entry was fetched (set at scrape time).
    pub collateral_age: Family<CollateralLabel, Gauge>,
    /// Seconds until each cached collateral entry's earliest `nextUpdate` (set at scrape time).
    pub collateral_remaining: Family<CollateralLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    #[must_use]
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("attesto");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by endpoint, evidence type, status and error code",
            requests.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
        });
        registry.register(
            "http_request_duration_seconds",
            "Request latency by endpoint and evidence type",
            latency.clone(),
        );
        let policy_denials = Family::<TypeLabel, Counter>::default();
        registry.register(
            "policy_denials",
            "Attestations refused by the attestation policy",
            policy_denials.clone(),
        );
        let tokens_issued = Family::<TypeLabel, Counter>::default();
        registry.register(
            "tokens_issued",
            "Attestation tokens issued",
            tokens_issued.clone(),
        );
        let collateral_hits = Counter::default();
        registry.register(
            "collateral_cache_hits",
            "Collateral lookups answered from the cache",
            collateral_hits.clone(),
        );
        let collateral_misses = Counter::default();
        registry.register(
            "collateral_cache_misses",
            "Collateral lookups that needed a fetch",
            collateral_misses.clone(),
        );
        let collateral_age = Family::<CollateralLabel, Gauge>::default();
        registry.register(
            "collateral_age_seconds",
            "Seconds since the cached collateral was fetched",
            collateral_age.clone(),
        );
        let collateral_remaining = Family::<CollateralLabel, Gauge>::default();
        registry.register(
            "collateral_valid_remaining_seconds",
            "Seconds until the cached collateral's earliest nextUpdate",
            collateral_remaining.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            requests,
            latency,
            policy_denials,
            tokens_issued,
            collateral_hits,
            collateral_misses,
            collateral_age,
            collateral_remaining,
        }
    }

    /// The text exposition format.
    ///
    /// # Errors
    /// Only if formatting fails, which the encoder never does for a `String`.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Middleware counting and timing every request.
pub async fn track(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let evidence = response
        .extensions()
        .get::<EvidenceLabel>()
        .map_or("none", |label| label.0)
        .to_owned();
    let code = response
        .extensions()
        .get::<ErrorCode>()
        .map_or("none", |code| code.0)
        .to_owned();
    metrics
        .latency
        .get_or_create(&LatencyLabels {
            endpoint: endpoint.clone(),
            evidence: evidence.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint,
            evidence,
            status: response.status().as_u16(),
            code,
        })
        .inc();
    response
}
