//! `korthbox install kind|k3d|minikube`: the pinned release for this OS and architecture,
//! streamed into `<name>.partial` while hashing, checked against the SHA-256 the project
//! publishes beside it, then renamed into korthbox's bin directory (searched after PATH).

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::base::env::{self, Env};
use crate::base::error::Error;
use crate::base::report::{Phase, Progress, seconds};
use crate::driver::api::{Checksums, Driver, Release};
use crate::host::os::HostOs;

/// Where the binary and its published checksum are, and the SHA-256 it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub binary_url: String,
    pub checksum_url: String,
    /// The file name the checksum list names the binary by.
    pub file: String,
    /// The SHA-256 korthbox pins for it.
    pub sha256: String,
}

/// The release names' OS and architecture for `host`.
pub fn platform(host: &HostOs) -> Result<(&'static str, &'static str), Error> {
    let os = host.family.release_name().ok_or_else(|| {
        Error::usage("korthbox installs drivers on Linux, WSL2 and macOS only")
            .hint("on Windows: `winget install -e --id Kubernetes.kind` (or k3d, minikube)")
    })?;
    let arch = host
        .arch
        .release_name()
        .ok_or_else(|| Error::usage("the drivers publish amd64 and arm64 builds only"))?;
    Ok((os, arch))
}

/// The download URLs for `driver`'s pinned release on this OS and architecture.
pub fn download(env: &Env, driver: &dyn Driver, os: &str, arch: &str) -> Result<Download, Error> {
    let release = driver.release().ok_or_else(|| {
        Error::usage(format!(
            "korthbox does not install anything for --driver {}",
            driver.kind().label()
        ))
    })?;
    let name = driver.kind().label();
    let v = release.version.to_string();
    let file = format!("{name}-{os}-{arch}");
    let dir = match env.var(env::KORTHBOX_DOWNLOAD_BASE) {
        Some(base) => format!("{}/{name}/{v}", base.trim_end_matches('/')),
        None => format!(
            "https://github.com/{}/releases/download/{v}",
            release.repository
        ),
    };
    let checksum_url = match release.checksums {
        Checksums::Beside(suffix) => format!("{dir}/{file}{suffix}"),
        Checksums::List(list) => format!("{dir}/{list}"),
    };
    let binary_url = format!("{dir}/{file}");
    let sha256 = pinned_sha256(env, &release, &binary_url, os, arch)?;
    let sha256 = sha256.ok_or_else(|| {
        Error::failure(format!(
            "korthbox pins no SHA-256 for {name} {v} on {os}-{arch}, so it cannot check a download"
        ))
        .hint(format!(
            "install {name} with your system's package manager (`brew install {name}` on macOS)"
        ))
    })?;
    Ok(Download {
        binary_url,
        checksum_url,
        file,
        sha256,
    })
}

/// The SHA-256 a download must have: the one embedded in korthbox; or, for a mirror on this
/// machine only, the one `KORTHBOX_INSTALL_SHA256` names (your own builds, the tests).
fn pinned_sha256(
    env: &Env,
    release: &Release,
    url: &str,
    os: &str,
    arch: &str,
) -> Result<Option<String>, Error> {
    match env.var(env::KORTHBOX_INSTALL_SHA256) {
        Some(hash) if loopback(url) => Ok(Some(hash.to_lowercase())),
        Some(_) => Err(Error::usage(format!(
            "{} replaces the pinned SHA-256 only for a {} on this machine (127.0.0.1, ::1, localhost)",
            env::KORTHBOX_INSTALL_SHA256,
            env::KORTHBOX_DOWNLOAD_BASE
        ))
        .hint(format!("unset {}", env::KORTHBOX_INSTALL_SHA256))),
        None => Ok(release.sha256_for(os, arch).map(String::from)),
    }
}

/// Whether `url` names this machine.
fn loopback(url: &str) -> bool {
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        return false;
    };
    match uri
        .host()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
    {
        Some("localhost") => true,
        Some(host) => host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()),
        None => false,
    }
}

/// HTTPS, or plain HTTP to this machine (a local mirror, the tests' server).
fn check_scheme(url: &str) -> Result<(), Error> {
    let scheme = url.split("://").next().unwrap_or_default();
    match scheme {
        "https" => Ok(()),
        "http" if loopback(url) => Ok(()),
        _ => Err(Error::failure(format!(
            "refusing to download {url}: only HTTPS is used (plain HTTP only from this machine)"
        ))
        .hint(format!(
            "point {} at an https:// mirror",
            env::KORTHBOX_DOWNLOAD_BASE
        ))),
    }
}

