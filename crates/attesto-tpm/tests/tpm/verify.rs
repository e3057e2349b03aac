//! Quote verification end to end on real evidence, and one negative case per check.

use crate::common::synth::{self, AK_ATTRIBUTES, EcdsaAk, RsaAk};
use crate::common::{GCE, WINDOWS, at, gce_quote, gce_time, read, windows_pcrs};
use attesto_tpm::eventlog::EventType;
use attesto_tpm::{
    AikEvidence, AikPublicKey, AikStatus, CertRole, Error, EventLog, HashAlg, MeasurementLog,
    PcrValues, QuoteEvidence, TrustAnchors, VerifiedQuote, VerifyOptions, verify_quote,
};

const NONCE: [u8; 2] = [0x90, 0x09];

fn gce_anchors() -> TrustAnchors {
    TrustAnchors::from_der([
        read(&format!("{GCE}/certs/tpm_ek_root_1.cer")),
        read(&format!("{GCE}/certs/gcp_ek_ak_ca_root.crt")),
    ])
    .expect("roots parse")
}

fn gce_aik() -> AikEvidence {
    AikEvidence::new()
        .with_tpm_public(&read(&format!("{GCE}/ak.tpmt_public")))
        .expect("AK parses")
        .with_certificate(read(&format!("{GCE}/ak_cert.der")))
        .with_intermediates(vec![
            read(&format!("{GCE}/certs/tpm_ek_intermediate_3.crt")),
            read(&format!("{GCE}/certs/tpm_ek_intermediate_2.crt")),
        ])
}

fn gce_logs() -> Vec<MeasurementLog> {
    vec![MeasurementLog::Tcg(
        EventLog::parse(&read(&format!("{GCE}/eventlog.bin"))).expect("log"),
    )]
}

/// Everything a GCE verification needs, so a test can alter one piece.
struct Gce {
    quote: Vec<u8>,
    signature: Vec<u8>,
    pcrs: PcrValues,
    logs: Vec<MeasurementLog>,
    aik: AikEvidence,
    anchors: TrustAnchors,
}

impl Gce {
    fn new(bank: HashAlg) -> Gce {
        let (quote, signature, pcrs) = gce_quote(bank);
        Gce {
            quote,
            signature,
            pcrs,
            logs: gce_logs(),
            aik: gce_aik(),
            anchors: gce_anchors(),
        }
    }

    fn verify_with(
        &self,
        nonce: &[u8],
        time: rustls_pki_types::UnixTime,
    ) -> Result<VerifiedQuote, Error> {
        let options = VerifyOptions::new(nonce, time, &self.anchors);
        self.verify_options(&options)
    }

    fn verify_options(&self, options: &VerifyOptions<'_>) -> Result<VerifiedQuote, Error> {
        verify_quote(
            &QuoteEvidence {
                quote: &self.quote,
                signature: &self.signature,
                pcrs: &self.pcrs,
                logs: &self.logs,
                aik: &self.aik,
            },
            options,
        )
    }

    fn verify(&self) -> Result<VerifiedQuote, Error> {
        self.verify_with(&NONCE, gce_time())
    }
}

#[test]
fn gce_quotes_verify_end_to_end_in_all_three_banks() {
    for bank in [HashAlg::Sha1, HashAlg::Sha256, HashAlg::Sha384] {
        let verified = Gce::new(bank)
            .verify()
            .unwrap_or_else(|e| panic!("{bank}: {e}"));
        assert_eq!(
            verified.aik.status,
            AikStatus::Validated { anchor: 0 },
            "{bank}"
        );
        assert!(verified.aik.validated());
        // The pcrDigest is SHA-256 (the AK's signing hash) whatever the bank.
        assert_eq!(verified.signature_hash, HashAlg::Sha256, "{bank}");
        assert_eq!(verified.selection.len(), 1);
        assert_eq!(verified.selection[0].hash, bank);
        assert_eq!(verified.selection[0].pcrs, 0x00ff_ffff);
        // PCRs 0-9 are replayed from the log; PCR 10 (IMA, no log sent) is unexplained.
        assert_eq!(verified.verified_pcrs, 0x3ff, "{bank}");
        assert_eq!(verified.unlogged_pcrs, vec![(bank, 10)], "{bank}");
        assert_eq!(verified.attest.extra_data, NONCE);
    }
}

