//! Policy management and policy signers, as MAA answers them: every response is a token signed
//! by the provider (`PolicyResult`, `PolicyCertificatesResult`, ...), every change is validated
//! completely before it is stored, and a refused change leaves the store untouched.
//!
//! Trust models: in the AAD-like model an authenticated administrator may upload unsigned or
//! signed policies. In the isolated model a policy (and a reset) must be a JWS signed by one of
//! the provider's policy signer certificates, even from an authenticated administrator, and the
//! signer set itself only changes through JWS signed by a current signer.

use std::collections::HashMap;
use std::sync::Arc;

use attesto_jose::{Certificate, Jwk, Jws, SignerChain, Unsecured, Verified, maa};
use attesto_policy::{AttestationType, Policy, default_policy};
use attesto_store::{AuditEvent, RemoveSigner, StoredPolicy, TrustModel};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::error::{ApiError, code};
use crate::providers::ProviderRuntime;
use crate::routes::context::Ctx;
use crate::state::AppState;

/// Lifetime of policy-management result tokens (what MAA uses).
const RESULT_TOKEN_SECS: u64 = 3600;

type Params = Query<HashMap<String, String>>;

fn invalid_operation(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code::INVALID_OPERATION, message)
}

async fn admin(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    state.auth.authenticate(headers, state.clock.now()).await
}

fn attestation_type(name: &str) -> Result<AttestationType, ApiError> {
    name.parse::<AttestationType>()
        .map_err(|error| ApiError::not_found(error.to_string()))
}

/// Runs a store operation off the async threads.
async fn blocking<T: Send + 'static>(
    state: &AppState,
    what: &'static str,
    operation: impl FnOnce(&attesto_store::Store) -> Result<T, attesto_store::StoreError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || operation(&store))
        .await
        .map_err(|error| ApiError::internal(what, &error))?
        .map_err(|error| ApiError::internal(what, &error))
}

fn audit_event(
    state: &AppState,
    caller: &Caller,
    provider: &ProviderRuntime,
    action: &str,
    kind: Option<AttestationType>,
    jws: Option<&str>,
    result: &str,
) -> AuditEvent {
    AuditEvent {
        at: crate::clock::unix_seconds(state.clock.now()),
        actor: caller.actor.clone(),
        provider: provider.name.clone(),
        action: action.to_owned(),
        attestation_type: kind.map(|k| k.as_str().to_owned()),
        jws_sha256: jws.map(|j| maa::policy_token_hash(j.as_bytes())),
        result: result.to_owned(),
    }
}

/// Records a refused change (the change itself never reaches the store) and returns the error.
async fn refuse(state: &AppState, event: AuditEvent, error: ApiError) -> ApiError {
    let mut event = event;
    event.result = format!("denied: {}", error.message);
    if let Err(audit_error) =
        blocking(state, "audit", move |store| store.append_audit(&event)).await
    {
        tracing::warn!(error = %audit_error, "could not record a refused change in the audit log");
    }
    error
}

/// A token signed by the provider with the standard time claims plus `claims`.
fn result_token(
    state: &AppState,
    provider: &ProviderRuntime,
    claims: Map<String, Value>,
) -> Result<Response, ApiError> {
    let now = crate::clock::unix_seconds(state.clock.now());
    let mut payload = Map::new();
    payload.insert("iss".into(), Value::String(provider.issuer.clone()));
    payload.insert("iat".into(), json!(now));
    payload.insert("nbf".into(), json!(now));
    payload.insert(
        "exp".into(),
        json!(now.saturating_add(i64::try_from(RESULT_TOKEN_SECS).unwrap_or(3600))),
    );
    payload.extend(claims);
    let token = provider
        .signer
        .issue(&payload)
        .map_err(|error| ApiError::internal("signing the result token", &error))?;
    Ok(crate::routes::json_response(&json!({ "token": token })))
}

/// A parsed upload: the exact text received and what its signature proves.
struct Upload {
    text: String,
    jws: Jws,
    signer: Option<SignerChain>,
}

