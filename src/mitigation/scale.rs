//! `ScaleDeployment`: scales to `replicas`, within the safety policy's bounds. Revertible.

use super::deployment::{self, would, Decision};
use super::{ActionContext, ActionError, MitigationAction, Outcome};
use crate::api::{Change, SafetySpec, StepSpec, TargetKind};
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::Deployment;
use serde_json::json;

pub struct ScaleDeployment;

/// Replica counts the operator will never exceed without an explicit `maxReplicas`.
pub const DEFAULT_MAX_REPLICAS: i32 = 100;

fn bounds(safety: &SafetySpec) -> (i32, i32) {
    (
        safety.min_replicas.unwrap_or(0),
        safety.max_replicas.unwrap_or(DEFAULT_MAX_REPLICAS),
    )
}

fn current_replicas(d: &Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

/// Moves the replica count from `from` to `to`, from a fresh read: done already when it is at
/// `to`, drifted when it is at neither (someone else set it since), and otherwise a patch that
/// also tests the count is still `from`.
fn set_replicas(d: &Deployment, from: i32, to: i32, done: Outcome, sent: Outcome) -> Result<Decision, ActionError> {
    let now = current_replicas(d);
    if now == to {
        return Ok(Decision::Done(done));
    }
    if now != from {
        return Err(deployment::drift(
            d,
            &["spec", "replicas"],
            format!(
                "Deployment {} has {now} replicas, no longer the {from} this change was planned from (to set {to})",
                d.metadata.name.as_deref().unwrap_or_default()
            ),
        ));
    }
    Ok(Decision::Send {
        ops: vec![
            json!({"op": "test", "path": "/spec/replicas", "value": from}),
            json!({"op": "replace", "path": "/spec/replicas", "value": to}),
        ],
        outcome: sent,
        mark_known_bad: None,
    })
}

#[async_trait]
impl MitigationAction for ScaleDeployment {
    fn name(&self) -> &'static str {
        "ScaleDeployment"
    }

    fn target_kinds(&self) -> &'static [TargetKind] {
        &[TargetKind::Deployment]
    }

    fn check_params(&self, step: &StepSpec, safety: &SafetySpec) -> Result<(), String> {
        let replicas = step.replicas.ok_or("ScaleDeployment needs `replicas`")?;
        let (min, max) = bounds(safety);
        if replicas < min || replicas > max {
            return Err(format!(
                "replicas {replicas} is outside the safety bounds {min}..={max}"
            ));
        }
        Ok(())
    }

    async fn plan(&self, ctx: &ActionContext<'_>) -> Result<Change, ActionError> {
        let wanted = ctx
            .step
            .replicas
            .ok_or_else(|| ActionError::Refused("ScaleDeployment needs `replicas`".into()))?;
        let (min, max) = bounds(ctx.safety);
        if wanted < min || wanted > max {
            return Err(ActionError::Refused(format!(
                "replicas {wanted} is outside the safety bounds {min}..={max}"
            )));
        }
        let d = deployment::get(ctx).await?;
        Ok(Change {
            from_replicas: Some(current_replicas(&d)),
            to_replicas: Some(wanted),
            ..Change::default()
        })
    }

    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError> {
        let to = intent
            .to_replicas
            .ok_or_else(|| ActionError::Permanent("the recorded intent has no replica count".into()))?;
        let from = intent
            .from_replicas
            .ok_or_else(|| ActionError::Permanent("the recorded intent has no replica count to scale from".into()))?;
        let outcome = |message: String, already_applied: bool| Outcome {
            message,
            already_applied,
            change: intent.clone(),
        };
        deployment::act_on_fresh(ctx, |d, _| {
            set_replicas(
                d,
                from,
                to,
                outcome(format!("already at {to} replicas; nothing sent"), true),
                outcome(
                    would(
                        ctx,
                        &format!("scaled from {from} to {to} replicas"),
                        &format!("scale from {from} to {to} replicas"),
                    ),
                    false,
                ),
            )
        })
        .await
    }

    fn can_revert(&self) -> bool {
        true
    }

    async fn revert(&self, ctx: &ActionContext<'_>, applied: &Change) -> Result<Outcome, ActionError> {
        let (Some(from), Some(to)) = (applied.from_replicas, applied.to_replicas) else {
            return Err(ActionError::Permanent(
                "the applied change has no replica counts to revert".into(),
            ));
        };
        let outcome = |message: String, already_applied: bool| Outcome {
            message,
            already_applied,
            change: applied.clone(),
        };
        // Reverting is the same move backwards: only from the count this step set.
        deployment::act_on_fresh(ctx, |d, _| {
            set_replicas(
                d,
                to,
                from,
                outcome(format!("already back at {from} replicas"), true),
                outcome(
                    would(
                        ctx,
                        &format!("reverted scale: {to} back to {from} replicas"),
                        &format!("revert scale {to} back to {from}"),
                    ),
                    false,
                ),
            )
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(replicas: i32, manager: &str) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "generation": 3, "managedFields": [
                {"manager": manager, "operation": "Update", "time": "2026-01-01T10:00:00Z",
                 "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
            ]},
            "spec": {"replicas": replicas, "selector": {}, "template": {}}
        }))
        .unwrap()
    }

    fn outcome(message: &str) -> Outcome {
        Outcome {
            message: message.into(),
            already_applied: false,
            change: Change::default(),
        }
    }

    fn decide(now: i32) -> Result<Decision, ActionError> {
        set_replicas(&deployment(now, "hpa"), 2, 4, outcome("done"), outcome("sent"))
    }

    #[test]
    fn it_scales_only_from_the_planned_count_and_tests_it_in_the_patch() {
        let Ok(Decision::Send { ops, outcome, .. }) = decide(2) else {
            panic!("expected a patch");
        };
        assert_eq!(outcome.message, "sent");
        assert_eq!(ops[0], json!({"op": "test", "path": "/spec/replicas", "value": 2}));
        assert_eq!(ops[1], json!({"op": "replace", "path": "/spec/replicas", "value": 4}));
        assert!(matches!(decide(4), Ok(Decision::Done(o)) if o.message == "done"));
    }

    #[test]
    fn a_count_someone_else_set_is_a_drift_naming_them() {
        let Err(ActionError::Drifted(drift)) = decide(3) else {
            panic!("expected a drift");
        };
        assert_eq!(drift.field_manager.as_deref(), Some("hpa"));
        assert!(
            drift.message.contains("has 3 replicas, no longer the 2"),
            "{}",
            drift.message
        );
        let error = ActionError::Drifted(drift);
        assert!(!error.retryable());
        assert!(error.message().ends_with("(changed by hpa)"), "{}", error.message());
    }
}
