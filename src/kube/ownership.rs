//! What korthbox may touch in a cluster, decided by what it can show it created — never by
//! labels, which anyone can add (a non-forced server-side apply adds them to another's object
//! without a conflict). korthbox creates an object that others may already have (a namespace,
//! the local-path-provisioner's namespace, RBAC and StorageClass) only when it is absent, and
//! then keeps the UID the API server gave it: the sandbox's namespace carries its own UID and
//! the sandbox's name (`korthbox.io/uid`, `korthbox.io/sandbox`); the provisioner's namespace
//! carries its own UID, the UIDs of the cluster-wide objects korthbox created for it
//! (`korthbox.io/created`) and the namespaces of the sandboxes that use it
//! (`korthbox.io/users`, the reference count). The records are written by a field manager of
//! their own, so no apply of korthbox's removes them; `down` deletes only what a record names,
//! with its UID as the delete's precondition.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::pin;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim};
use kube::Client;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, Preconditions};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::json;

use crate::base::error::Error;
use crate::base::report::seconds;
use crate::base::spec::SandboxName;
use crate::kube::stack::manifest::{Manifest, belongs, resource};
use crate::kube::stack::{LOCAL_PATH_CLASS, LOCAL_PATH_NAMESPACE};

/// The field manager that writes korthbox's records of what it created.
const RECORD_MANAGER: &str = "korthbox-record";
/// The UID the namespace had when korthbox created it.
const UID: &str = "korthbox.io/uid";
/// The sandbox a namespace korthbox created is for.
const SANDBOX: &str = "korthbox.io/sandbox";
/// On the provisioner's namespace: `{"apiVersion/Kind/name": uid}` of what korthbox created.
const CREATED: &str = "korthbox.io/created";
/// On the provisioner's namespace: the namespaces of the sandboxes that use it.
const USERS: &str = "korthbox.io/users";
/// The provisioner local-path's StorageClass names.
const LOCAL_PATH_PROVISIONER: &str = "rancher.io/local-path";

/// Namespaces korthbox never puts a sandbox in: the cluster's own, and the provisioner's.
pub const RESERVED_NAMESPACES: [&str; 2] = ["default", "local-path-storage"];

/// Why a `--namespace` cannot hold a sandbox, if it cannot.
pub fn reserved(namespace: &str) -> Option<String> {
    (RESERVED_NAMESPACES.contains(&namespace) || namespace.starts_with("kube-")).then(|| {
        format!("{namespace:?} is the cluster's own namespace; a sandbox needs one of its own, such as \"korthbox\"")
    })
}

fn annotation<'o>(meta: &'o kube::api::ObjectMeta, key: &str) -> Option<&'o str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// Whether korthbox's record on the namespace says it created it (for sandbox `instance`).
fn recorded_for(ns: &Namespace, instance: &str) -> bool {
    let meta = &ns.metadata;
    meta.uid.is_some()
        && annotation(meta, UID) == meta.uid.as_deref()
        && annotation(meta, SANDBOX) == Some(instance)
}

/// Whether namespace `namespace` carries korthbox's record of creating it for sandbox
/// `instance` (labels alone prove nothing); false when there is none.
pub async fn recorded(client: &Client, namespace: &str, instance: &str) -> Result<bool, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    Ok(read(&api, namespace)
        .await?
        .is_some_and(|ns| recorded_for(&ns, instance)))
}

/// How the sandbox's namespace stands before an apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// There is none yet; the apply creates it.
    New,
    /// korthbox created it for this sandbox.
    Ours,
}

