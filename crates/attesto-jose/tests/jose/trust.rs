//! Signer trust: exact match, issued by a trusted CA (directly or through presented
//! intermediates), and the constraints an issuer must meet.

use anyhow::Result;
use attesto_jose::{
    Algorithm, Certificate, Error, Header, Jws, SignerChain, TrustPath, Unsecured, Verified,
    base64url, cert::TrustFailure, sign_jws,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    PKCS_ECDSA_P256_SHA256,
};

use crate::common::{NOW, at};

struct Node {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

fn params(cn: &str, ca: bool) -> Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, cn);
    params.not_before = time::OffsetDateTime::from_unix_timestamp(NOW as i64 - 86_400)?;
    params.not_after = time::OffsetDateTime::from_unix_timestamp(NOW as i64 + 86_400)?;
    if ca {
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    }
    Ok(params)
}

fn root(cn: &str) -> Result<Node> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let params = params(cn, true)?;
    let der = params.self_signed(&key)?.der().to_vec();
    Ok(Node { params, key, der })
}

fn issue(issuer: &Node, params: CertificateParams) -> Result<Node> {
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
    let der = params
        .signed_by(&key, &Issuer::from_params(&issuer.params, &issuer.key))?
        .der()
        .to_vec();
    Ok(Node { params, key, der })
}

fn cert(node: &Node) -> Result<Certificate> {
    Ok(Certificate::from_der(&node.der)?)
}

#[test]
fn leaf_issued_by_a_trusted_root_directly_or_via_an_intermediate() -> Result<()> {
    let root = root("Policy Root CA")?;
    let intermediate = issue(&root, params("Policy Intermediate CA", true)?)?;
    let leaf = issue(&intermediate, params("Policy Signer", false)?)?;
    let direct = issue(&root, params("Direct Signer", false)?)?;
    let now = at(NOW);

    let chain = SignerChain::from_ders(&[&direct.der])?;
    assert_eq!(
        chain.verify_trust(&[cert(&root)?], now),
        Ok(TrustPath::IssuedBy {
            anchor: 0,
            chain_index: 0
        })
    );

    let chain = SignerChain::from_ders(&[&leaf.der, &intermediate.der])?;
    let unrelated = root_cert("Someone Else")?;
    assert_eq!(
        chain.verify_trust(&[unrelated.clone(), cert(&root)?], now),
        Ok(TrustPath::IssuedBy {
            anchor: 1,
            chain_index: 1
        })
    );
    assert_eq!(
        chain.verify_trust(&[cert(&intermediate)?], now),
        Ok(TrustPath::IssuedBy {
            anchor: 0,
            chain_index: 0
        })
    );
    assert_eq!(
        chain.verify_trust(&[cert(&leaf)?], now),
        Ok(TrustPath::Exact {
            anchor: 0,
            chain_index: 0
        })
    );
    // Without the intermediate, the leaf cannot reach the root.
    let bare = SignerChain::from_ders(&[&leaf.der])?;
    assert!(matches!(
        bare.verify_trust(&[cert(&root)?], now),
        Err(Error::UntrustedSigner {
            reason: TrustFailure::IssuerNameMismatch,
            ..
        })
    ));
    assert!(matches!(
        chain.verify_trust(&[unrelated], now),
        Err(Error::UntrustedSigner { .. })
    ));

    // The whole flow: a policy JWS signed by the leaf, with the chain in x5c.
    let leaf_key = attesto_jose::SigningKey::from_pkcs8_der(leaf.key.serialized_der())?;
    let mut header = Header::new(Algorithm::Es256);
    header.x5c = Some(vec![
        base64url::encode_std(&leaf.der),
        base64url::encode_std(&intermediate.der),
    ]);
    let jws = Jws::parse(&sign_jws(&header, b"{}", &leaf_key)?)?;
    let Verified::Signed(chain) = jws.verify_with_embedded_signer(Unsecured::Reject)? else {
        anyhow::bail!("signed");
    };
    assert!(chain.verify_trust(&[cert(&root)?], now).is_ok());
    Ok(())
}

fn root_cert(cn: &str) -> Result<Certificate> {
    cert(&root(cn)?)
}

#[test]
fn issuer_without_ca_flag_or_cert_sign_usage_is_not_trusted() -> Result<()> {
    let now = at(NOW);
    // Same name and key as a real issuer, but not a CA.
    let fake_root = root("Policy Root CA")?;
    let not_ca_params = params("Policy Root CA", false)?;
    let not_ca_der = not_ca_params.self_signed(&fake_root.key)?.der().to_vec();
    let leaf = issue(&fake_root, params("Policy Signer", false)?)?;
    let chain = SignerChain::from_ders(&[&leaf.der])?;
    assert!(matches!(
        chain.verify_trust(&[Certificate::from_der(&not_ca_der)?], now),
        Err(Error::UntrustedSigner {
            reason: TrustFailure::IssuerNotCa,
            ..
        })
    ));

    let mut no_cert_sign = params("Policy Root CA", true)?;
    no_cert_sign.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let no_cert_sign_der = no_cert_sign.self_signed(&fake_root.key)?.der().to_vec();
    assert!(matches!(
        chain.verify_trust(&[Certificate::from_der(&no_cert_sign_der)?], now),
        Err(Error::UntrustedSigner {
            reason: TrustFailure::IssuerKeyUsage,
            ..
        })
    ));

    // A CA with the right name but a different key: the signature check fails.
    let impostor = root("Policy Root CA")?;
    assert!(matches!(
        chain.verify_trust(&[cert(&impostor)?], now),
        Err(Error::UntrustedSigner {
            reason: TrustFailure::SignatureInvalid,
            ..
        })
    ));
    assert!(chain.verify_trust(&[cert(&fake_root)?], now).is_ok());
    Ok(())
}

#[test]
fn an_expired_intermediate_breaks_the_path() -> Result<()> {
    let root = root("Root")?;
    let mut short = params("Intermediate", true)?;
    short.not_after = time::OffsetDateTime::from_unix_timestamp(NOW as i64 - 10)?;
    let intermediate = issue(&root, short)?;
    let leaf = issue(&intermediate, params("Signer", false)?)?;
    let chain = SignerChain::from_ders(&[&leaf.der, &intermediate.der])?;
    assert!(matches!(
        chain.verify_trust(&[cert(&root)?], at(NOW)),
        Err(Error::CertificateExpired { .. })
    ));
    Ok(())
}
