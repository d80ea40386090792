//! The proof after every `up`: through port-forwards korthbox opens itself (so it works on every
//! driver and on existing clusters), Orthanc creates a DICOM instance, gives it back, counts it,
//! deletes it, and answers a DICOM C-ECHO. The result is kept on the namespace, for `status`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::{Value, json};

use crate::error::Error;
use crate::report::seconds;

/// The field manager of the proof's annotations, apart from the stack's own.
const FIELD_MANAGER: &str = "korthbox-proof";
pub const LAST_PROOF: &str = "korthbox.io/last-proof";
pub const LAST_PROOF_AT: &str = "korthbox.io/last-proof-at";

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    pub millis: u128,
}

#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    pub passed: bool,
    pub pod: String,
    pub steps: Vec<Step>,
}

impl Proof {
    pub fn outcome(&self) -> Outcome {
        if self.passed {
            Outcome::Passed
        } else {
            Outcome::Failed(self.failure().to_string())
        }
    }

    /// What the failing step said (empty when the proof passed).
    pub fn failure(&self) -> &str {
        match self.steps.last() {
            Some(step) if !step.ok => &step.detail,
            _ => "",
        }
    }
}

/// How the last proof went, as kept on the namespace: `passed`, or `failed: why`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
}

impl Outcome {
    fn annotation(&self) -> String {
        match self {
            Outcome::Passed => "passed".into(),
            Outcome::Failed(why) => {
                format!("failed: {}", why.chars().take(200).collect::<String>())
            }
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "passed" => Outcome::Passed,
            other => Outcome::Failed(other.strip_prefix("failed: ").unwrap_or(other).to_string()),
        }
    }
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.annotation())
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.annotation())
    }
}

/// What `status` reads back from the namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LastProof {
    pub result: Outcome,
    pub at: String,
}

/// A running Orthanc pod of the sandbox.
async fn orthanc_pod(client: &Client, namespace: &str, instance: &str) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let selector = format!("app.kubernetes.io/name=orthanc,app.kubernetes.io/instance={instance}");
    let list = pods
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| format!("could not list Orthanc's pods: {e}"))?;
    list.items
        .iter()
        .find(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
        })
        .and_then(|p| p.metadata.name.clone())
        .ok_or_else(|| format!("no Ready Orthanc pod in namespace {namespace}"))
}

/// The admin password, read from the Secret (never printed).
pub async fn admin_password(client: &Client, namespace: &str) -> Result<String, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets
        .get("orthanc-credentials")
        .await
        .map_err(|e| format!("could not read Secret orthanc-credentials: {e}"))?;
    secret
        .data
        .as_ref()
        .and_then(|d| d.get("password"))
        .map(|b| String::from_utf8_lossy(&b.0).to_string())
        .ok_or_else(|| "Secret orthanc-credentials has no password".to_string())
}

/// An HTTP/1.1 connection to Orthanc through a port-forward to the pod's 8042.
struct Http {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    auth: String,
}

