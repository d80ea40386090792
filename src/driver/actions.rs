//! What korthbox does with a driver's command lines: create a cluster (cleaning up a failed
//! attempt), list, delete and feed clusters, each command under a timeout, its output streamed
//! into the phase that runs it.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;

use super::api::{Definition, Driver, ImageSource, NodeProvider};
use super::common;
use super::owned;
use super::run::{self, Outcome};
use crate::base::env::Env;
use crate::base::error::Error;
use crate::base::report::{Phase, seconds};
use crate::base::spec::{ClusterSpec, SandboxName};
use crate::host::engines;

/// Names of the clusters the driver's tool has.
pub async fn list(
    env: &Env,
    driver: &dyn Driver,
    provider: &NodeProvider,
    timeout: Duration,
) -> Result<Vec<String>, Error> {
    let Some(inv) = driver.list(provider) else {
        return Ok(Vec::new());
    };
    let outcome = run::run(env, &inv, timeout, None).await?;
    driver
        .parse_list(outcome.success, &outcome.stdout)
        .map_err(|e| {
            run::failed(
                &format!("could not list the {} clusters", driver.kind().label()),
                &inv,
                &outcome,
            )
            .caused_by(e)
        })
}

/// What [`create`] did.
#[derive(Debug, Clone)]
pub struct Created {
    /// `false` when a cluster of that name was already there and was kept.
    pub created: bool,
    /// A cluster of that name was there, and korthbox had not made it (nothing was done).
    pub foreign: bool,
    /// Where the definition handed to the tool was written.
    pub definition: Option<PathBuf>,
    pub context: String,
}

/// Creates the cluster unless it exists; a failed attempt is deleted unless `retain`.
/// What a driver gets about proxies when the shell has one: the proxy variables as they are
/// (kind and minikube pass them on to the nodes), with `NO_PROXY` — both cases — extended by
/// this machine and the cluster's own addresses. Nothing when the shell has no proxy.
pub fn proxy_env(env: &Env, driver: &dyn Driver) -> Vec<(String, String)> {
    let proxies = crate::host::proxy::ProxyEnv::from_env(env);
    if crate::host::proxy::Settings::from_env(env).is_empty() {
        return Vec::new();
    }
    let mut entries: Vec<String> = proxies
        .no
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(String::from)
        .collect();
    for own in ["localhost", "127.0.0.1", "::1"]
        .iter()
        .chain(driver.no_proxy())
    {
        if !entries.iter().any(|e| e == own) {
            entries.push(own.to_string());
        }
    }
    let list = entries.join(",");
    let mut out = proxies.both_cases();
    out.push((crate::base::env::NO_PROXY.to_string(), list.clone()));
    out.push((crate::base::env::NO_PROXY_LOWER.to_string(), list));
    out
}

/// Refuses to create a cluster whose tool would write over kubeconfig entries someone else
/// has (minikube writes context, cluster and user under the profile's very name, and its
/// delete removes them): unless the entries are of a cluster korthbox made under that name.
fn refuse_taken_entries(env: &Env, spec: &ClusterSpec, driver: &dyn Driver) -> Result<(), Error> {
    if owned::made_by_korthbox(env.cache_dir().as_deref(), driver, &spec.name) {
        return Ok(());
    }
    let context = driver.context(&spec.name);
    let taken = crate::host::kubeconfig::taken(env, &context, &driver.kube_user(&spec.name));
    if taken.is_empty() {
        return Ok(());
    }
    let files: Vec<String> = crate::host::kubeconfig::files(env)
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    Err(Error::usage(format!(
        "the kubeconfig already has {}; {} would write over it",
        taken.join(", "),
        driver.kind().label()
    ))
    .caused_by(format!(
        "{} writes the context, cluster and user {context} for sandbox {} (into {}), and deleting the sandbox would remove them; korthbox did not make them",
        driver.kind().label(),
        spec.name,
        files.join(", ")
    ))
    .hint(format!(
        "give the sandbox another name with --name (for example --name {}-sandbox); the existing entries stay as they are",
        spec.name
    )))
}

