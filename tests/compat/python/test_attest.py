"""attest_sgx_enclave and attest_open_enclave through the SDK, with its token validation on."""

import json
import re
from datetime import timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.security.attestation import AttestationType

from helpers import (
    MAA_SGX_DEFAULT_POLICY_HASH,
    SGX_COLLATERAL_KEYS,
    attestation_policy_signer,
    b64url,
    jwt_parts,
    policy_hash,
    SignerSeen,
)

TOKEN_LIFETIME = timedelta(hours=8)


@pytest.fixture(autouse=True, scope="module")
def default_policies(admin, isolated_admin, trusted_signer):
    """Attestation tests run under the built-in policies, whatever ran before."""
    for kind in (AttestationType.SGX_ENCLAVE, AttestationType.OPEN_ENCLAVE):
        admin.reset_policy(kind)
        isolated_admin.reset_policy(
            kind, signing_key=trusted_signer.key_pem, signing_certificate=trusted_signer.cert_pem
        )


def check_signed_token(token, seen, issuer, client):
    """The token is an RS256 JWT whose signature the SDK checked against a /certs key."""
    assert token.algorithm == "RS256"
    assert token.type == "JWT"
    assert token.key_url == f"{issuer}/certs"
    assert seen.signer is not None, "the SDK did not verify a signature"
    assert seen.signer.key_id == token.key_id
    assert token.key_id in {s.key_id for s in client.get_signing_certificates()}
    assert token.issuer == issuer
    assert token.not_before == token.issued
    assert token.expires - token.issued == TOKEN_LIFETIME


def check_sgx_result(result, enclave, issuer, expected_policy_hash, debuggable=False):
    assert result.issuer == issuer
    assert re.fullmatch(r"[0-9a-f]{64}", result.unique_id), result.unique_id
    assert result.version == "1.0"
    assert result.verifier_type == "sgx"
    assert result.mr_enclave == enclave.mr_enclave
    assert result.mr_signer == enclave.mr_signer
    assert result.product_id == enclave.product_id
    assert result.svn == enclave.svn
    assert result.is_debuggable is debuggable
    assert result.enclave_held_data == enclave.held_data
    assert result.policy_hash == expected_policy_hash
    assert result.nonce is None
    assert set(result.sgx_collateral) == SGX_COLLATERAL_KEYS
    for name, value in result.sgx_collateral.items():
        assert re.fullmatch(r"[0-9a-f]{64}", value), (name, value)


def check_default_policy_claims(token, enclave, debuggable=False):
    """The built-in SGX policy issues MAA's deprecated aliases; a simulated quote is marked."""
    _header, payload = jwt_parts(token.to_jwt_string())
    assert payload["sgx-mrenclave"] == enclave.mr_enclave
    assert payload["sgx-mrsigner"] == enclave.mr_signer
    assert payload["product-id"] == enclave.product_id
    assert payload["svn"] == enclave.svn
    assert payload["is-debuggable"] is debuggable
    assert payload["tee"] == "sgx"
    assert payload["x-ms-sgx-ehd"] == b64url(enclave.held_data)
    # The quote chains to the simulation's test root, not Intel's: the token must say so.
    assert payload["x-attesto-non-intel-roots"] is True
    return payload


def test_default_policy_is_maas(admin, default_policy_text):
    policy, _token = admin.get_policy(AttestationType.SGX_ENCLAVE)
    assert policy == default_policy_text(AttestationType.SGX_ENCLAVE)
    assert b64url(policy_hash(policy)) == MAA_SGX_DEFAULT_POLICY_HASH


def test_sgx_binary_runtime_data(client, endpoint, sgx_enclave, default_policy_text):
    seen = SignerSeen()
    result, token = client.attest_sgx_enclave(
        sgx_enclave.evidence, runtime_data=sgx_enclave.held_data, validation_callback=seen
    )
    check_signed_token(token, seen, endpoint, client)
    expected_hash = policy_hash(default_policy_text(AttestationType.SGX_ENCLAVE))
    check_sgx_result(result, sgx_enclave, endpoint, expected_hash)
    assert result.runtime_claims is None
    assert attestation_policy_signer(result) is None
    check_default_policy_claims(token, sgx_enclave)


def test_sgx_json_runtime_data(client, endpoint, sgx_json_enclave, default_policy_text):
    document = json.loads(sgx_json_enclave.held_data)
    assert isinstance(document, dict) and document, "the JSON enclave must hold a JSON object"
    seen = SignerSeen()
    result, token = client.attest_sgx_enclave(
        sgx_json_enclave.evidence, runtime_json=sgx_json_enclave.held_data, validation_callback=seen
    )
    check_signed_token(token, seen, endpoint, client)
    expected_hash = policy_hash(default_policy_text(AttestationType.SGX_ENCLAVE))
    check_sgx_result(result, sgx_json_enclave, endpoint, expected_hash)
    assert result.runtime_claims == document
    check_default_policy_claims(token, sgx_json_enclave)


