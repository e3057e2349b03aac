"""get/set/reset policy on the default provider (AAD trust model) through the SDK."""

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.security.attestation import AttestationPolicyToken, AttestationType

from helpers import (
    UNSECURED_RESET_JWS,
    RequestCapture,
    attestation_policy_signer,
    SignerSeen,
    cert_der,
    jwt_parts,
    policy_hash,
    policy_token_hash,
)

SGX = AttestationType.SGX_ENCLAVE


def _policy(tag: str) -> str:
    return (
        "version=1.0; authorizationrules{ => permit(); }; "
        f'issuancerules{{ => issue(type="compat-policy", value="{tag}"); }};'
    )


DENY_ALL = "version=1.0; authorizationrules{ => deny(); }; issuancerules{};"


@pytest.fixture(autouse=True)
def reset_after(admin):
    """Each test starts and ends with the built-in policies."""
    admin.reset_policy(SGX)
    yield
    admin.reset_policy(SGX)
    admin.reset_policy(AttestationType.OPEN_ENCLAVE)


def check_result_token(token, seen, issuer):
    assert token.algorithm == "RS256"
    assert seen.signer is not None and seen.signer.key_id == token.key_id
    assert token.issuer == issuer
    assert token.not_before == token.issued
    assert (token.expires - token.issued).total_seconds() == 3600


def test_get_default_policy(admin, endpoint, default_policy_text):
    seen = SignerSeen()
    policy, token = admin.get_policy(SGX, validation_callback=seen)
    check_result_token(token, seen, endpoint)
    assert policy == default_policy_text(SGX)
    _header, payload = jwt_parts(token.to_jwt_string())
    # No stored policy: the default comes back as an unsecured StoredAttestationPolicy JWS.
    inner_header, _inner = jwt_parts(payload["x-ms-policy"])
    assert inner_header == {"alg": "none"}
    assert "x-ms-policy-signer" not in payload


def test_set_unsigned_policy(admin, client, endpoint, sgx_enclave):
    text = _policy("unsigned")
    sent = RequestCapture()
    seen = SignerSeen()
    result, token = admin.set_policy(SGX, text, raw_request_hook=sent, validation_callback=seen)
    check_result_token(token, seen, endpoint)
    jws = sent.only_jws()
    assert jwt_parts(jws)[0] == {"alg": "none"}
    assert result.policy_resolution == "Updated"
    assert result.policy_signer is None
    assert result.policy_token_hash == policy_token_hash(jws)
    # What the SDK's docs tell users to do to check the service got their policy unaltered.
    assert result.policy_token_hash == policy_token_hash(
        AttestationPolicyToken(text).to_jwt_string()
    )

    policy, get_token = admin.get_policy(SGX)
    assert policy == text
    assert jwt_parts(get_token.to_jwt_string())[1]["x-ms-policy"] == jws

    attested, attest_token = client.attest_sgx_enclave(
        sgx_enclave.evidence, runtime_data=sgx_enclave.held_data
    )
    assert attested.policy_hash == policy_hash(text)
    assert attestation_policy_signer(attested) is None
    assert jwt_parts(attest_token.to_jwt_string())[1]["compat-policy"] == "unsigned"


def test_set_signed_policy(admin, client, endpoint, sgx_enclave, rogue_signer):
    # In the AAD model any signer is accepted; the service reports who signed.
    signer = rogue_signer
    text = _policy("signed")
    sent = RequestCapture()
    result, _token = admin.set_policy(
        SGX,
        text,
        signing_key=signer.key_pem,
        signing_certificate=signer.cert_pem,
        raw_request_hook=sent,
    )
    jws = sent.only_jws()
    header, _payload = jwt_parts(jws)
    assert header["alg"] == "RSA256", "the SDK's own spelling of RS256"
    assert result.policy_resolution == "Updated"
    assert result.policy_token_hash == policy_token_hash(jws)
    # RSASSA-PKCS1-v1_5 is deterministic, so the SDK's helper rebuilds the exact JWS.
    assert result.policy_token_hash == policy_token_hash(
        AttestationPolicyToken(
            text, signing_key=signer.key_pem, signing_certificate=signer.cert_pem
        ).to_jwt_string()
    )
    assert result.policy_signer is not None
    assert cert_der(result.policy_signer.certificates[0]) == cert_der(signer.cert_pem)

    policy, get_token = admin.get_policy(SGX)
    assert policy == text
    payload = jwt_parts(get_token.to_jwt_string())[1]
    assert payload["x-ms-policy"] == jws
    assert payload["x-ms-policy-signer"]["x5c"]

    attested, _ = client.attest_sgx_enclave(
        sgx_enclave.evidence, runtime_data=sgx_enclave.held_data
    )
    assert attested.policy_hash == policy_hash(text)
    policy_signer = attestation_policy_signer(attested)
    assert policy_signer is not None
    assert cert_der(policy_signer.certificates[0]) == cert_der(signer.cert_pem)


