//! `validatequotes`: send an enclave-info file's evidence to an attestation service, check the
//! token it returns, and compare its claims with the file.
//!
//! ```text
//! EnclaveInfo ─► POST <endpoint>/attest/{SgxEnclave|OpenEnclave} ─► token
//!   GET <endpoint>/certs ─► Jwks
//!   check_token(token, jwks, endpoint, now)   JKU, RS256 signature with x5c[0] of the kid's
//!                                             key, exp/nbf, iss, signing cert issuer CN=<iss>
//!   [signing_cert_quote::check]               the service's own quote, when asked
//!   compare(info, claims)                     debug, MRENCLAVE, MRSIGNER, product, SVN, EHD
//!   ─► Outcome { report, status }             0 all true, 1 mismatch, 2 token invalid
//! ```
//!
//! Everything but [`Client`] is pure: bytes, a key set and a time in, a report out. Transport
//! and service failures are [`ValidateError`]s, exit status 3.
//!
//! The checks are the ones Microsoft's sample makes (through the Azure SDK), made
//! stricter in two places: `jku` must equal `<endpoint>/certs` and `iss` must equal the
//! endpoint exactly (MAA clients such as Gramine's compare exactly), and a mismatch is an
//! exit status rather than a line nobody reads.

mod http;
mod report;

use std::time::Duration;

use attesto_jose::{Algorithm, Certificate, Error as JoseError, Jwks, Jws, Unsecured};
use rustls_pki_types::UnixTime;
use serde_json::{Map, Value};

use crate::sample::EnclaveInfo;
use crate::signing_cert_quote::{self, CertQuote, CheckOptions};

pub use http::{Client, ClientOptions, MAX_RESPONSE_BYTES};
pub use report::{Detail, Line, Report, Section};

/// The API version the sample's SDK sends.
pub const DEFAULT_API_VERSION: &str = "2020-10-01";
/// Clock skew tolerated on `exp` and `nbf`.
pub const DEFAULT_SLACK: Duration = Duration::from_secs(60);

/// Title of the token section, as the sample prints it.
pub const BASICS_TITLE: &str = "VALIDATING MAA JWT TOKEN - BASICS";
/// Title of the signing-certificate quote section (validatequotes.net).
pub const CERT_QUOTE_TITLE: &str =
    "VALIDATING MAA JWT TOKEN - MAA EMBEDDED QUOTE IN SIGNING CERTIFICATE FOR JWT";
/// Title of the comparison section.
pub const MATCHES_TITLE: &str = "VALIDATING MAA JWT TOKEN - MATCHES CLIENT ENCLAVE INFO";

