//! `POST /attest/Tpm`: MAA's TPM attestation protocol (v2), two exchanges on one endpoint.
//!
//! Every message is `{"data": base64url(JSON)}`, both ways. The JSON is either the bare message
//! (as the protocol document shows it) or wrapped as `{"payload": {...}, "metadata": {...}}` (as
//! the REST reference's sample sends it); the answer uses the wrapping the client used.
//!
//! ```text
//! 1. {"type": "aikcert"}        ─▶ {"challenge": b64url(16 random bytes),
//!                                    "service_context": AES-256-GCM sealed {provider, challenge, exp}}
//! 2. {"request": JWS attReqV2}  ─▶ {"report": JWT}
//!    JWS (PS256, signed by request_key.jwk) ─▶ open service_context (this process, this
//!    provider, not expired, not used before) ─▶ att_data.challenge == sealed challenge
//!    ─▶ qualifying data (request_key.info.tpm_quote: H(jwk text || 0x00 || challenge);
//!       tpm_certify: the challenge) ─▶ attesto_tpm::verify_quote (AIK chain to [tpm] roots,
//!       signature, pcrDigest, required_pcr_mask, replay) ─▶ claims ─▶ Tpm policy ─▶ RS256 JWT
//! ```
//!
//! Decisions:
//! - **Stateless, expiring contexts**: the service keeps nothing per challenge; the context is
//!   sealed with a key drawn at start-up and held only in memory, so contexts do not survive a
//!   restart and are not accepted by another instance (clients just ask for a new challenge).
//!   Expiry: `[tpm] service_context_lifetime_secs` (default 5 minutes).
//! - **One report per context**: a bounded in-memory set of used contexts (until they expire)
//!   stops a captured request from being replayed within the lifetime.
//! - **No AIK in the context**: MAA's first message carries no AIK, and anything a client claimed
//!   there would be unauthenticated; the challenge in the quote is what ties the quote to the
//!   context.
//! - **The request key must be bound** (`info.tpm_quote` or `info.tpm_certify`), as the protocol
//!   requires whenever a TPM quote is present; `cnf` then names it.
//! - **v1 requests** (`typ: attReq`) are refused: their platform claims are undocumented Windows
//!   blobs. So are `att_type: vbs` and non-empty `custom_claims` (MAA prefixes their names with
//!   an undocumented URL; accepting them under other names would let clients shadow service
//!   claims).
//! - **The token** carries the registered claims, `x-ms-ver`, `x-ms-attestation-type: tpm`,
//!   `x-ms-policy-hash`, the scalar TPM claims (`aikValidated`, `aikPubHash`, `tpmVersion`,
//!   `secureBootEnabled`, ...), `x-ms-tpm-request-key` / `x-ms-tpm-other-keys`, `cnf`,
//!   `rp_data` (if sent) and what the policy issued. `events`, `bootEvents` and `pcrs` are
//!   policy inputs only (MAA's `pcrs` is read-only, and its sample
//!   `tpm-v1.2-issue-all-events` issues the events explicitly); a policy may issue `events`.
//! - **Boot attestation** (`boot_attestation`, the quote saved before hibernation) is verified
//!   like the current one except for its qualifying data, which predates the challenge; it must
//!   come from the same AIK and the same TPM reset cycle (`resetCount`).
//! - **`require_valid_aik_cert`** in force = `[tpm] require_valid_aik_cert` (default true) AND
//!   the policy's configuration rule (default true): the service setting can only relax it for
//!   every provider, e.g. in a lab without an AIK CA.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use attesto_jose::{Algorithm, Jwk, Jws, base64url};
use attesto_policy::{AttestationType, Claim, ClaimSet};
use attesto_tpm::keys::{
    AttestedKey, hash_from_name, key_from_jwk, quote_key_binding, verify_certify,
};
use attesto_tpm::tpm2::Attest;
use attesto_tpm::{
    AikEvidence, HashAlg, MeasurementLog, PcrValues, QuoteEvidence, TrustAnchors, VerifiedQuote,
    VerifyOptions, tpm_claims, verify_quote,
};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::config::TpmConfig;
use crate::error::{ApiError, code};
use crate::metrics::{EvidenceLabel, TypeLabel};
use crate::providers::ProviderRuntime;
use crate::routes::context::Ctx;
use crate::state::{ActivePolicy, AppState};

/// Random challenge length (MAA's sample challenge is 16 bytes).
const CHALLENGE_LEN: usize = 16;
/// First byte of a sealed context, so a future format can be told apart.
const CONTEXT_VERSION: u8 = 1;
/// AEAD associated data: a context sealed for anything else never opens as one of these.
const CONTEXT_AAD: &[u8] = b"attesto/tpm/service_context/v1";
/// Longest `service_context` accepted (a real one is about 150 characters).
const MAX_CONTEXT_LEN: usize = 1024;
/// Used contexts remembered at most; beyond that (after forgetting expired ones) new reports
/// are refused rather than weakening replay protection. With the default 5-minute lifetime this
/// is over 800 reports per second.
const REPLAY_CAPACITY: usize = 1 << 18;
/// `other_keys` holds at most two keys (MAA).
const MAX_OTHER_KEYS: usize = 2;
/// Claims that stay policy inputs and are not copied into the report.
const INPUT_ONLY_CLAIMS: [&str; 3] = ["events", "bootEvents", "pcrs"];

