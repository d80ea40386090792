//! The steps `up` is made of, each one phase, shared with the commands that run one of them on
//! its own (`cluster create|check|delete|load`, `stack apply`, `prove`).

use std::time::Duration;

use super::Context;
use super::target::Target;
use crate::base::error::Error;
use crate::base::spec::{BUCKET, ClusterSpec, StorageLayer, VolumeSource};
use crate::driver::actions::{self, Created, Deleted};
use crate::evaluate::proof::{self, Proof};
use crate::host::s3::Made;
use crate::kube::apply::{self, Applied};
use crate::kube::cluster::{self, ClusterReport};
use crate::kube::ownership::{self, Provisioner, Trust};
use crate::kube::stack::spec::ExternalS3;
use crate::kube::stack::{LOCAL_PATH_CLASS, S3Keys, Secrets, StackSpec, Stage};

/// What the proof did, in the words of `up`'s summary.
pub const PROOF_DETAIL: &str = "DICOM echo, store and find; REST read-back; DICOMweb QIDO, WADO and STOW; files found in storage; cleaned up";

/// Creates the cluster (kept when it exists).
pub async fn create_cluster(
    ctx: &Context,
    spec: &ClusterSpec,
    target: &Target,
    retain: bool,
    timeout: Duration,
) -> Result<Created, Error> {
    let driver = target.driver();
    let title = format!("Creating {} cluster {}", target.driver.label(), spec.name);
    ctx.steps
        .run(
            title,
            async |phase| {
                actions::create(
                    &ctx.env,
                    spec,
                    driver,
                    &target.provider,
                    retain,
                    timeout,
                    phase,
                )
                .await
            },
            |created| {
                if created.created {
                    String::new()
                } else {
                    "it exists; reusing it".into()
                }
            },
        )
        .await
}

/// The cluster checks; every refusal happens here, before the first write.
pub async fn check_cluster(
    ctx: &Context,
    context: &str,
    wait: Duration,
) -> Result<ClusterReport, Error> {
    ctx.steps
        .run(
            format!("Checking the cluster of context {context}"),
            async |_| cluster::check(&ctx.env, context, wait).await,
            |report| format!("{} nodes Ready on containerd", report.nodes.len()),
        )
        .await
}

/// Loads images from the engine into every node, as the phase `title`.
pub async fn load_images(
    ctx: &Context,
    title: String,
    target: &Target,
    images: &[String],
    timeout: Duration,
) -> Result<(), Error> {
    let (name, driver, provider) = (&target.name, target.driver(), &target.provider);
    ctx.steps
        .run(
            title,
            async |phase| {
                actions::load(&ctx.env, name, driver, provider, images, timeout, phase).await
            },
            |_| String::new(),
        )
        .await
}

/// Deletes the cluster; one that is not there is not an error, one korthbox did not make is
/// refused unless `force` (`command` is how the user asked, for the hint).
pub async fn delete_cluster(
    ctx: &Context,
    title: String,
    target: &Target,
    (force, command): (bool, &str),
    timeout: Duration,
) -> Result<Deleted, Error> {
    let (name, driver, provider) = (&target.name, target.driver(), &target.provider);
    ctx.steps
        .run(
            title,
            async |phase| {
                let deleted = actions::delete(
                    &ctx.env,
                    name,
                    driver,
                    provider,
                    force,
                    timeout,
                    Some(phase),
                )
                .await?;
                if deleted == Deleted::Foreign {
                    let again = ctx.command_with(command, &["--force"]);
                    return Err(target.not_ours(&ctx.env, Some(&again)));
                }
                Ok(deleted)
            },
            |deleted| deleted_detail(*deleted).to_string(),
        )
        .await
}

/// How a finished delete is described.
pub fn deleted_detail(deleted: Deleted) -> &'static str {
    match deleted {
        Deleted::Deleted => "",
        Deleted::Absent => "there was no such cluster",
        Deleted::NotOurs => "an existing cluster is the user's own; korthbox deletes nothing of it",
        Deleted::Foreign => "korthbox did not make it; left alone",
    }
}

/// What applying the stack did.
pub struct Deployed {
    pub applied: Vec<Applied>,
    /// Objects created or changed.
    pub changed: usize,
    pub client: kube::Client,
    pub spec: StackSpec,
}

