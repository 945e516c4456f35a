//! Never make it worse, on the testbed: a fix shipped during an approval wait is not undone,
//! one target gets one mitigation however Incidents race, the concurrency limit is exact, and a
//! crash right after a revert's intent reverts once.

use crate::harness::*;
use crate::lifecycle::{incident, playbook};
use dontpanic::api::{Incident, Phase, RevertState, StepState};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::Duration;

const AVAILABLE: &str = "{interval: 1s, count: 2, checks: [{name: available, kubernetes: {available: true}}]}";

fn image_of(d: &Deployment) -> String {
    d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

/// Ships a healthy release `version` of the app, as a team fixing forward does.
async fn fix_forward(ns: &TestNamespace, name: &str, version: &str) {
    let patch = json!({"spec": {"template": {
        "metadata": {"labels": {"testbed.dontpanic.dev/behavior": null}, "annotations": {"dontpanic.dev/build": "1003"}},
        "spec": {"containers": [{"name": "app", "image": format!("shop/{name}:{version}")}]}
    }}});
    ns.api::<Deployment>()
        .patch(name, &PatchParams::apply("team-ci"), &Patch::Strategic(patch))
        .await
        .expect("fix shipped");
}

#[tokio::test]
async fn a_fix_shipped_while_approval_waits_is_not_rolled_back() {
    let ns = TestNamespace::new("dp-fixforward").await;
    bad_release_with_playbook(&ns, &playbook("approval", "[{action: RollbackDeployment}]", AVAILABLE)).await;
    let mut op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    wait_phase(&ns, "checkout-500", Phase::AwaitingApproval, Duration::from_secs(60)).await;
    // While the operator is away (a restart, a slow requeue), the team ships a fix and an
    // approver who did not see it land approves the waiting rollback.
    op.kill();
    fix_forward(&ns, "checkout", "v3").await;
    wait_available(&ns, "checkout", 3, "shop/checkout:v3").await;
    approve(&ns, "checkout-500");
    op.spawn(&[]);
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(60)).await;
    let text = timeline_text(&st);
    assert!(text.contains("TargetChanged"), "{text}");
    assert!(text.contains("shop/checkout:v3"), "{text}");
    assert!(st.steps.iter().all(|s| s.started_at.is_none()), "{text}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let d = ns.api::<Deployment>().get("checkout").await.unwrap();
    assert_eq!(image_of(&d), "shop/checkout:v3", "the fix stays: {text}");
    assert_eq!(revisions(&ns).await, vec![1, 2, 3], "no rollback happened");
}

#[tokio::test]
async fn incidents_created_together_on_one_target_give_one_rollback() {
    let ns = TestNamespace::new("dp-sametime").await;
    bad_release_with_playbook(&ns, &playbook("auto", "[{action: RollbackDeployment}]", AVAILABLE)).await;
    // The operator is up and idle first, so the Incidents race through its workers.
    let _op = Operator::start(&ns.name, &[]);
    wait_ready_operator(&ns).await;
    let api = ns.api::<Incident>();
    let names: Vec<String> = (0..4).map(|i| format!("same-second-{i}")).collect();
    let creates = names.iter().map(|name| {
        let api = api.clone();
        let obj: Incident = serde_yaml::from_str(&incident(name, "checkout")).unwrap();
        async move {
            api.create(&PostParams::default(), &obj)
                .await
                .expect("incident created")
        }
    });
    futures::future::join_all(creates).await;
    let mut acted = Vec::new();
    for name in &names {
        let st = wait_closed(&ns, name).await;
        if st.steps.iter().any(|s| s.started_at.is_some()) {
            acted.push(name.clone());
        }
    }
    assert_eq!(acted.len(), 1, "exactly one Incident acts: {acted:?}");
    assert_eq!(revisions(&ns).await, vec![2, 3], "one rollback only");
}

#[tokio::test]
async fn the_concurrency_limit_holds_with_three_failing_targets() {
    let ns = TestNamespace::new("dp-limit").await;
    let apps = ["cart", "search", "payments"];
    for app in apps {
        create_app(&ns, app, 2).await;
        roll_out_crashloop(&ns, app, "v2").await;
    }
    apply_yaml(
        &ns.api::<dontpanic::api::Playbook>(),
        &playbook("auto", "[{action: RollbackDeployment}]", AVAILABLE),
    )
    .await;
    let _op = Operator::start(&ns.name, &["--max-concurrent-mitigations", "1"]);
    wait_ready_operator(&ns).await;
    let watcher = tokio::spawn(max_mitigating_at_once(ns.api::<Incident>(), Duration::from_secs(150)));
    let api = ns.api::<Incident>();
    let creates = apps.iter().map(|app| {
        let api = api.clone();
        let obj: Incident = serde_yaml::from_str(&incident(&format!("{app}-500"), app)).unwrap();
        async move {
            api.create(&PostParams::default(), &obj)
                .await
                .expect("incident created")
        }
    });
    futures::future::join_all(creates).await;
    for app in apps {
        let st = wait_phase(&ns, &format!("{app}-500"), Phase::Resolved, Duration::from_secs(150)).await;
        assert_eq!(st.steps[0].state, StepState::Succeeded, "{}", timeline_text(&st));
    }
    watcher.abort();
    let max = MAX_SEEN.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(max, 1, "never more than one mitigation in flight");
}

static MAX_SEEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Watches the Incidents and records the most that were mitigating at once: open, with a real
/// step started.
async fn max_mitigating_at_once(api: kube::Api<Incident>, limit: Duration) {
    use futures::StreamExt;
    use kube::runtime::{watcher, WatchStreamExt};
    let mut seen: std::collections::BTreeMap<String, bool> = Default::default();
    let stream = watcher(api, watcher::Config::default()).applied_objects();
    let mut stream = std::pin::pin!(stream);
    let deadline = tokio::time::Instant::now() + limit;
    while let Ok(Some(Ok(inc))) = tokio::time::timeout_at(deadline, stream.next()).await {
        let st = inc.status.clone().unwrap_or_default();
        let mitigating =
            !st.phase.is_some_and(|p| p.is_closed()) && st.steps.iter().any(|s| s.started_at.is_some() && !s.dry_run);
        seen.insert(inc.metadata.name.clone().unwrap_or_default(), mitigating);
        let now = seen.values().filter(|m| **m).count();
        MAX_SEEN.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_crash_right_after_a_revert_intent_reverts_once() {
    let ns = TestNamespace::new("dp-revertcrash").await;
    // Scaling a crash-looping release up does not make it available: validation fails and the
    // scale is reverted.
    let steps = "[{action: ScaleDeployment, replicas: 5, revertOnFailure: true}]";
    let failing_validation =
        "{interval: 1s, count: 2, failureLimit: 0, checks: [{name: available, kubernetes: {available: true}}]}";
    bad_release_with_playbook(&ns, &playbook("auto", steps, failing_validation)).await;
    // Validation waits for a rollout to settle unless it is past its progress deadline, which a
    // crash-looping release soon is with a short one.
    ns.api::<Deployment>()
        .patch(
            "checkout",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"progressDeadlineSeconds": 3}})),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let generation_before = ns
        .api::<Deployment>()
        .get("checkout")
        .await
        .unwrap()
        .metadata
        .generation
        .unwrap();
    let mut op = Operator::start(&ns.name, &["--exit-after-revert-intent"]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    op.expect_killed_at_crash_point();
    let st = incident_status(&ns, "checkout-500").await;
    let revert = st.steps[0].revert.clone().expect("the revert intent is on record");
    assert_eq!(revert.state, RevertState::Running, "{}", timeline_text(&st));
    assert_eq!(
        (revert.intent.from_replicas, revert.intent.to_replicas),
        (Some(5), Some(3))
    );
    let d = ns.api::<Deployment>().get("checkout").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(5), "the revert had not run yet");
    op.extra_clear();
    op.spawn(&[]);
    let st = wait_closed(&ns, "checkout-500").await;
    let text = timeline_text(&st);
    assert_eq!(st.phase, Some(Phase::Escalated), "{text}");
    assert!(st.steps[0].reverted, "{text}");
    assert_eq!(st.steps[0].revert.as_ref().unwrap().attempts, 1, "{text}");
    assert_eq!(text.matches("StepReverted").count(), 1, "{text}");
    let d = ns.api::<Deployment>().get("checkout").await.unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(
        d.metadata.generation.unwrap(),
        generation_before + 2,
        "one scale and one revert, nothing more: {text}"
    );
}

async fn wait_closed(ns: &TestNamespace, name: &str) -> dontpanic::api::IncidentStatus {
    let what = format!("incident {name} to close");
    wait_status(ns, name, &what, Duration::from_secs(120), |st| {
        st.phase.is_some_and(|p| p.is_closed())
    })
    .await
}

/// Proves the operator is up and reconciling before a race starts: a canary Incident on a
/// target that does not exist reaches a closed phase.
async fn wait_ready_operator(ns: &TestNamespace) {
    apply_yaml(&ns.api::<Incident>(), &incident("canary", "no-such-app")).await;
    wait_closed(ns, "canary").await;
    let _ = ns
        .api::<Incident>()
        .patch("canary", &PatchParams::default(), &Patch::Merge(json!({})))
        .await;
}