/// Test-only overrides of the protocol. Only the `test-clock` feature (enabled solely by this
/// crate's own tests) can set them, so a released binary always runs the full protocol.
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    challenge: Option<Vec<u8>>,
    allow_unbound_request_key: bool,
}

impl TestHooks {
    /// Every challenge is `challenge`, so recorded quotes over a known nonce can be replayed
    /// through the protocol.
    #[cfg(feature = "test-clock")]
    #[must_use]
    pub fn fixed_challenge(challenge: Vec<u8>) -> Self {
        TestHooks {
            challenge: Some(challenge),
            allow_unbound_request_key: false,
        }
    }

    /// Accepts a request key without a TPM binding: recorded quotes cannot carry a binding to
    /// a key made now.
    #[cfg(feature = "test-clock")]
    #[must_use]
    pub fn allow_unbound_request_key(mut self) -> Self {
        self.allow_unbound_request_key = true;
        self
    }
}

/// The TPM endpoint's state: trust anchors, the context sealing key and used contexts.
pub struct TpmState {
    anchors: TrustAnchors,
    intermediates: Vec<Vec<u8>>,
    require_valid_aik_cert: bool,
    context_lifetime: Duration,
    sealer: LessSafeKey,
    used: Mutex<HashMap<[u8; NONCE_LEN], u64>>,
    hooks: TestHooks,
}

impl std::fmt::Debug for TpmState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TpmState")
            .field("anchors", &self.anchors.len())
            .field("intermediates", &self.intermediates.len())
            .field("require_valid_aik_cert", &self.require_valid_aik_cert)
            .field("context_lifetime", &self.context_lifetime)
            .finish_non_exhaustive()
    }
}

impl TpmState {
    /// The state for `config`, with its roots and intermediates already read (DER), and a fresh
    /// random sealing key.
    ///
    /// # Errors
    /// A root that is not a certificate, or a failing system RNG.
    pub fn new(
        config: &TpmConfig,
        roots_der: &[Vec<u8>],
        intermediates_der: Vec<Vec<u8>>,
        hooks: TestHooks,
    ) -> anyhow::Result<Self> {
        let anchors = TrustAnchors::from_der(roots_der).context("[tpm] roots")?;
        let mut key = [0u8; 32];
        aws_lc_rs::rand::fill(&mut key).map_err(|_| anyhow::anyhow!("the system RNG failed"))?;
        let sealer = LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &key)
                .map_err(|_| anyhow::anyhow!("AES-256-GCM key setup failed"))?,
        );
        Ok(TpmState {
            anchors,
            intermediates: intermediates_der,
            require_valid_aik_cert: config.require_valid_aik_cert,
            context_lifetime: Duration::from_secs(config.service_context_lifetime_secs),
            sealer,
            used: Mutex::new(HashMap::new()),
            hooks,
        })
    }

    fn new_challenge(&self) -> Result<Vec<u8>, ApiError> {
        if let Some(fixed) = &self.hooks.challenge {
            return Ok(fixed.clone());
        }
        let mut challenge = vec![0u8; CHALLENGE_LEN];
        aws_lc_rs::rand::fill(&mut challenge)
            .map_err(|_| ApiError::internal("challenge", &"the system RNG failed"))?;
        Ok(challenge)
    }

    /// `version || nonce || AES-256-GCM(body)`, base64url.
    fn seal(&self, body: &SealedContext) -> Result<String, ApiError> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| ApiError::internal("service_context", &"the system RNG failed"))?;
        let mut data = serde_json::to_vec(body)
            .map_err(|error| ApiError::internal("service_context", &error))?;
        self.sealer
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(CONTEXT_AAD),
                &mut data,
            )
            .map_err(|_| ApiError::internal("service_context", &"sealing failed"))?;
        let mut out = Vec::with_capacity(data.len().saturating_add(1 + NONCE_LEN));
        out.push(CONTEXT_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        Ok(base64url::encode(&out))
    }

    /// Opens a context sealed by this process for `provider` and checks its expiry. Returns the
    /// body and the context's nonce (its identity for replay protection).
    fn open(
        &self,
        text: &str,
        provider: &str,
        now: u64,
    ) -> Result<(SealedContext, [u8; NONCE_LEN]), ApiError> {
        let malformed = || ApiError::bad_request("service_context is malformed");
        if text.len() > MAX_CONTEXT_LEN {
            return Err(malformed());
        }
        let bytes = base64url::decode(text).map_err(|_| malformed())?;
        let (version, rest) = bytes.split_first().ok_or_else(malformed)?;
        if *version != CONTEXT_VERSION || rest.len() < NONCE_LEN {
            return Err(malformed());
        }
        let (nonce_bytes, sealed) = rest.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce_bytes.try_into().map_err(|_| malformed())?;
        let mut data = sealed.to_vec();
        let plain = self
            .sealer
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(CONTEXT_AAD),
                &mut data,
            )
            .map_err(|_| {
                ApiError::bad_request(
                    "service_context was not issued by this service (altered, or issued before \
                     a restart); request a new challenge",
                )
            })?;
        let body: SealedContext = serde_json::from_slice(plain).map_err(|_| malformed())?;
        if body.provider != provider {
            return Err(ApiError::bad_request(format!(
                "service_context was issued by attestation provider '{}', not '{provider}'",
                body.provider
            )));
        }
        if now >= body.exp {
            return Err(ApiError::bad_request(format!(
                "service_context expired {} s ago (contexts live {} s); request a new challenge",
                now.saturating_sub(body.exp),
                self.context_lifetime.as_secs()
            )));
        }
        Ok((body, nonce))
    }

    /// Marks a context used; refuses one used before.
    fn consume(&self, id: [u8; NONCE_LEN], exp: u64, now: u64) -> Result<(), ApiError> {
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        if used.len() >= REPLAY_CAPACITY {
            used.retain(|_, expires| *expires > now);
        }
        if used.contains_key(&id) {
            return Err(ApiError::bad_request(
                "this service_context was already used for a report; request a new challenge",
            ));
        }
        if used.len() >= REPLAY_CAPACITY {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::INTERNAL,
                "too many TPM attestations in progress; retry shortly",
            ));
        }
        used.insert(id, exp);
        Ok(())
    }
}

