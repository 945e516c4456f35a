//! Writing it down: the post-mortem report, the full timeline, `kubectl dontpanic`, and the
//! kubectl conventions (printer columns, events, conditions, explain).

use crate::harness::*;
use dontpanic::api::{Incident, Phase, Playbook, StepState};
use k8s_openapi::api::core::v1::ConfigMap;
use std::time::Duration;

const AVAILABLE: &str = "{interval: 1s, count: 2, checks: [{name: available, kubernetes: {available: true}}]}";

fn playbook(mode: &str, steps: &str) -> String {
    format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: web}}\nspec:\n  selector: {{kinds: [Deployment], matchLabels: {{tier: web}}}}\n  responder: team-checkout-oncall\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: {steps}\n  validation: {AVAILABLE}\n  safety: {{mode: {mode}, cooldown: 5m, maxAttempts: 2}}\n"
    )
}

fn incident(name: &str) -> String {
    format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {{name: {name}}}\nspec: {{summary: 'checkout returns 500', target: {{kind: Deployment, name: checkout}}}}\n"
    )
}

fn utc(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

#[tokio::test]
async fn report_of_a_rolled_back_incident_has_the_facts_and_kubectl_tells_the_story() {
    let ns = TestNamespace::new("dp-report").await;
    create_app(&ns, "checkout", 3).await;
    roll_out_crashloop(&ns, "checkout", "v2").await;
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook("auto", "[{action: RollbackDeployment}]"),
    )
    .await;
    let _op = Operator::start(&ns.name, &["--review-period", "72h"]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let text = timeline_text(&st);

    // The review is due the configured period after resolution.
    let closed = st.times.as_ref().and_then(|t| t.closed_at).expect("closedAt");
    assert_eq!(
        st.postmortem.as_ref().expect("postmortem").due_by - closed,
        chrono::Duration::hours(72),
        "{text}"
    );
    assert_eq!(st.responder.as_deref(), Some("team-checkout-oncall"));
    assert_eq!(st.last_step.as_deref(), Some("rollback-deployment-1 (Succeeded)"));
    for c in &st.conditions {
        assert!(!c.type_.is_empty() && ["True", "False", "Unknown"].contains(&c.status.as_str()));
        assert!(
            !c.reason.is_empty() && c.reason.chars().all(|ch| ch.is_ascii_alphanumeric()),
            "{c:?}"
        );
        assert_eq!(c.observed_generation, Some(1), "{c:?}");
    }
    assert!(["Triaged", "Mitigated", "Validated"]
        .iter()
        .all(|t| st.conditions.iter().any(|c| c.type_ == *t && c.status == "True")));

    // The report, from the real binary.
    let (code, md, err) = kubectl_plugin(&["report", "checkout-500", "-n", &ns.name], &[]);
    assert_eq!(code, 0, "{err}");
    if let Some(path) = std::env::var_os("CAPTURE_INCIDENT") {
        let (_, yaml, _) = kubectl(&["get", "incident", "checkout-500", "-n", &ns.name, "-o", "yaml"], None);
        std::fs::write(path, yaml).unwrap();
    }
    let evidence = st.evidence.clone().unwrap();
    let first_error = evidence.first_error_time.expect("first error time");
    let times = st.times.clone().unwrap();
    let mitigate = (times.mitigated_at.unwrap() - times.detected_at.unwrap()).num_milliseconds();
    let resolve = (closed - times.detected_at.unwrap()).num_milliseconds();
    let dur = |ms: i64| dontpanic::duration::format_duration(Duration::from_millis(ms as u64));
    let mut needles = vec![
        "## Summary".to_string(),
        "- Severity: ".to_string(),
        "- From: revision 2, image shop/checkout:v2, build 1002".to_string(),
        "- To: revision 1, image shop/checkout:v1, build 1001".to_string(),
        format!("## First error\n\n- {}", utc(first_error)),
        format!("- Time to mitigate: {}", dur(mitigate)),
        format!("- Time to resolve: {}", dur(resolve)),
        "- Time to detect: ".to_string(),
        format!("- Review due by: {}", utc(st.postmortem.as_ref().unwrap().due_by)),
        "| available | Successful |".to_string(),
        "## Root cause (to be completed)".to_string(),
        "## Action items".to_string(),
    ];
    for pod in &evidence.failing_pods {
        needles.push(format!("| {} | {} |", pod.name, pod.node.clone().unwrap()));
    }
    for needle in &needles {
        assert!(md.contains(needle.as_str()), "missing {needle:?} in report:\n{md}");
    }
    for e in &st.timeline {
        assert!(
            md.contains(&format!("| {} | {} |", utc(e.time), e.type_)),
            "{e:?} missing:\n{md}"
        );
    }

    // The same from `dontpanic report`, as JSON.
    let (code, json, err) = run(
        &operator_bin(),
        &["report", "checkout-500", "-n", &ns.name, "--format", "json"],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["rollbacks"][0]["fromRevision"], 2);
    assert_eq!(json["rollbacks"][0]["fromImages"][0], "shop/checkout:v2");
    assert_eq!(json["rollbacks"][0]["fromBuild"], "1002");
    assert_eq!(json["firstError"]["time"], serde_json::to_value(first_error).unwrap());
    assert!(!json["affected"]["nodes"].as_array().unwrap().is_empty());

    // The timeline as a table.
    let (code, table, err) = kubectl_plugin(&["timeline", "checkout-500", "-n", &ns.name], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(table.starts_with("TIME (UTC)"), "{table}");
    assert_eq!(table.lines().count(), st.timeline.len() + 1, "{table}");

    // A missing Incident is a clear error.
    let (code, _, err) = kubectl_plugin(&["report", "nope", "-n", &ns.name], &[]);
    assert_eq!(code, 1);
    assert!(err.contains("incident \"nope\" not found"), "{err}");

    // kubectl get -o wide prints the columns.
    let (ok, out, err) = kubectl(&["get", "incidents", "-n", &ns.name, "-o", "wide"], None);
    assert!(ok, "{err}");
    let header = out.lines().next().unwrap();
    for column in ["SEVERITY", "PHASE", "TARGET", "AGE", "SOURCE", "RESPONDER", "LAST STEP"] {
        assert!(header.contains(column), "{out}");
    }
    for value in [
        "Resolved",
        "Deployment/checkout",
        "manual",
        "team-checkout-oncall",
        "rollback-deployment-1 (Succeeded)",
    ] {
        assert!(out.contains(value), "{value} missing:\n{out}");
    }

    // kubectl describe tells the story through Events.
    let story = eventually("phase events", Duration::from_secs(30), || {
        let name = ns.name.clone();
        async move {
            let (ok, out, err) = kubectl(&["describe", "incident", "checkout-500", "-n", &name], None);
            if !ok {
                return Err(err);
            }
            let events = out.split("Events:").nth(1).unwrap_or_default().to_string();
            let all = ["Triaging", "Mitigating", "Validating", "Resolved", "PostmortemDue"]
                .iter()
                .all(|r| events.contains(r));
            if all {
                Ok(out)
            } else {
                Err(events)
            }
        }
    })
    .await;
    assert!(story.contains("Conditions:") || story.contains("Conditions"), "{story}");
}

#[tokio::test]
async fn report_keeps_the_full_timeline_when_status_drops_entries() {
    let ns = TestNamespace::new("dp-reportlong").await;
    create_app(&ns, "checkout", 2).await;
    roll_out_crashloop(&ns, "checkout", "v2").await;
    // Thirty dry-run steps: each records a start and a result, well over the status cap.
    let steps: Vec<String> = (1..=30)
        .map(|i| format!("{{name: s{i:02}, action: RollbackDeployment}}"))
        .collect();
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook("dry-run", &format!("[{}]", steps.join(", "))),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    let created = apply_yaml(&ns.api::<Incident>(), &incident("checkout-500")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Escalated, Duration::from_secs(120)).await;
    assert!(st.steps.iter().all(|s| s.state == StepState::Succeeded && s.dry_run));
    assert_eq!(st.timeline.len(), dontpanic::timeline::STATUS_TIMELINE_CAP);
    assert!(st.timeline_dropped > 0, "{}", timeline_text(&st));
    let total = st.timeline.len() + st.timeline_dropped as usize;

    // The archive is owned by the Incident.
    let cm = ns
        .api::<ConfigMap>()
        .get("checkout-500-timeline")
        .await
        .expect("the archive ConfigMap exists");
    let owner = &cm.metadata.owner_references.clone().unwrap()[0];
    assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("Incident", "checkout-500"));
    assert_eq!(Some(&owner.uid), created.metadata.uid.as_ref());
    assert_eq!(owner.controller, Some(false));
    let archived = dontpanic::archive::decode(cm.data.as_ref().unwrap());
    assert_eq!(archived.len(), st.timeline_dropped as usize);

    // The plugin shows all of it.
    let (code, table, err) = kubectl_plugin(&["timeline", "checkout-500", "-n", &ns.name], &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(table.lines().count(), total + 1, "{table}");
    let (code, md, err) = kubectl_plugin(&["report", "checkout-500", "-n", &ns.name], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(md.contains("opened by manual for Deployment/checkout"), "{md}");
    for i in 1..=30 {
        assert!(
            md.contains(&format!("step s{i:02} (RollbackDeployment) attempt 1 as a dry-run")),
            "s{i:02}:\n{md}"
        );
        assert!(
            md.contains(&format!("| StepSucceeded | step s{i:02} (RollbackDeployment)")),
            "s{i:02}:\n{md}"
        );
    }

    // The archive goes with the Incident.
    let (ok, _, err) = kubectl(&["delete", "incident", "checkout-500", "-n", &ns.name], None);
    assert!(ok, "{err}");
    let cms = ns.api::<ConfigMap>();
    eventually("the archive to be garbage-collected", Duration::from_secs(60), || {
        let cms = cms.clone();
        async move {
            match cms.get_opt("checkout-500-timeline").await {
                Ok(None) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn report_plugin_approve_moves_an_awaiting_step_forward() {
    let ns = TestNamespace::new("dp-reportapprove").await;
    create_app(&ns, "checkout", 3).await;
    roll_out_crashloop(&ns, "checkout", "v2").await;
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook("approval", "[{action: RollbackDeployment}]"),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::AwaitingApproval, Duration::from_secs(60)).await;
    assert_eq!(st.steps[0].state, StepState::AwaitingApproval);

    // Listed as open, with the step it waits on.
    let (code, list, err) = kubectl_plugin(&["list", "-n", &ns.name], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(list.starts_with("NAMESPACE"), "{list}");
    let row = list
        .lines()
        .find(|l| l.contains("checkout-500"))
        .unwrap_or_else(|| panic!("{list}"));
    assert!(
        row.contains("AwaitingApproval") && row.contains("Deployment/checkout"),
        "{list}"
    );
    let (code, all, err) = kubectl_plugin(&["list", "-A"], &[]);
    assert_eq!(code, 0, "{err}");
    assert!(all.contains(&ns.name), "{all}");

    // Approve without -n: the namespace comes from the kubeconfig context.
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("config");
    std::fs::copy(env("KUBECONFIG"), &kubeconfig).unwrap();
    let kubeconfig = kubeconfig.to_str().unwrap().to_string();
    let (ok, _, err) = kubectl(
        &[
            "--kubeconfig",
            &kubeconfig,
            "config",
            "set-context",
            "--current",
            &format!("--namespace={}", ns.name),
        ],
        None,
    );
    assert!(ok, "{err}");
    let token = st.steps[0]
        .approval
        .as_ref()
        .expect("the waiting step has a request")
        .token
        .clone();
    let (code, out, err) = kubectl_plugin(&["approve", "checkout-500"], &[("KUBECONFIG", &kubeconfig)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("approved by testbed-admin"), "{out}");
    let annotations = incident_annotations(&ns, "checkout-500").await;
    assert_eq!(
        annotations.get(dontpanic::api::APPROVAL_ANNOTATION),
        Some(&token),
        "the plugin approves the waiting step's request"
    );
    assert_eq!(
        annotations
            .get(dontpanic::api::APPROVED_BY_ANNOTATION)
            .map(String::as_str),
        Some("testbed-admin"),
        "the approver is who the API server says the user is"
    );
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    assert_eq!(
        st.steps[0].approval.as_ref().and_then(|a| a.approved_by.as_deref()),
        Some("testbed-admin"),
        "{}",
        timeline_text(&st)
    );
    assert_eq!(st.steps[0].state, StepState::Succeeded);
}

#[tokio::test]
async fn report_fields_are_explained_by_kubectl_explain() {
    let (ok, out, err) = kubectl(&["explain", "incident.spec"], None);
    assert!(ok, "{err}");
    let fields = out.split("FIELDS:").nth(1).unwrap_or_else(|| panic!("{out}"));
    for field in ["summary", "target", "severity", "playbookRef", "source", "observedAt"] {
        let start = fields
            .find(&format!("  {field}\t"))
            .unwrap_or_else(|| panic!("{field} missing:\n{out}"));
        let block: Vec<&str> = fields[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.trim().is_empty())
            .collect();
        assert!(
            block.iter().any(|l| !l.trim_start().starts_with("enum:")),
            "{field} has no description:\n{out}"
        );
    }
    assert!(out.contains("One line saying what is wrong"), "{out}");
    let (ok, out, err) = kubectl(&["explain", "incident.spec.target"], None);
    assert!(ok, "{err}");
    assert!(out.contains("The target's name"), "{out}");
}
