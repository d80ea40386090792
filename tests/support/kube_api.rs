//! A fake Kubernetes API server: answers `GET /api/v1/nodes` with real node objects (or nodes
//! made from real `kubectl get nodes -o wide` captures) and records every request, so tests
//! can assert that nothing but reads reached it.

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{Value, json};

pub struct FakeApi {
    pub port: u16,
    /// "METHOD /path" of every request.
    pub requests: Arc<Mutex<Vec<String>>>,
    nodes: Arc<Mutex<Vec<Value>>>,
}

impl FakeApi {
    pub fn serve(nodes: Vec<Value>) -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake API server");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let nodes = Arc::new(Mutex::new(nodes));
        let (log, served) = (requests.clone(), nodes.clone());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, served) = (log.clone(), served.clone());
                thread::spawn(move || serve_connection(stream, &log, &served));
            }
        });
        FakeApi {
            port,
            requests,
            nodes,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }

    pub fn set_nodes(&self, nodes: Vec<Value>) {
        *self.nodes.lock().unwrap() = nodes;
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

fn serve_connection(stream: TcpStream, log: &Mutex<Vec<String>>, nodes: &Mutex<Vec<Value>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    while let Some(request_line) = super::read_request(&mut reader) {
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("/").to_string();
        log.lock().unwrap().push(format!("{method} {target}"));
        let path = target.split('?').next().unwrap_or("");
        let (status, payload) = match (method.as_str(), path) {
            ("GET", "/api/v1/nodes") => (
                "200 OK",
                json!({
                    "kind": "NodeList",
                    "apiVersion": "v1",
                    "metadata": {"resourceVersion": "1"},
                    "items": nodes.lock().unwrap().clone(),
                }),
            ),
            _ => (
                "404 Not Found",
                json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "message": format!("{method} {path} is not served by the fake"), "reason": "NotFound", "code": 404}),
            ),
        };
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
