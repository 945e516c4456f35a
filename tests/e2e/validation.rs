//! Recovery validation on the testbed's real Prometheus and signal exporter.

use crate::harness::*;
use crate::lifecycle::{incident, playbook};
use dontpanic::api::{Incident, Phase, Playbook, StepState};
use k8s_openapi::api::apps::v1::Deployment;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn error_ratio_check(service: &str, extra: &str) -> String {
    format!(
        "{{interval: 1s, {extra} checks: [{{name: available, kubernetes: {{available: true}}}}, {{name: error-rate, prometheus: {{query: 'demo_error_ratio{{service=\"{service}\"}}', successCondition: 'result < 0.05'}}}}]}}"
    )
}

#[tokio::test]
async fn a_rollback_is_resolved_once_the_error_ratio_is_healthy() {
    let ns = TestNamespace::new("dp-val-ok").await;
    let service = ns.name.clone();
    set_signal("demo_error_ratio", &[("service", &service)], 0.5).await;
    create_app(&ns, "checkout", 3).await;
    roll_out_crashloop(&ns, "checkout", "v2").await;
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook(
            "auto",
            "[{action: RollbackDeployment}]",
            &error_ratio_check(&service, "count: 20, failureLimit: 15, consecutiveSuccessLimit: 2,"),
        ),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    wait_phase(&ns, "checkout-500", Phase::Validating, Duration::from_secs(60)).await;
    // Recovery shows in the metrics a moment after the rollback.
    set_signal("demo_error_ratio", &[("service", &service)], 0.01).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let validation = st.validation.clone().unwrap();
    assert_eq!(validation.verdict, dontpanic::api::AnalysisVerdict::Successful);
    let rate = validation.checks.iter().find(|c| c.name == "error-rate").unwrap();
    assert!(rate.successful >= 1 && !rate.measurements.is_empty(), "{rate:?}");
    assert!(
        rate.measurements.iter().any(|m| m.value.as_deref() == Some("0.01")),
        "{rate:?}"
    );
    assert!(st
        .conditions
        .iter()
        .any(|c| c.type_ == "Validated" && c.status == "True"));
    assert!(st.postmortem.is_some());
}

#[tokio::test]
async fn a_high_error_ratio_runs_the_next_step_reverts_it_and_escalates() {
    let ns = TestNamespace::new("dp-val-bad").await;
    let service = ns.name.clone();
    set_signal("demo_error_ratio", &[("service", &service)], 0.5).await;
    create_app(&ns, "checkout", 3).await;
    roll_out_crashloop(&ns, "checkout", "v2").await;
    let steps = "[{action: RollbackDeployment}, {action: ScaleDeployment, replicas: 5, revertOnFailure: true}]";
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook("auto", steps, &error_ratio_check(&service, "count: 3,")),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Escalated, Duration::from_secs(120)).await;
    let text = timeline_text(&st);
    assert_eq!(st.steps[0].state, StepState::Succeeded, "{text}");
    assert_eq!(st.steps[1].state, StepState::Succeeded, "the next step ran: {text}");
    assert!(st.steps[1].reverted, "{text}");
    assert!(
        text.contains("ValidationFailed") && text.contains("StepReverted"),
        "{text}"
    );
    assert!(text.contains("reverted scale: 5 back to 3 replicas"), "{text}");
    let replicas = ns
        .api::<Deployment>()
        .get("checkout")
        .await
        .unwrap()
        .spec
        .unwrap()
        .replicas;
    assert_eq!(replicas, Some(3));
}

#[tokio::test]
async fn no_data_is_inconclusive_and_never_success() {
    let ns = TestNamespace::new("dp-val-nodata").await;
    create_app(&ns, "checkout", 3).await;
    let check = format!(
        "{{interval: 1s, count: 5, inconclusiveLimit: 1, checks: [{{name: error-rate, prometheus: {{query: 'demo_metric_that_does_not_exist{{service=\"{}\"}}', successCondition: 'result < 0.05'}}}}]}}",
        ns.name
    );
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook("auto", "[{action: RestartDeployment}]", &check),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Escalated, Duration::from_secs(90)).await;
    let check = &st.validation.as_ref().unwrap().checks[0];
    assert_eq!(check.phase, dontpanic::api::AnalysisVerdict::Inconclusive);
    assert_eq!(check.inconclusive, 2, "inconclusiveLimit 1 tolerates one: {check:?}");
    assert_eq!(check.successful, 0);
    assert!(check
        .measurements
        .iter()
        .all(|m| m.message.as_deref() == Some("the query returned no data")));
}

/// A local site that answers 503 a few times, then 200 with a body.
async fn flaky_site(failures: usize) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 2048];
            let _ = socket.read(&mut buf).await;
            let (status, body) = if n < failures {
                ("503 Service Unavailable", "down")
            } else {
                ("200 OK", "checkout is open")
            };
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(response.as_bytes()).await;
        }
    });
    (format!("http://{addr}/health"), hits)
}

#[tokio::test]
async fn the_http_provider_sees_a_site_fail_then_open() {
    let ns = TestNamespace::new("dp-val-http").await;
    let (url, hits) = flaky_site(2).await;
    create_app(&ns, "checkout", 2).await;
    let check = format!(
        "{{interval: 1s, count: 4, failureLimit: 2, checks: [{{name: site, http: {{url: '{url}', expectStatus: 200, bodyContains: 'is open', timeout: 2s}}}}]}}"
    );
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook("auto", "[{action: RestartDeployment}]", &check),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let check = &st.validation.as_ref().unwrap().checks[0];
    assert_eq!((check.failed, check.successful), (2, 2), "{check:?}");
    assert!(hits.load(Ordering::SeqCst) >= 4);
    assert!(check
        .measurements
        .iter()
        .any(|m| m.message.as_deref() == Some("status 503, want 200")));
}
