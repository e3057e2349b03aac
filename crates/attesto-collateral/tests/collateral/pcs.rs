//! PCS and PCCS sources against a mock PCS on 127.0.0.1 whose responses are the real
//! dcap-qvl collateral split back into PCS bodies and headers.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use anyhow::{Result, bail};
use attesto_collateral::{
    CollateralKey, CollateralSource, FetchError, PccsSource, PcsSource, SourceOptions,
};
use attesto_quote::Collateral;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::read_testdata;

/// One canned response.
#[derive(Clone, Debug)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Canned {
    fn ok(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

#[derive(Clone, Default)]
struct Mock {
    routes: Arc<HashMap<String, Canned>>,
    requests: Arc<Mutex<Vec<String>>>,
}

async fn serve_canned(State(mock): State<Mock>, uri: Uri) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    mock.requests.lock().expect("lock").push(path.clone());
    let Some(canned) = mock.routes.get(&path) else {
        let mut not_found = Response::new(Body::empty());
        *not_found.status_mut() = StatusCode::NOT_FOUND;
        return not_found;
    };
    let mut builder = Response::builder().status(canned.status);
    for (name, value) in &canned.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder
        .body(Body::from(canned.body.clone()))
        .expect("response")
}

/// Serves `routes` on 127.0.0.1; returns the base URL and the request log.
async fn start(routes: HashMap<String, Canned>) -> Result<(String, Arc<Mutex<Vec<String>>>)> {
    let mock = Mock {
        routes: Arc::new(routes),
        requests: Arc::default(),
    };
    let requests = Arc::clone(&mock.requests);
    let app = axum::Router::new().fallback(serve_canned).with_state(mock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((format!("http://{addr}"), requests))
}

/// Issuer chains travel URL-encoded in PCS headers.
fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// The PCS responses a dcap-qvl bundle was assembled from.
struct Split {
    tcb: Canned,
    qe: Canned,
    pck_crl: Canned,
    root_crl_der: Vec<u8>,
}

fn split(bundle: &str) -> Result<Split> {
    let json: serde_json::Value = serde_json::from_str(bundle)?;
    let field = |name: &str| -> Result<String> {
        json.get(name)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow::anyhow!("missing {name}"))
    };
    Ok(Split {
        tcb: Canned::ok(format!(
            r#"{{"tcbInfo":{},"signature":"{}"}}"#,
            field("tcb_info")?,
            field("tcb_info_signature")?
        ))
        .header(
            "TCB-Info-Issuer-Chain",
            url_encode(&field("tcb_info_issuer_chain")?),
        ),
        qe: Canned::ok(format!(
            r#"{{"enclaveIdentity":{},"signature":"{}"}}"#,
            field("qe_identity")?,
            field("qe_identity_signature")?
        ))
        .header(
            "SGX-Enclave-Identity-Issuer-Chain",
            url_encode(&field("qe_identity_issuer_chain")?),
        ),
        pck_crl: Canned::ok(hex::decode(field("pck_crl")?)?).header(
            "SGX-PCK-CRL-Issuer-Chain",
            url_encode(&field("pck_crl_issuer_chain")?),
        ),
        root_crl_der: hex::decode(field("root_ca_crl")?)?,
    })
}

/// PCS routes for one key, the root CA CRL at `/IntelSGXRootCA.der` and, PCCS style, at
/// `/sgx/certification/v4/rootcacrl` as hex.
fn routes(split: &Split, key: &CollateralKey) -> HashMap<String, Canned> {
    let tee = key.tee.as_str();
    HashMap::from([
        (
            format!("/{tee}/certification/v4/tcb?fmspc={}", key.fmspc_hex()),
            split.tcb.clone(),
        ),
        (
            format!("/{tee}/certification/v4/qe/identity"),
            split.qe.clone(),
        ),
        (
            format!(
                "/sgx/certification/v4/pckcrl?ca={}&encoding=der",
                key.ca.as_str()
            ),
            split.pck_crl.clone(),
        ),
        (
            "/IntelSGXRootCA.der".to_owned(),
            Canned::ok(split.root_crl_der.clone()),
        ),
        (
            "/sgx/certification/v4/rootcacrl".to_owned(),
            Canned::ok(hex::encode(&split.root_crl_der)),
        ),
    ])
}

