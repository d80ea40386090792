//! A fake Kubernetes API server: answers `GET /api/v1/nodes` with real node objects (or nodes
//! made from real `kubectl get nodes -o wide` captures) and records every request, so tests
//! can assert that nothing but reads reached it. Lists and watches (`?watch=true`, streamed
//! events until `timeoutSeconds`) take label and `metadata.name` field selectors.

use std::collections::BTreeMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{Value, json};

/// An in-memory API server: objects stored by path; GET (object or list, with an equality
/// label selector), POST (409 when present), server-side-apply PATCH (the resourceVersion moves
/// only when the object changes), and workloads that report themselves ready at once unless
/// told not to.
pub struct FakeApi {
    pub port: u16,
    /// "METHOD /path?query" of every request.
    pub requests: Arc<Mutex<Vec<String>>>,
    store: Arc<Mutex<Store>>,
}

#[derive(Default)]
struct Store {
    objects: BTreeMap<String, Value>,
    version: u64,
    /// Workloads stay unready (no status) when false.
    ready: bool,
    /// Workloads that stay unready whatever `ready` says.
    held: std::collections::BTreeSet<String>,
    /// Workloads that become ready only this long after they were applied (and after the
    /// workload named becomes ready, if one is).
    delays: BTreeMap<String, (std::time::Duration, Option<String>)>,
    /// When each workload was first applied, and when it became ready.
    applied_at: BTreeMap<String, std::time::Instant>,
    ready_at: BTreeMap<String, std::time::Instant>,
    /// Where a port-forward to a pod's port really goes: pod port → 127.0.0.1 port.
    forwards: BTreeMap<u16, u16>,
    /// Where a port-forward to one pod's port really goes, before `forwards`: (pod, port) → port.
    pod_forwards: BTreeMap<(String, u16), u16>,
    /// How a command exec'd in a container really runs: container name → route.
    execs: BTreeMap<String, ExecRoute>,
    /// What a container's log says: container name → text.
    logs: BTreeMap<String, String>,
    /// Volumes whose claims are gone, and since when.
    released: BTreeMap<String, std::time::Instant>,
    /// How long a deleted namespace stays Terminating (its finalizers at work) before it and
    /// what is in it are gone; and the namespaces terminating, with when they go.
    namespace_deletion: std::time::Duration,
    terminating: BTreeMap<String, std::time::Instant>,
    /// Objects put into a namespace whenever it is created (again): what a cluster's own
    /// tooling would recreate there, e.g. Secrets a real process was started with.
    seeds: BTreeMap<String, Value>,
    /// When set, every Job fails: its container's exit code and last words.
    failing_job: Option<(i32, String)>,
}

/// Where the local-path-provisioner korthbox installs runs.
const LOCAL_PATH_PROVISIONER: &str =
    "/apis/apps/v1/namespaces/local-path-storage/deployments/local-path-provisioner";
/// How long a provisioner's helper takes to remove a released volume's data.
const RECLAIM_TAKES: std::time::Duration = std::time::Duration::from_millis(300);

/// A command exec'd in a container runs here as a process, with these variables set and
/// these path prefixes (the container's) replaced in its arguments (by the test's).
#[derive(Clone, Default)]
pub struct ExecRoute {
    pub env: Vec<(String, String)>,
    pub paths: Vec<(String, String)>,
}

impl Store {
    /// Stores `object` at `path` with the next resourceVersion, as every write does.
    fn insert(&mut self, path: String, mut object: Value) {
        self.version += 1;
        if object["metadata"].is_object() {
            object["metadata"]["resourceVersion"] = json!(self.version.to_string());
            if object["metadata"]["uid"].is_null() {
                object["metadata"]["uid"] = json!(format!("uid-{}", self.version));
            }
            super::ssa::normalise(&mut object);
        }
        self.objects.insert(path, object);
    }

    /// What a provisioner does with the volumes whose claims are gone: it deletes each one a
    /// moment after its claim went — local-path's only while its provisioner runs (its helper
    /// pods run in the provisioner's namespace), others' at once.
    fn reclaim(&mut self) {
        let provisioner = self.objects.contains_key(LOCAL_PATH_PROVISIONER);
        let now = std::time::Instant::now();
        let due: Vec<String> = self
            .released
            .iter()
            .filter(|(path, at)| {
                let local = self
                    .objects
                    .get(*path)
                    .is_some_and(|pv| pv["spec"]["storageClassName"] == "local-path");
                now >= **at + RECLAIM_TAKES && (provisioner || !local)
            })
            .map(|(path, _)| path.clone())
            .collect();
        for path in due {
            self.released.remove(&path);
            if self.objects.remove(&path).is_some() {
                self.version += 1;
            }
        }
    }

