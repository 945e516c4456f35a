//! Which revision a rollback goes to. Without `toRevision`: the newest one known healthy and
//! not known bad. Pure: ReplicaSets and the Deployment's template in, a choice or the reason
//! there is none out.

use crate::kubeutil::{revision_of, HEALTHY_AT_ANNOTATION, KNOWN_BAD_ANNOTATION, TEMPLATE_HASH_LABEL};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::PodTemplateSpec;

/// A pod template as JSON with the ReplicaSet hash label removed, for comparing templates the
/// way the Deployment controller does.
pub fn template_without_hash(template: &PodTemplateSpec) -> serde_json::Value {
    let mut t = template.clone();
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove(TEMPLATE_HASH_LABEL);
    }
    serde_json::to_value(t).unwrap_or_default()
}

pub fn rs_template(rs: &ReplicaSet) -> Option<&PodTemplateSpec> {
    rs.spec.as_ref()?.template.as_ref()
}

pub fn rs_hash(rs: &ReplicaSet) -> Option<String> {
    rs.metadata.labels.as_ref()?.get(TEMPLATE_HASH_LABEL).cloned()
}

fn annotation<'a>(rs: &'a ReplicaSet, key: &str) -> Option<&'a str> {
    rs.metadata.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The record of an earlier Incident rolling back from this ReplicaSet.
pub fn known_bad(rs: &ReplicaSet) -> Option<&str> {
    annotation(rs, KNOWN_BAD_ANNOTATION)
}

/// The ReplicaSet running `template` (the Deployment's current one): the newest whose template
/// equals it. None while the Deployment controller has not made one yet.
pub fn running<'a>(replica_sets: &'a [ReplicaSet], template: &PodTemplateSpec) -> Option<&'a ReplicaSet> {
    let wanted = template_without_hash(template);
    replica_sets
        .iter()
        .filter(|rs| rs_template(rs).map(template_without_hash).as_ref() == Some(&wanted))
        .max_by_key(|rs| revision_of(&rs.metadata))
}

/// Why a revision is trusted to be healthy.
#[derive(Debug, Clone, PartialEq)]
pub enum Healthy {
    /// All of its desired replicas are available right now.
    AvailableNow,
    /// The operator saw it fully rolled out and available at this time.
    SeenAt(String),
}

/// Whether a ReplicaSet is known healthy. A ReplicaSet scaled to 0 with no record is not: it
/// may never have run a Ready pod.
pub fn known_healthy(rs: &ReplicaSet) -> Option<Healthy> {
    let desired = rs.spec.as_ref().and_then(|s| s.replicas).unwrap_or(0);
    let available = rs.status.as_ref().and_then(|s| s.available_replicas).unwrap_or(0);
    if desired > 0 && available == desired {
        return Some(Healthy::AvailableNow);
    }
    annotation(rs, HEALTHY_AT_ANNOTATION).map(|at| Healthy::SeenAt(at.to_string()))
}

/// Why no revision was chosen; the text is what the Incident's timeline shows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoRevision {
    #[error("revision {0} does not exist")]
    Missing(i64),
    #[error("revision {0} is the one currently deployed (and failing); rolling back to it changes nothing")]
    Current(i64),
    #[error("revision {revision} is known bad: incident {record} rolled back from it")]
    KnownBad { revision: i64, record: String },
    #[error("no earlier revision to roll back to: only revision {0} exists")]
    OnlyCurrent(i64),
    #[error("no revision known to be healthy to roll back to: {}", .skipped.join("; "))]
    NoneHealthy { skipped: Vec<String> },
    #[error("the ReplicaSet of revision {0} has no pod template")]
    NoTemplate(i64),
}

