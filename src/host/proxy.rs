//! HTTP proxies, taken from the environment as curl takes them: `HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY` and `NO_PROXY`, upper or lower case — the lower case one when both are set, as
//! curl reads them — by one reader ([`ProxyEnv`]) for korthbox's HTTP client, its messages,
//! the Kubernetes client and what the drivers are given; credentials in the proxy's URL
//! (`http://user:password@proxy:3128`), `NO_PROXY` entries as hosts, domains (`.corp.example`),
//! IP addresses, CIDRs and `*` (hyper-util's matcher, which reqwest uses). Loopback addresses
//! never go through a proxy, as Go clients such as kubectl behave: the sandbox's API server and
//! its forwards are on this machine.
//!
//! Plain `http://` destinations go to the proxy in absolute form; `https://` ones through a
//! `CONNECT` tunnel, TLS end to end.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use hyper::Uri;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::TokioIo;

use crate::base::env::{self, Env};

type Direct = hyper_rustls::HttpsConnector<HttpConnector>;
type Inner = hyper_rustls::MaybeHttpsStream<TokioIo<tokio::net::TcpStream>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The proxy variables of an environment, each read once with one precedence: the lower-case
/// name first (curl's rule), then the upper-case one. Every user of a proxy setting reads it
/// here, so the proxy used and the proxy reported are the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    pub http: Option<String>,
    pub https: Option<String>,
    pub all: Option<String>,
    pub no: Option<String>,
}

impl ProxyEnv {
    pub fn from_env(env: &Env) -> ProxyEnv {
        let first = |names: [&str; 2]| {
            names
                .iter()
                .find_map(|n| env.var(n).filter(|v| !v.is_empty()))
                .map(String::from)
        };
        ProxyEnv {
            http: first([env::HTTP_PROXY_LOWER, env::HTTP_PROXY]),
            https: first([env::HTTPS_PROXY_LOWER, env::HTTPS_PROXY]),
            all: first([env::ALL_PROXY_LOWER, env::ALL_PROXY]),
            no: first([env::NO_PROXY_LOWER, env::NO_PROXY]),
        }
    }

    /// The proxy for a destination of `scheme` (`ALL_PROXY` where the scheme has none).
    pub fn for_scheme(&self, scheme: Option<&str>) -> Option<&str> {
        let own = match scheme {
            Some("https") => self.https.as_deref(),
            _ => self.http.as_deref(),
        };
        own.or(self.all.as_deref())
    }

    /// The variables a tool gets so that it reads what korthbox reads whichever case it
    /// prefers (Go reads upper case first, curl lower): both cases of each one set.
    pub fn both_cases(&self) -> Vec<(String, String)> {
        let pairs = [
            (&self.http, env::HTTP_PROXY, env::HTTP_PROXY_LOWER),
            (&self.https, env::HTTPS_PROXY, env::HTTPS_PROXY_LOWER),
            (&self.all, env::ALL_PROXY, env::ALL_PROXY_LOWER),
        ];
        pairs
            .into_iter()
            .filter_map(|(value, upper, lower)| value.as_ref().map(|v| (v, upper, lower)))
            .flat_map(|(v, upper, lower)| {
                [
                    (upper.to_string(), v.clone()),
                    (lower.to_string(), v.clone()),
                ]
            })
            .collect()
    }

    fn matcher(&self) -> Matcher {
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        Matcher::builder()
            .http(or_empty(&self.http))
            .https(or_empty(&self.https))
            .all(or_empty(&self.all))
            .no(or_empty(&self.no))
            .build()
    }
}

/// Refuses a proxy korthbox cannot talk to (SOCKS, or an `https://` proxy), naming it
/// without its credentials (`what`: where it was found) — before a connection is tried.
pub fn supported(url: &str, what: &str) -> Result<(), crate::base::error::Error> {
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    let why = match scheme.as_deref() {
        None | Some("http") => return Ok(()),
        Some(s) if s.starts_with("socks") => "SOCKS proxies are not supported",
        Some(_) => "only http:// proxies are supported",
    };
    Err(
        crate::base::error::Error::usage(format!("{what} is {}: {why}", mask(url))).hint(
            "use an HTTP proxy (http://host:port) in HTTPS_PROXY/HTTP_PROXY/ALL_PROXY or the kubeconfig's proxy-url, or add the destination to NO_PROXY",
        ),
    )
}

/// This process's proxy variables, read once.
pub fn process_env() -> &'static ProxyEnv {
    static PROXY_ENV: OnceLock<ProxyEnv> = OnceLock::new();
    PROXY_ENV.get_or_init(|| ProxyEnv::from_env(&Env::from_process()))
}

