//! korthbox's results as people read them (tables, summaries) and as scripts read them (JSON).

use std::io::Write;

use console::Style as Paint;

use super::Style;
use crate::base::error::Error;
use crate::base::report::PhaseTiming;
use crate::doctor::{Check, Status, Summary};
use crate::driver::ClusterEntry;
use crate::evaluate::proof::Proof;
use crate::host::HostFacts;
use crate::host::engines::Engine;
use crate::kube::apply::Applied;
use crate::kube::cluster::{ClusterReport, NodeFacts};
use crate::sandbox::status::{self, State};
use crate::sandbox::steps::PROOF_DETAIL;
use crate::sandbox::up;

/// Prints any serialisable value as pretty JSON followed by a newline.
pub fn json(out: &mut impl Write, value: &impl serde::Serialize) -> std::io::Result<()> {
    // One write: stdout is line-buffered, and a document of a few hundred lines would
    // otherwise cost a system call per line.
    let text = match YAML.load(std::sync::atomic::Ordering::Relaxed) {
        // The JSON value written as YAML, so that both carry the same fields.
        true => {
            serde_saphyr::to_string(&serde_json::to_value(value)?).map_err(std::io::Error::other)?
        }
        false => serde_json::to_string_pretty(value)? + "\n",
    };
    // No credential in a URL leaves korthbox, whatever the document carries.
    out.write_all(crate::base::error::redact(&text).as_bytes())
}

/// `-o yaml`: every document (`json`) is written as YAML from now on.
static YAML: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes [`json`] write YAML: the command line said `-o yaml`.
pub fn write_yaml() {
    YAML.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A failure as JSON, for `--json` runs: `{"error", "causes", "hints", "exit"}`.
pub fn error_json(out: &mut impl Write, err: &Error, exit: u8) -> std::io::Result<()> {
    json(
        out,
        &serde_json::json!({
            "error": err.message,
            "causes": err.cause_lines(),
            "hints": err.hints(),
            "exit": exit,
        }),
    )
}

fn gib(bytes: i64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
}

fn status_mark(style: Style, status: Status) -> String {
    let (symbol, paint) = match status {
        Status::Ok => ("✓", Paint::new().green()),
        Status::Skip => ("-", Paint::new().dim()),
        Status::Warn => ("!", Paint::new().yellow()),
        Status::Fail => ("✗", Paint::new().red()),
    };
    let label = format!("{:<4}", status.label());
    if style.terminal {
        style.paint(paint, &format!("{symbol} {label}"))
    } else {
        label
    }
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
                let driver = r
                    .cgroup_driver
                    .as_ref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default();
                res.push(format!("cgroup v{v}{driver}"));
            }
            if let Some(a) = r.architecture {
                res.push(a.label().to_string());
            }
            if r.rootless {
                res.push("rootless".into());
            }
            parts.push(res.join(", "));
        }
        None if engine.is_reachable() => {
            parts.push("answers (only pinged; `korthbox doctor -v` asks it everything)".into())
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
        host_facts(out, style, facts)?;
    }
    let width = checks
        .iter()
        .map(|c| c.id.as_str().len())
        .max()
        .unwrap_or(0);
    // The blocking problems first, then warnings, then the rest, each in doctor's order.
    let mut ordered: Vec<&Check> = checks.iter().collect();
    ordered.sort_by_key(|c| match c.status {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Ok => 2,
        Status::Skip => 3,
    });
    let indent = if style.terminal { 10 } else { 8 } + width;
    let room = |used: usize| style.columns.map(|c| c.saturating_sub(used).max(20));
    for check in ordered {
        if style.quiet && matches!(check.status, Status::Ok | Status::Skip) {
            continue;
        }
        let mark = status_mark(style, check.status);
        let detail = wrap(&check.detail, room(indent));
        writeln!(out, "{mark}  {:<width$}  {}", check.id.as_str(), detail[0])?;
        for line in &detail[1..] {
            writeln!(out, "{:indent$}{line}", "")?;
        }
        if let Some(fix) = &check.fix {
            let label = style.paint(Paint::new().bold(), "fix:");
            let fix = wrap(fix, room(indent + 5));
            writeln!(out, "{:indent$}{label} {}", "", fix[0])?;
            for line in &fix[1..] {
                writeln!(out, "{:w$}{line}", "", w = indent + 5)?;
            }
        }
    }
    let s = Summary::of(checks);
    writeln!(
        out,
        "\n{} failed, {} warnings, {} ok, {} skipped",
        s.fail, s.warn, s.ok, s.skip
    )
}

