//! Everything that knows about terminals: how output looks (colour, symbols, plain lines),
//! the [`Reporter`] that shows phases as spinners ending in ✓/✗ on a terminal and as plain
//! lines elsewhere, questions that pause the spinners, and the rendering of korthbox's results
//! (`render`). Only `commands` uses it.

pub mod render;

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal};
use std::sync::Mutex;
use std::time::Duration;

use console::Style as Paint;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::base::env::{self, Env};
use crate::base::error::{Error, redact};
use crate::base::report::{Answer, Asking, PhaseEnd, PhaseId, Progress, Reporter, took};

/// How output should look, decided once from the environment and the flags.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours (a terminal, and NO_COLOR unset).
    pub color: bool,
    /// Unicode symbols and aligned tables (stdout is a terminal); plain lines otherwise.
    pub terminal: bool,
    pub verbose: bool,
    pub quiet: bool,
    /// stderr is a terminal: progress gets spinners and ✓/✗; plain lines otherwise.
    pub progress_terminal: bool,
    /// How wide long lines may be (COLUMNS, or the terminal's width); `None`: not wrapped.
    pub columns: Option<usize>,
}

impl Style {
    pub fn detect(env: &Env, verbose: bool, quiet: bool) -> Self {
        // A dumb terminal (TERM=dumb: Emacs shells, some CI consoles) draws no escape codes,
        // so it is written to as a pipe is: plain lines.
        let dumb = env.var(env::TERM) == Some("dumb");
        let terminal = std::io::stdout().is_terminal() && !dumb;
        Style {
            color: terminal && env.var_os(env::NO_COLOR).is_none(),
            terminal,
            verbose,
            quiet,
            progress_terminal: std::io::stderr().is_terminal() && !dumb,
            columns: env
                .var(env::COLUMNS)
                .and_then(|c| c.trim().parse().ok())
                .or_else(|| {
                    let term = console::Term::stdout();
                    terminal
                        .then(|| term.size_checked())
                        .flatten()
                        .map(|(_, c)| c as usize)
                })
                .filter(|c| *c >= 40),
        }
    }

    /// Plain output, as scripts and tests see it.
    pub fn plain() -> Self {
        Style {
            color: false,
            terminal: false,
            verbose: false,
            quiet: false,
            progress_terminal: false,
            columns: None,
        }
    }

    /// `text` in `paint` on stdout, when colours are on.
    pub fn paint(&self, paint: Paint, text: &str) -> String {
        paint.force_styling(self.color).apply_to(text).to_string()
    }

    /// `text` in `paint` on stderr (progress), when colours are on there.
    fn paint_err(&self, paint: Paint, text: &str) -> String {
        paint
            .force_styling(self.progress_terminal && self.color)
            .apply_to(text)
            .to_string()
    }

    fn spinners(&self) -> bool {
        self.progress_terminal && !self.quiet
    }
}

/// The terminal (or plain stderr) as korthbox's [`Reporter`].
pub struct Ui {
    pub style: Style,
    multi: MultiProgress,
    phases: Mutex<HashMap<PhaseId, ProgressBar>>,
    tasks: Mutex<HashMap<String, ProgressBar>>,
    /// The phases running now, for the message Ctrl-C prints.
    running: Mutex<Vec<(PhaseId, String)>>,
    /// Off a terminal: when each phase started, and the last tenth of its progress printed.
    progress_lines: Mutex<HashMap<PhaseId, (std::time::Instant, u64)>>,
    /// A question is waiting for its answer: Ctrl-C now changes nothing.
    asking: std::sync::atomic::AtomicBool,
}