    /// Namespaces whose termination is over are gone, with everything in them.
    fn finish_terminations(&mut self) {
        let now = std::time::Instant::now();
        let done: Vec<String> = self
            .terminating
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(ns, _)| ns.clone())
            .collect();
        for ns in done {
            self.terminating.remove(&ns);
            self.remove_namespace(&ns);
        }
    }

    /// Namespace `ns` and what is in it, gone; its claims' volumes released; readiness delays
    /// count again from the next apply.
    fn remove_namespace(&mut self, ns: &str) {
        let inside = format!("/namespaces/{ns}/");
        self.objects.remove(&format!("/api/v1/namespaces/{ns}"));
        self.objects.retain(|k, _| !k.contains(&inside));
        self.applied_at.retain(|k, _| !k.contains(&inside));
        self.ready_at.retain(|k, _| !k.contains(&inside));
        self.release_volumes(ns);
        self.version += 1;
    }

    /// What a workload's controller does when its pod at `path` was deleted: a new one, Running
    /// and Ready (a new UID), from the workload's template.
    fn replace_pod(&mut self, path: &str) {
        let Some((ns, pod)) = path
            .strip_prefix("/api/v1/namespaces/")
            .and_then(|rest| rest.split_once("/pods/"))
        else {
            return;
        };
        let Some((workload, _)) = pod.rsplit_once('-') else {
            return;
        };
        let owner = ["deployments", "statefulsets"]
            .iter()
            .find_map(|kind| {
                self.objects
                    .get(&format!("/apis/apps/v1/namespaces/{ns}/{kind}/{workload}"))
            })
            .cloned();
        if let Some(owner) = owner {
            let fresh = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": ns,
                             "labels": owner["spec"]["template"]["metadata"]["labels"].clone()},
                "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
            self.insert(path.to_string(), fresh);
        }
    }

    /// After namespace `path` was created: the seeds that go into it.
    fn seed(&mut self, path: &str) {
        let Some(ns) = path.strip_prefix("/api/v1/namespaces/") else {
            return;
        };
        if ns.contains('/') {
            return;
        }
        let inside = format!("/namespaces/{ns}/");
        let seeds: Vec<(String, Value)> = self
            .seeds
            .iter()
            .filter(|(k, _)| k.contains(&inside))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (k, v) in seeds {
            self.insert(k, v);
        }
    }

    /// A write into a namespace being deleted, refused as the API server refuses it.
    fn refused_while_terminating(&self, path: &str) -> Option<String> {
        let ns = path
            .strip_prefix("/api/v1/namespaces/")
            .or_else(|| path.split_once("/namespaces/").map(|(_, rest)| rest))?;
        let (ns, inside) = ns.split_once('/')?;
        (!inside.is_empty() && self.terminating.contains_key(ns)).then(|| {
            format!("unable to create new content in namespace {ns} because it is being terminated")
        })
    }

    /// Releases the volumes bound to claims in namespace `ns` (their claims are being deleted).
    fn release_volumes(&mut self, ns: &str) {
        let bound: Vec<String> = self
            .objects
            .iter()
            .filter(|(k, pv)| {
                k.starts_with("/api/v1/persistentvolumes/")
                    && pv["spec"]["claimRef"]["namespace"] == ns
            })
            .map(|(k, _)| k.clone())
            .collect();
        for path in bound {
            if let Some(pv) = self.objects.get_mut(&path) {
                pv["status"] = json!({"phase": "Released"});
            }
            self.released.insert(path, std::time::Instant::now());
        }
    }

    /// The objects directly in collection `path` that `query`'s selectors match; workloads
    /// applied while the cluster was not ready become ready once it is.
    fn collection(&mut self, path: &str, query: &str) -> BTreeMap<String, Value> {
        self.reclaim();
        self.finish_terminations();
        let prefix = format!("{path}/");
        // `/api/v1/persistentvolumeclaims`: a namespaced kind in every namespace.
        let (base, resource) = path.rsplit_once('/').unwrap_or(("", path));
        let across = format!("{base}/namespaces/");
        let keys: Vec<String> = self
            .objects
            .keys()
            .filter(|k| {
                k.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/'))
                    || (!path.contains("/namespaces/")
                        && k.strip_prefix(&across).is_some_and(|rest| {
                            let parts: Vec<&str> = rest.split('/').collect();
                            parts.len() == 3 && parts[1] == resource
                        }))
            })
            .cloned()
            .collect();
        let mut out = BTreeMap::new();
        for key in keys {
            let value = self.read(&key).unwrap();
            if matches_selector(&value, query) {
                out.insert(key, value);
            }
        }
        out
    }

    /// One object, settled first when the cluster is ready.
    fn read(&mut self, path: &str) -> Option<Value> {
        let mut v = self.objects.get(path).cloned()?;
        if v["status"].is_null() && settles(&v) && self.settles_now(path) {
            settle(self, &mut v);
            self.ready_at
                .insert(path.to_string(), std::time::Instant::now());
            self.insert(path.to_string(), v);
            v = self.objects.get(path).cloned()?;
        }
        Some(v)
    }

    /// Whether the workload at `path` may become ready now.
    fn settles_now(&self, path: &str) -> bool {
        if !self.ready || self.held.contains(path) {
            return false;
        }
        let Some((delay, after)) = self.delays.get(path) else {
            return true;
        };
        let Some(applied) = self.applied_at.get(path) else {
            return false;
        };
        let mut due = *applied + *delay;
        if let Some(after) = after {
            match self.ready_at.get(after) {
                Some(ready) => due = due.max(*ready + *delay),
                None => return false,
            }
        }
        std::time::Instant::now() >= due
    }
}

