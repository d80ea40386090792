//! How library code tells people what it is doing, without knowing about terminals: a
//! [`Reporter`] receives phases (started, a line of a tool's output, an item, progress,
//! finished), notes and questions. `ui` implements it for terminals and plain output; tests
//! record it. Also the one place durations are formatted.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

/// How many pieces of work are cleaning up after themselves on Ctrl-C (the proof deleting
/// its study): while any is, the program lets them finish instead of stopping at once.
static SHIELDS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Held while a piece of work handles Ctrl-C itself; see [`shielded`].
pub struct Shield(());

impl Shield {
    pub fn raise() -> Shield {
        SHIELDS.fetch_add(1, Ordering::SeqCst);
        Shield(())
    }
}

impl Drop for Shield {
    fn drop(&mut self) {
        SHIELDS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether some work is handling Ctrl-C itself right now.
pub fn shielded() -> bool {
    SHIELDS.load(Ordering::SeqCst) > 0
}

/// Identifies one phase among those running at the same time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PhaseId(u64);

impl PhaseId {
    fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        PhaseId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// How far a phase has come, in items and bytes; totals when known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    pub items: u64,
    pub total_items: Option<u64>,
    pub bytes: u64,
    pub total_bytes: Option<u64>,
}

/// How a phase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseEnd {
    pub ok: bool,
    /// What it found or did, in a few words ("3 nodes Ready on containerd"); may be empty.
    pub detail: String,
    pub took: Duration,
}

/// The answer to a yes/no question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    /// Nobody can answer: no terminal to ask on.
    NoTerminal,
}

/// A question's answer, once it comes.
pub type Asking<'a> = Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;

/// Receives everything korthbox's library code has to say. Implementations must not block.
pub trait Reporter: Send + Sync {
    fn phase_started(&self, id: PhaseId, title: &str);
    /// A line of a tool's output during the phase: a spinner's message on a terminal, shown
    /// elsewhere only with `--verbose`.
    fn phase_output(&self, id: PhaseId, line: &str);
    /// A result of its own within the phase (an image pulled), shown in every mode.
    fn phase_item(&self, id: PhaseId, line: &str);
    fn phase_progress(&self, id: PhaseId, progress: Progress);
    fn phase_finished(&self, id: PhaseId, title: &str, end: &PhaseEnd);
    /// A background task's latest status (an image pulling while the cluster is created);
    /// `None` when it is over. Only terminals show these.
    fn task(&self, task: &str, status: Option<&str>);
    /// A note for people (a warning, what korthbox waits for); never for scripts.
    fn note(&self, text: &str);
    /// Asks a yes/no question, pausing whatever is being drawn.
    fn confirm<'a>(&'a self, question: &'a str, default: bool) -> Asking<'a>;
}

/// Says nothing and answers nothing: for callers that only want the result.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {
    fn phase_started(&self, _: PhaseId, _: &str) {}
    fn phase_output(&self, _: PhaseId, _: &str) {}
    fn phase_item(&self, _: PhaseId, _: &str) {}
    fn phase_progress(&self, _: PhaseId, _: Progress) {}
    fn phase_finished(&self, _: PhaseId, _: &str, _: &PhaseEnd) {}
    fn task(&self, _: &str, _: Option<&str>) {}
    fn note(&self, _: &str) {}
    fn confirm<'a>(&'a self, _: &'a str, _: bool) -> Asking<'a> {
        Box::pin(async { Answer::NoTerminal })
    }
}

/// One running phase: reports through its reporter, knows when it started, and records its
/// time when it ends (when started from [`Steps`]).
pub struct Phase<'r> {
    reporter: &'r dyn Reporter,
    timings: Option<&'r Timings>,
    id: PhaseId,
    title: String,
    started: Instant,
}

impl<'r> Phase<'r> {
    pub fn start(reporter: &'r dyn Reporter, title: impl Into<String>) -> Self {
        let title = title.into();
        let id = PhaseId::next();
        reporter.phase_started(id, &title);
        Phase {
            reporter,
            timings: None,
            id,
            title,
            started: Instant::now(),
        }
    }

    pub fn title(&self) -> &str {
        &self.title
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn output(&self, line: &str) {
        self.reporter.phase_output(self.id, line);
    }

    pub fn item(&self, line: &str) {
        self.reporter.phase_item(self.id, line);
    }

    pub fn progress(&self, progress: Progress) {
        self.reporter.phase_progress(self.id, progress);
    }

    pub fn reporter(&self) -> &'r dyn Reporter {
        self.reporter
    }

