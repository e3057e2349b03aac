//! The one HTTP GET both PCS-style sources use: bounded size, bounded time, errors naming the URL.

use reqwest::header::HeaderMap;

use super::FetchError;

/// Longest server error text kept in an error.
const MAX_DETAIL_CHARS: usize = 200;

/// A response that arrived in full and within the size limit.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

/// GETs `url`, reading at most `limit` bytes of body. Any status is returned; the caller decides.
pub(crate) async fn get(
    client: &reqwest::Client,
    url: &str,
    limit: usize,
) -> Result<Response, FetchError> {
    let transport = |e: reqwest::Error| FetchError::Transport {
        url: url.to_owned(),
        reason: error_chain(&e),
    };
    let mut response = client.get(url).send().await.map_err(transport)?;
    let too_large = || FetchError::TooLarge {
        url: url.to_owned(),
        limit,
    };
    // Refuse early when the server announces a large body; still count while reading, because a
    // length header is only a claim.
    if response
        .content_length()
        .is_some_and(|len| usize::try_from(len).map_or(true, |len| len > limit))
    {
        return Err(too_large());
    }
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len().saturating_add(chunk.len()) > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// A reqwest error with its causes ("error sending request: connection refused ...").
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Response {
    /// The first present header of `names`, as text.
    pub(crate) fn header(&self, names: &[&'static str]) -> Option<&str> {
        names
            .iter()
            .find_map(|name| self.headers.get(*name).and_then(|v| v.to_str().ok()))
    }

    /// PCS's error headers (`Error-Code`, `Error-Message`), for error reports.
    pub(crate) fn error_detail(&self) -> Option<String> {
        let code = self.header(&["Error-Code"]);
        let message = self.header(&["Error-Message"]);
        let detail = match (code, message) {
            (None, None) => return None,
            (Some(c), None) => c.to_owned(),
            (None, Some(m)) => m.to_owned(),
            (Some(c), Some(m)) => format!("{c}: {m}"),
        };
        // Server-chosen text ends up in logs: keep it short.
        Some(detail.chars().take(MAX_DETAIL_CHARS).collect())
    }
}
