//! The S3 API as korthbox uses it: on MinIO, the bucket made once and its objects listed; on
//! any S3 service (`--s3-bucket`), the bucket checked before Orthanc is given it.
//! Requests are signed with AWS Signature V4 in the Authorization header by aws-sigv4 (AWS's
//! own signing crate; header signing is what every S3 server checks, presigned URLs are not),
//! addressed and parsed with rusty-s3, and sent with korthbox's HTTP client.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use http_body_util::Full;
use hyper::body::Bytes;
use rusty_s3::actions::{ListObjectsV2, ListObjectsV2Response};
use rusty_s3::{Bucket, UrlStyle};

use crate::host::http::{Http, Response};

/// MinIO's default region, which Orthanc's S3 plugin is configured with too.
pub const REGION: &str = "us-east-1";

/// One bucket on one S3 endpoint, with the credentials to use it.
pub struct S3 {
    http: Http,
    bucket: Bucket,
    credentials: Credentials,
    endpoint: String,
    region: String,
}

/// Where a bucket is and who asks: any S3 service.
#[derive(Debug, Clone)]
pub struct Place<'a> {
    /// The service's URL; Amazon S3's regional endpoint (virtual-hosted addressing) when none.
    pub endpoint: Option<&'a str>,
    pub bucket: &'a str,
    pub region: &'a str,
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub session_token: Option<&'a str>,
}

/// What `ensure_bucket` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    Created,
    Existed,
}

/// An S3 error answer, reduced to what a person needs.
fn s3_error(what: &str, endpoint: &str, r: &Response) -> String {
    let text = String::from_utf8_lossy(&r.body);
    let field = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_string())
    };
    let code = field("Code").unwrap_or_else(|| format!("HTTP {}", r.status));
    let message = field("Message").unwrap_or_default();
    let credentials = matches!(
        code.as_str(),
        "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "AccessDenied" | "InvalidToken"
    ) || r.status == 403;
    let why = if credentials {
        " (the access key or secret key is wrong, or may not do this)"
    } else {
        ""
    };
    format!("{what} at {endpoint} answered {code}{why}: {message}")
        .trim_end_matches(": ")
        .to_string()
}

impl S3 {
    /// `endpoint` is the server's URL (`http://127.0.0.1:9000`); path-style addressing, as
    /// MinIO and Orthanc's S3 plugin use it.
    pub fn new(
        endpoint: &str,
        bucket: &str,
        access_key: &str,
        secret_key: &str,
        timeout: Duration,
    ) -> Result<S3, String> {
        let place = Place {
            endpoint: Some(endpoint),
            bucket,
            region: REGION,
            access_key,
            secret_key,
            session_token: None,
        };
        S3::at(&place, timeout)
    }

    /// A bucket on any S3 service: path-style at a given endpoint (MinIO, Ceph, …),
    /// virtual-hosted at Amazon S3's regional endpoint when none is given.
    pub fn at(place: &Place<'_>, timeout: Duration) -> Result<S3, String> {
        let aws = format!("https://s3.{}.amazonaws.com", place.region);
        let (endpoint, style) = match place.endpoint {
            Some(e) => (e.to_string(), UrlStyle::Path),
            None => (aws, UrlStyle::VirtualHost),
        };
        let url = endpoint
            .parse()
            .map_err(|e| format!("{endpoint} is not a URL: {e}"))?;
        let name = place.bucket.to_string();
        let bucket = Bucket::new(url, style, name, place.region.to_string())
            .map_err(|e| format!("bucket {} at {endpoint}: {e}", place.bucket))?;
        let http = Http::new(timeout).map_err(|e| e.message)?;
        let token = place.session_token.map(String::from);
        Ok(S3 {
            http,
            bucket,
            credentials: Credentials::new(
                place.access_key,
                place.secret_key,
                token,
                None,
                "korthbox",
            ),
            endpoint,
            region: place.region.to_string(),
        })
    }