/// The stack, stage by stage, each stage a phase. Where its volumes come from is settled
/// here, by the driver, from what the cluster has.
pub async fn apply_stack(
    ctx: &Context,
    target: &Target,
    mut spec: StackSpec,
    wait: Duration,
) -> Result<Deployed, Error> {
    let client = cluster::client(&ctx.env, &target.context).await?;
    // A cluster korthbox made is its own; records of what it created are checked elsewhere.
    let cluster_ours = target.driver().makes_cluster() && target.made_by_korthbox(&ctx.env);
    let (ns, instance) = (&spec.namespace, &spec.instance);
    let claim = ownership::claim_namespace(&client, ns, instance, wait, cluster_ours).await?;
    let default_class = apply::default_storage_class(&client).await?;
    let driver = target.driver();
    spec.place(driver.placement(Some(default_class.is_some())));
    if claim == ownership::Claim::Ours {
        say_upgrades(ctx, &client, &spec).await?;
    }
    let mut secrets = Secrets::generate()
        .map_err(|e| Error::failure("could not read random bytes for the passwords").because(e))?;
    if let Some(own) = &spec.external_s3 {
        let keys = match &own.secret {
            None => s3_keys(ctx)?,
            Some(name) => s3_keys_in(&client, &spec.namespace, name).await?,
        };
        check_bucket(ctx, own, &keys, wait).await?;
        secrets.s3 = own.secret.is_none().then_some(keys);
    }
    if spec.external_postgres.is_some() {
        secrets.postgres_external = Some(postgres_password(ctx)?);
    }
    let mut manifests = crate::kube::stack::render(&spec, &secrets).map_err(Error::usage)?;
    // Before the first write: install the provisioner, apply again the one korthbox made,
    // or use one that someone else installed as it is.
    let storage: Vec<_> = manifests
        .iter()
        .filter(|m| m.stage == Stage::Storage)
        .cloned()
        .collect();
    let provisioner = match storage.is_empty() {
        true => Provisioner::Reuse,
        false => ownership::provisioner(&client, &storage, cluster_ours).await?,
    };
    if provisioner == Provisioner::Reuse && !storage.is_empty() {
        ctx.steps.note(&format!(
            "using the cluster's StorageClass {LOCAL_PATH_CLASS} as it is: korthbox did not install it, and neither changes nor deletes it"
        ));
        spec.volumes = VolumeSource::ExistingLocalPath;
        manifests = crate::kube::stack::render(&spec, &secrets).map_err(Error::usage)?;
    }
    let trust = Trust::new(spec.instance.clone(), spec.namespace.clone(), &provisioner);
    // MinIO's bucket is made through the S3 API as soon as MinIO is ready.
    let minio = spec.storage == StorageLayer::Minio;
    let bucket =
        |stage| (minio && stage == Stage::Minio).then(|| make_bucket(ctx, &client, &spec, wait));
    let steps = &ctx.steps;
    let applied = apply::apply(&client, &manifests, &trust, wait, steps, bucket).await?;
    let changed = applied.iter().filter(|a| a.change.changed()).count();
    Ok(Deployed {
        applied,
        changed,
        client,
        spec,
    })
}

/// The keys of the user's S3 service from the environment, or the usage error naming both
/// ways to give them.
pub fn s3_keys(ctx: &Context) -> Result<S3Keys, Error> {
    S3Keys::from_vars(|name| ctx.env.var(name).map(String::from)).ok_or_else(|| {
        Error::usage("--s3-bucket needs the keys of your S3 service, and AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set")
            .hint("export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or name a Secret of the namespace that has them with --s3-secret")
    })
}

/// The password of the user's own PostgreSQL, from the environment (on a terminal the command
/// asked for it first and put it there).
pub fn postgres_password(ctx: &Context) -> Result<String, Error> {
    let var = crate::base::env::KORTHBOX_POSTGRES_PASSWORD;
    ctx.env.var(var).map(String::from).ok_or_else(|| {
        Error::usage(format!("--postgres-url needs the password of its user, and {var} is not set"))
            .hint(format!("export {var}=… (korthbox asks for it only on a terminal, and never takes it from the URL)"))
    })
}

