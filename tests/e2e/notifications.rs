//! Notifications are delivered at least once: one recorded in a status write that the
//! operator died right after is delivered by the restarted operator, once per id; and an
//! Incident no Playbook handles reaches the operator's default receiver.

use crate::harness::*;
use crate::lifecycle::incident;
use dontpanic::api::{Incident, Phase};
use k8s_openapi::api::core::v1::Secret;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const SLOW_VALIDATION: &str = "{interval: 1s, count: 4, checks: [{name: available, kubernetes: {available: true}}]}";

/// A Secret `hooks` whose `webhook` key points at the sink.
async fn hooks_secret(ns: &TestNamespace, port: u16) {
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "hooks"},
        "stringData": {"webhook": format!("http://127.0.0.1:{port}/webhook")}}))
    .unwrap();
    ns.api::<Secret>().create(&Default::default(), &secret).await.unwrap();
}

/// The notification kinds the sink received about one Incident, by id.
fn received(seen: &Seen, incident: &str) -> BTreeMap<String, Vec<String>> {
    let mut by_id: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, body, _) in seen.lock().unwrap().iter() {
        if body["incident"]["name"] == incident {
            let id = body["id"].as_str().unwrap_or("no id").to_string();
            by_id
                .entry(id)
                .or_default()
                .push(body["notification"].as_str().unwrap_or_default().to_string());
        }
    }
    by_id
}

#[tokio::test]
async fn a_notification_lost_to_a_crash_after_its_status_write_is_delivered_after_restart() {
    let ns = TestNamespace::new("dp-notify-crash").await;
    grant_secret_read(&ns).await;
    let (port, seen) = json_sink().await;
    hooks_secret(&ns, port).await;
    bad_release_with_playbook(
        &ns,
        &format!(
            "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: web}}\nspec:\n  selector: {{kinds: [Deployment], matchLabels: {{tier: web}}}}\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: [{{action: RollbackDeployment}}]\n  validation: {SLOW_VALIDATION}\n  safety: {{mode: auto}}\n  notify:\n    receivers: [{{name: team, type: webhook, url: {{name: hooks, key: webhook}}}}]\n    routes: [{{severities: [Critical, Major, Medium, Minor], receivers: [team]}}]\n"
        ),
    )
    .await;
    // The write that starts the rollback also records "opened" and "mitigation-started"; the
    // operator dies right after it, before anything is sent.
    let mut op = Operator::start(&ns.name, &["--exit-at-phase", "Mitigating"]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    op.expect_killed_at_crash_point();
    let before = incident_status(&ns, "checkout-500").await;
    assert_eq!(before.phase, Some(Phase::Mitigating));
    let pending: Vec<&str> = before.notifications.iter().map(|p| p.kind.as_str()).collect();
    assert!(
        pending.contains(&"opened") && pending.contains(&"mitigation-started"),
        "the crashed write holds its notifications: {pending:?}"
    );
    assert!(
        received(&seen, "checkout-500").is_empty(),
        "nothing was sent before the crash"
    );

    op.extra_clear();
    op.spawn(&[]);
    wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let api = ns.api::<Incident>();
    eventually(
        "every notification delivered and cleared from status",
        Duration::from_secs(30),
        || {
            let api = api.clone();
            let seen = seen.clone();
            async move {
                let st = api
                    .get("checkout-500")
                    .await
                    .map_err(|e| e.to_string())?
                    .status
                    .unwrap_or_default();
                let kinds: Vec<String> = received(&seen, "checkout-500").into_values().flatten().collect();
                let all = ["opened", "mitigation-started", "mitigation-finished", "resolved"]
                    .iter()
                    .all(|k| kinds.iter().any(|x| x == k));
                if all && st.notifications.is_empty() {
                    Ok(())
                } else {
                    Err(format!("received {kinds:?}; pending {:?}", st.notifications))
                }
            }
        },
    )
    .await;
    // Late, and once: every id reached the receiver exactly one time.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let by_id = received(&seen, "checkout-500");
    for (id, kinds) in &by_id {
        assert_eq!(
            kinds.len(),
            1,
            "notification {id} delivered {} times: {kinds:?}",
            kinds.len()
        );
    }
    let opened_id = &before
        .notifications
        .iter()
        .find(|p| p.kind.as_str() == "opened")
        .unwrap()
        .id;
    assert_eq!(
        by_id.get(opened_id),
        Some(&vec!["opened".to_string()]),
        "the id recorded before the crash"
    );
}

#[tokio::test]
async fn an_incident_no_playbook_handles_notifies_the_default_receiver() {
    let ns = TestNamespace::new("dp-notify-default").await;
    grant_secret_read(&ns).await;
    let (port, seen) = json_sink().await;
    hooks_secret(&ns, port).await;
    create_app(&ns, "checkout", 1).await;
    let url_secret = format!("{}/hooks:webhook", ns.name);
    let _op = Operator::start(
        &ns.name,
        &[
            "--default-receiver-type",
            "webhook",
            "--default-receiver-url-secret",
            &url_secret,
        ],
    );
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Escalated, Duration::from_secs(60)).await;
    assert!(
        timeline_text(&st).contains("no usable Playbook"),
        "{}",
        timeline_text(&st)
    );
    let bodies: Vec<Value> = eventually("the default receiver to hear of it", Duration::from_secs(30), || {
        let seen = seen.clone();
        async move {
            let seen = seen.lock().unwrap();
            let bodies: Vec<Value> = seen
                .iter()
                .filter(|(path, body, _)| path == "/webhook" && body["incident"]["name"] == "checkout-500")
                .map(|(_, body, _)| body.clone())
                .collect();
            let kinds: Vec<&str> = bodies.iter().filter_map(|b| b["notification"].as_str()).collect();
            if kinds.contains(&"opened") && kinds.contains(&"escalated") {
                Ok(bodies)
            } else {
                Err(format!("{kinds:?}"))
            }
        }
    })
    .await;
    let escalated = bodies.iter().find(|b| b["notification"] == "escalated").unwrap();
    assert!(
        escalated["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no usable Playbook")),
        "{escalated}"
    );
    assert!(escalated["id"].as_str().is_some_and(|id| !id.is_empty()), "{escalated}");
}