/// Checks that `namespace` is new or one korthbox created for sandbox `instance`; one still
/// being deleted is waited for (up to `wait`). In a cluster korthbox made itself
/// (`cluster_ours`), a namespace with korthbox's labels is the sandbox's too (an earlier
/// korthbox made it before records were kept; the apply records it). Anything else is
/// refused: korthbox would write over what is in it.
pub async fn claim_namespace(
    client: &Client,
    namespace: &str,
    instance: &SandboxName,
    wait: Duration,
    cluster_ours: bool,
) -> Result<Claim, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = read(&api, namespace).await? else {
        return Ok(Claim::New);
    };
    let terminating = ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Terminating");
    if terminating {
        wait_gone(&api, namespace, wait).await?;
        return Ok(Claim::New);
    }
    let labelled = belongs(ns.metadata.labels.as_ref(), instance.as_str());
    if recorded_for(&ns, instance.as_str()) || (cluster_ours && labelled) {
        return Ok(Claim::Ours);
    }
    Err(Error::failure(format!(
        "namespace {namespace} exists and is not sandbox {instance}'s"
    ))
    .caused_by(format!(
        "korthbox puts a sandbox only in a namespace it creates, or one whose record says korthbox created it for sandbox {instance} (annotations {UID}, {SANDBOX}); applying into this one would change what is in it"
    ))
    .hint(unrecorded_hint(namespace, instance, labelled)))
}

/// What to do about a namespace korthbox has no record of: pick another, or — when it carries
/// korthbox's labels, as one an earlier korthbox made does — vouch for it.
fn unrecorded_hint(namespace: &str, instance: &SandboxName, labelled: bool) -> String {
    match labelled {
        false => "pick a namespace of the sandbox's own with --namespace NAME".to_string(),
        true => format!(
            "it has korthbox's labels but labels prove nothing; if an earlier korthbox made it for this sandbox, record that: `kubectl annotate namespace {namespace} {SANDBOX}={instance} {UID}=$(kubectl get namespace {namespace} -o jsonpath='{{.metadata.uid}}')`; otherwise pick another --namespace"
        ),
    }
}

async fn read(api: &Api<Namespace>, namespace: &str) -> Result<Option<Namespace>, Error> {
    api.get_opt(namespace)
        .await
        .map_err(|e| Error::failure(format!("could not read namespace {namespace}")).because(e))
}

/// Watches namespace `name` until it is gone, for at most `timeout`.
pub async fn wait_gone(api: &Api<Namespace>, name: &str, timeout: Duration) -> Result<(), Error> {
    let config = watcher::Config::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(crate::kube::cluster::WATCH_SECONDS);
    let mut events = pin!(watcher(api.clone(), config).default_backoff());
    let gone = async {
        let mut listing = false;
        let mut seen = false;
        while let Some(event) = events.next().await {
            match event {
                Ok(watcher::Event::Init) => (listing, seen) = (true, false),
                Ok(watcher::Event::InitApply(_)) => seen = true,
                Ok(watcher::Event::InitDone) if listing && !seen => return,
                Ok(watcher::Event::Delete(_)) => return,
                _ => {}
            }
        }
    };
    tokio::time::timeout(timeout, gone).await.map_err(|_| {
        Error::failure(format!(
            "namespace {name} is still being deleted (Terminating) after {}",
            seconds(timeout)
        ))
        .caused_by("something in it holds a finalizer the cluster has not finished")
        .hint(format!(
            "`kubectl get namespace {name} -o yaml` shows what holds it; run korthbox again once it is gone"
        ))
    })
}

/// The record on the provisioner's namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Record {
    /// The namespace's own UID.
    uid: String,
    /// `apiVersion/Kind/name` → UID of each cluster-wide object korthbox created for it.
    created: BTreeMap<String, String>,
    /// The namespaces of the sandboxes that use it.
    users: BTreeSet<String>,
}

impl Record {
    /// The record on `ns`, when it is one korthbox wrote for this very namespace.
    fn of(ns: &Namespace) -> Option<Record> {
        let meta = &ns.metadata;
        let uid = meta.uid.clone()?;
        if annotation(meta, UID) != Some(uid.as_str()) {
            return None;
        }
        fn parse<T: serde::de::DeserializeOwned + Default>(
            meta: &kube::api::ObjectMeta,
            key: &str,
        ) -> T {
            annotation(meta, key)
                .and_then(|v| serde_json::from_str(v).ok())
                .unwrap_or_default()
        }
        Some(Record {
            uid,
            created: parse(meta, CREATED),
            users: parse(meta, USERS),
        })
    }

