//! Small facts about Kubernetes objects, shared by triage, evidence and actions.

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::Api;
use kube::Client;

/// The annotation the Deployment controller numbers revisions with.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// `kubectl rollout` records the reason for a change here.
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";
/// On a ReplicaSet an Incident rolled back from: `<incident namespace>/<name> at <RFC 3339 time>`.
/// Rollbacks never choose it again.
pub const KNOWN_BAD_ANNOTATION: &str = "dontpanic.dev/known-bad";
/// On a ReplicaSet the operator saw fully rolled out and available: the RFC 3339 time it saw
/// that. A rollback may choose it after it was scaled down.
pub const HEALTHY_AT_ANNOTATION: &str = "dontpanic.dev/healthy-at";
/// The label the Deployment controller gives each ReplicaSet, from its pod template.
pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
/// An optional build number on a pod template (annotation or label).
pub const BUILD_KEYS: [&str; 2] = ["dontpanic.dev/build", "app.kubernetes.io/version"];

/// A label selector in the string form list calls accept.
pub fn selector_string(selector: &LabelSelector) -> String {
    let mut parts: Vec<String> = selector
        .match_labels
        .as_ref()
        .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default();
    for expr in selector.match_expressions.iter().flatten() {
        let values = expr.values.clone().unwrap_or_default().join(",");
        parts.push(match expr.operator.as_str() {
            "In" => format!("{} in ({values})", expr.key),
            "NotIn" => format!("{} notin ({values})", expr.key),
            "Exists" => expr.key.clone(),
            "DoesNotExist" => format!("!{}", expr.key),
            _ => continue,
        });
    }
    parts.join(",")
}

/// The revision number of a ReplicaSet or Deployment, 0 when absent.
pub fn revision_of(meta: &ObjectMeta) -> i64 {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(REVISION_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// How a pod is failing, in the order a responder cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodFailure {
    CrashLoop,
    ImagePull,
    OomKilled,
    NotReady,
}

impl PodFailure {
    pub fn reason(self) -> &'static str {
        match self {
            PodFailure::CrashLoop => "CrashLoopBackOff",
            PodFailure::ImagePull => "ImagePullBackOff",
            PodFailure::OomKilled => "OOMKilled",
            PodFailure::NotReady => "NotReady",
        }
    }
}

/// Classifies a pod's failure, if any. A pod that is Pending without being scheduled yet is
/// not counted as failing.
pub fn pod_failure(pod: &Pod) -> Option<PodFailure> {
    let status = pod.status.as_ref()?;
    let containers = status.container_statuses.clone().unwrap_or_default();
    let mut failure = None;
    for c in &containers {
        let waiting = c
            .state
            .as_ref()
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.clone());
        let terminated = c
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.reason.clone());
        let last_terminated = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.reason.clone());
        match waiting.as_deref() {
            Some("CrashLoopBackOff") => return Some(PodFailure::CrashLoop),
            Some("ImagePullBackOff" | "ErrImagePull" | "InvalidImageName") => failure = Some(PodFailure::ImagePull),
            _ => {}
        }
        if terminated.as_deref() == Some("OOMKilled") || last_terminated.as_deref() == Some("OOMKilled") {
            failure = failure.or(Some(PodFailure::OomKilled));
        }
    }
    if failure.is_some() {
        return failure;
    }
    let ready = status
        .conditions
        .as_ref()
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.status == "True");
    if status.phase.as_deref() == Some("Running") && ready == Some(false) {
        return Some(PodFailure::NotReady);
    }
    None
}

/// A node is ready when its Ready condition is True.
pub fn node_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// Images of a pod template's containers, in order.
pub fn template_images(template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> Vec<String> {
    template
        .spec
        .as_ref()
        .map(|s| s.containers.iter().filter_map(|c| c.image.clone()).collect())
        .unwrap_or_default()
}

/// The build of a pod template: an explicit build annotation/label, else the first image tag.
pub fn template_build(template: &k8s_openapi::api::core::v1::PodTemplateSpec) -> Option<String> {
    let meta = template.metadata.as_ref();
    for key in BUILD_KEYS {
        let found = meta
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(key))
            .or_else(|| meta.and_then(|m| m.labels.as_ref()).and_then(|l| l.get(key)));
        if let Some(value) = found {
            return Some(value.clone());
        }
    }
    template_images(template).first().and_then(|image| {
        let last = image.rsplit('/').next()?;
        last.split_once(':').map(|(_, tag)| tag.to_string())
    })
}