/// The hash for `file` in a published checksum text: a bare hash (minikube), `HASH  FILE`
/// (kind), or a list of such lines (k3d's checksums.txt, whose names may carry a directory).
pub fn expected_hash(text: &str, file: &str) -> Option<String> {
    let is_hash = |w: &str| w.len() == 64 && w.chars().all(|c| c.is_ascii_hexdigit());
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if let [only] = lines.as_slice()
        && is_hash(only)
    {
        return Some(only.to_lowercase());
    }
    lines.iter().find_map(|line| {
        let mut words = line.split_whitespace();
        let hash = words.next()?;
        let name = words.next()?.trim_start_matches('*');
        (is_hash(hash) && (name == file || name.ends_with(&format!("/{file}"))))
            .then(|| hash.to_lowercase())
    })
}

/// Where a redirect from `base` to `location` goes: an absolute URL as it is; a path
/// (`/blobs/…`), a scheme-relative (`//host/…`) or a relative one (`file.tar`) against
/// `base`, as browsers resolve them (RFC 3986 without dot segments).
///
/// ```
/// # use korthbox::sandbox::install::resolve;
/// let base = "https://mirror.example/kind/v0.33.0/kind-linux-amd64";
/// assert_eq!(resolve(base, "/blobs/ab"), "https://mirror.example/blobs/ab");
/// assert_eq!(resolve(base, "other"), "https://mirror.example/kind/v0.33.0/other");
/// assert_eq!(resolve(base, "//cdn.example/x"), "https://cdn.example/x");
/// assert_eq!(resolve(base, "http://elsewhere/x"), "http://elsewhere/x");
/// ```
pub fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    let Some((scheme, rest)) = base.split_once("://") else {
        return location.to_string();
    };
    if let Some(host_and_path) = location.strip_prefix("//") {
        return format!("{scheme}://{host_and_path}");
    }
    let path_start = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..path_start];
    if location.starts_with('/') {
        return format!("{scheme}://{authority}{location}");
    }
    let path = rest[path_start..].split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    format!("{scheme}://{authority}{dir}{location}")
}

/// GET with redirects followed (GitHub's release downloads redirect to their storage).
async fn get(url: &str) -> Result<hyper::Response<hyper::body::Incoming>, Error> {
    let client = crate::host::http::client::<Empty<Bytes>>()?;
    let mut url = url.to_string();
    for _ in 0..6 {
        check_scheme(&url)?;
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| Error::failure(format!("{url} is not a URL")).because(e))?;
        let via = crate::host::proxy::via(&uri);
        let mut request = hyper::Request::get(uri)
            .body(Empty::<Bytes>::new())
            .map_err(|e| Error::failure(format!("{url} is not a URL")).because(e))?;
        crate::host::proxy::authorize(&mut request);
        let response = client.request(request).await.map_err(|e| {
            let words = crate::host::words::words(&e);
            let mut err = Error::failure(format!("could not download {url}")).caused_by(&words);
            if let Some(via) = &via {
                err = err.caused_by(format!("the request went {via}"));
            }
            if words.contains("certificate") {
                err = err.hint(crate::host::tls::HINT);
            }
            err.hint(crate::host::proxy::OFFLINE_HINT)
                .hint(format!(
                    "a mirror of the releases: set {} to its https:// address",
                    env::KORTHBOX_DOWNLOAD_BASE
                ))
                .hint("or install kind, k3d or minikube yourself: korthbox uses the one on PATH")
        })?;
        let status = response.status();
        if status == hyper::StatusCode::PROXY_AUTHENTICATION_REQUIRED {
            return Err(Error::failure(format!(
                "could not download {url}: the proxy asked for credentials (407)"
            ))
            .caused_by(via.unwrap_or_default())
            .hint("put them in the proxy's URL: HTTP_PROXY=http://user:password@host:port"));
        }
        if status.is_redirection()
            && let Some(location) = response.headers().get(hyper::header::LOCATION)
        {
            url = resolve(&url, location.to_str().unwrap_or_default());
            continue;
        }
        if !status.is_success() {
            return Err(Error::failure(format!(
                "could not download {url}: the server answered {status}"
            )));
        }
        return Ok(response);
    }
    Err(Error::failure(format!("{url} redirects too many times")))
}

/// Installed.
#[derive(Debug, Clone)]
pub struct Installed {
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: u64,
}

