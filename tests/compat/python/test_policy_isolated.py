"""Policies and policy management certificates on an isolated provider through the SDK.

In the isolated model every policy change and every signer change must be a JWS signed by one
of the provider's policy management certificates, even from an authenticated administrator.
The tests run in file order: the signer set changes along the way and is restored at the end.
"""

import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.security.attestation import AttestationPolicyToken, AttestationType

from helpers import (
    RequestCapture,
    SignerSeen,
    attestation_policy_signer,
    cert_der,
    jwt_parts,
    policy_hash,
    policy_token_hash,
    sha1_thumbprint,
)

SGX = AttestationType.SGX_ENCLAVE


def _policy(tag: str) -> str:
    return (
        "version=1.0; authorizationrules{ => permit(); }; "
        f'issuancerules{{ => issue(type="compat-isolated", value="{tag}"); }};'
    )


def _signed(signer):
    return {"signing_key": signer.key_pem, "signing_certificate": signer.cert_pem}


def _der_set(certificates):
    """get_policy_management_certificates returns one PEM chain per signer."""
    return {cert_der(chain[0]) for chain in certificates}


@pytest.fixture(autouse=True)
def reset_after(isolated_admin, trusted_signer):
    yield
    isolated_admin.reset_policy(SGX, **_signed(trusted_signer))


def check_result_token(token, seen, issuer):
    assert token.algorithm == "RS256"
    assert seen.signer is not None and seen.signer.key_id == token.key_id
    assert token.issuer == issuer


def test_initial_policy_management_certificates(isolated_admin, isolated_endpoint, trusted_signer):
    seen = SignerSeen()
    certificates, token = isolated_admin.get_policy_management_certificates(
        validation_callback=seen
    )
    check_result_token(token, seen, isolated_endpoint)
    assert len(certificates) == 1
    assert _der_set(certificates) == {cert_der(trusted_signer.cert_pem)}


def test_unsigned_policy_is_refused(isolated_admin, default_policy_text):
    with pytest.raises(HttpResponseError) as caught:
        isolated_admin.set_policy(SGX, _policy("unsigned"))
    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidOperation"
    assert isolated_admin.get_policy(SGX)[0] == default_policy_text(SGX)


def test_unsigned_reset_is_refused(isolated_admin, trusted_signer):
    text = _policy("kept")
    isolated_admin.set_policy(SGX, text, **_signed(trusted_signer))
    with pytest.raises(HttpResponseError) as caught:
        isolated_admin.reset_policy(SGX)
    assert caught.value.status_code == 400
    assert isolated_admin.get_policy(SGX)[0] == text


def test_policy_signed_by_an_untrusted_key_is_refused(
    isolated_admin, rogue_signer, default_policy_text
):
    with pytest.raises(HttpResponseError) as caught:
        isolated_admin.set_policy(SGX, _policy("rogue"), **_signed(rogue_signer))
    assert caught.value.status_code == 400
    assert caught.value.error.code == "InvalidOperation"
    assert isolated_admin.get_policy(SGX)[0] == default_policy_text(SGX)


def test_signed_policy(
    isolated_admin, isolated_client, isolated_endpoint, trusted_signer, sgx_enclave, client
):
    text = _policy("signed")
    sent = RequestCapture()
    seen = SignerSeen()
    result, token = isolated_admin.set_policy(
        SGX, text, raw_request_hook=sent, validation_callback=seen, **_signed(trusted_signer)
    )
    check_result_token(token, seen, isolated_endpoint)
    jws = sent.only_jws()
    assert result.policy_resolution == "Updated"
    assert result.policy_token_hash == policy_token_hash(jws)
    assert result.policy_token_hash == policy_token_hash(
        AttestationPolicyToken(text, **_signed(trusted_signer)).to_jwt_string()
    )
    assert cert_der(result.policy_signer.certificates[0]) == cert_der(trusted_signer.cert_pem)

    policy, get_token = isolated_admin.get_policy(SGX)
    assert policy == text
    assert jwt_parts(get_token.to_jwt_string())[1]["x-ms-policy"] == jws

    attested, attest_token = isolated_client.attest_sgx_enclave(
        sgx_enclave.evidence, runtime_data=sgx_enclave.held_data
    )
    assert attested.issuer == isolated_endpoint
    assert attested.policy_hash == policy_hash(text)
    assert cert_der(attestation_policy_signer(attested).certificates[0]) == cert_der(
        trusted_signer.cert_pem
    )
    assert jwt_parts(attest_token.to_jwt_string())[1]["compat-isolated"] == "signed"

    # The default provider's policy is untouched.
    other, _ = client.attest_sgx_enclave(sgx_enclave.evidence, runtime_data=sgx_enclave.held_data)
    assert other.policy_hash != policy_hash(text)