/// The keys in Secret `name` of `namespace` (`--s3-secret`).
async fn s3_keys_in(client: &kube::Client, namespace: &str, name: &str) -> Result<S3Keys, Error> {
    crate::kube::minio::keys_in(client, namespace, name)
        .await?
        .ok_or_else(|| {
            Error::usage(format!(
                "--s3-secret {name}: there is no Secret {name} in namespace {namespace} with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            ))
            .hint(format!(
                "`kubectl -n {namespace} create secret generic {name} --from-literal=AWS_ACCESS_KEY_ID=… --from-literal=AWS_SECRET_ACCESS_KEY=…`"
            ))
        })
}

/// The user's bucket checked as Orthanc will use it, before anything is applied.
async fn check_bucket(
    ctx: &Context,
    own: &ExternalS3,
    keys: &S3Keys,
    wait: Duration,
) -> Result<(), Error> {
    let place = crate::host::s3::Place {
        endpoint: own.endpoint.as_deref(),
        bucket: &own.bucket,
        region: &own.region,
        access_key: &keys.access_key_id,
        secret_key: &keys.secret_access_key,
        session_token: keys.session_token.as_deref(),
    };
    let title = format!("Checking S3 {}", own.describe());
    let check = async |_: &crate::base::report::Phase<'_>| {
        let s3 = crate::host::s3::S3::at(&place, wait.min(Duration::from_secs(30)))
            .map_err(Error::failure)?;
        s3.check().await.map_err(|e| {
            Error::failure(format!("Orthanc could not use S3 {}", own.describe()))
                .caused_by(e)
                .hint("fix the bucket or its keys (they must list, put, get and delete objects), then run korthbox again; none of the stack was applied")
        })
    };
    ctx.steps
        .run(title, check, |_| {
            "there; an object put, read back and deleted".to_string()
        })
        .await
}

/// What applying the stack changes in the sandbox as it runs now, said before anything is
/// written — or the refusal, when the data would not survive it.
async fn say_upgrades(ctx: &Context, client: &kube::Client, spec: &StackSpec) -> Result<(), Error> {
    let running = crate::sandbox::upgrade::running(client, &spec.namespace).await?;
    let images = spec.manifest_images();
    for change in crate::sandbox::upgrade::changes(&running, &images.postgres, &images.orthanc)? {
        ctx.steps.note(&format!("upgrading: {change}"));
    }
    Ok(())
}

/// MinIO's bucket, made unless it is there.
async fn make_bucket(
    ctx: &Context,
    client: &kube::Client,
    spec: &StackSpec,
    wait: Duration,
) -> Result<(), Error> {
    let title = format!("Making MinIO bucket {BUCKET}");
    let (ns, instance) = (&spec.namespace, spec.instance.as_str());
    let timeout = wait.min(Duration::from_secs(60));
    ctx.steps
        .run(
            title,
            async |_| {
                crate::kube::minio::ensure_bucket(client, ns, instance, BUCKET, timeout).await
            },
            |made| match made {
                Made::Created => "created".to_string(),
                Made::Existed => "already there".to_string(),
            },
        )
        .await?;
    Ok(())
}

/// Loads sample studies 1..=`studies` into the sandbox's Orthanc; what it did, in words.
pub async fn load_samples(
    ctx: &Context,
    client: &kube::Client,
    namespace: &str,
    instance: &str,
    studies: u32,
) -> Result<String, Error> {
    let timeout = crate::evaluate::proof::sandbox::STEP_TIMEOUT;
    let reached =
        crate::evaluate::orthanc::sandbox::reach(client, namespace, instance, timeout).await?;
    let peer = &reached.orthanc.dicom;
    let sent = ctx
        .steps
        .run(
            "Loading the sample studies",
            async |phase| {
                crate::evaluate::samples::send(
                    peer,
                    studies,
                    crate::evaluate::samples::WORKERS,
                    phase,
                )
                .await
            },
            |sent| sent.describe(),
        )
        .await?;
    Ok(sent.describe())
}

/// The proof, kept on the namespace for `status`; a proof that ran and failed is an `Ok`
/// with `passed` false (the caller decides what that means).
pub async fn prove(
    ctx: &Context,
    client: &kube::Client,
    namespace: &str,
    instance: &str,
    step_timeout: Duration,
) -> Result<Proof, Error> {
    let phase = ctx.steps.phase("Proving Orthanc works");
    let proving = proof::sandbox::prove(client, namespace, instance, step_timeout, Some(&phase));
    let proof = match proving.await {
        Ok(p) => p,
        Err(e) => {
            phase.finish(false, "");
            return Err(e);
        }
    };
    if let Err(e) = proof::record(client, namespace, &proof).await {
        ctx.steps.note(&format!("warning: {}", e.message));
    }
    if proof.passed {
        phase.finish(true, PROOF_DETAIL);
    } else {
        phase.finish(false, "");
    }
    Ok(proof)
}
