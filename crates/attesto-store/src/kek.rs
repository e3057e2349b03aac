//! Encryption at rest: the key-encryption key (KEK), where it comes from, and the keys derived
//! from it.
//!
//! Private keys (token-signing keys, the TLS CA and server keys) are sealed with AES-256-GCM;
//! policies, policy versions, signer lists, providers and the audit log carry an HMAC-SHA256 tag.
//! Both keys are derived from the KEK with HKDF-SHA256, so the one secret an operator manages
//! never touches a record directly and the cipher and MAC keys are independent. A third derived
//! value, stored in the database, tells a wrong KEK apart from tampered records at open time.

use core::fmt;
use std::io::Write as _;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use aws_lc_rs::{aead, constant_time, hkdf, hmac, pbkdf2, rand};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::error::StoreError;

/// Length of a KEK in bytes (AES-256).
pub const KEK_LEN: usize = 32;

/// PBKDF2-HMAC-SHA256 iterations for a passphrase KEK: OWASP's 2023 recommendation. A database
/// records the count it was created with; a lower recorded count is refused.
pub const PBKDF2_ITERATIONS: u32 = 600_000;

/// Length of the random salt stored for a passphrase KEK.
const SALT_LEN: usize = 16;

/// Passphrases shorter than this are refused: PBKDF2 slows guessing, it cannot make a
/// four-letter word strong.
pub const MIN_PASSPHRASE_LEN: usize = 8;

/// HKDF salt: a fixed domain separator for this store's key derivation.
const HKDF_SALT: &[u8] = b"attesto-store kek v1";

/// A key-encryption key: 32 secret bytes, wiped from memory on drop.
pub struct Kek {
    bytes: [u8; KEK_LEN],
}

impl Drop for Kek {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl fmt::Debug for Kek {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Kek(<redacted>)")
    }
}

impl Kek {
    /// A KEK from raw bytes (for callers that fetch it from a secret manager).
    #[must_use]
    pub fn from_bytes(bytes: [u8; KEK_LEN]) -> Self {
        Self { bytes }
    }

    /// A fresh random KEK from the system's secure RNG.
    ///
    /// # Errors
    /// [`StoreError::Crypto`] if the RNG fails.
    pub fn generate() -> Result<Self, StoreError> {
        let mut bytes = [0u8; KEK_LEN];
        rand::fill(&mut bytes).map_err(|_| StoreError::Crypto {
            reason: "the system random number generator failed",
        })?;
        Ok(Self { bytes })
    }

    /// Reads a KEK file: exactly 32 raw bytes, or 64 hex digits (surrounding whitespace, such as
    /// a trailing newline, is ignored).
    ///
    /// # Errors
    /// [`StoreError::KekIo`] if unreadable, [`StoreError::KekInvalid`] for any other content.
    pub fn from_file(path: &Path) -> Result<Self, StoreError> {
        let content = Zeroizing::new(std::fs::read(path).map_err(|source| StoreError::KekIo {
            path: path.to_owned(),
            source,
        })?);
        let origin = || format!("file {}", path.display());
        if let Ok(bytes) = <[u8; KEK_LEN]>::try_from(content.as_slice()) {
            return Ok(Self { bytes });
        }
        let text = core::str::from_utf8(&content).map_err(|_| StoreError::KekInvalid {
            origin: origin(),
            reason: format!("expected {KEK_LEN} raw bytes or {} hex digits", KEK_LEN * 2),
        })?;
        Self::from_hex(text.trim(), &origin)
    }

    /// Reads a KEK from an environment variable holding 64 hex digits.
    ///
    /// # Errors
    /// [`StoreError::KekInvalid`] if the variable is unset, not Unicode or not 64 hex digits.
    pub fn from_env(var: &str) -> Result<Self, StoreError> {
        let origin = || format!("environment variable {var}");
        let value = Zeroizing::new(std::env::var(var).map_err(|e| StoreError::KekInvalid {
            origin: origin(),
            reason: e.to_string(),
        })?);
        Self::from_hex(value.trim(), &origin)
    }