    fn annotations(&self) -> serde_json::Value {
        json!({
            UID: self.uid,
            CREATED: serde_json::to_string(&self.created).unwrap_or_default(),
            USERS: serde_json::to_string(&self.users).unwrap_or_default(),
        })
    }

    /// Whether `object` is the one korthbox created under its key.
    fn names(&self, key: &str, object: &DynamicObject) -> bool {
        object.metadata.uid.is_some() && self.created.get(key) == object.metadata.uid.as_ref()
    }
}

/// The key of a cluster-wide object in a record.
fn key(m: &Manifest) -> String {
    format!("{}/{}/{}", m.api_version(), m.kind(), m.name())
}

/// What korthbox does about local-path-provisioner, decided before anything is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provisioner {
    /// Nothing of it is there: korthbox creates it and records what it created.
    Install,
    /// korthbox created it (for this or another sandbox): applied again, this sandbox counted.
    Ours(Record),
    /// The cluster has a `local-path` class of rancher's provisioner that korthbox did not
    /// make: the sandbox's claims name it, and nothing of it is touched.
    Reuse,
}

/// Looks at the provisioner's objects the stack would write (`objects`, its Storage stage)
/// and decides, before the first write: install, apply again what korthbox made, reuse a
/// provisioner someone else installed, or refuse — naming the object and who manages it.
/// In a cluster korthbox made (`cluster_ours`), a provisioner with korthbox's labels and no
/// record is korthbox's too (an earlier korthbox installed it) and gets recorded.
pub async fn provisioner(
    client: &Client,
    objects: &[Manifest],
    cluster_ours: bool,
) -> Result<Provisioner, Error> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = read(&namespaces, LOCAL_PATH_NAMESPACE).await?;
    if cluster_ours && let Some(ns) = &namespace {
        let labelled = ns.metadata.labels.as_ref().is_some_and(|l| {
            l.get(crate::kube::stack::manifest::MANAGED_BY)
                .map(String::as_str)
                == Some(crate::kube::stack::manifest::KORTHBOX)
        });
        if Record::of(ns).is_none() && labelled {
            return adopt(client, objects, ns).await.map(Provisioner::Ours);
        }
    }
    let record = namespace
        .as_ref()
        .map(|ns| (Record::of(ns), ns.metadata.managed_fields.clone()));
    let mut foreign = Vec::new();
    let mut class = None;
    for m in objects
        .iter()
        .filter(|m| cluster_wide(m) && m.kind() != "Namespace")
    {
        let Some(object) = read_object(client, m).await? else {
            continue;
        };
        if m.kind() == "StorageClass" {
            class = Some(provisioner_of(&object));
        }
        let ours = matches!(&record, Some((Some(r), _)) if r.names(&key(m), &object));
        if !ours {
            foreign.push((m.describe(), managers(&object.metadata)));
        }
    }
    match record {
        Some((Some(record), _)) if foreign.is_empty() => return Ok(Provisioner::Ours(record)),
        None if foreign.is_empty() => return Ok(Provisioner::Install),
        Some((None, fields)) => {
            let meta = kube::api::ObjectMeta {
                managed_fields: fields,
                ..Default::default()
            };
            let what = format!("Namespace {LOCAL_PATH_NAMESPACE}");
            foreign.insert(0, (what, managers(&meta)));
        }
        _ => {}
    }
    if class.as_deref() == Some(LOCAL_PATH_PROVISIONER) {
        return Ok(Provisioner::Reuse);
    }
    let (what, by) = foreign.swap_remove(0);
    Err(Error::failure(format!(
        "{what} exists and korthbox did not create it; korthbox wrote nothing"
    ))
    .caused_by(format!(
        "it is managed by {by}; local-path-provisioner is installed by korthbox only where none of its objects exist, and a StorageClass {LOCAL_PATH_CLASS} of {LOCAL_PATH_PROVISIONER} is used as it is"
    ))
    .hint("make a StorageClass the cluster's default (korthbox then uses it), or remove what is left of that local-path-provisioner if nobody uses it"))
}

