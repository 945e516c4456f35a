//! Alerts and notifications on the testbed: a real Prometheus alert through the real
//! Alertmanager opens, deduplicates and resolves an Incident; bad webhook bodies create
//! nothing; notifications are routed by severity to a local sink.

use crate::harness::*;
use dontpanic::api::{Incident, IncidentSource, Phase, Playbook, Severity, ALERT_FINGERPRINT_LABEL};
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use serde_json::{json, Value};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Only one test at a time may own the port the testbed's Alertmanager delivers to.
fn webhook_port_lock() -> &'static tokio::sync::Mutex<()> {
    static LOCK: OnceLock<tokio::sync::Mutex<()>> = OnceLock::new();
    LOCK.get_or_init(|| tokio::sync::Mutex::new(()))
}

async fn unset_signal(name: &str, labels: &[(&str, &str)]) {
    let mut url = format!("{}/unset?name={name}", env("SIGNALS_URL"));
    for (k, v) in labels {
        url.push_str(&format!("&{k}={v}"));
    }
    let _ = reqwest::Client::new().post(&url).send().await;
}

const AVAILABLE: &str = "{interval: 1s, count: 2, checks: [{name: available, kubernetes: {available: true}}]}";

#[tokio::test]
async fn alerts_a_real_alertmanager_alert_opens_dedupes_and_resolves_an_incident() {
    let _port = webhook_port_lock().lock().await;
    let ns = TestNamespace::new("dp-alerts").await;
    create_app(&ns, "checkout", 1).await;
    apply_yaml(
        &ns.api::<Playbook>(),
        &format!(
            "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: web}}\nspec:\n  selector: {{kinds: [Deployment], matchLabels: {{tier: web}}}}\n  alerts: {{targetLabels: {{namespace: namespace, deployment: deployment}}, severityMap: {{critical: Critical}}}}\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: [{{action: RestartDeployment}}]\n  validation: {AVAILABLE}\n  safety: {{mode: approval}}\n  responder: bob\n"
        ),
    )
    .await;
    // The testbed's Alertmanager delivers to this port. When another process (not a test of
    // this binary: those hold the lock above) owns it, a private Alertmanager of the same
    // version is fed the real Prometheus alerts instead, and the test says so.
    let testbed_port: u16 = env("DONTPANIC_WEBHOOK_PORT").parse().unwrap();
    let mut free = false;
    for _ in 0..20 {
        if std::net::TcpListener::bind(("127.0.0.1", testbed_port)).is_ok() {
            free = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (port, private) = if free {
        (testbed_port, None)
    } else {
        eprintln!(
            "NOTE: 127.0.0.1:{testbed_port} is held by another process; alerts go through a private Alertmanager fed by the testbed's Prometheus"
        );
        let port = free_port();
        (port, Some(PrivateAlertmanager::start(port, &ns.name).await))
    };
    let alertmanager_url = private
        .as_ref()
        .map_or_else(|| env("ALERTMANAGER_URL"), |p| p.url.clone());
    let addr = format!("127.0.0.1:{port}");
    let _op = Operator::start(&ns.name, &["--http-addr", &addr]);
    wait_ready(port).await;

    // Unique label values per run, so leftover alerts of other runs never match.
    let labels = [
        ("namespace", ns.name.as_str()),
        ("deployment", "checkout"),
        ("service", ns.name.as_str()),
    ];
    set_signal("demo_error_ratio", &labels, 0.9).await;
    let fired = Instant::now();
    let api = ns.api::<Incident>();
    let incident = eventually("an incident opened by the alert", Duration::from_secs(90), || {
        let api = api.clone();
        async move {
            let list = api
                .list(&ListParams::default().labels(ALERT_FINGERPRINT_LABEL))
                .await
                .map_err(|e| e.to_string())?;
            match list.items.as_slice() {
                [one] => Ok(one.clone()),
                other => Err(format!("{} incidents", other.len())),
            }
        }
    })
    .await;
    println!(
        "alert → incident in {:.1}s (Prometheus + Alertmanager + webhook)",
        fired.elapsed().as_secs_f64()
    );
    let name = incident.metadata.name.clone().unwrap();
    assert_eq!(incident.spec.source, IncidentSource::Alertmanager);
    let alert = incident.spec.alert.clone().expect("the alert is recorded");
    assert_eq!(alert.name, "DemoHighErrorRatio");
    assert_eq!(alert.severity, Some(Severity::Critical));
    assert_eq!(incident.spec.target.name, "checkout");
    let st = wait_phase(&ns, &name, Phase::AwaitingApproval, Duration::from_secs(60)).await;
    assert_eq!(st.severity, Some(Severity::Critical), "{}", timeline_text(&st));
    assert_eq!(st.responder.as_deref(), Some("bob"));

    // The same alert again, exactly as Alertmanager holds it, adds nothing.
    let alerts: Vec<Value> = reqwest::get(format!(
        "{}/api/v2/alerts?filter=namespace%3D%22{}%22",
        alertmanager_url, ns.name
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let a = alerts.first().expect("Alertmanager holds the alert").clone();
    let replay = json!({"version": "4", "groupKey": "replay", "status": "firing", "receiver": "dontpanic",
        "alerts": [{"status": "firing", "labels": a["labels"], "annotations": a["annotations"],
                    "startsAt": a["startsAt"], "endsAt": "0001-01-01T00:00:00Z", "fingerprint": a["fingerprint"]}]});
    let before = incident_status(&ns, &name).await.timeline.len();
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/webhooks/alertmanager"))
        .json(&replay)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let outcome: Value = response.json().await.unwrap();
    assert_eq!(
        outcome["duplicates"],
        json!([format!("{}/{name}", ns.name)]),
        "{outcome}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(api.list(&Default::default()).await.unwrap().items.len(), 1);
    assert_eq!(incident_status(&ns, &name).await.timeline.len(), before);

    // Resolving the alert is recorded; nothing was mitigating, so the source resolves it.
    unset_signal("demo_error_ratio", &labels).await;
    let st = wait_phase(&ns, &name, Phase::Resolved, Duration::from_secs(120)).await;
    let text = timeline_text(&st);
    assert!(text.contains("AlertResolved: DemoHighErrorRatio resolved at"), "{text}");
    assert!(text.contains("resolved by alertmanager"), "{text}");
}

/// A private Alertmanager (the testbed's binary and route settings) delivering to
/// `webhook_port`, fed once a second with the testbed Prometheus's firing alerts of one
/// namespace, as Prometheus's own notifier does (resolved ones are sent with endsAt = now).
struct PrivateAlertmanager {
    child: std::process::Child,
    url: String,
    relay: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl PrivateAlertmanager {
    async fn start(webhook_port: u16, namespace: &str) -> PrivateAlertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "route: {{receiver: op, group_by: [alertname, namespace, deployment, service], group_wait: 1s, group_interval: 1s, repeat_interval: 1m}}\nreceivers: [{{name: op, webhook_configs: [{{url: 'http://127.0.0.1:{webhook_port}/webhooks/alertmanager', send_resolved: true}}]}}]\n"
        );
        std::fs::write(dir.path().join("am.yml"), config).unwrap();
        let port = free_port();
        let child = std::process::Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", dir.path().join("am.yml").display()))
            .arg(format!("--storage.path={}", dir.path().display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager runs");
        let url = format!("http://127.0.0.1:{port}");
        wait_ok("the private Alertmanager to be ready", &format!("{url}/-/ready")).await;
        let relay = tokio::spawn(relay(env("PROMETHEUS_URL"), url.clone(), namespace.to_string()));
        PrivateAlertmanager {
            child,
            url,
            relay,
            _dir: dir,
        }
    }
}

impl Drop for PrivateAlertmanager {
    fn drop(&mut self) {
        self.relay.abort();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn relay(prometheus: String, alertmanager: String, namespace: String) {
    let http = reqwest::Client::new();
    let mut active: std::collections::HashMap<String, Value> = Default::default();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(response) = http.get(format!("{prometheus}/api/v1/alerts")).send().await else {
            continue;
        };
        let Ok(body) = response.json::<Value>().await else {
            continue;
        };
        let now = chrono::Utc::now();
        let mut seen = std::collections::HashSet::new();
        let mut send = Vec::new();
        for a in body["data"]["alerts"].as_array().cloned().unwrap_or_default() {
            if a["state"] != "firing" || a["labels"]["namespace"] != namespace.as_str() {
                continue;
            }
            let key = a["labels"].to_string();
            let alert = json!({"labels": a["labels"], "annotations": a["annotations"], "startsAt": a["activeAt"],
                               "endsAt": (now + chrono::Duration::minutes(3)).to_rfc3339(), "generatorURL": prometheus});
            seen.insert(key.clone());
            active.insert(key, alert.clone());
            send.push(alert);
        }
        let gone: Vec<String> = active.keys().filter(|k| !seen.contains(*k)).cloned().collect();
        for key in gone {
            let mut alert = active.remove(&key).unwrap();
            alert["endsAt"] = json!(now.to_rfc3339());
            send.push(alert);
        }
        if !send.is_empty() {
            let _ = http
                .post(format!("{alertmanager}/api/v2/alerts"))
                .json(&send)
                .send()
                .await;
        }
    }
}

async fn post(port: u16, token: Option<&str>, body: impl Into<reqwest::Body>) -> (u16, String) {
    let mut request = reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}/webhooks/alertmanager"))
        .header("content-type", "application/json")
        .body(body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

#[tokio::test]
async fn alerts_bad_webhook_bodies_are_refused_and_create_nothing() {
    let ns = TestNamespace::new("dp-badhook").await;
    grant_secret_read(&ns).await;
    let secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "webhook-token"}, "stringData": {"token": "s3cret"}}))
            .unwrap();
    ns.api::<Secret>().create(&Default::default(), &secret).await.unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let token_ref = format!("{}/webhook-token:token", ns.name);
    let _op = Operator::start(&ns.name, &["--http-addr", &addr, "--webhook-token-secret", &token_ref]);
    wait_ready(port).await;
    let good = |labels: Value| {
        json!({"version": "4", "status": "firing", "receiver": "x", "groupKey": "g",
               "alerts": [{"status": "firing", "labels": labels, "annotations": {}, "startsAt": "2026-01-01T00:00:00Z", "fingerprint": "abc123"}]})
        .to_string()
    };
    let target = json!({"alertname": "Down", "namespace": ns.name, "deployment": "checkout", "severity": "critical"});
    let t = Some("s3cret");
    let (code, _) = post(port, None, good(target.clone())).await;
    assert_eq!(code, 401, "no token");
    let (code, _) = post(port, Some("wrong"), good(target.clone())).await;
    assert_eq!(code, 401, "wrong token");
    let (code, text) = post(port, t, "{not json").await;
    assert!(code == 400 && text.contains("invalid JSON"), "{code} {text}");
    let (code, text) = post(
        port,
        t,
        good(target.clone()).replace("\"version\":\"4\"", "\"version\":\"3\""),
    )
    .await;
    assert!(code == 400 && text.contains("version"), "{code} {text}");
    let (code, text) = post(port, t, format!("{}{}", "[".repeat(200), "]".repeat(200))).await;
    assert!(code == 400 && text.contains("nested"), "{code} {text}");
    let huge = json!({"version": "4", "alerts": [], "padding": "x".repeat(300 * 1024)}).to_string();
    let (code, _) = post(port, t, huge).await;
    assert_eq!(code, 413, "oversize");
    let (code, text) = post(port, t, good(json!({"alertname": "Down", "severity": "critical"}))).await;
    assert!(
        code == 400 && text.contains("no label naming its target"),
        "{code} {text}"
    );
    let (code, text) = post(port, t, "{\"version\": \"4\"}").await;
    assert!(code == 400, "{code} {text}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(ns
        .api::<Incident>()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .is_empty());

    // The same endpoint with a good body and the token opens exactly one Incident.
    let (code, text) = post(port, t, good(target.clone())).await;
    assert!(code == 200 && text.contains("alert-abc123"), "{code} {text}");
    let (code, text) = post(port, t, good(target)).await;
    assert!(code == 200 && text.contains("duplicates\":[\""), "{code} {text}");
    assert_eq!(
        ns.api::<Incident>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

#[tokio::test]
async fn alerts_notifications_are_routed_by_severity() {
    let ns = TestNamespace::new("dp-notify").await;
    grant_secret_read(&ns).await;
    let (port, seen) = json_sink().await;
    let secret: Secret = serde_json::from_value(json!({"metadata": {"name": "hooks"}, "stringData": {
        "webhook": format!("http://127.0.0.1:{port}/webhook"),
        "pagerduty": format!("http://127.0.0.1:{port}/pagerduty"),
        "routing": "routing-key-1",
        "broken": "http://127.0.0.1:1/nothing-listens-here",
    }}))
    .unwrap();
    ns.api::<Secret>().create(&Default::default(), &secret).await.unwrap();
    create_app(&ns, "checkout", 1).await;
    create_app(&ns, "search", 1).await;
    apply_yaml(
        &ns.api::<Playbook>(),
        &format!(
            "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: web}}\nspec:\n  selector: {{kinds: [Deployment], matchLabels: {{tier: web}}}}\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: [{{action: RestartDeployment}}]\n  validation: {AVAILABLE}\n  responder: alice\n  notify:\n    digestInterval: 3s\n    receivers:\n      - {{name: team, type: webhook, url: {{name: hooks, key: webhook}}}}\n      - {{name: oncall, type: pagerduty, url: {{name: hooks, key: pagerduty}}, routingKey: {{name: hooks, key: routing}}}}\n      - {{name: broken, type: slack, url: {{name: hooks, key: broken}}}}\n"
        ),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    let manual = |name: &str, target: &str, severity: &str| {
        format!("apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {{name: {name}}}\nspec: {{summary: '{target} is in trouble', severity: {severity}, target: {{kind: Deployment, name: {target}}}}}\n")
    };
    let opened = Instant::now();
    apply_yaml(&ns.api::<Incident>(), &manual("checkout-down", "checkout", "Critical")).await;
    apply_yaml(&ns.api::<Incident>(), &manual("search-slow", "search", "Minor")).await;

    let about = |body: &Value, name: &str| body.to_string().contains(name);
    let page = eventually("a page for the Critical incident", Duration::from_secs(30), || {
        let seen = seen.clone();
        async move {
            let seen = seen.lock().unwrap();
            seen.iter()
                .find(|(path, body, _)| {
                    path == "/pagerduty"
                        && body["dedup_key"]
                            .as_str()
                            .is_some_and(|k| k.ends_with("/checkout-down"))
                })
                .cloned()
                .ok_or_else(|| format!("{} requests", seen.len()))
        }
    })
    .await;
    println!(
        "Critical page arrived {:.2}s after the incident was applied",
        (page.2 - opened).as_secs_f64()
    );
    assert_eq!(page.1["event_action"], "trigger");
    assert_eq!(page.1["routing_key"], "routing-key-1");
    assert_eq!(page.1["payload"]["severity"], "critical");
    assert_eq!(page.1["payload"]["custom_details"]["responder"], "alice");
    assert!(
        page.1["payload"]["summary"]
            .as_str()
            .unwrap()
            .contains("all hands on deck; responder: alice"),
        "{}",
        page.1
    );
    let hook = eventually(
        "the team webhook for the Critical incident",
        Duration::from_secs(10),
        || {
            let seen = seen.clone();
            async move {
                let seen = seen.lock().unwrap();
                seen.iter()
                    .find(|(path, body, _)| {
                        path == "/webhook"
                            && body["notification"] == "opened"
                            && body["incident"]["name"] == "checkout-down"
                    })
                    .cloned()
                    .ok_or_else(|| format!("{} requests", seen.len()))
            }
        },
    )
    .await;
    assert_eq!(hook.1["responder"], "alice");
    assert_eq!(hook.1["urgency"], "all-hands");

    // The mitigation's start and result, and the resolution, are told too.
    eventually(
        "mitigation and resolution notifications",
        Duration::from_secs(60),
        || {
            let seen = seen.clone();
            async move {
                let seen = seen.lock().unwrap();
                let kinds: Vec<String> = seen
                    .iter()
                    .filter(|(p, b, _)| p == "/webhook" && b["incident"]["name"] == "checkout-down")
                    .map(|(_, b, _)| b["notification"].as_str().unwrap_or_default().to_string())
                    .collect();
                let all = ["mitigation-started", "mitigation-finished", "resolved"]
                    .iter()
                    .all(|k| kinds.iter().any(|x| x == k));
                if all {
                    Ok(())
                } else {
                    Err(format!("{kinds:?}"))
                }
            }
        },
    )
    .await;

    // The broken receiver's failure is written down after bounded retries.
    let api = ns.api::<Incident>();
    eventually(
        "the failed notification in the timeline",
        Duration::from_secs(40),
        || {
            let api = api.clone();
            async move {
                let st = api
                    .get("checkout-down")
                    .await
                    .map_err(|e| e.to_string())?
                    .status
                    .unwrap_or_default();
                let text = timeline_text(&st);
                if text.contains("NotificationFailed") && text.contains("receiver broken failed after 3 attempts") {
                    Ok(())
                } else {
                    Err(text)
                }
            }
        },
    )
    .await;

    // Minor goes to the digest, never a page.
    eventually("the Minor incident in the digest", Duration::from_secs(30), || {
        let seen = seen.clone();
        async move {
            let seen = seen.lock().unwrap();
            let digested = seen
                .iter()
                .any(|(p, b, _)| p == "/webhook" && b["notification"] == "digest" && about(b, "search-slow"));
            if digested {
                Ok(())
            } else {
                Err(format!("{} requests", seen.len()))
            }
        }
    })
    .await;
    let seen = seen.lock().unwrap();
    assert!(
        !seen
            .iter()
            .any(|(p, b, _)| p == "/pagerduty" && about(b, "search-slow")),
        "a Minor incident paged"
    );
    assert!(
        !seen
            .iter()
            .any(|(p, b, _)| p == "/webhook" && b["notification"] != "digest" && about(b, "search-slow")),
        "a Minor incident notified outside the digest"
    );
}

/// One alert of the recurring-alert test, firing or resolved, as Alertmanager posts it.
fn alert_body(ns: &str, status: &str, starts_at: &str) -> String {
    let ends_at = if status == "resolved" {
        "2026-11-23T10:30:00Z"
    } else {
        "0001-01-01T00:00:00Z"
    };
    json!({"version": "4", "status": status, "receiver": "dontpanic", "groupKey": "recurring",
           "alerts": [{"status": status, "fingerprint": "9f1c2e3d4b5a6978",
                       "labels": {"alertname": "CheckoutErrors", "namespace": ns, "deployment": "checkout", "severity": "critical"},
                       "annotations": {"summary": "checkout returns 500"},
                       "startsAt": starts_at, "endsAt": ends_at}]})
    .to_string()
}

#[tokio::test]
async fn alerts_a_recurring_alert_opens_a_new_incident_once_the_last_one_closed() {
    let ns = TestNamespace::new("dp-recurring").await;
    create_app(&ns, "checkout", 1).await;
    apply_yaml(
        &ns.api::<Playbook>(),
        &format!(
            "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: web}}\nspec:\n  selector: {{kinds: [Deployment], matchLabels: {{tier: web}}}}\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: [{{action: RestartDeployment}}]\n  validation: {AVAILABLE}\n  safety: {{mode: approval}}\n"
        ),
    )
    .await;
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let _op = Operator::start(&ns.name, &["--http-addr", &addr]);
    wait_ready(port).await;
    let api = ns.api::<Incident>();
    let outcome = |text: &str| serde_json::from_str::<Value>(text).unwrap();
    let alert_incidents = || {
        let api = api.clone();
        async move {
            let list = api
                .list(&ListParams::default().labels(ALERT_FINGERPRINT_LABEL))
                .await
                .unwrap();
            let mut names: Vec<String> = list.items.iter().filter_map(|i| i.metadata.name.clone()).collect();
            names.sort();
            names
        }
    };

    // The first firing opens an Incident, which waits for approval: open.
    let (code, text) = post(port, None, alert_body(&ns.name, "firing", "2026-11-23T10:00:00Z")).await;
    assert_eq!(code, 200, "{text}");
    let created = outcome(&text)["created"].clone();
    let first = created[0]
        .as_str()
        .expect("the first firing opens an Incident")
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    wait_phase(&ns, &first, Phase::AwaitingApproval, Duration::from_secs(60)).await;

    // While it is open, the same firing again and a new firing of the same alert add nothing.
    for starts_at in ["2026-11-23T10:00:00Z", "2026-11-23T10:05:00Z"] {
        let (code, text) = post(port, None, alert_body(&ns.name, "firing", starts_at)).await;
        assert_eq!(code, 200, "{text}");
        assert_eq!(
            outcome(&text)["duplicates"],
            json!([format!("{}/{first}", ns.name)]),
            "{text}"
        );
    }
    assert_eq!(alert_incidents().await, vec![first.clone()]);

    // The alert resolves; nothing was mitigating, so the Incident closes.
    let (code, text) = post(port, None, alert_body(&ns.name, "resolved", "2026-11-23T10:00:00Z")).await;
    assert_eq!(code, 200, "{text}");
    wait_phase(&ns, &first, Phase::Resolved, Duration::from_secs(60)).await;

    // A week later the same alert fires again: a new Incident opens, and pages anew.
    let (code, text) = post(port, None, alert_body(&ns.name, "firing", "2026-11-30T09:00:00Z")).await;
    assert_eq!(code, 200, "{text}");
    let created = outcome(&text)["created"].clone();
    let second = created[0]
        .as_str()
        .unwrap_or_else(|| panic!("the firing after the close opens a new Incident: {text}"))
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(second, first);
    let mut both = vec![first.clone(), second.clone()];
    both.sort();
    assert_eq!(alert_incidents().await, both);
    wait_phase(&ns, &second, Phase::AwaitingApproval, Duration::from_secs(60)).await;
    assert_eq!(
        incident_status(&ns, &first).await.phase,
        Some(Phase::Resolved),
        "the closed one stays closed"
    );

    // Its re-send deduplicates onto the new open Incident.
    let (code, text) = post(port, None, alert_body(&ns.name, "firing", "2026-11-30T09:00:00Z")).await;
    assert_eq!(code, 200, "{text}");
    assert_eq!(
        outcome(&text)["duplicates"],
        json!([format!("{}/{second}", ns.name)]),
        "{text}"
    );
    assert_eq!(alert_incidents().await, both);
}