/// Failures that stop validation before there is a token to judge: exit status 3.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// The endpoint is not a usable base URL.
    #[error("endpoint {given:?}: {reason}")]
    Endpoint {
        /// What was given.
        given: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// The HTTP client could not be built (a bad CA certificate).
    #[error("HTTP client: {reason}")]
    Client {
        /// What failed.
        reason: String,
    },
    /// The service could not be reached or the exchange broke off.
    #[error("{url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// The transport error, with its causes.
        reason: String,
    },
    /// The service answered with an error status.
    #[error("{url} answered {status}: {message}")]
    Service {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// MAA's `error.code`, if the body had one.
        code: Option<String>,
        /// MAA's `error.message`, or the start of the body.
        message: String,
    },
    /// The service's answer is not what the API defines.
    #[error("{url}: unexpected answer: {reason}")]
    Response {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// A service base URL: `https://<instance>` without a trailing `/`, the value tokens must
/// carry as `iss`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(String);

impl Endpoint {
    /// Accepts a URL (`https://attest.example:8443`, one trailing `/` dropped) or, like the
    /// sample, a bare DNS name (`sharedcus.cus.attest.azure.net` becomes `https://…`).
    ///
    /// # Errors
    /// [`ValidateError::Endpoint`] for an empty value, whitespace, another scheme, a query or a
    /// fragment.
    pub fn parse(given: &str) -> Result<Self, ValidateError> {
        let fail = |reason| ValidateError::Endpoint {
            given: given.to_owned(),
            reason,
        };
        if given.is_empty() {
            return Err(fail("empty"));
        }
        if given.chars().any(char::is_whitespace) {
            return Err(fail("contains whitespace"));
        }
        if given.contains(['?', '#']) {
            return Err(fail("a base URL has no query or fragment"));
        }
        let url = match given.split_once("://") {
            Some(("https" | "http", rest)) if !rest.is_empty() => given.to_owned(),
            Some(_) => return Err(fail("only https:// and http:// URLs are supported")),
            None => format!("https://{given}"),
        };
        let url = url.strip_suffix('/').unwrap_or(&url).to_owned();
        if url.ends_with("://") {
            return Err(fail("no host"));
        }
        Ok(Self(url))
    }

    /// The base URL.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<endpoint>/certs`: where the signing keys are, and the `jku` tokens must carry.
    #[must_use]
    pub fn certs_url(&self) -> String {
        format!("{}/certs", self.0)
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The attest request body for a file: `{"quote"|"report": b64url, "runtimeData": {"data":
/// b64url(EHD), "dataType": "Binary"}}`, what the sample's SDK sends.
#[must_use]
pub fn request_body(info: &EnclaveInfo) -> String {
    let mut body = Map::new();
    body.insert(
        info.variant().evidence_member().to_owned(),
        Value::String(attesto_jose::base64url::encode(&info.quote)),
    );
    if !info.enclave_held_data.is_empty() {
        body.insert(
            "runtimeData".to_owned(),
            serde_json::json!({
                "data": attesto_jose::base64url::encode(&info.enclave_held_data),
                "dataType": "Binary",
            }),
        );
    }
    Value::Object(body).to_string()
}

/// Whether the file's quote binds its enclave held data (SHA-256 in `report_data[0..32]`).
/// A service refuses held data the quote does not bind, so without this check a file whose
/// held data was changed could only be reported as a service error.
#[must_use]
pub fn quote_binds_enclave_held_data(info: &EnclaveInfo) -> bool {
    info.sgx_quote()
        .ok()
        .and_then(|quote| attesto_quote::Quote::parse(quote).ok())
        .is_some_and(|quote| {
            quote.body.report_data()[..32]
                == crate::sample::report_data_for(&info.enclave_held_data)[..32]
        })
}

/// The exit status of a validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Every check is true.
    AllTrue,
    /// The token is valid but a claim differs from the file.
    Mismatch,
    /// The token (or the signing certificate's quote, when checked) is not valid.
    TokenInvalid,
}

impl Status {
    /// 0, 1 or 2 (transport and service errors are 3).
    #[must_use]
    pub fn exit_code(self) -> u8 {
        match self {
            Self::AllTrue => 0,
            Self::Mismatch => 1,
            Self::TokenInvalid => 2,
        }
    }
}

/// The token checks of the basics section.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenVerdict {
    /// One line per check, in the sample's order.
    pub lines: Vec<Line>,
    /// Whether every check passed.
    pub valid: bool,
    /// The first failure, in words.
    pub problem: Option<String>,
    /// The claims, when the token parsed.
    pub claims: Option<Map<String, Value>>,
    /// DER of the signing certificate (`x5c[0]` of the `kid`'s key), when found.
    pub signer_der: Option<Vec<u8>>,
}

/// Checks a token the way MAA relying parties must: `jku` is `<endpoint>/certs`; the header
/// names a `kid` present in `jwks`; the signature is RS256 and verifies with that key's
/// `x5c[0]`; `exp` (required) and `nbf` hold at `now` give or take `slack`; `iss` equals the
/// endpoint exactly; the signing certificate's issuer is `CN=<iss>`.
#[must_use]
pub fn check_token(
    token: &str,
    jwks: &Jwks,
    endpoint: &Endpoint,
    now: UnixTime,
    slack: Duration,
) -> TokenVerdict {
    let mut verdict = TokenVerdict {
        lines: Vec::new(),
        valid: true,
        problem: None,
        claims: None,
        signer_der: None,
    };
    let jws = match Jws::parse(token) {
        Ok(jws) => jws,
        Err(error) => {
            verdict.fail(
                Line::check("JWT signature validation", false),
                error.to_string(),
            );
            return verdict;
        }
    };
    let header = jws.header();
    let certs_url = endpoint.certs_url();

    // JKU: where the signing keys must come from.
    let jku = header.jku.as_deref();
    let jku_ok = jku == Some(certs_url.as_str());
    let line = Line::check("JWT JKU location validation", jku_ok).detail(
        "    JWT JKU header value           : ",
        jku.unwrap_or("(none)"),
    );
    if jku_ok {
        verdict.lines.push(line);
    } else {
        verdict.fail(line, format!("jku is {jku:?}, expected {certs_url:?}"));
    }

    // Signature and lifetime.
    let kid = header.kid.clone();
    let jwk = kid.as_deref().and_then(|kid| jwks.find(kid));
    let signature = if header.alg != Algorithm::Rs256 {
        Err(format!("alg is {:?}; MAA tokens are RS256", header.alg))
    } else if kid.is_none() {
        Err("the token header has no kid".to_owned())
    } else if jwk.is_none() {
        Err(format!(
            "no key in {certs_url} has kid {:?}",
            kid.as_deref().unwrap_or_default()
        ))
    } else {
        let options = attesto_jose::ValidationOptions {
            now,
            slack,
            expected_issuer: None,
            expected_jku: None,
            unsecured: Unsecured::Reject,
        };
        match attesto_jose::validate(token, jwks, &options) {
            Ok(_) => Ok(Ok(())),
            // Times are checked only after the signature verified.
            Err(
                error @ (JoseError::Expired { .. }
                | JoseError::NotYetValid { .. }
                | JoseError::MissingClaim { claim: "exp" }
                | JoseError::ClaimType { .. }),
            ) => Ok(Err(error.to_string())),
            Err(error) => Err(error.to_string()),
        }
    };
    let kid_text = kid.as_deref().unwrap_or("(none)");
    match signature {
        Ok(lifetime) => {
            verdict.lines.push(
                Line::check("JWT signature validation", true)
                    .detail("    Signing key id (kid)           : ", kid_text),
            );
            let line = Line::check("JWT lifetime validation", lifetime.is_ok());
            match lifetime {
                Ok(()) => verdict.lines.push(line),
                Err(reason) => verdict.fail(line, reason),
            }
        }
        Err(reason) => {
            verdict.fail(
                Line::check("JWT signature validation", false)
                    .detail("    Signing key id (kid)           : ", kid_text),
                reason,
            );
            verdict.fail(
                Line::check("JWT lifetime validation", false),
                "not checked: the signature did not verify".to_owned(),
            );
        }
    }

    let claims: Option<Map<String, Value>> = jws.payload_json().ok();
    let iss = claims
        .as_ref()
        .and_then(|c| c.get("iss"))
        .and_then(Value::as_str)
        .map(str::to_owned);

    // Issuer: exactly the endpoint the token was requested from.
    let iss_ok = iss.as_deref() == Some(endpoint.as_str());
    let line = Line::check("JWT issuer claim validation", iss_ok).detail(
        "    JWT Issuer claim value         : ",
        iss.as_deref().unwrap_or("(none)"),
    );
    if iss_ok {
        verdict.lines.push(line);
    } else {
        verdict.fail(
            line,
            format!("iss is {iss:?}, expected {:?}", endpoint.as_str()),
        );
    }

    // The signing certificate was issued by (is, for MAA: self-signed as) the issuer.
    let signer_der = jwk
        .and_then(|k| k.certificate_ders().ok())
        .and_then(|ders| ders.into_iter().next());
    let cert_issuer = signer_der
        .as_deref()
        .and_then(|der| Certificate::from_der(der).ok())
        .map(|cert| cert.issuer().to_owned());
    let cert_ok = match (&cert_issuer, &iss) {
        (Some(found), Some(iss)) => found.eq_ignore_ascii_case(&format!("CN={iss}")),
        _ => false,
    };
    let line = Line::check("JWT signing cert issuer validation", cert_ok).detail(
        "    Signing certificate issuer     : ",
        cert_issuer.as_deref().unwrap_or("(no certificate)"),
    );
    if cert_ok {
        verdict.lines.push(line);
    } else {
        verdict.fail(
            line,
            format!("the signing certificate's issuer is {cert_issuer:?}, expected \"CN=<iss>\""),
        );
    }

    verdict.claims = claims;
    verdict.signer_der = signer_der;
    verdict
}

impl TokenVerdict {
    fn fail(&mut self, line: Line, reason: String) {
        self.lines.push(line);
        self.valid = false;
        self.problem.get_or_insert(reason);
    }
}

/// The claim under its current name, or the deprecated one older services and clients use.
fn claim<'c>(claims: &'c Map<String, Value>, name: &str, deprecated: &str) -> Option<&'c Value> {
    claims.get(name).or_else(|| claims.get(deprecated))
}