const SGX_BUNDLE: &str = "phala-dcap-qvl/sgx_quote_collateral.json";
const TDX_BUNDLE: &str = "phala-dcap-qvl/tdx_quote_collateral.json";

fn pcs(base: &str) -> Result<PcsSource> {
    Ok(PcsSource::with_options(
        base,
        &format!("{base}/IntelSGXRootCA.der"),
        &SourceOptions::default(),
    )?)
}

#[tokio::test]
async fn pcs_fetch_rebuilds_the_original_collateral() -> Result<()> {
    for (bundle, key) in [
        (SGX_BUNDLE, "sgx/00a067110000/processor"),
        (TDX_BUNDLE, "tdx/b0c06f000000/platform"),
    ] {
        let text = read_testdata(bundle);
        let key: CollateralKey = key.parse()?;
        let (base, requests) = start(routes(&split(&text)?, &key)).await?;
        let source = pcs(&base)?;
        let fetched = source.fetch(&key).await?;
        assert_eq!(fetched.collateral, Collateral::from_json(&text)?);
        assert_eq!(fetched.key(), key);
        assert_eq!(fetched.origin, base);
        assert_eq!(source.describe(), format!("Intel PCS {base}"));
        let mut seen = requests.lock().expect("lock").clone();
        seen.sort();
        let mut expected: Vec<String> = routes(&split(&text)?, &key)
            .into_keys()
            .filter(|p| !p.ends_with("rootcacrl"))
            .collect();
        expected.sort();
        assert_eq!(seen, expected, "PCS API paths");
    }
    Ok(())
}

#[tokio::test]
async fn pccs_fetch_takes_the_root_crl_from_the_pccs_in_hex() -> Result<()> {
    let text = read_testdata(SGX_BUNDLE);
    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    let (base, requests) = start(routes(&split(&text)?, &key)).await?;
    let source = PccsSource::new(&format!("{base}/"), None)?;
    let fetched = source.fetch(&key).await?;
    assert_eq!(fetched.collateral, Collateral::from_json(&text)?);
    let seen = requests.lock().expect("lock").clone();
    assert!(seen.iter().any(|p| p == "/sgx/certification/v4/rootcacrl"));
    assert!(!seen.iter().any(|p| p == "/IntelSGXRootCA.der"));
    Ok(())
}

#[tokio::test]
async fn the_older_tcb_info_header_name_and_other_encodings_are_accepted() -> Result<()> {
    let text = read_testdata(SGX_BUNDLE);
    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let chain = json
        .get("qe_identity_issuer_chain")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    let mut split = split(&text)?;
    for header in &mut split.tcb.headers {
        header.0 = "SGX-TCB-Info-Issuer-Chain";
    }
    // Every byte but letters and digits escaped, as some encoders do.
    split.qe.headers = vec![(
        "SGX-Enclave-Identity-Issuer-Chain",
        chain
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
    )];
    let (base, _) = start(routes(&split, &key)).await?;
    assert_eq!(
        pcs(&base)?.fetch(&key).await?.collateral,
        Collateral::from_json(&text)?
    );
    Ok(())
}

