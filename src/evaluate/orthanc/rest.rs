//! Orthanc's REST API and DICOMweb, as the proof calls them: a base URL (any path prefix
//! kept), HTTP Basic authentication when there is a password, every answer read whole.

use std::time::Duration;

use base64::Engine as _;
use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::Value;

use crate::base::error::Error;
use crate::host::http::{Http, Response};

pub struct Rest {
    http: Http,
    base: String,
    auth: Option<String>,
}

/// A request: method, path under the base URL, and optionally a body and its type.
pub struct Call<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub content_type: Option<&'a str>,
    pub accept: Option<&'a str>,
    pub body: Bytes,
}

impl<'a> Call<'a> {
    pub fn get(path: &'a str) -> Self {
        Call {
            method: "GET",
            path,
            content_type: None,
            accept: None,
            body: Bytes::new(),
        }
    }

    pub fn delete(path: &'a str) -> Self {
        Call {
            method: "DELETE",
            ..Call::get(path)
        }
    }

    pub fn post(path: &'a str, content_type: &'a str, body: impl Into<Bytes>) -> Self {
        Call {
            method: "POST",
            content_type: Some(content_type),
            body: body.into(),
            ..Call::get(path)
        }
    }

    pub fn accept(mut self, accept: &'a str) -> Self {
        self.accept = Some(accept);
        self
    }
}

impl Rest {
    /// `url` is Orthanc's base URL (`http://127.0.0.1:8042`, `https://pacs.example/orthanc/`).
    pub fn new(
        url: &str,
        user: &str,
        password: Option<&str>,
        timeout: Duration,
    ) -> Result<Rest, Error> {
        let auth = password.map(|p| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{p}"))
            )
        });
        Ok(Rest {
            http: Http::new(timeout)?,
            base: url.trim_end_matches('/').to_string(),
            auth,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends the call; any answer is an `Ok`.
    pub async fn call(&self, call: Call<'_>) -> Result<Response, String> {
        let mut request = hyper::Request::builder()
            .method(call.method)
            .uri(format!("{}{}", self.base, call.path));
        if let Some(auth) = &self.auth {
            request = request.header("authorization", auth);
        }
        if let Some(t) = call.content_type {
            request = request.header("content-type", t);
        }
        if let Some(a) = call.accept {
            request = request.header("accept", a);
        }
        let request = request
            .body(Full::new(call.body))
            .map_err(|e| format!("{} {}: {e}", call.method, call.path))?;
        self.http.send(request).await
    }

    /// POSTs a body read as it is sent (`length` bytes); any answer is an `Ok`.
    pub async fn post_stream<S>(
        &self,
        path: &str,
        content_type: &str,
        pieces: S,
        length: u64,
    ) -> Result<Response, String>
    where
        S: futures_util::Stream<Item = std::io::Result<Bytes>> + Send + Sync + 'static,
    {
        let mut request = hyper::Request::builder()
            .method("POST")
            .uri(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("content-length", length);
        if let Some(auth) = &self.auth {
            request = request.header("authorization", auth);
        }
        let request = request
            .body(crate::host::http::streamed(pieces))
            .map_err(|e| format!("POST {path}: {e}"))?;
        self.http.send_body(request).await
    }

    /// GETs `path` into `file` as it arrives, counting each piece in `written`; the bytes
    /// written. Anything but 200 is an `Err`.
    pub async fn download(
        &self,
        path: &str,
        file: &mut tokio::fs::File,
        written: &std::sync::atomic::AtomicU64,
    ) -> Result<u64, String> {
        let mut request = hyper::Request::builder()
            .method("GET")
            .uri(format!("{}{path}", self.base));
        if let Some(auth) = &self.auth {
            request = request.header("authorization", auth);
        }
        let request = request
            .body(Full::new(Bytes::new()))
            .map_err(|e| format!("GET {path}: {e}"))?;
        self.http.download(request, file, written).await
    }

    /// Sends the call and wants 200 with JSON.
    pub async fn json(&self, call: Call<'_>) -> Result<Value, String> {
        let what = format!("{} {}", call.method, call.path);
        let r = self.ok(call).await?;
        serde_json::from_slice(&r.body).map_err(|e| format!("{what} answered no JSON: {e}"))
    }

    /// Sends the call and wants 200.
    pub async fn ok(&self, call: Call<'_>) -> Result<Response, String> {
        let what = format!("{} {}", call.method, call.path);
        let r = self.call(call).await?;
        if r.status == 200 {
            return Ok(r);
        }
        Err(match r.status {
            401 => {
                format!("{what} answered 401 Unauthorized: Orthanc refused the user and password")
            }
            status => format!("{what} answered {status}: {}", said(&r)),
        })
    }
}

/// What Orthanc's answer says, in one line: an error document (`{"HttpError", "Message",
/// "Details", …}`, nine lines) reduced to its message and details; any other body's excerpt
/// on one line.
pub fn said(r: &Response) -> String {
    let document: Option<Value> = serde_json::from_slice(&r.body).ok();
    let field = |name: &str| {
        document
            .as_ref()
            .and_then(|d| d.get(name)?.as_str().map(str::to_string))
            .filter(|s| !s.is_empty())
    };
    match (field("Message"), field("Details")) {
        (Some(message), Some(details)) => format!("{message} ({details})"),
        (Some(message), None) => message,
        _ => r.excerpt().split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(body: &str) -> Response {
        Response {
            status: 404,
            headers: Default::default(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn an_orthanc_error_document_is_reduced_to_its_message() {
        // Orthanc 1.10's answer to GET /studies/nope, as it prints it.
        let body = "{\n   \"HttpError\" : \"Not Found\",\n   \"HttpStatus\" : 404,\n   \"Message\" : \"Unknown resource\",\n   \"Method\" : \"GET\",\n   \"OrthancError\" : \"Unknown resource\",\n   \"OrthancStatus\" : 17,\n   \"Uri\" : \"/studies/nope\"\n}\n";
        assert_eq!(said(&answer(body)), "Unknown resource");
        let with_details = r#"{"Message": "Bad file format", "Details": "Cannot parse an invalid DICOM file (size: 5 bytes)"}"#;
        assert_eq!(
            said(&answer(with_details)),
            "Bad file format (Cannot parse an invalid DICOM file (size: 5 bytes))"
        );
        assert_eq!(said(&answer("not\n  found\n")), "not found");
    }
}