/// How the sample prints a claim value: booleans as `True`/`False`, strings bare.
fn shown(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".to_owned(),
        Some(Value::Bool(b)) => dotnet_bool(*b).to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

fn dotnet_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

const WE_THINK: &str = "    We think   : ";
const SERVICE_SAYS: &str = "    MAA service: ";

/// Compares the token's claims with the file, the sample's six lines.
#[must_use]
pub fn compare(info: &EnclaveInfo, claims: &Map<String, Value>) -> Vec<Line> {
    let mut lines = Vec::with_capacity(6);

    let ours = info.is_debuggable();
    let theirs = claim(claims, "x-ms-sgx-is-debuggable", "is-debuggable");
    lines.push(
        Line::check(
            "IsDebuggable match",
            theirs.and_then(Value::as_bool) == Some(ours),
        )
        .detail(WE_THINK, dotnet_bool(ours))
        .detail(SERVICE_SAYS, shown(theirs)),
    );

    // Lowercase and case-sensitive, as the sample compares it: services must emit lowercase.
    let ours = hex::encode(info.mr_enclave);
    let theirs = claim(claims, "x-ms-sgx-mrenclave", "sgx-mrenclave");
    lines.push(
        Line::check(
            "MRENCLAVE match",
            theirs.and_then(Value::as_str) == Some(ours.as_str()),
        )
        .detail(WE_THINK, &ours)
        .detail(SERVICE_SAYS, shown(theirs)),
    );

    let ours = hex::encode(info.mr_signer);
    let theirs = claim(claims, "x-ms-sgx-mrsigner", "sgx-mrsigner");
    let same = theirs
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case(&ours));
    lines.push(
        Line::check("MRSIGNER match", same)
            .detail(WE_THINK, &ours)
            .detail(SERVICE_SAYS, shown(theirs)),
    );

    let ours = info.product_id_u64();
    let theirs = claim(claims, "x-ms-sgx-product-id", "product-id");
    lines.push(
        Line::check(
            "ProductID match",
            theirs.and_then(Value::as_u64) == Some(ours),
        )
        .detail(WE_THINK, ours.to_string())
        .detail(SERVICE_SAYS, shown(theirs)),
    );

    let ours = u64::from(info.security_version);
    let theirs = claim(claims, "x-ms-sgx-svn", "svn");
    lines.push(
        Line::check(
            "Security Version match",
            theirs.and_then(Value::as_u64) == Some(ours),
        )
        .detail(WE_THINK, ours.to_string())
        .detail(SERVICE_SAYS, shown(theirs)),
    );

    let theirs = claim(claims, "x-ms-sgx-ehd", "maa-ehd")
        .and_then(Value::as_str)
        .and_then(|text| attesto_jose::base64url::decode(text).ok());
    lines.push(
        Line::check(
            "Enclave Held Data match",
            theirs.as_deref() == Some(info.enclave_held_data.as_slice()),
        )
        .wrapped_detail(
            WE_THINK,
            attesto_jose::base64url::encode_std(&info.enclave_held_data),
        )
        .wrapped_detail(
            SERVICE_SAYS,
            theirs.map_or_else(
                || "(absent)".to_owned(),
                |bytes| attesto_jose::base64url::encode_std(&bytes),
            ),
        ),
    );
    lines
}

