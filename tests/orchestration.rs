//! The orchestration in-process: `up`, `down` and `reset` from the library, with a reporter that
//! records what they report (phases in order, items, notes, questions) and answers questions
//! as the test says. The same stand-in drivers, fake API server and real Orthanc with
//! PostgreSQL as the binary-level lifecycle tests.

mod support;

use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use korthbox::base::env::Env;
use korthbox::base::error::ErrorKind;
use korthbox::base::report::{Answer, Asking, PhaseEnd, PhaseId, Progress, Reporter, Steps};
use korthbox::base::spec::{ClusterSpec, DEFAULT_NAMESPACE, HostPorts, SandboxName};
use korthbox::kube::stack::Choices;
use korthbox::sandbox::Context;
use korthbox::sandbox::down::{self, DownRequest, ResetRequest};
use korthbox::sandbox::target::Wanted;
use korthbox::sandbox::up::{self, Request};
use support::world::World;

/// What the library reported, one line per event; questions get `answer`.
struct Recorder {
    events: Mutex<Vec<String>>,
    answer: Answer,
}

impl Recorder {
    fn answering(answer: Answer) -> Arc<Self> {
        Arc::new(Recorder {
            events: Mutex::new(Vec::new()),
            answer,
        })
    }

    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }

    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    /// The phases, in the order they ended, as `✓ title` or `✗ title`.
    fn ended(&self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter(|e| e.starts_with('✓') || e.starts_with('✗'))
            .map(|e| e.split(": ").next().unwrap().to_string())
            .collect()
    }
}

impl Reporter for Recorder {
    fn phase_started(&self, _: PhaseId, title: &str) {
        self.push(format!("start {title}"));
    }
    fn phase_output(&self, _: PhaseId, _: &str) {}
    fn phase_item(&self, _: PhaseId, line: &str) {
        self.push(format!("item {line}"));
    }
    fn phase_progress(&self, _: PhaseId, _: Progress) {}
    fn phase_finished(&self, _: PhaseId, title: &str, end: &PhaseEnd) {
        let mark = if end.ok { '✓' } else { '✗' };
        self.push(format!("{mark} {title}: {}", end.detail));
    }
    fn task(&self, _: &str, _: Option<&str>) {}
    fn note(&self, text: &str) {
        self.push(format!("note {text}"));
    }
    fn confirm<'a>(&'a self, question: &'a str, _default: bool) -> Asking<'a> {
        self.push(format!("ask {question}"));
        Box::pin(async move { self.answer })
    }
}

/// The world's environment, as the binary would see it, with korthbox's own directories in
/// the sandbox (the library never reads the test process's environment).
fn context(world: &World, recorder: &Arc<Recorder>) -> Context {
    let mut vars: Vec<(String, OsString)> = world
        .sandbox
        .envs
        .iter()
        .map(|(k, v)| (k.clone(), OsString::from(v)))
        .collect();
    for (key, dir) in [
        ("KORTHBOX_CACHE_DIR", "cache"),
        ("KORTHBOX_BIN_DIR", "installed"),
    ] {
        vars.push((key.into(), world.sandbox.path(dir).into_os_string()));
    }
    Context::new(Env::from_vars(vars), Steps::new(recorder.clone()))
}

fn wanted() -> Wanted {
    Wanted {
        name: SandboxName::default(),
        driver: None,
        context: None,
        provider: None,
    }
}

fn request(world: &World) -> Request {
    let port = |i: usize| world.ports[i].parse().unwrap();
    Request {
        wanted: wanted(),
        cluster: ClusterSpec {
            ports: HostPorts {
                http: port(0),
                dicom: port(1),
                api_server: port(2),
            },
            ..ClusterSpec::default()
        },
        stack: Choices {
            namespace: DEFAULT_NAMESPACE.into(),
            ..Choices::default()
        },
        retain: false,
        timeout: Duration::from_secs(60),
        wait: Duration::from_secs(5),
        lock_wait: Duration::from_secs(5),
        offer_install: false,
        samples: 0,
    }
}

const UP_PHASES: [&str; 11] = [
    "✓ Checking the host",
    "✓ Creating kind cluster korthbox",
    "✓ Pulling images",
    "✓ Loading 2 images into the nodes",
    "✓ Checking the cluster of context kind-korthbox",
    "✓ Applying namespace",
    "✓ Applying secrets",
    "✓ Applying configuration",
    "✓ Applying PostgreSQL",
    "✓ Applying Orthanc",
    "✓ Proving Orthanc works",
];

/// The phases as they ended, the stack's components (which run at once and end in any order)
/// sorted as `UP_PHASES` lists them.
fn in_order(mut ended: Vec<String>) -> Vec<String> {
    let components = ["✓ Applying PostgreSQL", "✓ Applying Orthanc"];
    if let Some(first) = ended.iter().position(|e| components.contains(&e.as_str())) {
        let end = (first + components.len()).min(ended.len());
        ended[first..end].sort_by_key(|e| components.iter().position(|c| c == e));
    }
    ended
}