/// The record of a provisioner an earlier korthbox installed in a cluster korthbox made: what
/// is there now.
async fn adopt(client: &Client, objects: &[Manifest], ns: &Namespace) -> Result<Record, Error> {
    let mut record = Record {
        uid: ns.metadata.uid.clone().unwrap_or_default(),
        ..Record::default()
    };
    for m in objects
        .iter()
        .filter(|m| cluster_wide(m) && m.kind() != "Namespace")
    {
        if let Some(uid) = read_object(client, m).await?.and_then(|o| o.metadata.uid) {
            record.created.insert(key(m), uid);
        }
    }
    Ok(record)
}

fn provisioner_of(object: &DynamicObject) -> String {
    object.data["provisioner"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The field managers of an object, for messages.
fn managers(meta: &kube::api::ObjectMeta) -> String {
    let mut names: Vec<String> = meta
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|f| f.manager.clone())
        .collect();
    names.sort();
    names.dedup();
    match names.is_empty() {
        true => "another program".to_string(),
        false => names.join(", "),
    }
}

/// Whether `m` is cluster-wide (a namespace, RBAC, a StorageClass).
fn cluster_wide(m: &Manifest) -> bool {
    resource(m.api_version(), m.kind()).is_some_and(|(_, namespaced)| !namespaced)
}

fn dynamic_api(client: &Client, m: &Manifest) -> Option<Api<DynamicObject>> {
    let (ar, namespaced) = resource(m.api_version(), m.kind())?;
    Some(match (namespaced, m.namespace()) {
        (true, Some(ns)) => Api::namespaced_with(client.clone(), ns, &ar),
        (true, None) => Api::default_namespaced_with(client.clone(), &ar),
        (false, _) => Api::all_with(client.clone(), &ar),
    })
}

async fn read_object(client: &Client, m: &Manifest) -> Result<Option<DynamicObject>, Error> {
    let Some(api) = dynamic_api(client, m) else {
        return Ok(None);
    };
    api.get_opt(m.name())
        .await
        .map_err(|e| Error::failure(format!("could not read {}", m.describe())).because(e))
}

/// How korthbox may write one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Absent: create it (and record it when others could have had it).
    Create,
    /// korthbox's: apply, taking its fields over.
    Force,
    /// In the sandbox's namespace but not korthbox's: apply without force, so that a field
    /// another manager owns with another value is a conflict that names it.
    Merge,
}

/// What korthbox can show it created, for one apply of sandbox `instance` into `namespace`.
pub struct Trust {
    pub instance: SandboxName,
    pub namespace: String,
    /// The provisioner's record as this apply keeps it (None: korthbox installs none).
    provisioner: tokio::sync::Mutex<Option<Record>>,
}

impl Trust {
    pub fn new(instance: SandboxName, namespace: String, provisioner: &Provisioner) -> Trust {
        let record = match provisioner {
            Provisioner::Install => Some(Record::default()),
            Provisioner::Ours(record) => Some(record.clone()),
            Provisioner::Reuse => None,
        };
        Trust {
            instance,
            namespace,
            provisioner: tokio::sync::Mutex::new(record),
        }
    }