/// What a `service_context` holds.
#[derive(Debug, Serialize, Deserialize)]
struct SealedContext {
    /// The provider that issued it.
    provider: String,
    /// The challenge, base64url.
    challenge: String,
    /// Expiry, Unix seconds.
    exp: u64,
}

// ---- the request JWS payload (MAA "Request message v2") ---------------------------------------

#[derive(Deserialize)]
struct RequestPayload<'a> {
    att_type: String,
    #[serde(borrow)]
    att_data: AttData<'a>,
}

#[derive(Deserialize)]
struct AttData<'a> {
    #[serde(default)]
    rp_data: Option<String>,
    challenge: String,
    tpm_att_data: TpmAttData,
    #[serde(borrow, default)]
    request_key: Option<KeyObject<'a>>,
    #[serde(borrow, default)]
    other_keys: Vec<KeyObject<'a>>,
    #[serde(default)]
    custom_claims: Vec<Value>,
    service_context: String,
}

#[derive(Deserialize)]
struct TpmAttData {
    #[serde(default)]
    current_attestation: Option<WireAttestation>,
    #[serde(default)]
    boot_attestation: Option<WireAttestation>,
    /// v1 members, recognised only to explain the refusal.
    #[serde(default)]
    current_claim: Option<Value>,
    #[serde(default)]
    srtm_boot_log: Option<Value>,
}

#[derive(Deserialize)]
struct WireAttestation {
    #[serde(default)]
    logs: Vec<WireLog>,
    #[serde(default)]
    aik_cert: Option<String>,
    #[serde(default)]
    aik_pub: Option<Value>,
    #[serde(default)]
    pcrs: Vec<WireBank>,
    quote: String,
    signature: String,
}

#[derive(Deserialize)]
struct WireLog {
    #[serde(rename = "type")]
    kind: String,
    log: String,
}

#[derive(Deserialize)]
struct WireBank {
    algorithm: u16,
    values: Vec<WirePcr>,
}

#[derive(Deserialize)]
struct WirePcr {
    index: u32,
    digest: String,
}

#[derive(Deserialize)]
struct KeyObject<'a> {
    /// Kept as sent: the quote binding hashes this exact text.
    #[serde(borrow)]
    jwk: &'a RawValue,
    #[serde(default)]
    info: Option<KeyInfo>,
}

#[derive(Deserialize)]
struct KeyInfo {
    #[serde(default)]
    tpm_quote: Option<TpmQuoteInfo>,
    #[serde(default)]
    tpm_certify: Option<TpmCertifyInfo>,
}

#[derive(Deserialize)]
struct TpmQuoteInfo {
    hash_alg: String,
}

#[derive(Deserialize)]
struct TpmCertifyInfo {
    public: String,
    certification: String,
    signature: String,
}

/// How a key is tied to the TPM, as the request says.
enum Binding<'a> {
    Quote(HashAlg),
    Certify(&'a TpmCertifyInfo),
    Unbound,
}

fn binding_of<'a>(key: &'a KeyObject<'_>, member: &str) -> Result<Binding<'a>, ApiError> {
    let Some(info) = &key.info else {
        return Ok(Binding::Unbound);
    };
    match (&info.tpm_quote, &info.tpm_certify) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(format!(
            "{member}.info has both tpm_quote and tpm_certify; send one binding"
        ))),
        (Some(quote), None) => hash_from_name(&quote.hash_alg)
            .map(Binding::Quote)
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{member}.info.tpm_quote.hash_alg '{}' is not one of sha-1, sha-256, sha-384, \
                     sha-512",
                    quote.hash_alg
                ))
            }),
        (None, Some(certify)) => Ok(Binding::Certify(certify)),
        (None, None) => Ok(Binding::Unbound),
    }
}

// ---- the handler -------------------------------------------------------------------------------

/// Attest a TPM
///
/// MAA's TPM attestation protocol (v2): two exchanges on this endpoint, told apart by the
/// message. `{"type": "aikcert"}` is answered with a challenge and a sealed service context;
/// the attestation request (a JWS carrying the TPM quote for that challenge, the AIK
/// certificate and the logs) is answered with `{"report": JWT}`. Every message, both ways,
/// is `{"data": base64url(JSON)}`.
#[utoipa::path(
    post,
    path = "/attest/Tpm",
    operation_id = "Attestation_AttestTpm",
    tag = crate::openapi::tag::ATTESTATION,
    params(crate::openapi::ApiVersionRequired),
    request_body(
        content = crate::openapi::schema::TpmMessage,
        content_type = "application/json",
        description = "A protocol message.",
    ),
    responses(
        (status = 200, description = "The next protocol message.", body = crate::openapi::schema::TpmMessage),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 404, response = crate::openapi::NotFound),
        (status = 413, response = crate::openapi::PayloadTooLarge),
        (status = 503, response = crate::openapi::ServiceUnavailable),
    ),
)]
pub async fn attest_tpm(
    State(state): State<AppState>,
    ctx: Ctx,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    handle(&state, &ctx.provider, &query, &body).await
}

