//! The one safety policy every mutating step obeys.

use crate::api::{SafetyMode, SafetySpec, StepSpec};
use crate::duration::{parse_duration_at_most, MAX_PLAYBOOK_DURATION};
use std::time::Duration;

pub const DEFAULT_COOLDOWN: Duration = Duration::from_secs(300);
pub const DEFAULT_MAX_ATTEMPTS: u32 = 2;

/// The safety spec with defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct SafetyPolicy {
    pub mode: SafetyMode,
    pub cooldown: Duration,
    pub max_attempts: u32,
}

impl SafetyPolicy {
    /// A cooldown the operator cannot read (too long, or from before the CRD bounded it) makes
    /// the Playbook not Ready (see `controller::playbook::problems`); should it still be used,
    /// the longest allowed cooldown applies, never a shorter one than asked for.
    pub fn from_spec(spec: Option<&SafetySpec>) -> SafetyPolicy {
        let spec = spec.cloned().unwrap_or_default();
        SafetyPolicy {
            mode: spec.mode,
            cooldown: match spec.cooldown.as_deref() {
                None => DEFAULT_COOLDOWN,
                Some(c) => parse_duration_at_most(c, MAX_PLAYBOOK_DURATION).unwrap_or(MAX_PLAYBOOK_DURATION),
            },
            max_attempts: spec.max_attempts.filter(|n| *n > 0).unwrap_or(DEFAULT_MAX_ATTEMPTS),
        }
    }

    pub fn dry_run(&self) -> bool {
        self.mode == SafetyMode::DryRun
    }
}

/// Whether a step must wait for a human: the Playbook says so, the step says so, or the
/// action changes where data lives. Dry-runs change nothing and never wait.
pub fn approval_required(policy: &SafetyPolicy, step: &StepSpec, action_default: bool) -> bool {
    if policy.dry_run() {
        return false;
    }
    policy.mode == SafetyMode::Approval || step.requires_approval.unwrap_or(action_default)
}