#[tokio::test(flavor = "multi_thread")]
async fn up_runs_its_steps_in_order_and_a_second_up_changes_nothing() {
    let Some(world) = World::new() else { return };
    let recorder = Recorder::answering(Answer::NoTerminal);
    let ctx = context(&world, &recorder);
    let summary = up::up(&ctx, &request(&world), None, None).await.unwrap();
    assert_eq!(in_order(recorder.ended()), UP_PHASES);
    let events = recorder.events();
    // Every phase that started ended; the pulls were reported image by image.
    let started = events.iter().filter(|e| e.starts_with("start ")).count();
    assert_eq!(started, UP_PHASES.len(), "{events:#?}");
    let items: Vec<&String> = events.iter().filter(|e| e.starts_with("item ")).collect();
    assert_eq!(items.len(), 2, "{events:#?}");
    assert!(items[0].contains("postgres") && items[1].contains("orthanc"));
    assert!(
        events.contains(&"✓ Creating kind cluster korthbox: ".to_string()),
        "{events:#?}"
    );
    assert!(summary.cluster_created && summary.proof.passed);
    assert!(summary.changed > 0);
    // The timings: every phase, and the pulls under their own name.
    let phases: Vec<&str> = summary.phases.iter().map(|p| p.phase.as_str()).collect();
    assert!(phases.contains(&"Pulling images (during cluster creation)"));
    assert!(!phases.contains(&"Pulling images"));

    let again = Recorder::answering(Answer::NoTerminal);
    let summary = up::up(&context(&world, &again), &request(&world), None, None)
        .await
        .unwrap();
    assert!(!summary.cluster_created);
    assert_eq!(summary.changed, 0);
    assert!(
        again
            .events()
            .contains(&"✓ Creating kind cluster korthbox: it exists; reusing it".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn up_stops_at_the_step_that_fails_and_starts_nothing_after_it() {
    let Some(mut world) = World::new() else {
        return;
    };
    world.sandbox.set("STANDIN_FAIL", "1");
    let recorder = Recorder::answering(Answer::NoTerminal);
    let err = up::up(&context(&world, &recorder), &request(&world), None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Failure);
    assert!(
        err.message
            .contains("kind could not create cluster korthbox")
    );
    assert!(err.hints().iter().any(|h| h.contains("--retain")), "{err}");
    let events = recorder.events();
    assert_eq!(
        recorder.ended(),
        ["✓ Checking the host", "✗ Creating kind cluster korthbox"],
        "{events:#?}"
    );
    assert_eq!(events.last().unwrap(), "✗ Creating kind cluster korthbox: ");
}

#[tokio::test(flavor = "multi_thread")]
async fn up_refuses_a_bad_combination_before_any_step() {
    let Some(world) = World::new() else { return };
    let recorder = Recorder::answering(Answer::NoTerminal);
    let mut req = request(&world);
    req.stack.orthanc_storage = korthbox::base::spec::OrthancStorage::S3;
    let err = up::up(&context(&world, &recorder), &req, None, None)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
    assert!(err.message.contains("add --storage minio"), "{err}");
    assert!(recorder.events().is_empty(), "{:#?}", recorder.events());
    assert!(world.calls().is_empty());
}

fn down_request(yes: bool) -> DownRequest {
    DownRequest {
        wanted: wanted(),
        namespace: DEFAULT_NAMESPACE.into(),
        yes,
        force: false,
        timeout: Duration::from_secs(30),
        lock_wait: Duration::from_secs(5),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn down_asks_first_and_deletes_only_on_yes() {
    let Some(world) = World::new() else { return };
    let quiet = Recorder::answering(Answer::NoTerminal);
    up::up(&context(&world, &quiet), &request(&world), None, None)
        .await
        .unwrap();
    let question = "ask Delete the kind cluster korthbox and all data in it?";

    // Nobody to ask: a usage error saying to add --yes, and nothing deleted.
    let nobody = Recorder::answering(Answer::NoTerminal);
    let err = down::down(&context(&world, &nobody), &down_request(false))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Usage);
    assert!(err.hints()[0].contains("--yes"), "{err}");
    assert_eq!(nobody.events(), [question]);

    // "no": nothing deleted, and not an error: what was kept, no hint.
    let no = Recorder::answering(Answer::No);
    let err = down::down(&context(&world, &no), &down_request(false))
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Declined);
    assert_eq!(
        err.to_string(),
        "Kept the kind cluster korthbox and all data in it: nothing was deleted."
    );
    assert!(err.hints().is_empty());
    assert!(!world.calls().iter().any(|c| c.line().contains("delete")));

    // "yes": the one delete phase, and the stand-in asked to delete.
    let yes = Recorder::answering(Answer::Yes);
    let deleted = down::down(&context(&world, &yes), &down_request(false))
        .await
        .unwrap();
    assert!(deleted.is_some());
    assert_eq!(
        yes.ended(),
        ["✓ Deleting the kind cluster korthbox and all data in it"]
    );
    assert!(
        world
            .calls()
            .iter()
            .any(|c| c.line() == "kind delete cluster --name korthbox")
    );

    // Gone: down says so and succeeds without asking.
    let after = Recorder::answering(Answer::Yes);
    let deleted = down::down(&context(&world, &after), &down_request(false))
        .await
        .unwrap();
    assert!(deleted.is_none());
    assert_eq!(
        after.events(),
        ["note there is no sandbox korthbox; nothing to delete"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reset_deletes_then_runs_every_step_of_up() {
    let Some(world) = World::new() else { return };
    let quiet = Recorder::answering(Answer::NoTerminal);
    up::up(&context(&world, &quiet), &request(&world), None, None)
        .await
        .unwrap();
    let recorder = Recorder::answering(Answer::NoTerminal);
    let req = ResetRequest {
        up: request(&world),
        yes: true,
        force: false,
        keep_cluster: false,
        keep_studies: false,
    };
    let summary = down::reset(&context(&world, &recorder), &req)
        .await
        .unwrap();
    assert!(summary.cluster_created && summary.proof.passed);
    let mut expected = vec!["✓ Deleting sandbox korthbox".to_string()];
    expected.extend(UP_PHASES.map(String::from));
    assert_eq!(in_order(recorder.ended()), expected);
    let events = recorder.events();
    assert!(
        events[0].starts_with("note reset deletes sandbox korthbox (kind cluster)"),
        "{events:#?}"
    );
    // With --yes nothing is asked.
    assert!(!events.iter().any(|e| e.starts_with("ask ")));
}
