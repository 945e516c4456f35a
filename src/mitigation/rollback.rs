//! `RollbackDeployment`: like `kubectl rollout undo`, to the newest revision known healthy and
//! not known bad (see [`super::revisions`]), or to `toRevision`.

use super::deployment::{self, would, Decision};
use super::revisions::{self, rs_hash, rs_template, running, template_without_hash};
use super::{ActionContext, ActionError, MitigationAction, Outcome};
use crate::api::{Change, SafetySpec, StepSpec, TargetKind};
use crate::kubeutil::{
    pod_failure, revision_of, template_build, template_images, CHANGE_CAUSE_ANNOTATION, TEMPLATE_HASH_LABEL,
};
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::api::{Api, ListParams};
use kube::ResourceExt;
use serde_json::json;

pub struct RollbackDeployment;

fn current_template(d: &Deployment) -> Option<&PodTemplateSpec> {
    d.spec.as_ref().map(|s| &s.template)
}

/// `revision N (images)` of the ReplicaSet running `template`, as people read it.
fn describe_running(replica_sets: &[ReplicaSet], template: &PodTemplateSpec) -> String {
    let images = template_images(template).join(", ");
    match running(replica_sets, template) {
        Some(rs) => format!("revision {} ({images})", revision_of(&rs.metadata)),
        None => format!("a template no ReplicaSet runs yet ({images})"),
    }
}

