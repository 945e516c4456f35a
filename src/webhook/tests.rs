//! Payload parsing and label mapping, from fixtures in tests/fixtures/alertmanager.

use super::mapping::{default_severity, incident_name, resolve, severity, target};
use super::payload::{nesting_depth, parse, Alert};
use crate::api::{AlertsSpec, Playbook, Severity, TargetKind};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/alertmanager/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn alert(labels: &[(&str, &str)]) -> Alert {
    Alert {
        status: "firing".into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        annotations: Default::default(),
        starts_at: None,
        ends_at: None,
        generator_url: String::new(),
        fingerprint: String::new(),
    }
}

fn playbook(yaml: &str) -> Playbook {
    serde_yaml::from_str(yaml).unwrap()
}

#[test]
fn a_real_version_4_payload_parses() {
    let p = parse(&fixture("firing.json")).unwrap();
    assert_eq!(p.version, "4");
    let a = &p.alerts[0];
    assert!(a.firing());
    assert_eq!(a.name(), "DemoHighErrorRatio");
    assert_eq!(a.fingerprint(), "3b8d7a0c8e6f1a2b");
    assert_eq!(incident_name(a), "alert-3b8d7a0c8e6f1a2b");
    assert_eq!(a.starts_at.unwrap().to_rfc3339(), "2026-11-23T23:10:01.123+00:00");
}

#[test]
fn bad_payloads_are_refused_with_a_clear_message() {
    let cases: &[(&str, &str)] = &[
        ("", "empty body"),
        ("{not json", "invalid JSON"),
        (r#"{"version": "3", "alerts": []}"#, "unsupported payload version \"3\""),
        (r#"{"alerts": []}"#, "missing \"version\""),
        (r#"{"version": "4"}"#, "not an Alertmanager webhook payload"),
        (
            r#"{"version": "4", "alerts": [{"status": "pending"}]}"#,
            "alerts[0].status",
        ),
        (
            r#"{"version": "4", "alerts": [{"status": "firing", "labels": {"a": 1}}]}"#,
            "not an Alertmanager",
        ),
    ];
    for (body, want) in cases {
        let err = parse(body.as_bytes()).expect_err(body);
        assert!(err.contains(want), "{body}: {err}");
    }
    let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
    assert!(parse(deep.as_bytes()).unwrap_err().contains("nested 40 levels"));
}

#[test]
fn nesting_ignores_brackets_in_strings() {
    assert_eq!(nesting_depth(br#"{"a": "[[[[{{{", "b": [1, {"c": 2}]}"#), 3);
    assert_eq!(nesting_depth(br#"{"a": "\"[[["}"#), 1);
}

#[test]
fn computed_fingerprints_are_stable_and_label_sensitive() {
    let a = alert(&[("alertname", "X"), ("namespace", "shop")]);
    let b = alert(&[("alertname", "X"), ("namespace", "shop")]);
    let c = alert(&[("alertname", "X"), ("namespace", "web")]);
    assert_eq!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert_eq!(a.fingerprint().len(), 16);
}

#[test]
fn severity_words_map_to_the_four_levels() {
    for (word, want) in [
        ("critical", Some(Severity::Critical)),
        ("page", Some(Severity::Critical)),
        ("error", Some(Severity::Major)),
        ("MAJOR", Some(Severity::Major)),
        ("warning", Some(Severity::Medium)),
        ("info", Some(Severity::Minor)),
        ("whatever", None),
    ] {
        assert_eq!(default_severity(word), want, "{word}");
    }
    let spec: AlertsSpec =
        serde_yaml::from_str("{severityLabel: level, severityMap: {p1: Critical, warning: Major}}").unwrap();
    assert_eq!(severity(&alert(&[("level", "P1")]), &spec), Some(Severity::Critical));
    assert_eq!(
        severity(&alert(&[("level", "warning")]), &spec),
        Some(Severity::Major),
        "the map wins"
    );
    assert_eq!(
        severity(&alert(&[("level", "info")]), &spec),
        Some(Severity::Minor),
        "defaults still apply"
    );
    assert_eq!(
        severity(&alert(&[("severity", "critical")]), &spec),
        None,
        "another label"
    );
}

#[test]
fn labels_name_the_target() {
    let d = AlertsSpec::default();
    assert_eq!(
        target(&alert(&[("namespace", "shop"), ("deployment", "checkout")]), &d).unwrap(),
        ("shop".into(), TargetKind::Deployment, "checkout".into())
    );
    assert_eq!(
        target(&alert(&[("namespace", "shop"), ("statefulset", "db")]), &d).unwrap(),
        ("shop".into(), TargetKind::StatefulSet, "db".into())
    );
    let err = target(&alert(&[("alertname", "Down"), ("namespace", "shop")]), &d).unwrap_err();
    assert!(
        err.contains("alert Down") && err.contains("no label naming its target"),
        "{err}"
    );
    assert!(target(&alert(&[("deployment", "checkout")]), &d).is_err());
}

#[test]
fn a_playbook_selecting_the_target_provides_the_mapping() {
    let pb = playbook(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {kinds: [Deployment]}\n  alerts: {targetLabels: {namespace: ns, deployment: app}, severityMap: {sev1: Critical}}\n",
    );
    let elsewhere = playbook(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {name: web, namespace: other}\nspec:\n  selector: {kinds: [Deployment]}\n  alerts: {targetLabels: {namespace: ns, deployment: app}, severityMap: {sev1: Minor}}\n",
    );
    let a = alert(&[("ns", "shop"), ("app", "checkout"), ("severity", "sev1")]);
    let t = resolve(&a, &[&elsewhere, &pb]).unwrap();
    assert_eq!((t.namespace.as_str(), t.name.as_str()), ("shop", "checkout"));
    assert_eq!(t.severity, Some(Severity::Critical));
    assert_eq!(t.playbook.as_deref(), Some("web"));

    let plain = alert(&[("namespace", "shop"), ("deployment", "api"), ("severity", "warning")]);
    let t = resolve(&plain, &[&pb]).unwrap();
    assert_eq!(
        (t.name.as_str(), t.severity, t.playbook),
        ("api", Some(Severity::Medium), None)
    );
    assert!(resolve(&alert(&[("ns", "shop")]), &[&pb]).is_err());
}