impl Http {
    async fn open(pods: &Api<Pod>, pod: &str, password: &str) -> Result<Http, String> {
        let mut forward = pods
            .portforward(pod, &[8042])
            .await
            .map_err(|e| format!("could not open a port-forward to {pod}:8042: {e}"))?;
        let stream = forward
            .take_stream(8042)
            .ok_or("the port-forward has no stream for 8042")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP through the port-forward failed: {e}"))?;
        tokio::spawn(async move {
            let _ = connection.await;
            drop(forward);
        });
        let auth = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("admin:{password}"))
        );
        Ok(Http { sender, auth })
    }

    async fn call(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Bytes), String> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", "orthanc")
            .header("authorization", &self.auth)
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .map_err(|e| e.to_string())?;
        self.sender
            .ready()
            .await
            .map_err(|e| format!("the connection to Orthanc closed: {e}"))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?
            .to_bytes();
        Ok((status, bytes))
    }

    async fn json(
        &mut self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let (status, bytes) = self.call(method, path, body).await?;
        if status != 200 {
            return Err(format!(
                "{method} {path} answered {status}: {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(200)
                    .collect::<String>()
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("{method} {path} answered no JSON: {e}"))
    }
}

/// Runs the proof; each step is recorded, and the first failing one ends it.
pub async fn prove(
    client: &Client,
    namespace: &str,
    instance: &str,
    aet: &str,
    timeout: Duration,
) -> Result<Proof, Error> {
    let run = async {
        let mut proof = Proof {
            passed: false,
            pod: String::new(),
            steps: Vec::new(),
        };
        let result = steps(client, namespace, instance, aet, &mut proof).await;
        if let Err(why) = result {
            proof.steps.push(Step {
                name: "failed",
                ok: false,
                detail: why,
                millis: 0,
            });
        } else {
            proof.passed = true;
        }
        proof
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(proof) => Ok(proof),
        Err(_) => Err(Error::failure(format!(
            "the proof did not finish within {}",
            seconds(timeout)
        ))
        .hint("`korthbox status` shows the stack; `kubectl -n korthbox logs deployment/orthanc` shows Orthanc's side")),
    }
}

/// Records each step's time as it passes.
struct Clock(Instant);

impl Clock {
    fn step(&mut self, proof: &mut Proof, name: &'static str, detail: String) {
        proof.steps.push(Step {
            name,
            ok: true,
            detail,
            millis: self.0.elapsed().as_millis(),
        });
        self.0 = Instant::now();
    }
}

async fn steps(
    client: &Client,
    namespace: &str,
    instance: &str,
    aet: &str,
    proof: &mut Proof,
) -> Result<(), String> {
    let mut clock = Clock(Instant::now());
    let pod = orthanc_pod(client, namespace, instance).await?;
    proof.pod = pod.clone();
    let password = admin_password(client, namespace).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let mut http = Http::open(&pods, &pod, &password).await?;
    clock.step(proof, "port-forward", format!("{pod}:8042"));
    rest_round_trip(&mut http, proof, &mut clock).await?;
    echo(&pods, &pod, aet).await?;
    clock.step(proof, "C-ECHO", format!("{aet} on {pod}:4242"));
    Ok(())
}

/// Through the REST API: an instance created, read back, counted and deleted.
async fn rest_round_trip(
    http: &mut Http,
    proof: &mut Proof,
    clock: &mut Clock,
) -> Result<(), String> {
    let patient = format!(
        "KORTHBOX-PROOF-{}",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let created = http
        .json(
            "POST",
            "/tools/create-dicom",
            Some(json!({"Tags": {"PatientID": patient, "PatientName": "KORTHBOX^PROOF", "Modality": "OT", "StudyDescription": "korthbox proof"}})),
        )
        .await?;
    let id = created["ID"]
        .as_str()
        .ok_or("/tools/create-dicom answered no ID")?
        .to_string();
    clock.step(proof, "create", format!("instance {id}"));

    let (status, file) = http
        .call("GET", &format!("/instances/{id}/file"), None)
        .await?;
    if status != 200 || file.len() < 132 || &file[128..132] != b"DICM" {
        return Err(format!(
            "GET /instances/{id}/file answered {status} with {} bytes that are not a DICOM file",
            file.len()
        ));
    }
    let tags = http
        .json("GET", &format!("/instances/{id}/simplified-tags"), None)
        .await?;
    if tags["PatientID"] != patient.as_str() {
        return Err(format!(
            "the instance read back has PatientID {}, not {patient}",
            tags["PatientID"]
        ));
    }
    clock.step(
        proof,
        "read back",
        format!("{} bytes, PatientID {patient}", file.len()),
    );

    let stats = http.json("GET", "/statistics", None).await?;
    let count = stats["CountInstances"].as_u64().unwrap_or(0);
    if count < 1 {
        return Err(format!(
            "/statistics counts {count} instances after one was stored"
        ));
    }
    clock.step(proof, "statistics", format!("{count} instances"));

    http.json("DELETE", &format!("/instances/{id}"), None)
        .await?;
    clock.step(proof, "delete", format!("instance {id}"));
    Ok(())
}

/// A DICOM C-ECHO through a port-forward to the pod's 4242.
async fn echo(pods: &Api<Pod>, pod: &str, aet: &str) -> Result<(), String> {
    let mut forward = pods
        .portforward(pod, &[4242])
        .await
        .map_err(|e| format!("could not open a port-forward to {pod}:4242: {e}"))?;
    let mut stream = forward
        .take_stream(4242)
        .ok_or("the port-forward has no stream for 4242")?;
    crate::dicom::echo(&mut stream, aet)
        .await
        .map_err(|e| format!("DICOM C-ECHO to {aet} on {pod}:4242: {e}"))?;
    drop(stream);
    forward.abort();
    Ok(())
}

/// Keeps the result on the namespace, where `status` finds it without a state file.
pub async fn record(client: &Client, namespace: &str, proof: &Proof) -> Result<(), Error> {
    let result = proof.outcome().annotation();
    let at = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_else(|_| jiff::Timestamp::now())
        .to_string();
    let patch = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "annotations": {LAST_PROOF: result, LAST_PROOF_AT: at}},
    });
    let api: Api<Namespace> = Api::all(client.clone());
    api.patch(
        namespace,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map(|_| ())
    .map_err(|e| {
        Error::failure(format!(
            "could not record the proof on namespace {namespace}"
        ))
        .because(e)
    })
}

/// What the namespace says about the last proof.
pub fn last(namespace: &Namespace) -> Option<LastProof> {
    let annotations = namespace.metadata.annotations.as_ref()?;
    Some(LastProof {
        result: Outcome::parse(annotations.get(LAST_PROOF)?),
        at: annotations.get(LAST_PROOF_AT).cloned().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn the_outcome_round_trips_through_its_annotation() {
        for outcome in [Outcome::Passed, Outcome::Failed("C-ECHO refused".into())] {
            assert_eq!(Outcome::parse(&outcome.annotation()), outcome);
        }
        assert_eq!(Outcome::Failed("x".into()).annotation(), "failed: x");
    }
}
