//! Small facts about Kubernetes objects, shared by triage, evidence and actions.

use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::Api;
use kube::Client;

/// The annotation the Deployment controller numbers revisions with.
pub const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
/// `kubectl rollout` records the reason for a change here.
pub const CHANGE_CAUSE_ANNOTATION: &str = "kubernetes.io/change-cause";
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