/// The ReplicaSet a rollback goes to. `current` is the Deployment's pod template and
/// `current_revision` its revision; `to_revision` is the step's explicit choice, if any.
pub fn choose<'a>(
    replica_sets: &'a [ReplicaSet],
    current: &PodTemplateSpec,
    current_revision: i64,
    to_revision: Option<i64>,
) -> Result<&'a ReplicaSet, NoRevision> {
    let current = template_without_hash(current);
    let is_current = |rs: &ReplicaSet| rs_template(rs).map(template_without_hash).as_ref() == Some(&current);
    if let Some(wanted) = to_revision {
        let rs = replica_sets
            .iter()
            .find(|rs| revision_of(&rs.metadata) == wanted)
            .ok_or(NoRevision::Missing(wanted))?;
        rs_template(rs).ok_or(NoRevision::NoTemplate(wanted))?;
        if is_current(rs) {
            return Err(NoRevision::Current(wanted));
        }
        return match known_bad(rs) {
            Some(record) => Err(NoRevision::KnownBad {
                revision: wanted,
                record: record.to_string(),
            }),
            None => Ok(rs),
        };
    }
    let mut earlier: Vec<&ReplicaSet> = replica_sets
        .iter()
        .filter(|rs| rs_template(rs).is_some() && !is_current(rs))
        .collect();
    earlier.sort_by_key(|rs| std::cmp::Reverse(revision_of(&rs.metadata)));
    if earlier.is_empty() {
        return Err(NoRevision::OnlyCurrent(current_revision));
    }
    let mut skipped = Vec::new();
    for rs in earlier {
        let revision = revision_of(&rs.metadata);
        if let Some(record) = known_bad(rs) {
            skipped.push(format!(
                "revision {revision} is known bad (incident {record} rolled back from it)"
            ));
        } else if known_healthy(rs).is_none() {
            skipped.push(format!(
                "revision {revision} was never seen healthy (not all of its replicas are available now, and it has no {HEALTHY_AT_ANNOTATION} record)"
            ));
        } else {
            return Ok(rs);
        }
    }
    Err(NoRevision::NoneHealthy { skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(image: &str) -> PodTemplateSpec {
        serde_json::from_value(json!({
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "app", "image": image}]}
        }))
        .unwrap()
    }

    /// A ReplicaSet of `revision` running `image`, with desired and available replicas and
    /// annotations.
    fn rs(revision: i64, image: &str, desired: i32, available: i32, annotations: &[(&str, &str)]) -> ReplicaSet {
        let mut t = template(image);
        t.metadata
            .as_mut()
            .unwrap()
            .labels
            .as_mut()
            .unwrap()
            .insert(TEMPLATE_HASH_LABEL.into(), format!("h{revision}"));
        let mut notes: serde_json::Map<String, serde_json::Value> =
            annotations.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        notes.insert("deployment.kubernetes.io/revision".into(), json!(revision.to_string()));
        serde_json::from_value(json!({
            "metadata": {"name": format!("web-h{revision}"), "annotations": notes,
                         "labels": {TEMPLATE_HASH_LABEL: format!("h{revision}")}},
            "spec": {"replicas": desired, "selector": {}, "template": t},
            "status": {"replicas": desired, "availableReplicas": available}
        }))
        .unwrap()
    }

    const BAD: (&str, &str) = (KNOWN_BAD_ANNOTATION, "shop/web-500 at 2026-01-01T10:00:00Z");
    const SEEN: (&str, &str) = (HEALTHY_AT_ANNOTATION, "2026-01-01T09:00:00Z");

    fn chosen(sets: &[ReplicaSet], current: &str, to: Option<i64>) -> Result<i64, NoRevision> {
        let current_revision = sets.iter().map(|r| revision_of(&r.metadata)).max().unwrap_or(0);
        choose(sets, &template(current), current_revision, to).map(|r| revision_of(&r.metadata))
    }

    #[test]
    fn known_bad_revisions_are_skipped_for_the_last_healthy_one() {
        // v1 ran healthily and was scaled down; v2 was rolled back from; v3 is failing now.
        let sets = [
            rs(1, "web:v1", 0, 0, &[SEEN]),
            rs(2, "web:v2", 0, 0, &[BAD]),
            rs(3, "web:v3", 1, 0, &[]),
        ];
        assert_eq!(chosen(&sets, "web:v3", None), Ok(1));
    }

    #[test]
    fn when_the_healthy_revision_is_gone_it_refuses_and_says_why() {
        let sets = [rs(2, "web:v2", 0, 0, &[BAD]), rs(3, "web:v3", 1, 0, &[])];
        let err = chosen(&sets, "web:v3", None).unwrap_err();
        assert!(matches!(err, NoRevision::NoneHealthy { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.starts_with("no revision known to be healthy") && text.contains("revision 2 is known bad"),
            "{text}"
        );
    }

    #[test]
    fn an_explicit_known_bad_revision_is_refused_with_the_record() {
        let sets = [
            rs(1, "web:v1", 0, 0, &[SEEN]),
            rs(2, "web:v2", 0, 0, &[BAD]),
            rs(3, "web:v3", 1, 0, &[]),
        ];
        let err = chosen(&sets, "web:v3", Some(2)).unwrap_err();
        assert_eq!(
            err,
            NoRevision::KnownBad {
                revision: 2,
                record: BAD.1.into()
            }
        );
        assert!(err.to_string().contains("shop/web-500"));
        assert_eq!(chosen(&sets, "web:v3", Some(1)), Ok(1));
        assert_eq!(chosen(&sets, "web:v3", Some(7)), Err(NoRevision::Missing(7)));
        assert_eq!(chosen(&sets, "web:v3", Some(3)), Err(NoRevision::Current(3)));
    }

    #[test]
    fn a_revision_scaled_to_zero_without_a_record_is_not_trusted() {
        // v2 was superseded by v3 before anyone saw it run; v1 has a record.
        let sets = [
            rs(1, "web:v1", 0, 0, &[SEEN]),
            rs(2, "web:v2", 0, 0, &[]),
            rs(3, "web:v3", 1, 0, &[]),
        ];
        assert_eq!(chosen(&sets, "web:v3", None), Ok(1));
        let unknown_only = [rs(2, "web:v2", 0, 0, &[]), rs(3, "web:v3", 1, 0, &[])];
        let err = chosen(&unknown_only, "web:v3", None).unwrap_err().to_string();
        assert!(err.contains("revision 2 was never seen healthy"), "{err}");
    }

    #[test]
    fn an_old_revision_still_serving_during_a_stuck_rollout_is_chosen() {
        // v2 and v3 were rolled out on top of each other and both crash; v1 still serves all
        // of its replicas because the rollout never got far enough to scale it down.
        let sets = [
            rs(1, "web:v1", 3, 3, &[]),
            rs(2, "web:v2", 0, 0, &[]),
            rs(3, "web:v3", 1, 0, &[]),
        ];
        assert_eq!(chosen(&sets, "web:v3", None), Ok(1));
        let partly = [rs(1, "web:v1", 3, 2, &[]), rs(3, "web:v3", 1, 0, &[])];
        assert!(
            chosen(&partly, "web:v3", None).is_err(),
            "2 of 3 available is not known healthy"
        );
    }

    #[test]
    fn the_newest_qualifying_revision_wins_and_the_current_one_is_never_a_target() {
        let sets = [
            rs(1, "web:v1", 0, 0, &[SEEN]),
            rs(2, "web:v2", 0, 0, &[SEEN]),
            rs(3, "web:v3", 1, 0, &[]),
        ];
        assert_eq!(chosen(&sets, "web:v3", None), Ok(2));
        let only = [rs(1, "web:v1", 3, 3, &[])];
        assert_eq!(chosen(&only, "web:v1", None), Err(NoRevision::OnlyCurrent(1)));
    }

    #[test]
    fn the_running_replica_set_is_found_by_template_without_its_hash() {
        let sets = [rs(1, "web:v1", 0, 0, &[]), rs(2, "web:v2", 1, 1, &[])];
        assert_eq!(
            running(&sets, &template("web:v1")).and_then(rs_hash).as_deref(),
            Some("h1")
        );
        assert!(running(&sets, &template("web:v9")).is_none());
    }
}
