//! Everything that knows about terminals: colour, symbols, tables and JSON output.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::cluster::ClusterReport;
use crate::doctor::{Check, Status, Summary};
use crate::driver::ClusterEntry;
use crate::env::{self, Env};
use crate::host::HostFacts;
use crate::host::engines::Engine;

/// How output should look, decided once from the environment and the flags.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours (a terminal, and NO_COLOR unset).
    pub color: bool,
    /// Unicode symbols and aligned tables (a terminal); plain lines otherwise.
    pub terminal: bool,
    pub verbose: bool,
    pub quiet: bool,
    /// stderr is a terminal: progress gets spinners and ✓/✗; plain lines otherwise.
    pub progress_terminal: bool,
}

impl Style {
    pub fn detect(env: &Env, verbose: bool, quiet: bool) -> Self {
        let terminal = std::io::stdout().is_terminal();
        Style {
            color: terminal && env.var_os(env::NO_COLOR).is_none(),
            terminal,
            verbose,
            quiet,
            progress_terminal: std::io::stderr().is_terminal(),
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn status(&self, status: Status) -> String {
        let (symbol, code) = match status {
            Status::Ok => ("✓", "32"),
            Status::Skip => ("-", "2"),
            Status::Warn => ("!", "33"),
            Status::Fail => ("✗", "31"),
        };
        let label = format!("{:<4}", status.label());
        if self.terminal {
            self.paint(code, &format!("{symbol} {label}"))
        } else {
            label
        }
    }
}

/// "2s", "0.5s".
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{s:.1}s")
    }
}

fn gib(bytes: i64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
}

fn engine_line(engine: &Engine) -> String {
    let version = engine.server_version.as_deref().unwrap_or("?");
    let mut parts = vec![format!("{} {version}", engine.kind.label())];
    parts.push(engine.endpoint.clone());
    match &engine.resources {
        Some(r) if engine.is_reachable() => {
            let mut res = Vec::new();
            if let Some(c) = r.cpus {
                res.push(format!("{c} CPUs"));
            }
            if let Some(m) = r.memory_bytes {
                res.push(gib(m));
            }
            if let Some(v) = &r.cgroup_version {
                res.push(format!(
                    "cgroup v{v}{}",
                    r.cgroup_driver
                        .as_ref()
                        .map(|d| format!(" ({d})"))
                        .unwrap_or_default()
                ));
            }
            if let Some(a) = r.architecture {
                res.push(a.label().to_string());
            }
            if r.rootless {
                res.push("rootless".into());
            }
            parts.push(res.join(", "));
        }
        _ => parts.push(format!(
            "not answering: {}",
            engine.error.as_deref().unwrap_or("unknown error")
        )),
    }
    parts.join("  ")
}