    /// Derives a KEK from a passphrase with PBKDF2-HMAC-SHA256 ([`PBKDF2_ITERATIONS`]) and the
    /// salt stored in the database (see [`crate::KekSource::Passphrase`], which handles the
    /// salt). Deliberately slow: about a second.
    ///
    /// # Errors
    /// [`StoreError::KekInvalid`] for a passphrase shorter than [`MIN_PASSPHRASE_LEN`] bytes or
    /// an empty salt.
    pub fn from_passphrase(passphrase: &str, salt: &[u8]) -> Result<Self, StoreError> {
        Self::from_passphrase_with(passphrase, salt, PBKDF2_ITERATIONS)
    }

    pub(crate) fn from_passphrase_with(
        passphrase: &str,
        salt: &[u8],
        iterations: u32,
    ) -> Result<Self, StoreError> {
        let invalid = |reason: String| StoreError::KekInvalid {
            origin: "passphrase".to_owned(),
            reason,
        };
        if passphrase.len() < MIN_PASSPHRASE_LEN {
            return Err(invalid(format!("shorter than {MIN_PASSPHRASE_LEN} bytes")));
        }
        if salt.is_empty() {
            return Err(invalid("empty salt".to_owned()));
        }
        let iterations = NonZeroU32::new(iterations)
            .filter(|n| n.get() >= PBKDF2_ITERATIONS)
            .ok_or_else(|| {
                invalid(format!(
                    "{iterations} PBKDF2 iterations recorded; at least {PBKDF2_ITERATIONS} required"
                ))
            })?;
        let mut bytes = [0u8; KEK_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            salt,
            passphrase.as_bytes(),
            &mut bytes,
        );
        Ok(Self { bytes })
    }

    fn from_hex(text: &str, origin: &dyn Fn() -> String) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::KekInvalid {
            origin: origin(),
            reason: reason.to_owned(),
        };
        if text.len() != KEK_LEN * 2 {
            return Err(invalid("expected 64 hex digits (32 bytes)"));
        }
        let mut bytes = [0u8; KEK_LEN];
        for (out, pair) in bytes.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16);
            match (
                pair.first().copied().and_then(digit),
                pair.get(1).copied().and_then(digit),
            ) {
                (Some(hi), Some(lo)) => *out = u8::try_from(hi * 16 + lo).unwrap_or(0),
                _ => {
                    bytes.zeroize();
                    return Err(invalid("not hex"));
                }
            }
        }
        Ok(Self { bytes })
    }

    /// The key as 64 lowercase hex digits and a newline: the format of the generated file.
    fn to_hex_line(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::with_capacity(KEK_LEN * 2 + 1));
        for byte in self.bytes {
            for nibble in [byte >> 4, byte & 0x0f] {
                out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
            }
        }
        out.push('\n');
        out
    }
}

/// Where [`crate::Store::open_with`] gets the key-encryption key.
#[derive(Debug)]
#[non_exhaustive]
pub enum KekSource {
    /// `<data_dir>/kek`, generated (0600, written atomically) when a database without a KEK is
    /// opened. Convenient, and what [`crate::Store::open`] uses, but the key then sits next to
    /// the data it protects: it guards against leaked backups or copies of the database file
    /// only. Production should supply the KEK from elsewhere (a secret manager, a separate
    /// volume, a passphrase).
    DataDir,
    /// A file holding 32 raw bytes or 64 hex digits ([`Kek::from_file`]).
    File(PathBuf),
    /// An environment variable holding 64 hex digits ([`Kek::from_env`]).
    Env(String),
    /// A passphrase; the PBKDF2 salt is generated on first open and stored in the database.
    Passphrase(String),
    /// A key the caller already has.
    Key(Kek),
}

/// PBKDF2 parameters of a passphrase KEK, stored (unprotected: they are not secret, and a
/// tampered value only yields a KEK that fails the check) in the `crypto` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct KdfParams {
    pub(crate) alg: String,
    pub(crate) iterations: u32,
    #[serde(with = "crate::records::b64")]
    pub(crate) salt: Vec<u8>,
}

impl KdfParams {
    pub(crate) const ALG: &'static str = "pbkdf2-hmac-sha256";

    /// Fresh parameters with a random salt.
    pub(crate) fn generate() -> Result<Self, StoreError> {
        let mut salt = vec![0u8; SALT_LEN];
        rand::fill(&mut salt).map_err(|_| StoreError::Crypto {
            reason: "the system random number generator failed",
        })?;
        Ok(Self {
            alg: Self::ALG.to_owned(),
            iterations: PBKDF2_ITERATIONS,
            salt,
        })
    }