def _draft(mr_enclave: str) -> str:
    return (
        "version=1.0; "
        "authorizationrules{"
        f'c:[type=="x-ms-sgx-mrenclave", value=="{mr_enclave}"] => permit();'
        "}; "
        "issuancerules{"
        'c:[type=="x-ms-sgx-mrsigner"] => issue(type="compat-draft-signer", value=c.value);'
        ' => issue(type="compat-draft", value="applied");'
        "};"
    )


def test_sgx_draft_policy_gives_an_unsecured_token(client, endpoint, sgx_enclave):
    draft = _draft(sgx_enclave.mr_enclave)
    seen = SignerSeen()
    result, token = client.attest_sgx_enclave(
        sgx_enclave.evidence,
        runtime_data=sgx_enclave.held_data,
        draft_policy=draft,
        validation_callback=seen,
    )
    assert token.algorithm == "none"
    assert seen.signer is None
    check_sgx_result(result, sgx_enclave, endpoint, policy_hash(draft))
    _header, payload = jwt_parts(token.to_jwt_string())
    assert payload["compat-draft"] == "applied"
    assert payload["compat-draft-signer"] == sgx_enclave.mr_signer
    # The draft replaced the default policy for this request: its aliases are not issued.
    assert "sgx-mrenclave" not in payload


def test_sgx_draft_policy_that_denies(client, sgx_enclave):
    other = "00" * 32
    assert other != sgx_enclave.mr_enclave
    with pytest.raises(HttpResponseError) as caught:
        client.attest_sgx_enclave(
            sgx_enclave.evidence, runtime_data=sgx_enclave.held_data, draft_policy=_draft(other)
        )
    assert caught.value.status_code == 400
    assert caught.value.error.code == "PolicyEvaluationFailed"


def test_sgx_runtime_data_not_bound_by_the_quote(client, sgx_enclave):
    with pytest.raises(HttpResponseError) as caught:
        client.attest_sgx_enclave(sgx_enclave.evidence, runtime_data=sgx_enclave.held_data + b"x")
    assert caught.value.status_code == 400
    assert caught.value.error.code == "DataBindingMismatch"


def test_tampered_sgx_quote_is_refused(client, sgx_enclave):
    tampered = bytearray(sgx_enclave.evidence)
    tampered[112] ^= 0x01  # a byte of MRENCLAVE in the report body: the QE signature breaks
    with pytest.raises(HttpResponseError) as caught:
        client.attest_sgx_enclave(bytes(tampered), runtime_data=sgx_enclave.held_data)
    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidEvidence"


def test_open_enclave(client, endpoint, oe_enclave, default_policy_text):
    # An OE report is the 16-byte OE header followed by the SGX quote.
    assert oe_enclave.evidence[:4] == (1).to_bytes(4, "little")
    seen = SignerSeen()
    result, token = client.attest_open_enclave(
        oe_enclave.evidence, runtime_data=oe_enclave.held_data, validation_callback=seen
    )
    check_signed_token(token, seen, endpoint, client)
    expected_hash = policy_hash(default_policy_text(AttestationType.OPEN_ENCLAVE))
    check_sgx_result(result, oe_enclave, endpoint, expected_hash, debuggable=True)
    check_default_policy_claims(token, oe_enclave, debuggable=True)


def test_open_enclave_draft_policy(client, endpoint, oe_enclave):
    draft = _draft(oe_enclave.mr_enclave)
    result, token = client.attest_open_enclave(
        oe_enclave.evidence, runtime_data=oe_enclave.held_data, draft_policy=draft
    )
    assert token.algorithm == "none"
    check_sgx_result(result, oe_enclave, endpoint, policy_hash(draft), debuggable=True)


def test_attest_on_an_isolated_provider(
    isolated_client, isolated_endpoint, sgx_enclave, default_policy_text
):
    seen = SignerSeen()
    result, token = isolated_client.attest_sgx_enclave(
        sgx_enclave.evidence, runtime_data=sgx_enclave.held_data, validation_callback=seen
    )
    # validate_issuer=True with issuer = the provider's attest URI already held; say it plainly.
    check_signed_token(token, seen, isolated_endpoint, isolated_client)
    expected_hash = policy_hash(default_policy_text(AttestationType.SGX_ENCLAVE))
    check_sgx_result(result, sgx_enclave, isolated_endpoint, expected_hash)
