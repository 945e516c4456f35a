//! The Incident controller, as a driver: dereference (observe) → decide (pure) → execute the
//! effects the lifecycle returns, in order → write status. What to do is decided only in
//! `crate::lifecycle`; this module reads, calls and writes.

mod effects;
mod observe;
mod status_writer;

use super::{Context, Error};
use crate::api::{Incident, IncidentStatus, Phase};
use crate::failpoint::Point;
use crate::lifecycle::effects::{Effect, Run, RunFacts};
use crate::lifecycle::{self, Inputs, Next, IMMEDIATELY};
use chrono::Utc;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::ResourceExt;
use observe::{dereference, needs_observation, Observed};
use status_writer::StatusWriter;
use std::sync::Arc;
use std::time::Duration;

/// Status writes refused with a conflict that one reconcile decides again before backing off.
const CONFLICT_RETRIES: u32 = 5;
/// Lifecycle passes one reconcile runs at most; a pass that only moved the phase on goes
/// straight into the next, so Detected → Triaging → Mitigating does not wait for requeues.
const PASSES_PER_RECONCILE: usize = 6;

pub async fn reconcile(incident: Arc<Incident>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = super::contain_panics(reconcile_retrying_conflicts(&incident, &ctx)).await;
    ctx.metrics
        .observe_reconcile("incident", started.elapsed(), result.is_ok());
    result
}

pub fn error_policy(incident: Arc<Incident>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(incident = %incident.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// A conflict means the Incident changed after it was read (or the cached copy was behind):
/// the decision is made again from a fresh read, never resent and never dropped.
async fn reconcile_retrying_conflicts(incident: &Incident, ctx: &Context) -> Result<Action, Error> {
    let namespace = incident.namespace().unwrap_or_default();
    let api: Api<Incident> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut current = std::borrow::Cow::Borrowed(incident);
    let mut conflicts = 0;
    loop {
        match reconcile_inner(&current, ctx).await {
            Err(Error::Conflict(message)) if conflicts < CONFLICT_RETRIES => {
                conflicts += 1;
                ctx.metrics.observe_status_conflict();
                tracing::info!(incident = %incident.name_any(), %message, conflicts, "status write conflicted; deciding again from a fresh read");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(conflicts))).await;
                match api.get_opt(&incident.name_any()).await? {
                    Some(fresh) => current = std::borrow::Cow::Owned(fresh),
                    None => return Ok(Action::await_change()),
                }
            }
            result => return result,
        }
    }
}

#[tracing::instrument(name = "reconcile", skip_all, fields(namespace = %incident.namespace().unwrap_or_default(), incident = %incident.name_any()))]
async fn reconcile_inner(incident: &Incident, ctx: &Context) -> Result<Action, Error> {
    let namespace = incident.namespace().unwrap_or_default();
    let api: Api<Incident> = Api::namespaced(ctx.client.clone(), &namespace);
    let phase = incident.status.as_ref().and_then(|s| s.phase);
    let generation_seen = incident.status.as_ref().and_then(|s| s.observed_generation) == incident.metadata.generation;
    let news = incident
        .status
        .as_ref()
        .is_some_and(|st| lifecycle::sources::pending(incident, st));
    if phase.is_some_and(Phase::is_closed) && generation_seen && !news && !ctx.notifier.has_work(incident) {
        return Ok(Action::await_change());
    }
    // Notifications a crash or a previous leader left undelivered go out now, late not never.
    if let Some(status) = &incident.status {
        ctx.notifier.dispatch(incident, status);
    }
    let mut writer = StatusWriter {
        api: &api,
        incident,
        written: incident.status.clone(),
        resource_version: incident.metadata.resource_version.clone(),
        ctx,
        archived: Default::default(),
        outbox: Default::default(),
    };
    let mut current = std::borrow::Cow::Borrowed(incident);
    let mut observed: Option<Observed> = None;
    for _ in 0..PASSES_PER_RECONCILE {
        let phase = current.status.as_ref().and_then(|s| s.phase);
        // What was read about the target in an earlier pass still holds: only phase changes
        // happened since, nothing was mutated.
        let reuse = observed
            .as_ref()
            .is_some_and(|o| o.signals.is_some() || !needs_observation(phase));
        if !reuse {
            if needs_observation(phase) {
                // Status shows where the Incident stands before anything is waited on.
                if let Some(pending) = &current.status {
                    writer.write(pending).await?;
                }
            }
            observed = Some(dereference(&current, ctx, &namespace, phase).await?);
        }
        let observed_now = observed.as_ref().expect("set just above");
        let (status, action, carried) = pass(&current, ctx, &namespace, observed_now, &mut writer).await?;
        let moved_on_only = carried && !writer.has_written(&status);
        match action {
            // Only the phase moved on, nothing changed in the world: the next pass follows at
            // once and the status is written with it, one write for several steps of the
            // lifecycle. Nothing is lost if the process dies before: it is decided again.
            Some(requeue) if requeue <= IMMEDIATELY && moved_on_only => {
                let mut updated = current.into_owned();
                updated.status = Some(status);
                updated.metadata.resource_version = writer.resource_version.clone();
                current = std::borrow::Cow::Owned(updated);
            }
            Some(requeue) => {
                writer.write(&status).await?;
                return Ok(super::requeue_after(requeue.max(IMMEDIATELY)));
            }
            None => {
                writer.write(&status).await?;
                return Ok(Action::await_change());
            }
        }
    }
    if let Some(pending) = &current.status {
        writer.write(pending).await?;
    }
    Ok(Action::requeue(IMMEDIATELY))
}

