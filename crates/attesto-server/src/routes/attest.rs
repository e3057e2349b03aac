//! `POST /attest/{type}`: evidence in, an MAA attestation token out.
//!
//! The handler only sequences the steps; each decision belongs to a pure core:
//! request parsing and claims (`attesto-provider`), quote verification (`attesto-quote`),
//! policy evaluation (`attesto-policy`), signing (`attesto-jose`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use attesto_policy::{AttestationType, Policy};
use attesto_provider::token::{TokenInputs, attestation_payload};
use attesto_provider::{ClaimsError, RequestError, claims, request};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::error::{ApiError, code};
use crate::metrics::{EvidenceLabel, TypeLabel};
use crate::providers::ProviderRuntime;
use crate::routes::context::Ctx;
use crate::state::{ActivePolicy, AppState};

/// Attest evidence
///
/// Verifies the quote completely (PCK chain to Intel's root, CRLs, TCB info, QE identity,
/// TCB level), checks that the runtime and init-time data are bound into it, evaluates the
/// provider's attestation policy (or the draft policy sent) and answers with an attestation
/// token. Every API version; api-version `2018-09-01-preview` takes the 2018 body and answers
/// the bare JWT.
#[utoipa::path(
    post,
    path = "/attest/{type}",
    operation_id = "Attestation_Attest",
    tag = crate::openapi::tag::ATTESTATION,
    params(crate::openapi::AttestTypePath, crate::openapi::ApiVersionRequired),
    request_body(
        content = crate::openapi::schema::AttestRequest,
        content_type = "application/json",
        description = "The evidence: `quote` (SgxEnclave, TdxVm) or `report` (OpenEnclave), with the data bound into it.",
    ),
    responses(
        (status = 200, description = "The evidence verified and the policy permitted it.", body = crate::openapi::schema::AttestResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    ),
)]
pub async fn attest(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    handle(&state, &ctx.provider, ctx.param("type"), &query, &body).await
}

/// Attest evidence (2018 path)
///
/// The 2018-09-01-preview path of the same operation, processed exactly as
/// `/attest/{type}`: with api-version `2018-09-01-preview` it takes `{Quote, EnclaveHeldData}`
/// and answers the bare JWT as a JSON string.
#[utoipa::path(
    post,
    path = "/attest/Tee/{type}",
    operation_id = "Attestation_AttestTee",
    tag = crate::openapi::tag::ATTESTATION,
    params(crate::openapi::AttestTypePath, crate::openapi::ApiVersionRequired),
    request_body(
        content = crate::openapi::schema::AttestRequest,
        content_type = "application/json",
        description = "The evidence, as for `/attest/{type}`.",
    ),
    responses(
        (status = 200, description = "The evidence verified and the policy permitted it.", body = crate::openapi::schema::AttestResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    ),
)]
pub async fn attest_tee(
    state: State<AppState>,
    ctx: Ctx,
    query: Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    attest(state, ctx, query, body).await
}

async fn handle(
    state: &AppState,
    provider: &ProviderRuntime,
    kind: &str,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    let kind = match kind.parse::<AttestationType>() {
        Ok(kind) => kind,
        Err(error) => return ApiError::not_found(error.to_string()).into_response(),
    };
    if kind == AttestationType::Tpm {
        // TPM speaks its own two-step protocol; any spelling of the path reaches it.
        return crate::routes::tpm::handle(state, provider, query, body).await;
    }
    let label = EvidenceLabel(kind.as_str());
    let mut response = match attest_inner(state, provider, kind, query, body).await {
        Ok(response) => {
            state
                .metrics
                .tokens_issued
                .get_or_create(&TypeLabel {
                    evidence: kind.as_str().to_owned(),
                })
                .inc();
            response
        }
        Err(error) => {
            if error.code == code::POLICY_DENIED {
                state
                    .metrics
                    .policy_denials
                    .get_or_create(&TypeLabel {
                        evidence: kind.as_str().to_owned(),
                    })
                    .inc();
            }
            error.into_response()
        }
    };
    response.extensions_mut().insert(label);
    response
}

