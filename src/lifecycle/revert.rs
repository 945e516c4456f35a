//! Undoing a step after its validation failed, under the same protocol as the step itself:
//! the revert's intent is recorded before the call, its result after; a transient failure is
//! retried with backoff, and giving up pages a human.

use super::steps::advance_or_escalate;
use super::{escalate, set_phase};
use crate::api::{Change, IncidentStatus, Phase, RevertState, RevertStatus};
use crate::lifecycle::model::{ActionError, Outcome};
use crate::timeline::record;
use chrono::{DateTime, Utc};

/// Attempts a revert gets before the Incident escalates.
pub const MAX_REVERT_ATTEMPTS: u32 = 5;

/// The step's change, the other way round: what the revert will do.
fn reversed(applied: &Change) -> Change {
    Change {
        from_revision: applied.to_revision,
        to_revision: applied.from_revision,
        from_images: applied.to_images.clone(),
        to_images: applied.from_images.clone(),
        from_build: applied.to_build.clone(),
        to_build: applied.from_build.clone(),
        from_replicas: applied.to_replicas,
        to_replicas: applied.from_replicas,
        details: applied.details.clone(),
        ..Change::default()
    }
}

/// Records the intent to undo step `index`; the revert runs next, after this is persisted.
pub fn revert_started(st: &mut IncidentStatus, index: usize, reason: &str, now: DateTime<Utc>) {
    let step = &mut st.steps[index];
    let applied = step.intent.clone().unwrap_or_default();
    let attempts = step.revert.as_ref().map(|r| r.attempts).unwrap_or(0) + 1;
    step.revert = Some(RevertStatus {
        state: RevertState::Running,
        attempts,
        intent: reversed(&applied),
        started_at: now,
        finished_at: None,
        retry_after: None,
        message: None,
    });
    let name = step.name.clone();
    record(
        st,
        now,
        crate::api::EntryType::RevertStarted,
        format!("undoing step {name} (attempt {attempts}/{MAX_REVERT_ATTEMPTS}): {reason}"),
    );
    set_phase(st, Phase::Mitigating, now, &format!("reverting step {name}"));
}

/// The step whose revert is under way or due, if any, and whether it may run now.
pub fn revert_due(st: &IncidentStatus, now: DateTime<Utc>) -> Option<(usize, bool)> {
    st.steps.iter().enumerate().find_map(|(i, s)| {
        let revert = s.revert.as_ref()?;
        match revert.state {
            RevertState::Running => Some((i, true)),
            RevertState::Pending => Some((i, revert.retry_after.is_none_or(|t| t <= now))),
            RevertState::Succeeded | RevertState::Failed => None,
        }
    })
}

/// Records a revert's result: done, retried later, or given up (escalated).
pub fn revert_finished(
    st: &mut IncidentStatus,
    index: usize,
    result: Result<&Outcome, &ActionError>,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let name = st.steps[index].name.clone();
    let Some(revert) = st.steps[index].revert.as_mut() else {
        return;
    };
    let attempts = revert.attempts;
    match result {
        Ok(outcome) => {
            revert.state = RevertState::Succeeded;
            revert.finished_at = Some(now);
            revert.message = Some(outcome.message.clone());
            st.steps[index].reverted = true;
            st.target_state = None;
            record(
                st,
                now,
                crate::api::EntryType::StepReverted,
                format!("step {name}: {}", outcome.message),
            );
            advance_or_escalate(st, &format!("step {name} was reverted"), generation, now);
        }
        Err(error) if error.retryable() && attempts < MAX_REVERT_ATTEMPTS => {
            let retry_at = crate::duration::after_signed(now, crate::duration::backoff(attempts, 5));
            revert.state = RevertState::Pending;
            revert.retry_after = Some(retry_at);
            revert.message = Some(error.message().to_string());
            record(
                st,
                now,
                crate::api::EntryType::RevertFailed,
                format!(
                    "step {name} could not be reverted yet (attempt {attempts}/{MAX_REVERT_ATTEMPTS}): {}; retrying after {}",
                    error.message(),
                    retry_at.to_rfc3339()
                ),
            );
        }
        Err(error) => {
            revert.state = RevertState::Failed;
            revert.finished_at = Some(now);
            revert.message = Some(error.message().to_string());
            let why = match error {
                ActionError::Drifted(drift) => {
                    format!("the target changed since the step, so it is not undone: {drift}")
                }
                _ if error.retryable() => format!("gave up after {attempts} attempt(s): {}", error.message()),
                _ => error.message().to_string(),
            };
            record(
                st,
                now,
                crate::api::EntryType::RevertFailed,
                format!("step {name} was not reverted: {why}"),
            );
            escalate(
                st,
                now,
                &format!("the revert of step {name} did not happen ({why}); the target is as the step left it"),
                generation,
            );
        }
    }
}