/// The proxy rules of this process's environment, read once.
fn matcher() -> &'static Matcher {
    static MATCHER: OnceLock<Matcher> = OnceLock::new();
    MATCHER.get_or_init(|| process_env().matcher())
}

/// Whether `uri` names this machine (never proxied).
pub fn is_loopback(uri: &Uri) -> bool {
    match uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
    {
        Some(host) if host.eq_ignore_ascii_case("localhost") => true,
        Some(host) => host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// The first fix when korthbox, or a tool it runs, cannot reach the internet: the proxy.
pub const OFFLINE_HINT: &str = "behind a proxy? export HTTPS_PROXY (and NO_PROXY for the hosts reached directly); `korthbox doctor` shows the proxy korthbox and the engine each use (check host.proxy)";

/// Whether a tool's output says it could not reach a server (a registry, a download host).
pub fn looks_offline(lines: &[String]) -> bool {
    const WORDS: [&str; 8] = [
        "dial tcp",
        "no such host",
        "i/o timeout",
        "network is unreachable",
        "connection refused",
        "TLS handshake timeout",
        "Temporary failure in name resolution",
        "failed to pull image",
    ];
    lines.iter().any(|l| WORDS.iter().any(|w| l.contains(w)))
}

/// "through proxy http://***@proxy:3128 (NO_PROXY: …)" when a request to `uri` goes through
/// one, for messages; the process's proxy settings, read once like the rules.
pub fn via(uri: &Uri) -> Option<String> {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS
        .get_or_init(|| Settings::from_env(&Env::from_process()))
        .describe_for(uri)
}

/// The proxy a request to `uri` goes through, if any.
pub fn for_uri(uri: &Uri) -> Option<Intercept> {
    if is_loopback(uri) {
        return None;
    }
    matcher().intercept(uri)
}

/// The proxy URL as the environment gives it (credentials included) for a request to `uri`:
/// for clients that take a proxy URL (the Kubernetes client).
pub fn raw_for(env: &Env, uri: &Uri) -> Option<String> {
    ProxyEnv::from_env(env)
        .for_scheme(uri.scheme_str())
        .map(|u| match u.contains("://") {
            true => u.to_string(),
            false => format!("http://{u}"),
        })
}

/// Adds `Proxy-Authorization` to a plain-HTTP request that goes to a proxy with credentials
/// (an HTTPS request carries them in its `CONNECT` instead).
pub fn authorize<B>(request: &mut hyper::Request<B>) {
    if request.uri().scheme_str() != Some("http") {
        return;
    }
    if let Some(auth) = for_uri(request.uri())
        .as_ref()
        .and_then(Intercept::basic_auth)
    {
        request
            .headers_mut()
            .insert(hyper::header::PROXY_AUTHORIZATION, auth.clone());
    }
}

/// A proxy URL with its credentials masked (`http://***@proxy:3128`), for messages.
pub fn mask(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_string(),
        },
    }
}

/// The proxy settings of an environment, as doctor and messages show them (masked).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Settings {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
}

