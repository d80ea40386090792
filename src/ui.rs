//! Everything that knows about terminals: colour, symbols, tables and JSON output.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::doctor::{Check, Status, Summary};
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
}

impl Style {
    pub fn detect(env: &Env, verbose: bool, quiet: bool) -> Self {
        let terminal = std::io::stdout().is_terminal();
        Style {
            color: terminal && env.var_os(env::NO_COLOR).is_none(),
            terminal,
            verbose,
            quiet,
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