#[test]
fn gce_ak_certificate_key_is_the_tpmt_public_key() {
    let from_public = AikPublicKey::from_public(
        &attesto_tpm::tpm2::Public::parse(&read(&format!("{GCE}/ak.tpmt_public"))).expect("public"),
    )
    .expect("key");
    let cert = read(&format!("{GCE}/ak_cert.der"));
    let (_, parsed) = x509_parser::parse_x509_certificate(&cert).expect("cert");
    let from_cert = AikPublicKey::from_spki_der(parsed.public_key().raw).expect("spki");
    assert_eq!(from_public, from_cert);
    // Our SPKI encoding is byte-identical to the certificate's, so aikPubHash is the hash of
    // the certificate's SubjectPublicKeyInfo.
    assert_eq!(from_public.to_spki_der(), parsed.public_key().raw);
}

#[test]
fn the_aik_certificate_alone_is_enough() {
    let mut gce = Gce::new(HashAlg::Sha256);
    gce.aik = AikEvidence::new()
        .with_certificate(read(&format!("{GCE}/ak_cert.der")))
        .with_intermediates(vec![read(&format!(
            "{GCE}/certs/tpm_ek_intermediate_2.crt"
        ))]);
    let verified = gce.verify().expect("verifies");
    assert!(verified.aik.validated());
}

#[test]
fn windows_shielded_vm_quote_verifies_without_a_certificate_when_allowed() {
    let quote = read(&format!("{WINDOWS}/quote_sha1.tpms_attest"));
    let signature = read(&format!("{WINDOWS}/quote_sha1.tpmt_signature"));
    let pcrs = windows_pcrs();
    let logs = vec![MeasurementLog::Tcg(
        EventLog::parse(&read(&format!("{WINDOWS}/eventlog_sha1_legacy.bin"))).expect("log"),
    )];
    let aik = AikEvidence::new()
        .with_tpm_public(&read(&format!("{WINDOWS}/ak.tpmt_public")))
        .expect("AK");
    let anchors = TrustAnchors::empty();
    let evidence = QuoteEvidence {
        quote: &quote,
        signature: &signature,
        pcrs: &pcrs,
        logs: &logs,
        aik: &aik,
    };
    // MAA's default requires a valid AIK certificate: none was sent.
    let strict = VerifyOptions::new(&[], at(1_600_000_000), &anchors);
    assert_eq!(
        verify_quote(&evidence, &strict).expect_err("certificate required"),
        Error::AikCertificateRequired
    );
    let mut lenient = VerifyOptions::new(&[], at(1_600_000_000), &anchors);
    lenient.require_valid_aik_cert = false;
    let verified = verify_quote(&evidence, &lenient).expect("verifies");
    assert_eq!(verified.aik.status, AikStatus::NoCertificate);
    assert_eq!(verified.signature_hash, HashAlg::Sha1);
    let logged = (1 << 0) | (1 << 4) | (1 << 5) | (1 << 7) | (0b1111 << 11);
    assert_eq!(verified.verified_pcrs, logged);
    assert!(verified.unlogged_pcrs.is_empty());
    // A nonce where the quote has none.
    let mut with_nonce = lenient.clone();
    with_nonce.qualifying_data = &[1];
    assert!(matches!(
        verify_quote(&evidence, &with_nonce),
        Err(Error::QualifyingDataMismatch { .. })
    ));
}

#[test]
fn wrong_challenge_is_rejected_with_both_values() {
    let error = Gce::new(HashAlg::Sha256)
        .verify_with(&[0x90, 0x0a], gce_time())
        .expect_err("wrong nonce");
    assert_eq!(
        error,
        Error::QualifyingDataMismatch {
            expected: vec![0x90, 0x0a],
            found: NONCE.to_vec()
        }
    );
    assert!(error.to_string().contains("9009"), "{error}");
}

