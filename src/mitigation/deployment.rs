//! Reading and patching the Deployment that Deployment actions work on.

use super::{ActionContext, ActionError, Drift, Outcome};
use crate::kubeutil::{last_writer, KNOWN_BAD_ANNOTATION};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::ResourceExt;
use serde_json::{json, Value};
use std::time::Duration;

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

fn patch_params(ctx: &ActionContext<'_>) -> PatchParams {
    PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        dry_run: ctx.dry_run,
        ..PatchParams::default()
    }
}

/// What an action decides from one fresh read of its Deployment and ReplicaSets.
pub enum Decision {
    /// The intended change is in place already: nothing to send.
    Done(Outcome),
    /// Send these JSON-patch operations, then report `outcome`.
    Send {
        ops: Vec<Value>,
        outcome: Outcome,
        /// A ReplicaSet to mark known bad (with this record) before the patch, so that a crash
        /// between the two cannot lose the mark.
        mark_known_bad: Option<(String, String)>,
    },
}

/// How often a write the Deployment changed under is decided again from a fresh read.
const WRITE_ATTEMPTS: u32 = 4;

/// Acts on the Deployment at the moment of acting: reads it and its ReplicaSets fresh, lets
/// `decide` check the intent's from-state against that read (returning `Drifted` when it no
/// longer holds), and sends the decided operations behind a JSON-patch `test` of
/// `/metadata/generation` as read. The generation moves only when the spec does, unlike the
/// resourceVersion, which every status update of a crash-looping rollout moves. When the API
/// server refuses the write because the object moved under it (409, or 422 for a failed
/// `test`), the whole decision is taken again from a fresh read, a few times, then reported
/// as transient.
pub async fn act_on_fresh<F>(ctx: &ActionContext<'_>, mut decide: F) -> Result<Outcome, ActionError>
where
    F: FnMut(&Deployment, &[ReplicaSet]) -> Result<Decision, ActionError>,
{
    let api = Api::<Deployment>::namespaced(ctx.client.clone(), ctx.namespace);
    let mut last_refusal = String::new();
    for attempt in 0..WRITE_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
        let deployment = get(ctx).await?;
        let replica_sets = replica_sets(ctx, &deployment).await?;
        let (ops, outcome, mark) = match decide(&deployment, &replica_sets)? {
            Decision::Done(outcome) => return Ok(outcome),
            Decision::Send {
                ops,
                outcome,
                mark_known_bad,
            } => (ops, outcome, mark_known_bad),
        };
        if let Some((replica_set, record)) = mark {
            mark_known_bad(ctx, &replica_sets, &replica_set, &record).await?;
        }
        let generation = deployment.metadata.generation.unwrap_or_default();
        let mut tested = vec![json!({"op": "test", "path": "/metadata/generation", "value": generation})];
        tested.extend(ops);
        let patch: json_patch::Patch =
            serde_json::from_value(Value::Array(tested)).map_err(|e| ActionError::Permanent(e.to_string()))?;
        match api
            .patch(&ctx.target.name, &patch_params(ctx), &Patch::<Value>::Json(patch))
            .await
        {
            Ok(_) => return Ok(outcome),
            Err(kube::Error::Api(status)) if matches!(status.code, 409 | 422) => {
                tracing::info!(deployment = %ctx.target.name, code = status.code, message = %status.message,
                    "the Deployment changed under the write; deciding again from a fresh read");
                last_refusal = format!("{} {}", status.code, status.message);
            }
            Err(e) => return Err(ActionError::from_kube("patching the Deployment", e)),
        }
    }
    Err(ActionError::Transient(format!(
        "the Deployment changed under each of {WRITE_ATTEMPTS} writes (last refusal: {last_refusal}); the step retries"
    )))
}

/// Annotates a ReplicaSet as known bad, unless it already carries a record (the first
/// Incident that rolled back from it stays on record).
async fn mark_known_bad(
    ctx: &ActionContext<'_>,
    replica_sets: &[ReplicaSet],
    name: &str,
    record: &str,
) -> Result<(), ActionError> {
    let marked = replica_sets
        .iter()
        .find(|rs| rs.name_any() == name)
        .is_some_and(|rs| super::revisions::known_bad(rs).is_some());
    if marked {
        return Ok(());
    }
    let body = json!({"metadata": {"annotations": {KNOWN_BAD_ANNOTATION: record}}});
    Api::<ReplicaSet>::namespaced(ctx.client.clone(), ctx.namespace)
        .patch(name, &patch_params(ctx), &Patch::Merge(&body))
        .await
        .map(|_| ())
        .map_err(|e| ActionError::from_kube(&format!("marking ReplicaSet {name} known bad"), e))
}

/// A drift of the Deployment at `path`, naming who last wrote it.
pub fn drift(deployment: &Deployment, path: &[&str], message: String) -> ActionError {
    ActionError::Drifted(Drift {
        message,
        field_manager: last_writer(&deployment.metadata, path, FIELD_MANAGER),
    })
}

/// A JSON-pointer path segment: `/` and `~` escaped.
pub fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The operations that set `key` in the annotation map at `map_path` (such as
/// `/metadata/annotations`) to `value`, creating the map when the object has none.
pub fn set_annotation(map_path: &str, exists: bool, key: &str, value: &str) -> Value {
    if exists {
        json!({"op": "add", "path": format!("{map_path}/{}", pointer_segment(key)), "value": value})
    } else {
        json!({"op": "add", "path": map_path, "value": {key: value}})
    }
}

/// A dry-run prefix for outcome messages.
pub fn would(ctx: &ActionContext<'_>, done: &str, would: &str) -> String {
    if ctx.dry_run {
        format!("dry-run: would {would}")
    } else {
        done.to_string()
    }
}
