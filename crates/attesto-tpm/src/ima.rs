//! Linux IMA measurement lists, the second log type (MAA's `"type": "IMA"`): the kernel's
//! `binary_runtime_measurements` and `ascii_runtime_measurements`.
//!
//! Binary entry (little-endian): `{pcr u32, template_hash[20], name_len u32, name,
//! data_len u32, data}`, where `data` is the template fields, each `{len u32, bytes}`.
//! The template hash is SHA-1 over `data` exactly as logged (lengths included); a violation
//! entry has an all-zero template hash and extends PCR 10 with all-ones instead.
//!
//! Supported templates: `ima-ng` (`d-ng|n-ng`), `ima-sig` (`d-ng|n-ng|sig`), `ima-buf`
//! (`d-ng|n-ng|buf`) and other templates whose fields use the same length-prefixed encoding
//! (binary only). The legacy `ima` template (fixed-size fields, no lengths) is rejected.
//! Replay into banks other than SHA-1 uses the bank's hash of the template data, as kernels
//! since 5.11 do.

use crate::alg::HashAlg;
use crate::error::Error;
use crate::reader::Reader;

/// Longest template name accepted (the kernel's limit is 15).
const MAX_TEMPLATE_NAME: u32 = 255;

/// One measurement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImaEntry {
    /// Position in the list (0-based).
    pub index: usize,
    /// PCR index (10 unless the kernel was configured otherwise).
    pub pcr: u32,
    /// SHA-1 template hash (all zeros for a violation).
    pub template_hash: [u8; 20],
    /// Template name (`ima-ng`, ...).
    pub template_name: String,
    /// Template fields, in order.
    pub fields: Vec<Vec<u8>>,
    template_data: Vec<u8>,
}

impl ImaEntry {
    /// A violation (a file measured while open for writing, or a failed measurement).
    #[must_use]
    pub fn is_violation(&self) -> bool {
        self.template_hash.iter().all(|b| *b == 0)
    }

    /// The template data as hashed (fields with their length prefixes).
    #[must_use]
    pub fn template_data(&self) -> &[u8] {
        &self.template_data
    }

    /// The `d-ng` field: `(algorithm, digest)` of the measured file or buffer.
    #[must_use]
    pub fn file_digest(&self) -> Option<(String, Vec<u8>)> {
        let field = self.fields.first()?;
        let colon = field.iter().position(|b| *b == b':')?;
        let algorithm = std::str::from_utf8(field.get(..colon)?).ok()?.to_owned();
        // "algo:" is followed by a NUL, then the digest.
        match field.get(colon.saturating_add(1)..)? {
            [0, digest @ ..] => Some((algorithm, digest.to_vec())),
            _ => None,
        }
    }

    /// The `n-ng` field: the file name (or buffer name for `ima-buf`).
    #[must_use]
    pub fn file_name(&self) -> Option<String> {
        let field = self.fields.get(1)?;
        let name = field.strip_suffix(&[0]).unwrap_or(field);
        Some(String::from_utf8_lossy(name).into_owned())
    }

    /// The third field: the signature (`ima-sig`) or the buffer (`ima-buf`).
    #[must_use]
    pub fn third_field(&self) -> Option<&[u8]> {
        self.fields.get(2).map(Vec::as_slice)
    }

    /// What this entry extends into `bank`.
    #[must_use]
    pub fn extend_digest(&self, bank: HashAlg) -> Vec<u8> {
        if self.is_violation() {
            vec![0xff; bank.digest_len()]
        } else if bank == HashAlg::Sha1 {
            self.template_hash.to_vec()
        } else {
            bank.digest(&self.template_data)
        }
    }
}

/// A parsed IMA measurement list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImaLog {
    /// The entries in measurement order.
    pub entries: Vec<ImaEntry>,
}

impl ImaLog {
    /// Parses either format: text if the first byte is an ASCII digit (a PCR number), binary
    /// otherwise.
    ///
    /// # Errors
    /// As [`ImaLog::parse_binary`] / [`ImaLog::parse_ascii`].
    pub fn parse(bytes: &[u8]) -> Result<ImaLog, Error> {
        match bytes.first() {
            Some(b) if b.is_ascii_digit() => ImaLog::parse_ascii(bytes),
            _ => ImaLog::parse_binary(bytes),
        }
    }

    /// Parses `binary_runtime_measurements`. Every entry's template hash must be the SHA-1 of
    /// its data (except violations).
    ///
    /// # Errors
    /// [`Error::Truncated`], [`Error::Malformed`], [`Error::Unsupported`] (legacy `ima`
    /// template), [`Error::ImaTemplateHash`].
    pub fn parse_binary(bytes: &[u8]) -> Result<ImaLog, Error> {
        let mut r = Reader::new(bytes, "IMA binary log");
        if r.is_empty() {
            return Err(r.error_at("entry", 0, "the log is empty"));
        }
        let mut entries = Vec::new();
        while !r.is_empty() {
            let index = entries.len();
            let pcr = r.u32_le("pcr")?;
            let template_hash = r.array::<20>("template_hash")?;
            let name_at = r.offset();
            let name_len = r.u32_le("template_name_len")?;
            if name_len == 0 || name_len > MAX_TEMPLATE_NAME {
                return Err(r.error_at("template_name_len", name_at, format!("{name_len} bytes")));
            }
            let name_bytes = r.bytes_u64(u64::from(name_len), "template_name")?;
            let template_name = std::str::from_utf8(name_bytes)
                .map_err(|_| r.error_at("template_name", name_at, "not UTF-8"))?
                .to_owned();
            if template_name == "ima" {
                return Err(Error::Unsupported {
                    what: "IMA template \"ima\" (use ima-ng)".to_owned(),
                });
            }
            let data_len = r.u32_le("template_data_len")?;
            let data_at = r.offset();
            let template_data = r.bytes_u64(u64::from(data_len), "template_data")?.to_vec();
            let fields = split_fields(&template_data, data_at)?;
            let entry = ImaEntry {
                index,
                pcr,
                template_hash,
                template_name,
                fields,
                template_data,
            };
            check_template_hash(&entry)?;
            entries.push(entry);
        }
        Ok(ImaLog { entries })
    }

