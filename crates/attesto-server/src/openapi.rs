//! The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.json`.
//!
//! It is generated from the handlers: each one carries a `#[utoipa::path]` annotation next to
//! its code, and the enumerations in it (`api-version`, attestation types) are computed from the
//! same constants the handlers parse with, so the document cannot promise a value the service
//! rejects. The two derives below list the operations: [`ProviderApi`] holds what every
//! provider answers (at the root and under `/providers/{provider}`, expressed as the document's
//! two `servers`), [`ServiceApi`] what only the root answers.
//!
//! The document is also kept in the repository as `docs/openapi.json`, for readers and client
//! generators that do not run the service. A test fails when the served document and the file
//! differ, and another when the document and the router disagree on any (method, path).
//! After changing the API, regenerate the file with:
//!
//! ```sh
//! ATTESTO_UPDATE_OPENAPI=1 cargo test -p attesto-server openapi
//! ```

use std::sync::LazyLock;

use attesto_policy::AttestationType;
use attesto_provider::request::{self, ApiVersion, RequestError};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::{Server, ServerBuilder, ServerVariableBuilder};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToResponse};

use crate::error::ApiError;
use crate::routes::{attest, metadata, policy, tpm};

/// The prefix under which every provider answers [`ProviderApi`]'s paths.
pub const PROVIDER_PREFIX: &str = "/providers/{provider}";

/// The name of the bearer security scheme administrative operations require.
pub const BEARER: &str = "bearer";

/// The document's tags, in the order readers see them.
pub(crate) mod tag {
    pub(crate) const ATTESTATION: &str = "Attestation";
    pub(crate) const METADATA: &str = "Metadata";
    pub(crate) const POLICY: &str = "Policy";
    pub(crate) const CERTIFICATES: &str = "Policy certificates";
    pub(crate) const LEGACY: &str = "Legacy (2018-09-01-preview)";
    pub(crate) const SERVICE: &str = "Service";
}

const API_DESCRIPTION: &str = "\
attesto speaks the data-plane API of Microsoft Azure Attestation (MAA): existing MAA clients work \
against it with only the endpoint changed.

**Providers.** One deployment hosts many attestation providers. Every operation tagged other than \
`Service` exists twice: at the root, where it addresses the default provider (or the provider whose \
host name the request is addressed to), and under `/providers/{provider}`, as the document's two \
`servers` say; `Service` operations exist only at the root.

**api-version.** Attestation, policy and certificate operations require the `api-version` query \
parameter; metadata operations accept it optionally (the Azure SDKs send none there). A request with \
`api-version=2018-09-01-preview` uses the 2018 request and answer shapes.

**Errors** use MAA's shape, `{\"error\":{\"code\":\"...\",\"message\":\"...\"}}`, with the status \
codes MAA clients act on: 400 for bad input, bad evidence or a policy denial, 401 for missing or \
wrong administrator credentials, 404 for an unknown provider, attestation type or path, 413 for an \
oversized body and 503 when no valid collateral can be obtained for a quote (or the service is \
briefly overloaded). Every response carries `x-ms-request-id` (the client's, or a generated one).";

/// Operations every provider answers, at the root and under [`PROVIDER_PREFIX`].
#[derive(OpenApi)]
#[openapi(
    paths(
        attest::attest,
        attest::attest_tee,
        tpm::attest_tpm,
        metadata::certs,
        metadata::certs_trailing_slash,
        metadata::openid_configuration,
        policy::get_policy,
        policy::set_policy,
        policy::post_policy,
        policy::get_certificates,
        policy::add_certificate,
        policy::remove_certificate,
        policy::legacy_get_policy,
        policy::legacy_set_policy,
        policy::legacy_reset_policy,
        policy::legacy_get_certificates,
        policy::legacy_add_certificate,
        policy::legacy_remove_certificate,
    ),
    components(
        schemas(schema::CloudError),
        responses(
            BadRequest,
            Unauthorized,
            NotFound,
            PayloadTooLarge,
            ServiceUnavailable
        ),
    )
)]
pub struct ProviderApi;

/// Operations of the service itself, answered only at the root.
#[derive(OpenApi)]
#[openapi(paths(metadata::health, crate::routes::export_metrics, openapi_json))]
pub struct ServiceApi;

/// The whole document: both operation sets, servers, security scheme, tags and info.
#[must_use]
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ProviderApi::openapi();
    let mut service = ServiceApi::openapi();
    for item in service.paths.paths.values_mut() {
        item.servers = Some(vec![service_server()]);
    }
    doc.merge(service);
    Document.modify(&mut doc);
    doc
}