/// The TPM protocol for one provider (also callable from a generic `/attest/{type}` handler for
/// case variants of the path).
pub async fn handle(
    state: &AppState,
    provider: &ProviderRuntime,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Response {
    let kind = AttestationType::Tpm.as_str();
    let label = TypeLabel {
        evidence: kind.to_owned(),
    };
    let mut response = match handle_inner(state, provider, query, body).await {
        Ok((response, issued)) => {
            if issued {
                state.metrics.tokens_issued.get_or_create(&label).inc();
            }
            response
        }
        Err(error) => {
            if error.code == code::POLICY_DENIED {
                state.metrics.policy_denials.get_or_create(&label).inc();
            }
            error.into_response()
        }
    };
    response.extensions_mut().insert(EvidenceLabel(kind));
    response
}

/// The answer and whether it carries a report.
async fn handle_inner(
    state: &AppState,
    provider: &ProviderRuntime,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Result<(Response, bool), ApiError> {
    crate::routes::parse_api_version(query.get("api-version"))?;
    let envelope = Envelope::decode(body)?;
    if let Some(kind) = envelope.message.get("type") {
        let answer = challenge_step(state, provider, kind)?;
        return Ok((envelope.answer(answer)?, false));
    }
    if let Some(request) = envelope.message.get("request") {
        let request = request
            .as_str()
            .ok_or_else(|| ApiError::bad_request("`request` must be a compact JWS string"))?;
        let answer = request_step(state, provider, request).await?;
        return Ok((envelope.answer(answer)?, true));
    }
    Err(ApiError::bad_request(
        "the TPM message has neither `type` (challenge step) nor `request` (request step)",
    ))
}

/// The decoded `data` and whether it came wrapped in `payload`.
struct Envelope {
    message: Map<String, Value>,
    wrapped: bool,
}

impl Envelope {
    fn decode(body: &[u8]) -> Result<Envelope, ApiError> {
        let outer: Value = serde_json::from_slice(body)
            .map_err(|error| ApiError::bad_request(format!("body is not JSON: {error}")))?;
        let data = outer
            .get("data")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad_request("body must be {\"data\": \"<base64url>\"}"))?;
        let decoded = base64url::decode(data)
            .map_err(|error| ApiError::bad_request(format!("data: {error}")))?;
        let inner: Value = serde_json::from_slice(&decoded).map_err(|error| {
            ApiError::bad_request(format!("data does not decode to JSON: {error}"))
        })?;
        let Value::Object(mut message) = inner else {
            return Err(ApiError::bad_request("data must decode to a JSON object"));
        };
        match message.remove("payload") {
            Some(Value::Object(payload)) => Ok(Envelope {
                message: payload,
                wrapped: true,
            }),
            Some(_) => Err(ApiError::bad_request("data.payload must be an object")),
            None => Ok(Envelope {
                message,
                wrapped: false,
            }),
        }
    }

    fn answer(&self, message: Value) -> Result<Response, ApiError> {
        let inner = if self.wrapped {
            json!({ "payload": message })
        } else {
            message
        };
        let bytes = serde_json::to_vec(&inner)
            .map_err(|error| ApiError::internal("serializing the answer", &error))?;
        Ok(crate::routes::json_response(
            &json!({ "data": base64url::encode(&bytes) }),
        ))
    }
}

fn challenge_step(
    state: &AppState,
    provider: &ProviderRuntime,
    kind: &Value,
) -> Result<Value, ApiError> {
    if kind.as_str() != Some("aikcert") {
        return Err(ApiError::bad_request(format!(
            "unsupported TPM message type {kind}: the only type is \"aikcert\""
        )));
    }
    let tpm = &state.tpm;
    let challenge = tpm.new_challenge()?;
    let exp = state
        .clock
        .now()
        .as_secs()
        .saturating_add(tpm.context_lifetime.as_secs());
    let context = tpm.seal(&SealedContext {
        provider: provider.name.clone(),
        challenge: base64url::encode(&challenge),
        exp,
    })?;
    Ok(json!({
        "challenge": base64url::encode(&challenge),
        "service_context": context,
    }))
}

fn bad_evidence(what: &str, error: &dyn std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        code::INVALID_EVIDENCE,
        format!("{what}: {error}"),
    )
}

fn decode_field(what: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    base64url::decode(text).map_err(|error| ApiError::bad_request(format!("{what}: {error}")))
}