    pub(crate) fn derive(&self, passphrase: &str) -> Result<Kek, StoreError> {
        if self.alg != Self::ALG {
            return Err(StoreError::KekInvalid {
                origin: "passphrase".to_owned(),
                reason: format!("the database uses key derivation {:?}", self.alg),
            });
        }
        Kek::from_passphrase_with(passphrase, &self.salt, self.iterations)
    }
}

/// How a protected record is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protection {
    /// AES-256-GCM: confidential and authenticated (private keys).
    Sealed,
    /// HMAC-SHA256 tag, readable (policies, signers, providers, audit).
    Mac,
}

impl Protection {
    const fn tag_byte(self) -> u8 {
        match self {
            Self::Sealed => b'S',
            Self::Mac => b'M',
        }
    }
}

/// The frame format version: the first byte of every protected value, and part of the
/// authenticated data.
pub(crate) const FRAME_VERSION: u8 = 1;
const NONCE_LEN: usize = aead::NONCE_LEN;
const MAC_LEN: usize = 32;

/// The keys derived from one KEK.
pub(crate) struct Keys {
    seal: aead::LessSafeKey,
    mac: hmac::Key,
    check: [u8; 32],
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

impl Keys {
    pub(crate) fn derive(kek: &Kek) -> Result<Self, StoreError> {
        let failed = |_| StoreError::Crypto {
            reason: "deriving keys from the KEK",
        };
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(&kek.bytes);
        let expand = |info: &[u8]| -> Result<Zeroizing<[u8; 32]>, StoreError> {
            let mut out = Zeroizing::new([0u8; 32]);
            prk.expand(&[info], hkdf::HKDF_SHA256)
                .and_then(|okm| okm.fill(out.as_mut_slice()))
                .map_err(failed)?;
            Ok(out)
        };
        let seal_key = expand(b"record encryption (AES-256-GCM)")?;
        let mac_key = expand(b"record integrity (HMAC-SHA256)")?;
        let check = expand(b"kek check value")?;
        let seal = aead::UnboundKey::new(&aead::AES_256_GCM, seal_key.as_slice())
            .map(aead::LessSafeKey::new)
            .map_err(failed)?;
        Ok(Self {
            seal,
            mac: hmac::Key::new(hmac::HMAC_SHA256, mac_key.as_slice()),
            check: *check,
        })
    }

    /// The value stored in the database to recognise this KEK. Derived one-way, so it reveals
    /// nothing about the KEK or the record keys.
    pub(crate) fn check_value(&self) -> &[u8; 32] {
        &self.check
    }

    pub(crate) fn check_matches(&self, stored: &[u8]) -> bool {
        constant_time::verify_slices_are_equal(&self.check, stored).is_ok()
    }

    /// Frames `inner` for `(table, key parts)`.
    pub(crate) fn protect(
        &self,
        protection: Protection,
        table: &'static str,
        parts: &[&str],
        inner: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let context = context(protection, table, parts);
        let mut out = vec![FRAME_VERSION, protection.tag_byte()];
        match protection {
            Protection::Sealed => {
                let mut nonce = [0u8; NONCE_LEN];
                rand::fill(&mut nonce).map_err(|_| StoreError::Crypto {
                    reason: "the system random number generator failed",
                })?;
                let mut buffer = inner.to_vec();
                self.seal
                    .seal_in_place_append_tag(
                        aead::Nonce::assume_unique_for_key(nonce),
                        aead::Aad::from(context.as_slice()),
                        &mut buffer,
                    )
                    .map_err(|_| StoreError::Crypto {
                        reason: "AES-GCM encryption",
                    })?;
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&buffer);
            }
            Protection::Mac => {
                let mut signer = hmac::Context::with_key(&self.mac);
                signer.update(&context);
                signer.update(inner);
                out.extend_from_slice(signer.sign().as_ref());
                out.extend_from_slice(inner);
            }
        }
        Ok(out)
    }