    /// How `m` may be written, `before` being what is there. Objects others may have are
    /// created when absent and otherwise written only when a record names them.
    pub async fn write_for(
        &self,
        m: &Manifest,
        before: Option<&DynamicObject>,
    ) -> Result<Write, Error> {
        let Some(before) = before else {
            return Ok(match cluster_wide(m) {
                true => Write::Create,
                false => Write::Force,
            });
        };
        if m.kind() == "Namespace" && m.name() == self.namespace {
            // claim_namespace found it new or the sandbox's.
            return Ok(Write::Force);
        }
        if m.namespace() == Some(self.namespace.as_str()) {
            return Ok(
                match belongs(before.metadata.labels.as_ref(), self.instance.as_str()) {
                    true => Write::Force,
                    false => Write::Merge,
                },
            );
        }
        let record = self.provisioner.lock().await;
        let ours = record.as_ref().is_some_and(|r| match m.namespace() {
            Some(ns) => ns == LOCAL_PATH_NAMESPACE && !r.uid.is_empty(),
            None if m.kind() == "Namespace" => before.metadata.uid.as_ref() == Some(&r.uid),
            None => r.names(&key(m), before),
        });
        match ours {
            true => Ok(Write::Force),
            false => Err(Error::failure(format!(
                "{} exists and korthbox did not create it; korthbox does not take it over",
                m.describe()
            ))
            .caused_by(format!("it is managed by {}", managers(&before.metadata)))
            .hint("remove it if nobody uses it, or give the sandbox a cluster without it")),
        }
    }

    /// Records what korthbox just wrote: the sandbox's namespace and the provisioner's get
    /// their records (once, or when the users change), and a cluster-wide object korthbox
    /// created (`created`) goes into the provisioner's record.
    pub async fn wrote(
        &self,
        client: &Client,
        m: &Manifest,
        after: &DynamicObject,
        created: bool,
    ) -> Result<(), Error> {
        let Some(uid) = after.metadata.uid.clone() else {
            return Ok(());
        };
        if m.kind() == "Namespace" && m.name() == self.namespace {
            let recorded = annotation(&after.metadata, UID) == Some(uid.as_str())
                && annotation(&after.metadata, SANDBOX) == Some(self.instance.as_str());
            if recorded {
                return Ok(());
            }
            let annotations = json!({UID: uid, SANDBOX: self.instance.as_str()});
            return write_record(client, m.name(), annotations).await;
        }
        if !cluster_wide(m) {
            return Ok(());
        }
        let mut guard = self.provisioner.lock().await;
        let Some(record) = guard.as_mut() else {
            return Ok(());
        };
        let before = record.clone();
        if m.kind() == "Namespace" && m.name() == LOCAL_PATH_NAMESPACE {
            record.uid = uid;
            record.users.insert(self.namespace.clone());
        } else if created {
            record.created.insert(key(m), uid);
        }
        if *record == before || record.uid.is_empty() {
            return Ok(());
        }
        write_record(client, LOCAL_PATH_NAMESPACE, record.annotations()).await
    }
}

/// Writes korthbox's record onto namespace `name` with the record's own field manager.
async fn write_record(
    client: &Client,
    name: &str,
    annotations: serde_json::Value,
) -> Result<(), Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let patch = json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": name, "annotations": annotations}});
    api.patch(
        name,
        &PatchParams::apply(RECORD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|e| {
        Error::failure(format!(
            "could not record on namespace {name} what korthbox created"
        ))
        .because(e)
    })?;
    Ok(())
}

/// What deleting the sandbox's objects did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// Whether the namespace was there (and is gone now).
    pub namespace: bool,
    /// Cluster-wide objects deleted (`StorageClass local-path`, …).
    pub cluster_objects: Vec<String>,
    /// Why the shared local-path-provisioner was left, when it was.
    pub kept_provisioner: Option<String>,
}

/// How long a deleted namespace is waited for before the next apply.
const NAMESPACE_GONE: Duration = Duration::from_secs(120);

fn uid_precondition(uid: Option<String>) -> DeleteParams {
    DeleteParams {
        preconditions: Some(Preconditions {
            uid,
            resource_version: None,
        }),
        ..DeleteParams::default()
    }
}

