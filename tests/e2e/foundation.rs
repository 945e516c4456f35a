//! The API contract at the API server, the operator's first steps, and its RBAC.

use crate::harness::*;
use dontpanic::api::{Incident, Phase, Playbook};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use std::time::Duration;

#[tokio::test]
async fn crds_are_established() {
    let client = admin_client().await;
    let crds = Api::<CustomResourceDefinition>::all(client);
    for name in ["incidents.dontpanic.dev", "playbooks.dontpanic.dev"] {
        let crd = crds.get(name).await.expect("CRD installed by the chart");
        let established = crd
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Established" && c.status == "True");
        assert!(established, "{name} is not Established");
    }
}

#[tokio::test]
async fn the_example_incident_is_detected_with_status_and_an_event() {
    let ns = TestNamespace::new("dp-example").await;
    let _op = Operator::start(&ns.name, &[]);
    let path = repo().join("examples/incident.yaml");
    let (ok, _, err) = kubectl(&["apply", "-n", &ns.name, "-f", path.to_str().unwrap()], None);
    assert!(ok, "kubectl apply failed: {err}");
    let api = ns.api::<Incident>();
    let status = eventually("status.phase and a Detected entry", Duration::from_secs(20), || {
        let api = api.clone();
        async move {
            let inc = api.get("checkout-500").await.map_err(|e| e.to_string())?;
            let st = inc.status.clone().unwrap_or_default();
            let detected = st.timeline.iter().any(|e| e.type_ == "Detected");
            if st.phase.is_some() && detected && st.observed_generation == inc.metadata.generation {
                Ok(st)
            } else {
                Err(format!("{st:?}"))
            }
        }
    })
    .await;
    assert!(status.timeline[0].message.contains("checkout returns 500"));
    // No app and no Playbook in this namespace: the operator says so and escalates.
    let status = wait_phase(&ns, "checkout-500", Phase::Escalated, Duration::from_secs(30)).await;
    assert!(
        timeline_text(&status).contains("no Playbook"),
        "{}",
        timeline_text(&status)
    );
    let (ok, out, _) = kubectl(
        &[
            "get",
            "events",
            "-n",
            &ns.name,
            "--field-selector",
            "involvedObject.name=checkout-500",
            "-o",
            "jsonpath={.items[*].reason}",
        ],
        None,
    );
    assert!(ok);
    assert!(out.contains("Triaging") && out.contains("Escalated"), "events: {out}");
}

fn apply_expect_rejection(ns: &str, yaml: &str, field: &str) {
    let (ok, _, err) = kubectl(&["apply", "-n", ns, "-f", "-"], Some(yaml));
    assert!(!ok, "the API server accepted an invalid object:\n{yaml}");
    assert!(err.contains(field), "the rejection does not name {field}: {err}");
}

#[tokio::test]
async fn invalid_incidents_are_rejected_by_the_api_server_naming_the_field() {
    let ns = TestNamespace::new("dp-invalid").await;
    apply_expect_rejection(
        &ns.name,
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {name: a}\nspec: {summary: x, target: {kind: Deployment, name: c}, severity: Catastrophic}\n",
        "spec.severity",
    );
    apply_expect_rejection(
        &ns.name,
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {name: b}\nspec: {summary: x}\n",
        "spec.target",
    );
    apply_expect_rejection(
        &ns.name,
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {name: c}\nspec: {summary: '', target: {kind: Deployment, name: c}}\n",
        "spec.summary",
    );
    apply_expect_rejection(
        &ns.name,
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {name: d}\nspec: {summary: x, target: {kind: Deployment, name: ''}}\n",
        "spec.target.name",
    );
    apply_expect_rejection(
        &ns.name,
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {name: p}\nspec: {safety: {cooldown: soon}}\n",
        "spec.safety.cooldown",
    );
    apply_expect_rejection(
        &ns.name,
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {name: p}\nspec: {safety: {minReplicas: 5, maxReplicas: 2}}\n",
        "minReplicas must not exceed maxReplicas",
    );
}

#[tokio::test]
async fn an_unusable_playbook_is_not_ready_with_the_reason() {
    let ns = TestNamespace::new("dp-playbook").await;
    let _op = Operator::start(&ns.name, &[]);
    let yaml = "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {name: bad}\nspec:\n  mitigations:\n    - severities: [Critical]\n      steps: [{action: RebootTheWorld}, {action: ScaleDeployment}]\n  validation:\n    checks: [{name: nothing}]\n";
    let (ok, _, err) = kubectl(&["apply", "-n", &ns.name, "-f", "-"], Some(yaml));
    assert!(ok, "{err}");
    let good = std::fs::read_to_string(repo().join("examples/playbook.yaml")).unwrap();
    let (ok, _, err) = kubectl(&["apply", "-n", &ns.name, "-f", "-"], Some(&good));
    assert!(ok, "{err}");
    let api = ns.api::<Playbook>();
    let ready = |name: &'static str| {
        let api = api.clone();
        async move {
            let pb = api.get(name).await.map_err(|e| e.to_string())?;
            pb.status
                .and_then(|s| s.conditions.into_iter().find(|c| c.type_ == "Ready"))
                .ok_or_else(|| "no Ready condition yet".to_string())
        }
    };
    let bad = eventually("Ready on the bad Playbook", Duration::from_secs(20), || ready("bad")).await;
    assert_eq!(bad.status, "False");
    assert_eq!(bad.reason, "UnknownAction");
    assert!(bad.message.contains("RebootTheWorld"), "{}", bad.message);
    assert!(
        bad.message.contains("ScaleDeployment needs `replicas`"),
        "{}",
        bad.message
    );
    assert!(bad.message.contains("exactly one provider"), "{}", bad.message);
    let good = eventually("Ready on the good Playbook", Duration::from_secs(20), || ready("web")).await;
    assert_eq!(good.status, "True");
    let (ok, out, _) = kubectl(&["get", "playbooks", "-n", &ns.name], None);
    assert!(
        ok && out.contains("READY") && out.contains("False") && out.contains("True"),
        "{out}"
    );
}

#[tokio::test]
async fn the_chart_service_account_can_do_its_job_and_nothing_more() {
    let sa = std::env::var("DONTPANIC_SERVICE_ACCOUNT")
        .unwrap_or_else(|_| "system:serviceaccount:dontpanic-system:dontpanic".into());
    let can = |verb: &str, resource: &str, ns: &str| {
        let (_, out, _) = kubectl(&["auth", "can-i", verb, resource, "-n", ns, "--as", &sa], None);
        out.trim() == "yes"
    };
    assert!(can("patch", "deployments.apps", "default"));
    assert!(can("patch", "incidents.dontpanic.dev/status", "default"));
    assert!(can("list", "pods", "default"));
    assert!(can("create", "events.events.k8s.io", "default"));
    assert!(
        !can("get", "secrets", "default"),
        "secrets outside the operator's namespace must be refused"
    );
    assert!(!can("delete", "deployments.apps", "default"));
    assert!(!can("delete", "pods", "default"));
    assert!(!can("create", "clusterrolebindings.rbac.authorization.k8s.io", ""));
}