fn parse_upload(body: &[u8]) -> Result<Upload, ApiError> {
    let text = maa::normalize_request_body(body)
        .map_err(|error| ApiError::bad_request(format!("request body: {error}")))?;
    let jws = Jws::parse(&text)
        .map_err(|error| ApiError::bad_request(format!("the body is not a valid JWS: {error}")))?;
    let signer = match jws.verify_with_embedded_signer(Unsecured::Accept) {
        Ok(Verified::Unsecured) => None,
        Ok(Verified::Signed(chain)) => Some(chain),
        Err(error) => {
            return Err(ApiError::bad_request(format!(
                "the JWS signature does not verify: {error}"
            )));
        }
    };
    Ok(Upload { text, jws, signer })
}

/// In the isolated model the upload must be signed by a trusted policy signer.
async fn require_trusted_signer(
    state: &AppState,
    provider: &ProviderRuntime,
    upload: &Upload,
) -> Result<(), ApiError> {
    if provider.trust_model != TrustModel::Isolated {
        return Ok(());
    }
    let Some(chain) = &upload.signer else {
        return Err(invalid_operation(
            "this provider uses the isolated trust model: the request must be a JWS signed by one of its policy signer certificates",
        ));
    };
    let name = provider.name.clone();
    let trusted_der = blocking(state, "reading policy signers", move |store| {
        store.policy_signers(&name)
    })
    .await?;
    let trusted: Vec<Certificate> = trusted_der
        .iter()
        .filter_map(|der| Certificate::from_der(der).ok())
        .collect();
    chain
        .verify_trust(&trusted, state.clock.now())
        .map(|_| ())
        .map_err(|error| {
            invalid_operation(format!(
                "the JWS is not signed by a trusted policy signer of this provider: {error}"
            ))
        })
}

fn signer_jwk(upload: &Upload) -> Option<Value> {
    upload
        .signer
        .as_ref()
        .and_then(|chain| serde_json::to_value(Jwk::from_certificate(chain.signer())).ok())
}

/// Get a policy
///
/// The attestation policy in force for the type, as the JWS it was uploaded in (or an
/// unsecured JWS holding the default policy).
#[utoipa::path(
    get,
    path = "/policies/{type}",
    operation_id = "Policy_Get",
    tag = crate::openapi::tag::POLICY,
    params(crate::openapi::PolicyTypePath, crate::openapi::ApiVersionRequired),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A PolicyResult token with `x-ms-policy`.", body = crate::openapi::schema::PolicyResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn get_policy(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::routes::parse_api_version(query.get("api-version"))?;
    admin(&state, &headers).await?;
    let kind = attestation_type(ctx.param("type"))?;
    policy_result_for_get(&state, &ctx.provider, kind).await
}

async fn policy_result_for_get(
    state: &AppState,
    provider: &ProviderRuntime,
    kind: AttestationType,
) -> Result<Response, ApiError> {
    let name = provider.name.clone();
    let stored = blocking(state, "reading the policy", move |store| {
        store.policy(&name, kind.as_str())
    })
    .await?;
    let mut claims = Map::new();
    match stored {
        Some(stored) => {
            claims.insert("x-ms-policy".into(), Value::String(stored.jws));
            if let Some(der) = stored.signer_cert_der
                && let Ok(jwk) = Jwk::from_certificate_der(&der)
                && let Ok(value) = serde_json::to_value(jwk)
            {
                claims.insert("x-ms-policy-signer".into(), value);
            }
        }
        None => {
            claims.insert(
                "x-ms-policy".into(),
                Value::String(maa::unsecured_policy_jws(default_policy(kind))),
            );
        }
    }
    result_token(state, provider, claims)
}