/// The document as served and as kept in `docs/openapi.json`: pretty JSON with a final newline,
/// so the committed file diffs line by line.
///
/// # Errors
/// Serialization failure (never expected: the document is plain data).
pub fn document_json() -> Result<String, serde_json::Error> {
    let mut text = serde_json::to_string_pretty(&document())?;
    text.push('\n');
    Ok(text)
}

/// Rendered once: the document depends only on the code.
static DOCUMENT_JSON: LazyLock<Result<String, String>> =
    LazyLock::new(|| document_json().map_err(|error| error.to_string()));

/// Describe this API
///
/// This OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "OpenApi_Get",
    tag = tag::SERVICE,
    responses((status = 200, description = "The OpenAPI 3.1 document of this service.", body = Object)),
)]
pub async fn openapi_json() -> Response {
    match &*DOCUMENT_JSON {
        Ok(text) => {
            let mut response = (StatusCode::OK, text.clone()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            response
        }
        Err(error) => ApiError::internal("rendering the OpenAPI document", error).into_response(),
    }
}

fn root_server() -> Server {
    ServerBuilder::new()
        .url("/")
        .description(Some(
            "The default provider, or the provider whose host name the request is addressed to.",
        ))
        .build()
}

fn service_server() -> Server {
    ServerBuilder::new()
        .url("/")
        .description(Some(
            "The service itself: these paths exist only at the root.",
        ))
        .build()
}

fn provider_server() -> Server {
    ServerBuilder::new()
        .url(PROVIDER_PREFIX)
        .description(Some("The named attestation provider."))
        .parameter(
            "provider",
            ServerVariableBuilder::new()
                .default_value(crate::providers::DEFAULT_PROVIDER)
                .description(Some("The provider's name.")),
        )
        .build()
}

/// Document-wide parts no single handler owns.
struct Document;

impl Modify for Document {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        doc.info.title = "attesto".to_owned();
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        doc.info.description = Some(API_DESCRIPTION.to_owned());
        doc.info.license = Some(
            utoipa::openapi::LicenseBuilder::new()
                .name("Apache-2.0")
                .identifier(Some("Apache-2.0"))
                .build(),
        );
        doc.info.contact = None;
        doc.servers = Some(vec![root_server(), provider_server()]);
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "The administrator token printed at first start, or a JWT from the \
                         configured OpenID Connect issuer carrying the administrator role.",
                    ))
                    .build(),
            ),
        );
        doc.tags = Some(
            [
                (tag::ATTESTATION, "Evidence in, an attestation token out."),
                (tag::METADATA, "What relying parties need to verify tokens."),
                (
                    tag::POLICY,
                    "Attestation policies, answered with PolicyResult tokens.",
                ),
                (
                    tag::CERTIFICATES,
                    "Policy signer certificates of providers in the isolated trust model.",
                ),
                (
                    tag::LEGACY,
                    "The 2018-09-01-preview policy paths, for old clients.",
                ),
                (tag::SERVICE, "The service itself; only at the root."),
            ]
            .into_iter()
            .map(|(name, description)| {
                utoipa::openapi::tag::TagBuilder::new()
                    .name(name)
                    .description(Some(description))
                    .build()
            })
            .collect(),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters. Their enumerations are computed from the constants the handlers parse with.

fn string_enum(values: Vec<&'static str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
}

fn api_version(required: bool, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name("api-version")
        .parameter_in(ParameterIn::Query)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(string_enum(
            ApiVersion::ALL.iter().map(|v| v.as_str()).collect(),
        )))
        .build()
}

/// `api-version`, required (attestation, policy and certificate operations).
pub struct ApiVersionRequired;

impl IntoParams for ApiVersionRequired {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![api_version(
            true,
            "The MAA API version. On `/attest`, `2018-09-01-preview` selects the 2018 request and \
             answer shapes.",
        )]
    }
}

/// `api-version`, optional (metadata operations).
pub struct ApiVersionOptional;

impl IntoParams for ApiVersionOptional {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![api_version(
            false,
            "The MAA API version; optional here, but a value that is sent must be supported.",
        )]
    }
}

/// `api-version` of the 2018 policy paths: 2018 clients send `2018-09-01-preview`; the paths
/// exist only in that version, so the value is not checked.
pub struct LegacyApiVersion;

impl IntoParams for LegacyApiVersion {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            ParameterBuilder::new()
                .name("api-version")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "Sent by 2018 clients as `2018-09-01-preview`; these paths exist only in that \
                     version, so the value is not checked.",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        ]
    }
}

