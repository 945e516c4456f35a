//! The release a workload runs: what a plan is made from, and what a person or another
//! controller may have changed since.

use super::observe::WorkloadObservation;
use crate::api::TargetState;
use crate::kubeutil::{revision_of, template_images};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

const HASH_LABEL: &str = "pod-template-hash";

/// The release of the observed Deployment or StatefulSet, when there is one and its controller
/// has caught up with the spec (before that, revision and ReplicaSet still describe the
/// previous template).
pub fn release_of(obs: &WorkloadObservation) -> Option<TargetState> {
    if let Some(d) = &obs.deployment {
        let observed = d.status.as_ref().and_then(|s| s.observed_generation);
        if observed < d.metadata.generation {
            return None;
        }
        let revision = revision_of(&d.metadata);
        // The Deployment's revision annotation is the revision of the ReplicaSet that runs its
        // current template.
        let template_hash = obs
            .replica_sets
            .iter()
            .filter(|rs| revision_of(&rs.metadata) == revision && revision > 0)
            .find_map(|rs| rs.metadata.labels.as_ref()?.get(HASH_LABEL).cloned());
        let spec = d.spec.as_ref();
        return Some(TargetState {
            revision: (revision > 0).then_some(revision),
            template_hash,
            images: spec.map(|s| template_images(&s.template)).unwrap_or_default(),
            replicas: Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
            changed_by: last_spec_writer(&d.metadata),
        });
    }
    let set = obs.stateful_set.as_ref()?;
    if set.status.as_ref().and_then(|s| s.observed_generation) < set.metadata.generation {
        return None;
    }
    let spec = set.spec.as_ref();
    Some(TargetState {
        revision: None,
        template_hash: set.status.as_ref().and_then(|s| s.update_revision.clone()),
        images: spec.map(|s| template_images(&s.template)).unwrap_or_default(),
        replicas: Some(spec.and_then(|s| s.replicas).unwrap_or(1)),
        changed_by: last_spec_writer(&set.metadata),
    })
}

/// The field manager whose latest write touched the object's spec: who shipped or changed it.
pub fn last_spec_writer(meta: &ObjectMeta) -> Option<String> {
    meta.managed_fields
        .as_ref()?
        .iter()
        .filter(|m| m.subresource.is_none())
        .filter(|m| {
            m.fields_v1
                .as_ref()
                .and_then(|f| f.0.as_object())
                .is_some_and(|fields| fields.contains_key("f:spec"))
        })
        .max_by_key(|m| m.time.as_ref().map(|t| t.0))
        .and_then(|m| m.manager.clone())
}

/// How the release changed, in words, or None when it is the same one. Replica counts count
/// only when `with_replicas` (a step that scales depends on them; an autoscaler's changes do
/// not concern a rollback).
pub fn release_change(before: &TargetState, now: &TargetState, with_replicas: bool) -> Option<String> {
    let template_changed = before.template_hash != now.template_hash || before.images != now.images;
    let replicas_changed = with_replicas && before.replicas != now.replicas;
    if !template_changed && !replicas_changed {
        return None;
    }
    let mut parts = Vec::new();
    if template_changed {
        let describe = |s: &TargetState| {
            let revision = s
                .revision
                .map(|r| format!("revision {r}"))
                .unwrap_or_else(|| format!("template {}", s.template_hash.as_deref().unwrap_or("unknown")));
            format!("{revision} ({})", s.images.join(", "))
        };
        parts.push(format!("{} → {}", describe(before), describe(now)));
    }
    if replicas_changed {
        let count = |r: Option<i32>| r.map(|r| r.to_string()).unwrap_or_else(|| "?".into());
        parts.push(format!("replicas {} → {}", count(before.replicas), count(now.replicas)));
    }
    let by = now
        .changed_by
        .as_deref()
        .map(|m| format!(", changed by field manager {m}"))
        .unwrap_or_default();
    Some(format!("{}{by}", parts.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(revision: i64, hash: &str, image: &str, replicas: i32) -> TargetState {
        TargetState {
            revision: Some(revision),
            template_hash: Some(hash.into()),
            images: vec![image.into()],
            replicas: Some(replicas),
            changed_by: Some("kubectl-client-side-apply".into()),
        }
    }

    #[test]
    fn a_new_release_is_described_with_who_shipped_it() {
        let change = release_change(&state(2, "b", "web:v2", 3), &state(3, "c", "web:v3", 3), false).unwrap();
        assert_eq!(
            change,
            "revision 2 (web:v2) → revision 3 (web:v3), changed by field manager kubectl-client-side-apply"
        );
    }

    #[test]
    fn replica_counts_matter_only_when_asked() {
        assert_eq!(
            release_change(&state(2, "b", "web:v2", 3), &state(2, "b", "web:v2", 9), false),
            None
        );
        assert!(
            release_change(&state(2, "b", "web:v2", 3), &state(2, "b", "web:v2", 9), true)
                .unwrap()
                .starts_with("replicas 3 → 9")
        );
    }
}