/// Set a policy
///
/// The body is a JWS (raw or JSON-quoted) whose payload is
/// `{"AttestationPolicy": base64url(policy text)}`. The policy is parsed before it is stored:
/// one that does not parse is refused with `PolicyParsingError` (line and column) and the old
/// one stays. A provider in the isolated trust model accepts only a JWS signed by one of its
/// policy signers.
#[utoipa::path(
    put,
    path = "/policies/{type}",
    operation_id = "Policy_Set",
    tag = crate::openapi::tag::POLICY,
    params(crate::openapi::PolicyTypePath, crate::openapi::ApiVersionRequired),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "The policy, in a JWS: unsecured, or signed by a policy signer.",
    ),
    responses(
        (status = 200, description = "A PolicyResult token: `x-ms-policy-result` is `Updated`.", body = crate::openapi::schema::PolicyResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn set_policy(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    crate::routes::parse_api_version(query.get("api-version"))?;
    let caller = admin(&state, &headers).await?;
    let kind = attestation_type(ctx.param("type"))?;
    set_policy_inner(&state, &ctx.provider, &caller, kind, &body).await
}

async fn set_policy_inner(
    state: &AppState,
    provider: &Arc<ProviderRuntime>,
    caller: &Caller,
    kind: AttestationType,
    body: &[u8],
) -> Result<Response, ApiError> {
    let upload = parse_upload(body)?;
    let mut event = audit_event(
        state,
        caller,
        provider,
        "policy.set",
        Some(kind),
        Some(&upload.text),
        "ok",
    );
    if let Err(error) = require_trusted_signer(state, provider, &upload).await {
        return Err(refuse(state, event, error).await);
    }
    let policy_text = match maa::decode_stored_policy(upload.jws.payload()) {
        Ok(stored) => stored.text,
        Err(error) => {
            let error = ApiError::bad_request(format!(
                "the JWS payload is not a StoredAttestationPolicy: {error}"
            ));
            return Err(refuse(state, event, error).await);
        }
    };
    if let Err(error) = Policy::parse(&policy_text) {
        let error = ApiError::new(
            StatusCode::BAD_REQUEST,
            code::POLICY_PARSING,
            format!("the policy does not parse: {error}"),
        );
        return Err(refuse(state, event, error).await);
    }
    let signer_der = upload.signer.as_ref().map(|c| c.signer().der().to_vec());
    let stored = StoredPolicy {
        jws: upload.text.clone(),
        text: policy_text,
        signer_cert_der: signer_der,
        updated_at: event.at,
    };
    let name = provider.name.clone();
    event.result = "ok".to_owned();
    blocking(state, "storing the policy", move |store| {
        store.put_policy_audited(&name, kind.as_str(), &stored, &event)
    })
    .await?;
    state.policies.invalidate(&provider.name, kind);

    let mut claims = Map::new();
    claims.insert("x-ms-policy-result".into(), Value::String("Updated".into()));
    claims.insert(
        "x-ms-policy-token-hash".into(),
        Value::String(maa::policy_token_hash(upload.text.as_bytes())),
    );
    if let Some(jwk) = signer_jwk(&upload) {
        claims.insert("x-ms-policy-signer".into(), jwk);
    }
    result_token(state, provider, claims)
}

/// Reset a policy
///
/// Returns the type to the default policy. The body is a JWS with an empty payload; a provider
/// in the isolated trust model accepts only one signed by one of its policy signers. (The
/// router sees `{type}` = `SgxEnclave:reset`: it cannot match a suffix after a parameter.)
#[utoipa::path(
    post,
    path = "/policies/{type}:reset",
    operation_id = "Policy_Reset",
    tag = crate::openapi::tag::POLICY,
    params(crate::openapi::PolicyTypePath, crate::openapi::ApiVersionRequired),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "A JWS with an empty payload: unsecured (`eyJhbGciOiJub25lIn0..`), or signed by a policy signer.",
    ),
    responses(
        (status = 200, description = "A PolicyResult token: `x-ms-policy-result` is `Removed`.", body = crate::openapi::schema::PolicyResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn post_policy(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    crate::routes::parse_api_version(query.get("api-version"))?;
    let Some(kind) = ctx.param("type").strip_suffix(":reset") else {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            code::METHOD_NOT_ALLOWED,
            "POST on a policy is only defined as /policies/{type}:reset",
        ));
    };
    let caller = admin(&state, &headers).await?;
    let kind = attestation_type(kind)?;
    reset_policy_inner(&state, &ctx.provider, &caller, kind, &body).await
}

async fn reset_policy_inner(
    state: &AppState,
    provider: &Arc<ProviderRuntime>,
    caller: &Caller,
    kind: AttestationType,
    body: &[u8],
) -> Result<Response, ApiError> {
    let upload = parse_upload(body)?;
    let mut event = audit_event(
        state,
        caller,
        provider,
        "policy.reset",
        Some(kind),
        Some(&upload.text),
        "ok",
    );
    if let Err(error) = require_trusted_signer(state, provider, &upload).await {
        return Err(refuse(state, event, error).await);
    }
    if !upload.jws.payload().is_empty() {
        let error = ApiError::bad_request("a policy reset JWS must have an empty payload");
        return Err(refuse(state, event, error).await);
    }
    let name = provider.name.clone();
    event.result = "ok".to_owned();
    blocking(state, "resetting the policy", move |store| {
        store.reset_policy_audited(&name, kind.as_str(), &event)
    })
    .await?;
    state.policies.invalidate(&provider.name, kind);
    let mut claims = Map::new();
    claims.insert("x-ms-policy-result".into(), Value::String("Removed".into()));
    claims.insert(
        "x-ms-policy-token-hash".into(),
        Value::String(maa::policy_token_hash(upload.text.as_bytes())),
    );
    if let Some(jwk) = signer_jwk(&upload) {
        claims.insert("x-ms-policy-signer".into(), jwk);
    }
    result_token(state, provider, claims)
}

/// Get the policy signers
///
/// The certificates whose holders may sign policies and signer changes (isolated trust model).
#[utoipa::path(
    get,
    path = "/certificates",
    operation_id = "PolicyCertificates_Get",
    tag = crate::openapi::tag::CERTIFICATES,
    params(crate::openapi::ApiVersionRequired),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A PolicyCertificatesResult token.", body = crate::openapi::schema::PolicyCertificatesResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn get_certificates(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    crate::routes::parse_api_version(query.get("api-version"))?;
    admin(&state, &headers).await?;
    certificates_result(&state, &ctx.provider).await
}