/// Downloads, verifies and installs `driver`'s tool into korthbox's bin directory; the phase
/// shows the states (checksum, downloading, verifying, installing) and the bytes.
pub async fn install(
    env: &Env,
    driver: &dyn Driver,
    host: &HostOs,
    timeout: Duration,
    phase: &Phase<'_>,
) -> Result<Installed, Error> {
    let (os, arch) = platform(host)?;
    let release = download(env, driver, os, arch)?;
    let dir = env.bin_dir().ok_or_else(|| {
        Error::failure("korthbox has no directory to install into")
            .hint(format!("set {}", env::KORTHBOX_BIN_DIR))
    })?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::failure(format!("could not create {}", dir.display())).because(e))?;
    let executable = driver.kind().label();
    let partial = dir.join(format!("{executable}.{}.partial", std::process::id()));
    // Removed however this ends — a failure, the timeout, or Ctrl-C dropping the work — unless
    // it became the installed tool.
    let _cleanup = RemoveOnDrop(partial.clone());
    let work = async {
        phase.output("fetching the checksum");
        let published = published_hash(&release).await?;
        let expected = release.sha256.clone();
        if published != expected {
            return Err(Error::failure(format!(
                "{} publishes a different SHA-256 than korthbox pins for {}",
                release.checksum_url, release.file
            ))
            .caused_by(format!("pinned SHA-256    {expected}"))
            .caused_by(format!("published SHA-256 {published}"))
            .hint("nothing was downloaded; the release was replaced or the mirror serves another build: get the driver from its project directly"));
        }
        phase.output("downloading");
        let (actual, bytes) = fetch(&release.binary_url, &partial, phase).await?;
        phase.output("verifying");
        if actual != expected {
            return Err(Error::failure(format!("the download of {} does not match its published checksum", release.binary_url))
                .caused_by(format!("expected SHA-256 {expected}"))
                .caused_by(format!("got SHA-256      {actual} ({bytes} bytes)"))
                .hint("nothing was installed; try again, and if it persists the download was tampered with or the mirror is stale"));
        }
        phase.output("installing");
        let path = dir.join(executable);
        crate::host::fs::make_executable(&partial).map_err(|e| {
            Error::failure(format!("could not make {} executable", partial.display())).because(e)
        })?;
        std::fs::rename(&partial, &path).map_err(|e| {
            Error::failure(format!("could not move the download to {}", path.display())).because(e)
        })?;
        Ok(Installed {
            path,
            sha256: actual,
            bytes,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::failure(format!(
            "downloading {} did not finish within {}",
            release.binary_url,
            seconds(timeout)
        ))
        .hint("raise the limit with --download-timeout")),
    }
}

/// A file removed when this is dropped (if it is still there).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The SHA-256 the project publishes for the binary.
async fn published_hash(release: &Download) -> Result<String, Error> {
    let sums = get(&release.checksum_url)
        .await?
        .into_body()
        .collect()
        .await
        .map_err(|e| Error::failure(format!("could not read {}", release.checksum_url)).because(e))?
        .to_bytes();
    expected_hash(&String::from_utf8_lossy(&sums), &release.file).ok_or_else(|| {
        Error::failure(format!(
            "{} has no SHA-256 for {}",
            release.checksum_url, release.file
        ))
    })
}

/// Streams `url` into `path` while hashing; fails when fewer bytes arrive than announced.
async fn fetch(url: &str, path: &Path, phase: &Phase<'_>) -> Result<(String, u64), Error> {
    let response = get(url).await?;
    let total: Option<u64> = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    // Created exclusively: never a file someone else put (or linked) there.
    let file = crate::host::fs::create_exclusive(path)
        .map_err(|e| Error::failure(format!("could not create {}", path.display())).because(e))?;
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Error::failure(format!(
                "the download of {url} was cut short after {done} bytes{}",
                total.map(|t| format!(" of {t}")).unwrap_or_default()
            ))
            .because(e)
            .hint("nothing was installed; try again")
        })?;
        if let Ok(data) = frame.into_data() {
            hasher.update(&data);
            file.write_all(&data).await.map_err(|e| {
                Error::failure(format!("could not write {}", path.display())).because(e)
            })?;
            done += data.len() as u64;
            phase.progress(Progress {
                bytes: done,
                total_bytes: total,
                ..Progress::default()
            });
        }
    }
    file.flush()
        .await
        .map_err(|e| Error::failure(format!("could not write {}", path.display())).because(e))?;
    if let Some(total) = total
        && done < total
    {
        return Err(Error::failure(format!(
            "the download of {url} was cut short after {done} bytes of {total}"
        ))
        .hint("nothing was installed; try again"));
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((hash, done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_checksum_formats() {
        let h = "a".repeat(64);
        assert_eq!(
            expected_hash(&format!("{h}\n"), "minikube-linux-amd64"),
            Some(h.clone())
        );
        assert_eq!(
            expected_hash(&format!("{h}  kind-linux-amd64\n"), "kind-linux-amd64"),
            Some(h.clone())
        );
        let b = "b".repeat(64);
        let list = format!("{h}  _dist/k3d-darwin-arm64\n{b}  _dist/k3d-linux-amd64\n");
        assert_eq!(expected_hash(&list, "k3d-linux-amd64"), Some(b));
        assert_eq!(expected_hash(&list, "k3d-windows-amd64.exe"), None);
    }
}