/// Deletes the sandbox's namespace, and everything in it, when korthbox's record says it made
/// it for `instance` (its UID the delete's precondition), and waits until it is gone; whether
/// there was one. A namespace without the record is refused, with nothing deleted.
pub async fn delete_namespace(
    client: &Client,
    namespace: &str,
    instance: &SandboxName,
) -> Result<bool, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = read(&api, namespace).await? else {
        return Ok(false);
    };
    if !recorded_for(&ns, instance.as_str()) {
        let labelled = belongs(ns.metadata.labels.as_ref(), instance.as_str());
        return Err(Error::failure(format!(
            "namespace {namespace} is not sandbox {instance}'s; korthbox deleted nothing"
        ))
        .caused_by(format!(
            "korthbox has no record of creating it for the sandbox (annotations {UID}, {SANDBOX})"
        ))
        .hint(match labelled {
            true => unrecorded_hint(namespace, instance, true),
            false => format!(
                "if it is yours to delete: `kubectl delete namespace {namespace}`; or name the sandbox's namespace with --namespace"
            ),
        }));
    }
    let params = uid_precondition(ns.metadata.uid.clone());
    match api.delete(namespace, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => {
            return Err(
                Error::failure(format!("could not delete namespace {namespace}")).because(e),
            );
        }
    }
    wait_gone(&api, namespace, NAMESPACE_GONE).await?;
    Ok(true)
}

/// Deletes sandbox `instance`'s namespace (when korthbox's record says it created it for
/// that sandbox), waiting until it is gone; then releases the provisioner korthbox installed
/// for it, removing it when no sandbox and no volume uses it any more — after the sandbox's
/// volumes are gone (their data is removed by the provisioner's helper pods), waiting for
/// them up to `wait`.
pub async fn delete_sandbox(
    client: &Client,
    namespace: &str,
    instance: &SandboxName,
    wait: Duration,
) -> Result<Removed, Error> {
    let namespace_deleted = delete_namespace(client, namespace, instance).await?;
    let (cluster_objects, kept_provisioner) = release_provisioner(client, namespace, wait).await?;
    Ok(Removed {
        namespace: namespace_deleted,
        cluster_objects,
        kept_provisioner,
    })
}

/// Takes the sandbox in `namespace` off the provisioner's users and removes the provisioner
/// when korthbox created it and nothing uses it any more. What was deleted, and why the
/// provisioner stays when it does.
async fn release_provisioner(
    client: &Client,
    namespace: &str,
    wait: Duration,
) -> Result<(Vec<String>, Option<String>), Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(ns) = read(&api, LOCAL_PATH_NAMESPACE).await? else {
        return Ok((Vec::new(), None));
    };
    // Not korthbox's: someone else's provisioner, used as it is.
    let Some(mut record) = Record::of(&ns) else {
        return Ok((Vec::new(), None));
    };
    if record.users.remove(namespace) {
        write_record(client, LOCAL_PATH_NAMESPACE, record.annotations()).await?;
    }
    if !record.users.is_empty() {
        let users: Vec<&str> = record.users.iter().map(String::as_str).collect();
        let why = format!(
            "local-path-provisioner stays: the sandboxes in {} use it",
            users.join(", ")
        );
        return Ok((Vec::new(), Some(why)));
    }
    let others = local_path_users(client, namespace).await?;
    if !others.is_empty() {
        let why = format!(
            "local-path-provisioner stays: volumes in {} use it",
            others.join(", ")
        );
        return Ok((Vec::new(), Some(why)));
    }
    if let Err(left) = wait_volumes_gone(client, namespace, wait).await? {
        let why = format!(
            "local-path-provisioner stays: the sandbox's volumes {} were not removed within {} (its helper pods delete their data); run the same `korthbox down` again to finish",
            left.join(", "),
            seconds(wait)
        );
        return Ok((Vec::new(), Some(why)));
    }
    let deleted = delete_recorded(client, &record).await?;
    let params = uid_precondition(Some(record.uid.clone()));
    match api.delete(LOCAL_PATH_NAMESPACE, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.code == 404 => {}
        Err(e) => {
            return Err(Error::failure(format!(
                "could not delete namespace {LOCAL_PATH_NAMESPACE}"
            ))
            .because(e));
        }
    }
    wait_gone(&api, LOCAL_PATH_NAMESPACE, NAMESPACE_GONE).await?;
    Ok((deleted, None))
}

