"""Fixtures for the Azure Attestation SDK compatibility suite.

tests/compat/run.sh starts `attesto serve` and passes everything in the environment:

- COMPAT_ENDPOINT: the server's base URL (the default provider's attest URI, https)
- COMPAT_ADMIN_TOKEN: the admin token the server printed at first start
- COMPAT_ISOLATED: name of a provider created with the isolated trust model
- COMPAT_EVIDENCE: directory with the simulated enclaves' files (genquote's format)
- COMPAT_SIGNERS: directory with policy signer keys/certificates (make_signers.py)
- COMPAT_BIN: the attesto binary (to print default policies)
- REQUESTS_CA_BUNDLE: the server's generated TLS CA

Every client keeps the SDK's token validation on (signature, expiry, not-before) and adds the
issuer check, so each call also proves the server's tokens verify the way MAA's do.
"""

import json
import os
import pathlib
import subprocess
import time
from dataclasses import dataclass

import pytest
from azure.core.credentials import AccessToken
from azure.security.attestation import (
    AttestationAdministrationClient,
    AttestationClient,
    AttestationType,
)


class StaticTokenCredential:
    """A TokenCredential that always hands out one bearer token: what a self-hosted deployment
    without Azure AD needs (the SDK insists on a credential and sends it on every call)."""

    def __init__(self, token: str):
        self._token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self._token, int(time.time()) + 3600)


def _env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the suite through tests/compat/run.sh", returncode=4)
    return value


@dataclass(frozen=True)
class Signer:
    """A policy signer: PEM key and certificate, as the SDK takes them."""

    key_pem: str
    cert_pem: str


@dataclass(frozen=True)
class Enclave:
    """One simulated enclave file (the MAA sample's enclave-info format)."""

    evidence: bytes
    held_data: bytes
    mr_enclave: str
    mr_signer: str
    product_id: int
    svn: int

    @classmethod
    def load(cls, path: pathlib.Path) -> "Enclave":
        info = json.loads(path.read_text())
        return cls(
            evidence=bytes.fromhex(info["QuoteHex"]),
            held_data=bytes.fromhex(info["EnclaveHeldDataHex"]),
            mr_enclave=info["MrEnclaveHex"].lower(),
            mr_signer=info["MrSignerHex"].lower(),
            # ISVPRODID little-endian, zero-padded to 16 bytes.
            product_id=int.from_bytes(bytes.fromhex(info["ProductIdHex"]), "little"),
            svn=int(info["SecurityVersion"]),
        )


@pytest.fixture(scope="session")
def endpoint() -> str:
    return _env("COMPAT_ENDPOINT").rstrip("/")


@pytest.fixture(scope="session")
def isolated_endpoint(endpoint) -> str:
    return f"{endpoint}/providers/{_env('COMPAT_ISOLATED')}"


@pytest.fixture(scope="session")
def admin_credential() -> StaticTokenCredential:
    return StaticTokenCredential(_env("COMPAT_ADMIN_TOKEN"))


@pytest.fixture(scope="session")
def wrong_credential() -> StaticTokenCredential:
    # Well-formed (right prefix and length) but not the server's token.
    return StaticTokenCredential("attesto-admin-" + "A" * 43)


def _validation(issuer: str) -> dict:
    return {
        "validate_token": True,
        "validate_signature": True,
        "validate_expiration": True,
        "validate_not_before": True,
        "validate_issuer": True,
        "issuer": issuer,
    }


@pytest.fixture(scope="session")
def relying_party_credential() -> StaticTokenCredential:
    """Attest and metadata calls need no credential, but the SDK sends one anyway."""
    return StaticTokenCredential("not-an-administrator")


@pytest.fixture(scope="session")
def client(endpoint, relying_party_credential) -> AttestationClient:
    return AttestationClient(endpoint, relying_party_credential, **_validation(endpoint))


@pytest.fixture(scope="session")
def isolated_client(isolated_endpoint, relying_party_credential) -> AttestationClient:
    return AttestationClient(
        isolated_endpoint, relying_party_credential, **_validation(isolated_endpoint)
    )


@pytest.fixture(scope="session")
def admin(endpoint, admin_credential) -> AttestationAdministrationClient:
    return AttestationAdministrationClient(endpoint, admin_credential, **_validation(endpoint))


@pytest.fixture(scope="session")
def isolated_admin(isolated_endpoint, admin_credential) -> AttestationAdministrationClient:
    return AttestationAdministrationClient(
        isolated_endpoint, admin_credential, **_validation(isolated_endpoint)
    )


@pytest.fixture(scope="session")
def wrong_admin(endpoint, wrong_credential) -> AttestationAdministrationClient:
    return AttestationAdministrationClient(endpoint, wrong_credential, **_validation(endpoint))


@pytest.fixture(scope="session")
def wrong_isolated_admin(isolated_endpoint, wrong_credential) -> AttestationAdministrationClient:
    return AttestationAdministrationClient(
        isolated_endpoint, wrong_credential, **_validation(isolated_endpoint)
    )


def _signer(name: str) -> Signer:
    directory = pathlib.Path(_env("COMPAT_SIGNERS"))
    return Signer(
        key_pem=(directory / f"{name}.key.pem").read_text(),
        cert_pem=(directory / f"{name}.crt.pem").read_text(),
    )


@pytest.fixture(scope="session")
def trusted_signer() -> Signer:
    """The isolated provider was created with this one."""
    return _signer("trusted")


@pytest.fixture(scope="session")
def extra_signer() -> Signer:
    """Added and removed through the SDK."""
    return _signer("extra")


@pytest.fixture(scope="session")
def rogue_signer() -> Signer:
    """Never trusted by any provider."""
    return _signer("rogue")


def _enclave(name: str) -> Enclave:
    return Enclave.load(pathlib.Path(_env("COMPAT_EVIDENCE")) / name)


@pytest.fixture(scope="session")
def sgx_enclave() -> Enclave:
    """SGX quote binding binary enclave-held data."""
    return _enclave("sgx-binary.json")


@pytest.fixture(scope="session")
def sgx_json_enclave() -> Enclave:
    """SGX quote binding a JSON document as enclave-held data."""
    return _enclave("sgx-json.json")


@pytest.fixture(scope="session")
def oe_enclave() -> Enclave:
    """Open Enclave report (16-byte OE header + SGX quote)."""
    return _enclave("oe.json")


@pytest.fixture(scope="session")
def default_policy_text():
    """The server's built-in policy for an attestation type, from the attesto binary itself."""

    def text(kind: AttestationType) -> str:
        out = subprocess.run(
            [_env("COMPAT_BIN"), "policy", "default", str(kind.value)],
            check=True,
            capture_output=True,
            text=True,
        )
        # `policy default` prints the text and one newline.
        return out.stdout[:-1] if out.stdout.endswith("\n") else out.stdout

    return text
