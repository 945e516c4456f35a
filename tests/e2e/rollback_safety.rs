//! Never make it worse: a rollback goes to the last release known healthy, never to one an
//! earlier Incident rolled back from; a write the API server refuses because the Deployment
//! moved under it is decided again; and a change planned for a world someone else has changed
//! since is not made.

use crate::conflicts::{AdmissionFaults, FaultedWrites};
use crate::harness::*;
use crate::lifecycle::{incident, playbook};
use dontpanic::api::{Incident, Phase, StepState};
use dontpanic::kubeutil::{revision_of, HEALTHY_AT_ANNOTATION, KNOWN_BAD_ANNOTATION};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;
use std::time::Duration;

const AVAILABLE: &str = "{interval: 1s, count: 2, checks: [{name: available, kubernetes: {available: true}}]}";

/// A Playbook whose cooldown lets a second Incident act on the target seconds after the first.
fn quick_playbook(steps: &str) -> String {
    playbook("auto", steps, AVAILABLE).replace("cooldown: 5m", "cooldown: 1s")
}

/// The image of the Deployment's pod template.
async fn template_image(ns: &TestNamespace) -> String {
    let d = ns.api::<Deployment>().get("checkout").await.unwrap();
    d.spec.unwrap().template.spec.unwrap().containers[0]
        .image
        .clone()
        .unwrap_or_default()
}

/// The ReplicaSet whose template runs `image`.
async fn replica_set_of(ns: &TestNamespace, image: &str) -> Option<ReplicaSet> {
    let list = ns.api::<ReplicaSet>().list(&Default::default()).await.unwrap();
    list.items.into_iter().find(|rs| {
        rs.spec
            .as_ref()
            .and_then(|s| s.template.as_ref())
            .and_then(|t| t.spec.as_ref())
            .is_some_and(|s| s.containers[0].image.as_deref() == Some(image))
    })
}

fn annotation(rs: &ReplicaSet, key: &str) -> Option<String> {
    rs.metadata.annotations.as_ref()?.get(key).cloned()
}

/// Asserts that the ReplicaSet is marked known bad by `incident` of the test's namespace.
fn assert_known_bad_by(ns: &TestNamespace, rs: &ReplicaSet, incident: &str) {
    let mark = annotation(rs, KNOWN_BAD_ANNOTATION).unwrap_or_default();
    assert!(
        mark.starts_with(&format!("{}/{incident} at ", ns.name)),
        "{:?} marked known bad by {incident}: {mark:?}",
        rs.metadata.name
    );
}

/// Waits until the operator has recorded v1's ReplicaSet as healthy: proof it watches the
/// Deployment before anything goes wrong.
async fn wait_v1_recorded_healthy(ns: &TestNamespace) {
    eventually("v1 recorded as healthy", Duration::from_secs(30), || async {
        let rs = replica_set_of(ns, "shop/checkout:v1").await.ok_or("no v1 ReplicaSet")?;
        annotation(&rs, HEALTHY_AT_ANNOTATION)
            .map(|_| ())
            .ok_or_else(|| format!("annotations {:?}", rs.metadata.annotations))
    })
    .await;
}

/// v1 healthy, v2 crash-looping, and a first Incident that rolls v2 back to v1 (so v2 is known
/// bad), with v1 serving again.
async fn v2_rolled_back_by_a_first_incident(ns: &TestNamespace) {
    apply_yaml(
        &ns.api::<dontpanic::api::Playbook>(),
        &quick_playbook("[{action: RollbackDeployment}]"),
    )
    .await;
    create_app(ns, "checkout", 3).await;
    wait_v1_recorded_healthy(ns).await;
    roll_out_crashloop(ns, "checkout", "v2").await;
    apply_yaml(&ns.api::<Incident>(), &incident("first", "checkout")).await;
    let st = wait_phase(ns, "first", Phase::Resolved, Duration::from_secs(90)).await;
    let change = st.steps[0].intent.clone().unwrap();
    assert_eq!(change.to_images, vec!["shop/checkout:v1"], "{}", timeline_text(&st));
    wait_available(ns, "checkout", 3, "shop/checkout:v1").await;
    let v2 = replica_set_of(ns, "shop/checkout:v2").await.expect("v2's ReplicaSet");
    assert_known_bad_by(ns, &v2, "first");
}

