"""Independent re-implementations of what MAA defines, to check the server's answers against.

Nothing here calls the server or reuses attesto code: the hashes follow MAA's documentation,
the JWT decoding is plain base64url + JSON.
"""

import base64
import hashlib
import json

from cryptography import x509
from cryptography.hazmat.primitives import serialization

# x-ms-policy-hash of MAA's SGX default policy, as a token recorded from the real service
# carries it. attesto serves the same default text, so it must produce the same hash.
MAA_SGX_DEFAULT_POLICY_HASH = "bROrN897ZfWmWY2V0FLUlu3uwk5xatGnKYHn3zBbSlw"

# The unsecured reset JWS: {"alg":"none"}, empty payload, empty signature.
UNSECURED_RESET_JWS = "eyJhbGciOiJub25lIn0.."

SGX_COLLATERAL_KEYS = {
    "qeidcertshash",
    "qeidcrlhash",
    "qeidhash",
    "quotehash",
    "tcbinfocertshash",
    "tcbinfocrlhash",
    "tcbinfohash",
}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def policy_hash(policy_text: str) -> bytes:
    """x-ms-policy-hash = BASE64URL(SHA256(UTF8(BASE64URL(UTF8(policy text))))); the SDK
    exposes the decoded SHA-256, so this returns the raw digest."""
    return sha256(b64url(policy_text.encode("utf-8")).encode("ascii"))


def policy_token_hash(jws: str) -> bytes:
    """x-ms-policy-token-hash = BASE64URL(SHA256(the JWS exactly as sent)), decoded."""
    return sha256(jws.encode("ascii"))


def jwt_parts(token: str) -> tuple[dict, dict]:
    """Header and payload of a compact JWS, without verifying anything."""
    header, payload, _signature = token.split(".")
    body = json.loads(b64url_decode(payload)) if payload else {}
    return json.loads(b64url_decode(header)), body


def cert_der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode("ascii")).public_bytes(
        serialization.Encoding.DER
    )


def sha1_thumbprint(pem: str) -> str:
    """Hex SHA-1 of the DER certificate: what MAA reports as x-ms-certificate-thumbprint."""
    return hashlib.sha1(cert_der(pem)).hexdigest()


def attestation_policy_signer(result):
    """The policy signer of an AttestationResult.

    SDK 1.0.0 bug: `AttestationResult._from_generated` already turns x-ms-policy-signer into an
    AttestationSigner, and the `policy_signer` property converts it a second time, raising
    AttributeError ('AttestationSigner' object has no attribute 'x5_c') whenever the token
    carries the claim. The converted value is in `_policy_signer`."""
    return result._policy_signer


class RequestCapture:
    """An azure-core `raw_request_hook`: keeps the bodies the SDK actually put on the wire, so
    hashes are checked against what was sent rather than what we think was sent."""

    def __init__(self):
        self.bodies: list[str] = []

    def __call__(self, pipeline_request):
        body = pipeline_request.http_request.body
        if isinstance(body, bytes):
            body = body.decode("utf-8")
        self.bodies.append(body)

    def only_jws(self) -> str:
        """The single JWS sent (policy bodies are raw text; certificate bodies a JSON string)."""
        sent = [b for b in self.bodies if b]
        assert len(sent) == 1, f"expected one request with a body, saw {len(sent)}"
        body = sent[0]
        return json.loads(body) if body.startswith('"') else body


class SignerSeen:
    """A `validation_callback`: records the signer the SDK verified the token with (None when
    the token was unsecured or not signature-checked)."""

    def __init__(self):
        self.calls = []

    def __call__(self, token, signer):
        self.calls.append((token, signer))

    @property
    def signer(self):
        assert len(self.calls) == 1, f"validation ran {len(self.calls)} times"
        return self.calls[0][1]