/// The attestation types `/attest/{type}` accepts: those the request parser has evidence for.
#[must_use]
pub fn attestable_types() -> Vec<&'static str> {
    AttestationType::ALL
        .into_iter()
        .filter(|kind| {
            !matches!(
                request::parse(*kind, ApiVersion::V2022_08_01, b"{}"),
                Err(RequestError::UnsupportedAttestationType { .. })
            )
        })
        .map(AttestationType::as_str)
        .collect()
}

fn attestation_type(name: &str, location: ParameterIn, values: Vec<&'static str>) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(Required::True)
        .description(Some("The attestation type (ASCII case is ignored)."))
        .schema(Some(string_enum(values)))
        .build()
}

/// `{type}` of `/attest/{type}`: the attestation types with quote-based evidence.
pub struct AttestTypePath;

impl IntoParams for AttestTypePath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![attestation_type(
            "type",
            ParameterIn::Path,
            attestable_types(),
        )]
    }
}

fn all_types() -> Vec<&'static str> {
    AttestationType::ALL
        .into_iter()
        .map(AttestationType::as_str)
        .collect()
}

/// `{type}` of the policy paths: every attestation type has a policy.
pub struct PolicyTypePath;

impl IntoParams for PolicyTypePath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![attestation_type("type", ParameterIn::Path, all_types())]
    }
}

/// `tee` of the 2018 policy paths.
pub struct TeeQuery;

impl IntoParams for TeeQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![attestation_type("tee", ParameterIn::Query, all_types())]
    }
}

// ---------------------------------------------------------------------------------------------
// Error responses: MAA's CloudError body with the status codes its clients act on.

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("CloudError")))
                .build(),
        )
        .build()
        .into()
}

macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $description:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<utoipa::openapi::Response>) {
                (stringify!($name), error_response($description))
            }
        }
    )*};
}

error_responses! {
    /// 400.
    BadRequest => "Malformed request, missing or unsupported `api-version`, evidence that fails \
        verification, data that does not match the evidence, a policy that does not parse, a \
        policy denial, or a change the provider's trust model forbids (`code` says which).";
    /// 401.
    Unauthorized => "Missing or wrong administrator credentials (`Authorization: Bearer ...`).";
    /// 404.
    NotFound => "Unknown attestation provider or attestation type.";
    /// 413.
    PayloadTooLarge => "The request body exceeds the configured limit.";
    /// 503.
    ServiceUnavailable => "The answer cannot be given now: no valid collateral could be obtained \
        for the quote (Intel PCS or the PCCS unreachable, nothing valid cached), or too many TPM \
        attestations are in progress. Retry later.";
}

// ---------------------------------------------------------------------------------------------

/// Wire schemas: the JSON bodies of requests and answers, as MAA defines them. The handlers
/// parse and render these by hand (the parsers are stricter than any schema: duplicate members,
/// size limits, base64 tolerance); these types exist to describe them.
pub mod schema {
    use serde::Serialize;
    use utoipa::ToSchema;

