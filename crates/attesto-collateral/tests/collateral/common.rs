//! Shared test helpers: minted collateral with chosen keys and windows, and a scriptable source.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use attesto_collateral::{BoxFuture, CollateralKey, CollateralSource, FetchError, Fetched};
use attesto_testkit::time::{DAY, REFERENCE_TIME, add};
use attesto_testkit::{CollateralBuilder, MintedQuote, QuoteBuilder, TestPki};
use rustls_pki_types::UnixTime;

pub const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dcap");

pub fn read_testdata(path: &str) -> String {
    std::fs::read_to_string(format!("{TESTDATA}/{path}")).expect("testdata file")
}

pub fn unix(secs: u64) -> UnixTime {
    UnixTime::since_unix_epoch(Duration::from_secs(secs))
}

/// Minted collateral under a test PKI (never trusted by default).
pub struct Mint {
    pub pki: TestPki,
    pub quote: MintedQuote,
}

impl Mint {
    pub fn new() -> Self {
        let pki = TestPki::generate().expect("test PKI");
        let quote = QuoteBuilder::sgx_v3().build(&pki).expect("quote");
        Self { pki, quote }
    }

    /// SGX collateral for `fmspc` (CA of the minted quote) valid from `t - 1 day` to
    /// `t + 29 days`.
    pub fn collateral(&self, fmspc: [u8; 6], t: UnixTime) -> Fetched {
        let minted = CollateralBuilder::for_quote(&self.pki, &self.quote)
            .at(t)
            .edit_tcb_info(|tcb| tcb.fmspc = fmspc)
            .build()
            .expect("collateral");
        Fetched::from_json(
            &minted.to_json().expect("json"),
            format!("mint@{}", t.as_secs()),
        )
        .expect("parses")
    }

    /// The key of [`Mint::collateral`] for `fmspc`.
    pub fn key(&self, fmspc: [u8; 6]) -> CollateralKey {
        self.collateral(fmspc, REFERENCE_TIME).key()
    }
}

/// The default FMSPC of the helpers.
pub const FMSPC: [u8; 6] = [0x00, 0xa0, 0x67, 0x11, 0x00, 0x00];

/// `REFERENCE_TIME + days`.
pub fn day(days: u32) -> UnixTime {
    add(REFERENCE_TIME, DAY * days)
}

/// A source answering from a script (the last answer repeats), counting calls, optionally slow.
pub struct ScriptedSource {
    answers: Mutex<VecDeque<Result<Fetched, String>>>,
    last: Mutex<Option<Result<Fetched, String>>>,
    pub calls: AtomicUsize,
    pub delay: Duration,
}

impl ScriptedSource {
    pub fn new(answers: Vec<Result<Fetched, String>>) -> Self {
        Self {
            answers: Mutex::new(answers.into()),
            last: Mutex::new(None),
            calls: AtomicUsize::new(0),
            delay: Duration::ZERO,
        }
    }

    pub fn slow(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Queues more answers.
    pub fn push(&self, answer: Result<Fetched, String>) {
        self.answers.lock().expect("lock").push_back(answer);
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn next(&self) -> Result<Fetched, String> {
        let mut answers = self.answers.lock().expect("lock");
        let mut last = self.last.lock().expect("lock");
        if let Some(answer) = answers.pop_front() {
            *last = Some(answer);
        }
        last.clone()
            .unwrap_or_else(|| Err("no scripted answer".to_owned()))
    }
}

impl CollateralSource for ScriptedSource {
    fn fetch<'a>(&'a self, key: &'a CollateralKey) -> BoxFuture<'a, Result<Fetched, FetchError>> {
        Box::pin(async move {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.next().map_err(|reason| FetchError::Transport {
                url: format!("scripted://{key}"),
                reason,
            })
        })
    }

    fn describe(&self) -> String {
        "scripted source".to_owned()
    }
}