fn query_param<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
}

fn resource_version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A watch: every change to the collection's matching objects after the resourceVersion the
/// client gives, as a stream of JSON events, until `timeoutSeconds` or the client leaves.
fn watch(mut writer: TcpStream, store: &Mutex<Store>, path: &str, query: &str) {
    let since: u64 = query_param(query, "resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let seconds: u64 = query_param(query, "timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(290);
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    if writer.write_all(head.as_bytes()).is_err() {
        return;
    }
    // What the client already has: the objects as they were at `since`.
    let mut known: BTreeMap<String, Value> = store
        .lock()
        .unwrap()
        .collection(path, query)
        .into_iter()
        .filter(|(_, v)| resource_version(v) <= since)
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        let now = store.lock().unwrap().collection(path, query);
        let mut events = Vec::new();
        for (key, object) in &now {
            match known.get(key) {
                None => events.push(json!({"type": "ADDED", "object": object})),
                Some(old) if old != object => {
                    events.push(json!({"type": "MODIFIED", "object": object}))
                }
                Some(_) => {}
            }
        }
        for (key, object) in &known {
            if !now.contains_key(key) {
                events.push(json!({"type": "DELETED", "object": object}));
            }
        }
        for event in events {
            let line = format!("{event}\n");
            let chunk = format!("{:x}\r\n{line}\r\n", line.len());
            if writer.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
        known = now;
        thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = writer.write_all(b"0\r\n\r\n");
}

impl FakeApi {
    /// A server whose cluster has `nodes`.
    pub fn serve(nodes: Vec<Value>) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake API server");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::new(Mutex::new(Store {
            ready: true,
            ..Store::default()
        }));
        let (log, shared) = (requests.clone(), store.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, shared) = (log.clone(), shared.clone());
                thread::spawn(move || serve_connection(stream, &log, &shared));
            }
        });
        let api = FakeApi {
            port,
            requests,
            store,
        };
        api.set_nodes(nodes);
        api
    }

    /// A kind cluster: its three nodes (from a real capture) and its default StorageClass.
    pub fn kind() -> FakeApi {
        let text = super::fixture("kind-multinode-get-nodes-wide.txt");
        let api = FakeApi::serve(nodes_from_table(&text, None));
        api.put(
            "/apis/storage.k8s.io/v1/storageclasses/standard",
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                   "provisioner": "rancher.io/local-path"}),
        );
        api
    }

    /// Asserts that local-path-provisioner's class is not the cluster's default and that the
    /// sandbox's claims name it.
    pub fn assert_local_path_named_not_default(&self) {
        let class = self
            .get("/apis/storage.k8s.io/v1/storageclasses/local-path")
            .expect("the local-path StorageClass");
        let default =
            &class["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"];
        assert_eq!(default, "false", "{class:#}");
        let pvc = self
            .get("/api/v1/namespaces/korthbox/persistentvolumeclaims/orthanc-storage")
            .expect("Orthanc's claim");
        assert_eq!(pvc["spec"]["storageClassName"], "local-path", "{pvc:#}");
    }

    /// Puts namespace `name`, labelled as sandbox `instance`'s when given.
    pub fn put_namespace(&self, name: &str, instance: Option<&str>) {
        let mut ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        if let Some(instance) = instance {
            ns["metadata"]["labels"] = json!({"app.kubernetes.io/managed-by": "korthbox", "app.kubernetes.io/instance": instance});
        }
        self.put(&format!("/api/v1/namespaces/{name}"), ns);
    }

    /// Puts namespace `name` as korthbox leaves one it created for sandbox `instance`: its
    /// labels and its record (its own UID and the sandbox's name).
    pub fn put_sandbox_namespace(&self, name: &str, instance: &str) {
        let uid = format!("uid-namespace-{name}");
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "uid": uid,
            "labels": {"app.kubernetes.io/managed-by": "korthbox", "app.kubernetes.io/instance": instance},
            "annotations": {"korthbox.io/uid": uid, "korthbox.io/sandbox": instance}}});
        self.put(&format!("/api/v1/namespaces/{name}"), ns);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests other than reads.
    pub fn writes(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|r| !r.starts_with("GET "))
            .collect()
    }

    pub fn set_nodes(&self, nodes: Vec<Value>) {
        let mut store = self.store.lock().unwrap();
        store
            .objects
            .retain(|k, _| !k.starts_with("/api/v1/nodes/"));
        for node in nodes {
            let name = node["metadata"]["name"].as_str().unwrap().to_string();
            store.insert(format!("/api/v1/nodes/{name}"), node);
        }
    }

    /// Stores `object` at `path` as it is (a pod in some state, a StorageClass…), with a new
    /// resourceVersion.
    pub fn put(&self, path: &str, object: Value) {
        self.store.lock().unwrap().insert(path.to_string(), object);
    }

    /// Puts `object` at `path` now and again whenever its namespace is created anew.
    pub fn put_seed(&self, path: &str, object: Value) {
        let mut store = self.store.lock().unwrap();
        store.seeds.insert(path.to_string(), object.clone());
        store.insert(path.to_string(), object);
    }

    /// Every Job applied from now on fails, its container exiting with `code` and `message`.
    pub fn fail_jobs(&self, code: i32, message: &str) {
        self.store.lock().unwrap().failing_job = Some((code, message.to_string()));
    }

    /// Jobs succeed again.
    pub fn clear_failing_jobs(&self) {
        self.store.lock().unwrap().failing_job = None;
    }

    /// A deleted namespace stays Terminating this long before it and its content are gone.
    pub fn namespace_deletion_takes(&self, time: std::time::Duration) {
        self.store.lock().unwrap().namespace_deletion = time;
    }

    /// The object at `path` now (what the cluster's controllers had time to do, done).
    pub fn get(&self, path: &str) -> Option<Value> {
        let mut store = self.store.lock().unwrap();
        store.reclaim();
        store.objects.get(path).cloned()
    }

    /// Every stored path now.
    pub fn paths(&self) -> Vec<String> {
        let mut store = self.store.lock().unwrap();
        store.reclaim();
        store.objects.keys().cloned().collect()
    }

    /// The workload at `path` becomes ready `delay` after it is applied, and not before
    /// `delay` after the workload at `after` became ready (Orthanc's init container waiting
    /// for PostgreSQL).
    pub fn ready_after(&self, path: &str, delay: std::time::Duration, after: Option<&str>) {
        self.store
            .lock()
            .unwrap()
            .delays
            .insert(path.to_string(), (delay, after.map(String::from)));
    }

    /// The workload at `path` never becomes ready (a pod that cannot pull its image).
    pub fn hold(&self, path: &str) {
        self.store.lock().unwrap().held.insert(path.to_string());
    }

    pub fn set_ready(&self, ready: bool) {
        self.store.lock().unwrap().ready = ready;
    }

    /// Port-forwards to any pod's `pod_port` reach 127.0.0.1:`local_port` (a real Orthanc).
    pub fn forward(&self, pod_port: u16, local_port: u16) {
        self.store
            .lock()
            .unwrap()
            .forwards
            .insert(pod_port, local_port);
    }

    /// Port-forwards to `pod`'s `pod_port` reach 127.0.0.1:`local_port` (one of several
    /// Orthancs), whatever [`FakeApi::forward`] says for other pods.
    pub fn forward_pod(&self, pod: &str, pod_port: u16, local_port: u16) {
        self.store
            .lock()
            .unwrap()
            .pod_forwards
            .insert((pod.to_string(), pod_port), local_port);
    }

    /// Commands exec'd in any pod's `container` run here, as `route` says.
    pub fn exec(&self, container: &str, route: ExecRoute) {
        self.store
            .lock()
            .unwrap()
            .execs
            .insert(container.to_string(), route);
    }

    /// Makes every pod's `container` log `text`.
    pub fn log(&self, container: &str, text: &str) {
        self.store
            .lock()
            .unwrap()
            .logs
            .insert(container.to_string(), text.to_string());
    }

    /// Removes every object whose path starts with `prefix`.
    pub fn remove(&self, prefix: &str) {
        self.store
            .lock()
            .unwrap()
            .objects
            .retain(|k, _| !k.starts_with(prefix));
    }

    /// Writes a kubeconfig at `path` with `context` pointing at this server.
    pub fn kubeconfig(&self, path: &Path, context: &str) -> PathBuf {
        write_kubeconfig(path, context, &self.url());
        path.to_path_buf()
    }
}