/// The human form of `korthbox doctor`.
pub fn doctor(
    out: &mut impl Write,
    style: Style,
    facts: &HostFacts,
    checks: &[Check],
) -> std::io::Result<()> {
    if !style.quiet {
        let host = &facts.host;
        let kernel = host
            .kernel
            .as_ref()
            .map(|k| format!(" (kernel {k})"))
            .unwrap_or_default();
        writeln!(out, "Host      {}{kernel}", host.summary())?;
        if facts.engines.is_empty() {
            writeln!(out, "Engines   none found")?;
        }
        for (i, engine) in facts.engines.iter().enumerate() {
            let label = if i == 0 { "Engines" } else { "" };
            let chosen = facts
                .selected_engine()
                .is_some_and(|s| std::ptr::eq(s, engine));
            let mark = if chosen { "*" } else { " " };
            writeln!(out, "{label:<9} {mark} {}", engine_line(engine))?;
            if style.verbose {
                writeln!(out, "{:<11} found through {}", "", engine.source.label())?;
            }
        }
        let tools: Vec<String> = facts
            .tools
            .iter()
            .map(|t| match (&t.version, t.installed()) {
                (Some(v), _) => format!("{} {v}", t.name.executable()),
                (None, true) => format!("{} (version unknown)", t.name.executable()),
                (None, false) => format!("{} -", t.name.executable()),
            })
            .collect();
        writeln!(out, "Tools     {}", tools.join(", "))?;
        let kube = &facts.kubeconfig;
        let contexts: Vec<String> = kube
            .contexts
            .iter()
            .map(|c| {
                if c.current {
                    format!("{} (current)", c.name)
                } else {
                    c.name.clone()
                }
            })
            .collect();
        writeln!(
            out,
            "Contexts  {}",
            if contexts.is_empty() {
                "none".to_string()
            } else {
                contexts.join(", ")
            }
        )?;
        writeln!(out)?;
    }

    let width = checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for check in checks {
        if style.quiet && matches!(check.status, Status::Ok | Status::Skip) {
            continue;
        }
        writeln!(
            out,
            "{}  {:<width$}  {}",
            style.status(check.status),
            check.id,
            check.detail
        )?;
        if let Some(fix) = &check.fix {
            let indent = if style.terminal { 10 } else { 8 } + width;
            writeln!(out, "{:indent$}{} {fix}", "", style.paint("1", "fix:"))?;
        }
    }
    let s = Summary::of(checks);
    writeln!(
        out,
        "\n{} failed, {} warnings, {} ok, {} skipped",
        s.fail, s.warn, s.ok, s.skip
    )?;
    Ok(())
}

/// Prints any serialisable value as pretty JSON followed by a newline.
pub fn json(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}

/// One phase of work on stderr: a spinner showing the tool's latest line that ends in ✓ or ✗
/// with the elapsed time on a terminal; a start line and an end line elsewhere (with every
/// tool line in between under --verbose).
pub struct Phase {
    title: String,
    style: Style,
    started: Instant,
    bar: Option<ProgressBar>,
}

/// Every spinner and bar on a terminal goes through one MultiProgress, so that phases and image
/// pulls running at the same time do not garble each other.
fn multi() -> &'static indicatif::MultiProgress {
    static MULTI: std::sync::OnceLock<indicatif::MultiProgress> = std::sync::OnceLock::new();
    MULTI.get_or_init(|| {
        indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stderr())
    })
}

/// Progress of the image pulls: a bar per image on a terminal, a line per image elsewhere.
pub struct PullBars {
    style: Style,
    bars: std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>,
}

impl PullBars {
    pub fn new(style: Style) -> Self {
        Self {
            style,
            bars: Default::default(),
        }
    }
}

