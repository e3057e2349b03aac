"""OpenID metadata and token signing certificates through the SDK."""

import base64
import re

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.x509.oid import NameOID


def test_open_id_metadata(client, endpoint):
    metadata = client.get_open_id_metadata()
    assert metadata["issuer"] == endpoint
    assert metadata["jwks_uri"] == f"{endpoint}/certs"
    assert "RS256" in metadata["id_token_signing_alg_values_supported"]
    for claim in (
        "iss",
        "exp",
        "x-ms-attestation-type",
        "x-ms-policy-hash",
        "x-ms-sgx-mrenclave",
        "x-ms-sgx-mrsigner",
        "x-ms-sgx-ehd",
    ):
        assert claim in metadata["claims_supported"], claim


def test_open_id_metadata_of_an_isolated_provider(isolated_client, isolated_endpoint):
    metadata = isolated_client.get_open_id_metadata()
    assert metadata["issuer"] == isolated_endpoint
    assert metadata["jwks_uri"] == f"{isolated_endpoint}/certs"


def _check_signers(signers, issuer):
    assert signers, "no signing certificates"
    key_ids = [s.key_id for s in signers]
    assert all(key_ids), key_ids
    assert len(set(key_ids)) == len(key_ids), f"duplicate kid: {key_ids}"
    for signer in signers:
        assert signer.certificates, signer.key_id
        # The SDK turned x5c (standard base64 DER) into PEM; it must parse as a certificate.
        cert = x509.load_pem_x509_certificate(signer.certificates[0].encode("ascii"))
        assert isinstance(cert.public_key(), RSAPublicKey), "the SDK verifies RSA only"
        subject_cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        assert subject_cn == issuer
        assert cert.issuer == cert.subject
    return key_ids


def test_signing_certificates(client, endpoint):
    key_ids = _check_signers(client.get_signing_certificates(), endpoint)
    # The kid is opaque to clients; attesto uses MAA's shape (base64 of a SHA-256).
    for kid in key_ids:
        assert re.fullmatch(r"[A-Za-z0-9+/]{43}=", kid), kid
        assert len(base64.b64decode(kid)) == 32


def test_signing_certificates_are_per_provider(client, isolated_client, isolated_endpoint):
    isolated = _check_signers(isolated_client.get_signing_certificates(), isolated_endpoint)
    default = [s.key_id for s in client.get_signing_certificates()]
    assert not set(isolated) & set(default), "providers must not share signing keys"
