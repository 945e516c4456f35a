//! Reading and patching the Deployment that Deployment actions work on.

use super::{ActionContext, ActionError};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::ResourceExt;

/// The field manager every mutation is sent with, so changes are attributable.
pub const FIELD_MANAGER: &str = "dontpanic";

pub async fn get(ctx: &ActionContext<'_>) -> Result<Deployment, ActionError> {
    let api = Api::<Deployment>::namespaced(ctx.client.clone(), ctx.namespace);
    match api.get_opt(&ctx.target.name).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => Err(ActionError::Permanent(format!(
            "Deployment {}/{} not found",
            ctx.namespace, ctx.target.name
        ))),
        Err(e) => Err(ActionError::from_kube("reading the Deployment", e)),
    }
}

/// The ReplicaSets the Deployment owns.
pub async fn replica_sets(ctx: &ActionContext<'_>, deployment: &Deployment) -> Result<Vec<ReplicaSet>, ActionError> {
    let selector = deployment
        .spec
        .as_ref()
        .map(|s| crate::kubeutil::selector_string(&s.selector))
        .unwrap_or_default();
    let api = Api::<ReplicaSet>::namespaced(ctx.client.clone(), ctx.namespace);
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| ActionError::from_kube("listing ReplicaSets", e))?;
    let uid = deployment.metadata.uid.clone();
    Ok(list
        .items
        .into_iter()
        .filter(|rs| rs.owner_references().iter().any(|o| Some(&o.uid) == uid.as_ref()))
        .collect())
}

/// Sends a patch to the Deployment, as a server-side dry-run when the step is one.
pub async fn patch(ctx: &ActionContext<'_>, patch: Patch<serde_json::Value>) -> Result<Deployment, ActionError> {
    let api = Api::<Deployment>::namespaced(ctx.client.clone(), ctx.namespace);
    let mut params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    params.dry_run = ctx.dry_run;
    api.patch(&ctx.target.name, &params, &patch)
        .await
        .map_err(|e| ActionError::from_kube("patching the Deployment", e))
}

/// A dry-run prefix for outcome messages.
pub fn would(ctx: &ActionContext<'_>, done: &str, would: &str) -> String {
    if ctx.dry_run {
        format!("dry-run: would {would}")
    } else {
        done.to_string()
    }
}
