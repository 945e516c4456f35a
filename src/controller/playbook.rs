//! The Playbook controller: checks what the schema cannot and sets `Ready` with the reason.

use super::status::apply_status;
use super::{Context, Error};
use crate::api::{set_condition, Playbook, PlaybookSpec, PlaybookStatus, TargetKind};
use crate::duration::{parse_duration_at_most, MAX_PLAYBOOK_DURATION};
use crate::mitigation;
use chrono::Utc;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::ResourceExt;
use std::sync::Arc;
use std::time::Duration;

/// Everything that makes a Playbook unusable, each with a reason a person can act on.
pub fn problems(spec: &PlaybookSpec) -> Vec<String> {
    let mut out = Vec::new();
    let safety = spec.safety.clone().unwrap_or_default();
    for (p, plan) in spec.mitigations.iter().enumerate() {
        if plan.severities.is_empty() {
            out.push(format!("mitigations[{p}] lists no severities"));
        }
        if plan.steps.is_empty() {
            out.push(format!("mitigations[{p}] has no steps"));
        }
        for (s, step) in plan.steps.iter().enumerate() {
            let at = format!("mitigations[{p}].steps[{s}]");
            let Some(action) = mitigation::find(&step.action) else {
                out.push(format!(
                    "{at}: unknown action {:?}; known actions: {}",
                    step.action,
                    mitigation::known_names().join(", ")
                ));
                continue;
            };
            if let Err(e) = action.check_params(step, &safety) {
                out.push(format!("{at} ({}): {e}", step.action));
            }
            if step.revert_on_failure == Some(true) && !action.can_revert() {
                out.push(format!(
                    "{at}: {} cannot be reverted, so revertOnFailure cannot be honoured",
                    step.action
                ));
            }
            if let Some(selector) = &spec.selector {
                let unusable: Vec<String> = selector
                    .kinds
                    .iter()
                    .filter(|k| !action.target_kinds().contains(k))
                    .map(TargetKind::to_string)
                    .collect();
                if !unusable.is_empty() {
                    out.push(format!(
                        "{at}: {} does not work on {}",
                        step.action,
                        unusable.join(", ")
                    ));
                }
            }
        }
    }
    if let Some(v) = &spec.validation {
        for check in &v.checks {
            out.extend(crate::validation::check_spec_problems(check));
        }
    }
    // The CRD bounds these too; a Playbook stored under an older CRD still gets the reason here.
    let durations = [
        (
            "validation.interval",
            spec.validation.as_ref().and_then(|v| v.interval.as_ref()),
        ),
        (
            "validation.initialDelay",
            spec.validation.as_ref().and_then(|v| v.initial_delay.as_ref()),
        ),
        ("safety.cooldown", safety.cooldown.as_ref()),
        (
            "detection.rolloutHealth.unavailableFor",
            spec.detection
                .as_ref()
                .and_then(|d| d.rollout_health.as_ref())
                .map(|r| &r.unavailable_for),
        ),
        (
            "notify.digestInterval",
            spec.notify.as_ref().and_then(|n| n.digest_interval.as_ref()),
        ),
    ];
    for (field, value) in durations {
        if let Some(Err(e)) = value.map(|d| parse_duration_at_most(d, MAX_PLAYBOOK_DURATION)) {
            out.push(format!("{field}: {e}"));
        }
    }
    if let Some(triage) = &spec.triage {
        for (i, rule) in triage.rules.iter().enumerate() {
            if let Err(e) = crate::expr::parse(&rule.when) {
                out.push(format!("triage.rules[{i}].when: {e}"));
            }
        }
        for signal in &triage.signals {
            if let Some(off) = &signal.off_when {
                if let Err(e) = crate::expr::parse(off) {
                    out.push(format!("triage.signals[{}].offWhen: {e}", signal.name));
                }
            }
        }
    }
    out
}

#[tracing::instrument(name = "reconcile_playbook", skip_all, fields(playbook = %playbook.name_any()))]
pub async fn reconcile(playbook: Arc<Playbook>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = super::contain_panics(check_and_report(&playbook, &ctx)).await;
    ctx.metrics
        .observe_reconcile("playbook", started.elapsed(), result.is_ok());
    result
}

/// Sets `Ready` from [`problems`].
async fn check_and_report(playbook: &Playbook, ctx: &Context) -> Result<Action, Error> {
    let namespace = playbook.namespace().unwrap_or_default();
    let api: Api<Playbook> = Api::namespaced(ctx.client.clone(), &namespace);
    let found = problems(&playbook.spec);
    let mut status = playbook.status.clone().unwrap_or_default();
    status.observed_generation = playbook.metadata.generation;
    let (ready, reason, message) = match found.first() {
        None => (true, "Valid", "the Playbook can be used".to_string()),
        Some(first) => {
            let reason = if first.contains("unknown action") {
                "UnknownAction"
            } else if first.contains("provider") {
                "InvalidCheck"
            } else {
                "InvalidSpec"
            };
            (false, reason, found.join("; "))
        }
    };
    set_condition(
        &mut status.conditions,
        "Ready",
        ready,
        reason,
        &message,
        playbook.metadata.generation,
        Utc::now(),
    );
    apply_status::<Playbook, PlaybookStatus>(&api, playbook, playbook.status.as_ref(), &status, None).await?;
    Ok(Action::await_change())
}

pub fn error_policy(playbook: Arc<Playbook>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(playbook = %playbook.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::problems;
    use crate::api::Playbook;

    /// A Playbook stored under an older CRD, without the duration bounds, is not silently
    /// accepted: it is not ready, and says which field is out of range.
    #[test]
    fn an_out_of_range_cooldown_from_an_older_crd_is_a_problem() {
        let playbook: Playbook = serde_yaml::from_str(
            "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {kinds: [Deployment]}\n  mitigations: [{severities: [Major], steps: [{action: RollbackDeployment}]}]\n  safety: {mode: auto, cooldown: 9999999999999h}\n",
        )
        .unwrap();
        let found = problems(&playbook.spec);
        assert!(found.iter().any(|p| p.starts_with("safety.cooldown:")), "{found:?}");
    }
}