#[test]
fn one_flipped_byte_in_the_quote_breaks_the_signature() {
    let clean = Gce::new(HashAlg::Sha256);
    // Every byte after the magic: either the signature fails or the structure does not parse.
    for at in 4..clean.quote.len() {
        let mut gce = Gce::new(HashAlg::Sha256);
        gce.quote[at] ^= 0x01;
        let error = gce.verify().expect_err("altered quote");
        assert!(
            matches!(
                error,
                Error::BadSignature { .. }
                    | Error::Malformed { .. }
                    | Error::Truncated { .. }
                    | Error::TrailingBytes { .. }
                    | Error::Unsupported { .. }
                    | Error::UnsupportedAlgorithm { .. }
            ),
            "byte {at}: {error:?}"
        );
    }
    let mut gce = Gce::new(HashAlg::Sha256);
    gce.quote[0] ^= 0x01;
    assert!(matches!(gce.verify(), Err(Error::NotTpmGenerated { .. })));
}

#[test]
fn one_flipped_byte_in_the_signature_is_rejected() {
    let mut gce = Gce::new(HashAlg::Sha256);
    let last = gce.signature.len() - 1;
    gce.signature[last] ^= 0x80;
    assert_eq!(gce.verify(), Err(Error::BadSignature { what: "quote" }));
    let mut gce = Gce::new(HashAlg::Sha256);
    gce.signature[3] = 0x0c; // claims SHA-384
    assert_eq!(gce.verify(), Err(Error::BadSignature { what: "quote" }));
}

#[test]
fn one_flipped_byte_in_a_pcr_value_breaks_the_pcr_digest() {
    let mut gce = Gce::new(HashAlg::Sha256);
    let mut value = gce.pcrs.get(HashAlg::Sha256, 7).expect("pcr 7").to_vec();
    value[0] ^= 0x01;
    gce.pcrs.insert(HashAlg::Sha256, 7, value).expect("insert");
    assert!(matches!(
        gce.verify(),
        Err(Error::PcrDigestMismatch {
            hash: HashAlg::Sha256,
            ..
        })
    ));
}

#[test]
fn pcr_values_must_be_exactly_the_selection() {
    // Values of another bank than the quoted one.
    let mut gce = Gce::new(HashAlg::Sha256);
    let (_, _, sha1) = gce_quote(HashAlg::Sha1);
    gce.pcrs = sha1;
    assert!(matches!(
        gce.verify(),
        Err(Error::PcrValueNotQuoted {
            bank: HashAlg::Sha1,
            ..
        })
    ));
    // A value missing.
    let (_, _, full) = gce_quote(HashAlg::Sha256);
    let mut partial = PcrValues::new();
    for (bank, pcr, value) in full.iter().filter(|(_, pcr, _)| *pcr != 23) {
        partial.insert(bank, pcr, value.to_vec()).expect("insert");
    }
    gce.pcrs = partial;
    assert_eq!(
        gce.verify(),
        Err(Error::PcrValueMissing {
            bank: HashAlg::Sha256,
            pcr: 23
        })
    );
}

#[test]
fn one_flipped_byte_in_the_log_is_caught_by_the_replay() {
    let mut bytes = read(&format!("{GCE}/eventlog.bin"));
    let log = EventLog::parse(&bytes).expect("log");
    let event = log
        .measured_events()
        .find(|e| e.pcr == 4)
        .expect("a PCR 4 event");
    // The SHA-256 digest follows pcr, type, count, SHA-1 (2 + 20) and the SHA-256 alg id.
    bytes[event.offset + 12 + 22 + 2] ^= 0x01;
    let mut gce = Gce::new(HashAlg::Sha256);
    gce.logs = vec![MeasurementLog::Tcg(
        EventLog::parse(&bytes).expect("still parses"),
    )];
    match gce.verify() {
        Err(Error::PcrReplayMismatch {
            bank, pcr, quoted, ..
        }) => {
            assert_eq!((bank, pcr), (HashAlg::Sha256, 4));
            assert_eq!(Some(quoted.as_slice()), gce.pcrs.get(HashAlg::Sha256, 4));
        }
        other => panic!("{other:?}"),
    }
    // The same flip is invisible to the SHA-1 quote (only the SHA-256 digest changed): the
    // replay is per bank.
    let mut sha1 = Gce::new(HashAlg::Sha1);
    sha1.logs = gce.logs.clone();
    assert!(sha1.verify().is_ok());
}