fn parse_request(jws: &Jws) -> Result<RequestPayload<'_>, ApiError> {
    match jws.header().typ.as_deref() {
        Some("attReqV2") => {}
        Some("attReq") => {
            return Err(ApiError::bad_request(
                "TPM request v1 (typ attReq) is not supported: its current_claim and boot_claim \
                 are Windows platform-claim blobs (NCryptCreateClaim) whose format is not \
                 documented. Send a v2 request (typ attReqV2) with current_attestation \
                 {logs, aik_cert|aik_pub, pcrs, quote, signature}",
            ));
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "the request JWS header must have typ \"attReqV2\", not {other:?}"
            )));
        }
    }
    if jws.algorithm() != Algorithm::Ps256 {
        return Err(ApiError::bad_request(format!(
            "the request JWS must be signed with PS256, not {:?}",
            jws.algorithm()
        )));
    }
    let payload: RequestPayload<'_> = serde_json::from_slice(jws.payload())
        .map_err(|error| ApiError::bad_request(format!("request payload: {error}")))?;
    match payload.att_type.as_str() {
        "basic" => {}
        "vbs" => {
            return Err(ApiError::bad_request(
                "att_type \"vbs\" (VBS enclave attestation) is not supported; send \"basic\"",
            ));
        }
        other => {
            return Err(ApiError::bad_request(format!(
                "att_type must be \"basic\", not {other:?}"
            )));
        }
    }
    if !payload.att_data.custom_claims.is_empty() {
        return Err(ApiError::bad_request(
            "custom_claims are not supported (MAA names them under an undocumented URL); send \
             an empty array",
        ));
    }
    Ok(payload)
}

/// The evidence of one attestation object, decoded.
struct DecodedAttestation {
    quote: Vec<u8>,
    signature: Vec<u8>,
    pcrs: PcrValues,
    logs: Vec<MeasurementLog>,
    aik: AikEvidence,
}

impl DecodedAttestation {
    fn decode(
        what: &str,
        wire: &WireAttestation,
        intermediates: &[Vec<u8>],
    ) -> Result<DecodedAttestation, ApiError> {
        let quote = decode_field(&format!("{what}.quote"), &wire.quote)?;
        let signature = decode_field(&format!("{what}.signature"), &wire.signature)?;
        let mut pcrs = PcrValues::new();
        for (b, bank) in wire.pcrs.iter().enumerate() {
            let alg = HashAlg::from_tpm_alg_id(bank.algorithm).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{what}.pcrs[{b}].algorithm {} is not SHA-1 (4), SHA-256 (11), SHA-384 (12) \
                     or SHA-512 (13)",
                    bank.algorithm
                ))
            })?;
            for (v, value) in bank.values.iter().enumerate() {
                let field = format!("{what}.pcrs[{b}].values[{v}]");
                let digest = decode_field(&format!("{field}.digest"), &value.digest)?;
                if pcrs.get(alg, value.index).is_some() {
                    return Err(ApiError::bad_request(format!(
                        "{field}: PCR {} of {alg} appears twice",
                        value.index
                    )));
                }
                pcrs.insert(alg, value.index, digest)
                    .map_err(|error| ApiError::bad_request(format!("{field}: {error}")))?;
            }
        }
        let mut logs = Vec::with_capacity(wire.logs.len());
        for (i, log) in wire.logs.iter().enumerate() {
            let bytes = decode_field(&format!("{what}.logs[{i}].log"), &log.log)?;
            logs.push(
                MeasurementLog::parse(&log.kind, &bytes)
                    .map_err(|error| bad_evidence(&format!("{what}.logs[{i}]"), &error))?,
            );
        }
        let mut aik = AikEvidence::new();
        if let Some(cert) = &wire.aik_cert {
            aik = aik
                .with_certificate(decode_field(&format!("{what}.aik_cert"), cert)?)
                .with_intermediates(intermediates.to_vec());
        }
        if let Some(jwk) = &wire.aik_pub {
            let key = key_from_jwk(jwk)
                .map_err(|error| ApiError::bad_request(format!("{what}.aik_pub: {error}")))?;
            aik = aik.with_public_key(key);
        }
        if wire.aik_cert.is_none() && wire.aik_pub.is_none() {
            return Err(ApiError::bad_request(format!(
                "{what} has neither aik_cert nor aik_pub"
            )));
        }
        Ok(DecodedAttestation {
            quote,
            signature,
            pcrs,
            logs,
            aik,
        })
    }

    fn verify(&self, what: &str, options: &VerifyOptions<'_>) -> Result<VerifiedQuote, ApiError> {
        verify_quote(
            &QuoteEvidence {
                quote: &self.quote,
                signature: &self.signature,
                pcrs: &self.pcrs,
                logs: &self.logs,
                aik: &self.aik,
            },
            options,
        )
        .map_err(|error| bad_evidence(&format!("{what} verification failed"), &error))
    }
}

