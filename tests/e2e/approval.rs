//! Approval belongs to one step and one person: only the waiting step's token approves, the
//! approver is recorded, and the chart's admission policy keeps approvals to approvers acting
//! in their own name.

use crate::harness::*;
use crate::lifecycle::{incident, playbook, AVAILABLE};
use dontpanic::api::{Incident, IncidentStatus, Phase, StepState, APPROVAL_ANNOTATION, APPROVED_BY_ANNOTATION};
use k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{Api, ListParams, PostParams};
use serde_json::json;
use std::time::Duration;

/// The testbed's admin user (`O=system:masters`): an approver under the chart's default groups.
const ADMIN: &str = "testbed-admin";

/// Long enough for several reconciles of a waiting Incident (it requeues every 5s).
const SEVERAL_RECONCILES: Duration = Duration::from_secs(12);

fn count(st: &IncidentStatus, type_: &str) -> usize {
    st.timeline.iter().filter(|e| e.type_ == type_).count()
}

fn approver(st: &IncidentStatus, step: usize) -> Option<String> {
    st.steps[step].approval.as_ref().and_then(|a| a.approved_by.clone())
}

/// `kubectl annotate` on the Incident, as the admin or as `(user, group)` by impersonation;
/// returns whether the API server accepted it.
fn annotate(ns: &TestNamespace, name: &str, user: Option<(&str, &str)>, pairs: &[(&str, &str)]) -> bool {
    let target = format!("incident/{name}");
    let mut args = vec![
        "annotate".to_string(),
        "--overwrite".into(),
        "-n".into(),
        ns.name.clone(),
        target,
    ];
    if let Some((user, group)) = user {
        args.push(format!("--as={user}"));
        args.push(format!("--as-group={group}"));
    }
    args.extend(pairs.iter().map(|(k, v)| format!("{k}={v}")));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    kubectl(&args, None).0
}

#[tokio::test]
async fn an_approval_from_before_the_step_waits_is_ignored_and_the_real_one_names_the_approver() {
    let ns = TestNamespace::new("dp-approve-early").await;
    bad_release_with_playbook(&ns, &playbook("approval", "[{action: RollbackDeployment}]", AVAILABLE)).await;
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    // Approved before any step waits (the operator is not even running yet), by an approver in
    // their own name, which the admission policy lets through: it must approve nothing.
    assert!(annotate(
        &ns,
        "checkout-500",
        None,
        &[(APPROVAL_ANNOTATION, "true"), (APPROVED_BY_ANNOTATION, ADMIN)]
    ));
    let _op = Operator::start(&ns.name, &[]);

    let st = wait_phase(&ns, "checkout-500", Phase::AwaitingApproval, Duration::from_secs(60)).await;
    let token = st.steps[0]
        .approval
        .clone()
        .expect("the waiting step has a request")
        .token;
    tokio::time::sleep(SEVERAL_RECONCILES).await;
    let st = incident_status(&ns, "checkout-500").await;
    let text = timeline_text(&st);
    assert_eq!(st.phase, Some(Phase::AwaitingApproval), "{text}");
    assert_eq!(st.steps[0].state, StepState::AwaitingApproval, "{text}");
    assert_eq!(
        st.steps[0].approval.as_ref().map(|a| a.token.clone()),
        Some(token),
        "{text}"
    );
    assert_eq!(approver(&st, 0), None, "{text}");
    assert_eq!(st.steps[0].attempts, 0, "{text}");
    assert_eq!(
        count(&st, "ApprovalIgnored"),
        1,
        "said once, not on every reconcile:\n{text}"
    );
    assert_eq!(revisions(&ns).await, vec![1, 2], "nothing was rolled back");
    let image = |d: Deployment| d.spec.unwrap().template.spec.unwrap().containers[0].image.clone();
    assert_eq!(
        image(ns.api::<Deployment>().get("checkout").await.unwrap()).as_deref(),
        Some("shop/checkout:v2")
    );

    approve(&ns, "checkout-500");
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let text = timeline_text(&st);
    assert_eq!(st.steps[0].state, StepState::Succeeded, "{text}");
    assert_eq!(approver(&st, 0).as_deref(), Some(ADMIN), "{text}");
    assert!(st.steps[0].approval.as_ref().unwrap().approved_at.is_some());
    assert!(
        st.timeline
            .iter()
            .any(|e| e.type_ == "Approved" && e.message.contains(&format!("approved by {ADMIN}"))),
        "{text}"
    );
    assert_eq!(revisions(&ns).await, vec![2, 3]);
}