/// One lifecycle pass: decide (pure), then execute the effects the decision asks for, feeding
/// each result back to the lifecycle. Returns the status to write, when to come back (`None`:
/// only on change), and whether the status was left unwritten for the next pass to carry
/// (only phase moves, nothing acted on).
async fn pass(
    incident: &Incident,
    ctx: &Context,
    namespace: &str,
    observed: &Observed,
    writer: &mut StatusWriter<'_>,
) -> Result<(IncidentStatus, Option<Duration>, bool), Error> {
    let others = observe::others_in_scope(ctx, incident);
    let now = Utc::now();
    let requires_approval = |step: &crate::api::StepSpec| {
        crate::mitigation::find(&step.action).is_some_and(|a| a.requires_approval_by_default())
    };
    let mut decision = lifecycle::decide(&Inputs {
        incident,
        playbook: &observed.playbook,
        signals: observed.signals.as_ref(),
        verdict: observed.verdict.as_ref(),
        others: &others,
        max_concurrent_mitigations: ctx.settings.max_concurrent_mitigations,
        action_requires_approval: &requires_approval,
        now,
    });
    note_outside_news(incident, observed, &mut decision.status, now);
    let carry = matches!(decision.next, Next::Nothing | Next::GatherEvidence) && decision.requeue <= IMMEDIATELY;
    let policy = observed.playbook.safety_policy();
    let facts = RunFacts {
        generation: incident.metadata.generation,
        max_attempts: policy.max_attempts,
        dry_run: policy.dry_run(),
        target: incident.spec.target.display(),
        validation: observed.playbook.spec().and_then(|s| s.validation.clone()),
        review_period: ctx.settings.review_period,
    };
    let mut run = Run::new(decision, writer.written.clone(), facts);
    while let Some(effect) = run.next_effect() {
        match effect {
            Effect::Persist => {
                if carry {
                    continue;
                }
                writer.write(run.status()).await?;
                run.persisted();
            }
            Effect::GatherEvidence => {
                if let Some(obs) = &observed.observation {
                    effects::gather_evidence(ctx, namespace, obs, run.status_mut()).await;
                }
                if let Some(note) = &observed.cloud_note {
                    crate::timeline::record(
                        run.status_mut(),
                        Utc::now(),
                        crate::api::EntryType::Evidence,
                        note.clone(),
                    );
                }
            }
            Effect::Claim => {
                let result = effects::claim(ctx, incident);
                run.claimed(result, Utc::now());
            }
            Effect::Plan(step) => {
                let result = effects::plan(ctx, incident, observed, run.status(), step).await;
                run.planned(step, result, Utc::now());
            }
            Effect::Apply { step, confirm_only } => {
                if !confirm_only && !policy.dry_run() {
                    ctx.settings.failpoints.reached(Point::AfterIntent);
                    observe_first_mitigation(ctx, run.status(), step);
                }
                let result = effects::apply(ctx, incident, observed, run.status(), step, confirm_only).await;
                run.applied(step, confirm_only, result, Utc::now());
            }
            Effect::Revert(step) => {
                if !policy.dry_run() {
                    ctx.settings.failpoints.reached(Point::AfterRevertIntent);
                }
                let result = effects::revert(ctx, incident, observed, run.status(), step).await;
                run.reverted(step, result, Utc::now());
            }
            Effect::Measure => {
                let results = effects::measure(ctx, incident, observed).await;
                run.measured(&results, Utc::now());
            }
        }
    }
    let requeue = run.requeue();
    let status = run.status().clone();
    let closed = status.phase.is_some_and(Phase::is_closed);
    Ok((status, if closed { None } else { Some(requeue) }, carry))
}

/// What reached the Incident from outside the lifecycle: news from its source and Playbook rule
/// errors. Each goes into the timeline once.
fn note_outside_news(
    incident: &Incident,
    observed: &Observed,
    status: &mut IncidentStatus,
    now: chrono::DateTime<Utc>,
) {
    if status.phase.is_some() && incident.status.is_some() {
        lifecycle::sources::apply(incident, status, now);
    }
    for error in &observed.rule_errors {
        if !crate::timeline::last_says(status, crate::api::EntryType::RuleError, error) {
            crate::timeline::record(status, now, crate::api::EntryType::RuleError, error.clone());
        }
    }
}

/// Time from detection to the first real change, observed once per Incident.
fn observe_first_mitigation(ctx: &Context, status: &IncidentStatus, step: usize) {
    let Some(opened) = status.times.as_ref().and_then(|t| t.detected_at) else {
        return;
    };
    let started = status.steps.iter().filter(|s| s.started_at.is_some()).count();
    let first_attempt = status.steps[step].attempts == 1 && status.steps[step].revert.is_none();
    if started == 1 && first_attempt {
        let now = Utc::now();
        ctx.metrics
            .observe_mitigation_latency((now - opened).to_std().unwrap_or_default());
    }
}

#[cfg(test)]
mod tests;
