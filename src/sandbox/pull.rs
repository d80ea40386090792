//! Getting the stack's images into the nodes without the nodes downloading anything: pulled into
//! the host's engine in parallel (by digest, skipped when already there), tagged, and then
//! side-loaded through the driver's load command.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::query_parameters::{CreateImageOptions, TagImageOptions};
use futures_util::StreamExt;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::base::error::Error;
use crate::base::report::{Reporter, seconds};
use crate::driver::NodeProvider;
use crate::host::engines;
use crate::kube::stack::images::ImageRef;

/// What happened to one image.
#[derive(Debug, Clone, Serialize)]
pub struct Pulled {
    pub component: String,
    /// As pinned: `registry/repository:tag@digest`.
    pub reference: String,
    /// The name it is loaded into the nodes by: `registry/repository:tag`.
    pub tagged: String,
    /// false when the engine already had it (nothing was downloaded).
    pub pulled: bool,
    /// When this image's pull began, in seconds after the pulls began (they run at once).
    pub start: f64,
    pub seconds: f64,
}

impl Pulled {
    /// One line for people: `pulled IMAGE (1.2s)` or `cached IMAGE (…)`.
    pub fn describe(&self) -> String {
        if self.pulled {
            format!("pulled {} ({:.1}s)", self.reference, self.seconds)
        } else {
            format!(
                "cached {} (already in the engine; nothing downloaded)",
                self.reference
            )
        }
    }
}

fn pull_failed(reference: &str, image: &ImageRef) -> Error {
    let err = Error::failure(format!(
        "could not pull {reference} from {}",
        image.registry
    ));
    let mut err = match crate::kube::stack::images::pull_note(reference) {
        Some(note) => err.hint(note),
        None => err,
    };
    // The engine pulls, not korthbox: the shell's proxy counts only if the engine has it too.
    let shell = crate::host::proxy::Settings::from_env(&crate::base::env::Env::from_process());
    if let Some(proxy) = shell.https.as_ref().or(shell.http.as_ref()) {
        err = err
            .caused_by(format!(
                "the shell goes through proxy {proxy} (NO_PROXY: {}); the engine pulls with its own proxy settings",
                shell.no_proxy.as_deref().unwrap_or("unset")
            ))
            .hint("`korthbox doctor` checks that the engine has the proxy too (host.proxy), and says how to give it");
    }
    err.hint(format!(
        "check that {} is reachable from this machine and has the image; behind a proxy or without internet, point korthbox at a mirror with --registry-mirror HOST:PORT",
        image.registry
    ))
}

/// The images of `images` (as typed: `name:tag`, `name@digest`) that the engine at `uri` does
/// not have.
pub async fn missing(uri: &str, images: &[String]) -> Result<Vec<String>, Error> {
    let docker =
        crate::host::engines::client(uri, std::time::Duration::from_secs(30)).map_err(|e| {
            Error::failure(format!("could not talk to the engine at {uri}")).caused_by(e)
        })?;
    let mut out = Vec::new();
    for image in images {
        if docker.inspect_image(image).await.is_err() {
            out.push(image.clone());
        }
    }
    Ok(out)
}

async fn present(docker: &Docker, image: &ImageRef) -> bool {
    let by = match &image.digest {
        Some(digest) => format!("{}@{digest}", image.name()),
        None => image.tagged(),
    };
    docker.inspect_image(&by).await.is_ok()
}

async fn pull_one(
    docker: Docker,
    component: &'static str,
    image: ImageRef,
    reporter: Arc<dyn Reporter>,
    all_started: Instant,
) -> Result<Pulled, Error> {
    let started = Instant::now();
    let reference = image.to_string();
    let already = present(&docker, &image).await;
    if !already {
        let options = CreateImageOptions {
            from_image: Some(image.name()),
            tag: image.digest.clone().or_else(|| image.tag.clone()),
            ..Default::default()
        };
        let mut stream = docker.create_image(Some(options), None, None);
        while let Some(event) = stream.next().await {
            match event {
                Ok(info) => {
                    if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                        reporter.task(&reference, None);
                        return Err(pull_failed(&reference, &image).caused_by(detail));
                    }
                    let status = [info.id, info.status]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(" ");
                    reporter.task(&reference, Some(&status));
                }
                Err(e) => {
                    reporter.task(&reference, None);
                    return Err(pull_failed(&reference, &image).because(e));
                }
            }
        }
    }
    // Loaded images go by tag in the nodes; give the pinned digest that name.
    if let Some(digest) = &image.digest {
        let tag = image.tag.clone().unwrap_or_else(|| "latest".into());
        docker
            .tag_image(
                &format!("{}@{digest}", image.name()),
                Some(TagImageOptions {
                    repo: Some(image.name()),
                    tag: Some(tag),
                }),
            )
            .await
            .map_err(|e| Error::failure(format!("could not tag {reference}")).because(e))?;
    }
    let took = started.elapsed();
    reporter.task(&reference, None);
    Ok(Pulled {
        component: component.to_string(),
        reference,
        tagged: image.tagged(),
        pulled: !already,
        start: (started.duration_since(all_started).as_secs_f64() * 100.0).round() / 100.0,
        seconds: (took.as_secs_f64() * 10.0).round() / 10.0,
    })
}

/// Pulls every image at once into the engine behind `provider`; `timeout` bounds them all.
pub async fn pull_all(
    provider: &NodeProvider,
    images: Vec<(&'static str, ImageRef)>,
    timeout: Duration,
    reporter: Arc<dyn Reporter>,
) -> Result<Vec<Pulled>, Error> {
    let uri = provider
        .endpoint
        .clone()
        .ok_or_else(|| Error::failure("no engine answered to pull the images into"))?;
    let docker = engines::client(&uri, timeout).map_err(Error::failure)?;
    let mut set = JoinSet::new();
    let all_started = Instant::now();
    for (i, (component, image)) in images.into_iter().enumerate() {
        let (docker, reporter) = (docker.clone(), reporter.clone());
        set.spawn(async move {
            (
                i,
                pull_one(docker, component, image, reporter, all_started).await,
            )
        });
    }
    let all = async {
        let mut done = Vec::new();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, Ok(p))) => done.push((i, p)),
                Ok((_, Err(e))) => return Err(e),
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        }
        done.sort_by_key(|(i, _)| *i);
        Ok(done.into_iter().map(|(_, p)| p).collect())
    };
    match tokio::time::timeout(timeout, all).await {
        Ok(result) => result,
        Err(_) => Err(Error::failure(format!(
            "pulling the images did not finish within {}",
            seconds(timeout)
        ))
        .hint(
            "a slow registry: raise --create-timeout, or use a nearer one with --registry-mirror",
        )),
    }
}