def test_reset_unsigned(admin, endpoint, default_policy_text):
    admin.set_policy(SGX, _policy("to-reset"))
    sent = RequestCapture()
    seen = SignerSeen()
    result, token = admin.reset_policy(SGX, raw_request_hook=sent, validation_callback=seen)
    check_result_token(token, seen, endpoint)
    assert sent.only_jws() == UNSECURED_RESET_JWS
    assert result.policy_resolution == "Removed"
    assert result.policy_signer is None
    assert result.policy_token_hash == policy_token_hash(UNSECURED_RESET_JWS)
    policy, _ = admin.get_policy(SGX)
    assert policy == default_policy_text(SGX)


def test_reset_signed(admin, default_policy_text, extra_signer):
    admin.set_policy(SGX, _policy("to-reset-signed"))
    sent = RequestCapture()
    result, _ = admin.reset_policy(
        SGX,
        signing_key=extra_signer.key_pem,
        signing_certificate=extra_signer.cert_pem,
        raw_request_hook=sent,
    )
    jws = sent.only_jws()
    header, payload = jwt_parts(jws)
    assert header["alg"] == "RSA256" and payload == {}
    assert result.policy_resolution == "Removed"
    assert result.policy_token_hash == policy_token_hash(jws)
    assert cert_der(result.policy_signer.certificates[0]) == cert_der(extra_signer.cert_pem)
    policy, _ = admin.get_policy(SGX)
    assert policy == default_policy_text(SGX)


def test_policies_are_per_attestation_type(admin, default_policy_text):
    text = _policy("open-enclave")
    admin.set_policy(AttestationType.OPEN_ENCLAVE, text)
    assert admin.get_policy(AttestationType.OPEN_ENCLAVE)[0] == text
    assert admin.get_policy(SGX)[0] == default_policy_text(SGX)


def test_a_policy_that_denies(admin, client, sgx_enclave):
    admin.set_policy(SGX, DENY_ALL)
    with pytest.raises(HttpResponseError) as caught:
        client.attest_sgx_enclave(sgx_enclave.evidence, runtime_data=sgx_enclave.held_data)
    assert caught.value.status_code == 400
    assert caught.value.error.code == "PolicyEvaluationFailed"
    admin.reset_policy(SGX)
    result, _ = client.attest_sgx_enclave(sgx_enclave.evidence, runtime_data=sgx_enclave.held_data)
    assert result.mr_enclave == sgx_enclave.mr_enclave


def test_a_policy_that_does_not_parse_is_refused(admin, default_policy_text):
    with pytest.raises(HttpResponseError) as caught:
        admin.set_policy(SGX, "version=1.0; authorizationrules{ => permit() }")
    assert caught.value.status_code == 400
    assert caught.value.error.code == "PolicyParsingError"
    assert admin.get_policy(SGX)[0] == default_policy_text(SGX)


def test_wrong_admin_token(wrong_admin, admin, default_policy_text):
    with pytest.raises(ClientAuthenticationError) as caught:
        wrong_admin.get_policy(SGX)
    assert caught.value.status_code == 401
    with pytest.raises(ClientAuthenticationError) as caught:
        wrong_admin.set_policy(SGX, DENY_ALL)
    assert caught.value.status_code == 401
    with pytest.raises(ClientAuthenticationError):
        wrong_admin.reset_policy(SGX)
    with pytest.raises(ClientAuthenticationError):
        wrong_admin.get_policy_management_certificates()
    assert admin.get_policy(SGX)[0] == default_policy_text(SGX)


def test_aad_provider_has_no_policy_management_certificates(admin, endpoint):
    seen = SignerSeen()
    certificates, token = admin.get_policy_management_certificates(validation_callback=seen)
    check_result_token(token, seen, endpoint)
    assert certificates == []
