//! Executes the effects the lifecycle asks for: reads, plans, the mutating calls, and
//! measurements. Nothing here decides what comes next; results go back to the lifecycle.

use super::super::Context;
use super::observe::Observed;
use crate::api::{Change, Incident, IncidentStatus};
use crate::evidence::{build_evidence, fetch_logs};
use crate::lifecycle::claims::{Claimant, TargetKey};
use crate::lifecycle::effects::ClaimResult;
use crate::mitigation::{self, ActionContext, ActionError, MitigationAction, Outcome};
use crate::triage::WorkloadObservation;
use crate::validation::{self, analysis::MeasurementResult, ProviderContext};
use chrono::Utc;
use kube::ResourceExt;
use tracing::Instrument;

pub(super) async fn gather_evidence(
    ctx: &Context,
    namespace: &str,
    obs: &WorkloadObservation,
    status: &mut IncidentStatus,
) {
    let failing: Vec<(String, String)> = obs
        .pods
        .iter()
        .filter(|p| crate::kubeutil::pod_failure(p).is_some())
        .flat_map(|p| {
            let name = p.name_any();
            p.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .map(move |c| (name.clone(), c.name.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let logs = fetch_logs(&ctx.client, namespace, &failing).await;
    let evidence = build_evidence(obs, logs, Utc::now());
    let mut parts = Vec::new();
    if !evidence.failing_pods.is_empty() {
        let pods: Vec<String> = evidence
            .failing_pods
            .iter()
            .map(|p| {
                format!(
                    "{} on {} ({})",
                    p.name,
                    p.node.clone().unwrap_or_else(|| "no node".into()),
                    p.reason
                )
            })
            .collect();
        parts.push(format!("failing pods: {}", pods.join(", ")));
    }
    if let Some(first) = evidence.first_error_time {
        parts.push(format!(
            "first error at {} ({})",
            first.to_rfc3339(),
            evidence.first_error_source.clone().unwrap_or_default()
        ));
    }
    if !evidence.rollout_history.is_empty() {
        let revs: Vec<String> = evidence
            .rollout_history
            .iter()
            .map(|r| format!("rev {} {}", r.revision, r.images.join(",")))
            .collect();
        parts.push(format!("rollout history: {}", revs.join("; ")));
    }
    parts.push(format!("{} warning event(s)", evidence.warning_events.len()));
    let with_lines = evidence.logs.iter().filter(|l| !l.lines.is_empty()).count();
    if !evidence.logs.is_empty() {
        if with_lines == 0 {
            let why = evidence
                .logs
                .iter()
                .find_map(|l| l.unavailable.clone())
                .unwrap_or_default();
            parts.push(format!("logs unavailable ({why})"));
        } else {
            parts.push(format!("log lines from {with_lines} container(s)"));
        }
    }
    status.evidence = Some(evidence);
    crate::timeline::record(status, Utc::now(), crate::api::EntryType::Evidence, parts.join("; "));
}

fn action_context<'a>(
    ctx: &'a Context,
    incident: &'a Incident,
    observed: &'a Observed,
    status: &'a IncidentStatus,
    index: usize,
    confirm_only: bool,
) -> ActionContext<'a> {
    let safety = observed.playbook.spec().and_then(|s| s.safety.as_ref());
    static DEFAULT_SAFETY: std::sync::OnceLock<crate::api::SafetySpec> = std::sync::OnceLock::new();
    static DEFAULT_STEP: std::sync::OnceLock<crate::api::StepSpec> = std::sync::OnceLock::new();
    ActionContext {
        client: ctx.client.clone(),
        aws: &ctx.aws,
        namespace: incident.metadata.namespace.as_deref().unwrap_or_default(),
        incident_name: incident.metadata.name.as_deref().unwrap_or_default(),
        incident_uid: incident.metadata.uid.as_deref().unwrap_or_default(),
        step_index: index,
        target: &incident.spec.target,
        step: status.steps[index]
            .spec
            .as_ref()
            .unwrap_or_else(|| DEFAULT_STEP.get_or_init(Default::default)),
        safety: safety.unwrap_or_else(|| DEFAULT_SAFETY.get_or_init(Default::default)),
        dry_run: confirm_only || observed.playbook.safety_policy().dry_run(),
    }
}

/// The action a step runs, or why there is none: a step recorded by another version of the
/// operator may name an action this one does not know. That is refused, never retried.
fn action_of(status: &IncidentStatus, index: usize) -> Result<Box<dyn MitigationAction>, ActionError> {
    let name = &status.steps[index].action;
    mitigation::find(name).ok_or_else(|| {
        ActionError::Refused(format!(
            "unknown action {name}: this operator knows {}",
            mitigation::known_names().join(", ")
        ))
    })
}

/// Claims the target and a mitigation slot, exactly, against every other Incident.
pub(super) fn claim(ctx: &Context, incident: &Incident) -> ClaimResult {
    let others = super::observe::others_in_scope(ctx, incident);
    let me = Claimant {
        uid: incident.metadata.uid.as_deref().unwrap_or_default(),
        name: incident.metadata.name.as_deref().unwrap_or_default(),
        key: TargetKey::new(
            incident.spec.target.kind,
            incident.metadata.namespace.as_deref().unwrap_or_default(),
            &incident.spec.target.name,
        ),
    };
    ctx.claim(&me, &others, Utc::now())
}

/// Reads the target and decides step `index`'s change.
pub(super) async fn plan(
    ctx: &Context,
    incident: &Incident,
    observed: &Observed,
    status: &IncidentStatus,
    index: usize,
) -> Result<Change, ActionError> {
    let action = action_of(status, index)?;
    let action_ctx = action_context(ctx, incident, observed, status, index, false);
    let result = action
        .plan(&action_ctx)
        .instrument(tracing::info_span!("action.plan", action = %action.name()))
        .await;
    if result.is_err() {
        ctx.metrics.observe_action(action.name(), "refused");
    }
    result
}

/// Makes step `index`'s recorded intent true; with `confirm_only`, only asks (as a dry-run)
/// whether it already is.
pub(super) async fn apply(
    ctx: &Context,
    incident: &Incident,
    observed: &Observed,
    status: &IncidentStatus,
    index: usize,
    confirm_only: bool,
) -> Result<Outcome, ActionError> {
    let action = action_of(status, index)?;
    let intent = status.steps[index].intent.clone().unwrap_or_default();
    let action_ctx = action_context(ctx, incident, observed, status, index, confirm_only);
    let result = action
        .apply(&action_ctx, &intent)
        .instrument(tracing::info_span!("action.apply", action = %action.name(), dry_run = action_ctx.dry_run))
        .await;
    let label = match &result {
        Ok(outcome) if outcome.already_applied => "already-applied",
        Ok(_) => "succeeded",
        Err(ActionError::Drifted(_)) => "target-changed",
        Err(_) => "failed",
    };
    ctx.metrics.observe_action(action.name(), label);
    result
}

/// Undoes step `index`'s applied change.
pub(super) async fn revert(
    ctx: &Context,
    incident: &Incident,
    observed: &Observed,
    status: &IncidentStatus,
    index: usize,
) -> Result<Outcome, ActionError> {
    let action = action_of(status, index)?;
    if !action.can_revert() {
        return Err(ActionError::Refused(format!("{} cannot be reverted", action.name())));
    }
    let applied = status.steps[index].intent.clone().unwrap_or_default();
    let action_ctx = action_context(ctx, incident, observed, status, index, false);
    action
        .revert(&action_ctx, &applied)
        .instrument(tracing::info_span!("action.revert", action = %action.name()))
        .await
}

/// Takes one round of validation measurements, one per check.
pub(super) async fn measure(
    ctx: &Context,
    incident: &Incident,
    observed: &Observed,
) -> Vec<(String, MeasurementResult)> {
    let spec = observed.playbook.spec().and_then(|s| s.validation.as_ref());
    let checks = match spec.map(|s| s.checks.clone()) {
        Some(checks) if !checks.is_empty() => checks,
        _ => validation::default_checks_for(incident.spec.target.kind),
    };
    let namespace = incident.namespace().unwrap_or_default();
    let provider_ctx = ProviderContext {
        client: ctx.client.clone(),
        http: ctx.http.clone(),
        namespace: &namespace,
        default_prometheus_url: ctx.settings.prometheus_url.as_deref(),
        signals: observed.signals.as_ref(),
    };
    let measurements = checks.iter().map(|check| {
        let provider_ctx = &provider_ctx;
        async move {
            let result = match validation::provider_for(check) {
                Ok(provider) => {
                    let span = tracing::info_span!("provider.measure", check = %check.name);
                    provider.measure(provider_ctx).instrument(span).await
                }
                Err(e) => MeasurementResult {
                    verdict: validation::analysis::Verdict::Error,
                    value: None,
                    message: Some(e),
                },
            };
            (check.name.clone(), result)
        }
    });
    let results: Vec<(String, MeasurementResult)> = futures::future::join_all(measurements).await;
    for (_, r) in &results {
        ctx.metrics.observe_verdict(r.verdict.as_str());
    }
    results
}