/// The rollback as decided from one fresh read: done already, drifted, or the patch to send.
fn decide(
    ctx: &ActionContext<'_>,
    intent: &Change,
    to_hash: &str,
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
) -> Result<Decision, ActionError> {
    let to_revision = intent.to_revision.unwrap_or_default();
    let target = replica_sets
        .iter()
        .find(|rs| rs_hash(rs).as_deref() == Some(to_hash))
        .ok_or_else(|| {
            ActionError::Permanent(format!(
                "the ReplicaSet of revision {to_revision} (hash {to_hash}) no longer exists"
            ))
        })?;
    let wanted = rs_template(target)
        .map(template_without_hash)
        .ok_or_else(|| ActionError::Permanent(format!("revision {to_revision} has no pod template")))?;
    let current = current_template(deployment)
        .ok_or_else(|| ActionError::Permanent("the Deployment has no pod template".to_string()))?;
    let summary = format!(
        "revision {} ({}) to revision {to_revision} ({})",
        intent.from_revision.unwrap_or_default(),
        intent.from_images.join(", "),
        intent.to_images.join(", ")
    );
    if template_without_hash(current) == wanted {
        return Ok(Decision::Done(Outcome {
            message: format!("already rolled back from {summary}; nothing sent"),
            already_applied: true,
            change: intent.clone(),
        }));
    }
    let from = running(replica_sets, current);
    let still_from = match &intent.from_template_hash {
        Some(hash) => from.and_then(rs_hash).as_ref() == Some(hash),
        // An intent recorded before the from-template was: its images are what it knew.
        None => template_images(current) == intent.from_images,
    };
    if !still_from {
        return Err(deployment::drift(
            deployment,
            &["spec", "template"],
            format!(
                "Deployment {} no longer runs revision {} ({}) that the rollback to revision {to_revision} was planned from: it now runs {}",
                ctx.target.name,
                intent.from_revision.unwrap_or_default(),
                intent.from_images.join(", "),
                describe_running(replica_sets, current)
            ),
        ));
    }
    let cause = format!(
        "dontpanic: rollback to revision {to_revision} for incident {}/{}",
        ctx.namespace, ctx.incident_name
    );
    let has_annotations = deployment.metadata.annotations.is_some();
    let ops = vec![
        json!({"op": "replace", "path": "/spec/template", "value": wanted}),
        deployment::set_annotation(
            "/metadata/annotations",
            has_annotations,
            CHANGE_CAUSE_ANNOTATION,
            &cause,
        ),
    ];
    let record = format!(
        "{}/{} at {}",
        ctx.namespace,
        ctx.incident_name,
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    Ok(Decision::Send {
        ops,
        outcome: Outcome {
            message: would(
                ctx,
                &format!("rolled back from {summary}"),
                &format!("roll back from {summary}"),
            ),
            already_applied: false,
            change: intent.clone(),
        },
        mark_known_bad: from.map(|rs| (rs.name_any(), record)),
    })
}

#[async_trait]
impl MitigationAction for RollbackDeployment {
    fn name(&self) -> &'static str {
        "RollbackDeployment"
    }

    fn target_kinds(&self) -> &'static [TargetKind] {
        &[TargetKind::Deployment]
    }

    fn check_params(&self, step: &StepSpec, _safety: &SafetySpec) -> Result<(), String> {
        if step.replicas.is_some() {
            return Err("RollbackDeployment takes no `replicas`".to_string());
        }
        match step.to_revision {
            Some(r) if r < 1 => Err(format!("toRevision must be 1 or more, got {r}")),
            _ => Ok(()),
        }
    }

    async fn plan(&self, ctx: &ActionContext<'_>) -> Result<Change, ActionError> {
        let deployment = deployment::get(ctx).await?;
        let replica_sets = deployment::replica_sets(ctx, &deployment).await?;
        let current_t = current_template(&deployment)
            .ok_or_else(|| ActionError::Refused("the Deployment has no pod template".to_string()))?;
        let current_rs = running(&replica_sets, current_t);
        let current_revision = current_rs
            .map(|rs| revision_of(&rs.metadata))
            .unwrap_or_else(|| revision_of(&deployment.metadata));
        let target = revisions::choose(&replica_sets, current_t, current_revision, ctx.step.to_revision)
            .map_err(|e| ActionError::Refused(format!("Deployment {}: {e}", ctx.target.name)))?;
        let target_revision = revision_of(&target.metadata);
        let target_template = rs_template(target)
            .ok_or_else(|| ActionError::Refused("the target revision has no pod template".to_string()))?;
        if let Some(reason) = failing_pods_of(ctx, target).await? {
            return Err(ActionError::Refused(format!(
                "revision {target_revision} is failing too ({reason}); rolling back to it would not help"
            )));
        }
        Ok(Change {
            from_revision: Some(current_revision),
            to_revision: Some(target_revision),
            from_images: template_images(current_t),
            to_images: template_images(target_template),
            from_build: template_build(current_t),
            to_build: template_build(target_template),
            from_template_hash: current_rs.and_then(rs_hash),
            to_template_hash: rs_hash(target),
            ..Change::default()
        })
    }

    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError> {
        let to_hash = intent
            .to_template_hash
            .as_deref()
            .ok_or_else(|| ActionError::Permanent("the recorded intent has no template hash".to_string()))?;
        deployment::act_on_fresh(ctx, |d, sets| decide(ctx, intent, to_hash, d, sets)).await
    }
}

/// A reason when the target revision's own pods are failing right now. A revision without pods
/// has nothing to show here; whether it may be chosen at all is [`revisions::choose`]'s call.
async fn failing_pods_of(ctx: &ActionContext<'_>, rs: &ReplicaSet) -> Result<Option<String>, ActionError> {
    let Some(hash) = rs_hash(rs) else {
        return Ok(None);
    };
    if rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) == 0 {
        return Ok(None);
    }
    let api = Api::<Pod>::namespaced(ctx.client.clone(), ctx.namespace);
    let pods = api
        .list(&ListParams::default().labels(&format!("{TEMPLATE_HASH_LABEL}={hash}")))
        .await
        .map_err(|e| ActionError::from_kube("listing pods of the target revision", e))?;
    let failing: Vec<String> = pods
        .items
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| {
            pod_failure(p).map(|f| format!("{} {}", p.metadata.name.clone().unwrap_or_default(), f.reason()))
        })
        .collect();
    let total = pods.items.len();
    if total > 0 && failing.len() == total {
        Ok(Some(failing.join(", ")))
    } else {
        Ok(None)
    }
}
