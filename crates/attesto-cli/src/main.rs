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
    /// Run the attestation service (HTTPS on 127.0.0.1:8443 by default).
    Serve(cmd::serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Quote(command) => cmd::quote::run(command),
        Command::Policy(command) => cmd::policy::run(command),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Collateral(command) => cmd::collateral::run(command).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("attesto: {error:#}");
            ExitCode::from(2)
        }
    }
}
