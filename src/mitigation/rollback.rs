//! `RollbackDeployment`: like `kubectl rollout undo`, to the previous revision or `toRevision`.

use super::deployment::{self, would};
use super::{ActionContext, ActionError, MitigationAction, Outcome};
use crate::api::{Change, SafetySpec, StepSpec, TargetKind};
use crate::kubeutil::{pod_failure, revision_of, template_build, template_images, CHANGE_CAUSE_ANNOTATION};
use async_trait::async_trait;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use kube::api::{Api, ListParams, Patch};
use serde_json::json;

pub struct RollbackDeployment;

const HASH_LABEL: &str = "pod-template-hash";

/// A pod template as JSON with the ReplicaSet hash label removed, for comparing templates the
/// way the Deployment controller does.
fn template_without_hash(template: &PodTemplateSpec) -> serde_json::Value {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(HASH_LABEL);
    }
    serde_json::to_value(t).unwrap_or_default()
}

fn rs_template(rs: &ReplicaSet) -> Option<&PodTemplateSpec> {
    rs.spec.as_ref()?.template.as_ref()
}

fn rs_hash(rs: &ReplicaSet) -> Option<String> {
    rs.metadata.labels.as_ref()?.get(HASH_LABEL).cloned()
}

fn current_template(d: &Deployment) -> Option<&PodTemplateSpec> {
    d.spec.as_ref().map(|s| &s.template)
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
        let current = current_template(&deployment)
            .map(template_without_hash)
            .ok_or_else(|| ActionError::Refused("the Deployment has no pod template".to_string()))?;
        let current_rs = replica_sets
            .iter()
            .filter(|rs| rs_template(rs).map(template_without_hash).as_ref() == Some(&current))
            .max_by_key(|rs| revision_of(&rs.metadata));
        let current_revision = current_rs
            .map(|rs| revision_of(&rs.metadata))
            .unwrap_or_else(|| revision_of(&deployment.metadata));
        let target = match ctx.step.to_revision {
            Some(wanted) => replica_sets
                .iter()
                .find(|rs| revision_of(&rs.metadata) == wanted)
                .ok_or_else(|| {
                    ActionError::Refused(format!(
                        "revision {wanted} of Deployment {} does not exist",
                        ctx.target.name
                    ))
                })?,
            None => replica_sets
                .iter()
                .filter(|rs| revision_of(&rs.metadata) < current_revision)
                .max_by_key(|rs| revision_of(&rs.metadata))
                .ok_or_else(|| {
                    ActionError::Refused(format!(
                        "no earlier revision to roll back to: Deployment {} has only revision {current_revision}",
                        ctx.target.name
                    ))
                })?,
        };
        let target_revision = revision_of(&target.metadata);
        let target_template = rs_template(target)
            .ok_or_else(|| ActionError::Refused("the target revision has no pod template".to_string()))?;
        if template_without_hash(target_template) == current {
            return Err(ActionError::Refused(format!(
                "revision {target_revision} is the one currently deployed (and failing); rolling back to it changes nothing"
            )));
        }
        if let Some(reason) = failing_pods_of(ctx, target).await? {
            return Err(ActionError::Refused(format!(
                "revision {target_revision} is failing too ({reason}); rolling back to it would not help"
            )));
        }
        let current_t = current_template(&deployment);
        Ok(Change {
            from_revision: Some(current_revision),
            to_revision: Some(target_revision),
            from_images: current_t.map(template_images).unwrap_or_default(),
            to_images: template_images(target_template),
            from_build: current_t.and_then(template_build),
            to_build: template_build(target_template),
            to_template_hash: rs_hash(target),
            ..Change::default()
        })
    }

    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError> {
        let hash = intent
            .to_template_hash
            .as_deref()
            .ok_or_else(|| ActionError::Permanent("the recorded intent has no template hash".to_string()))?;
        let deployment = deployment::get(ctx).await?;
        let replica_sets = deployment::replica_sets(ctx, &deployment).await?;
        let target = replica_sets
            .iter()
            .find(|rs| rs_hash(rs).as_deref() == Some(hash))
            .ok_or_else(|| {
                ActionError::Permanent(format!(
                    "the ReplicaSet of revision {} (hash {hash}) no longer exists",
                    intent.to_revision.unwrap_or_default()
                ))
            })?;
        let target_template = rs_template(target).cloned().unwrap_or_default();
        let wanted = template_without_hash(&target_template);
        let summary = format!(
            "revision {} ({}) to revision {} ({})",
            intent.from_revision.unwrap_or_default(),
            intent.from_images.join(", "),
            intent.to_revision.unwrap_or_default(),
            intent.to_images.join(", ")
        );
        if current_template(&deployment).map(template_without_hash).as_ref() == Some(&wanted) {
            return Ok(Outcome {
                message: format!("already rolled back from {summary}; nothing sent"),
                already_applied: true,
                change: intent.clone(),
            });
        }
        let resource_version = deployment.metadata.resource_version.clone().unwrap_or_default();
        let cause = format!(
            "dontpanic: rollback to revision {} for incident {}/{}",
            intent.to_revision.unwrap_or_default(),
            ctx.namespace,
            ctx.incident_name
        );
        let ops = json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
            {"op": "replace", "path": "/spec/template", "value": template_without_hash(&target_template)},
            {"op": "add", "path": format!("/metadata/annotations/{}", CHANGE_CAUSE_ANNOTATION.replace('/', "~1")), "value": cause},
        ]);
        let patch: json_patch::Patch =
            serde_json::from_value(ops).map_err(|e| ActionError::Permanent(e.to_string()))?;
        deployment::patch(ctx, Patch::Json(patch)).await?;
        Ok(Outcome {
            message: would(
                ctx,
                &format!("rolled back from {summary}"),
                &format!("roll back from {summary}"),
            ),
            already_applied: false,
            change: intent.clone(),
        })
    }
}

/// A reason when the target revision's own pods are failing right now.
async fn failing_pods_of(ctx: &ActionContext<'_>, rs: &ReplicaSet) -> Result<Option<String>, ActionError> {
    let Some(hash) = rs_hash(rs) else {
        return Ok(None);
    };
    if rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0) == 0 {
        return Ok(None);
    }
    let api = Api::<Pod>::namespaced(ctx.client.clone(), ctx.namespace);
    let pods = api
        .list(&ListParams::default().labels(&format!("{HASH_LABEL}={hash}")))
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
