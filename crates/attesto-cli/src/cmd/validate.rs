//! `attesto validate`: what the MAA sample's `validatequotes` does. Send an enclave-info file's
//! evidence to an attestation service (attesto or Azure's), check the token, compare its
//! claims with the file and print the sample's report.
//!
//! Exit status: 0 every line True, 1 a claim differs from the file, 2 the token (or, when
//! asked, the signing certificate's quote) is not valid, 3 the service could not be reached or
//! answered an error, 4 the file or a flag's file is unusable. The sample exits 0 on
//! mismatches; scripts need to know.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result};
use attesto_client::sample::EnclaveInfo;
use attesto_client::signing_cert_quote::CheckOptions;
use attesto_client::validate::{
    self, Client, ClientOptions, DEFAULT_API_VERSION, DEFAULT_SLACK, Endpoint, Line, Report,
    RunOptions, Section, Status,
};
use attesto_quote::{Collateral, TrustAnchors};
use clap::Args;
use rustls_pki_types::UnixTime;
use rustls_pki_types::pem::PemObject as _;

/// Exit status for transport and service failures.
const EXIT_SERVICE: u8 = 3;
/// Exit status for unusable local input.
const EXIT_INPUT: u8 = 4;

/// `attesto validate` flags.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Enclave-info file, written by `attesto genquote` or the MAA sample's genquote_host.
    file: PathBuf,
    /// The attestation service: a URL (https://localhost:8443) or, as in the sample, a DNS name.
    /// Tokens must name exactly this URL as issuer.
    #[arg(long, value_name = "URL")]
    endpoint: String,
    /// Print what was compared under each line ("We think" / "MAA service").
    #[arg(long)]
    include_details: bool,
    /// `api-version` of the attest call.
    #[arg(long, value_name = "V", default_value = DEFAULT_API_VERSION)]
    api_version: String,
    /// Trust only these CA certificates (PEM) for TLS, e.g. a self-hosted attesto's
    /// `<data-dir>/tls/ca.pem`. Default: the system's roots.
    #[arg(long, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Where to save the token when it is valid.
    #[arg(long, value_name = "FILE", default_value = "maa-jwt-token.txt")]
    token_out: PathBuf,
    /// Check this saved token against the service's current keys instead of attesting the
    /// file's evidence again (the comparison with the file is made as usual).
    #[arg(long, value_name = "FILE")]
    token: Option<PathBuf>,
    /// Also verify the SGX quote the service's signing certificate carries about itself
    /// (validatequotes.net's extra check). A certificate without one fails (exit 2).
    #[arg(long)]
    check_signing_cert_quote: bool,
    /// Accept this root certificate (PEM or DER) for the signing certificate's quote, in
    /// addition to Intel's: a simulated TEE's test root.
    #[arg(long, value_name = "FILE", requires = "check_signing_cert_quote")]
    trust_test_root: Option<PathBuf>,
    /// Collateral (JSON) for the signing certificate's quote, to verify it completely (CRLs,
    /// TCB status); without it the PCK chain and signatures are verified.
    #[arg(long, value_name = "FILE", requires = "check_signing_cert_quote")]
    signing_cert_collateral: Option<PathBuf>,
    /// Time limit of each request, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 30)]
    timeout: u64,
}

/// Why validation stopped before judging a token.
enum Failure {
    /// The file or a flag's file is unusable: exit 4.
    Input(anyhow::Error),
    /// Transport or service failure: exit 3.
    Service(validate::ValidateError),
}

/// Validates the file; the exit status says how it went (see the module docs).
///
/// # Errors
/// None: every failure is reported on stderr and mapped to its exit status.
pub fn run(args: ValidateArgs) -> Result<ExitCode> {
    Ok(match validate_file(&args) {
        Ok(code) => code,
        Err(Failure::Input(error)) => {
            eprintln!("attesto: {error:#}");
            ExitCode::from(EXIT_INPUT)
        }
        Err(Failure::Service(error)) => {
            eprintln!("attesto: {error}");
            ExitCode::from(EXIT_SERVICE)
        }
    })
}

