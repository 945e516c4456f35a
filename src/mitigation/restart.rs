//! `RestartDeployment`: sets the restartedAt annotation, as `kubectl rollout restart` does.

use super::deployment::{self, would, Decision};
use super::revisions::{rs_hash, running};
use super::{ActionContext, ActionError, MitigationAction, Outcome};
use crate::api::{Change, SafetySpec, StepSpec, TargetKind};
use crate::kubeutil::template_images;
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

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
        let d = deployment::get(ctx).await?;
        let replica_sets = deployment::replica_sets(ctx, &d).await?;
        // The value is fixed in the intent so a repeated apply can tell it already happened.
        let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(Change {
            restarted_at: Some(stamp),
            from_images: d
                .spec
                .as_ref()
                .map(|s| template_images(&s.template))
                .unwrap_or_default(),
            from_template_hash: d
                .spec
                .as_ref()
                .and_then(|s| running(&replica_sets, &s.template))
                .and_then(rs_hash),
            ..Change::default()
        })
    }

    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError> {
        let stamp = intent
            .restarted_at
            .clone()
            .ok_or_else(|| ActionError::Permanent("the recorded intent has no restartedAt value".to_string()))?;
        deployment::act_on_fresh(ctx, |d, sets| decide(ctx, intent, &stamp, d, sets)).await
    }
}

/// The restart as decided from one fresh read: done already, drifted (the template is no longer
/// the planned one: restarting would roll out someone else's change), or the patch to send.
fn decide(
    ctx: &ActionContext<'_>,
    intent: &Change,
    stamp: &str,
    d: &Deployment,
    replica_sets: &[ReplicaSet],
) -> Result<Decision, ActionError> {
    let template = d
        .spec
        .as_ref()
        .map(|s| &s.template)
        .ok_or_else(|| ActionError::Permanent("the Deployment has no pod template".to_string()))?;
    let annotations = template.metadata.as_ref().and_then(|m| m.annotations.as_ref());
    if annotations.and_then(|a| a.get(RESTARTED_AT)).map(String::as_str) == Some(stamp) {
        return Ok(Decision::Done(Outcome {
            message: format!("already restarted at {stamp}; nothing sent"),
            already_applied: true,
            change: intent.clone(),
        }));
    }
    let now = running(replica_sets, template).and_then(rs_hash);
    // An intent recorded before the from-template was carries no hash and is not checked.
    if intent.from_template_hash.is_some() && now != intent.from_template_hash {
        return Err(deployment::drift(
            d,
            &["spec", "template"],
            format!(
                "the pod template of Deployment {} changed since the restart was planned ({} then, {} now)",
                ctx.target.name,
                intent.from_images.join(", "),
                template_images(template).join(", ")
            ),
        ));
    }
    let op = deployment::set_annotation(
        "/spec/template/metadata/annotations",
        annotations.is_some(),
        RESTARTED_AT,
        stamp,
    );
    Ok(Decision::Send {
        ops: vec![op],
        outcome: Outcome {
            message: would(
                ctx,
                &format!("restarted the pods (restartedAt {stamp})"),
                "restart the pods",
            ),
            already_applied: false,
            change: intent.clone(),
        },
        mark_known_bad: None,
    })
}
