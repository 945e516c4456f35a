//! `RestartDeployment`: sets the restartedAt annotation, as `kubectl rollout restart` does.

use super::deployment::{self, would};
use super::{ActionContext, ActionError, MitigationAction, Outcome};
use crate::api::{Change, SafetySpec, StepSpec, TargetKind};
use async_trait::async_trait;
use kube::api::Patch;
use serde_json::json;

pub struct RestartDeployment;

const RESTARTED_AT: &str = "kubectl.kubernetes.io/restartedAt";

#[async_trait]
impl MitigationAction for RestartDeployment {
    fn name(&self) -> &'static str {
        "RestartDeployment"
    }

    fn target_kinds(&self) -> &'static [TargetKind] {
        &[TargetKind::Deployment]
    }

    fn check_params(&self, step: &StepSpec, _safety: &SafetySpec) -> Result<(), String> {
        if step.replicas.is_some() || step.to_revision.is_some() {
            return Err("RestartDeployment takes no `replicas` or `toRevision`".to_string());
        }
        Ok(())
    }

    async fn plan(&self, ctx: &ActionContext<'_>) -> Result<Change, ActionError> {
        deployment::get(ctx).await?;
        // The value is fixed in the intent so a repeated apply can tell it already happened.
        let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(Change {
            restarted_at: Some(stamp),
            ..Change::default()
        })
    }

    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError> {
        let stamp = intent
            .restarted_at
            .clone()
            .ok_or_else(|| ActionError::Permanent("the recorded intent has no restartedAt value".to_string()))?;
        let current = deployment::get(ctx).await?;
        let applied = current
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(RESTARTED_AT))
            == Some(&stamp);
        if applied {
            return Ok(Outcome {
                message: format!("already restarted at {stamp}; nothing sent"),
                already_applied: true,
                change: intent.clone(),
            });
        }
        let body = json!({"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: stamp}}}}});
        deployment::patch(ctx, Patch::Merge(body)).await?;
        Ok(Outcome {
            message: would(
                ctx,
                &format!("restarted the pods (restartedAt {stamp})"),
                "restart the pods",
            ),
            already_applied: false,
            change: intent.clone(),
        })
    }
}
