//! The detection decision, as a pure function.

use crate::evidence::to_chrono;
use crate::kubeutil::{pod_failure, revision_of, PodFailure};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;

/// What a Deployment's newest rollout looks like right now.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    /// Nothing to report.
    Healthy,
    /// The newest ReplicaSet's pods are failing.
    Failing {
        /// The revision of the failing ReplicaSet.
        revision: i64,
        /// Why it counts as failed, for people.
        reason: String,
        /// When the failure was first observable.
        since: DateTime<Utc>,
    },
    /// Pods are not Ready but still within `unavailableFor`: look again at `recheck_at`.
    Pending { recheck_at: DateTime<Utc> },
}

fn owned_by(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta, uid: Option<&str>, name: &str) -> bool {
    meta.owner_references.iter().flatten().any(|o| match uid {
        Some(uid) => o.uid == uid,
        None => o.name == name,
    })
}

/// The newest ReplicaSet of a Deployment: the one with the highest revision it owns.
fn newest<'a>(deployment: &Deployment, replica_sets: &'a [ReplicaSet]) -> Option<&'a ReplicaSet> {
    let name = deployment.metadata.name.clone().unwrap_or_default();
    let uid = deployment.metadata.uid.as_deref();
    replica_sets
        .iter()
        .filter(|rs| owned_by(&rs.metadata, uid, &name))
        .max_by_key(|rs| revision_of(&rs.metadata))
}

/// When a pod turned not Ready: its Ready condition's transition, else its creation.
fn not_ready_since(pod: &Pod) -> Option<DateTime<Utc>> {
    let status = pod.status.as_ref();
    status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready" && c.status != "True"))
        .and_then(|c| c.last_transition_time.as_ref())
        .map(|t| to_chrono(&t.0))
        .or_else(|| pod.metadata.creation_timestamp.as_ref().map(|t| to_chrono(&t.0)))
}

/// The earliest time a crash-looping pod showed trouble: turning not Ready or its first crash.
fn crash_since(pod: &Pod) -> Option<DateTime<Utc>> {
    let crashed = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .filter_map(|c| c.last_state.as_ref()?.terminated.as_ref()?.finished_at.as_ref())
        .map(|t| to_chrono(&t.0))
        .min();
    [crashed, not_ready_since(pod)].into_iter().flatten().min()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True")
}

/// Judges a Deployment's newest rollout.
///
/// Failing means: a pod of the newest ReplicaSet is crash-looping; or one has not been Ready
/// for longer than `unavailable_for`; or the rollout reports `ProgressDeadlineExceeded`.
pub fn health(
    deployment: &Deployment,
    replica_sets: &[ReplicaSet],
    pods: &[Pod],
    unavailable_for: chrono::Duration,
    now: DateTime<Utc>,
) -> Health {
    let Some(rs) = newest(deployment, replica_sets) else {
        return Health::Healthy;
    };
    let revision = revision_of(&rs.metadata);
    let rs_name = rs.metadata.name.clone().unwrap_or_default();
    let rs_uid = rs.metadata.uid.as_deref();
    let current: Vec<&Pod> = pods
        .iter()
        .filter(|p| owned_by(&p.metadata, rs_uid, &rs_name))
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect();

    let crashing: Vec<&Pod> = current
        .iter()
        .copied()
        .filter(|p| pod_failure(p) == Some(PodFailure::CrashLoop))
        .collect();
    if !crashing.is_empty() {
        let since = crashing.iter().filter_map(|p| crash_since(p)).min().unwrap_or(now);
        let names: Vec<String> = crashing
            .iter()
            .map(|p| p.metadata.name.clone().unwrap_or_default())
            .collect();
        return Health::Failing {
            revision,
            reason: format!(
                "{} pod(s) of revision {revision} in CrashLoopBackOff: {}",
                crashing.len(),
                names.join(", ")
            ),
            since,
        };
    }

    let deadline = deployment
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|cs| cs.iter().find(|c| c.type_ == "Progressing"))
        .filter(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
    if let Some(condition) = deadline {
        let since = condition
            .last_transition_time
            .as_ref()
            .or(condition.last_update_time.as_ref())
            .map(|t| to_chrono(&t.0))
            .unwrap_or(now);
        let since = current
            .iter()
            .filter_map(|p| not_ready_since(p))
            .min()
            .map_or(since, |t| t.min(since));
        return Health::Failing {
            revision,
            reason: format!("revision {revision} exceeded its progress deadline (ProgressDeadlineExceeded)"),
            since,
        };
    }

    let not_ready: Vec<(&Pod, DateTime<Utc>)> = current
        .iter()
        .copied()
        .filter(|p| !is_ready(p))
        .filter_map(|p| not_ready_since(p).map(|t| (p, t)))
        .collect();
    let Some(earliest) = not_ready.iter().map(|(_, t)| *t).min() else {
        return Health::Healthy;
    };
    if now - earliest >= unavailable_for {
        let late: Vec<String> = not_ready
            .iter()
            .filter(|(_, t)| now - *t >= unavailable_for)
            .map(|(p, _)| p.metadata.name.clone().unwrap_or_default())
            .collect();
        return Health::Failing {
            revision,
            reason: format!(
                "{} pod(s) of revision {revision} not Ready for more than {}s: {}",
                late.len(),
                unavailable_for.num_seconds(),
                late.join(", ")
            ),
            since: earliest,
        };
    }
    Health::Pending {
        recheck_at: crate::duration::after_signed(earliest, unavailable_for),
    }
}