#[tokio::test]
async fn a_second_rollback_skips_the_known_bad_release_for_the_last_healthy_one() {
    let ns = TestNamespace::new("dp-knownbad").await;
    let _op = Operator::start(&ns.name, &[]);
    v2_rolled_back_by_a_first_incident(&ns).await;
    // The bad release is deployed again, then another bad one on top: the newest earlier
    // revision is now v2's, which the first Incident rolled back from.
    roll_out_crashloop(&ns, "checkout", "v2").await;
    eventually(
        "v2 to be the newest revision again",
        Duration::from_secs(30),
        || async {
            let v1 = replica_set_of(&ns, "shop/checkout:v1").await.ok_or("no v1")?;
            let v2 = replica_set_of(&ns, "shop/checkout:v2").await.ok_or("no v2")?;
            let (r1, r2) = (revision_of(&v1.metadata), revision_of(&v2.metadata));
            if r2 > r1 {
                Ok(())
            } else {
                Err(format!("v1 revision {r1}, v2 revision {r2}"))
            }
        },
    )
    .await;
    roll_out_crashloop(&ns, "checkout", "v3").await;
    apply_yaml(&ns.api::<Incident>(), &incident("second", "checkout")).await;
    let st = wait_phase(&ns, "second", Phase::Resolved, Duration::from_secs(90)).await;
    let text = timeline_text(&st);
    assert_eq!(st.steps[0].state, StepState::Succeeded, "{text}");
    let change = st.steps[0].intent.clone().unwrap();
    assert_eq!(change.from_images, vec!["shop/checkout:v3"], "{text}");
    assert_eq!(change.to_images, vec!["shop/checkout:v1"], "{text}");
    wait_available(&ns, "checkout", 3, "shop/checkout:v1").await;
    assert_eq!(template_image(&ns).await, "shop/checkout:v1");

    let v1 = replica_set_of(&ns, "shop/checkout:v1").await.unwrap();
    let v2 = replica_set_of(&ns, "shop/checkout:v2").await.unwrap();
    let v3 = replica_set_of(&ns, "shop/checkout:v3").await.unwrap();
    assert_eq!(annotation(&v1, KNOWN_BAD_ANNOTATION), None);
    assert!(annotation(&v1, HEALTHY_AT_ANNOTATION).is_some());
    assert_known_bad_by(&ns, &v2, "first");
    assert_known_bad_by(&ns, &v3, "second");
    assert!(
        revision_of(&v1.metadata) > revision_of(&v3.metadata),
        "v1 is the newest revision again"
    );
}

#[tokio::test]
async fn with_the_last_healthy_release_gone_the_incident_escalates_with_the_reason() {
    let ns = TestNamespace::new("dp-nohealthy").await;
    let _op = Operator::start(&ns.name, &[]);
    v2_rolled_back_by_a_first_incident(&ns).await;
    roll_out_crashloop(&ns, "checkout", "v3").await;
    let v1 = replica_set_of(&ns, "shop/checkout:v1").await.unwrap();
    let v1_name = v1.metadata.name.clone().unwrap();
    ns.api::<ReplicaSet>()
        .delete(&v1_name, &DeleteParams::background())
        .await
        .expect("v1's ReplicaSet deleted");
    eventually("v1's ReplicaSet to be gone", Duration::from_secs(30), || async {
        match replica_set_of(&ns, "shop/checkout:v1").await {
            None => Ok(()),
            Some(_) => Err("still there".to_string()),
        }
    })
    .await;
    let generation = ns
        .api::<Deployment>()
        .get("checkout")
        .await
        .unwrap()
        .metadata
        .generation;

    apply_yaml(&ns.api::<Incident>(), &incident("second", "checkout")).await;
    let st = wait_phase(&ns, "second", Phase::Escalated, Duration::from_secs(60)).await;
    let text = timeline_text(&st);
    assert_eq!(st.steps[0].state, StepState::Failed, "{text}");
    let message = st.steps[0].message.clone().unwrap_or_default();
    assert!(
        message.contains("no revision known to be healthy to roll back to") && message.contains("known bad"),
        "{message}"
    );
    assert_eq!(template_image(&ns).await, "shop/checkout:v3", "nothing was rolled back");
    let after = ns
        .api::<Deployment>()
        .get("checkout")
        .await
        .unwrap()
        .metadata
        .generation;
    assert_eq!(after, generation, "the Deployment was not written");
}

