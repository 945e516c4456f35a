//! The Incident lifecycle as pure functions of what was observed: no API calls here, so every
//! transition is unit-tested from fixtures.
//!
//! Detected → Triaging → Mitigating (⇄ AwaitingApproval) → Validating → Resolved, or
//! Escalated when no step is left, or Failed when nothing can be done at all.

pub mod analysis;
pub mod approval;
pub mod claims;
mod decide;
pub mod effects;
pub mod model;
mod revert;
mod safety;
pub mod sources;
mod steps;
mod validating;

pub use decide::{decide, Decision, Inputs, Next, OtherIncident, PlaybookLookup, IMMEDIATELY};
pub use revert::{revert_finished, revert_started, MAX_REVERT_ATTEMPTS};
pub use safety::{approval_required, SafetyPolicy};
pub use steps::{step_abandoned, step_drifted, step_failed, step_started, step_succeeded};
pub use validating::{
    record_measurements, start_validation, AfterMeasure, DEFAULT_CHECK, DEFAULT_REVIEW_PERIOD,
    DEFAULT_REVIEW_PERIOD_HOURS,
};

use crate::api::{IncidentStatus, Phase};
use chrono::{DateTime, Utc};

/// Moves to a phase, recording the change in the timeline once.
pub(crate) fn set_phase(status: &mut IncidentStatus, phase: Phase, now: DateTime<Utc>, message: &str) {
    if status.phase == Some(phase) {
        return;
    }
    status.phase = Some(phase);
    crate::timeline::record(
        status,
        now,
        crate::api::EntryType::PhaseChanged,
        format!("{phase}: {message}"),
    );
    if phase.is_closed() {
        status.times.get_or_insert_with(Default::default).closed_at = Some(now);
    }
}

/// Closes the Incident as Resolved when the target is healthy again before anything was done.
pub(crate) fn resolve_without_action(
    st: &mut IncidentStatus,
    now: DateTime<Utc>,
    reason: &str,
    generation: Option<i64>,
) {
    crate::api::set_condition(
        &mut st.conditions,
        "Mitigated",
        true,
        "RecoveredWithoutAction",
        reason,
        generation,
        now,
    );
    crate::timeline::record(st, now, crate::api::EntryType::Recovered, reason.to_string());
    set_phase(st, Phase::Resolved, now, reason);
}

/// Closes the Incident as Escalated: a human is needed.
pub(crate) fn escalate(status: &mut IncidentStatus, now: DateTime<Utc>, reason: &str, generation: Option<i64>) {
    crate::api::set_condition(
        &mut status.conditions,
        "Mitigated",
        false,
        "Escalated",
        reason,
        generation,
        now,
    );
    set_phase(status, Phase::Escalated, now, reason);
}

#[cfg(test)]
mod tests;
