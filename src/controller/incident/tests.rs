//! The driver against a mocked API server (tower-test, as kube-rs' controller-rs does): what it
//! sends, in what order, for a given Incident and world.

use super::super::{Context, Settings};
use crate::api::{Incident, Phase, Playbook, StepState};
use http::{Method, Request, Response};
use kube::client::Body;
use kube::runtime::controller::Action;
use kube::Client;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

/// Every request the driver sent: method, path, and body.
type Sent = Arc<Mutex<Vec<(Method, String, Value)>>>;

fn playbook() -> Value {
    let pb: Playbook = serde_yaml::from_str(
        &std::fs::read_to_string(format!(
            "{}/tests/fixtures/lifecycle/playbook-web.yaml",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    serde_json::to_value(pb).unwrap()
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": "shop", "uid": "d1", "generation": 2,
                     "labels": {"tier": "web"}, "annotations": {"deployment.kubernetes.io/revision": "2"}},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "checkout"}},
                 "template": {"metadata": {"labels": {"app": "checkout"}},
                              "spec": {"containers": [{"name": "app", "image": "shop/checkout:v2"}]}}},
        "status": {"replicas": 3, "availableReplicas": 1, "updatedReplicas": 1, "observedGeneration": 2}
    })
}

/// An Incident whose step was recorded, before an upgrade, with an action this build lacks.
fn incident_with_unknown_action() -> Incident {
    serde_json::from_value(json!({
        "apiVersion": "dontpanic.dev/v1alpha1", "kind": "Incident",
        "metadata": {"name": "checkout-500", "namespace": "shop", "uid": "i1", "generation": 1,
                     "resourceVersion": "10", "creationTimestamp": "2026-11-23T10:00:00Z"},
        "spec": {"summary": "checkout returns 500", "target": {"kind": "Deployment", "name": "checkout"}},
        "status": {
            "observedGeneration": 1, "phase": "Mitigating", "severity": "Major", "playbook": "web",
            "steps": [{"name": "reboot", "action": "RebootTheWorld", "state": "Running", "attempts": 1,
                       "startedAt": "2026-11-23T10:00:03Z", "intent": {"details": {"how": "hard"}},
                       "spec": {"action": "RebootTheWorld"}}]
        }
    }))
    .unwrap()
}

/// A fake API server: answers reads from a small world, echoes writes, and records everything.
fn serve(mut handle: tower_test::mock::Handle<Request<Body>, Response<Body>>, incident: Incident, sent: Sent) {
    tokio::spawn(async move {
        let mut current = serde_json::to_value(&incident).unwrap();
        while let Some((request, respond)) = handle.next_request().await {
            let method = request.method().clone();
            let path = request.uri().path().to_string();
            let bytes = request.into_body().collect_bytes().await.unwrap();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            sent.lock().unwrap().push((method.clone(), path.clone(), body.clone()));
            let answer = match (method, path.as_str()) {
                (Method::GET, "/apis/apps/v1/namespaces/shop/deployments/checkout") => deployment(),
                (Method::GET, p) if p.ends_with("/playbooks") => {
                    json!({"apiVersion": "dontpanic.dev/v1alpha1", "kind": "PlaybookList", "metadata": {}, "items": [playbook()]})
                }
                (Method::PATCH, "/apis/dontpanic.dev/v1alpha1/namespaces/shop/incidents/checkout-500/status") => {
                    current["status"] = body["status"].clone();
                    let version: u64 = current["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    current["metadata"]["resourceVersion"] = json!((version + 1).to_string());
                    current.clone()
                }
                (Method::GET, _) => json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": []}),
                _ => body,
            };
            let response = Response::builder()
                .body(Body::from(serde_json::to_vec(&answer).unwrap()))
                .unwrap();
            respond.send_response(response);
        }
    });
}

async fn context(client: Client) -> Arc<Context> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (incidents, _) = kube::runtime::reflector::store::<Incident>();
    let (playbooks, _) = kube::runtime::reflector::store::<Playbook>();
    let (events, _) = kube::runtime::reflector::store();
    let (notifier, _) = crate::notify::Notifier::start(client.clone(), playbooks.clone(), None);
    Arc::new(Context::new(
        client,
        Arc::new(crate::metrics::Metrics::default()),
        Settings::default(),
        incidents,
        playbooks,
        events,
        notifier,
    ))
}

#[tokio::test]
async fn a_recorded_step_with_an_unknown_action_is_refused_and_escalates_without_acting() {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = Client::new(service, "shop");
    let sent: Sent = Default::default();
    let incident = incident_with_unknown_action();
    serve(handle, incident.clone(), sent.clone());
    let ctx = context(client).await;

    let action = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        super::reconcile(Arc::new(incident), ctx),
    )
    .await
    .expect("the reconcile ends")
    .expect("the reconcile succeeds");

    assert_eq!(
        action,
        Action::await_change(),
        "a closed Incident is not requeued: no hot loop"
    );
    let sent = sent.lock().unwrap().clone();
    let writes: Vec<&(Method, String, Value)> = sent
        .iter()
        .filter(|(m, p, _)| *m != Method::GET && !p.contains("/events"))
        .collect();
    assert!(
        writes
            .iter()
            .all(|(_, p, _)| p.ends_with("/incidents/checkout-500/status")),
        "only the Incident's status is written, the target is never touched: {writes:?}"
    );
    let last: Incident = {
        let mut obj = serde_json::to_value(incident_with_unknown_action()).unwrap();
        obj["status"] = writes.last().expect("status written").2["status"].clone();
        serde_json::from_value(obj).unwrap()
    };
    let st = last.status.unwrap();
    assert_eq!(st.phase, Some(Phase::Escalated));
    let timeline: Vec<String> = st
        .timeline
        .iter()
        .map(|e| format!("{}: {}", e.type_, e.message))
        .collect();
    assert_eq!(st.steps[0].state, StepState::Failed, "{timeline:#?}");
    let message = st.steps[0].message.clone().unwrap();
    assert!(message.contains("unknown action RebootTheWorld"), "{message}");
    assert!(
        message.contains("RollbackDeployment"),
        "the known actions are named: {message}"
    );
}