    /// Body of `POST /attest/SgxEnclave` and `POST /attest/TdxVm` (api-version 2020-10-01 and
    /// later). Member names are matched ignoring ASCII case; `null` counts as absent.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct AttestSgxEnclaveRequest {
        /// The SGX or TDX quote, base64url (standard base64 and padding are accepted too).
        pub quote: String,
        /// SHA-256 of its bytes must equal the first 32 bytes of the quote's report data.
        pub runtime_data: Option<AttestationData>,
        /// SHA-256 of its bytes must equal the first 32 bytes of CONFIGID (TDX: MRCONFIGID).
        pub init_time_data: Option<AttestationData>,
        /// A policy evaluated instead of the provider's; the answer is then an unsecured token
        /// (`alg: none`).
        pub draft_policy_for_attestation: Option<String>,
        /// Echoed into the token as `nonce`.
        pub nonce: Option<String>,
    }

    /// Body of `POST /attest/OpenEnclave` (api-version 2020-10-01 and later).
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct AttestOpenEnclaveRequest {
        /// The Open Enclave report (its 16-byte header is checked and stripped) or a bare SGX
        /// quote, base64url.
        pub report: String,
        /// SHA-256 of its bytes must equal the first 32 bytes of the quote's report data.
        pub runtime_data: Option<AttestationData>,
        /// SHA-256 of its bytes must equal the first 32 bytes of CONFIGID.
        pub init_time_data: Option<AttestationData>,
        /// A policy evaluated instead of the provider's; the answer is then an unsecured token
        /// (`alg: none`).
        pub draft_policy_for_attestation: Option<String>,
        /// Echoed into the token as `nonce`.
        pub nonce: Option<String>,
    }

    /// Body of every attestation type with api-version `2018-09-01-preview`.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "PascalCase")]
    pub struct AttestLegacyRequest {
        /// The quote (for `OpenEnclave`, the report), base64url.
        pub quote: String,
        /// Runtime data, base64url: SHA-256 of its bytes must equal the first 32 bytes of the
        /// quote's report data.
        pub enclave_held_data: Option<String>,
        /// A policy evaluated instead of the provider's; the answer is then an unsecured token.
        pub draft_policy_for_attestation: Option<String>,
        /// Echoed into the token as `nonce`.
        #[serde(rename = "nonce")]
        pub nonce: Option<String>,
    }

    /// The body of `/attest/{type}`; which one depends on the type and the api-version.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(untagged)]
    pub enum AttestRequest {
        /// `SgxEnclave` and `TdxVm`.
        Quote(AttestSgxEnclaveRequest),
        /// `OpenEnclave`.
        Report(AttestOpenEnclaveRequest),
        /// api-version `2018-09-01-preview`.
        Legacy(AttestLegacyRequest),
    }

    /// How the service interprets `data`.
    #[derive(Debug, Serialize, ToSchema)]
    pub enum DataType {
        /// Opaque bytes, emitted as `x-ms-sgx-ehd` (the default).
        Binary,
        /// A JSON object, emitted as `x-ms-runtime` / `x-ms-inittime`.
        #[serde(rename = "JSON")]
        Json,
    }

    /// Data the enclave bound into its evidence.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(rename_all = "camelCase")]
    pub struct AttestationData {
        /// The bytes, base64url; `null` means no data.
        pub data: Option<String>,
        /// How to interpret the bytes (default `Binary`).
        pub data_type: Option<DataType>,
    }

    /// An attestation token.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct AttestationResponse {
        /// An RS256 JWT signed by the provider (`jku` = `<issuer>/certs`, `kid` names the key in
        /// `/certs`) with MAA's claims: `x-ms-attestation-type`, `x-ms-policy-hash`,
        /// `x-ms-sgx-*` (SGX, Open Enclave) or `tdx_*` (TDX), the deprecated aliases, and
        /// `x-attesto-*` verification details. With a draft policy: an unsecured token.
        pub token: String,
    }

    /// The answer of `/attest/{type}`: `{"token": JWT}`, or with api-version
    /// `2018-09-01-preview` (and on `/attest/Tee/{type}`) the bare JWT as a JSON string.
    #[derive(Debug, Serialize, ToSchema)]
    #[serde(untagged)]
    pub enum AttestResponse {
        /// api-version 2020-10-01 and later.
        Token(AttestationResponse),
        /// api-version 2018-09-01-preview: the JWT itself.
        Legacy(String),
    }

    /// A message of MAA's TPM attestation protocol.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct TpmMessage {
        /// base64url of the JSON message: the bare message, or `{"payload": ..., "metadata":
        /// ...}` (the answer uses the wrapping the client used).
        pub data: String,
    }

    /// A JWS in compact serialization: signed by a policy signer (`x5c` in the header or in
    /// its `jwk`; `alg` RS256/ES256, or the Python SDK's RSA256/ECDH256), or unsecured
    /// (`alg: none`). Sent as raw text or as a JSON string literal.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct Jws(pub String);

    /// A PolicyResult token.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct PolicyResponse {
        /// A JWT signed by the provider (lifetime one hour). Get: `x-ms-policy` (the stored
        /// policy JWS, or an unsecured one holding the default policy) and `x-ms-policy-signer`
        /// if it was signed. Set and reset: `x-ms-policy-result` (`Updated` or `Removed`),
        /// `x-ms-policy-token-hash` (base64url SHA-256 of the JWS as received) and
        /// `x-ms-policy-signer`.
        pub token: String,
    }

    /// A PolicyCertificatesResult token.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct PolicyCertificatesResponse {
        /// A JWT signed by the provider whose `x-ms-policy-certificates` claim is a JWK set of
        /// the policy signers.
        pub token: String,
    }

    /// A PolicyCertificatesModificationResult token.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct PolicyCertificatesModificationResponse {
        /// A JWT signed by the provider with `x-ms-certificate-thumbprint` and
        /// `x-ms-policycertificates-result` (`IsPresent` after an add, `IsAbsent` after a
        /// remove).
        pub token: String,
    }

    /// The 2018 policy answer.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct LegacyPolicyResponse {
        /// The PolicyResult token of a policy get (see `PolicyResponse`).
        pub policy: String,
    }

    /// A JSON Web Key (RFC 7517) with its certificate.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct JsonWebKey {
        /// Key type; always `RSA` for token signing keys.
        pub kty: String,
        /// Key id; tokens name their signing key with it.
        pub kid: Option<String>,
        /// The certificate chain, standard base64 DER, signer first.
        pub x5c: Option<Vec<String>>,
        /// RSA modulus, base64url.
        pub n: Option<String>,
        /// RSA exponent, base64url.
        pub e: Option<String>,
        /// EC curve.
        pub crv: Option<String>,
        /// EC x coordinate, base64url.
        pub x: Option<String>,
        /// EC y coordinate, base64url.
        pub y: Option<String>,
        /// Intended use.
        #[serde(rename = "use")]
        pub key_use: Option<String>,
        /// Intended algorithm.
        pub alg: Option<String>,
    }

    /// The provider's token signing keys: the active key first, then retired keys whose tokens
    /// may still be valid.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct JsonWebKeySet {
        /// The keys.
        pub keys: Vec<JsonWebKey>,
    }

    /// OpenID Connect discovery metadata of a provider.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct OpenIdMetadata {
        /// The provider's issuer (its attest URI), the `iss` of its tokens.
        pub issuer: String,
        /// `<issuer>/certs`.
        pub jwks_uri: String,
        /// Response types.
        pub response_types_supported: Vec<String>,
        /// Token signing algorithms (`RS256`).
        pub id_token_signing_alg_values_supported: Vec<String>,
        /// `<issuer>/revoke`, as MAA publishes it.
        pub revocation_endpoint: String,
        /// Claims a token may carry.
        pub claims_supported: Vec<String>,
    }

    /// Liveness of the service.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct Health {
        /// `healthy` or `unhealthy`.
        pub status: String,
        /// Whether the store answers.
        pub store: bool,
        /// The default provider's issuer.
        pub issuer: String,
        /// Providers loaded in memory.
        pub providers: Vec<String>,
        /// The service version.
        pub version: String,
    }

    /// MAA's error body.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct CloudError {
        /// What went wrong.
        pub error: CloudErrorBody,
    }

    /// The error itself.
    #[derive(Debug, Serialize, ToSchema)]
    pub struct CloudErrorBody {
        /// A stable code clients may match on, e.g. `InvalidParameter`,
        /// `UnsupportedApiVersion`, `InvalidEvidence`, `DataBindingMismatch`,
        /// `PolicyEvaluationFailed`, `InvalidPolicy`, `PolicyParsingError`,
        /// `InvalidOperation`, `Unauthorized`, `NotFound`, `PayloadTooLarge`,
        /// `CollateralUnavailable`.
        pub code: String,
        /// What went wrong, for a developer reading it.
        pub message: String,
    }
}

