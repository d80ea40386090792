//! HTTP and HTTPS from this workstation: one client (the system's CA certificates, HTTP/1.1)
//! for downloads, Orthanc's REST and DICOMweb APIs, and S3. Every request has a timeout.

use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Bytes;
use hyper::header::HeaderMap;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::base::error::Error;
use crate::base::report::seconds;

/// Direct, or through the environment's proxy (see [`super::proxy`]).
pub type Connector = super::proxy::ProxyConnector;

/// A client for request bodies of type `B`, HTTP and HTTPS alike.
pub fn client<B>() -> Result<Client<Connector, B>, Error>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(super::tls::config()?)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(super::proxy::ProxyConnector::new(https)))
}

/// Whether an answer says it has no body (`Content-Length: 0`).
fn is_empty<B>(response: &hyper::Response<B>) -> bool {
    response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .is_some_and(|v| v == "0")
}

/// An answer, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    /// The start of the body, as text, for error messages.
    pub fn excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(300) {
            Some((at, _)) => format!("{}…", &text[..at]),
            None => text.to_string(),
        }
    }
}

/// A request body: whole, or a stream read as it is sent.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A body of pieces that arrive as they are read (a file being uploaded).
pub fn streamed<S>(pieces: S) -> Body
where
    S: futures_util::Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static,
{
    use futures_util::StreamExt;
    BodyExt::boxed(StreamBody::new(
        pieces.map(|piece| piece.map(hyper::body::Frame::data)),
    ))
}

/// Requests, each under `timeout`.
#[derive(Clone)]
pub struct Http {
    client: Client<Connector, Body>,
    timeout: Duration,
}

impl Http {
    pub fn new(timeout: Duration) -> Result<Http, Error> {
        Ok(Http {
            client: client()?,
            timeout,
        })
    }

    /// Sends `request` and reads the whole answer; `Err` says what failed, as one line.
    pub async fn send(&self, request: hyper::Request<Full<Bytes>>) -> Result<Response, String> {
        let request = request.map(|body| body.map_err(|never| match never {}).boxed());
        self.send_body(request).await
    }

    /// Sends `request` through the environment's proxy (with its credentials): what it is, in
    /// words for errors (the proxy named), and the answer's head with its body still to read —
    /// or why there is none, a proxy's own refusal included.
    fn open(
        &self,
        mut request: hyper::Request<Body>,
    ) -> (
        String,
        impl std::future::Future<Output = Result<hyper::Response<hyper::body::Incoming>, String>>,
    ) {
        super::proxy::authorize(&mut request);
        let via = super::proxy::via(request.uri());
        let what = match &via {
            Some(via) => format!("{} {} {via}", request.method(), request.uri()),
            None => format!("{} {}", request.method(), request.uri()),
        };
        let named = what.clone();
        let answer = async move {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| format!("{named}: {}", super::words::words(&e)))?;
            let status = response.status().as_u16();
            // What a proxy says for itself: credentials wanted, or the destination refused.
            if via.is_some() && (status == 407 || status == 403 && is_empty(&response)) {
                let why = match status {
                    407 => {
                        "the proxy asked for credentials (407 Proxy Authentication Required): put them in its URL, http://user:password@host:port"
                    }
                    _ => "the proxy refused this destination (403 Forbidden)",
                };
                return Err(format!("{named}: {why}"));
            }
            Ok(response)
        };
        (what, answer)
    }

    /// Sends `request`, whose body may be a stream, and reads the whole answer.
    pub async fn send_body(&self, request: hyper::Request<Body>) -> Result<Response, String> {
        let (what, answer) = self.open(request);
        let exchange = async {
            let response = answer.await?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("{what}: reading the answer: {e}"))?
                .to_bytes();
            Ok(Response {
                status,
                headers,
                body,
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{what}: no answer within {}",
                    seconds(self.timeout)
                ))
            })
    }

    /// Sends `request` and, when the answer is 200, writes its body to `file` as it arrives
    /// (memory does not grow with it), counting each piece in `written`; another status is an
    /// `Err` with the start of its body.
    pub async fn download(
        &self,
        request: hyper::Request<Full<Bytes>>,
        file: &mut tokio::fs::File,
        written: &std::sync::atomic::AtomicU64,
    ) -> Result<u64, String> {
        use tokio::io::AsyncWriteExt;
        let request = request.map(|body| body.map_err(|never| match never {}).boxed());
        let (what, answer) = self.open(request);
        let exchange = async {
            let response = answer.await?;
            let status = response.status().as_u16();
            let mut body = response.into_body();
            if status != 200 {
                let body = body
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let headers = HeaderMap::new();
                let answer = Response {
                    status,
                    headers,
                    body,
                };
                return Err(format!("{what} answered {status}: {}", answer.excerpt()));
            }
            let mut total = 0u64;
            while let Some(frame) = body.frame().await {
                let frame = frame.map_err(|e| format!("{what}: reading the answer: {e}"))?;
                if let Ok(data) = frame.into_data() {
                    file.write_all(&data)
                        .await
                        .map_err(|e| format!("{what}: writing the file: {e}"))?;
                    total += data.len() as u64;
                    written.fetch_add(data.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
            }
            file.flush()
                .await
                .map_err(|e| format!("{what}: writing the file: {e}"))?;
            Ok(total)
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(format!(
                    "{what}: not finished within {}",
                    seconds(self.timeout)
                ))
            })
    }
}