pub async fn create(
    env: &Env,
    spec: &ClusterSpec,
    driver: &dyn Driver,
    provider: &NodeProvider,
    retain: bool,
    timeout: Duration,
    phase: &Phase<'_>,
) -> Result<Created, Error> {
    let context = driver.context(&spec.name);
    let kept = |foreign| Created {
        created: false,
        foreign,
        definition: None,
        context: context.clone(),
    };
    if !driver.makes_cluster() {
        return Ok(kept(false));
    }
    if list(env, driver, provider, LIST_TIMEOUT)
        .await?
        .iter()
        .any(|n| n == spec.name.as_str())
    {
        let ours = owned::made_by_korthbox(env.cache_dir().as_deref(), driver, &spec.name);
        return Ok(kept(!ours));
    }
    refuse_taken_entries(env, spec, driver)?;
    let definition = driver.render(spec, provider).map_err(Error::usage)?;
    // A new cluster has none of the images an earlier one of the same name was given.
    owned::record_loaded(env.cache_dir().as_deref(), &spec.name, &[], true);
    // Notes, not items: they say what korthbox chose, not a step that finished.
    for note in [driver.cgroup_note(spec, provider), driver.mirror_note(spec)]
        .into_iter()
        .flatten()
    {
        phase.reporter().note(&format!("note: {note}"));
    }
    let path = keep_definition(env, driver, spec, &definition)?;
    let mut inv = driver
        .create(spec, provider, path.as_deref(), retain)
        .map_err(Error::failure)?;
    inv.env.extend(proxy_env(env, driver));
    let failure = match run::run(env, &inv, timeout, Some(phase)).await {
        Ok(outcome) if outcome.success => {
            return Ok(Created {
                created: true,
                foreign: false,
                definition: path,
                context,
            });
        }
        Ok(outcome) => create_failed(env, spec, driver, &inv, &outcome),
        Err(e) => e,
    };
    Err(clean_up(env, &spec.name, driver, provider, retain, failure).await)
}

/// Writes the definition into korthbox's cache before the tool runs: it is handed to the tool
/// (a config file), and it is the evidence that korthbox made the cluster, even one that breaks
/// half-way. The config file's path, when the tool takes one.
fn keep_definition(
    env: &Env,
    driver: &dyn Driver,
    spec: &ClusterSpec,
    definition: &Definition,
) -> Result<Option<PathBuf>, Error> {
    let dir = env.cache_dir().ok_or_else(|| {
        Error::failure("korthbox has no cache directory to write the cluster definition in").hint(
            format!("set {} or HOME", crate::base::env::KORTHBOX_CACHE_DIR),
        )
    })?;
    let (text, config) = match definition {
        Definition::File { yaml, .. } => (yaml.clone(), true),
        Definition::Args(args) => (format!("{}\n", args.join("\n")), false),
        Definition::Nothing => return Ok(None),
    };
    let Some(file) = driver.definition_file() else {
        return Ok(None);
    };
    let path = common::definition_path(&dir, &spec.name, file);
    common::write_definition(&path, &text)?;
    Ok(config.then_some(path))
}

/// The error for a create the tool failed: its command and last output here, all of its output
/// kept beside the definition.
fn create_failed(
    env: &Env,
    spec: &ClusterSpec,
    driver: &dyn Driver,
    inv: &super::api::Invocation,
    outcome: &Outcome,
) -> Error {
    let what = format!(
        "{} could not create cluster {}",
        driver.kind().label(),
        spec.name
    );
    let mut err = run::failed(&what, inv, outcome);
    if crate::host::proxy::looks_offline(&outcome.lines) {
        err = err.hint(crate::host::proxy::OFFLINE_HINT).hint(
            "or pull from a registry mirror: --registry-mirror HOST[:PORT][/PATH] (the stack's images, and kind's and k3d's node images)",
        );
    }
    let log = env
        .cache_dir()
        .map(|d| common::definition_path(&d, &spec.name, common::CREATE_LOG));
    match log {
        Some(log) if common::write_definition(&log, &outcome.lines.join("\n")).is_ok() => {
            err.caused_by(format!("the whole output is in {}", log.display()))
        }
        _ => err,
    }
}

/// After a failed create: delete what was made, unless the user wants to look at it.
async fn clean_up(
    env: &Env,
    name: &SandboxName,
    driver: &dyn Driver,
    provider: &NodeProvider,
    retain: bool,
    failure: Error,
) -> Error {
    if retain {
        let hint = match driver.delete(name, provider) {
            Some(inv) => format!(
                "the half-made cluster was kept (--retain); delete it with `{}`",
                inv.display()
            ),
            None => "the half-made cluster was kept (--retain)".to_string(),
        };
        return failure.hint(hint);
    }
    // The half-made cluster is korthbox's: it wrote the definition before running the tool.
    match delete(env, name, driver, provider, false, DELETE_TIMEOUT, None).await {
        Ok(Deleted::Deleted) => failure
            .caused_by("the half-made cluster was deleted")
            .hint("run again with --retain to keep a failed cluster for inspection"),
        // The tool made nothing (it stopped before its first node): nothing to delete or keep.
        Ok(_) => failure,
        Err(e) => failure
            .caused_by(format!(
                "deleting the half-made cluster failed too: {}",
                e.message
            ))
            .hint(
                driver
                    .delete(name, provider)
                    .map(|inv| format!("delete it by hand: `{}`", inv.display()))
                    .unwrap_or_default(),
            ),
    }
}

/// Whether [`delete`] removed a cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// There was no such cluster; nothing to do.
    Absent,
    /// An existing cluster is the user's own; korthbox never deletes it.
    NotOurs,
    /// A cluster of that name korthbox did not make; left alone (not forced).
    Foreign,
}