async fn request_step(
    state: &AppState,
    provider: &ProviderRuntime,
    request: &str,
) -> Result<Value, ApiError> {
    let tpm = &state.tpm;
    let now = state.clock.now();
    let now_secs = now.as_secs();
    let jws = Jws::parse(request)
        .map_err(|error| ApiError::bad_request(format!("request is not a compact JWS: {error}")))?;
    let payload = parse_request(&jws)?;
    let att = &payload.att_data;

    // The context: this service, this provider, in time, for this challenge.
    let (context, context_id) = tpm.open(&att.service_context, &provider.name, now_secs)?;
    let challenge = decode_field("att_data.challenge", &att.challenge)?;
    if base64url::decode(&context.challenge).ok().as_deref() != Some(challenge.as_slice()) {
        return Err(ApiError::bad_request(
            "att_data.challenge is not the challenge issued with this service_context",
        ));
    }

    // The request key signed the request (proof of possession), and how it is bound.
    let request_key = att
        .request_key
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("att_data.request_key is required"))?;
    let jwk_text = request_key.jwk.get();
    let jwk: Jwk = serde_json::from_str(jwk_text)
        .map_err(|error| ApiError::bad_request(format!("request_key.jwk: {error}")))?;
    attesto_jose::verify_with_jwk(&jws, &jwk).map_err(|error| {
        ApiError::bad_request(format!(
            "the request JWS does not verify with request_key.jwk: {error}"
        ))
    })?;
    let jwk_value: Value = serde_json::from_str(jwk_text)
        .map_err(|error| ApiError::bad_request(format!("request_key.jwk: {error}")))?;
    let binding = binding_of(request_key, "request_key")?;
    let qualifying_data = match binding {
        Binding::Quote(hash) => quote_key_binding(jwk_text, &challenge, hash),
        Binding::Certify(_) => challenge.clone(),
        Binding::Unbound if tpm.hooks.allow_unbound_request_key => challenge.clone(),
        Binding::Unbound => {
            return Err(ApiError::bad_request(
                "request_key must be bound to the TPM when the request carries a TPM quote: \
                 send info.tpm_quote (qualifyingData = H(jwk || 0x00 || challenge)) or \
                 info.tpm_certify",
            ));
        }
    };
    if att.other_keys.len() > MAX_OTHER_KEYS {
        return Err(ApiError::bad_request(format!(
            "other_keys holds {} keys; at most {MAX_OTHER_KEYS} are allowed",
            att.other_keys.len()
        )));
    }

    // The policy decides how strict the verification is.
    let active = active_policy(state, provider).await?;
    let configuration = active.policy.configuration();
    let mut options = VerifyOptions::new(&qualifying_data, now, &tpm.anchors);
    options.require_valid_aik_cert =
        tpm.require_valid_aik_cert && configuration.require_valid_aik_cert;
    options.required_pcr_mask = configuration.required_pcr_mask;

    let tpm_data = &att.tpm_att_data;
    let Some(current_wire) = &tpm_data.current_attestation else {
        let hint = if tpm_data.current_claim.is_some() || tpm_data.srtm_boot_log.is_some() {
            " (this looks like a v1 request body: v1 is not supported)"
        } else {
            ""
        };
        return Err(ApiError::bad_request(format!(
            "tpm_att_data.current_attestation is required{hint}"
        )));
    };
    let current =
        DecodedAttestation::decode("current_attestation", current_wire, &tpm.intermediates)?
            .verify("current_attestation", &options)?;

    let request_attested = match binding {
        Binding::Quote(hash) => Some(AttestedKey::quoted(jwk_value.clone(), hash)),
        Binding::Certify(info) => Some(certified_key(
            "request_key",
            jwk_value.clone(),
            info,
            &current,
            &challenge,
        )?),
        Binding::Unbound => None,
    };
    let mut other_claims = Vec::with_capacity(att.other_keys.len());
    for (i, key) in att.other_keys.iter().enumerate() {
        let member = format!("other_keys[{i}]");
        let value: Value = serde_json::from_str(key.jwk.get())
            .map_err(|error| ApiError::bad_request(format!("{member}.jwk: {error}")))?;
        other_claims.push(match binding_of(key, &member)? {
            Binding::Quote(_) => {
                return Err(ApiError::bad_request(format!(
                    "{member}: the tpm_quote binding is only for request_key; use tpm_certify"
                )));
            }
            Binding::Certify(info) => {
                certified_key(&member, value, info, &current, &challenge)?.to_claim()
            }
            Binding::Unbound => json!({ "jwk": value }),
        });
    }

    let boot = match &tpm_data.boot_attestation {
        Some(wire) => Some(verify_boot(wire, &current, &options, &tpm.intermediates)?),
        None => None,
    };

    // Claims, policy, report.
    let mut incoming = tpm_claims(&current, boot.as_ref(), request_attested.as_ref(), &[]);
    if !other_claims.is_empty() {
        incoming.insert("x-ms-tpm-other-keys".to_owned(), Value::Array(other_claims));
    }
    incoming.insert("x-ms-attestation-type".to_owned(), Value::from("tpm"));
    incoming.insert("x-ms-ver".to_owned(), Value::from("1.0"));
    let mut claim_set = ClaimSet::from_json(&Value::Object(incoming.clone()))
        .map_err(|error| ApiError::internal("TPM claims", &error))?;
    claim_set.push(Claim::evidence("x-ms-policy-hash", active.hash.as_str()));
    let evaluation = active.policy.evaluate(&claim_set).map_err(|error| {
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
                "attestation denied by the Tpm policy: {}",
                evaluation.decision
            ),
        ));
    }

    let mut service = incoming;
    for name in INPUT_ONLY_CLAIMS {
        service.remove(name);
    }
    service.insert("cnf".to_owned(), json!({ "jwk": jwk_value }));
    if let Some(rp_data) = &att.rp_data {
        service.insert("rp_data".to_owned(), Value::from(rp_data.as_str()));
    }
    if let Some(signer) = &active.signer_der {
        let jwk = Jwk::from_certificate_der(signer)
            .map_err(|error| ApiError::internal("stored policy signer", &error))?;
        service.insert(
            "x-ms-policy-signer".to_owned(),
            serde_json::to_value(jwk)
                .map_err(|error| ApiError::internal("policy signer JWK", &error))?,
        );
    }
    let lifetime = evaluation
        .properties
        .report_validity_in_minutes
        .map_or(provider.token_lifetime, |minutes| {
            Duration::from_secs(u64::from(minutes).saturating_mul(60))
        });
    let claims = report_claims(&ReportInputs {
        service: &service,
        issued: &evaluation.issued_claims,
        policy_hash: &active.hash,
        iss: &provider.issuer,
        now: now_secs,
        lifetime,
        jti: random_jti()?,
    })?;
    // Last check before signing, so a failed attempt does not use up the context.
    tpm.consume(context_id, context.exp, now_secs)?;
    let report = provider
        .signer
        .issue(&claims)
        .map_err(|error| ApiError::internal("signing the report", &error))?;
    Ok(json!({ "report": report }))
}