    /// Parses `ascii_runtime_measurements`: lines `PCR template-hash template-name fields...`.
    /// The template data is rebuilt from the text and must hash to the template hash, so the
    /// text cannot say anything the binary form would not.
    ///
    /// # Errors
    /// [`Error::Malformed`] (naming the line), [`Error::Unsupported`],
    /// [`Error::ImaTemplateHash`].
    pub fn parse_ascii(bytes: &[u8]) -> Result<ImaLog, Error> {
        let text = std::str::from_utf8(bytes)
            .map_err(|e| Error::malformed("IMA ascii log", "text", e.valid_up_to(), "not UTF-8"))?;
        let mut entries = Vec::new();
        let mut offset = 0usize;
        for line in text.split('\n') {
            let line_at = offset;
            offset = offset.saturating_add(line.len()).saturating_add(1);
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                continue;
            }
            let entry = parse_ascii_line(line, line_at, entries.len())?;
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(Error::malformed(
                "IMA ascii log",
                "entry",
                0,
                "the log is empty",
            ));
        }
        Ok(ImaLog { entries })
    }
}

fn bad_line(offset: usize, reason: impl Into<String>) -> Error {
    Error::malformed("IMA ascii log", "line", offset, reason)
}

fn parse_ascii_line(line: &str, at: usize, index: usize) -> Result<ImaEntry, Error> {
    let mut parts = line.splitn(4, ' ');
    let (Some(pcr), Some(hash), Some(name), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_line(at, "fewer than four columns"));
    };
    let pcr: u32 = pcr
        .parse()
        .map_err(|_| bad_line(at, format!("PCR `{pcr}` is not a number")))?;
    let mut template_hash = [0u8; 20];
    hex::decode_to_slice(hash, &mut template_hash)
        .map_err(|_| bad_line(at, "template hash is not 40 hex digits"))?;
    let (digest_text, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let (algorithm, digest_hex) = digest_text
        .split_once(':')
        .ok_or_else(|| bad_line(at, "file digest is not `algorithm:hex`"))?;
    let digest = hex::decode(digest_hex).map_err(|_| bad_line(at, "file digest is not hex"))?;
    let mut d_ng = Vec::with_capacity(
        algorithm
            .len()
            .saturating_add(2)
            .saturating_add(digest.len()),
    );
    d_ng.extend_from_slice(algorithm.as_bytes());
    d_ng.extend_from_slice(b":\0");
    d_ng.extend_from_slice(&digest);
    let with_name = |name: &str| {
        let mut n_ng = name.as_bytes().to_vec();
        n_ng.push(0);
        n_ng
    };
    // Candidate field lists; the first whose rebuilt data hashes to the template hash wins
    // (a path may contain spaces, so `ima-sig`'s optional last column is ambiguous).
    let mut candidates: Vec<Vec<Vec<u8>>> = Vec::new();
    match name {
        "ima-ng" => candidates.push(vec![d_ng, with_name(tail)]),
        "ima-sig" | "ima-buf" => {
            if let Some((head, last)) = tail.rsplit_once(' ')
                && let Ok(third) = hex::decode(last)
            {
                candidates.push(vec![d_ng.clone(), with_name(head), third]);
            }
            candidates.push(vec![d_ng, with_name(tail), Vec::new()]);
        }
        "ima" => {
            return Err(Error::Unsupported {
                what: "IMA template \"ima\" (use ima-ng)".to_owned(),
            });
        }
        other => {
            return Err(Error::Unsupported {
                what: format!("IMA template \"{other}\" in the ascii format"),
            });
        }
    }
    let violation = template_hash.iter().all(|b| *b == 0);
    for fields in candidates {
        let template_data = join_fields(&fields);
        let entry = ImaEntry {
            index,
            pcr,
            template_hash,
            template_name: name.to_owned(),
            fields,
            template_data,
        };
        if violation || check_template_hash(&entry).is_ok() {
            return Ok(entry);
        }
    }
    Err(Error::ImaTemplateHash { entry: index })
}

fn join_fields(fields: &[Vec<u8>]) -> Vec<u8> {
    let mut data = Vec::new();
    for field in fields {
        let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
        data.extend_from_slice(&len.to_le_bytes());
        data.extend_from_slice(field);
    }
    data
}

fn split_fields(data: &[u8], base: usize) -> Result<Vec<Vec<u8>>, Error> {
    let mut r = Reader::with_base(data, base, "IMA template data");
    let mut fields = Vec::new();
    while !r.is_empty() {
        let len = r.u32_le("field length")?;
        fields.push(r.bytes_u64(u64::from(len), "field")?.to_vec());
    }
    Ok(fields)
}

fn check_template_hash(entry: &ImaEntry) -> Result<(), Error> {
    if entry.is_violation() || HashAlg::Sha1.digest(&entry.template_data) == entry.template_hash {
        Ok(())
    } else {
        Err(Error::ImaTemplateHash { entry: entry.index })
    }
}
