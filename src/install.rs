//! `korthbox install kind|k3d|minikube`: the pinned release for this OS and architecture,
//! streamed into `<name>.partial` while hashing, checked against the SHA-256 the project
//! publishes beside it, then renamed into korthbox's bin directory (searched after PATH).

use std::path::{Path, PathBuf};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

use crate::env::{self, Env};
use crate::error::Error;
use crate::host::tools::{ToolName, Version};

/// The release `korthbox install` fetches for each driver.
pub fn pinned(tool: ToolName) -> Option<Version> {
    match tool {
        ToolName::Kind => Some(Version::new(0, 33, 0)),
        ToolName::K3d => Some(Version::new(5, 8, 3)),
        ToolName::Minikube => Some(Version::new(1, 39, 0)),
        ToolName::Kubectl => None,
    }
}

/// Where the binary and its published checksum are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub binary_url: String,
    pub checksum_url: String,
    /// The file name the checksum list names the binary by.
    pub file: String,
}

/// The download URLs for `tool` on this OS and architecture.
pub fn release(env: &Env, tool: ToolName, os: &str, arch: &str) -> Result<Release, Error> {
    let version = pinned(tool)
        .ok_or_else(|| Error::usage(format!("korthbox does not install {}", tool.executable())))?;
    let v = version.to_string();
    let name = tool.executable();
    let file = format!("{name}-{os}-{arch}");
    let (binary_url, checksum_url) = match env.var(env::KORTHBOX_DOWNLOAD_BASE) {
        Some(base) => {
            let base = base.trim_end_matches('/');
            let dir = format!("{base}/{name}/{v}");
            let sums = match tool {
                ToolName::K3d => format!("{dir}/checksums.txt"),
                ToolName::Kind => format!("{dir}/{file}.sha256sum"),
                _ => format!("{dir}/{file}.sha256"),
            };
            (format!("{dir}/{file}"), sums)
        }
        None => {
            let repo = match tool {
                ToolName::Kind => "kubernetes-sigs/kind",
                ToolName::K3d => "k3d-io/k3d",
                ToolName::Minikube => "kubernetes/minikube",
                ToolName::Kubectl => unreachable!("kubectl has no pinned release"),
            };
            let dir = format!("https://github.com/{repo}/releases/download/{v}");
            let sums = match tool {
                ToolName::K3d => format!("{dir}/checksums.txt"),
                ToolName::Kind => format!("{dir}/{file}.sha256sum"),
                _ => format!("{dir}/{file}.sha256"),
            };
            (format!("{dir}/{file}"), sums)
        }
    };
    Ok(Release {
        binary_url,
        checksum_url,
        file,
    })
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

type HttpsClient = Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<Bytes>,
>;

fn client() -> Result<HttpsClient, Error> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| {
            Error::failure("this system has no CA certificates to check downloads against")
                .caused_by(e)
                .hint("install them (`sudo apt-get install ca-certificates` on Debian and Ubuntu)")
        })?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(https))
}

/// GET with redirects followed (GitHub's release downloads redirect to their storage).
async fn get(url: &str) -> Result<hyper::Response<hyper::body::Incoming>, Error> {
    let client = client()?;
    let mut url = url.to_string();
    for _ in 0..6 {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e| Error::failure(format!("{url} is not a URL")).caused_by(e))?;
        let response = client.get(uri).await.map_err(|e| {
            Error::failure(format!("could not download {url}"))
                .caused_by(e)
                .hint(format!(
                    "is the network up, and the server reachable? Set {} to download from a mirror",
                    env::KORTHBOX_DOWNLOAD_BASE
                ))
        })?;
        let status = response.status();
        if status.is_redirection()
            && let Some(location) = response.headers().get(hyper::header::LOCATION)
        {
            url = location.to_str().unwrap_or_default().to_string();
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

/// States the download goes through, for the progress display.
pub trait Progress {
    fn state(&self, state: &str);
    fn bytes(&self, done: u64, total: Option<u64>);
}

/// Downloads, verifies and installs `tool`.
pub async fn install(
    env: &Env,
    tool: ToolName,
    os: &str,
    arch: &str,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<Installed, Error> {
    let release = release(env, tool, os, arch)?;
    let dir = env.bin_dir().ok_or_else(|| {
        Error::failure("korthbox has no directory to install into")
            .hint(format!("set {}", env::KORTHBOX_BIN_DIR))
    })?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::failure(format!("could not create {}", dir.display())).caused_by(e))?;
    let work = async {
        progress.state("fetching the checksum");
        let sums = get(&release.checksum_url).await?;
        let sums = sums
            .into_body()
            .collect()
            .await
            .map_err(|e| {
                Error::failure(format!("could not read {}", release.checksum_url)).caused_by(e)
            })?
            .to_bytes();
        let expected =
            expected_hash(&String::from_utf8_lossy(&sums), &release.file).ok_or_else(|| {
                Error::failure(format!(
                    "{} has no SHA-256 for {}",
                    release.checksum_url, release.file
                ))
            })?;
        progress.state("downloading");
        let partial = dir.join(format!("{}.partial", tool.executable()));
        let result = download(&release.binary_url, &partial, progress).await;
        let (actual, bytes) = match result {
            Ok(done) => done,
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                return Err(e);
            }
        };
        progress.state("verifying");
        if actual != expected {
            let _ = std::fs::remove_file(&partial);
            return Err(Error::failure(format!("the download of {} does not match its published checksum", release.binary_url))
                .caused_by(format!("expected SHA-256 {expected}"))
                .caused_by(format!("got SHA-256      {actual} ({bytes} bytes)"))
                .hint("nothing was installed; try again, and if it persists the download was tampered with or the mirror is stale"));
        }
        progress.state("installing");
        let path = dir.join(tool.executable());
        set_executable(&partial)?;
        std::fs::rename(&partial, &path).map_err(|e| {
            Error::failure(format!("could not move the download to {}", path.display()))
                .caused_by(e)
        })?;
        progress.state("done");
        Ok(Installed {
            path,
            sha256: actual,
            bytes,
        })
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => {
            let _ = std::fs::remove_file(dir.join(format!("{}.partial", tool.executable())));
            Err(Error::failure(format!(
                "downloading {} did not finish within {}",
                release.binary_url,
                crate::ui::seconds(timeout)
            ))
            .hint("raise the limit with --timeout"))
        }
    }
}

/// Streams `url` into `path` while hashing; fails when fewer bytes arrive than announced.
async fn download(url: &str, path: &Path, progress: &dyn Progress) -> Result<(String, u64), Error> {
    let response = get(url).await?;
    let total: Option<u64> = response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| Error::failure(format!("could not create {}", path.display())).caused_by(e))?;
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Error::failure(format!(
                "the download of {url} was cut short after {done} bytes{}",
                total.map(|t| format!(" of {t}")).unwrap_or_default()
            ))
            .caused_by(e)
            .hint("nothing was installed; try again")
        })?;
        if let Ok(data) = frame.into_data() {
            hasher.update(&data);
            file.write_all(&data).await.map_err(|e| {
                Error::failure(format!("could not write {}", path.display())).caused_by(e)
            })?;
            done += data.len() as u64;
            progress.bytes(done, total);
        }
    }
    file.flush()
        .await
        .map_err(|e| Error::failure(format!("could not write {}", path.display())).caused_by(e))?;
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

fn set_executable(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(|e| {
            Error::failure(format!("could not make {} executable", path.display())).caused_by(e)
        })?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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