#[tokio::test]
async fn a_rollback_patch_refused_with_422_is_decided_again_and_lands_once() {
    let ns = TestNamespace::new("dp-rollback422").await;
    bad_release_with_playbook(&ns, &playbook("auto", "[{action: RollbackDeployment}]", AVAILABLE)).await;
    let writes = FaultedWrites {
        resource: "deployments",
        rule: json!({"apiGroups": ["apps"], "apiVersions": ["v1"], "operations": ["UPDATE"], "resources": ["deployments"]}),
        field_manager: Some("dontpanic"),
    };
    let faults = AdmissionFaults::start_for(&ns, writes, &[1], 422).await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let text = timeline_text(&st);

    let writes: Vec<_> = faults.requests().into_iter().filter(|r| !r["n"].is_null()).collect();
    assert_eq!(writes.len(), 2, "one refused write, then one that landed: {writes:?}");
    assert_eq!(
        (writes[0]["refused"].as_bool(), writes[1]["refused"].as_bool()),
        (Some(true), Some(false))
    );
    assert_eq!(st.steps[0].state, StepState::Succeeded, "{text}");
    assert_eq!(
        st.steps[0].attempts, 1,
        "decided again inside the step, not retried: {text}"
    );
    let succeeded = st.timeline.iter().filter(|e| e.type_ == "StepSucceeded").count();
    assert_eq!(succeeded, 1, "{text}");
    wait_available(&ns, "checkout", 3, "shop/checkout:v1").await;
    assert_eq!(
        revisions(&ns).await,
        vec![2, 3],
        "exactly one rollback: v1 became revision 3"
    );
}

#[tokio::test]
async fn a_scale_planned_before_someone_else_scaled_does_not_override_them() {
    let ns = TestNamespace::new("dp-scaledrift").await;
    create_app(&ns, "checkout", 2).await;
    apply_yaml(
        &ns.api::<dontpanic::api::Playbook>(),
        &playbook("auto", "[{action: ScaleDeployment, replicas: 4}]", AVAILABLE),
    )
    .await;
    let mut op = Operator::start(&ns.name, &["--exit-after-intent"]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-slow", "checkout")).await;
    op.expect_killed_at_crash_point();
    let st = incident_status(&ns, "checkout-slow").await;
    let intent = st.steps[0].intent.clone().expect("the intent is recorded");
    assert_eq!((intent.from_replicas, intent.to_replicas), (Some(2), Some(4)));

    // A person scales the Deployment while the operator is down.
    let by_hand = PatchParams {
        field_manager: Some("oncall-human".into()),
        ..PatchParams::default()
    };
    ns.api::<Deployment>()
        .patch("checkout", &by_hand, &Patch::Merge(json!({"spec": {"replicas": 3}})))
        .await
        .expect("scaled by hand");
    op.extra_clear();
    op.spawn(&[]);
    let st = eventually("the resumed step to finish", Duration::from_secs(60), || async {
        let st = incident_status(&ns, "checkout-slow").await;
        match st.steps[0].state {
            StepState::Running | StepState::Pending => Err(format!("step {:?}", st.steps[0].state)),
            _ => Ok(st),
        }
    })
    .await;
    let text = timeline_text(&st);
    assert_ne!(st.steps[0].state, StepState::Succeeded, "{text}");
    // Planned again from the new state, the step now waits for a human: someone is acting.
    assert_eq!(st.steps[0].state, StepState::AwaitingApproval, "{text}");
    let why = st.approval_required_because.clone().unwrap_or_default();
    assert!(
        why.contains("has 3 replicas") && why.contains("oncall-human"),
        "the Incident says what changed and who changed it: {why}"
    );
    assert!(text.contains("TargetChanged"), "{text}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let replicas = spec_replicas(&ns, "checkout").await;
    assert_eq!(replicas, Some(3), "the person's newer change stands:\n{text}");
}