impl crate::pull::Progress for PullBars {
    fn update(&self, image: &str, status: &str) {
        if !self.style.progress_terminal || self.style.quiet {
            return;
        }
        let Ok(mut bars) = self.bars.lock() else {
            return;
        };
        let bar = bars.entry(image.to_string()).or_insert_with(|| {
            let bar = multi().add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} pulling {prefix} {wide_msg:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(image.to_string());
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        bar.set_message(status.to_string());
    }

    fn done(&self, image: &str, pulled: bool, took: Duration) {
        // Off a terminal the lines come in order afterwards, from `pulled_lines`.
        if self.style.quiet || !self.style.progress_terminal {
            return;
        }
        if let Some(bar) = self.bars.lock().ok().and_then(|mut b| b.remove(image)) {
            bar.finish_and_clear();
        }
        let line = pull_line(image, pulled, took.as_secs_f64());
        let _ = multi().println(format!("{} {line}", self.style.paint_err("32", "✓")));
    }
}

fn pull_line(image: &str, pulled: bool, seconds: f64) -> String {
    if pulled {
        format!("pulled {image} ({seconds:.1}s)")
    } else {
        format!("cached {image} (already in the engine; nothing downloaded)")
    }
}

/// Off a terminal: one line per image, in the stack's order.
pub fn pulled_lines(style: Style, pulled: &[crate::pull::Pulled]) {
    if style.quiet || style.progress_terminal {
        return;
    }
    for p in pulled {
        eprintln!("{}", pull_line(&p.reference, p.pulled, p.seconds));
    }
}

/// The phase running now, for the message Ctrl-C prints.
static CURRENT_PHASE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// What to say when Ctrl-C stops korthbox.
pub fn interrupted() -> String {
    let during = CURRENT_PHASE
        .lock()
        .ok()
        .and_then(|p| p.clone())
        .map(|p| format!(" during \"{p}\""))
        .unwrap_or_default();
    format!(
        "error: interrupted{during}\nhint: nothing is left half-done that `korthbox up` cannot continue from; `korthbox reset` starts over"
    )
}

impl Phase {
    pub fn start(style: Style, title: impl Into<String>) -> Self {
        let title = title.into();
        if let Ok(mut current) = CURRENT_PHASE.lock() {
            *current = Some(title.clone());
        }
        let bar = if style.progress_terminal && !style.quiet {
            let bar = multi().add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {elapsed:.dim} {wide_msg:.dim}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_prefix(title.clone());
            bar.enable_steady_tick(Duration::from_millis(100));
            Some(bar)
        } else {
            if !style.quiet {
                eprintln!("{title} ...");
            }
            None
        };
        Phase {
            title,
            style,
            started: Instant::now(),
            bar,
        }
    }

    /// A line of the tool's output.
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.trim().to_string()),
            None if self.style.verbose => eprintln!("  | {text}"),
            None => {}
        }
    }

    /// Ends the phase and returns how long it took.
    pub fn finish(self, ok: bool, detail: &str) -> Duration {
        let elapsed = self.started.elapsed();
        if let Ok(mut current) = CURRENT_PHASE.lock() {
            *current = None;
        }
        let took = format!("{:.1}s", elapsed.as_secs_f64());
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(": {detail}")
        };
        match &self.bar {
            Some(bar) => {
                bar.finish_and_clear();
                let mark = if ok {
                    self.style.paint_err("32", "✓")
                } else {
                    self.style.paint_err("31", "✗")
                };
                let _ = multi().println(format!("{mark} {}{detail} ({took})", self.title));
            }
            None if self.style.quiet && ok => {}
            None => {
                let word = if ok { "done" } else { "failed" };
                eprintln!("{word}: {}{detail} ({took})", self.title);
            }
        }
        elapsed
    }
}

