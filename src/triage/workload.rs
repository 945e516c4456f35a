//! Turns a workload observation into triage signals. Pure, so it is tested from fixtures.

use super::observe::WorkloadObservation;
use super::signals::Signals;
use crate::kubeutil::{pod_failure, revision_of, PodFailure};
use k8s_openapi::api::core::v1::Pod;

/// The signals of a Deployment or StatefulSet.
pub fn workload_signals(obs: &WorkloadObservation) -> Signals {
    let mut s = Signals {
        target_found: obs.found(),
        ..Signals::default()
    };
    if let Some(d) = &obs.deployment {
        let spec_replicas = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let status = d.status.clone().unwrap_or_default();
        s.desired_replicas = spec_replicas;
        s.ready_replicas = status.ready_replicas.unwrap_or(0);
        s.available_replicas = status.available_replicas.unwrap_or(0);
        s.unavailable_replicas = status.unavailable_replicas.unwrap_or(0);
        s.updated_replicas = status.updated_replicas.unwrap_or(0);
        s.rolling_out = status.observed_generation < d.metadata.generation
            || s.updated_replicas < s.desired_replicas
            || status.replicas.unwrap_or(0) > s.desired_replicas;
        s.progress_deadline_exceeded = status.conditions.unwrap_or_default().iter().any(|c| {
            c.type_ == "Progressing" && c.status == "False" && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
        });
    }
    if let Some(st) = &obs.stateful_set {
        let status = st.status.clone().unwrap_or_default();
        s.desired_replicas = st.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        s.ready_replicas = status.ready_replicas.unwrap_or(0);
        s.available_replicas = status.available_replicas.unwrap_or(0);
        s.updated_replicas = status.updated_replicas.unwrap_or(0);
        s.unavailable_replicas = (s.desired_replicas - s.available_replicas).max(0);
    }
    let live_pods: Vec<&Pod> = obs
        .pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();
    for pod in &live_pods {
        s.max_restarts = s.max_restarts.max(restarts(pod));
        match pod_failure(pod) {
            Some(PodFailure::CrashLoop) => s.crash_looping_pods += 1,
            Some(PodFailure::ImagePull) => s.image_pull_failing_pods += 1,
            Some(PodFailure::OomKilled) => s.oom_killed_pods += 1,
            Some(PodFailure::NotReady) => s.not_ready_pods += 1,
            None => {}
        }
    }
    s.hosting_nodes = obs.nodes.len() as i32;
    s.not_ready_nodes = obs.nodes.iter().filter(|n| !crate::kubeutil::node_ready(n)).count() as i32;
    s.services = obs.services.len() as i32;
    for slice in &obs.endpoint_slices {
        for endpoint in &slice.endpoints {
            s.total_endpoints += 1;
            let ready = endpoint.conditions.as_ref().and_then(|c| c.ready).unwrap_or(true);
            if ready {
                s.ready_endpoints += 1;
            }
        }
    }
    s.warning_events = obs.warning_events.len() as i32;
    s.new_replica_set_failing = new_replica_set_failing(obs);
    s.release = super::release::release_of(obs);
    s
}

/// True when the newest ReplicaSet has failing pods and an older revision exists to go back to.
fn new_replica_set_failing(obs: &WorkloadObservation) -> bool {
    let Some(newest) = obs.replica_sets.iter().max_by_key(|rs| revision_of(&rs.metadata)) else {
        return false;
    };
    if obs.replica_sets.len() < 2 {
        return false;
    }
    let hash = newest
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("pod-template-hash"))
        .cloned();
    obs.pods.iter().any(|pod| {
        pod.metadata.deletion_timestamp.is_none()
            && pod.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash")) == hash.as_ref()
            && pod_failure(pod).is_some()
    })
}

fn restarts(pod: &Pod) -> i32 {
    pod.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|cs| cs.iter().map(|c| c.restart_count).max().unwrap_or(0))
        .unwrap_or(0)
}