fn certified_key(
    member: &str,
    jwk: Value,
    info: &TpmCertifyInfo,
    current: &VerifiedQuote,
    challenge: &[u8],
) -> Result<AttestedKey, ApiError> {
    let field = |name: &str| format!("{member}.info.tpm_certify.{name}");
    let public = decode_field(&field("public"), &info.public)?;
    let certification = decode_field(&field("certification"), &info.certification)?;
    let signature = decode_field(&field("signature"), &info.signature)?;
    let certified = verify_certify(
        &public,
        &certification,
        &signature,
        &current.aik.key,
        challenge,
    )
    .map_err(|error| bad_evidence(&field("certification"), &error))?;
    AttestedKey::certified(jwk, certified)
        .map_err(|error| bad_evidence(&format!("{member}.jwk"), &error))
}

/// The boot attestation: verified like the current one, over its own (earlier) qualifying data,
/// and from the same AIK and TPM reset cycle.
fn verify_boot(
    wire: &WireAttestation,
    current: &VerifiedQuote,
    options: &VerifyOptions<'_>,
    intermediates: &[Vec<u8>],
) -> Result<VerifiedQuote, ApiError> {
    let what = "boot_attestation";
    let decoded = DecodedAttestation::decode(what, wire, intermediates)?;
    let attest = Attest::parse(&decoded.quote)
        .map_err(|error| bad_evidence(&format!("{what}.quote"), &error))?;
    let mut boot_options = options.clone();
    boot_options.qualifying_data = &attest.extra_data;
    let boot = decoded.verify(what, &boot_options)?;
    if boot.aik.key != current.aik.key {
        return Err(bad_evidence(
            what,
            &"quoted by another AIK than current_attestation",
        ));
    }
    if boot.attest.clock_info.reset_count != current.attest.clock_info.reset_count {
        return Err(bad_evidence(
            what,
            &"not from the same boot as current_attestation (TPM resetCount differs)",
        ));
    }
    Ok(boot)
}

/// The provider's Tpm policy (cached parse).
async fn active_policy(
    state: &AppState,
    provider: &ProviderRuntime,
) -> Result<Arc<ActivePolicy>, ApiError> {
    let kind = AttestationType::Tpm;
    if let Some(active) = state.policies.cached(&provider.name, kind) {
        return Ok(active);
    }
    let store = state.store.clone();
    let policies = Arc::clone(&state.policies);
    let name = provider.name.clone();
    tokio::task::spawn_blocking(move || policies.get(&store, &name, kind))
        .await
        .map_err(|error| ApiError::internal("policy task", &error))?
        .map_err(|error| ApiError::internal("loading the attestation policy", &error))
}

fn random_jti() -> Result<[u8; 32], ApiError> {
    let mut jti = [0u8; 32];
    aws_lc_rs::rand::fill(&mut jti)
        .map_err(|_| ApiError::internal("random jti", &"the system RNG failed"))?;
    Ok(jti)
}

/// What a report is built from.
struct ReportInputs<'a> {
    service: &'a Map<String, Value>,
    issued: &'a [Claim],
    policy_hash: &'a str,
    iss: &'a str,
    now: u64,
    lifetime: Duration,
    jti: [u8; 32],
}