#[tokio::test]
async fn unknown_fmspc_is_not_found() -> Result<()> {
    let text = read_testdata(SGX_BUNDLE);
    let served: CollateralKey = "sgx/00a067110000/processor".parse()?;
    let (base, _) = start(routes(&split(&text)?, &served)).await?;
    let unknown: CollateralKey = "sgx/00906ed50000/processor".parse()?;
    let error = pcs(&base)?.fetch(&unknown).await.err();
    match &error {
        Some(FetchError::NotFound {
            fmspc, location, ..
        }) => {
            assert_eq!(fmspc, "00906ED50000");
            assert!(location.contains("fmspc=00906ED50000"), "{location}");
        }
        other => bail!("expected NotFound, got {other:?}"),
    }
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("no collateral for FMSPC 00906ED50000"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn server_errors_and_missing_headers_are_typed() -> Result<()> {
    let text = read_testdata(SGX_BUNDLE);
    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    let split = split(&text)?;

    let mut failing = routes(&split, &key);
    failing.insert(
        "/sgx/certification/v4/qe/identity".to_owned(),
        Canned {
            status: 503,
            headers: vec![("Error-Code", "ServiceUnavailable".to_owned())],
            body: Vec::new(),
        },
    );
    let (base, _) = start(failing).await?;
    match pcs(&base)?.fetch(&key).await {
        Err(FetchError::Status {
            status: 503,
            detail: Some(detail),
            url,
        }) => {
            assert_eq!(detail, "ServiceUnavailable");
            assert!(url.ends_with("/sgx/certification/v4/qe/identity"), "{url}");
        }
        other => bail!("expected Status 503, got {other:?}"),
    }

    let mut headerless = routes(&split, &key);
    if let Some(crl) = headerless.get_mut("/sgx/certification/v4/pckcrl?ca=processor&encoding=der")
    {
        crl.headers.clear();
    }
    let (base, _) = start(headerless).await?;
    match pcs(&base)?.fetch(&key).await {
        Err(FetchError::MissingHeader { header, .. }) => {
            assert_eq!(header, "SGX-PCK-CRL-Issuer-Chain");
        }
        other => bail!("expected MissingHeader, got {other:?}"),
    }

    let mut garbled = routes(&split, &key);
    if let Some(tcb) = garbled.get_mut("/sgx/certification/v4/tcb?fmspc=00A067110000") {
        tcb.body = b"{\"tcbInfo\":".to_vec();
    }
    let (base, _) = start(garbled).await?;
    assert!(matches!(
        pcs(&base)?.fetch(&key).await,
        Err(FetchError::Malformed { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn collateral_for_another_fmspc_is_refused() -> Result<()> {
    let text = read_testdata(SGX_BUNDLE);
    let asked: CollateralKey = "sgx/00906ed50000/processor".parse()?;
    // The server answers the other FMSPC's URL with this bundle.
    let (base, _) = start(routes(&split(&text)?, &asked)).await?;
    match pcs(&base)?.fetch(&asked).await {
        Err(FetchError::WrongKey { found, .. }) => {
            assert_eq!(found.to_string(), "sgx/00a067110000/processor");
        }
        other => bail!("expected WrongKey, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn an_announced_oversized_body_is_refused() -> Result<()> {
    let text = read_testdata(SGX_BUNDLE);
    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    let mut big = routes(&split(&text)?, &key);
    if let Some(tcb) = big.get_mut("/sgx/certification/v4/tcb?fmspc=00A067110000") {
        tcb.body = vec![b' '; 2 * 1024 * 1024];
    }
    let (base, _) = start(big).await?;
    match pcs(&base)?.fetch(&key).await {
        Err(FetchError::TooLarge { limit, url }) => {
            assert_eq!(limit, 1024 * 1024);
            assert!(url.contains("/tcb?"), "{url}");
        }
        other => bail!("expected TooLarge, got {other:?}"),
    }
    Ok(())
}

/// A server that streams an endless chunked body (no Content-Length) on every connection.
async fn endless_chunked_server() -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _read = socket.read(&mut request).await;
                let head =
                    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
                // Bounded: 64 MiB at most, far beyond any limit under test.
                for _ in 0..1024 {
                    if socket.write_all(chunk.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok(format!("http://{addr}"))
}

#[tokio::test]
async fn a_streamed_oversized_body_is_cut_off() -> Result<()> {
    let base = endless_chunked_server().await?;
    let options = SourceOptions {
        max_body_bytes: 256 * 1024,
        ..SourceOptions::default()
    };
    let source = PccsSource::with_options(&base, None, &options)?;
    let key: CollateralKey = "sgx/00a067110000/processor".parse()?;
    match source.fetch(&key).await {
        Err(FetchError::TooLarge { limit, .. }) => assert_eq!(limit, 256 * 1024),
        other => bail!("expected TooLarge, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn an_unreachable_server_is_a_transport_error_naming_the_url() -> Result<()> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    drop(listener);
    let base = format!("http://{addr}");
    let key: CollateralKey = "tdx/b0c06f000000/platform".parse()?;
    match pcs(&base)?.fetch(&key).await {
        Err(FetchError::Transport { url, reason }) => {
            assert!(url.starts_with(&base), "{url}");
            assert!(!reason.is_empty());
        }
        other => bail!("expected Transport, got {other:?}"),
    }
    Ok(())
}

#[test]
fn bad_base_urls_are_refused() {
    assert!(PcsSource::new("ftp://pcs.example.invalid").is_err());
    assert!(PcsSource::new("no scheme").is_err());
    assert!(PccsSource::new("https://pccs.example.invalid:8081?x=1", None).is_err());
}
