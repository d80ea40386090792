//! What a proof is: the Orthanc it proves (`Target`), its steps and their outcome, and the
//! outcome as kept on a sandbox's namespace.

use serde::Serialize;

use super::storage::Backend;
use crate::base::error::Error;
use crate::evaluate::orthanc::Endpoints;

/// One step: its name, whether it passed, how long it took, and what it did or why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: &'static str,
    pub ok: bool,
    pub seconds: f64,
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip)]
    pub hint: Option<String>,
}

impl Step {
    /// The step as one line of progress: `✓ echo 0.01s C-ECHO … Success`.
    pub fn line(&self) -> String {
        let mark = if self.ok { "✓" } else { "✗" };
        format!(
            "{mark} {:<8} {:>6} {}",
            self.name,
            format!("{:.2}s", self.seconds),
            self.detail
        )
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Proof {
    pub passed: bool,
    pub steps: Vec<Step>,
    /// The version Orthanc itself reports (`/system`), when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orthanc_version: Option<String>,
}

impl Proof {
    pub fn outcome(&self) -> Outcome {
        match self.failed() {
            Some(step) if !self.passed => {
                Outcome::Failed(format!("{}: {}", step.name, step.detail))
            }
            _ if self.passed => Outcome::Passed,
            _ => Outcome::Failed("failed".into()),
        }
    }

    /// The first step that failed.
    pub fn failed(&self) -> Option<&Step> {
        self.steps.iter().find(|s| !s.ok)
    }

    /// The total time of the steps.
    pub fn seconds(&self) -> f64 {
        self.steps.iter().map(|s| s.seconds).sum()
    }

    /// The proof as an error, "`what` failed at step …": which step failed and why, and
    /// what to do.
    pub fn error(&self, what: &str) -> Error {
        let Some(step) = self.failed() else {
            return Error::failure(format!("{what} failed"));
        };
        let mut err =
            Error::failure(format!("{what} failed at step {}", step.name)).caused_by(&step.detail);
        for later in self
            .steps
            .iter()
            .skip_while(|s| s.ok)
            .skip(1)
            .filter(|s| !s.ok)
        {
            err = err.caused_by(format!("then {}: {}", later.name, later.detail));
        }
        for hint in self.steps.iter().filter_map(|s| s.hint.as_deref()) {
            err = err.hint(hint);
        }
        err
    }
}

/// The Orthanc to prove, and how to reach it.
pub struct Target {
    pub orthanc: Endpoints,
    /// The sandbox's storage backend, asked where the files went.
    pub storage: Option<Backend>,
    /// With several Orthancs, each one's REST API reached directly, by pod: the file stored is
    /// read back through every one.
    pub instances: Vec<(String, crate::evaluate::orthanc::rest::Rest)>,
}

/// How the last proof went, as kept on the namespace: `passed`, or `failed: why`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed(String),
}

impl Outcome {
    pub(super) fn annotation(&self) -> String {
        match self {
            Outcome::Passed => "passed".into(),
            Outcome::Failed(why) => {
                format!("failed: {}", why.chars().take(200).collect::<String>())
            }
        }
    }

    pub(super) fn parse(text: &str) -> Self {
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
    /// The Orthanc version that proof found running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub orthanc_version: Option<String>,
}

/// What the proof's cleanup did about the study it stored.
pub enum Cleaned {
    /// Nothing was stored.
    Nothing,
    Deleted(String),
    Left(String),
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
