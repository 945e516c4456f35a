//! The one safety policy every mutating step obeys.

use crate::api::{SafetyMode, SafetySpec, StepSpec};
use crate::duration::parse_duration;
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
    pub fn from_spec(spec: Option<&SafetySpec>) -> SafetyPolicy {
        let spec = spec.cloned().unwrap_or_default();
        SafetyPolicy {
            mode: spec.mode,
            cooldown: spec
                .cooldown
                .as_deref()
                .and_then(|c| parse_duration(c).ok())
                .unwrap_or(DEFAULT_COOLDOWN),
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
