//! A fake Kubernetes API server: answers `GET /api/v1/nodes` with real node objects (or nodes
//! made from real `kubectl get nodes -o wide` captures) and records every request, so tests
//! can assert that nothing but reads reached it.

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
            store.objects.insert(format!("/api/v1/nodes/{name}"), node);
        }
    }

    /// Stores `object` at `path` as it is (a pod in some state, a StorageClass…).
    pub fn put(&self, path: &str, object: Value) {
        self.store
            .lock()
            .unwrap()
            .objects
            .insert(path.to_string(), object);
    }

    pub fn get(&self, path: &str) -> Option<Value> {
        self.store.lock().unwrap().objects.get(path).cloned()
    }

    /// Every stored path.
    pub fn paths(&self) -> Vec<String> {
        self.store.lock().unwrap().objects.keys().cloned().collect()
    }

    pub fn set_ready(&self, ready: bool) {
        self.store.lock().unwrap().ready = ready;
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
    while let Some((request_line, body)) = super::read_request_with_body(&mut reader) {
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        log.lock().unwrap().push(format!("{method} {target}"));
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (status, payload) = handle(&mut store.lock().unwrap(), &method, path, query, &body);
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
    match method {
        "GET" if is_collection(path) => {
            let prefix = format!("{path}/");
            let items: Vec<Value> = store
                .objects
                .iter()
                .filter(|(k, _)| {
                    k.strip_prefix(&prefix)
                        .is_some_and(|rest| !rest.contains('/'))
                })
                .map(|(_, v)| v.clone())
                .filter(|v| matches_selector(v, query))
                .collect();
            (
                "200 OK".into(),
                json!({"kind": "List", "apiVersion": "v1",
                       "metadata": {"resourceVersion": store.version.to_string()}, "items": items}),
            )
        }
        "GET" => match store.objects.get(path) {
            Some(v) => ("200 OK".into(), v.clone()),
            None => status(404, "NotFound", format!("{path} not found")),
        },
        "POST" => {
            let mut object: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let name = object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let key = format!("{path}/{name}");
            if store.objects.contains_key(&key) {
                return status(409, "AlreadyExists", format!("{key} already exists"));
            }
            store.version += 1;
            object["metadata"]["resourceVersion"] = json!(store.version.to_string());
            object["metadata"]["uid"] = json!(format!("uid-{}", store.version));
            store.objects.insert(key, object.clone());
            ("201 Created".into(), object)
        }
        "PATCH" => {
            if !query.contains("fieldManager=korthbox") {
                return status(
                    400,
                    "BadRequest",
                    "every apply must name the korthbox field manager".into(),
                );
            }
            let mut object: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
            let old = store.objects.get(path).cloned();
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
            if store.ready {
                let replicas = object["spec"]["replicas"].as_i64().unwrap_or(1);
                match object["kind"].as_str() {
                    Some("Deployment") | Some("StatefulSet") => {
                        object["status"] = json!({"observedGeneration": generation, "replicas": replicas,
                            "readyReplicas": replicas, "updatedReplicas": replicas, "availableReplicas": replicas});
                    }
                    Some("Job") => object["status"] = json!({"succeeded": 1}),
                    _ => {}
                }
            } else if let Some(old) = &old {
                object["status"] = old["status"].clone();
            }
            store.objects.insert(path.to_string(), object.clone());
            ("200 OK".into(), object)
        }
        _ => status(
            405,
            "MethodNotAllowed",
            format!("{method} is not served by the fake"),
        ),
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
