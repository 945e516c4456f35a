//! The detection decision from YAML fixtures in tests/fixtures/detection, and what detection
//! does about a failure given the Incidents already open.

use super::{decide_open, health, incident_name, open_incident_for, DetectedAgain, Health, OpenOutcome};
use crate::api::{Incident, IncidentStatus, Phase, TargetKind, DETECTED_AGAIN_ANNOTATION};
use chrono::{DateTime, Utc};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use serde::Deserialize;
use std::sync::Arc;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fixture {
    now: DateTime<Utc>,
    unavailable_for: String,
    expect: Expect,
    deployment: Deployment,
    #[serde(default)]
    replica_sets: Vec<ReplicaSet>,
    #[serde(default)]
    pods: Vec<Pod>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Expect {
    state: String,
    revision: Option<i64>,
    since: Option<DateTime<Utc>>,
    reason_contains: Option<String>,
    recheck_at: Option<DateTime<Utc>>,
}

fn judge(name: &str) -> (Health, Expect) {
    let path = format!("{}/tests/fixtures/detection/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let f: Fixture = serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    let window = chrono::Duration::from_std(crate::duration::parse_duration(&f.unavailable_for).unwrap()).unwrap();
    (health(&f.deployment, &f.replica_sets, &f.pods, window, f.now), f.expect)
}

fn check(name: &str) {
    let (got, expect) = judge(name);
    match (&got, expect.state.as_str()) {
        (Health::Healthy, "Healthy") => {}
        (Health::Pending { recheck_at }, "Pending") => assert_eq!(Some(*recheck_at), expect.recheck_at, "{name}"),
        (
            Health::Failing {
                revision,
                reason,
                since,
            },
            "Failing",
        ) => {
            assert_eq!(Some(*revision), expect.revision, "{name}");
            assert_eq!(Some(*since), expect.since, "{name}");
            let want = expect.reason_contains.unwrap_or_default();
            assert!(reason.contains(&want), "{name}: {reason:?} lacks {want:?}");
        }
        _ => panic!("{name}: expected {}, got {got:?}", expect.state),
    }
}

#[test]
fn a_crash_looping_newest_replica_set_fails_at_once_since_its_first_trouble() {
    check("crashloop.yaml");
}

#[test]
fn a_ready_rollout_is_healthy() {
    check("healthy.yaml");
}

#[test]
fn a_slow_rollout_within_the_window_is_rechecked_when_the_window_ends() {
    check("slow-within-window.yaml");
}

#[test]
fn pods_not_ready_beyond_the_window_fail() {
    check("not-ready-too-long.yaml");
}

#[test]
fn progress_deadline_exceeded_fails_within_the_window() {
    check("progress-deadline.yaml");
}

#[test]
fn only_the_newest_replica_set_is_judged() {
    check("old-revision-crashing.yaml");
}

fn incident(name: &str, target: &str, phase: Option<Phase>, again: Option<&DetectedAgain>) -> Arc<Incident> {
    let mut annotations = serde_json::Map::new();
    if let Some(a) = again {
        annotations.insert(
            DETECTED_AGAIN_ANNOTATION.into(),
            serde_json::to_string(a).unwrap().into(),
        );
    }
    let mut inc: Incident = serde_json::from_value(serde_json::json!({
        "apiVersion": "dontpanic.dev/v1alpha1", "kind": "Incident",
        "metadata": {"name": name, "namespace": "shop", "annotations": annotations},
        "spec": {"summary": "x", "target": {"kind": "Deployment", "name": target}}
    }))
    .unwrap();
    inc.status = Some(IncidentStatus {
        phase,
        ..Default::default()
    });
    Arc::new(inc)
}

#[test]
fn incident_names_are_deterministic_per_revision() {
    assert_eq!(incident_name("checkout", 2), "checkout-rollout-2");
    assert!(incident_name(&"x".repeat(300), 12).len() <= 253);
}

#[test]
fn one_open_incident_per_target_and_failing_again_is_added_once() {
    let now = Utc::now();
    let all = vec![
        incident("old", "web", Some(Phase::Resolved), None),
        incident("other", "api", Some(Phase::Mitigating), None),
    ];
    assert!(open_incident_for(&all, "shop", TargetKind::Deployment, "web").is_none());
    assert!(open_incident_for(&all, "shop", TargetKind::Deployment, "api").is_some());
    assert_eq!(decide_open(None, "web", 2, "crash", now), OpenOutcome::Create);

    let own = incident("web-rollout-2", "web", Some(Phase::Mitigating), None);
    assert_eq!(decide_open(Some(&own), "web", 2, "crash", now), OpenOutcome::Nothing);

    let manual = incident("web-500", "web", Some(Phase::Triaging), None);
    let OpenOutcome::AddToOpen { incident: name, note } = decide_open(Some(&manual), "web", 3, "crash", now) else {
        panic!("expected the failure to be added to the open incident");
    };
    assert_eq!((name.as_str(), note.key.as_str()), ("web-500", "revision-3"));
    let noted = incident("web-500", "web", Some(Phase::Triaging), Some(&note));
    assert_eq!(
        decide_open(Some(&noted), "web", 3, "crash again", now),
        OpenOutcome::Nothing,
        "no storm"
    );
    assert!(matches!(
        decide_open(Some(&noted), "web", 4, "crash", now),
        OpenOutcome::AddToOpen { .. }
    ));
}
