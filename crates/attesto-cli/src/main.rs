//! `attesto`: a self-hostable attestation service speaking the Microsoft Azure Attestation protocol,
//! and the tools around it. This binary only parses flags and wires the library crates together.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

#[derive(Parser)]
#[command(name = "attesto", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Inspect and verify Intel SGX/TDX DCAP quotes.
    #[command(subcommand)]
    Quote(cmd::quote::QuoteCommand),
    /// Check and evaluate MAA attestation policies.
    #[command(subcommand)]
    Policy(cmd::policy::PolicyCommand),
    /// Import and list cached DCAP collateral (offline bundles).
    #[command(subcommand)]
    Collateral(cmd::collateral::CollateralCommand),
    /// Create, list, show and delete attestation providers; rotate their signing keys
    /// (data directory; server stopped).
    #[command(subcommand)]
    Provider(cmd::provider::ProviderCommand),
    /// Show the audit log of policy, signer, provider and key changes (server stopped).
    Audit(cmd::audit::AuditArgs),
    /// Manage the key-encryption key that protects a data directory (server stopped).
    #[command(subcommand)]
    Kek(cmd::kek::KekCommand),
    /// Run the attestation service (HTTPS on 127.0.0.1:8443 by default).
    Serve(cmd::serve::ServeArgs),
    /// Replay TPM measurement logs; attest a TPM with MAA's TPM protocol.
    #[command(subcommand)]
    Tpm(cmd::tpm::TpmCommand),
    /// Get a quote (real TEE or --simulate) and write the MAA sample's enclave-info file.
    Genquote(Box<cmd::genquote::GenquoteArgs>),
    /// Attest an enclave-info file, check the token and compare its claims with the file.
    /// Exit 0 all true, 1 mismatch, 2 token invalid, 3 service unreachable or error, 4 bad
    /// input file.
    Validate(cmd::validate::ValidateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quote(command) => cmd::quote::run(command),
        Command::Policy(command) => cmd::policy::run(command),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Tpm(command) => cmd::tpm::run(command),
        Command::Genquote(args) => cmd::genquote::run(*args),
        Command::Validate(args) => cmd::validate::run(args),
        Command::Collateral(command) => cmd::collateral::run(command).map(|()| ExitCode::SUCCESS),
        Command::Provider(command) => cmd::provider::run(command).map(|()| ExitCode::SUCCESS),
        Command::Audit(args) => cmd::audit::run(args).map(|()| ExitCode::SUCCESS),
        Command::Kek(command) => cmd::kek::run(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("attesto: {error:#}");
            ExitCode::from(2)
        }
    }
}
