//! Step transitions: intent recorded before the action, result after.

use super::validating::start_validation;
use super::{escalate, set_phase};
use crate::api::{set_condition, Change, IncidentStatus, Phase, StepState, ValidationSpec};
use crate::lifecycle::model::{ActionError, Drift, Outcome};
use crate::timeline::record;
use chrono::{DateTime, Utc};

fn describe(change: &Change) -> String {
    let mut parts = Vec::new();
    if let (Some(from), Some(to)) = (change.from_revision, change.to_revision) {
        let build = |b: &Option<String>| b.as_ref().map(|b| format!(", build {b}")).unwrap_or_default();
        parts.push(format!(
            "revision {from} ({}{}) → revision {to} ({}{})",
            change.from_images.join(", "),
            build(&change.from_build),
            change.to_images.join(", "),
            build(&change.to_build)
        ));
    }
    if let (Some(from), Some(to)) = (change.from_replicas, change.to_replicas) {
        parts.push(format!("replicas {from} → {to}"));
    }
    if let Some(at) = &change.restarted_at {
        parts.push(format!("restartedAt {at}"));
    }
    for (k, v) in &change.details {
        parts.push(format!("{k}={v}"));
    }
    parts.join("; ")
}

/// Records a step's intent before its action runs.
pub fn step_started(
    st: &mut IncidentStatus,
    index: usize,
    intent: Change,
    dry_run: bool,
    target: &str,
    now: DateTime<Utc>,
) {
    let step = &mut st.steps[index];
    step.state = StepState::Running;
    step.attempts += 1;
    step.started_at = Some(now);
    step.finished_at = None;
    step.retry_after = None;
    step.dry_run = dry_run;
    step.message = None;
    let what = describe(&intent);
    step.intent = Some(intent);
    let (name, action, attempt) = (step.name.clone(), step.action.clone(), step.attempts);
    st.last_step = Some(format!("{name} (Running)"));
    if !dry_run {
        st.times
            .get_or_insert_with(Default::default)
            .first_mitigation_at
            .get_or_insert(now);
    }
    let mode = if dry_run { " as a dry-run" } else { "" };
    record(
        st,
        now,
        crate::api::EntryType::StepStarted,
        format!("step {name} ({action}) attempt {attempt}{mode} on {target}: {what}"),
    );
}

/// Records a step's success and moves on: to validation, or through the remaining dry-run steps.
pub fn step_succeeded(
    st: &mut IncidentStatus,
    index: usize,
    outcome: &Outcome,
    validation: Option<&ValidationSpec>,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let step = &mut st.steps[index];
    step.state = StepState::Succeeded;
    step.finished_at = Some(now);
    step.message = Some(outcome.message.clone());
    step.intent = Some(outcome.change.clone());
    let (name, action, dry_run) = (step.name.clone(), step.action.clone(), step.dry_run);
    st.last_step = Some(format!("{name} (Succeeded)"));
    record(
        st,
        now,
        crate::api::EntryType::StepSucceeded,
        format!("step {name} ({action}): {}", outcome.message),
    );
    if dry_run {
        let left = st.steps.iter().any(|s| s.state == StepState::Pending);
        if !left {
            let recorded = st.steps.iter().filter(|s| s.dry_run).count();
            escalate(
                st,
                now,
                &format!("dry-run: {recorded} would-be change(s) recorded, nothing was changed; a human decides"),
                generation,
            );
        }
        return;
    }
    st.times.get_or_insert_with(Default::default).mitigated_at = Some(now);
    // The release is now the one this step made: later steps are checked against that, taken
    // at the next observation.
    st.target_state = None;
    set_condition(
        &mut st.conditions,
        "Mitigated",
        true,
        "StepSucceeded",
        &format!("step {name}: {}", outcome.message),
        generation,
        now,
    );
    start_validation(st, index, validation, now);
    set_phase(
        st,
        Phase::Validating,
        now,
        &format!("validating recovery after step {name}"),
    );
}