#[cfg(test)]
mod tests {
    //! The document against the committed file, the real router and real answers.

    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use anyhow::{Context, Result, bail, ensure};
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use serde_json::Value;
    use tower::ServiceExt as _;

    use crate::config::{CollateralSourceKind, Config};
    use crate::{RunningServer, ServerBuilder};

    /// Set to `1` to rewrite `docs/openapi.json` from the served document.
    const UPDATE_VAR: &str = "ATTESTO_UPDATE_OPENAPI";

    /// Every method a route could answer; HEAD is left out because axum answers it for GET.
    const PROBED_METHODS: [Method; 6] = [
        Method::GET,
        Method::PUT,
        Method::POST,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
    ];

    const OPERATION_KEYS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];

    fn committed_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
    }

    /// A started service (for its state) and its router, reached without a socket.
    struct Fixture {
        server: RunningServer,
        router: Router,
        _dir: tempfile::TempDir,
    }

    async fn start() -> Result<Fixture> {
        let dir = tempfile::tempdir()?;
        let offline = dir.path().join("collateral");
        std::fs::create_dir_all(&offline)?;
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().join("data"),
            insecure_http: true,
            ..Config::default()
        };
        config.collateral.source = CollateralSourceKind::Offline;
        config.collateral.offline_dir = Some(offline);
        let server = ServerBuilder::new(config).start().await?;
        let router = crate::routes::router(server.state().clone());
        Ok(Fixture {
            server,
            router,
            _dir: dir,
        })
    }

    async fn call(router: &Router, method: Method, uri: &str) -> Result<(StatusCode, Vec<u8>)> {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::empty())?;
        let response = router.clone().oneshot(request).await?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22).await?;
        Ok((status, body.to_vec()))
    }

    /// Whether the router has no such route: its fallback's 404, or a 405 (from the router, or
    /// from a handler that serves the path for no such method, as `POST /policies/{type}`
    /// without `:reset`).
    fn unrouted(status: StatusCode, body: &[u8]) -> bool {
        if status == StatusCode::METHOD_NOT_ALLOWED {
            return true;
        }
        status == StatusCode::NOT_FOUND
            && serde_json::from_slice::<Value>(body)
                .ok()
                .is_some_and(|v| v["error"]["message"] == "no such endpoint")
    }

    /// A concrete request URI for a template: each `{name}` gets a value the service knows, and
    /// a supported `api-version` is sent so that handlers get past it to their own checks (a
    /// `POST /policies/{type}` without `:reset` answers 405 only then).
    fn probe_uri(template: &str) -> Result<String> {
        Ok(format!("{}?api-version=2022-08-01", instantiate(template)?))
    }

    /// A concrete path for a template: each `{name}` gets a value the service knows.
    fn instantiate(template: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .with_context(|| format!("unclosed parameter in {template}"))?;
            let name = &rest[open + 1..open + close];
            out.push_str(match name {
                "provider" => crate::providers::DEFAULT_PROVIDER,
                "type" => "SgxEnclave",
                other => bail!("no sample value for path parameter {other} of {template}"),
            });
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn document_value() -> Result<Value> {
        Ok(serde_json::from_str(&super::document_json()?)?)
    }

    /// `(METHOD, full path template)` for every operation, each path expanded under each of
    /// its servers (the path's own, else the document's).
    fn documented_routes(doc: &Value) -> Result<BTreeSet<(String, String)>> {
        let mut routes = BTreeSet::new();
        let paths = doc["paths"].as_object().context("paths")?;
        for (path, item) in paths {
            let servers = item
                .get("servers")
                .unwrap_or(&doc["servers"])
                .as_array()
                .context("servers")?;
            ensure!(!servers.is_empty(), "{path} has no server");
            for server in servers {
                let url = server["url"].as_str().context("server url")?;
                let prefix = url.trim_end_matches('/');
                for method in OPERATION_KEYS {
                    if item.get(method).is_some() {
                        routes.insert((method.to_uppercase(), format!("{prefix}{path}")));
                    }
                }
            }
        }
        Ok(routes)
    }

    /// The path templates the router holds. axum offers no listing, but its `Debug` output
    /// names every path; the test fails (rather than passing vacuously) if that ever changes.
    fn router_paths(router: &Router) -> Result<BTreeSet<String>> {
        let debug = format!("{router:?}");
        let main = debug
            .split("fallback_router")
            .next()
            .context("router Debug output")?;
        let mut paths = BTreeSet::new();
        let mut rest = main;
        while let Some(at) = rest.find(": \"/") {
            let tail = &rest[at + 3..];
            let end = tail
                .find('"')
                .context("unterminated path in router Debug output")?;
            let path = &tail[..end];
            if !path.contains("__private__axum") {
                paths.insert(path.to_owned());
            }
            rest = &tail[end..];
        }
        ensure!(
            paths.contains("/health") && paths.contains("/providers/{provider}/certs"),
            "could not read the route list from the router's Debug output (axum changed it?): {paths:?}"
        );
        Ok(paths)
    }

    #[tokio::test]
    async fn openapi_served_document_is_the_committed_file() -> Result<()> {
        let fixture = start().await?;
        let (status, body) = call(&fixture.router, Method::GET, "/openapi.json").await?;
        fixture.server.shutdown().await;
        assert_eq!(status, StatusCode::OK);
        let served = String::from_utf8(body)?;
        assert_eq!(served, super::document_json()?);

        let path = committed_path();
        if std::env::var(UPDATE_VAR).is_ok_and(|v| v == "1") {
            std::fs::write(&path, &served)
                .with_context(|| format!("writing {}", path.display()))?;
            return Ok(());
        }
        let committed = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        if committed != served {
            let line = committed
                .lines()
                .zip(served.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(served.lines().count()))
                .saturating_add(1);
            bail!(
                "docs/openapi.json differs from the served document from line {line}; \
                 regenerate it with `{UPDATE_VAR}=1 cargo test -p attesto-server openapi`"
            );
        }
        Ok(())
    }

    #[tokio::test]
    async fn openapi_document_and_router_agree() -> Result<()> {
        let fixture = start().await?;
        let result = agree(&fixture.router).await;
        fixture.server.shutdown().await;
        result
    }

    async fn agree(router: &Router) -> Result<()> {
        let doc = document_value()?;
        let documented = documented_routes(&doc)?;
        ensure!(documented.len() > 20, "too few operations: {documented:?}");
        let mut problems = Vec::new();

        // Every documented operation is routed, at the root and under /providers/{provider}.
        for (method, template) in &documented {
            let uri = probe_uri(template)?;
            let (status, body) = call(router, method.parse()?, &uri).await?;
            if unrouted(status, &body) {
                problems.push(format!(
                    "{method} {template} is documented but not routed: {uri} answered {status} {}",
                    String::from_utf8_lossy(&body)
                ));
            }
        }

        // Every route of the router is documented, with every method it answers.
        let mut routed = 0;
        for template in router_paths(router)? {
            let uri = probe_uri(&template)?;
            for method in PROBED_METHODS {
                let (status, body) = call(router, method.clone(), &uri).await?;
                if unrouted(status, &body) {
                    continue;
                }
                routed += 1;
                if !documented.contains(&(method.to_string(), template.clone())) {
                    problems.push(format!(
                        "{method} {template} is routed ({uri} answered {status}) but not \
                         documented: annotate its handler with #[utoipa::path] and list it in \
                         ProviderApi or ServiceApi"
                    ));
                }
            }
        }
        ensure!(routed > 20, "too few routed operations found: {routed}");
        ensure!(problems.is_empty(), "{}", problems.join("\n"));
        Ok(())
    }

    #[test]
    fn openapi_document_is_well_formed() -> Result<()> {
        let doc = document_value()?;
        assert_eq!(doc["openapi"], "3.1.0");

        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        ensure!(!refs.is_empty());
        for reference in &refs {
            resolve(&doc, reference)?;
        }

        let schemes = doc["components"]["securitySchemes"]
            .as_object()
            .context("securitySchemes")?;
        ensure!(schemes.contains_key(super::BEARER));
        let mut operation_ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().context("paths")? {
            let in_template: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .filter_map(|s| s.split('}').next())
                .collect();
            for method in OPERATION_KEYS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let id = operation["operationId"].as_str().context("operationId")?;
                ensure!(
                    operation_ids.insert(id.to_owned()),
                    "duplicate operationId {id}"
                );
                let declared: BTreeSet<&str> = operation["parameters"]
                    .as_array()
                    .map(|params| {
                        params
                            .iter()
                            .filter(|p| p["in"] == "path")
                            .filter_map(|p| p["name"].as_str())
                            .collect()
                    })
                    .unwrap_or_default();
                ensure!(
                    declared == in_template,
                    "{method} {path}: path parameters {declared:?} != template {in_template:?}"
                );
                for requirement in operation["security"].as_array().into_iter().flatten() {
                    for name in requirement.as_object().context("security")?.keys() {
                        ensure!(schemes.contains_key(name), "unknown security scheme {name}");
                    }
                }
                let responses = operation["responses"].as_object().context("responses")?;
                ensure!(responses.contains_key("200"), "{method} {path} has no 200");
            }
        }
        // Administrative operations, and only they, need the bearer token.
        for (path, item) in doc["paths"].as_object().context("paths")? {
            for method in OPERATION_KEYS {
                let Some(operation) = item.get(method) else {
                    continue;
                };
                let admin = path.starts_with("/policies")
                    || path.starts_with("/certificates")
                    || path.starts_with("/operations/policy");
                assert_eq!(
                    operation.get("security").is_some(),
                    admin,
                    "security of {method} {path}"
                );
            }
        }
        Ok(())
    }

    #[tokio::test]
    async fn openapi_answers_match_the_documented_schemas() -> Result<()> {
        let fixture = start().await?;
        let result = answers_match(&fixture.router).await;
        fixture.server.shutdown().await;
        result
    }

    async fn answers_match(router: &Router) -> Result<()> {
        let doc = document_value()?;
        // (method, documented path, request URI, expected status)
        let cases = [
            ("get", "/certs", "/certs", 200),
            ("get", "/certs/", "/providers/default/certs/", 200),
            (
                "get",
                "/.well-known/openid-configuration",
                "/.well-known/openid-configuration?api-version=2020-10-01",
                200,
            ),
            ("get", "/health", "/health", 200),
            ("get", "/certs", "/providers/nobody/certs", 404),
            ("get", "/certs", "/certs?api-version=1999-01-01", 400),
            ("post", "/attest/{type}", "/attest/SgxEnclave", 400),
            ("post", "/attest/{type}", "/attest/NoSuchType", 404),
            (
                "get",
                "/policies/{type}",
                "/policies/SgxEnclave?api-version=2022-08-01",
                401,
            ),
            (
                "get",
                "/operations/policy/current",
                "/operations/policy/current",
                401,
            ),
        ];
        for (method, path, uri, expected) in cases {
            let (status, body) = call(router, method.to_uppercase().parse()?, uri).await?;
            ensure!(
                status.as_u16() == expected,
                "{method} {uri}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            let mut response = &doc["paths"][path][method]["responses"][expected.to_string()];
            if let Some(reference) = response["$ref"].as_str() {
                response = resolve(&doc, reference)?;
            }
            let schema = &response["content"]["application/json"]["schema"];
            ensure!(
                !schema.is_null(),
                "{method} {path} documents no JSON {expected}"
            );
            let value: Value = serde_json::from_slice(&body)
                .with_context(|| format!("{method} {uri}: the answer is not JSON"))?;
            conforms(&doc, schema, &value, uri)?;
        }
        Ok(())
    }

    #[test]
    fn openapi_request_schemas_accept_the_wire_samples() -> Result<()> {
        let doc = document_value()?;
        let schema = resolve(&doc, "#/components/schemas/AttestRequest")?;
        // What the Python SDK 1.0.0 sends, and the 2018 shape (maa-api.md).
        let samples = [
            serde_json::json!({"quote": "AwBmYWtlcXVvdGU", "runtimeData": {"data": "aGVsbG8", "dataType": "Binary"}}),
            serde_json::json!({"report": "AQAAAAIAAAA", "initTimeData": {"data": null, "dataType": "JSON"}}),
            serde_json::json!({"Quote": "AwBmYWtlcXVvdGU", "EnclaveHeldData": "aGVsbG8"}),
        ];
        for sample in &samples {
            conforms(&doc, schema, sample, "sample")?;
        }
        // And the checker can fail: a body without evidence matches no shape.
        ensure!(conforms(&doc, schema, &serde_json::json!({"runtimeData": {}}), "x").is_err());
        ensure!(
            conforms(
                &doc,
                schema,
                &serde_json::json!({"quote": "x", "runtimeData": {"dataType": "Text"}}),
                "x"
            )
            .is_err()
        );
        Ok(())
    }

    fn collect_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(reference)) => out.push(reference.clone()),
                        _ => collect_refs(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    fn resolve<'a>(doc: &'a Value, reference: &str) -> Result<&'a Value> {
        let pointer = reference
            .strip_prefix('#')
            .with_context(|| format!("external reference {reference}"))?;
        doc.pointer(pointer)
            .with_context(|| format!("dangling reference {reference}"))
    }

    /// A small JSON Schema check, stricter than JSON Schema in one way: an object may hold no
    /// member its schema does not list, so an undocumented member of an answer fails the test.
    fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<()> {
        if let Some(reference) = schema["$ref"].as_str() {
            return conforms(doc, resolve(doc, reference)?, value, at);
        }
        if let Some(options) = schema["oneOf"].as_array() {
            let matching = options
                .iter()
                .filter(|option| conforms(doc, option, value, at).is_ok())
                .count();
            ensure!(matching == 1, "{at}: {matching} of oneOf match {value}");
            return Ok(());
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let actual = match value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        ensure!(
            types.is_empty()
                || types.contains(&actual)
                || (actual == "integer" && types.contains(&"number")),
            "{at}: {actual} where the schema says {types:?}"
        );
        if let Some(allowed) = schema["enum"].as_array() {
            ensure!(
                allowed.contains(value),
                "{at}: {value} is not one of {allowed:?}"
            );
        }
        match value {
            Value::Object(members) if types.contains(&"object") => {
                let properties = schema["properties"].as_object();
                for (name, member) in members {
                    let property = properties
                        .and_then(|p| p.get(name))
                        .with_context(|| format!("{at}: undocumented member {name}"))?;
                    conforms(doc, property, member, &format!("{at}.{name}"))?;
                }
                for required in schema["required"].as_array().into_iter().flatten() {
                    let name = required.as_str().context("required")?;
                    ensure!(members.contains_key(name), "{at}: missing member {name}");
                }
            }
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    conforms(doc, &schema["items"], item, &format!("{at}[{i}]"))?;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