/// The service's quote in its signing certificate: the lines of that section and whether it
/// passed. Absent is a failure: the caller asked for the check.
#[must_use]
pub fn cert_quote_lines(signer_der: &[u8], options: &CheckOptions<'_>) -> (Vec<Line>, bool) {
    const LABEL: &str = "Signing cert quote validation";
    match signing_cert_quote::check(signer_der, options) {
        Ok(CertQuote::Verified(verified)) => {
            let mut line = Line::check(LABEL, true);
            if let Some(body) = verified.report.as_sgx() {
                let mut product_id = [0u8; 16];
                product_id[..2].copy_from_slice(&body.isvprodid.to_le_bytes());
                line = line
                    .detail(
                        "    Security Version               : ",
                        body.isvsvn.to_string(),
                    )
                    .detail(
                        "    Product ID                     : ",
                        hex::encode_upper(product_id),
                    )
                    .detail(
                        "    Signer ID                      : ",
                        hex::encode_upper(body.mrsigner),
                    )
                    .detail(
                        "    Enclave ID                     : ",
                        hex::encode_upper(body.mrenclave),
                    );
            }
            if let Some(status) = verified.tcb_status {
                line = line.detail("    TCB status                     : ", status.to_string());
            }
            (vec![line], true)
        }
        Ok(CertQuote::Absent { subject }) => (
            vec![
                Line::note(format!(
                    "Could not find Attestation Quote Extension in certificate: {subject}"
                )),
                Line::check(LABEL, false),
            ],
            false,
        ),
        Err(error) => (
            vec![Line::note(error.to_string()), Line::check(LABEL, false)],
            false,
        ),
    }
}

/// What [`judge`] concluded.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The report to print.
    pub report: Report,
    /// The exit status.
    pub status: Status,
    /// Whether the token passed every basic check (only then is it worth saving).
    pub token_valid: bool,
    /// The first reason the token or the certificate quote failed.
    pub problem: Option<String>,
}