/// Records a failed step: retried later when transient and attempts remain, otherwise failed
/// for good, moving to the next step or escalating.
pub fn step_failed(
    st: &mut IncidentStatus,
    index: usize,
    error: &ActionError,
    max_attempts: u32,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let step = &mut st.steps[index];
    if step.state != StepState::Running {
        // Failed while planning, before the intent was recorded: that still counts.
        step.attempts += 1;
        step.started_at.get_or_insert(now);
    }
    step.message = Some(error.message().to_string());
    let (name, action, attempts) = (step.name.clone(), step.action.clone(), step.attempts);
    if error.retryable() && attempts < max_attempts {
        let retry_at = crate::duration::after_signed(now, crate::duration::backoff(attempts, 4));
        step.state = StepState::Pending;
        step.retry_after = Some(retry_at);
        st.last_step = Some(format!("{name} (Pending)"));
        record(
            st,
            now,
            crate::api::EntryType::StepFailed,
            format!(
                "step {name} ({action}) attempt {attempts}/{max_attempts} failed: {}; retrying after {}",
                error.message(),
                retry_at.to_rfc3339()
            ),
        );
        return;
    }
    step.state = StepState::Failed;
    step.finished_at = Some(now);
    step.retry_after = None;
    st.last_step = Some(format!("{name} (Failed)"));
    let why = if error.retryable() {
        format!(" after {attempts} attempt(s)")
    } else {
        String::new()
    };
    record(
        st,
        now,
        crate::api::EntryType::StepFailed,
        format!("step {name} ({action}) failed{why}: {}", error.message()),
    );
    advance_or_escalate(st, &format!("step {name} failed: {}", error.message()), generation, now);
}

/// Records that the target was no longer in the state the step was planned from: nothing was
/// sent, and the attempt does not count. Someone changed the target between this step's plan
/// and its action, so someone is acting on it right now: the Incident is triaged and planned
/// again from the new state, and every step from now on waits for a human's approval rather
/// than acting over that person's change.
pub fn step_drifted(st: &mut IncidentStatus, index: usize, drift: &Drift, generation: Option<i64>, now: DateTime<Utc>) {
    let step = &mut st.steps[index];
    let name = step.name.clone();
    step.state = StepState::Pending;
    step.attempts = step.attempts.saturating_sub(1);
    step.intent = None;
    step.started_at = None;
    step.retry_after = None;
    step.message = Some(format!("not applied: the target changed since the plan: {drift}"));
    st.last_step = Some(format!("{name} (Pending)"));
    record(
        st,
        now,
        crate::api::EntryType::TargetChanged,
        format!("step {name} was not applied, the target changed since it was planned: {drift}"),
    );
    st.approval_required_because = Some(format!(
        "the target changed between the plan of step {name} and its action ({drift})"
    ));
    replan_or_escalate(
        st,
        &format!("the target changed before step {name} acted"),
        generation,
        now,
    );
}

/// Records that a step recorded before a restart had not been applied and that the target is
/// healthy now: its intent is dropped rather than carried out on a target that no longer needs it.
pub fn step_abandoned(
    st: &mut IncidentStatus,
    index: usize,
    healthy: &str,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let step = &mut st.steps[index];
    let name = step.name.clone();
    step.state = StepState::Skipped;
    step.finished_at = Some(now);
    step.message = Some(format!("not applied: the target recovered before it ran ({healthy})"));
    st.last_step = Some(format!("{name} (Skipped)"));
    super::resolve_without_action(
        st,
        now,
        &format!("the target recovered before step {name} was applied ({healthy}); its intent was dropped"),
        generation,
    );
}

/// After someone else changed the target: before this Incident changed anything, it is triaged
/// and planned again from the target as it is now; after it did, two actors are at work and a
/// human decides.
pub(crate) fn replan_or_escalate(st: &mut IncidentStatus, why: &str, generation: Option<i64>, now: DateTime<Utc>) {
    let mutated = st.steps.iter().any(|s| s.state == StepState::Succeeded && !s.dry_run);
    if mutated {
        escalate(
            st,
            now,
            &format!("{why}, after this Incident had changed it too; not acting on a target someone else is changing"),
            generation,
        );
        return;
    }
    st.target_state = None;
    set_phase(st, Phase::Triaging, now, &format!("{why}; triaging again"));
}

/// After a step ends without recovery: the next step runs, or the Incident escalates.
pub(crate) fn advance_or_escalate(st: &mut IncidentStatus, reason: &str, generation: Option<i64>, now: DateTime<Utc>) {
    if let Some(next) = st.steps.iter().find(|s| s.state == StepState::Pending) {
        let next_name = next.name.clone();
        set_phase(st, Phase::Mitigating, now, &format!("{reason}; next step {next_name}"));
        return;
    }
    escalate(st, now, &format!("{reason}; no mitigation step is left"), generation);
}
