//! Writes status by server-side apply, only when it changed, and records Events.

use super::Error;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use std::fmt::Debug;

/// The field manager status is applied with.
pub const FIELD_MANAGER: &str = "dontpanic";

/// Applies `status` when it differs from `old`. Returns the object as written, or `None`
/// when nothing changed.
///
/// With `resource_version`, the write only succeeds against that version of the object: a
/// status decided from a stale copy is refused with [`Error::Conflict`] instead of overwriting
/// what someone else wrote since. The caller re-reads and decides again.
pub async fn apply_status<K, S>(
    api: &Api<K>,
    obj: &K,
    old: Option<&S>,
    status: &S,
    resource_version: Option<&str>,
) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug,
    S: Serialize + PartialEq,
{
    if old == Some(status) {
        return Ok(None);
    }
    let mut body = json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    if let Some(version) = resource_version {
        body["metadata"] = json!({ "resourceVersion": version });
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut attempt = 0;
    loop {
        match api.patch_status(&obj.name_any(), &params, &Patch::Apply(&body)).await {
            Ok(written) => return Ok(Some(written)),
            // Resending the same body cannot resolve a conflict: the decision has to be
            // made again from what is there now.
            Err(kube::Error::Api(e)) if e.code == 409 => return Err(Error::Conflict(e.message)),
            // A busy API server: the same write is still right a moment later.
            Err(kube::Error::Api(e)) if e.code == 429 && attempt < 5 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100 * attempt)).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Publishes a Kubernetes Event about an object; failures are logged, never fatal.
pub async fn publish<K: Resource<DynamicType = ()>>(
    recorder: &Recorder,
    obj: &K,
    warning: bool,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_: if warning { EventType::Warning } else { EventType::Normal },
        reason: reason.to_string(),
        note: Some(crate::evidence::clip(&note, 1000)),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(e) = recorder.publish(&event, &obj.object_ref(&())).await {
        tracing::warn!(error = %e, reason, "could not publish event");
    }
}
