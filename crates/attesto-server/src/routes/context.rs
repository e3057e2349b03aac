//! Which provider a request addresses: `/providers/{provider}/...`, else the Host header, else
//! the default provider.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::providers::{DEFAULT_PROVIDER, ProviderRuntime};
use crate::state::AppState;

/// The addressed provider and the path parameters of the route.
pub struct Ctx {
    /// The provider.
    pub provider: Arc<ProviderRuntime>,
    /// Path parameters other than `provider` (e.g. `type`).
    pub params: HashMap<String, String>,
}

impl Ctx {
    /// A path parameter (empty if absent).
    #[must_use]
    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let mut params =
            match Path::<HashMap<String, String>>::from_request_parts(parts, state).await {
                Ok(Path(params)) => params,
                Err(_) => HashMap::new(),
            };
        let name = match params.remove("provider") {
            Some(name) => name,
            None => parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .and_then(|host| state.providers.by_host(host))
                .unwrap_or_else(|| DEFAULT_PROVIDER.to_owned()),
        };
        if let Some(provider) = state.providers.cached(&name) {
            return Ok(Ctx { provider, params });
        }
        let now = state.clock.now();
        let providers = Arc::clone(&state.providers);
        let lookup = name.clone();
        let provider = tokio::task::spawn_blocking(move || providers.get(&lookup, now))
            .await
            .map_err(|error| ApiError::internal("provider task", &error))?
            .map_err(|error| ApiError::internal("loading the provider", &error))?
            .ok_or_else(|| {
                ApiError::not_found(format!("no attestation provider named '{name}'"))
            })?;
        Ok(Ctx { provider, params })
    }
}