    /// Checks and unwraps a framed value; the plaintext is wiped when dropped.
    pub(crate) fn unprotect(
        &self,
        protection: Protection,
        table: &'static str,
        parts: &[&str],
        bytes: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let integrity = || StoreError::Integrity {
            table,
            key: parts.join("/"),
        };
        let (Some(&version), Some(&kind)) = (bytes.first(), bytes.get(1)) else {
            return Err(integrity());
        };
        if version != FRAME_VERSION {
            // A frame from a newer build (small numbers) is reported as such; anything else,
            // including a bare JSON record, was not written by this store.
            if (FRAME_VERSION + 1..=0x1f).contains(&version) {
                return Err(StoreError::UnsupportedVersion {
                    table,
                    key: parts.join("/"),
                    found: u64::from(version),
                    supported: u64::from(FRAME_VERSION),
                });
            }
            return Err(integrity());
        }
        if kind != protection.tag_byte() {
            return Err(integrity());
        }
        let body = bytes.get(2..).unwrap_or_default();
        let context = context(protection, table, parts);
        match protection {
            Protection::Sealed => {
                if body.len() < NONCE_LEN + aead::AES_256_GCM.tag_len() {
                    return Err(integrity());
                }
                let (nonce, ciphertext) = body.split_at(NONCE_LEN);
                let nonce = <[u8; NONCE_LEN]>::try_from(nonce).map_err(|_| integrity())?;
                let mut buffer = Zeroizing::new(ciphertext.to_vec());
                let plain_len = self
                    .seal
                    .open_in_place(
                        aead::Nonce::assume_unique_for_key(nonce),
                        aead::Aad::from(context.as_slice()),
                        buffer.as_mut_slice(),
                    )
                    .map_err(|_| integrity())?
                    .len();
                buffer.truncate(plain_len);
                Ok(buffer)
            }
            Protection::Mac => {
                if body.len() < MAC_LEN {
                    return Err(integrity());
                }
                let (tag, inner) = body.split_at(MAC_LEN);
                let mut data = context;
                data.extend_from_slice(inner);
                hmac::verify(&self.mac, &data, tag).map_err(|_| integrity())?;
                Ok(Zeroizing::new(inner.to_vec()))
            }
        }
    }
}