/// Largest integer every JSON implementation reads exactly (2^53 - 1).
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// The report payload, with the attestation token's precedence: registered claims and
/// `x-ms-policy-hash`, then the service's claims, then what the policy issued (a policy never
/// replaces a claim the service sets, nor issues `x-attesto-*`). A type issued several times
/// becomes an array of its distinct values.
fn report_claims(inputs: &ReportInputs<'_>) -> Result<Map<String, Value>, ApiError> {
    use attesto_provider::token::{ATTESTO_CLAIM_PREFIX, RESERVED_CLAIMS};
    let exp = inputs
        .now
        .checked_add(inputs.lifetime.as_secs())
        .filter(|exp| *exp <= MAX_SAFE_INTEGER && inputs.lifetime.as_secs() > 0)
        .ok_or_else(|| ApiError::internal("building the report", &"invalid token lifetime"))?;
    let mut grouped: Vec<(String, Vec<Value>)> = Vec::new();
    for claim in inputs.issued {
        let name: &str = &claim.claim_type;
        if RESERVED_CLAIMS.contains(&name)
            || name.starts_with(ATTESTO_CLAIM_PREFIX)
            || inputs.service.contains_key(name)
        {
            continue;
        }
        let value = claim.value.to_json();
        match grouped.iter_mut().find(|(n, _)| n == name) {
            Some((_, values)) => {
                if !values.contains(&value) {
                    values.push(value);
                }
            }
            None => grouped.push((name.to_owned(), vec![value])),
        }
    }
    let mut claims = Map::new();
    for (name, mut values) in grouped {
        let value = if values.len() == 1 {
            values.pop().unwrap_or(Value::Null)
        } else {
            Value::Array(values)
        };
        claims.insert(name, value);
    }
    for (name, value) in inputs.service {
        claims.insert(name.clone(), value.clone());
    }
    claims.insert("iss".to_owned(), Value::from(inputs.iss));
    claims.insert("iat".to_owned(), Value::from(inputs.now));
    claims.insert("nbf".to_owned(), Value::from(inputs.now));
    claims.insert("exp".to_owned(), Value::from(exp));
    claims.insert("jti".to_owned(), Value::from(hex::encode(inputs.jti)));
    claims.insert(
        "x-ms-policy-hash".to_owned(),
        Value::from(inputs.policy_hash),
    );
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(lifetime: u64) -> TpmState {
        let config = TpmConfig {
            service_context_lifetime_secs: lifetime,
            ..TpmConfig::default()
        };
        TpmState::new(&config, &[], Vec::new(), TestHooks::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn sealed(tpm: &TpmState, provider: &str, exp: u64) -> String {
        tpm.seal(&SealedContext {
            provider: provider.to_owned(),
            challenge: base64url::encode(b"challenge"),
            exp,
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn contexts_open_only_where_and_when_they_were_issued() {
        let tpm = state(300);
        let text = sealed(&tpm, "default", 1_000);
        let (body, _) = tpm
            .open(&text, "default", 999)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body.challenge, base64url::encode(b"challenge"));

        let expired = tpm.open(&text, "default", 1_000).err();
        assert!(
            expired.is_some_and(|e| e.message.contains("expired")),
            "expired"
        );
        let foreign = tpm.open(&text, "other", 999).err();
        assert!(
            foreign.is_some_and(|e| e.message.contains("provider 'default'")),
            "foreign provider"
        );
        // Another process (another key) cannot open it.
        let restarted = state(300).open(&text, "default", 999).err();
        assert!(
            restarted.is_some_and(|e| e.message.contains("not issued by this service")),
            "other key"
        );
        // Any flipped byte breaks it.
        let mut bytes = base64url::decode(&text).unwrap_or_default();
        for i in 0..bytes.len() {
            if let Some(byte) = bytes.get_mut(i) {
                *byte ^= 0x01;
            }
            assert!(
                tpm.open(&base64url::encode(&bytes), "default", 999)
                    .is_err(),
                "byte {i}"
            );
            if let Some(byte) = bytes.get_mut(i) {
                *byte ^= 0x01;
            }
        }
        assert!(tpm.open("", "default", 999).is_err());
        assert!(tpm.open("AQ", "default", 999).is_err());
    }

    #[test]
    fn tpm_settings_load_from_toml_and_are_validated() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("attesto.toml");
        std::fs::write(
            &path,
            "[tpm]\nroots = [\"/etc/attesto/tpm-root.pem\"]\nservice_context_lifetime_secs = 60\n",
        )?;
        let config = crate::config::Config::load(Some(&path))?;
        assert_eq!(
            config.tpm.roots,
            vec![std::path::PathBuf::from("/etc/attesto/tpm-root.pem")]
        );
        assert_eq!(config.tpm.service_context_lifetime_secs, 60);
        assert!(config.tpm.require_valid_aik_cert);
        for bad in [
            "[tpm]\nservice_context_lifetime_secs = 0\n",
            "[tpm]\nservice_context_lifetime_secs = 3601\n",
            "[tpm]\nintermediates = [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]\n",
            "[tpm]\nroot = []\n",
        ] {
            std::fs::write(&path, bad)?;
            assert!(crate::config::Config::load(Some(&path)).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn a_context_is_consumed_once() {
        let tpm = state(300);
        let id = [7u8; NONCE_LEN];
        assert!(tpm.consume(id, 100, 10).is_ok());
        let again = tpm.consume(id, 100, 10).err();
        assert!(again.is_some_and(|e| e.message.contains("already used")));
        assert!(tpm.consume([8u8; NONCE_LEN], 100, 10).is_ok());
    }

    #[test]
    fn the_policy_never_replaces_service_claims() {
        let mut service = Map::new();
        service.insert("aikValidated".to_owned(), Value::Bool(true));
        let issued = vec![
            Claim::evidence("aikValidated", false),
            Claim::evidence("iss", "forged"),
            Claim::evidence("x-attesto-x", true),
            Claim::evidence("PlatformAttested", true),
            Claim::evidence("level", 1i64),
            Claim::evidence("level", 2i64),
            Claim::evidence("level", 1i64),
        ];
        let claims = report_claims(&ReportInputs {
            service: &service,
            issued: &issued,
            policy_hash: "hash",
            iss: "https://issuer",
            now: 100,
            lifetime: Duration::from_secs(60),
            jti: [0u8; 32],
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(claims["aikValidated"], true);
        assert_eq!(claims["iss"], "https://issuer");
        assert!(!claims.contains_key("x-attesto-x"));
        assert_eq!(claims["PlatformAttested"], true);
        assert_eq!(claims["level"], json!([1, 2]));
        assert_eq!(claims["exp"], 160);
        assert_eq!(claims["x-ms-policy-hash"], "hash");
    }
}
