//! The record that a revision ran healthily: when a Deployment's rollout is complete, its
//! current ReplicaSet gets `dontpanic.dev/healthy-at`, once. A later rollback may then choose
//! that revision even after it was scaled to 0. Pure: the decision, not the write.

use crate::kubeutil::{revision_of, HEALTHY_AT_ANNOTATION, KNOWN_BAD_ANNOTATION};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};

/// Whether the Deployment's rollout is complete: the controller has seen the current spec,
/// and every desired replica is updated and available, with no old pods left.
fn rollout_complete(deployment: &Deployment) -> bool {
    let desired = deployment.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let Some(status) = deployment.status.as_ref() else {
        return false;
    };
    let observed = status.observed_generation.is_some() && status.observed_generation >= deployment.metadata.generation;
    desired > 0
        && observed
        && status.updated_replicas == Some(desired)
        && status.available_replicas == Some(desired)
        && status.replicas == Some(desired)
}

/// The name of the ReplicaSet to record as healthy now, if any: the Deployment's newest
/// ReplicaSet once its rollout is complete and it has all replicas available itself, unless it
/// carries a record already or is known bad (a revision rolled back from stays distrusted).
pub fn healthy_record_due(deployment: &Deployment, replica_sets: &[ReplicaSet]) -> Option<String> {
    if !rollout_complete(deployment) {
        return None;
    }
    let uid = deployment.metadata.uid.as_deref()?;
    let newest = replica_sets
        .iter()
        .filter(|rs| rs.metadata.owner_references.iter().flatten().any(|o| o.uid == uid))
        .max_by_key(|rs| revision_of(&rs.metadata))?;
    let annotations = newest.metadata.annotations.as_ref();
    let recorded =
        annotations.is_some_and(|a| a.contains_key(HEALTHY_AT_ANNOTATION) || a.contains_key(KNOWN_BAD_ANNOTATION));
    let desired = newest.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let available = newest.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
    (!recorded && desired > 0 && available == desired).then(|| newest.metadata.name.clone())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(
        generation: i64,
        observed: i64,
        desired: i32,
        updated: i32,
        available: i32,
        total: i32,
    ) -> Deployment {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "uid": "d1", "generation": generation},
            "spec": {"replicas": desired, "selector": {}, "template": {}},
            "status": {"observedGeneration": observed, "updatedReplicas": updated,
                       "availableReplicas": available, "replicas": total}
        }))
        .unwrap()
    }

    fn rs(name: &str, revision: i64, desired: i32, available: i32, annotations: &[(&str, &str)]) -> ReplicaSet {
        let mut notes: serde_json::Map<String, serde_json::Value> =
            annotations.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        notes.insert("deployment.kubernetes.io/revision".into(), json!(revision.to_string()));
        serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": notes,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": "d1"}]},
            "spec": {"replicas": desired, "selector": {}},
            "status": {"replicas": desired, "availableReplicas": available}
        }))
        .unwrap()
    }

    #[test]
    fn a_complete_rollout_records_its_replica_set_once() {
        let d = deployment(4, 4, 3, 3, 3, 3);
        let sets = [rs("web-a", 1, 0, 0, &[]), rs("web-b", 2, 3, 3, &[])];
        assert_eq!(healthy_record_due(&d, &sets).as_deref(), Some("web-b"));
        let recorded = [
            rs("web-a", 1, 0, 0, &[]),
            rs("web-b", 2, 3, 3, &[(HEALTHY_AT_ANNOTATION, "2026-01-01T00:00:00Z")]),
        ];
        assert_eq!(healthy_record_due(&d, &recorded), None, "idempotent");
    }

    #[test]
    fn an_unfinished_rollout_records_nothing() {
        let sets = [rs("web-a", 1, 3, 3, &[]), rs("web-b", 2, 1, 0, &[])];
        assert_eq!(
            healthy_record_due(&deployment(4, 3, 3, 3, 3, 3), &sets),
            None,
            "spec not observed yet"
        );
        assert_eq!(
            healthy_record_due(&deployment(4, 4, 3, 1, 3, 4), &sets),
            None,
            "old pods still serve"
        );
        assert_eq!(
            healthy_record_due(&deployment(4, 4, 0, 0, 0, 0), &sets),
            None,
            "scaled to 0"
        );
    }

    #[test]
    fn a_known_bad_replica_set_is_never_recorded_healthy() {
        let d = deployment(4, 4, 3, 3, 3, 3);
        let sets = [rs(
            "web-b",
            2,
            3,
            3,
            &[(KNOWN_BAD_ANNOTATION, "shop/web-500 at 2026-01-01T00:00:00Z")],
        )];
        assert_eq!(healthy_record_due(&d, &sets), None);
    }
}
