//! An HTTP proxy for the tests, on 127.0.0.1: absolute-form requests (`GET http://host/…`) and
//! `CONNECT host:port` tunnels, Basic credentials (407 without them), a deny list (403), and
//! host names that only it resolves — so that a request that skipped the proxy cannot succeed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Clone, Default)]
struct Rules {
    /// Host name → 127.0.0.1 port it stands for.
    hosts: BTreeMap<String, u16>,
    /// `user:password` the proxy requires, if any.
    credentials: Option<String>,
    denied: Vec<String>,
}

pub struct Proxy {
    pub port: u16,
    /// One line per request: `GET http://host:port/path auth=<Proxy-Authorization or ->`.
    log: Arc<Mutex<Vec<String>>>,
    rules: Arc<Mutex<Rules>>,
}

impl Proxy {
    pub fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let rules = Arc::new(Mutex::new(Rules::default()));
        let (l, r) = (log.clone(), rules.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (l, r) = (l.clone(), r.clone());
                thread::spawn(move || serve(stream, &l, &r));
            }
        });
        Proxy { port, log, rules }
    }

    /// `name` resolves, through the proxy only, to 127.0.0.1:`port`.
    pub fn host(&self, name: &str, port: u16) -> &Self {
        self.rules.lock().unwrap().hosts.insert(name.into(), port);
        self
    }

    pub fn require(&self, user: &str, password: &str) -> &Self {
        self.rules.lock().unwrap().credentials = Some(format!("{user}:{password}"));
        self
    }

    pub fn deny(&self, host: &str) -> &Self {
        self.rules.lock().unwrap().denied.push(host.into());
        self
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn head(reader: &mut impl BufRead) -> Option<(String, Vec<(String, String)>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    Some((line.trim_end().to_string(), headers))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn refuse(mut stream: &TcpStream, status: &str) {
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\nProxy-Authenticate: Basic realm=\"test\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
}

fn serve(stream: TcpStream, log: &Mutex<Vec<String>>, rules: &Mutex<Rules>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    while let Some((line, headers)) = head(&mut reader) {
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let auth = header(&headers, "proxy-authorization")
            .unwrap_or("-")
            .to_string();
        log.lock()
            .unwrap()
            .push(format!("{method} {target} auth={auth}"));
        let rules = rules.lock().unwrap().clone();
        if let Some(credentials) = &rules.credentials {
            use base64::Engine;
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(credentials)
            );
            if auth != expected {
                refuse(&stream, "407 Proxy Authentication Required");
                return;
            }
        }
        let authority = match method.as_str() {
            "CONNECT" => target.clone(),
            _ => target
                .strip_prefix("http://")
                .and_then(|rest| rest.split('/').next())
                .unwrap_or("")
                .to_string(),
        };
        let host = authority
            .rsplit_once(':')
            .map_or(authority.as_str(), |(h, _)| h);
        if rules.denied.iter().any(|d| d == host) {
            refuse(&stream, "403 Forbidden");
            return;
        }
        let Some(port) = rules.hosts.get(host) else {
            refuse(&stream, "502 Bad Gateway");
            return;
        };
        let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", *port)) else {
            refuse(&stream, "502 Bad Gateway");
            return;
        };
        if method == "CONNECT" {
            let _ = (&stream).write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
            splice(reader, stream, upstream);
            return;
        }
        // Absolute form → origin form, one request per upstream connection.
        let path = target
            .strip_prefix("http://")
            .and_then(|rest| rest.find('/').map(|i| rest[i..].to_string()))
            .unwrap_or_else(|| "/".into());
        let mut request = format!("{method} {path} HTTP/1.1\r\n");
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("proxy-authorization")
                && !k.eq_ignore_ascii_case("connection")
            {
                request.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        request.push_str("Connection: close\r\n\r\n");
        let length: usize = header(&headers, "content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let _ = upstream.write_all(request.as_bytes());
        let _ = upstream.write_all(&body);
        let mut answer = Vec::new();
        let _ = upstream.read_to_end(&mut answer);
        if (&stream).write_all(&answer).is_err() {
            return;
        }
        // The answer may say `Connection: close` (the upstream was asked to close): then so
        // does this connection.
        let text = String::from_utf8_lossy(&answer[..answer.len().min(4096)]).to_lowercase();
        if text.contains("connection: close") {
            return;
        }
    }
}

fn splice(mut reader: BufReader<TcpStream>, client: TcpStream, upstream: TcpStream) {
    let mut up_write = upstream.try_clone().unwrap();
    let buffered = reader.buffer().to_vec();
    let _ = up_write.write_all(&buffered);
    let to_up = thread::spawn(move || {
        let _ = std::io::copy(reader.get_mut(), &mut up_write);
        let _ = up_write.shutdown(std::net::Shutdown::Write);
    });
    let mut up_read = upstream;
    let mut client_write = client;
    let _ = std::io::copy(&mut up_read, &mut client_write);
    let _ = client_write.shutdown(std::net::Shutdown::Write);
    let _ = to_up.join();
}