/// Of `images`, those korthbox has not loaded into cluster `name` yet.
pub fn not_loaded(env: &Env, name: &SandboxName, images: &[String]) -> Vec<String> {
    let loaded = owned::loaded(env.cache_dir().as_deref(), name);
    images
        .iter()
        .filter(|i| !loaded.contains(i))
        .cloned()
        .collect()
}

/// Deletes the cluster; a cluster that does not exist is not an error, and one korthbox did not
/// make is left alone unless `force`.
pub async fn delete(
    env: &Env,
    name: &SandboxName,
    driver: &dyn Driver,
    provider: &NodeProvider,
    force: bool,
    timeout: Duration,
    phase: Option<&Phase<'_>>,
) -> Result<Deleted, Error> {
    let Some(inv) = driver.delete(name, provider) else {
        return Ok(Deleted::NotOurs);
    };
    // Not every tool treats a missing cluster as success (k3d exits 1), so ask first.
    if !list(env, driver, provider, LIST_TIMEOUT)
        .await?
        .iter()
        .any(|n| n == name.as_str())
    {
        // Gone already: korthbox's record of it would only mistake a later cluster of the same
        // name for its own.
        owned::forget(env.cache_dir().as_deref(), driver, name);
        return Ok(Deleted::Absent);
    }
    if !force && !owned::made_by_korthbox(env.cache_dir().as_deref(), driver, name) {
        return Ok(Deleted::Foreign);
    }
    let outcome = run::run(env, &inv, timeout, phase).await?;
    if outcome.success {
        owned::forget(env.cache_dir().as_deref(), driver, name);
        Ok(Deleted::Deleted)
    } else {
        Err(run::failed(
            &format!("{} could not delete cluster {name}", driver.kind().label()),
            &inv,
            &outcome,
        ))
    }
}

/// Loads images from the engine into every node of the cluster.
pub async fn load(
    env: &Env,
    name: &SandboxName,
    driver: &dyn Driver,
    provider: &NodeProvider,
    images: &[String],
    timeout: Duration,
    phase: &Phase<'_>,
) -> Result<(), Error> {
    let archive = match driver.image_source(provider) {
        ImageSource::Engine => None,
        ImageSource::Archive => Some(export(env, name, provider, images, timeout).await?),
    };
    let Some(inv) = driver.load(name, provider, images, archive.as_deref()) else {
        return Err(Error::usage(format!(
            "{} clusters are not loaded with images by korthbox",
            driver.kind().label()
        ))
        .hint("push the images to a registry the cluster can pull from"));
    };
    let outcome = run::run(env, &inv, timeout, Some(phase)).await;
    if let Some(path) = &archive {
        let _ = std::fs::remove_file(path);
    }
    let outcome: Outcome = outcome?;
    if outcome.success {
        owned::record_loaded(env.cache_dir().as_deref(), name, images, false);
        Ok(())
    } else {
        Err(run::failed(
            &format!(
                "could not load the images into {} cluster {name}",
                driver.kind().label()
            ),
            &inv,
            &outcome,
        )
        .hint(
            "the images must be in the engine first: `docker pull IMAGE` (or `podman pull IMAGE`)",
        ))
    }
}

/// Saves `images` from the engine into one archive through the engine's API.
async fn export(
    env: &Env,
    name: &SandboxName,
    provider: &NodeProvider,
    images: &[String],
    timeout: Duration,
) -> Result<PathBuf, Error> {
    let uri = provider.endpoint.as_deref().ok_or_else(|| {
        Error::failure("no engine answered, so there is nothing to export images from")
    })?;
    let docker = engines::client(uri, timeout).map_err(Error::failure)?;
    let dir = common::cluster_dir(
        &env.cache_dir().ok_or_else(|| {
            Error::failure("korthbox has no cache directory for the image archive")
        })?,
        name,
    );
    crate::host::fs::create_private_dir(&dir)
        .map_err(|e| Error::failure(format!("could not create {}", dir.display())).because(e))?;
    let path = dir.join("images.tar");
    let refs: Vec<&str> = images.iter().map(String::as_str).collect();
    let write = async {
        let options = crate::host::fs::private_options();
        let mut file = tokio::fs::OpenOptions::from(options)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .await?;
        let mut stream = docker.export_images(&refs);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(std::io::Error::other)?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await
    };
    let failure = match tokio::time::timeout(timeout, write).await {
        Ok(Ok(())) => return Ok(path),
        Ok(Err(e)) => Error::failure(format!(
            "could not export {} from the engine at {uri}",
            images.join(", ")
        ))
        .because(e),
        Err(_) => Error::failure(format!(
            "exporting {} from the engine did not finish within {}",
            images.join(", "),
            seconds(timeout)
        )),
    };
    // A partial archive is of no use to anyone.
    let _ = std::fs::remove_file(&path);
    Err(failure)
}

/// How long listing clusters may take: a Go tool's start plus one engine round trip.
pub const LIST_TIMEOUT: Duration = Duration::from_secs(60);
/// How long deleting a cluster may take.
pub const DELETE_TIMEOUT: Duration = Duration::from_secs(300);
