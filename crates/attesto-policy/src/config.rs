//! Typed results of `configurationrules` (engine settings for the verifier) and of
//! `issueproperty` in issuance rules (token settings for the token builder).

use crate::claims::Claim;

/// Default of [`Configuration::required_pcr_mask`]: PCRs 0–23 must all be in a TPM quote.
pub const DEFAULT_REQUIRED_PCR_MASK: u32 = 0x00FF_FFFF;

/// Default token lifetime when the policy sets no `report_validity_in_minutes`: one day.
pub const DEFAULT_REPORT_VALIDITY_MINUTES: u32 = 24 * 60;

/// Largest `report_validity_in_minutes`: one year (MAA's documented maximum).
pub const MAX_REPORT_VALIDITY_MINUTES: u32 = 365 * 24 * 60;

/// The SGX TCB baseline a policy selects with `x-ms-sgx-tcbidentifier`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SgxTcbIdentifier {
    /// `azuredefault` (compared ignoring ASCII case): the service's default baseline.
    AzureDefault,
    /// A specific TCB evaluation data number or baseline id such as `"10"`.
    Baseline(String),
}

/// Engine settings from `configurationrules` (policy version 1.1+), with MAA's defaults for
/// anything the policy does not set. The verifier reads these before it checks evidence, which
/// is why configuration rules must be unconditional literals: they are settled at parse time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Configuration {
    /// `require_valid_aik_cert` (TPM): whether the AIK certificate must chain to a trusted root.
    /// Default true.
    pub require_valid_aik_cert: bool,
    /// `required_pcr_mask` (TPM): bit n set = PCR n must be in the quote. Default `0xFFFFFF`.
    pub required_pcr_mask: u32,
    /// `x-ms-sgx-tcbidentifier` (SGX): `None` means the service default (as if no
    /// configuration section existed).
    pub sgx_tcb_identifier: Option<SgxTcbIdentifier>,
}

impl Default for Configuration {
    fn default() -> Configuration {
        Configuration {
            require_valid_aik_cert: true,
            required_pcr_mask: DEFAULT_REQUIRED_PCR_MASK,
            sgx_tcb_identifier: None,
        }
    }
}

/// Known configuration properties.
pub(crate) const CONFIGURATION_PROPERTIES: [&str; 3] = [
    "require_valid_aik_cert",
    "required_pcr_mask",
    "x-ms-sgx-tcbidentifier",
];

/// Token settings set by `issueproperty` in issuance rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenProperties {
    /// `report_validity_in_minutes`, if the policy set it (1 ..= one year).
    pub report_validity_in_minutes: Option<u32>,
    /// `omit_x5c`, if the policy set it: put `x5t` instead of `x5c` in the token header.
    pub omit_x5c: Option<bool>,
    /// Every property claim the policy created, in order, including unknown ones.
    pub all: Vec<Claim>,
}

impl TokenProperties {
    /// The token lifetime to use: the policy's value or [`DEFAULT_REPORT_VALIDITY_MINUTES`].
    #[must_use]
    pub fn validity_minutes(&self) -> u32 {
        self.report_validity_in_minutes
            .unwrap_or(DEFAULT_REPORT_VALIDITY_MINUTES)
    }

    /// Whether to omit `x5c`: the policy's value or false.
    #[must_use]
    pub fn omit_x5c(&self) -> bool {
        self.omit_x5c.unwrap_or(false)
    }
}
