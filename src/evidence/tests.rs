use super::build_evidence;
use crate::api::LogEvidence;
use chrono::{TimeZone, Utc};

#[test]
fn evidence_from_a_failing_rollout() {
    let fixture = crate::triage::tests::load("rollout-new-replicaset-crashlooping.yaml");
    let logs = vec![LogEvidence {
        pod: "checkout-v2-a".into(),
        container: "app".into(),
        lines: vec![],
        unavailable: Some("logs not available: no kubelet".into()),
    }];
    let now = Utc.with_ymd_and_hms(2026, 11, 23, 10, 5, 0).unwrap();
    let evidence = build_evidence(&fixture.observation(), logs, now);
    assert_eq!(evidence.failing_pods.len(), 1);
    let pod = &evidence.failing_pods[0];
    assert_eq!(pod.name, "checkout-v2-a");
    assert_eq!(pod.node.as_deref(), Some("node-0"));
    assert_eq!(pod.reason, "CrashLoopBackOff");
    assert_eq!(pod.revision, Some(2));
    assert_eq!(
        evidence.rollout_history.iter().map(|r| r.revision).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(evidence.rollout_history[1].images, vec!["shop/checkout:v1"]);
    assert_eq!(evidence.rollout_history[1].build.as_deref(), Some("v1"));
    // The warning event's first timestamp is the earliest failure visible.
    assert_eq!(
        evidence.first_error_time,
        Some(Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 1).unwrap())
    );
    assert!(evidence.first_error_source.unwrap().contains("BackOff"));
    assert_eq!(evidence.warning_events.len(), 1);
    assert!(evidence.notes.iter().any(|n| n.contains("no log lines")));
}

#[test]
fn clip_marks_cuts_on_char_boundaries() {
    assert_eq!(super::clip("héllo wörld", 5), "héll…");
    assert_eq!(super::clip("short", 10), "short");
}