/// A kubeconfig with one context, cluster and user, all named `context`.
pub fn write_kubeconfig(path: &Path, context: &str, server: &str) {
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: {context}\nclusters:\n- name: {context}\n  cluster:\n    server: {server}\ncontexts:\n- name: {context}\n  context:\n    cluster: {context}\n    user: {context}\nusers:\n- name: {context}\n  user:\n    token: fake-token\n"
    );
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn serve_connection(stream: TcpStream, log: &Mutex<Vec<String>>, store: &Mutex<Store>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some(request) = super::read_request_full(&mut reader) {
        let mut parts = request.line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        log.lock().unwrap().push(format!("{method} {target}"));
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        if method == "GET" && is_collection(path) && query_param(query, "watch").is_some() {
            watch(writer, store, path, query);
            return;
        }
        if path.ends_with("/exec") && request.header("upgrade").is_some() {
            let execs = store.lock().unwrap().execs.clone();
            exec(writer, &request, query, &execs);
            return;
        }
        if method == "GET" && path.contains("/pods/") && path.ends_with("/log") {
            let pod = path.trim_end_matches("/log").to_string();
            let store = store.lock().unwrap();
            let text = query_param(query, "container")
                .and_then(|c| store.logs.get(c).cloned())
                .filter(|_| store.objects.contains_key(&pod));
            let (status, mut body) = match text {
                Some(text) => ("200 OK", text),
                None => ("404 Not Found", String::new()),
            };
            if let Some(n) = query_param(query, "tailLines").and_then(|n| n.parse::<usize>().ok()) {
                let lines: Vec<&str> = body.lines().collect();
                body = lines[lines.len().saturating_sub(n)..].join("\n") + "\n";
            }
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            if writer.write_all(response.as_bytes()).is_err() {
                return;
            }
            continue;
        }
        if path.ends_with("/portforward") && request.header("upgrade").is_some() {
            let pod = path
                .trim_end_matches("/portforward")
                .rsplit('/')
                .next()
                .unwrap_or_default();
            let store = store.lock().unwrap();
            let mut forwards = store.forwards.clone();
            for ((name, port), local) in &store.pod_forwards {
                if name == pod {
                    forwards.insert(*port, *local);
                }
            }
            drop(store);
            port_forward(writer, &request, query, &forwards);
            return;
        }
        let (status, payload) = handle(
            &mut store.lock().unwrap(),
            &method,
            path,
            query,
            &request.body,
        );
        let body = payload.to_string();
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The Kubernetes port-forward protocol (v4.channel.k8s.io over a WebSocket): for port number
/// i, channel 2i carries data and 2i+1 errors; each channel's first frame from the server is
/// the port, little-endian. Data is relayed to the real local port the test set up.
fn port_forward(
    mut stream: TcpStream,
    request: &super::Request,
    query: &str,
    forwards: &BTreeMap<u16, u16>,
) {
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Message, handshake::derive_accept_key};

    let key = request.header("sec-websocket-key").unwrap_or_default();
    let accept = derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).is_err() {
        return;
    }
    let ports: Vec<u16> = query
        .split('&')
        .filter_map(|kv| kv.strip_prefix("ports="))
        .flat_map(|v| {
            v.replace("%2C", ",")
                .split(',')
                .map(|p| p.parse().unwrap_or(0))
                .collect::<Vec<u16>>()
        })
        .collect();
    stream
        // Short: the reading side holds the WebSocket while it waits, and an answer from the
        // pod waits for it — up to this long, which the API server does not add.
        .set_read_timeout(Some(std::time::Duration::from_millis(2)))
        .unwrap();
    let ws = Arc::new(Mutex::new(WebSocket::from_raw_socket(
        stream,
        Role::Server,
        None,
    )));
    let send = |ws: &Mutex<WebSocket<TcpStream>>, channel: u8, data: &[u8]| {
        let mut frame = vec![channel];
        frame.extend_from_slice(data);
        ws.lock()
            .unwrap()
            .send(Message::Binary(frame.into()))
            .is_ok()
    };
    let mut targets = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let channel = (2 * i) as u8;
        send(&ws, channel, &port.to_le_bytes());
        send(&ws, channel + 1, &port.to_le_bytes());
        let target = forwards
            .get(port)
            .and_then(|local| TcpStream::connect(("127.0.0.1", *local)).ok());
        match &target {
            Some(t) => {
                let (ws, mut from_pod) = (ws.clone(), t.try_clone().unwrap());
                thread::spawn(move || {
                    let mut buf = [0u8; 16384];
                    loop {
                        match std::io::Read::read(&mut from_pod, &mut buf) {
                            // The pod's side closed: so does the port-forward, as the API
                            // server closes the WebSocket.
                            Ok(0) | Err(_) => {
                                let _ = ws.lock().unwrap().close(None);
                                break;
                            }
                            Ok(n) => {
                                let mut frame = vec![channel];
                                frame.extend_from_slice(&buf[..n]);
                                if ws
                                    .lock()
                                    .unwrap()
                                    .send(Message::Binary(frame.into()))
                                    .is_err()
                                {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
            None => {
                send(
                    &ws,
                    channel + 1,
                    format!("error forwarding port {port}: connection refused").as_bytes(),
                );
            }
        }
        targets.push(target);
    }
    loop {
        let message = ws.lock().unwrap().read();
        match message {
            Ok(Message::Binary(data)) if !data.is_empty() => {
                let index = usize::from(data[0] / 2);
                if let Some(Some(target)) = targets.get_mut(index)
                    && target.write_all(&data[1..]).is_err()
                {
                    break;
                }
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(_) => break,
        }
    }
    for target in targets.into_iter().flatten() {
        let _ = target.shutdown(std::net::Shutdown::Both);
    }
}

/// A query value, percent- and form-decoded.
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}

/// The exec protocol (v4.channel.k8s.io over a WebSocket): the command's standard output on
/// channel 1, its standard error on 2, and its Status on 3, then the WebSocket closes. The
/// command runs here as the container's route says; a container without a route answers
/// the way a missing executable does.
fn exec(
    mut stream: TcpStream,
    request: &super::Request,
    query: &str,
    routes: &BTreeMap<String, ExecRoute>,
) {
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::{Message, handshake::derive_accept_key};

    let key = request.header("sec-websocket-key").unwrap_or_default();
    let accept = derive_accept_key(key.as_bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n"
    );
    if stream.write_all(response.as_bytes()).is_err() {
        return;
    }
    let mut argv = Vec::new();
    let mut container = String::new();
    for kv in query.split('&') {
        if let Some(v) = kv.strip_prefix("command=") {
            argv.push(decode(v));
        } else if let Some(v) = kv.strip_prefix("container=") {
            container = decode(v);
        }
    }
    let (stdout, stderr, code) = match routes.get(&container) {
        Some(route) if !argv.is_empty() => {
            let argv: Vec<String> = argv
                .iter()
                .map(|a| {
                    route
                        .paths
                        .iter()
                        .fold(a.clone(), |a, (from, to)| a.replace(from.as_str(), to))
                })
                .collect();
            // What the command prints names the container's paths, not the test's.
            let back = |bytes: Vec<u8>| {
                let text = String::from_utf8_lossy(&bytes).to_string();
                route
                    .paths
                    .iter()
                    .fold(text, |t, (from, to)| t.replace(to.as_str(), from))
                    .into_bytes()
            };
            match std::process::Command::new(&argv[0])
                .args(&argv[1..])
                .envs(route.env.iter().cloned())
                .output()
            {
                Ok(out) => (
                    back(out.stdout),
                    back(out.stderr),
                    out.status.code().unwrap_or(128),
                ),
                Err(e) => (Vec::new(), e.to_string().into_bytes(), 127),
            }
        }
        _ => (
            Vec::new(),
            format!("no exec route for container {container:?}").into_bytes(),
            127,
        ),
    };
    let mut ws = WebSocket::from_raw_socket(stream, Role::Server, None);
    let mut send = |channel: u8, data: &[u8]| {
        let mut frame = vec![channel];
        frame.extend_from_slice(data);
        let _ = ws.send(Message::Binary(frame.into()));
    };
    if !stdout.is_empty() {
        send(1, &stdout);
    }
    if !stderr.is_empty() {
        send(2, &stderr);
    }
    let status = if code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({"metadata": {}, "status": "Failure",
               "message": format!("command terminated with non-zero exit code: error executing command {argv:?}, exit code {code}"),
               "reason": "NonZeroExitCode",
               "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
    };
    send(3, status.to_string().as_bytes());
    let _ = ws.close(None);
    // Until the client has the close, so that nothing is lost.
    for _ in 0..100 {
        match ws.read() {
            Ok(_) => {}
            Err(_) => break,
        }
    }
}

/// Whether `path` names a collection (`/api/v1/pods`, `/apis/apps/v1/namespaces/x/deployments`)
/// rather than one object.
fn is_collection(path: &str) -> bool {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segs.first() {
        Some(&"api") => &segs[2.min(segs.len())..],
        Some(&"apis") => &segs[3.min(segs.len())..],
        _ => return false,
    };
    match rest.len() {
        1 => true,
        3 => rest[0] == "namespaces",
        _ => false,
    }
}

fn status(code: u16, reason: &str, message: String) -> (String, Value) {
    let line = match code {
        404 => "404 Not Found",
        409 => "409 Conflict",
        405 => "405 Method Not Allowed",
        _ => "400 Bad Request",
    };
    (
        line.to_string(),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

fn matches_selector(object: &Value, query: &str) -> bool {
    let name = query_param(query, "fieldSelector").and_then(|f| {
        f.replace("%3D", "=")
            .strip_prefix("metadata.name=")
            .map(String::from)
    });
    if let Some(name) = name
        && object["metadata"]["name"].as_str() != Some(name.as_str())
    {
        return false;
    }
    let selector = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("labelSelector="))
        .map(|s| {
            s.replace("%3D", "=")
                .replace("%2C", ",")
                .replace("%2F", "/")
        })
        .unwrap_or_default();
    selector.split(',').filter(|s| !s.is_empty()).all(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        object["metadata"]["labels"][k].as_str() == Some(v)
    })
}

/// The object without what the server manages, to tell whether an apply changed anything.
fn desired(object: &Value) -> Value {
    let mut v = object.clone();
    if let Some(map) = v.as_object_mut() {
        map.remove("status");
    }
    if let Some(meta) = v["metadata"].as_object_mut() {
        for key in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            meta.remove(key);
        }
    }
    v
}

fn handle(
    store: &mut Store,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> (String, Value) {
    store.reclaim();
    store.finish_terminations();
    if method != "GET"
        && method != "DELETE"
        && let Some(message) = store.refused_while_terminating(path)
    {
        return status(403, "Forbidden", message);
    }
    match method {
        "GET" if is_collection(path) => {
            let items: Vec<Value> = store.collection(path, query).into_values().collect();
            (
                "200 OK".into(),
                json!({"kind": "List", "apiVersion": "v1",
                       "metadata": {"resourceVersion": store.version.to_string()}, "items": items}),
            )
        }
        "GET" => match store.read(path) {
            Some(v) => ("200 OK".into(), v),
            None => status(404, "NotFound", format!("{path} not found")),
        },
        "POST" => {
            let mut object: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            string_data_to_data(&mut object);
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let key = format!("{path}/{name}");
            if store.objects.contains_key(&key) {
                return status(409, "AlreadyExists", format!("{key} already exists"));
            }
            let manager = query_param(query, "fieldManager").unwrap_or("unknown");
            super::ssa::created(&mut object, manager, "Update");
            store.version += 1;
            object["metadata"]["resourceVersion"] = json!(store.version.to_string());
            object["metadata"]["uid"] = json!(format!("uid-{}", store.version));
            store.objects.insert(key.clone(), object.clone());
            store.seed(&key);
            ("201 Created".into(), object)
        }
        "PATCH" => {
            let Some(manager) = query_param(query, "fieldManager") else {
                return status(
                    400,
                    "BadRequest",
                    "an apply must name its field manager".into(),
                );
            };
            let applied: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let old = store.objects.get(path).cloned();
            let force = query.contains("force=true");
            let mut object = match super::ssa::apply(old.as_ref(), &applied, manager, force) {
                Ok(object) => object,
                Err(message) => return status(409, "Conflict", message),
            };
            string_data_to_data(&mut object);
            if let Some(old) = &old
                && desired(old) == desired(&object)
            {
                return ("200 OK".into(), old.clone());
            }
            store.version += 1;
            let generation = old
                .as_ref()
                .and_then(|o| o["metadata"]["generation"].as_i64())
                .unwrap_or(0)
                + 1;
            object["metadata"]["resourceVersion"] = json!(store.version.to_string());
            object["metadata"]["generation"] = json!(generation);
            if object["metadata"]["uid"].is_null() {
                object["metadata"]["uid"] = json!(format!("uid-{}", store.version));
            }
            store
                .applied_at
                .entry(path.to_string())
                .or_insert_with(std::time::Instant::now);
            if store.settles_now(path) {
                settle(store, &mut object);
                store
                    .ready_at
                    .insert(path.to_string(), std::time::Instant::now());
            } else if let Some(old) = &old {
                object["status"] = old["status"].clone();
            }
            store.objects.insert(path.to_string(), object.clone());
            if old.is_none() {
                store.seed(path);
            }
            ("200 OK".into(), object)
        }
        "DELETE" => {
            // A UID precondition that does not hold: the object was replaced meanwhile.
            let options: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            if let (Some(wanted), Some(object)) = (
                options["preconditions"]["uid"].as_str(),
                store.objects.get(path),
            ) && object["metadata"]["uid"].as_str() != Some(wanted)
            {
                let message = format!(
                    "Precondition failed: UID in precondition: {wanted}, UID in object meta: {}",
                    object["metadata"]["uid"].as_str().unwrap_or_default()
                );
                return status(409, "Conflict", message);
            }
            // Deleting a namespace deletes what is in it, claims included: at once, or after
            // a time Terminating.
            if let Some(ns) = path
                .strip_prefix("/api/v1/namespaces/")
                .filter(|ns| !ns.contains('/'))
                && let Some(object) = store.objects.get_mut(path)
            {
                if store.namespace_deletion.is_zero() {
                    let object = object.clone();
                    store.remove_namespace(ns);
                    return ("200 OK".into(), object);
                }
                object["metadata"]["deletionTimestamp"] = json!("2026-12-06T00:00:00Z");
                object["status"] = json!({"phase": "Terminating"});
                let object = object.clone();
                let at = std::time::Instant::now() + store.namespace_deletion;
                store.terminating.entry(ns.to_string()).or_insert(at);
                store.version += 1;
                return ("200 OK".into(), object);
            }
            match store.objects.remove(path) {
                Some(object) => {
                    store.version += 1;
                    store.replace_pod(path);
                    ("200 OK".into(), object)
                }
                None => status(404, "NotFound", format!("{path} not found")),
            }
        }
        _ => status(
            405,
            "MethodNotAllowed",
            format!("{method} is not served by the fake"),
        ),
    }
}

/// Whether a healthy cluster gives this object a status by itself.
fn settles(object: &Value) -> bool {
    matches!(
        object["kind"].as_str(),
        Some("Deployment" | "StatefulSet" | "Job" | "PersistentVolumeClaim")
    )
}

/// What a healthy cluster does to a workload by itself: runs its pods, reports it ready, binds
/// its volume.
fn settle(store: &mut Store, object: &mut Value) {
    let generation = object["metadata"]["generation"].as_i64().unwrap_or(1);
    let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
    match object["kind"].as_str() {
        Some("Deployment") | Some("StatefulSet") => {
            object["status"] = json!({"observedGeneration": generation, "replicas": replicas,
                    "readyReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas});
            // Its pod, Running and Ready.
            let ns = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            // Its pods, Running and Ready, spread over the nodes as the scheduler would.
            let workload = object["metadata"]["name"]
                .as_str()
                .unwrap_or("pod")
                .to_string();
            let nodes: Vec<String> = store
                .objects
                .keys()
                .filter_map(|k| k.strip_prefix("/api/v1/nodes/").map(String::from))
                .collect();
            for i in 0..replicas.max(1) as usize {
                let pod_name = format!("{workload}-{i}");
                let node = nodes
                    .get(i % nodes.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                let pod = json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": pod_name, "namespace": ns,
                                     "labels": object["spec"]["template"]["metadata"]["labels"].clone()},
                        "spec": {"nodeName": node, "containers": []},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
                store.insert(format!("/api/v1/namespaces/{ns}/pods/{pod_name}"), pod);
            }
            let name = format!("{workload}-0");
            // A StatefulSet's controller makes a claim per template and pod, bound here.
            let templates = object["spec"]["volumeClaimTemplates"].as_array().cloned();
            for template in templates.unwrap_or_default() {
                let claim = format!(
                    "{}-{name}",
                    template["metadata"]["name"].as_str().unwrap_or("data")
                );
                let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "metadata": {"name": claim, "namespace": ns,
                                     "labels": template["metadata"]["labels"].clone()},
                        "spec": template["spec"].clone(), "status": {"phase": "Bound"}});
                bind(store, &ns, &claim, &template["spec"]);
                store.insert(
                    format!("/api/v1/namespaces/{ns}/persistentvolumeclaims/{claim}"),
                    pvc,
                );
            }
        }
        Some("Job") => match store.failing_job.clone() {
            // What a Job whose container exits with an error looks like: Failed, and its pod
            // terminated with the container's last words as its message.
            Some((code, message)) => {
                object["status"] = json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True",
                    "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
                let ns = object["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("default")
                    .to_string();
                let job = object["metadata"]["name"]
                    .as_str()
                    .unwrap_or("job")
                    .to_string();
                let pod = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("{job}-x1"), "namespace": ns, "labels": {"job-name": job}},
                    "status": {"phase": "Failed", "containerStatuses": [{"name": "check", "image": "postgres",
                        "imageID": "", "ready": false, "restartCount": 0,
                        "state": {"terminated": {"exitCode": code, "reason": "Error", "message": message}}}]}});
                store.insert(format!("/api/v1/namespaces/{ns}/pods/{job}-x1"), pod);
            }
            None => object["status"] = json!({"succeeded": 1}),
        },
        Some("PersistentVolumeClaim") => {
            let ns = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default");
            let name = object["metadata"]["name"].as_str().unwrap_or("claim");
            bind(store, &ns.to_string(), name, &object["spec"]);
            object["status"] = json!({"phase": "Bound"});
        }
        _ => {}
    }
}

/// The volume a provisioner makes for claim `ns`/`claim` of class `spec.storageClassName`
/// (the cluster's default, `standard`, when it names none).
fn bind(store: &mut Store, ns: &String, claim: &str, spec: &Value) {
    let class = spec["storageClassName"].as_str().unwrap_or("standard");
    let name = format!("pvc-{ns}-{claim}");
    let pv = json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
        "spec": {"storageClassName": class, "persistentVolumeReclaimPolicy": "Delete",
                 "claimRef": {"kind": "PersistentVolumeClaim", "namespace": ns, "name": claim}},
        "status": {"phase": "Bound"}});
    store.insert(format!("/api/v1/persistentvolumes/{name}"), pv);
}

/// What the API server does with a Secret's `stringData`.
fn string_data_to_data(object: &mut Value) {
    if object["kind"] != "Secret" {
        return;
    }
    if let Some(Value::Object(string_data)) =
        object.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        for (k, v) in string_data {
            object["data"][k] = json!(super::http::base64(
                v.as_str().unwrap_or_default().as_bytes()
            ));
        }
    }
}

/// Node objects from a `kubectl get nodes [-o wide]` capture. Columns the capture lacks
/// (a plain listing has no CONTAINER-RUNTIME) come from `missing_runtime`.
pub fn nodes_from_table(text: &str, missing_runtime: Option<&str>) -> Vec<Value> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().expect("a header line");
    // Columns start where the header's words start; cells may contain spaces (OS-IMAGE).
    let starts: Vec<(usize, &str)> = header
        .match_indices(|c: char| !c.is_whitespace())
        .filter(|(i, _)| *i == 0 || header.as_bytes()[i - 1] == b' ')
        .map(|(i, _)| {
            let word = header[i..].split_whitespace().next().unwrap();
            (i, word)
        })
        .collect();
    lines
        .map(|line| {
            let cell = |name: &str| -> Option<String> {
                let idx = starts.iter().position(|(_, w)| *w == name)?;
                let from = starts[idx].0;
                let to = starts.get(idx + 1).map(|s| s.0).unwrap_or(line.len());
                line.get(from..to.min(line.len()))
                    .map(|c| c.trim().to_string())
            };
            let name = cell("NAME").unwrap();
            let status = cell("STATUS").unwrap();
            let mut labels = serde_json::Map::new();
            labels.insert("kubernetes.io/hostname".into(), json!(name));
            for role in cell("ROLES").unwrap_or_default().split(',') {
                if role != "<none>" && !role.is_empty() {
                    labels.insert(format!("node-role.kubernetes.io/{role}"), json!(""));
                }
            }
            let runtime = cell("CONTAINER-RUNTIME")
                .or_else(|| missing_runtime.map(String::from))
                .unwrap_or_default();
            let ready = if status.split(',').next() == Some("Ready") {
                "True"
            } else {
                "False"
            };
            json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {"name": name, "labels": labels},
                "status": {
                    "conditions": [{"type": "Ready", "status": ready,
                                    "reason": if ready == "True" { "KubeletReady" } else { "KubeletNotReady" },
                                    "message": if ready == "True" { "kubelet is posting ready status" } else { "container runtime network not ready: NetworkReady=false" }}],
                    "nodeInfo": {
                        "architecture": "amd64", "bootID": "", "machineID": "", "systemUUID": "",
                        "containerRuntimeVersion": runtime,
                        "kernelVersion": cell("KERNEL-VERSION").unwrap_or_default(),
                        "kubeProxyVersion": "",
                        "kubeletVersion": cell("VERSION").unwrap_or_default(),
                        "operatingSystem": "linux",
                        "osImage": cell("OS-IMAGE").unwrap_or_default(),
                    }
                }
            })
        })
        .collect()
}