/// The field manager that last wrote the field at `path` (such as `["spec", "replicas"]`), from
/// `metadata.managedFields`: among the entries whose fieldsV1 hold the path or a field under it,
/// the one with the latest time.
///
/// Entry times have one-second resolution, and an entry's time moves whenever its manager
/// writes any of its fields. So `own_manager` (the caller itself) wins only when it is strictly
/// newer than every other writer of the path: when another writer ties with it, that other
/// writer is the likelier author of a change the caller did not make.
pub fn last_writer(meta: &ObjectMeta, path: &[&str], own_manager: &str) -> Option<String> {
    meta.managed_fields
        .iter()
        .flatten()
        .filter(|entry| {
            entry
                .fields_v1
                .as_ref()
                .is_some_and(|fields| holds_path(&fields.0, path))
        })
        .filter_map(|entry| Some((entry.time.as_ref().map(|t| t.0), entry.manager.clone()?)))
        .max_by_key(|(time, manager)| (*time, manager != own_manager))
        .map(|(_, manager)| manager)
}

/// Whether a fieldsV1 tree (`{"f:spec": {"f:replicas": {}}}`) holds `path`.
fn holds_path(fields: &serde_json::Value, path: &[&str]) -> bool {
    path.iter()
        .try_fold(fields, |node, field| node.get(format!("f:{field}")))
        .is_some()
}

/// An Api over one namespace, or over all when `namespace` is None.
pub fn api_for<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(entries: serde_json::Value) -> ObjectMeta {
        serde_json::from_value(json!({"name": "web", "managedFields": entries})).unwrap()
    }

    fn entry(manager: &str, time: &str, fields: serde_json::Value) -> serde_json::Value {
        json!({"manager": manager, "operation": "Update", "apiVersion": "apps/v1", "time": time,
               "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn the_latest_writer_of_the_path_is_found() {
        let m = meta(json!([
            entry(
                "kubectl-create",
                "2026-01-01T10:00:00Z",
                json!({"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {}}}})
            ),
            entry(
                "kube-controller-manager",
                "2026-01-01T10:05:00Z",
                json!({"f:metadata": {"f:annotations": {}}})
            ),
            entry("kubectl", "2026-01-01T10:03:00Z", json!({"f:spec": {"f:replicas": {}}})),
        ]));
        assert_eq!(
            last_writer(&m, &["spec", "replicas"], "dontpanic").as_deref(),
            Some("kubectl")
        );
        assert_eq!(
            last_writer(&m, &["spec", "template"], "dontpanic").as_deref(),
            Some("kubectl-create")
        );
        assert_eq!(last_writer(&m, &["spec", "paused"], "dontpanic"), None);
    }

    #[test]
    fn the_caller_itself_wins_only_when_strictly_newer() {
        let fields = json!({"f:spec": {"f:replicas": {}}});
        let tie = meta(json!([
            entry("dontpanic", "2026-01-01T10:00:00Z", fields.clone()),
            entry("hpa", "2026-01-01T10:00:00Z", fields.clone()),
        ]));
        assert_eq!(
            last_writer(&tie, &["spec", "replicas"], "dontpanic").as_deref(),
            Some("hpa")
        );
        let newer = meta(json!([
            entry("dontpanic", "2026-01-01T10:00:01Z", fields.clone()),
            entry("hpa", "2026-01-01T10:00:00Z", fields),
        ]));
        assert_eq!(
            last_writer(&newer, &["spec", "replicas"], "dontpanic").as_deref(),
            Some("dontpanic")
        );
    }
}
