//! `ScaleDeployment`: scales to `replicas`, within the safety policy's bounds. Revertible.

use super::deployment::{self, would};
use super::{ActionContext, ActionError, MitigationAction, Outcome};
use crate::api::{Change, SafetySpec, StepSpec, TargetKind};
use async_trait::async_trait;
use kube::api::Patch;
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

fn current_replicas(d: &k8s_openapi::api::apps::v1::Deployment) -> i32 {
    d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
}

async fn set_replicas(ctx: &ActionContext<'_>, replicas: i32) -> Result<(), ActionError> {
    deployment::patch(ctx, Patch::Merge(json!({"spec": {"replicas": replicas}})))
        .await
        .map(|_| ())
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
        let d = deployment::get(ctx).await?;
        let from = intent.from_replicas.unwrap_or_else(|| current_replicas(&d));
        if current_replicas(&d) == to {
            return Ok(Outcome {
                message: format!("already at {to} replicas; nothing sent"),
                already_applied: true,
                change: intent.clone(),
            });
        }
        set_replicas(ctx, to).await?;
        Ok(Outcome {
            message: would(
                ctx,
                &format!("scaled from {from} to {to} replicas"),
                &format!("scale from {from} to {to} replicas"),
            ),
            already_applied: false,
            change: intent.clone(),
        })
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
        let d = deployment::get(ctx).await?;
        let now = current_replicas(&d);
        if now == from {
            return Ok(Outcome {
                message: format!("already back at {from} replicas"),
                already_applied: true,
                change: applied.clone(),
            });
        }
        if now != to {
            return Err(ActionError::Refused(format!(
                "not reverting: replicas changed to {now} since the step set {to}; someone else is acting"
            )));
        }
        set_replicas(ctx, from).await?;
        Ok(Outcome {
            message: would(
                ctx,
                &format!("reverted scale: {to} back to {from} replicas"),
                &format!("revert scale {to} back to {from}"),
            ),
            already_applied: false,
            change: applied.clone(),
        })
    }
}
