//! One module per subcommand group. Each exposes a clap `...Command` type and `run`.

pub mod audit;
pub mod collateral;
pub mod genquote;
pub mod kek;
pub mod policy;
pub mod provider;
pub mod quote;
pub mod serve;
pub mod tpm;
pub mod validate;