#[tokio::test]
async fn approving_the_first_step_does_not_approve_the_second() {
    let ns = TestNamespace::new("dp-approve-steps").await;
    // One revision only: the rollback has nowhere to go and fails, so the restart comes next.
    create_app(&ns, "checkout", 3).await;
    apply_yaml(
        &ns.api::<dontpanic::api::Playbook>(),
        &playbook(
            "approval",
            "[{name: rollback, action: RollbackDeployment}, {name: restart, action: RestartDeployment}]",
            AVAILABLE,
        ),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(
        &ns.api::<Incident>(),
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {name: checkout-500}\nspec: {summary: 'checkout returns 500', severity: Major, target: {kind: Deployment, name: checkout}}\n",
    )
    .await;
    let st = wait_phase(&ns, "checkout-500", Phase::AwaitingApproval, Duration::from_secs(60)).await;
    assert_eq!(st.steps[0].state, StepState::AwaitingApproval, "{}", timeline_text(&st));
    approve(&ns, "checkout-500");

    let st = wait_status(
        &ns,
        "checkout-500",
        "step restart to wait for its own approval",
        Duration::from_secs(60),
        |st| st.steps[0].state == StepState::Failed && st.steps[1].state == StepState::AwaitingApproval,
    )
    .await;
    let first = st.steps[0].approval.clone().unwrap();
    let second = st.steps[1].approval.clone().expect("step restart has its own request");
    assert_eq!(first.approved_by.as_deref(), Some(ADMIN));
    assert_ne!(first.token, second.token);
    let before = ns.api::<Deployment>().get("checkout").await.unwrap();

    tokio::time::sleep(SEVERAL_RECONCILES).await;
    let st = incident_status(&ns, "checkout-500").await;
    let text = timeline_text(&st);
    assert_eq!(st.phase, Some(Phase::AwaitingApproval), "{text}");
    assert_eq!(st.steps[1].state, StepState::AwaitingApproval, "{text}");
    assert_eq!(st.steps[1].attempts, 0, "{text}");
    assert_eq!(approver(&st, 1), None, "{text}");
    assert_eq!(count(&st, "ApprovalIgnored"), 1, "{text}");
    assert_eq!(
        incident_annotations(&ns, "checkout-500").await.get(APPROVAL_ANNOTATION),
        Some(&first.token),
        "step rollback's approval is still there, and approves nothing more"
    );
    let after = ns.api::<Deployment>().get("checkout").await.unwrap();
    assert_eq!(
        after.metadata.generation, before.metadata.generation,
        "nothing restarted"
    );
    assert_eq!(after.spec.unwrap().template, before.spec.clone().unwrap().template);

    approve(&ns, "checkout-500");
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let text = timeline_text(&st);
    assert_eq!(st.steps[1].state, StepState::Succeeded, "{text}");
    assert_eq!(approver(&st, 1).as_deref(), Some(ADMIN), "{text}");
    assert_eq!(count(&st, "Approved"), 2, "{text}");
    let restarted = ns.api::<Deployment>().get("checkout").await.unwrap();
    assert!(restarted.metadata.generation > before.metadata.generation, "{text}");
}

/// Fails unless the chart's approval policy is installed, so the refusals below are its doing.
async fn policy_installed() {
    let policies = Api::<ValidatingAdmissionPolicy>::all(admin_client().await)
        .list(&ListParams::default().labels("app.kubernetes.io/part-of=dontpanic"))
        .await
        .expect("ValidatingAdmissionPolicies list (admissionregistration.k8s.io/v1)");
    assert!(
        policies
            .items
            .iter()
            .any(|p| p.metadata.name.as_deref().is_some_and(|n| n.ends_with("-approval"))),
        "the chart's approval policy is not installed (make chart-install)"
    );
}

/// Lets `users` get and patch Incidents in the namespace, so that only the policy can refuse them.
async fn grant_incident_patch(ns: &TestNamespace, users: &[&str]) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "incident-patch"},
        "rules": [{"apiGroups": ["dontpanic.dev"], "resources": ["incidents"], "verbs": ["get", "patch"]}]
    }))
    .unwrap();
    ns.api::<Role>().create(&PostParams::default(), &role).await.unwrap();
    let subjects: Vec<_> = users
        .iter()
        .map(|u| json!({"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": u}))
        .collect();
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "incident-patch"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "incident-patch"},
        "subjects": subjects
    }))
    .unwrap();
    ns.api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_admission_policy_lets_only_approvers_approve_in_their_own_name() {
    policy_installed().await;
    let ns = TestNamespace::new("dp-approve-policy").await;
    let approved_at_creation = format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata:\n  name: checkout-500\n  annotations: {{{APPROVAL_ANNOTATION}: 'true', {APPROVED_BY_ANNOTATION}: {ADMIN}}}\nspec: {{summary: 'checkout returns 500', target: {{kind: Deployment, name: checkout}}}}\n"
    );
    let (ok, _, _) = kubectl(&["apply", "-n", &ns.name, "-f", "-"], Some(&approved_at_creation));
    assert!(!ok, "an Incident created approved is refused, even from an approver");
    assert!(ns.api::<Incident>().get_opt("checkout-500").await.unwrap().is_none());
    let (ok, _, err) = kubectl(
        &["apply", "-n", &ns.name, "-f", "-"],
        Some(&incident("checkout-500", "checkout")),
    );
    assert!(ok, "{err}");

    grant_incident_patch(&ns, &["alice", "mallory"]).await;
    let alice = Some(("alice", "dontpanic:approvers"));
    let mallory = Some(("mallory", "team-checkout"));
    let approval = |by: &'static str| {
        [
            (APPROVAL_ANNOTATION, "0123456789abcdef0123"),
            (APPROVED_BY_ANNOTATION, by),
        ]
    };

    assert!(
        !annotate(&ns, "checkout-500", mallory, &approval("mallory")),
        "mallory is no approver"
    );
    assert!(
        !annotate(&ns, "checkout-500", alice, &approval("bob")),
        "alice approves in her own name only"
    );
    assert!(!incident_annotations(&ns, "checkout-500")
        .await
        .contains_key(APPROVAL_ANNOTATION));
    assert!(
        annotate(&ns, "checkout-500", mallory, &[("team", "checkout")]),
        "mallory may annotate otherwise: the refusal above was the policy's"
    );

    assert!(annotate(&ns, "checkout-500", alice, &approval("alice")));
    assert_eq!(
        incident_annotations(&ns, "checkout-500")
            .await
            .get(APPROVED_BY_ANNOTATION)
            .map(String::as_str),
        Some("alice")
    );
    assert!(
        !annotate(&ns, "checkout-500", mallory, &[(APPROVED_BY_ANNOTATION, "mallory")]),
        "nobody else rewrites who approved"
    );
    assert!(
        !annotate(&ns, "checkout-500", mallory, &[(APPROVAL_ANNOTATION, "another-token")]),
        "nor what was approved"
    );
    let after = incident_annotations(&ns, "checkout-500").await;
    assert_eq!(after.get(APPROVED_BY_ANNOTATION).map(String::as_str), Some("alice"));
    assert_eq!(
        after.get(APPROVAL_ANNOTATION).map(String::as_str),
        Some("0123456789abcdef0123")
    );
}
