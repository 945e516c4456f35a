//! Rollout health detection on the testbed: a failing rollout is rolled back with nobody
//! touching anything, and healthy or merely slow rollouts open nothing.

use crate::harness::*;
use dontpanic::api::{Incident, IncidentSource, Phase, Playbook, StepState};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use std::time::{Duration, Instant};

fn detecting_playbook(unavailable_for: &str) -> String {
    format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: web}}\nspec:\n  selector: {{kinds: [Deployment], matchLabels: {{tier: web}}}}\n  detection: {{rolloutHealth: {{unavailableFor: {unavailable_for}}}}}\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: [{{action: RollbackDeployment}}]\n  validation: {{interval: 1s, count: 2, checks: [{{name: available, kubernetes: {{available: true}}}}]}}\n  safety: {{mode: auto, cooldown: 5m, maxAttempts: 2}}\n  responder: alice\n"
    )
}

#[tokio::test]
async fn detection_a_crash_looping_rollout_is_rolled_back_with_nobody_touching_anything() {
    let ns = TestNamespace::new("dp-detect").await;
    create_app(&ns, "checkout", 3).await;
    apply_yaml(&ns.api::<Playbook>(), &detecting_playbook("20s")).await;
    let _op = Operator::start(&ns.name, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await;
    roll_out_crashloop(&ns, "checkout", "v2").await;

    let st = wait_phase(&ns, "checkout-rollout-2", Phase::Resolved, Duration::from_secs(120)).await;
    let text = timeline_text(&st);
    let incident = ns.api::<Incident>().get("checkout-rollout-2").await.unwrap();
    assert_eq!(incident.spec.source, IncidentSource::HealthCheck);
    let observed = incident.spec.observed_at.expect("observedAt is set");
    assert!(
        st.timeline[0].type_ == "Detected" && st.timeline[0].message.contains("failure first observable at"),
        "{text}"
    );
    assert_eq!(st.responder.as_deref(), Some("alice"));
    assert_eq!(st.steps[0].state, StepState::Succeeded, "{text}");
    let change = st.steps[0].intent.clone().unwrap();
    assert_eq!((change.from_revision, change.to_revision), (Some(2), Some(1)), "{text}");
    let rollback_at = st.steps[0].started_at.expect("the rollback started");
    let detected_at = st.times.as_ref().and_then(|t| t.detected_at).unwrap();
    println!(
        "detection latency: first CrashLoopBackOff/not-ready at {} → incident at {} ({:.2}s) → rollback patch at {} ({:.2}s after the failure was first observable)",
        observed.to_rfc3339(),
        detected_at.to_rfc3339(),
        (detected_at - observed).num_milliseconds() as f64 / 1000.0,
        rollback_at.to_rfc3339(),
        (rollback_at - observed).num_milliseconds() as f64 / 1000.0,
    );
    assert!(rollback_at >= observed);
    wait_available(&ns, "checkout", 3, "shop/checkout:v1").await;
    // The healthy rollback opens nothing more.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let all = ns.api::<Incident>().list(&Default::default()).await.unwrap();
    assert_eq!(
        all.items.len(),
        1,
        "one incident: {:?}",
        all.items.iter().map(|i| i.metadata.name.clone()).collect::<Vec<_>>()
    );
}

async fn patch_template(ns: &TestNamespace, name: &str, patch: serde_json::Value) {
    ns.api::<Deployment>()
        .patch(
            name,
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"template": patch}})),
        )
        .await
        .expect("rollout patched");
}

#[tokio::test]
async fn detection_healthy_and_slow_but_in_time_rollouts_open_nothing() {
    let ns = TestNamespace::new("dp-nofalse").await;
    create_app(&ns, "checkout", 2).await;
    apply_yaml(&ns.api::<Playbook>(), &detecting_playbook("15s")).await;
    let _op = Operator::start(&ns.name, &[]);
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A healthy rollout.
    patch_template(
        &ns,
        "checkout",
        json!({"spec": {"containers": [{"name": "app", "image": "shop/checkout:v2"}]}}),
    )
    .await;
    wait_available(&ns, "checkout", 2, "shop/checkout:v2").await;

    // A slow one: its pods are not Ready for a while (less than unavailableFor), then fixed.
    let slow_started = Instant::now();
    patch_template(
        &ns,
        "checkout",
        json!({"metadata": {"labels": {"testbed.dontpanic.dev/behavior": "not-ready"}},
               "spec": {"containers": [{"name": "app", "image": "shop/checkout:v3"}]}}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    patch_template(
        &ns,
        "checkout",
        json!({"metadata": {"labels": {"testbed.dontpanic.dev/behavior": null}},
               "spec": {"containers": [{"name": "app", "image": "shop/checkout:v4"}]}}),
    )
    .await;
    wait_available(&ns, "checkout", 2, "shop/checkout:v4").await;
    // Wait past the window the slow pods would have needed to count as failed.
    let past_window = Duration::from_secs(18).saturating_sub(slow_started.elapsed());
    tokio::time::sleep(past_window).await;
    let all = ns.api::<Incident>().list(&Default::default()).await.unwrap();
    assert!(
        all.items.is_empty(),
        "no incident expected, found {:?}",
        all.items.iter().map(|i| i.metadata.name.clone()).collect::<Vec<_>>()
    );
}