impl Style {
    fn paint_err(&self, code: &str, text: &str) -> String {
        if self.progress_terminal && self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// A note for people on stderr (never for scripts reading stdout); silent under --quiet.
pub fn note(style: Style, text: &str) {
    if !style.quiet {
        eprintln!("{text}");
    }
}

/// The nodes of a cluster that passed the checks.
pub fn cluster_report(out: &mut impl Write, report: &ClusterReport) -> std::io::Result<()> {
    writeln!(
        out,
        "Context   {}{}",
        report.context,
        report
            .server
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    )?;
    node_table(out, &report.nodes)
}

/// Nodes with their role, readiness, version and runtime.
pub fn node_table(
    out: &mut impl Write,
    nodes: &[crate::cluster::NodeFacts],
) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = nodes
        .iter()
        .map(|n| {
            [
                n.name.clone(),
                if n.roles.is_empty() {
                    "worker".to_string()
                } else {
                    n.roles.join(",")
                },
                if n.ready { "Ready" } else { "NotReady" }.to_string(),
                n.kubelet_version.clone(),
                n.container_runtime.clone(),
            ]
        })
        .collect();
    table(
        out,
        ["NODE", "ROLES", "STATUS", "VERSION", "RUNTIME"],
        &rows,
    )
}

/// Workloads with their readiness and images.
pub fn component_table(out: &mut impl Write, rows: &[[String; 3]]) -> std::io::Result<()> {
    table(out, ["COMPONENT", "READY", "IMAGE"], rows)
}

/// The end of a successful `up`.
pub fn up_summary(
    out: &mut impl Write,
    style: Style,
    s: &crate::commands::up::Summary,
) -> std::io::Result<()> {
    let state = if s.cluster_created {
        "created"
    } else if s.changed == 0 {
        "already up; nothing changed"
    } else {
        "repaired"
    };
    writeln!(
        out,
        "Sandbox {} is ready ({state}): {} cluster, context {}",
        s.name,
        s.driver.label(),
        s.context
    )?;
    if s.changed > 0 && !s.cluster_created {
        writeln!(
            out,
            "  {} objects were created or changed to repair it",
            s.changed
        )?;
    }
    let e = &s.endpoints;
    let rows: Vec<(&str, String)> = vec![
        (
            "Orthanc",
            e.orthanc_url
                .clone()
                .map(|u| format!("{u}  (web UI and REST API; DICOMweb at {u}/dicom-web/)"))
                .unwrap_or_else(|| {
                    format!(
                        "run `{}`, then http://127.0.0.1:8042",
                        e.forward_command.clone().unwrap_or_default()
                    )
                }),
        ),
        (
            "DICOM",
            format!(
                "{}  AE title {}",
                e.dicom
                    .clone()
                    .unwrap_or_else(|| "127.0.0.1:4242 through the forward".into()),
                e.aet
            ),
        ),
        (
            "Login",
            format!("user {}, password: `{}`", e.user, e.password_command),
        ),
        ("kubectl", format!("`{}`", e.kubectl)),
        (
            "Proof",
            if s.proof.passed {
                "passed: stored, read back, counted and deleted an instance; C-ECHO answered".into()
            } else {
                "failed".into()
            },
        ),
    ];
    for (label, value) in rows {
        writeln!(
            out,
            "  {}  {value}",
            style.paint("1", &format!("{label:<8}"))
        )?;
    }
    Ok(())
}

/// When each phase started and how long it took; the total is the wall time, shorter than
/// the sum where phases overlapped.
pub fn timings(
    out: &mut impl Write,
    timings: &[(String, Instant, Duration)],
) -> std::io::Result<()> {
    let Some(first) = timings.iter().map(|(_, s, _)| *s).min() else {
        return Ok(());
    };
    let last = timings
        .iter()
        .map(|(_, s, d)| *s + *d)
        .max()
        .unwrap_or(first);
    let mut rows: Vec<[String; 3]> = timings
        .iter()
        .map(|(phase, start, took)| {
            [
                phase.clone(),
                format!("{:.1}s", start.duration_since(first).as_secs_f64()),
                format!("{:.1}s", took.as_secs_f64()),
            ]
        })
        .collect();
    rows.push([
        "total".into(),
        "0.0s".into(),
        format!("{:.1}s", last.duration_since(first).as_secs_f64()),
    ]);
    table(out, ["PHASE", "START", "TIME"], &rows)
}

/// What an apply did, object by object.
pub fn applied(out: &mut impl Write, applied: &[crate::apply::Applied]) -> std::io::Result<()> {
    let rows: Vec<[String; 2]> = applied
        .iter()
        .map(|a| [a.object.clone(), a.change.label().to_string()])
        .collect();
    table(out, ["OBJECT", "CHANGE"], &rows)
}

/// The clusters the drivers have.
pub fn cluster_list(out: &mut impl Write, entries: &[ClusterEntry]) -> std::io::Result<()> {
    let rows: Vec<[String; 3]> = entries
        .iter()
        .map(|e| {
            [
                e.driver.label().to_string(),
                e.name.clone(),
                e.context.clone(),
            ]
        })
        .collect();
    table(out, ["DRIVER", "NAME", "CONTEXT"], &rows)
}

fn table<const N: usize>(
    out: &mut impl Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == N {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        text
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}