impl Ui {
    pub fn new(style: Style) -> Self {
        Self {
            style,
            // Every spinner and bar goes through one MultiProgress, so that phases and image
            // pulls running at the same time do not garble each other.
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            phases: Mutex::default(),
            tasks: Mutex::default(),
            running: Mutex::default(),
            progress_lines: Mutex::default(),
            asking: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether a question is waiting for its answer.
    pub fn asking(&self) -> bool {
        self.asking.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn spinner(&self, template: &str, prefix: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(prefix.to_string());
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }

    /// A line above the spinners (or plainly on stderr).
    fn line(&self, text: &str) {
        let text = &redact(text);
        if self.style.spinners() {
            let _ = self.multi.println(text);
        } else {
            eprintln!("{text}");
        }
    }

    /// What to say when Ctrl-C stops korthbox.
    pub fn interrupted(&self, hint: Option<&str>) -> String {
        let during = self
            .running
            .lock()
            .ok()
            .and_then(|r| r.last().map(|(_, title)| format!(" during \"{title}\"")))
            .unwrap_or_default();
        match hint {
            Some(hint) => format!("error: interrupted{during}\nhint: {hint}"),
            None => format!("error: interrupted{during}"),
        }
    }

    /// Prints an error once, on stderr, above any spinner.
    pub fn error(&self, err: &Error) {
        if err.message.is_empty() {
            return;
        }
        self.clear();
        eprintln!("{err}");
    }

    /// Takes every spinner off the screen.
    pub fn clear(&self) {
        let mut bars: Vec<ProgressBar> = Vec::new();
        if let Ok(mut phases) = self.phases.lock() {
            bars.extend(phases.drain().map(|(_, bar)| bar));
        }
        if let Ok(mut tasks) = self.tasks.lock() {
            bars.extend(tasks.drain().map(|(_, bar)| bar));
        }
        bars.iter().for_each(ProgressBar::finish_and_clear);
    }

    /// A note on stderr, for people; silent under --quiet.
    pub fn note(&self, text: &str) {
        if !self.style.quiet {
            self.line(text);
        }
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// How far along, by bytes when their total is known, else by items.
fn progress_fraction(p: &Progress) -> Option<f64> {
    match (p.total_bytes, p.total_items) {
        (Some(total), _) if total > 0 => Some((p.bytes as f64 / total as f64).min(1.0)),
        (_, Some(total)) if total > 0 => Some((p.items as f64 / total as f64).min(1.0)),
        _ => None,
    }
}

/// "50 of 192, 12.0 of 24.6 MiB, 8.1 MiB/s, 2s left".
fn progress_text(p: &Progress, elapsed: std::time::Duration) -> String {
    let mut parts = Vec::new();
    if let Some(total) = p.total_items {
        parts.push(format!("{} of {total}", p.items));
    }
    match p.total_bytes {
        Some(total) => parts.push(format!("{:.1} of {:.1} MiB", mib(p.bytes), mib(total))),
        None if p.bytes > 0 => parts.push(format!("{:.1} MiB", mib(p.bytes))),
        None => {}
    }
    let secs = elapsed.as_secs_f64();
    if p.bytes > 0 && secs > 0.2 {
        let rate = p.bytes as f64 / secs;
        parts.push(format!("{:.1} MiB/s", mib(rate as u64)));
        if let Some(total) = p.total_bytes.filter(|t| *t > p.bytes) {
            parts.push(format!("{:.0}s left", (total - p.bytes) as f64 / rate));
        }
    }
    parts.join(", ")
}

impl Reporter for Ui {
    fn phase_started(&self, id: PhaseId, title: &str) {
        if let Ok(mut running) = self.running.lock() {
            running.push((id, title.to_string()));
        }
        if self.style.spinners() {
            let bar = self.spinner("{spinner} {prefix} {elapsed:.dim} {wide_msg:.dim}", title);
            if let Ok(mut phases) = self.phases.lock() {
                phases.insert(id, bar);
            }
        } else if !self.style.quiet {
            eprintln!("{} ...", redact(title));
        }
    }

    fn phase_output(&self, id: PhaseId, line: &str) {
        let line = &redact(line);
        match self.phases.lock().ok().and_then(|p| p.get(&id).cloned()) {
            Some(bar) => bar.set_message(line.trim().to_string()),
            None if self.style.verbose && !self.style.spinners() => eprintln!("  | {line}"),
            None => {}
        }
    }

    fn phase_item(&self, _id: PhaseId, line: &str) {
        if self.style.quiet {
            return;
        }
        let line = redact(line);
        if self.style.spinners() {
            let mark = self.style.paint_err(Paint::new().green(), "✓");
            let _ = self.multi.println(format!("{mark} {line}"));
        } else {
            eprintln!("{line}");
        }
    }

    fn phase_progress(&self, id: PhaseId, progress: Progress) {
        let bar = self.phases.lock().ok().and_then(|p| p.get(&id).cloned());
        let Some(bar) = bar else {
            // Off a terminal: a line at each tenth of the way, unless quiet.
            if self.style.quiet {
                return;
            }
            let Ok(mut lines) = self.progress_lines.lock() else {
                return;
            };
            let (started, printed) = lines.entry(id).or_insert((std::time::Instant::now(), 0));
            let tenth = progress_fraction(&progress).map_or(0, |f| (f * 10.0) as u64);
            if tenth > *printed {
                *printed = tenth;
                eprintln!("  {}", progress_text(&progress, started.elapsed()));
            }
            return;
        };
        let fraction = progress_fraction(&progress).unwrap_or(0.0);
        let filled = (fraction * 20.0).round() as usize;
        let gauge = format!(
            "[{}{}]",
            "=".repeat(filled),
            " ".repeat(20 - filled.min(20))
        );
        bar.set_message(format!(
            "{gauge} {}",
            progress_text(&progress, bar.elapsed())
        ));
    }

    fn phase_finished(&self, id: PhaseId, title: &str, end: &PhaseEnd) {
        if let Ok(mut running) = self.running.lock() {
            running.retain(|(r, _)| *r != id);
        }
        let detail = if end.detail.is_empty() {
            String::new()
        } else {
            format!(": {}", redact(&end.detail))
        };
        let took = took(end.took);
        let title = redact(title);
        let bar = self.phases.lock().ok().and_then(|mut p| p.remove(&id));
        match bar {
            Some(bar) => {
                bar.finish_and_clear();
                let mark = if end.ok {
                    self.style.paint_err(Paint::new().green(), "✓")
                } else {
                    self.style.paint_err(Paint::new().red(), "✗")
                };
                let _ = self
                    .multi
                    .println(format!("{mark} {title}{detail} ({took})"));
            }
            None if self.style.quiet && end.ok => {}
            None => {
                let word = if end.ok { "done" } else { "failed" };
                eprintln!("{word}: {title}{detail} ({took})");
            }
        }
    }

    fn task(&self, task: &str, status: Option<&str>) {
        if !self.style.spinners() {
            return;
        }
        let Ok(mut tasks) = self.tasks.lock() else {
            return;
        };
        match status {
            Some(status) => {
                let bar = tasks.entry(task.to_string()).or_insert_with(|| {
                    self.spinner("{spinner} pulling {prefix} {wide_msg:.dim}", task)
                });
                bar.set_message(status.to_string());
            }
            None => {
                if let Some(bar) = tasks.remove(task) {
                    bar.finish_and_clear();
                }
            }
        }
    }

    fn note(&self, text: &str) {
        Ui::note(self, text);
    }

    fn confirm<'a>(&'a self, question: &'a str, default: bool) -> Asking<'a> {
        Box::pin(async move {
            if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
                return Answer::NoTerminal;
            }
            // The spinners stop drawing while the question waits, so that it stays readable.
            let _ = self.multi.clear();
            self.multi.set_draw_target(ProgressDrawTarget::hidden());
            let choices = if default { "[Y/n]" } else { "[y/N]" };
            eprint!("{question} {choices} ");
            self.asking.store(true, std::sync::atomic::Ordering::SeqCst);
            // Read off the async threads, so that Ctrl-C is still heard while it waits.
            let read = tokio::task::spawn_blocking(|| {
                let mut answer = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut answer)
                    .map(|n| (n, answer))
            });
            let answer = match read.await {
                Ok(Ok((0, _))) | Ok(Err(_)) | Err(_) => Answer::No,
                Ok(Ok((_, text))) => match text.trim() {
                    "" if default => Answer::Yes,
                    "y" | "Y" | "yes" | "YES" | "Yes" => Answer::Yes,
                    _ => Answer::No,
                },
            };
            self.asking
                .store(false, std::sync::atomic::Ordering::SeqCst);
            self.multi.set_draw_target(ProgressDrawTarget::stderr());
            answer
        })
    }
}