async fn certificates_result(
    state: &AppState,
    provider: &ProviderRuntime,
) -> Result<Response, ApiError> {
    let name = provider.name.clone();
    let signers = blocking(state, "reading policy signers", move |store| {
        store.policy_signers(&name)
    })
    .await?;
    let keys: Vec<Value> = signers
        .iter()
        .filter_map(|der| Jwk::from_certificate_der(der).ok())
        .filter_map(|jwk| serde_json::to_value(jwk).ok())
        .collect();
    let mut claims = Map::new();
    claims.insert("x-ms-policy-certificates".into(), json!({ "keys": keys }));
    result_token(state, provider, claims)
}

/// `POST /certificates:add` and `POST /certificates:remove`.
pub async fn modify_certificates(
    state: AppState,
    ctx: Ctx,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: Bytes,
    add: bool,
) -> Result<Response, ApiError> {
    crate::routes::parse_api_version(query.get("api-version"))?;
    let caller = admin(&state, &headers).await?;
    modify_certificates_inner(&state, &ctx.provider, &caller, &body, add).await
}

/// Add a policy signer
///
/// The body is a JWS signed by a current policy signer whose payload is
/// `{"policyCertificate": JWK}` with the certificate to add in `x5c`. Only providers in the
/// isolated trust model have policy signers.
#[utoipa::path(
    post,
    path = "/certificates:add",
    operation_id = "PolicyCertificates_Add",
    tag = crate::openapi::tag::CERTIFICATES,
    params(crate::openapi::ApiVersionRequired),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "A JWS signed by a current policy signer, usually as a JSON string literal.",
    ),
    responses(
        (status = 200, description = "`x-ms-policycertificates-result` is `IsPresent`.", body = crate::openapi::schema::PolicyCertificatesModificationResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn add_certificate(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    modify_certificates(state, ctx, query, headers, body, true).await
}

/// Remove a policy signer
///
/// As adding, with the certificate to remove; the last signer cannot be removed.
#[utoipa::path(
    post,
    path = "/certificates:remove",
    operation_id = "PolicyCertificates_Remove",
    tag = crate::openapi::tag::CERTIFICATES,
    params(crate::openapi::ApiVersionRequired),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "A JWS signed by a current policy signer, usually as a JSON string literal.",
    ),
    responses(
        (status = 200, description = "`x-ms-policycertificates-result` is `IsAbsent`.", body = crate::openapi::schema::PolicyCertificatesModificationResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn remove_certificate(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    modify_certificates(state, ctx, query, headers, body, false).await
}

async fn modify_certificates_inner(
    state: &AppState,
    provider: &Arc<ProviderRuntime>,
    caller: &Caller,
    body: &[u8],
    add: bool,
) -> Result<Response, ApiError> {
    let upload = parse_upload(body)?;
    let action = if add { "signer.add" } else { "signer.remove" };
    let mut event = audit_event(
        state,
        caller,
        provider,
        action,
        None,
        Some(&upload.text),
        "ok",
    );
    if provider.trust_model != TrustModel::Isolated {
        let error = invalid_operation(
            "policy signer certificates exist only for providers in the isolated trust model",
        );
        return Err(refuse(state, event, error).await);
    }
    // Only a current signer may change the signer set.
    if let Err(error) = require_trusted_signer(state, provider, &upload).await {
        return Err(refuse(state, event, error).await);
    }
    let target = match maa::decode_policy_certificate(upload.jws.payload())
        .map_err(|e| e.to_string())
        .and_then(|jwk| jwk.certificate_ders().map_err(|e| e.to_string()))
        .and_then(|ders| {
            ders.into_iter()
                .next()
                .ok_or_else(|| "x5c is empty".to_owned())
        })
        .and_then(|der| Certificate::from_der(&der).map_err(|e| e.to_string()))
    {
        Ok(cert) => cert,
        Err(reason) => {
            let error = ApiError::bad_request(format!(
                "the JWS payload must carry policyCertificate, a JWK with the certificate in x5c: {reason}"
            ));
            return Err(refuse(state, event, error).await);
        }
    };
    let der = target.der().to_vec();
    let name = provider.name.clone();
    event.result = "ok".to_owned();
    let refused_event = event.clone();
    let outcome = if add {
        blocking(state, "adding a policy signer", move |store| {
            store
                .add_policy_signer_audited(&name, &der, &event)
                .map(|_| RemoveSigner::Absent)
        })
        .await?
    } else {
        blocking(state, "removing a policy signer", move |store| {
            store.remove_policy_signer_audited(&name, &der, true, &event)
        })
        .await?
    };
    if !add && outcome == RemoveSigner::LastOneRefused {
        let error = invalid_operation(
            "the last policy signer certificate cannot be removed: the provider would become unmanageable",
        );
        return Err(refuse(state, refused_event, error).await);
    }
    let mut claims = Map::new();
    claims.insert(
        "x-ms-certificate-thumbprint".into(),
        Value::String(target.thumbprint()),
    );
    claims.insert(
        "x-ms-policycertificates-result".into(),
        Value::String(if add { "IsPresent" } else { "IsAbsent" }.into()),
    );
    result_token(state, provider, claims)
}

/// What a 2018-09-01-preview policy request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegacyOp {
    Get,
    Set,
    Reset,
}

/// The 2018-09-01-preview policy paths: `/operations/policy/current?tee=...` (GET, PUT = set,
/// POST = reset) answer `{"policy": JWT}`, 200 without a body, and the reset result.
async fn legacy_current(
    state: &AppState,
    ctx: &Ctx,
    query: &HashMap<String, String>,
    op: LegacyOp,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ApiError> {
    let caller = admin(state, headers).await?;
    let tee = query
        .get("tee")
        .ok_or_else(|| ApiError::bad_request("the tee query parameter is required"))?;
    let kind = attestation_type(tee)?;
    match op {
        LegacyOp::Get => {
            let response = policy_result_for_get(state, &ctx.provider, kind).await?;
            rewrap(response, "policy").await
        }
        LegacyOp::Set => {
            set_policy_inner(state, &ctx.provider, &caller, kind, body).await?;
            Ok(StatusCode::OK.into_response())
        }
        LegacyOp::Reset => reset_policy_inner(state, &ctx.provider, &caller, kind, body).await,
    }
}

/// Get a policy (2018)
///
/// The 2018-09-01-preview form of `GET /policies/{type}`.
#[utoipa::path(
    get,
    path = "/operations/policy/current",
    operation_id = "Legacy_Policy_Get",
    tag = crate::openapi::tag::LEGACY,
    params(crate::openapi::TeeQuery, crate::openapi::LegacyApiVersion),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The PolicyResult token, under `policy`.", body = crate::openapi::schema::LegacyPolicyResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn legacy_get_policy(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    legacy_current(&state, &ctx, &query, LegacyOp::Get, &headers, &[]).await
}

/// Set a policy (2018)
///
/// The 2018-09-01-preview form of `PUT /policies/{type}`; answers 200 without a body.
#[utoipa::path(
    put,
    path = "/operations/policy/current",
    operation_id = "Legacy_Policy_Set",
    tag = crate::openapi::tag::LEGACY,
    params(crate::openapi::TeeQuery, crate::openapi::LegacyApiVersion),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "The policy, in a JWS: unsecured, or signed by a policy signer.",
    ),
    responses(
        (status = 200, description = "The policy is stored."),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn legacy_set_policy(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    legacy_current(&state, &ctx, &query, LegacyOp::Set, &headers, &body).await
}

/// Reset a policy (2018)
///
/// The 2018-09-01-preview form of `POST /policies/{type}:reset`.
#[utoipa::path(
    post,
    path = "/operations/policy/current",
    operation_id = "Legacy_Policy_Reset",
    tag = crate::openapi::tag::LEGACY,
    params(crate::openapi::TeeQuery, crate::openapi::LegacyApiVersion),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "A JWS with an empty payload: unsecured, or signed by a policy signer.",
    ),
    responses(
        (status = 200, description = "A PolicyResult token: `x-ms-policy-result` is `Removed`.", body = crate::openapi::schema::PolicyResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn legacy_reset_policy(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Params,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    legacy_current(&state, &ctx, &query, LegacyOp::Reset, &headers, &body).await
}

/// Get the policy signers (2018)
///
/// The 2018-09-01-preview form of `GET /certificates`.
#[utoipa::path(
    get,
    path = "/operations/policy/certificates",
    operation_id = "Legacy_PolicyCertificates_Get",
    tag = crate::openapi::tag::LEGACY,
    params(crate::openapi::LegacyApiVersion),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A PolicyCertificatesResult token.", body = crate::openapi::schema::PolicyCertificatesResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
    ),
)]
pub async fn legacy_get_certificates(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    admin(&state, &headers).await?;
    certificates_result(&state, &ctx.provider).await
}