#[test]
fn a_dropped_event_is_caught_by_the_replay() {
    let mut gce = Gce::new(HashAlg::Sha384);
    let MeasurementLog::Tcg(log) = &mut gce.logs[0] else {
        unreachable!()
    };
    let position = log
        .events
        .iter()
        .position(|e| e.event_type == EventType::EV_EFI_VARIABLE_DRIVER_CONFIG)
        .expect("a variable event");
    let pcr = log.events[position].pcr;
    log.events.remove(position);
    assert!(matches!(
        gce.verify(),
        Err(Error::PcrReplayMismatch { bank: HashAlg::Sha384, pcr: p, .. }) if p == pcr
    ));
}

#[test]
fn a_quoted_bank_missing_from_the_log_is_rejected() {
    let mut gce = Gce::new(HashAlg::Sha256);
    gce.logs = vec![MeasurementLog::Tcg(
        EventLog::parse(&read("go-tpm-tools-eventlogs/debian-10.bin")).expect("log"),
    )];
    assert_eq!(
        gce.verify(),
        Err(Error::BankNotInLog {
            bank: HashAlg::Sha256
        })
    );
}

#[test]
fn replay_required_mask_rejects_the_unlogged_ima_pcr() {
    let gce = Gce::new(HashAlg::Sha256);
    let mut options = VerifyOptions::new(&NONCE, gce_time(), &gce.anchors);
    options.replay_required_mask = 0x3ff;
    assert!(gce.verify_options(&options).is_ok(), "PCRs 0-9 are logged");
    options.replay_required_mask = 1 << 10;
    assert_eq!(
        gce.verify_options(&options),
        Err(Error::PcrNotLogged {
            bank: HashAlg::Sha256,
            pcr: 10
        })
    );
}

#[test]
fn aik_not_chaining_to_a_trusted_root_is_rejected_or_reported() {
    let mut gce = Gce::new(HashAlg::Sha256);
    gce.anchors = TrustAnchors::from_der([read(&format!("{GCE}/certs/gcp_ek_ak_ca_root.crt"))])
        .expect("root");
    let error = gce.verify().expect_err("foreign root");
    match &error {
        Error::UntrustedAik { issuer } => {
            assert!(issuer.contains("tpm_ek_v1_cloud_host_root"), "{issuer}")
        }
        other => panic!("{other:?}"),
    }
    // Not required: the quote verifies, aikValidated is false and says why.
    let mut options = VerifyOptions::new(&NONCE, gce_time(), &gce.anchors);
    options.require_valid_aik_cert = false;
    let verified = gce.verify_options(&options).expect("verifies");
    assert_eq!(verified.aik.status, AikStatus::Invalid(error));
    assert!(!verified.aik.validated());

    // Without the intermediate there is no path either.
    let mut gce = Gce::new(HashAlg::Sha256);
    gce.aik = gce_aik().with_intermediates(Vec::new());
    assert!(matches!(gce.verify(), Err(Error::UntrustedAik { .. })));
}

#[test]
fn expired_and_not_yet_valid_aik_certificates_are_rejected() {
    let gce = Gce::new(HashAlg::Sha256);
    // The AK certificate expires on 2051-08-24; its issuer lives until 2120.
    match gce.verify_with(&NONCE, at(2_600_000_000)) {
        Err(Error::CertificateExpired {
            role: CertRole::AikCertificate,
            not_after,
            ..
        }) => assert_eq!(not_after.as_secs(), 2_576_531_765), // 2051-08-24T23:16:05Z
        other => panic!("{other:?}"),
    }
    // Issued 2021-08-31.
    assert!(matches!(
        gce.verify_with(&NONCE, at(1_600_000_000)),
        Err(Error::CertificateNotYetValid {
            role: CertRole::AikCertificate,
            ..
        })
    ));
}

