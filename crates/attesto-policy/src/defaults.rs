//! Attestation types and the policies a provider uses until its administrator sets one.

use std::fmt;
use std::str::FromStr;

/// The attestation types of MAA's `/policies/{type}` and `/attest/{type}` paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttestationType {
    /// Intel SGX enclaves (`SgxEnclave`).
    SgxEnclave,
    /// Open Enclave SDK reports (`OpenEnclave`), SGX underneath.
    OpenEnclave,
    /// TPM-based platform attestation (`Tpm`).
    Tpm,
    /// AMD SEV-SNP confidential VMs (`SevSnpVm`).
    SevSnpVm,
    /// Intel TDX confidential VMs (`TdxVm`).
    TdxVm,
}

impl AttestationType {
    /// Every type.
    pub const ALL: [AttestationType; 5] = [
        AttestationType::SgxEnclave,
        AttestationType::OpenEnclave,
        AttestationType::Tpm,
        AttestationType::SevSnpVm,
        AttestationType::TdxVm,
    ];

    /// MAA's spelling.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            AttestationType::SgxEnclave => "SgxEnclave",
            AttestationType::OpenEnclave => "OpenEnclave",
            AttestationType::Tpm => "Tpm",
            AttestationType::SevSnpVm => "SevSnpVm",
            AttestationType::TdxVm => "TdxVm",
        }
    }
}

impl fmt::Display for AttestationType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An attestation type name that MAA does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown attestation type '{0}' (known: SgxEnclave, OpenEnclave, Tpm, SevSnpVm, TdxVm)")]
pub struct UnknownAttestationType(pub String);

impl FromStr for AttestationType {
    type Err = UnknownAttestationType;

    /// Case-insensitive, as MAA's REST paths are.
    fn from_str(name: &str) -> Result<AttestationType, UnknownAttestationType> {
        AttestationType::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| UnknownAttestationType(name.to_owned()))
    }
}

/// The SGX default exactly as the real service used it: its `x-ms-policy-hash`
/// (`bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw`) is the one a recorded MAA token carries
/// (fixture `sgx-default-v1.0-xms-service.txt`). The current docs show a 1.1 variant with an
/// `azuredefault` TCB configuration rule, which has the same effect (no configuration means the
/// Azure default TCB), so the byte-exact service text wins.
const SGX_DEFAULT: &str = "version= 1.0;authorizationrules{=> permit();};issuancerules{c:[type==\"x-ms-sgx-is-debuggable\"] => issue(type=\"is-debuggable\", value=c.value);c:[type==\"x-ms-sgx-mrsigner\"] => issue(type=\"sgx-mrsigner\", value=c.value);c:[type==\"x-ms-sgx-mrenclave\"] => issue(type=\"sgx-mrenclave\", value=c.value);c:[type==\"x-ms-sgx-product-id\"] => issue(type=\"product-id\", value=c.value);c:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn\", value=c.value);c:[type==\"x-ms-attestation-type\"] => issue(type=\"tee\", value=c.value);};";

/// Permit everything, issue nothing beyond what the service adds itself. MAA documents no default
/// text for these types; the service adds the type's evidence claims (`x-ms-sevsnpvm-*`,
/// `x-ms-tdx-*`, TPM claims) to every token regardless of policy, so a default that only permits
/// is the least surprising, in MAA's compact style.
const PERMIT_ALL: &str = "version= 1.0;authorizationrules{=> permit();};issuancerules{};";

/// The default policy text for an attestation type.
#[must_use]
pub const fn default_policy(kind: AttestationType) -> &'static str {
    match kind {
        // OpenEnclave reports are SGX reports with the same claims.
        AttestationType::SgxEnclave | AttestationType::OpenEnclave => SGX_DEFAULT,
        AttestationType::Tpm | AttestationType::SevSnpVm | AttestationType::TdxVm => PERMIT_ALL,
    }
}