/// The authenticated context of a record: domain, frame version, protection, table and key
/// parts, each length-prefixed so no two different contexts encode alike. Binding the table and
/// key stops a valid record from being copied to another key (another provider's policy slot,
/// another provider's signer list).
fn context(protection: Protection, table: &str, parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(b"attesto-store record\0");
    out.push(FRAME_VERSION);
    out.push(protection.tag_byte());
    let mut field = |bytes: &[u8]| {
        out.extend_from_slice(&u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    };
    field(table.as_bytes());
    for part in parts {
        field(part.as_bytes());
    }
    out
}

/// Writes a new KEK file atomically with mode 0600: temporary file, fsync, rename, fsync of the
/// directory. An existing file is never replaced.
pub(crate) fn write_new_kek_file(path: &Path, kek: &Kek) -> Result<(), StoreError> {
    let io = |source| StoreError::KekIo {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".kek.tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    let written = file
        .write_all(kek.to_hex_line().as_bytes())
        .and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ignored = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    // hard_link + remove instead of rename: fails if the target appeared meanwhile, so an
    // existing KEK is never overwritten.
    match std::fs::hard_link(&tmp, path) {
        Ok(()) => {
            let _ignored = std::fs::remove_file(&tmp);
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ignored = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Err(_) => {
            // A file system without hard links. The caller holds the database lock, so no
            // other attesto process is generating a KEK for this directory right now.
            if path.exists() {
                let _ignored = std::fs::remove_file(&tmp);
                return Err(io(std::io::Error::from(std::io::ErrorKind::AlreadyExists)));
            }
            std::fs::rename(&tmp, path).map_err(io)?;
        }
    }
    sync_dir(dir).map_err(io)
}

/// Makes a rename or unlink in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::fs::File::open(dir).and_then(|d| d.sync_all())
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(n: u8) -> Kek {
        Kek::from_bytes([n; KEK_LEN])
    }

    #[test]
    fn sealed_and_maced_frames_round_trip_and_bind_their_context() -> Result<(), StoreError> {
        let keys = Keys::derive(&kek(1))?;
        for protection in [Protection::Sealed, Protection::Mac] {
            let framed = keys.protect(protection, "t", &["a", "b"], b"hello")?;
            let back = keys.unprotect(protection, "t", &["a", "b"], &framed)?;
            assert_eq!(back.as_slice(), b"hello");
            // Another key, table, split of the key, protection or KEK: refused.
            for (table, parts) in [("t", &["a", "c"][..]), ("u", &["a", "b"]), ("t", &["ab"])] {
                assert!(matches!(
                    keys.unprotect(protection, table, parts, &framed),
                    Err(StoreError::Integrity { .. })
                ));
            }
            let other = Keys::derive(&kek(2))?;
            assert!(matches!(
                other.unprotect(protection, "t", &["a", "b"], &framed),
                Err(StoreError::Integrity { .. })
            ));
            // Every single-byte change is detected.
            for i in 0..framed.len() {
                let mut tampered = framed.clone();
                if let Some(b) = tampered.get_mut(i) {
                    *b ^= 0x01;
                }
                assert!(
                    keys.unprotect(protection, "t", &["a", "b"], &tampered)
                        .is_err(),
                    "{protection:?} byte {i}"
                );
            }
        }
        let sealed = keys.protect(Protection::Sealed, "t", &["a"], b"secret bytes")?;
        assert!(!sealed.windows(12).any(|w| w == b"secret bytes"));
        assert!(matches!(
            keys.unprotect(Protection::Mac, "t", &["a"], &sealed),
            Err(StoreError::Integrity { .. })
        ));
        assert!(matches!(
            keys.unprotect(Protection::Mac, "t", &["a"], br#"{"v":1}"#),
            Err(StoreError::Integrity { .. })
        ));
        assert!(matches!(
            keys.unprotect(Protection::Mac, "t", &["a"], &[2, b'M']),
            Err(StoreError::UnsupportedVersion { found: 2, .. })
        ));
        assert!(keys.unprotect(Protection::Mac, "t", &["a"], &[]).is_err());
        Ok(())
    }

    #[test]
    fn check_value_recognises_the_kek() -> Result<(), StoreError> {
        let one = Keys::derive(&kek(1))?;
        let two = Keys::derive(&kek(2))?;
        assert!(one.check_matches(one.check_value()));
        assert!(!one.check_matches(two.check_value()));
        assert!(!one.check_matches(&[]));
        Ok(())
    }

    #[test]
    fn kek_files_and_variables() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|source| StoreError::KekIo {
            path: PathBuf::new(),
            source,
        })?;
        let generated = Kek::generate()?;
        let path = dir.path().join("kek");
        write_new_kek_file(&path, &generated)?;
        assert_eq!(Kek::from_file(&path)?.bytes, generated.bytes);
        // Never overwritten.
        assert!(matches!(
            write_new_kek_file(&path, &kek(9)),
            Err(StoreError::KekIo { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [7u8; KEK_LEN]).ok();
        assert_eq!(Kek::from_file(&raw)?.bytes, [7u8; KEK_LEN]);
        for bad in [&b"abc"[..], &[b'g'; 64], &[0u8; 31], &[0u8; 33]] {
            std::fs::write(&raw, bad).ok();
            assert!(
                matches!(Kek::from_file(&raw), Err(StoreError::KekInvalid { .. })),
                "{bad:?}"
            );
        }
        assert!(matches!(
            Kek::from_file(&dir.path().join("absent")),
            Err(StoreError::KekIo { .. })
        ));
        assert!(matches!(
            Kek::from_env("ATTESTO_STORE_TEST_SURELY_UNSET_VARIABLE"),
            Err(StoreError::KekInvalid { .. })
        ));
        Ok(())
    }

    #[test]
    fn passphrase_derivation_is_salted_and_refuses_weak_input() -> Result<(), StoreError> {
        let a = Kek::from_passphrase("correct horse battery", b"salt-one-16bytes")?;
        let b = Kek::from_passphrase("correct horse battery", b"salt-one-16bytes")?;
        let c = Kek::from_passphrase("correct horse battery", b"salt-two-16bytes")?;
        assert_eq!(a.bytes, b.bytes);
        assert_ne!(a.bytes, c.bytes);
        assert!(Kek::from_passphrase("short", b"salt").is_err());
        assert!(Kek::from_passphrase("long enough", b"").is_err());
        assert!(Kek::from_passphrase_with("long enough", b"salt", 1000).is_err());
        Ok(())
    }

    #[test]
    fn kek_is_redacted_in_debug() {
        assert_eq!(format!("{:?}", kek(0x41)), "Kek(<redacted>)");
    }
}