    /// What Orthanc will do with the bucket, done once with a test object: the bucket is
    /// there, an object can be put, read back whole and deleted. The first that fails, said.
    pub async fn check(&self) -> Result<(), String> {
        match self.list_page(None, Some(1)).await {
            Ok(_) => {}
            Err(Absent::NoBucket) => {
                return Err(format!(
                    "bucket {} does not exist at {}",
                    self.bucket(),
                    self.endpoint
                ));
            }
            Err(Absent::Other(e)) => return Err(e),
        }
        let mut random = [0u8; 8];
        getrandom::fill(&mut random).map_err(|e| e.to_string())?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let key = format!("korthbox-check-{hex}");
        let url = self.bucket.object_url(&key);
        let body = Bytes::from(format!("korthbox checks bucket {}\n", self.bucket()));
        let steps = [
            ("PUT", body.clone(), "putting a test object into"),
            ("GET", Bytes::new(), "reading the test object back from"),
            ("DELETE", Bytes::new(), "deleting the test object from"),
        ];
        for (method, sent, what) in steps {
            let r = self.send(method, url.clone(), sent).await?;
            let what = format!("{what} bucket {}", self.bucket());
            if !(200..300).contains(&r.status) {
                return Err(s3_error(&what, &self.endpoint, &r));
            }
            if method == "GET" && r.body != body {
                return Err(format!(
                    "{what} at {}: {} bytes came back instead of the {} put",
                    self.endpoint,
                    r.body.len(),
                    body.len()
                ));
            }
        }
        Ok(())
    }

    pub fn bucket(&self) -> &str {
        self.bucket.name()
    }

    /// Signs and sends a request to `url`.
    async fn send(&self, method: &str, url: url::Url, body: Bytes) -> Result<Response, String> {
        let what = format!("{method} {url}");
        let identity = self.credentials.clone().into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("{what}: could not sign: {e}"))?
            .into();
        let signable = SignableRequest::new(
            method,
            url.as_str(),
            std::iter::empty(),
            SignableBody::Bytes(&body),
        )
        .map_err(|e| format!("{what}: could not sign: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("{what}: could not sign: {e}"))?
            .into_parts();
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(url.as_str())
            .body(Full::new(body))
            .map_err(|e| format!("{what}: {e}"))?;
        instructions.apply_to_request_http1x(&mut request);
        self.http.send(request).await
    }

    /// Makes the bucket unless it is there; a second call finds it.
    pub async fn ensure_bucket(&self) -> Result<Made, String> {
        match self.list_page(None, Some(1)).await {
            Ok(_) => return Ok(Made::Existed),
            Err(Absent::NoBucket) => {}
            Err(Absent::Other(e)) => return Err(e),
        }
        let url = self.bucket.base_url().clone();
        let r = self.send("PUT", url, Bytes::new()).await?;
        match r.status {
            200 => Ok(Made::Created),
            // Made by a concurrent run between the list and the create.
            409 if String::from_utf8_lossy(&r.body).contains("BucketAlreadyOwnedByYou") => {
                Ok(Made::Existed)
            }
            _ => Err(s3_error(
                &format!("creating bucket {}", self.bucket()),
                &self.endpoint,
                &r,
            )),
        }
    }

    /// Every object key in the bucket.
    pub async fn keys(&self) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .list_page(token.as_deref(), None)
                .await
                .map_err(|e| match e {
                    Absent::NoBucket => format!(
                        "bucket {} does not exist at {}",
                        self.bucket(),
                        self.endpoint
                    ),
                    Absent::Other(e) => e,
                })?;
            keys.extend(page.contents.into_iter().map(|c| c.key));
            match page.next_continuation_token {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
    }

    async fn list_page(
        &self,
        token: Option<&str>,
        max: Option<usize>,
    ) -> Result<ListObjectsV2Response, Absent> {
        let mut url = self.bucket.base_url().clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("list-type", "2");
            if let Some(token) = token {
                query.append_pair("continuation-token", token);
            }
            if let Some(max) = max {
                query.append_pair("max-keys", &max.to_string());
            }
        }
        let r = self
            .send("GET", url, Bytes::new())
            .await
            .map_err(Absent::Other)?;
        match r.status {
            200 => ListObjectsV2::parse_response(&String::from_utf8_lossy(&r.body)).map_err(|e| {
                Absent::Other(format!(
                    "listing bucket {} at {}: the answer is not a listing: {e}",
                    self.bucket(),
                    self.endpoint
                ))
            }),
            404 => Err(Absent::NoBucket),
            _ => Err(Absent::Other(s3_error(
                &format!("listing bucket {}", self.bucket()),
                &self.endpoint,
                &r,
            ))),
        }
    }
}

enum Absent {
    NoBucket,
    Other(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_errors_say_code_message_and_whether_credentials_are_wrong() {
        let r = Response {
            status: 403,
            headers: Default::default(),
            body: Bytes::from_static(b"<?xml version=\"1.0\"?><Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>"),
        };
        assert_eq!(
            s3_error("listing bucket orthanc", "http://127.0.0.1:9000", &r),
            "listing bucket orthanc at http://127.0.0.1:9000 answered InvalidAccessKeyId (the access key or secret key is wrong, or may not do this): The AWS Access Key Id you provided does not exist in our records."
        );
    }
}