#[test]
fn a_flipped_byte_in_the_aik_certificate_signature_is_rejected() {
    let mut gce = Gce::new(HashAlg::Sha256);
    let mut cert = read(&format!("{GCE}/ak_cert.der"));
    let last = cert.len() - 1;
    cert[last] ^= 0x01;
    gce.aik = gce_aik().with_certificate(cert);
    assert_eq!(
        gce.verify(),
        Err(Error::CertificateSignature {
            role: CertRole::AikCertificate
        })
    );
}

#[test]
fn an_aik_certificate_for_another_key_is_rejected() {
    let mut gce = Gce::new(HashAlg::Sha256);
    // The Windows AK's TPMT_PUBLIC with the GCE AK's certificate.
    gce.aik = AikEvidence::new()
        .with_tpm_public(&read(&format!("{WINDOWS}/ak.tpmt_public")))
        .expect("AK")
        .with_certificate(read(&format!("{GCE}/ak_cert.der")));
    assert_eq!(gce.verify(), Err(Error::AikKeyMismatch));
}

#[test]
fn a_quote_signed_by_another_key_is_rejected() {
    let mut gce = Gce::new(HashAlg::Sha256);
    let (windows_quote, windows_sig) = (
        read(&format!("{WINDOWS}/quote_sha1.tpms_attest")),
        read(&format!("{WINDOWS}/quote_sha1.tpmt_signature")),
    );
    gce.quote = windows_quote;
    gce.signature = windows_sig;
    assert!(matches!(gce.verify(), Err(Error::BadSignature { .. })));
}

// ---- synthetic quotes: selections, key types, attributes ---------------------------------

/// A synthetic SHA-256 quote over `mask` with all-zero PCR values (no logs).
fn synthetic(mask: u32, nonce: &[u8]) -> (Vec<u8>, PcrValues) {
    let mut pcrs = PcrValues::new();
    let mut values = Vec::new();
    for pcr in (0..24).filter(|i| mask & (1 << i) != 0) {
        let value = attesto_tpm::replay::reset_value(HashAlg::Sha256, pcr);
        values.push(value.clone());
        pcrs.insert(HashAlg::Sha256, pcr, value).expect("insert");
    }
    let refs: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    let digest = synth::pcr_digest(HashAlg::Sha256, &refs);
    (
        synth::quote(nonce, &[(HashAlg::Sha256, mask)], &digest),
        pcrs,
    )
}

#[test]
fn a_quote_over_a_different_selection_fails_required_pcr_mask() {
    let ak = EcdsaAk::generate();
    let aik = AikEvidence::new()
        .with_tpm_public(&ak.tpmt_public(AK_ATTRIBUTES))
        .expect("AK");
    let anchors = TrustAnchors::empty();
    let (quote, pcrs) = synthetic(0xff, b"challenge");
    let signature = ak.sign(&quote);
    let evidence = QuoteEvidence {
        quote: &quote,
        signature: &signature,
        pcrs: &pcrs,
        logs: &[],
        aik: &aik,
    };
    let mut options = VerifyOptions::new(b"challenge", gce_time(), &anchors);
    options.require_valid_aik_cert = false;
    assert_eq!(
        verify_quote(&evidence, &options),
        Err(Error::RequiredPcrNotQuoted {
            pcr: 8,
            mask: 0x00ff_ffff
        })
    );
    options.required_pcr_mask = 0xff;
    let verified = verify_quote(&evidence, &options).expect("PCRs 0-7 suffice");
    assert_eq!(verified.selection[0].pcrs, 0xff);
    assert_eq!(
        verified.verified_pcrs, 0,
        "no logs, nothing replay-verified"
    );
}

