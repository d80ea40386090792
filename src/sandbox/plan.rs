//! `plan`: what `up` would create — the driver's cluster definition, the stack's objects and
//! images — decided without creating anything. The host is only asked what the request leaves
//! open (which driver is installed, which engine answers).

use super::Context;
use super::steps;
use super::target::Wanted;
use crate::base::error::Error;
use crate::base::spec::ClusterSpec;
use crate::driver::{
    self, AUTO_ORDER, Definition, Driver, DriverKind, NodeProvider, ProviderKind, minikube,
};
use crate::kube::stack::{self, Choices, Secrets, StackSpec};

/// What `plan` is asked.
#[derive(Debug, Clone)]
pub struct Request {
    pub wanted: Wanted,
    pub cluster: ClusterSpec,
    pub stack: Choices,
    pub show_secrets: bool,
    /// Whether the manifests will be shown (notes about them are said only then).
    pub manifests_wanted: bool,
    /// Whether the cluster's definition will be shown (notes about it are said only then).
    pub cluster_wanted: bool,
}

/// The driver's part of the plan.
#[derive(Debug, Clone)]
pub struct ClusterPart {
    /// The conventional file name of the definition (`kind.yaml`, `minikube.args`).
    pub file_name: &'static str,
    /// The file as written with `--output-dir`.
    pub file: String,
    /// What stdout shows: the file, or minikube's command line.
    pub shown: String,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub driver: DriverKind,
    pub provider: NodeProvider,
    pub cluster: Option<ClusterPart>,
    /// Every object, as one multi-document YAML stream.
    pub manifests: String,
    /// Every image, one per line.
    pub images: String,
}

impl Plan {
    pub fn driver(&self) -> &'static dyn Driver {
        self.driver.driver()
    }
}

/// The values the Secrets show: fresh ones with `--show-secrets` (and the user's own, from the
/// environment), else `<redacted…>`.
fn secrets(ctx: &Context, req: &Request, spec: &StackSpec) -> Result<Secrets, Error> {
    let mut secrets = if req.show_secrets {
        Secrets::generate().map_err(|e| {
            Error::failure("could not read random bytes for the passwords").because(e)
        })?
    } else {
        Secrets::redacted()
    };
    if spec
        .external_s3
        .as_ref()
        .is_some_and(|own| own.secret.is_none())
    {
        secrets.s3 = match req.show_secrets {
            true => Some(steps::s3_keys(ctx)?),
            false => Some(crate::kube::stack::S3Keys::redacted()),
        };
    }
    if spec.external_postgres.is_some() {
        secrets.postgres_external = Some(match req.show_secrets {
            true => steps::postgres_password(ctx)?,
            false => crate::kube::stack::secrets::REDACTED.to_string(),
        });
    }
    Ok(secrets)
}

pub async fn plan(ctx: &Context, req: &Request) -> Result<Plan, Error> {
    req.wanted.check()?;
    let (kind, provider) = settle(ctx, &req.wanted).await;
    let driver = kind.driver();
    let definition = driver.render(&req.cluster, &provider).map_err(|e| {
        Error::usage(e).hint(format!(
            "{}'s default is {}",
            kind.label(),
            driver.default_kubernetes_version()
        ))
    })?;
    let cluster_notes = [
        driver.mirror_note(&req.cluster),
        driver.cgroup_note(&req.cluster, &provider),
    ];
    for note in cluster_notes
        .iter()
        .flatten()
        .filter(|_| req.cluster_wanted)
    {
        ctx.steps.note(&format!("note: {note}"));
    }
    ctx.note_unused(driver, &req.stack);
    let shell = crate::host::proxy::Settings::from_env(&ctx.env);
    if driver.makes_cluster() && !shell.is_empty() {
        let no_proxy = crate::driver::actions::proxy_env(&ctx.env, driver)
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or_default();
        let proxy = shell.https.or(shell.http).unwrap_or_default();
        let nodes = match driver.passes_proxy_to_nodes() {
            true => "and passes it to the nodes",
            false => {
                "but does not pass it to its nodes (they pull nothing: korthbox side-loads the stack's images)"
            }
        };
        ctx.steps.note(&format!(
            "note: {} gets the shell's proxy ({proxy}) {nodes}, with NO_PROXY={no_proxy}",
            driver.kind().label()
        ));
    }
    // Where volumes come from is decided by the driver alone here: plan looks at no cluster.
    let placement = driver.placement(None);
    if !driver.makes_cluster() && req.manifests_wanted {
        ctx.steps.note("note: the local-path-provisioner objects are skipped when the cluster already has a default StorageClass, or a local-path class korthbox did not create (which is then used as it is)");
    }
    let spec = StackSpec::new(&req.stack, &req.cluster.name, placement).map_err(Error::usage)?;
    let secrets = secrets(ctx, req, &spec)?;
    let manifests = stack::render(&spec, &secrets).map_err(Error::usage)?;
    // The nodes' own image first (what the driver pulls), then the stack's.
    let images = driver
        .node_images(&req.cluster, &provider)
        .into_iter()
        .chain(
            spec.images_used()
                .iter()
                .map(|(_, image)| image.to_string()),
        )
        .map(|image| format!("{image}\n"))
        .collect();
    let cluster = cluster_part(driver, &req.cluster, &provider, definition)?;
    Ok(Plan {
        driver: kind,
        provider,
        cluster,
        manifests: stack::to_yaml(&manifests),
        images,
    })
}

/// The driver and engine to plan for, asking the host only what the request leaves open.
async fn settle(ctx: &Context, wanted: &Wanted) -> (DriverKind, NodeProvider) {
    let needs_engine =
        wanted.provider.is_none() && wanted.driver.is_none_or(|k| k.driver().makes_cluster());
    let facts = if wanted.driver.is_none() || needs_engine {
        Some(ctx.gather_for(wanted.provider).await)
    } else {
        None
    };
    let kind = wanted
        .driver
        .or_else(|| facts.as_ref().and_then(|f| driver::pick(None, f)))
        .unwrap_or_else(|| {
            ctx.steps.note(&format!(
                "note: no cluster driver is installed; planning as for {}, the first one `up` would use",
                AUTO_ORDER[0].label()
            ));
            AUTO_ORDER[0]
        });
    let provider = facts
        .as_ref()
        .and_then(|f| driver::provider(f, wanted.provider))
        .or_else(|| {
            // Named but not asked: where such an engine's socket is (paths only, no probe).
            let endpoints =
                crate::host::engines::discover(&ctx.env, crate::host::os::detect(&ctx.env).family);
            wanted
                .provider
                .map(|k| NodeProvider::located(k, &endpoints))
        })
        .unwrap_or_else(|| {
            if kind.driver().makes_cluster() {
                ctx.steps
                    .note("note: no container engine answered; planning for Docker");
            }
            NodeProvider::assumed(ProviderKind::Docker)
        });
    (kind, provider)
}

fn cluster_part(
    driver: &dyn Driver,
    spec: &ClusterSpec,
    provider: &NodeProvider,
    definition: Definition,
) -> Result<Option<ClusterPart>, Error> {
    Ok(match definition {
        Definition::File { file_name, yaml } => Some(ClusterPart {
            file_name,
            file: yaml.clone(),
            shown: yaml,
        }),
        Definition::Args(argv) => {
            let inv = driver
                .create(spec, provider, None, false)
                .map_err(Error::failure)?;
            Some(ClusterPart {
                file_name: minikube::FILE_NAME,
                file: format!("{}\n", argv.join("\n")),
                shown: format!("{}\n", inv.display()),
            })
        }
        Definition::Nothing => None,
    })
}