/// Judges a token returned for `info`: the basics, optionally the signing certificate's quote,
/// then the comparison with the file.
#[must_use]
pub fn judge(
    info: &EnclaveInfo,
    token: &str,
    jwks: &Jwks,
    endpoint: &Endpoint,
    now: UnixTime,
    slack: Duration,
    cert_quote: Option<&CheckOptions<'_>>,
) -> Outcome {
    let verdict = check_token(token, jwks, endpoint, now, slack);
    let mut report = Report::default();
    report
        .sections
        .push(Section::new(BASICS_TITLE, verdict.lines));
    let (Some(claims), true) = (verdict.claims, verdict.valid) else {
        return Outcome {
            report,
            status: Status::TokenInvalid,
            token_valid: false,
            problem: verdict.problem,
        };
    };
    let mut status = Status::AllTrue;
    let mut problem = None;
    if let Some(options) = cert_quote {
        let (lines, passed) = match &verdict.signer_der {
            Some(der) => cert_quote_lines(der, options),
            None => (Vec::new(), false),
        };
        if !passed {
            status = Status::TokenInvalid;
            problem = Some("the signing certificate's quote check failed".to_owned());
        }
        report.sections.push(Section::new(CERT_QUOTE_TITLE, lines));
    }
    let lines = compare(info, &claims);
    if status == Status::AllTrue && lines.iter().any(|l| l.passed() == Some(false)) {
        status = Status::Mismatch;
    }
    let mut section = Section::new(MATCHES_TITLE, lines);
    section.trailing_blank = true;
    report.sections.push(section);
    Outcome {
        report,
        status,
        token_valid: true,
        problem,
    }
}

/// Options of [`run`].
#[derive(Debug, Clone, Copy)]
pub struct RunOptions<'a> {
    /// `api-version` of the attest call.
    pub api_version: &'a str,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub slack: Duration,
    /// The validation time.
    pub now: UnixTime,
    /// Whether and how to check the signing certificate's quote.
    pub cert_quote: Option<CheckOptions<'a>>,
}

/// Attests `info` at the client's endpoint, fetches the signing keys and judges the token.
/// Returns the outcome and the token.
///
/// # Errors
/// [`ValidateError`] for transport and service failures (exit status 3).
pub async fn run(
    client: &Client,
    info: &EnclaveInfo,
    options: &RunOptions<'_>,
) -> Result<(Outcome, String), ValidateError> {
    let token = if quote_binds_enclave_held_data(info) {
        client.attest(info, options.api_version).await?
    } else {
        // The quote does not vouch for this held data: attest the quote alone. The token then
        // carries no held data, and the report shows that line False (exit 1).
        let mut quote_only = info.clone();
        quote_only.enclave_held_data.clear();
        client.attest(&quote_only, options.api_version).await?
    };
    let jwks = client.signing_keys().await?;
    let outcome = judge(
        info,
        &token,
        &jwks,
        client.endpoint(),
        options.now,
        options.slack,
        options.cert_quote.as_ref(),
    );
    Ok((outcome, token))
}

/// Judges a token obtained earlier (saved by a previous run, or handed over by the party being
/// attested) against the endpoint's signing keys as they are now. A service whose key changed
/// since the token was issued no longer vouches for it.
///
/// # Errors
/// [`ValidateError`] if the keys cannot be fetched.
pub async fn recheck(
    client: &Client,
    info: &EnclaveInfo,
    token: &str,
    options: &RunOptions<'_>,
) -> Result<Outcome, ValidateError> {
    let jwks = client.signing_keys().await?;
    Ok(judge(
        info,
        token,
        &jwks,
        client.endpoint(),
        options.now,
        options.slack,
        options.cert_quote.as_ref(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_normalize_like_the_sample() -> Result<(), ValidateError> {
        assert_eq!(
            Endpoint::parse("sharedcus.cus.attest.azure.net")?.as_str(),
            "https://sharedcus.cus.attest.azure.net"
        );
        assert_eq!(
            Endpoint::parse("https://localhost:8443/")?.certs_url(),
            "https://localhost:8443/certs"
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:80")?.as_str(),
            "http://[::1]:80"
        );
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https://a b",
            "https://x/?q=1",
            "x#y",
        ] {
            assert!(Endpoint::parse(bad).is_err(), "{bad:?}");
        }
        Ok(())
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Status::AllTrue.exit_code(), 0);
        assert_eq!(Status::Mismatch.exit_code(), 1);
        assert_eq!(Status::TokenInvalid.exit_code(), 2);
    }
}