#[test]
fn ecdsa_and_rsa_pss_and_rsassa_aiks_verify() {
    let anchors = TrustAnchors::empty();
    let (quote, pcrs) = synthetic(0x00ff_ffff, b"n");
    let mut options = VerifyOptions::new(b"n", gce_time(), &anchors);
    options.require_valid_aik_cert = false;

    let ecdsa = EcdsaAk::generate();
    let rsa = RsaAk::generate();
    let cases = [
        (ecdsa.tpmt_public(AK_ATTRIBUTES), ecdsa.sign(&quote)),
        (rsa.tpmt_public(AK_ATTRIBUTES), rsa.sign(&quote, true)),
        (rsa.tpmt_public(AK_ATTRIBUTES), rsa.sign(&quote, false)),
    ];
    for (public, signature) in &cases {
        let aik = AikEvidence::new().with_tpm_public(public).expect("AK");
        let evidence = QuoteEvidence {
            quote: &quote,
            signature,
            pcrs: &pcrs,
            logs: &[],
            aik: &aik,
        };
        verify_quote(&evidence, &options).expect("verifies");
        // The same signature under another key fails.
        let other = AikEvidence::new()
            .with_tpm_public(&EcdsaAk::generate().tpmt_public(AK_ATTRIBUTES))
            .expect("AK");
        let evidence = QuoteEvidence {
            aik: &other,
            ..evidence
        };
        assert!(matches!(
            verify_quote(&evidence, &options),
            Err(Error::BadSignature { .. } | Error::SchemeKeyMismatch { .. })
        ));
    }
}

#[test]
fn an_aik_that_is_not_a_restricted_signing_key_is_rejected() {
    let ak = EcdsaAk::generate();
    for (attributes, reason) in [
        (AK_ATTRIBUTES & !(1 << 16), "not restricted"),
        (AK_ATTRIBUTES & !(1 << 18), "not a signing key"),
        (AK_ATTRIBUTES & !(1 << 1), "not fixedTPM"),
        (AK_ATTRIBUTES | (1 << 17), "also a decryption key"),
    ] {
        let anchors = TrustAnchors::empty();
        let (quote, pcrs) = synthetic(0x00ff_ffff, b"n");
        let signature = ak.sign(&quote);
        let aik = AikEvidence::new()
            .with_tpm_public(&ak.tpmt_public(attributes))
            .expect("parses");
        let mut options = VerifyOptions::new(b"n", gce_time(), &anchors);
        options.require_valid_aik_cert = false;
        match verify_quote(
            &QuoteEvidence {
                quote: &quote,
                signature: &signature,
                pcrs: &pcrs,
                logs: &[],
                aik: &aik,
            },
            &options,
        ) {
            Err(Error::AikAttributes { reason: r, .. }) => assert!(r.contains(reason), "{r}"),
            other => panic!("{attributes:#x}: {other:?}"),
        }
    }
}

#[test]
fn a_certification_is_not_a_quote() {
    let ak = EcdsaAk::generate();
    let anchors = TrustAnchors::empty();
    let certification = synth::certify(b"n", &[0, 0x0b, 1, 2, 3]);
    let signature = ak.sign(&certification);
    let aik = AikEvidence::new()
        .with_tpm_public(&ak.tpmt_public(AK_ATTRIBUTES))
        .expect("AK");
    let mut options = VerifyOptions::new(b"n", gce_time(), &anchors);
    options.require_valid_aik_cert = false;
    assert_eq!(
        verify_quote(
            &QuoteEvidence {
                quote: &certification,
                signature: &signature,
                pcrs: &PcrValues::new(),
                logs: &[],
                aik: &aik,
            },
            &options,
        ),
        Err(Error::WrongAttestationType {
            expected: 0x8018,
            found: 0x8017
        })
    );
}

#[test]
fn intermediates_are_bounded() {
    let intermediate = read(&format!("{GCE}/certs/tpm_ek_intermediate_2.crt"));
    let mut gce = Gce::new(HashAlg::Sha256);
    // Eight copies of the right intermediate: the search still finds the path.
    gce.aik = gce_aik().with_intermediates(vec![intermediate.clone(); 8]);
    assert!(gce.verify().expect("verifies").aik.validated());
    // Nine is more than any AIK chain needs.
    gce.aik = gce_aik().with_intermediates(vec![intermediate; 9]);
    assert!(matches!(
        gce.verify(),
        Err(Error::Certificate {
            role: CertRole::Intermediate(8),
            ..
        })
    ));
}
