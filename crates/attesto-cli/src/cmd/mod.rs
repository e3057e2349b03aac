//! One module per subcommand group. Each exposes a clap `...Command` type and `run`.

pub mod collateral;
pub mod policy;
pub mod quote;
pub mod serve;