    /// Ends the phase, recorded in the timings (a failed one too: `--timings` shows what ran).
    pub fn finish(self, ok: bool, detail: &str) -> Duration {
        let took = self.started.elapsed();
        self.reporter.phase_finished(
            self.id,
            &self.title,
            &PhaseEnd {
                ok,
                detail: detail.to_string(),
                took,
            },
        );
        if let Some(timings) = self.timings {
            timings.record(Timing {
                phase: self.title,
                start: self.started,
                took,
                failed: !ok,
            });
        }
        took
    }
}

/// The phases of one command: each shown through the reporter and timed into the timings.
/// Cheap to clone, so that concurrent steps share it.
#[derive(Clone)]
pub struct Steps {
    reporter: Arc<dyn Reporter>,
    timings: Arc<Timings>,
}

impl Steps {
    pub fn new(reporter: Arc<dyn Reporter>) -> Self {
        Self {
            reporter,
            timings: Arc::default(),
        }
    }

    pub fn reporter(&self) -> &dyn Reporter {
        self.reporter.as_ref()
    }

    pub fn shared_reporter(&self) -> Arc<dyn Reporter> {
        self.reporter.clone()
    }

    pub fn timings(&self) -> &Timings {
        &self.timings
    }

    /// Starts a phase whose time is recorded when it ends well.
    pub fn phase(&self, title: impl Into<String>) -> Phase<'_> {
        let mut phase = Phase::start(self.reporter.as_ref(), title);
        phase.timings = Some(&self.timings);
        phase
    }

    /// Runs `work` as one phase: started, ended ✓ with `detail` of its result or ✗ with
    /// nothing, and timed.
    pub async fn run<T, E>(
        &self,
        title: impl Into<String>,
        work: impl AsyncFnOnce(&Phase<'_>) -> Result<T, E>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T, E> {
        let phase = self.phase(title);
        match work(&phase).await {
            Ok(value) => {
                phase.finish(true, &detail(&value));
                Ok(value)
            }
            Err(e) => {
                phase.finish(false, "");
                Err(e)
            }
        }
    }

    pub fn note(&self, text: &str) {
        self.reporter.note(text);
    }
}

/// When a phase started and how long it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timing {
    pub phase: String,
    pub start: Instant,
    pub took: Duration,
    pub failed: bool,
}

/// The phases of one command, in the order they ended; shared by concurrent steps.
#[derive(Debug, Default)]
pub struct Timings(Mutex<Vec<Timing>>);

/// A phase as `--json` and `--timings` show it: seconds after the first phase started.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseTiming {
    pub phase: String,
    pub start: f64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub failed: bool,
}

impl Timings {
    pub fn record(&self, timing: Timing) {
        if let Ok(mut all) = self.0.lock() {
            all.push(timing);
        }
    }

    pub fn all(&self) -> Vec<Timing> {
        self.0.lock().map(|all| all.clone()).unwrap_or_default()
    }

    /// Every phase relative to the first one's start, rounded to tenths, and the wall time
    /// from the first start to the last end (shorter than the sum where phases overlapped).
    pub fn relative(&self) -> (Vec<PhaseTiming>, f64) {
        let all = self.all();
        let Some(first) = all.iter().map(|t| t.start).min() else {
            return (Vec::new(), 0.0);
        };
        let last = all.iter().map(|t| t.start + t.took).max().unwrap_or(first);
        // Milliseconds: a host check or a re-apply takes tens of them.
        let tenths = |d: Duration| (d.as_secs_f64() * 1000.0).round() / 1000.0;
        let phases = all
            .iter()
            .map(|t| PhaseTiming {
                phase: t.phase.clone(),
                start: tenths(t.start.duration_since(first)),
                seconds: tenths(t.took),
                failed: t.failed,
            })
            .collect();
        (phases, tenths(last.duration_since(first)))
    }
}

/// "2s", "0.5s": how korthbox writes a duration a person chose or will wait for.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(korthbox::base::report::seconds(Duration::from_secs(2)), "2s");
/// assert_eq!(korthbox::base::report::seconds(Duration::from_millis(500)), "0.5s");
/// ```
pub fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{}s", s as u64)
    } else {
        format!("{s:.1}s")
    }
}

/// "1.2s": how long something took.
pub fn took(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_timings_start_at_zero_and_overlap() {
        let t = Timings::default();
        let now = Instant::now();
        t.record(Timing {
            phase: "a".into(),
            start: now,
            took: Duration::from_secs(5),
            failed: false,
        });
        t.record(Timing {
            phase: "b".into(),
            start: now + Duration::from_secs(1),
            took: Duration::from_secs(2),
            failed: false,
        });
        let (phases, total) = t.relative();
        assert_eq!(phases[1].start, 1.0);
        assert_eq!(total, 5.0);
    }
}
