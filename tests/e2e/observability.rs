//! The operator's own health, metrics and traces.

use crate::harness::*;
use crate::lifecycle::{incident, playbook};
use dontpanic::api::{Incident, Phase, Playbook};
use std::time::Duration;

/// The port the operator logged it serves HTTP on.
async fn http_port(op: &Operator) -> u16 {
    eventually(
        "the operator's HTTP port in its log",
        Duration::from_secs(20),
        || async {
            let logs = op.logs();
            let line = logs
                .lines()
                .find(|l| l.contains("serving /healthz"))
                .ok_or("not logged yet")?;
            let addr = line.split("http_addr=").nth(1).ok_or("no address")?;
            let addr: String = addr.chars().filter(|c| !c.is_control()).collect();
            let port = addr
                .trim()
                .trim_end_matches("[0m")
                .rsplit(':')
                .next()
                .unwrap_or_default();
            let digits: String = port.chars().take_while(|c| c.is_ascii_digit()).collect();
            digits.parse::<u16>().map_err(|e| format!("{e}: {line}"))
        },
    )
    .await
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the operator answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn health_readiness_and_metrics_tell_what_the_operator_did() {
    let ns = TestNamespace::new("dp-metrics").await;
    create_app(&ns, "checkout", 3).await;
    roll_out_crashloop(&ns, "checkout", "v2").await;
    let validation = "{interval: 1s, count: 2, checks: [{name: available, kubernetes: {available: true}}]}";
    apply_yaml(
        &ns.api::<Playbook>(),
        &playbook("auto", "[{action: RollbackDeployment}]", validation),
    )
    .await;
    let op = Operator::start(&ns.name, &[]);
    let port = http_port(&op).await;
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(get(&format!("{base}/healthz")).await.0, 200);
    eventually("readiness", Duration::from_secs(20), || {
        let url = format!("{base}/readyz");
        async move {
            let (code, body) = get(&url).await;
            if code == 200 {
                Ok(())
            } else {
                Err(format!("{code} {body}"))
            }
        }
    })
    .await;
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;
    let expected = [
        "dontpanic_reconciles_total{controller=\"incident\",result=\"ok\"}",
        "dontpanic_reconcile_duration_seconds_bucket",
        "dontpanic_incidents{phase=\"Resolved\",severity=\"Major\"} 1",
        "dontpanic_actions_total{action=\"RollbackDeployment\",result=\"succeeded\"} 1",
        "dontpanic_validation_verdicts_total{verdict=\"Successful\"}",
        "dontpanic_mitigation_latency_seconds_count 1",
        "dontpanic_kube_api_requests_total{method=\"PATCH\"}",
    ];
    // The API server has the Resolved status a moment before the operator hears back from its
    // write and counts it.
    eventually("the metrics to show what was done", Duration::from_secs(10), || {
        let url = format!("{base}/metrics");
        async move {
            let (code, metrics) = get(&url).await;
            match expected.iter().find(|e| code != 200 || !metrics.contains(*e)) {
                None => Ok(()),
                Some(missing) => Err(format!("missing {missing} in ({code}):\n{metrics}")),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn traces_are_exported_over_otlp_when_asked() {
    let ns = TestNamespace::new("dp-otlp").await;
    let (port, seen) = json_sink().await;
    std::env::set_var("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://127.0.0.1:{port}"));
    std::env::set_var("OTEL_BSP_SCHEDULE_DELAY", "200");
    let _op = Operator::start(&ns.name, &[]);
    std::env::remove_var("OTEL_EXPORTER_OTLP_ENDPOINT");
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    wait_phase(&ns, "checkout-500", Phase::Escalated, Duration::from_secs(60)).await;
    eventually("an OTLP export of spans", Duration::from_secs(20), || {
        let seen = seen.clone();
        async move {
            let paths: Vec<String> = seen.lock().unwrap().iter().map(|(path, _, _)| path.clone()).collect();
            if paths.iter().any(|p| p == "/v1/traces") {
                Ok(())
            } else {
                Err(format!("{paths:?}"))
            }
        }
    })
    .await;
}
