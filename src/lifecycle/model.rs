//! The model the lifecycle core and the actions share: what an action reports, and why it did
//! not act. The core owns these types; actions and providers depend on the core, never the
//! other way round.

use crate::api::Change;

/// The target is no longer in the state the step's intent was planned from: someone (or
/// something) changed it in between.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}{}", by_whom(.field_manager.as_deref()))]
pub struct Drift {
    /// What changed, old → new (revision and images, replicas, instance or DB state).
    pub message: String,
    /// Who changed it, from the object's managedFields, when the API records that.
    pub field_manager: Option<String>,
}

fn by_whom(field_manager: Option<&str>) -> String {
    field_manager.map(|m| format!(" (changed by {m})")).unwrap_or_default()
}

/// Why an action did not do its job.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// The action will not run, for a reason a human must look at (nothing to roll back to,
    /// parameters out of bounds). Never retried.
    #[error("{0}")]
    Refused(String),
    /// A permanent API error (not found, forbidden, invalid). Never retried.
    #[error("{0}")]
    Permanent(String),
    /// A transient error (timeouts, conflicts, throttling). Retried up to `maxAttempts`.
    #[error("{0}")]
    Transient(String),
    /// The target drifted from the intent's from-state, so the action did not act. Retrying the
    /// same intent cannot help: the world it was planned for is gone, so the Incident must look
    /// at the target again.
    #[error("not acting: {0}")]
    Drifted(Drift),
}

impl ActionError {
    pub fn message(&self) -> std::borrow::Cow<'_, str> {
        match self {
            ActionError::Refused(m) | ActionError::Permanent(m) | ActionError::Transient(m) => m.into(),
            ActionError::Drifted(_) => self.to_string().into(),
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