def test_signed_reset(isolated_admin, trusted_signer, default_policy_text):
    isolated_admin.set_policy(SGX, _policy("to-reset"), **_signed(trusted_signer))
    sent = RequestCapture()
    result, _ = isolated_admin.reset_policy(SGX, raw_request_hook=sent, **_signed(trusted_signer))
    assert result.policy_resolution == "Removed"
    assert result.policy_token_hash == policy_token_hash(sent.only_jws())
    assert cert_der(result.policy_signer.certificates[0]) == cert_der(trusted_signer.cert_pem)
    assert isolated_admin.get_policy(SGX)[0] == default_policy_text(SGX)


def test_wrong_admin_token_even_with_a_trusted_signature(wrong_isolated_admin, trusted_signer):
    with pytest.raises(ClientAuthenticationError) as caught:
        wrong_isolated_admin.set_policy(SGX, _policy("wrong-token"), **_signed(trusted_signer))
    assert caught.value.status_code == 401
    with pytest.raises(ClientAuthenticationError) as caught:
        wrong_isolated_admin.add_policy_management_certificate(
            trusted_signer.cert_pem, **_signed(trusted_signer)
        )
    assert caught.value.status_code == 401


def test_add_certificate_signed_by_an_untrusted_key_is_refused(
    isolated_admin, extra_signer, rogue_signer
):
    with pytest.raises(HttpResponseError) as caught:
        isolated_admin.add_policy_management_certificate(
            extra_signer.cert_pem, **_signed(rogue_signer)
        )
    assert caught.value.status_code == 400
    certificates, _ = isolated_admin.get_policy_management_certificates()
    assert cert_der(extra_signer.cert_pem) not in _der_set(certificates)


@pytest.fixture
def extra_removed_after(isolated_admin, trusted_signer, extra_signer):
    """Whatever the test does, `extra` is not trusted afterwards, so later tests see the
    initial signer set."""
    yield
    certificates, _ = isolated_admin.get_policy_management_certificates()
    if cert_der(extra_signer.cert_pem) in _der_set(certificates):
        isolated_admin.remove_policy_management_certificate(
            extra_signer.cert_pem, **_signed(trusted_signer)
        )


def test_add_and_remove_policy_management_certificate(
    isolated_admin, isolated_endpoint, trusted_signer, extra_signer, extra_removed_after
):
    seen = SignerSeen()
    sent = RequestCapture()
    added, token = isolated_admin.add_policy_management_certificate(
        extra_signer.cert_pem,
        validation_callback=seen,
        raw_request_hook=sent,
        **_signed(trusted_signer),
    )
    check_result_token(token, seen, isolated_endpoint)
    header, payload = jwt_parts(sent.only_jws())
    assert header["alg"] == "RSA256"
    assert payload["policyCertificate"]["kty"] == "RSA"
    assert added.certificate_resolution == "IsPresent"
    # Hex SHA-1 of the DER certificate; MAA's clients treat it as an opaque string, so case
    # is not part of the contract.
    assert added.certificate_thumbprint.lower() == sha1_thumbprint(extra_signer.cert_pem)

    certificates, _ = isolated_admin.get_policy_management_certificates()
    assert _der_set(certificates) == {
        cert_der(trusted_signer.cert_pem),
        cert_der(extra_signer.cert_pem),
    }

    # The new signer is now trusted for policies.
    text = _policy("by-extra")
    result, _ = isolated_admin.set_policy(SGX, text, **_signed(extra_signer))
    assert result.policy_resolution == "Updated"
    assert cert_der(result.policy_signer.certificates[0]) == cert_der(extra_signer.cert_pem)
    assert isolated_admin.get_policy(SGX)[0] == text

    removed, _ = isolated_admin.remove_policy_management_certificate(
        extra_signer.cert_pem, **_signed(trusted_signer)
    )
    assert removed.certificate_resolution == "IsAbsent"
    assert removed.certificate_thumbprint.lower() == sha1_thumbprint(extra_signer.cert_pem)
    certificates, _ = isolated_admin.get_policy_management_certificates()
    assert _der_set(certificates) == {cert_der(trusted_signer.cert_pem)}

    # ... and no longer.
    with pytest.raises(HttpResponseError) as caught:
        isolated_admin.set_policy(SGX, _policy("by-removed"), **_signed(extra_signer))
    assert caught.value.status_code == 400
    assert isolated_admin.get_policy(SGX)[0] == text


def test_the_last_certificate_cannot_be_removed(isolated_admin, trusted_signer):
    certificates, _ = isolated_admin.get_policy_management_certificates()
    assert _der_set(certificates) == {cert_der(trusted_signer.cert_pem)}, "precondition"
    with pytest.raises(HttpResponseError) as caught:
        isolated_admin.remove_policy_management_certificate(
            trusted_signer.cert_pem, **_signed(trusted_signer)
        )
    assert caught.value.status_code == 400
    certificates, _ = isolated_admin.get_policy_management_certificates()
    assert _der_set(certificates) == {cert_der(trusted_signer.cert_pem)}


def test_sdk_refuses_unsigned_certificate_changes_locally(isolated_admin, extra_signer):
    # The SDK itself requires a signer for add/remove: nothing reaches the server.
    with pytest.raises(ValueError):
        isolated_admin.add_policy_management_certificate(extra_signer.cert_pem)
