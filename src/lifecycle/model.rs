//! The model the lifecycle core and the actions share: what an action reports, and why it did
//! not act. The core owns these types; actions and providers depend on the core, never the
//! other way round.

use crate::api::Change;

/// Why an action did not do its job. The message is what the timeline records, so it carries
/// the context (what was being read or written) along with the API's own words.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The action will not run, for a reason a human must look at (nothing to roll back to,
    /// parameters out of bounds). Never retried.
    #[error("refused: {0}")]
    Refused(String),
    /// A permanent API error (not found, forbidden, invalid). Never retried.
    #[error("{0}")]
    Permanent(String),
    /// A transient error (timeouts, conflicts, throttling). Retried up to `maxAttempts`.
    #[error("{0} (transient)")]
    Transient(String),
    /// The target is no longer in the state the intent was planned from: someone else changed
    /// it. Nothing was sent; the lifecycle re-triages instead of acting on a world it did not plan for.
    #[error("the target changed since the plan: {0}")]
    Drifted(Drift),
}

/// How the target changed since the plan, and who changed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// What changed, old → new (revision and images, replicas, instance or DB state).
    pub message: String,
    /// The field manager that made the change, when the API says.
    pub field_manager: Option<String>,
}

impl std::fmt::Display for Drift {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field_manager {
            Some(manager) => write!(f, "{} (by field manager {manager})", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl ActionError {
    pub fn message(&self) -> &str {
        match self {
            ActionError::Refused(m) | ActionError::Permanent(m) | ActionError::Transient(m) => m,
            ActionError::Drifted(d) => &d.message,
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(self, ActionError::Transient(_))
    }

    /// Classifies a Kubernetes API error.
    pub fn from_kube(what: &str, err: kube::Error) -> Self {
        match &err {
            kube::Error::Api(status) if matches!(status.code, 409 | 429 | 500 | 502 | 503 | 504) => {
                ActionError::Transient(format!("{what}: {err}"))
            }
            kube::Error::Api(_) => ActionError::Permanent(format!("{what}: {err}")),
            _ => ActionError::Transient(format!("{what}: {err}")),
        }
    }
}

/// What an applied action reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub message: String,
    /// The change was already in place (a restart after the intent was recorded); nothing was sent.
    pub already_applied: bool,
    /// The change as applied, with any facts learned while applying.
    pub change: Change,
}