/// Add a policy signer (2018)
///
/// The 2018-09-01-preview form of `POST /certificates:add`.
#[utoipa::path(
    put,
    path = "/operations/policy/certificates",
    operation_id = "Legacy_PolicyCertificates_Add",
    tag = crate::openapi::tag::LEGACY,
    params(crate::openapi::LegacyApiVersion),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "A JWS signed by a current policy signer.",
    ),
    responses(
        (status = 200, description = "`x-ms-policycertificates-result` is `IsPresent`.", body = crate::openapi::schema::PolicyCertificatesModificationResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn legacy_add_certificate(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = admin(&state, &headers).await?;
    modify_certificates_inner(&state, &ctx.provider, &caller, &body, true).await
}

/// Remove a policy signer (2018)
///
/// The 2018-09-01-preview form of `POST /certificates:remove`.
#[utoipa::path(
    post,
    path = "/operations/policy/certificates",
    operation_id = "Legacy_PolicyCertificates_Remove",
    tag = crate::openapi::tag::LEGACY,
    params(crate::openapi::LegacyApiVersion),
    security(("bearer" = [])),
    request_body(
        content((crate::openapi::schema::Jws = "text/plain"), (crate::openapi::schema::Jws = "application/json")),
        description = "A JWS signed by a current policy signer.",
    ),
    responses(
        (status = 200, description = "`x-ms-policycertificates-result` is `IsAbsent`.", body = crate::openapi::schema::PolicyCertificatesModificationResponse),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
    ),
)]
pub async fn legacy_remove_certificate(
    State(state): State<AppState>,
    ctx: Ctx,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let caller = admin(&state, &headers).await?;
    modify_certificates_inner(&state, &ctx.provider, &caller, &body, false).await
}

/// Re-keys a `{"token": ...}` response as `{"<key>": ...}`.
async fn rewrap(response: Response, key: &str) -> Result<Response, ApiError> {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .map_err(|error| ApiError::internal("reading a response", &error))?;
    let value: Value = serde_json::from_slice(&bytes)
        .map_err(|error| ApiError::internal("reading a response", &error))?;
    Ok(crate::routes::json_response(
        &json!({ key: value["token"] }),
    ))
}