/// The namespaces, other than `except`, whose volumes use the local-path class.
async fn local_path_users(client: &Client, except: &str) -> Result<Vec<String>, Error> {
    let claims: Api<PersistentVolumeClaim> = Api::all(client.clone());
    let list = claims
        .list(&ListParams::default())
        .await
        .map_err(|e| Error::failure("could not list the cluster's volume claims").because(e))?;
    let mut users: Vec<String> = list
        .items
        .into_iter()
        .filter(|c| {
            c.spec
                .as_ref()
                .and_then(|s| s.storage_class_name.as_deref())
                == Some(LOCAL_PATH_CLASS)
        })
        .filter_map(|c| c.metadata.namespace)
        .filter(|ns| ns != except)
        .collect();
    users.sort();
    users.dedup();
    Ok(users)
}

/// Watches the cluster's volumes until none bound to a claim of `namespace` is left, for at
/// most `timeout`; `Ok(Err(names))` when some still are then.
pub async fn wait_volumes_gone(
    client: &Client,
    namespace: &str,
    timeout: Duration,
) -> Result<Result<(), Vec<String>>, Error> {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    let of_sandbox = |pv: &PersistentVolume| {
        pv.spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .and_then(|c| c.namespace.as_deref())
            == Some(namespace)
    };
    let config = watcher::Config::default().timeout(crate::kube::cluster::WATCH_SECONDS);
    let mut events = pin!(watcher(api.clone(), config).default_backoff());
    let mut left: BTreeSet<String> = BTreeSet::new();
    let gone = async {
        let mut listing = BTreeSet::new();
        let mut listed = false;
        while let Some(event) = events.next().await {
            let name = |pv: &PersistentVolume| pv.metadata.name.clone().unwrap_or_default();
            match event {
                Ok(watcher::Event::Init) => listing.clear(),
                Ok(watcher::Event::InitApply(pv)) if of_sandbox(&pv) => {
                    listing.insert(name(&pv));
                }
                Ok(watcher::Event::InitDone) => {
                    left = std::mem::take(&mut listing);
                    listed = true;
                }
                Ok(watcher::Event::Apply(pv)) if of_sandbox(&pv) => {
                    left.insert(name(&pv));
                }
                Ok(watcher::Event::Delete(pv)) => {
                    left.remove(&name(&pv));
                }
                _ => {}
            }
            if listed && left.is_empty() {
                return;
            }
        }
    };
    match tokio::time::timeout(timeout, gone).await {
        Ok(()) => Ok(Ok(())),
        Err(_) => Ok(Err(left.into_iter().collect())),
    }
}

/// Deletes the cluster-wide objects `record` says korthbox created, each only while it is
/// still the very object korthbox created (its UID the delete's precondition).
async fn delete_recorded(client: &Client, record: &Record) -> Result<Vec<String>, Error> {
    let mut deleted = Vec::new();
    for (key, uid) in &record.created {
        let mut parts = key.rsplitn(3, '/');
        let (Some(name), Some(kind), Some(api_version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Some((ar, false)) = resource(api_version, kind) else {
            continue;
        };
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        match api.delete(name, &uid_precondition(Some(uid.clone()))).await {
            Ok(_) => deleted.push(format!("{kind} {name}")),
            // Gone, or replaced by someone else's since: not korthbox's to delete.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => {
                return Err(Error::failure(format!("could not delete {kind} {name}")).because(e));
            }
        }
    }
    Ok(deleted)
}