fn validate_file(args: &ValidateArgs) -> Result<ExitCode, Failure> {
    let info = read_info(&args.file).map_err(Failure::Input)?;
    let saved_token = args
        .token
        .as_deref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_owned())
                .with_context(|| format!("reading {}", path.display()))
        })
        .transpose()
        .map_err(Failure::Input)?;
    let endpoint =
        Endpoint::parse(&args.endpoint).map_err(|e| Failure::Input(anyhow::Error::new(e)))?;
    let ca_pem = args
        .ca_file
        .as_deref()
        .map(|path| std::fs::read(path).with_context(|| format!("reading {}", path.display())))
        .transpose()
        .map_err(Failure::Input)?;
    let anchors = match &args.trust_test_root {
        Some(path) => {
            let der = read_certificate(path).map_err(Failure::Input)?;
            TrustAnchors::intel()
                .with_root(&der)
                .with_context(|| format!("{} is not a usable quote root", path.display()))
                .map_err(Failure::Input)?
        }
        None => TrustAnchors::intel(),
    };
    let collateral = args
        .signing_cert_collateral
        .as_deref()
        .map(|path| -> Result<Collateral> {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Collateral::from_json(&text).with_context(|| format!("{}", path.display()))
        })
        .transpose()
        .map_err(Failure::Input)?;

    let client = Client::new(
        endpoint.clone(),
        &ClientOptions {
            ca_pem,
            timeout: Duration::from_secs(args.timeout),
        },
    )
    .map_err(|e| Failure::Input(anyhow::Error::new(e)))?;
    let now = UnixTime::now();
    let options = RunOptions {
        api_version: &args.api_version,
        slack: DEFAULT_SLACK,
        now,
        cert_quote: args.check_signing_cert_quote.then_some(CheckOptions {
            anchors: &anchors,
            collateral: collateral.as_ref(),
            time: now,
        }),
    };

    print!("{}", parameters(args, &endpoint).render(false));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .map_err(Failure::Input)?;
    let (outcome, token) = match saved_token {
        Some(token) => {
            let outcome = runtime
                .block_on(validate::recheck(&client, &info, &token, &options))
                .map_err(Failure::Service)?;
            (outcome, None)
        }
        None => {
            let (outcome, token) = runtime
                .block_on(validate::run(&client, &info, &options))
                .map_err(Failure::Service)?;
            (outcome, Some(token))
        }
    };
    print!("{}", outcome.report.render(args.include_details));

    if let Some(token) = token.filter(|_| outcome.token_valid) {
        std::fs::write(&args.token_out, &token)
            .with_context(|| format!("saving the token to {}", args.token_out.display()))
            .map_err(Failure::Input)?;
        eprintln!("attesto: token saved to {}", args.token_out.display());
    }
    if let Some(problem) = &outcome.problem {
        eprintln!("attesto: {problem}");
    }
    match outcome.status {
        Status::AllTrue => {}
        Status::Mismatch => eprintln!("attesto: the token's claims differ from the file"),
        Status::TokenInvalid => eprintln!("attesto: the token is not valid"),
    }
    Ok(ExitCode::from(outcome.status.exit_code()))
}

fn read_info(path: &Path) -> Result<EnclaveInfo> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    EnclaveInfo::parse(&text).with_context(|| format!("{}", path.display()))
}

/// A certificate file, PEM or DER.
fn read_certificate(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"-----BEGIN") {
        let cert = rustls_pki_types::CertificateDer::from_pem_slice(&bytes)
            .with_context(|| format!("{} is not a PEM certificate", path.display()))?;
        Ok(cert.as_ref().to_vec())
    } else {
        Ok(bytes)
    }
}

/// The sample's first banner.
fn parameters(args: &ValidateArgs, endpoint: &Endpoint) -> Report {
    let line = |label: &str, value: &str| Line::note(format!("{label:<35}: {value}"));
    Report {
        sections: vec![Section::new(
            "PARAMETERS FOR THIS RUN",
            vec![
                line("Validating filename", &args.file.display().to_string()),
                line("Using attestation provider", endpoint.as_str()),
                line(
                    "Including details",
                    if args.include_details {
                        "True"
                    } else {
                        "False"
                    },
                ),
            ],
        )],
    }
}