impl Settings {
    /// What the shell has: lower case first, as curl reads them; `ALL_PROXY` where a scheme
    /// has none of its own.
    pub fn from_env(env: &Env) -> Settings {
        let proxies = ProxyEnv::from_env(env);
        Settings {
            http: proxies.for_scheme(Some("http")).map(mask),
            https: proxies.for_scheme(Some("https")).map(mask),
            no_proxy: proxies.no,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none()
    }

    /// Whether `NO_PROXY` keeps this machine off the proxy for tools that do not exempt
    /// loopback by themselves (the Docker CLI, minikube's checks).
    pub fn exempts_loopback(&self) -> bool {
        let entries: Vec<&str> = self
            .no_proxy
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .collect();
        entries.contains(&"*")
            || (entries.contains(&"localhost") && entries.iter().any(|e| e.starts_with("127.")))
    }

    /// "through proxy http://***@proxy:3128 (NO_PROXY: …)", for an error about `uri`.
    pub fn describe_for(&self, uri: &Uri) -> Option<String> {
        let proxy = match uri.scheme_str() {
            Some("https") => self.https.as_ref(),
            _ => self.http.as_ref(),
        }?;
        for_uri(uri)?;
        let no = self.no_proxy.as_deref().unwrap_or("unset");
        Some(format!("through proxy {proxy} (NO_PROXY: {no})"))
    }
}

/// Connects directly, to a proxy (plain HTTP in absolute form), or through a proxy's CONNECT
/// tunnel (HTTPS), as the environment's rules say for each destination.
#[derive(Clone)]
pub struct ProxyConnector {
    direct: Direct,
}

impl ProxyConnector {
    pub fn new(direct: Direct) -> Self {
        ProxyConnector { direct }
    }
}

/// A connection, marked as one to a forwarding proxy when it is (so that requests on it are
/// written in absolute form).
pub struct Stream {
    inner: Inner,
    forward_proxy: bool,
}

impl Connection for Stream {
    fn connected(&self) -> Connected {
        self.inner.connected().proxy(self.forward_proxy)
    }
}

impl hyper::rt::Read for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Why a `CONNECT` through the proxy failed, in words (hyper-util's tunnel error is not a
/// public type, so it is told by its message).
fn tunnel_words(proxy: &str, e: &(dyn std::error::Error + 'static)) -> String {
    let proxy = mask(proxy);
    let text = e.to_string();
    if text.ends_with("proxy authorization required") {
        format!(
            "proxy {proxy} asked for credentials (407 Proxy Authentication Required): put them in the proxy's URL, http://user:password@host:port"
        )
    } else if text.ends_with("unsuccessful") {
        format!(
            "proxy {proxy} refused to connect there (its answer to CONNECT was not 200; 403 means it forbids this destination)"
        )
    } else {
        let words = match e.source() {
            Some(source) => super::words::words(source),
            None => text,
        };
        format!("proxy {proxy}: {words}")
    }
}

impl tower_service::Service<Uri> for ProxyConnector {
    type Response = Stream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Stream, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let mut direct = self.direct.clone();
        let Some(proxy) = for_uri(&dst) else {
            return Box::pin(async move {
                let inner = direct.call(dst).await?;
                Ok(Stream {
                    inner,
                    forward_proxy: false,
                })
            });
        };
        if let Err(e) = supported(&proxy.uri().to_string(), "the proxy") {
            let text = e.message;
            return Box::pin(async move { Err(BoxError::from(text)) });
        }
        let proxy_uri = proxy.uri().clone();
        if dst.scheme_str() == Some("https") {
            let mut tunnel = Tunnel::new(proxy_uri.clone(), HttpConnector::new());
            if let Some(auth) = proxy.basic_auth() {
                tunnel = tunnel.with_auth(auth.clone());
            }
            return Box::pin(async move {
                let mut tls = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(super::tls::config()?)
                    .https_only()
                    .enable_http1()
                    .wrap_connector(TunnelWords {
                        tunnel,
                        proxy: proxy_uri.to_string(),
                    });
                let inner = tls.call(dst).await?;
                Ok(Stream {
                    inner,
                    forward_proxy: false,
                })
            });
        }
        Box::pin(async move {
            let inner = direct.call(proxy_uri).await?;
            Ok(Stream {
                inner,
                forward_proxy: true,
            })
        })
    }
}

/// A `CONNECT` tunnel whose failures are said in words, naming the proxy (masked).
#[derive(Clone)]
struct TunnelWords {
    tunnel: Tunnel<HttpConnector>,
    proxy: String,
}

impl tower_service::Service<Uri> for TunnelWords {
    type Response = TokioIo<tokio::net::TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let proxy = self.proxy.clone();
        self.tunnel
            .poll_ready(cx)
            .map_err(|e| tunnel_words(&proxy, &e).into())
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let proxy = self.proxy.clone();
        let future = self.tunnel.call(dst);
        Box::pin(async move { future.await.map_err(|e| tunnel_words(&proxy, &e).into()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_masked() {
        assert_eq!(
            mask("http://user:secret@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(mask("proxy:3128"), "proxy:3128");
        assert_eq!(mask("user:p@ss@proxy:3128"), "***@proxy:3128");
    }

    #[test]
    fn loopback_is_never_proxied() {
        for uri in [
            "http://127.0.0.1:8042/",
            "https://localhost:6443/",
            "http://[::1]:4242/",
        ] {
            assert!(is_loopback(&uri.parse().unwrap()), "{uri}");
        }
        assert!(!is_loopback(&"https://github.com/".parse().unwrap()));
    }

    #[test]
    fn no_proxy_must_name_localhost_and_127() {
        let settings = |no: &str| Settings {
            http: Some("http://proxy:3128".into()),
            https: None,
            no_proxy: Some(no.into()),
        };
        assert!(settings("localhost,127.0.0.1,.corp").exempts_loopback());
        assert!(settings("*").exempts_loopback());
        assert!(!settings(".corp").exempts_loopback());
        assert!(!settings("localhost").exempts_loopback());
    }
}