async fn attest_inner(
    state: &AppState,
    provider: &ProviderRuntime,
    kind: AttestationType,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<Response, ApiError> {
    let version = crate::routes::parse_api_version(query.get("api-version"))?;
    let req = request::parse(kind, version, body).map_err(request_error)?;
    let now = state.clock.now();

    let key = state
        .collateral_keys
        .lookup(&req.evidence)
        .map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_EVIDENCE,
                format!("quote: {error}"),
            )
        })?;
    // The key comes from an unverified quote. Before it can cost a fetch from the collateral
    // service, the quote must at least carry valid signatures and a PCK chain to a trusted root;
    // otherwise anyone could make the service fetch for invented FMSPCs.
    if !state.collateral.has_valid(&key, now) {
        state
            .verifier
            .verify_signatures_and_chain(&req.evidence, now)
            .map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    code::INVALID_EVIDENCE,
                    format!("quote verification failed: {error}"),
                )
            })?;
    }
    let fresh = state.collateral.get(&key, now).await.map_err(|error| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            code::COLLATERAL_UNAVAILABLE,
            error.to_string(),
        )
    })?;
    // Under the (off-by-default) grace option the collateral may be past its nextUpdate; the
    // verifier then checks signatures, chains and CRLs at the last instant the collateral was
    // valid, and the token says so. Otherwise this is `now`.
    let verification_time = fresh.verification_time(now);
    let invalid = |error: attesto_quote::Error| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_EVIDENCE,
            format!("quote verification failed: {error}"),
        )
    };
    let prepared = state
        .prepared
        .get(&state.verifier, &key, &fresh.collateral)
        .map_err(invalid)?;
    let verified = state
        .verifier
        .verify_prepared(&req.evidence, &prepared, verification_time)
        .map_err(invalid)?;
    let incoming = claims::incoming(kind, &verified, &req).map_err(claims_error)?;

    let draft;
    let active: Arc<ActivePolicy> = match &req.draft_policy {
        Some(text) => {
            draft = Policy::parse(text).map_err(|error| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    code::INVALID_POLICY,
                    format!("draftPolicyForAttestation: {error}"),
                )
            })?;
            Arc::new(ActivePolicy {
                hash: attesto_policy::policy_hash(text),
                policy: draft,
                jws: None,
                signer_der: None,
            })
        }
        None => match state.policies.cached(&provider.name, kind) {
            Some(active) => active,
            None => {
                let store = state.store.clone();
                let policies = Arc::clone(&state.policies);
                let name = provider.name.clone();
                tokio::task::spawn_blocking(move || policies.get(&store, &name, kind))
                    .await
                    .map_err(|error| ApiError::internal("policy task", &error))?
                    .map_err(|error| ApiError::internal("loading the attestation policy", &error))?
            }
        },
    };

    let evaluation = active
        .policy
        .evaluate(&incoming.claim_set(Some(&active.hash)))
        .map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code::INVALID_POLICY,
                format!("policy evaluation error: {error}"),
            )
        })?;
    if !evaluation.permitted {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            code::POLICY_DENIED,
            format!(
                "attestation denied by the {} policy: {}",
                kind.as_str(),
                evaluation.decision
            ),
        ));
    }

    let mut extra = Map::new();
    if fresh.stale_grace {
        extra.insert("x-attesto-collateral-grace".into(), Value::Bool(true));
    }
    if state.non_intel_roots {
        extra.insert("x-attesto-non-intel-roots".into(), Value::Bool(true));
    }
    if let Some(signer) = &active.signer_der {
        let jwk = attesto_jose::Jwk::from_certificate_der(signer)
            .map_err(|error| ApiError::internal("stored policy signer", &error))?;
        extra.insert(
            "x-ms-policy-signer".into(),
            serde_json::to_value(jwk)
                .map_err(|error| ApiError::internal("policy signer JWK", &error))?,
        );
    }
    let lifetime = evaluation
        .properties
        .report_validity_in_minutes
        .map_or(provider.token_lifetime, |minutes| {
            Duration::from_secs(u64::from(minutes) * 60)
        });
    let payload = attestation_payload(&TokenInputs {
        incoming: &incoming,
        issued: &evaluation.issued_claims,
        policy_hash: &active.hash,
        iss: &provider.issuer,
        now,
        lifetime,
        jti: random_jti()?,
        nonce: req.nonce.as_deref(),
        extra: Some(&extra),
    })
    .map_err(|error| ApiError::internal("building the token", &error))?;

    let token = if req.draft_policy.is_some() {
        // MAA answers draft-policy attestations with an unsecured token: the policy is the
        // caller's own experiment, not the provider's judgement.
        let bytes = serde_json::to_vec(&payload)
            .map_err(|error| ApiError::internal("serializing the token", &error))?;
        attesto_jose::unsecured_jws(&bytes)
    } else {
        provider
            .signer
            .issue(&payload)
            .map_err(|error| ApiError::internal("signing the token", &error))?
    };
    let body = if req.legacy {
        Value::String(token)
    } else {
        json!({ "token": token })
    };
    Ok(crate::routes::json_response(&body))
}

fn random_jti() -> Result<[u8; 32], ApiError> {
    let mut jti = [0u8; 32];
    aws_lc_rs::rand::fill(&mut jti)
        .map_err(|_| ApiError::internal("random jti", &"the system RNG failed"))?;
    Ok(jti)
}

fn request_error(error: RequestError) -> ApiError {
    match error {
        RequestError::BodyTooLarge { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            code::PAYLOAD_TOO_LARGE,
            error.to_string(),
        ),
        other => ApiError::bad_request(other.to_string()),
    }
}

fn claims_error(error: ClaimsError) -> ApiError {
    match error {
        ClaimsError::RuntimeDataMismatch { .. } | ClaimsError::InitTimeDataMismatch { .. } => {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                code::DATA_BINDING_MISMATCH,
                error.to_string(),
            )
        }
        ClaimsError::WrongTee { .. } | ClaimsError::MissingReportBody { .. } => ApiError::new(
            StatusCode::BAD_REQUEST,
            code::INVALID_EVIDENCE,
            error.to_string(),
        ),
        other => ApiError::bad_request(other.to_string()),
    }
}