/// `text` in lines of at most `width` columns (`None`: one line). A command — a span between
/// backticks — is never broken: one longer than a line gets a line of its own, so that it can
/// be copied whole.
fn wrap(text: &str, width: Option<usize>) -> Vec<String> {
    let Some(width) = width else {
        return vec![text.to_string()];
    };
    // Words, with every `…` span kept as one.
    let mut tokens: Vec<String> = Vec::new();
    let mut in_code = false;
    for word in text.split(' ') {
        match (in_code, tokens.last_mut()) {
            (true, Some(last)) => {
                last.push(' ');
                last.push_str(word);
            }
            _ => tokens.push(word.to_string()),
        }
        if word.matches('`').count() % 2 == 1 {
            in_code = !in_code;
        }
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for token in tokens {
        let len = |s: &str| s.chars().count();
        if !line.is_empty() && len(&line) + 1 + len(&token) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&token);
    }
    lines.push(line);
    lines
}

/// doctor's header: the host, its engines, tools and kube contexts.
fn host_facts(out: &mut impl Write, style: Style, facts: &HostFacts) -> std::io::Result<()> {
    let host = &facts.host;
    let kernel = host
        .kernel
        .as_ref()
        .map(|k| format!(" (kernel {k})"))
        .unwrap_or_default();
    // Each fact wrapped under its own column when the terminal is narrow.
    let fact = |out: &mut dyn Write, head: &str, text: &str| -> std::io::Result<()> {
        let indent = head.chars().count();
        let room = style.columns.map(|c| c.saturating_sub(indent).max(20));
        let lines = wrap(text, room);
        writeln!(out, "{head}{}", lines[0])?;
        for line in &lines[1..] {
            writeln!(out, "{:indent$}{line}", "")?;
        }
        Ok(())
    };
    fact(out, "Host      ", &format!("{}{kernel}", host.summary()))?;
    if facts.engines.is_empty() {
        writeln!(out, "Engines   none found")?;
    }
    for (i, engine) in facts.engines.iter().enumerate() {
        let label = if i == 0 { "Engines" } else { "" };
        let chosen = facts
            .selected_engine()
            .is_some_and(|s| std::ptr::eq(s, engine));
        let mark = if chosen { "*" } else { " " };
        fact(out, &format!("{label:<9} {mark} "), &engine_line(engine))?;
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
    fact(out, "Tools     ", &tools.join(", "))?;
    let contexts: Vec<String> = facts
        .kubeconfig
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
    let contexts = if contexts.is_empty() {
        "none".to_string()
    } else {
        contexts.join(", ")
    };
    fact(out, "Contexts  ", &contexts)?;
    writeln!(out)
}

/// The nodes of a cluster that passed the checks.
pub fn cluster_report(out: &mut impl Write, report: &ClusterReport) -> std::io::Result<()> {
    let server = report
        .server
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    writeln!(out, "Context   {}{server}", report.context)?;
    node_table(out, &report.nodes)
}

/// Nodes with their role, readiness, version and runtime.
pub fn node_table(out: &mut impl Write, nodes: &[NodeFacts]) -> std::io::Result<()> {
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

/// `korthbox status` as a table.
pub fn status(out: &mut impl Write, style: Style, r: &status::Report) -> std::io::Result<()> {
    let place = match (&r.driver, &r.context) {
        (Some(d), Some(c)) => format!(" ({} cluster, context {c})", d.label()),
        _ => String::new(),
    };
    writeln!(out, "Sandbox {}: {}{place}", r.name, r.state.label())?;
    if !r.nodes.is_empty() {
        writeln!(out)?;
        node_table(out, &r.nodes)?;
    }
    if !r.components.is_empty() {
        writeln!(out)?;
        let rows: Vec<[String; 3]> = r
            .components
            .iter()
            .map(|c| {
                [
                    format!("{} {}", c.kind, c.name),
                    format!("{}/{}", c.ready, c.wanted),
                    c.images.join(", "),
                ]
            })
            .collect();
        table(out, ["COMPONENT", "READY", "IMAGE"], &rows)?;
    }
    for i in &r.instances {
        let state = if i.ready { "Ready" } else { "not Ready" };
        writeln!(out, "orthanc {:<26} on {:<24} {state}", i.pod, i.node)?;
    }
    for v in &r.volumes {
        writeln!(out, "volume {:<20} {}", v.name, v.phase)?;
    }
    if let Some(e) = &r.endpoint {
        writeln!(out, "\nOrthanc   {e}")?;
    }
    if let Some(v) = &r.viewer {
        writeln!(out, "Viewer    {v}")?;
    }
    match &r.last_proof {
        Some(p) => match &p.orthanc_version {
            Some(v) => writeln!(out, "Proof     {} at {} (Orthanc {v})", p.result, p.at)?,
            None => writeln!(out, "Proof     {} at {}", p.result, p.at)?,
        },
        None if r.state != State::Absent => writeln!(out, "Proof     never run")?,
        None => {}
    }
    for u in &r.upgrades {
        writeln!(out, "Upgrade   `korthbox up` would move {u}")?;
    }
    let mark = if style.terminal { "✗" } else { "problem:" };
    for p in &r.problems {
        writeln!(out, "{mark} {p}")?;
    }
    Ok(())
}

/// The end of a successful `up`.
pub fn up_summary(out: &mut impl Write, style: Style, s: &up::Summary) -> std::io::Result<()> {
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
    let orthanc = match (&e.orthanc_url, &e.forward_command) {
        (Some(u), _) => format!("{u}  (web UI and REST API; DICOMweb at {u}/dicom-web/)"),
        (None, forward) => format!(
            "run `{}`, then http://127.0.0.1:8042",
            forward.clone().unwrap_or_default()
        ),
    };
    let dicom = e
        .dicom
        .clone()
        .unwrap_or_else(|| "127.0.0.1:4242 through the forward".into());
    let mut rows = vec![
        ("Orthanc", orthanc),
        ("DICOM", format!("{dicom}  AE title {}", e.aet)),
        (
            "Login",
            format!("user {}, password: `{}`", e.user, e.password_command),
        ),
        ("kubectl", format!("`{}`", e.kubectl)),
        (
            "Proof",
            if s.proof.passed {
                format!("passed: {PROOF_DETAIL}")
            } else {
                "failed".into()
            },
        ),
    ];
    if let Some(viewer) = &e.viewer {
        rows.insert(2, ("Viewer", viewer.clone()));
    }
    if let Some(samples) = &s.samples {
        rows.push(("Samples", samples.clone()));
    }
    for (label, value) in rows {
        let label = style.paint(Paint::new().bold(), &format!("{label:<8}"));
        writeln!(out, "  {label}  {value}")?;
    }
    Ok(())
}

/// When each phase started and how long it took; the total is the wall time, shorter than
/// the sum where phases overlapped.
pub fn timings(out: &mut impl Write, phases: &[PhaseTiming], total: f64) -> std::io::Result<()> {
    if phases.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<[String; 3]> = phases
        .iter()
        .map(|p| {
            [
                match p.failed {
                    true => format!("{} (failed)", p.phase),
                    false => p.phase.clone(),
                },
                format!("{:.1}s", p.start),
                format!("{:.1}s", p.seconds),
            ]
        })
        .collect();
    rows.push(["total".into(), "0.0s".into(), format!("{total:.1}s")]);
    table(out, ["PHASE", "START", "TIME"], &rows)
}

/// What an apply did, object by object.
pub fn applied(out: &mut impl Write, applied: &[Applied]) -> std::io::Result<()> {
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

/// An upload's summary, and each failed file with why.
pub fn uploaded(
    out: &mut impl Write,
    done: &crate::evaluate::upload::Uploaded,
) -> std::io::Result<()> {
    writeln!(out, "{}", done.describe())?;
    for f in done.failures.iter().chain(&done.skipped) {
        match &f.outcome {
            crate::evaluate::upload::Outcome::Failed { reason } => {
                writeln!(out, "failed  {}: {reason}", f.path.display())?
            }
            crate::evaluate::upload::Outcome::Skipped { reason } => {
                writeln!(out, "skipped {}: {reason}", f.path.display())?
            }
            _ => {}
        }
    }
    Ok(())
}

/// The proof's steps, one line each.
pub fn proof(out: &mut impl Write, proof: &Proof) -> std::io::Result<()> {
    for step in &proof.steps {
        writeln!(out, "{}", step.line())?;
    }
    Ok(())
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
