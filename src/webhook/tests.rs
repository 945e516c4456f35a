//! Payload parsing and label mapping, from fixtures in tests/fixtures/alertmanager.

use super::mapping::{default_severity, fingerprint_key, incident_name, resolve, severity, target};
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
    assert_eq!(incident_name(a), "alert-3b8d7a0c8e6f1a2b-20261123231001123");
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

fn dns1123(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
}

#[test]
fn each_firing_of_an_alert_names_its_own_incident() {
    let at = |text: &str| Some(text.parse::<chrono::DateTime<chrono::Utc>>().unwrap());
    let mut first = alert(&[("alertname", "Down"), ("namespace", "shop"), ("deployment", "checkout")]);
    first.fingerprint = "3B8D7A0C8E6F1A2B".into();
    first.starts_at = at("2026-11-23T23:10:01.123Z");
    let resent = first.clone();
    let mut next_week = first.clone();
    next_week.starts_at = at("2026-11-30T08:00:00Z");
    assert_eq!(
        incident_name(&first),
        incident_name(&resent),
        "the same firing, the same Incident"
    );
    assert_ne!(
        incident_name(&first),
        incident_name(&next_week),
        "a later firing, a new Incident"
    );
    assert_eq!(
        fingerprint_key(&first),
        fingerprint_key(&next_week),
        "both carry the fingerprint"
    );
    assert!(dns1123(&incident_name(&first)), "{}", incident_name(&first));
}

#[test]
fn odd_fingerprints_still_give_valid_bounded_names_and_labels() {
    let mut long = alert(&[("alertname", "Down")]);
    long.fingerprint = format!("{}_Ü.{}", "AB".repeat(100), "c".repeat(100));
    long.starts_at = Some(chrono::Utc::now());
    let mut punctuation = alert(&[("alertname", "Down")]);
    punctuation.fingerprint = "--__..".into();
    for a in [&long, &punctuation] {
        let name = incident_name(a);
        let label = fingerprint_key(a);
        assert!(dns1123(&name) && name.len() <= 64, "{name}");
        assert!(!label.is_empty() && label.len() <= 63, "{label}");
        assert!(label.chars().all(|c| c.is_ascii_alphanumeric()), "{label}");
    }
    assert_eq!(fingerprint_key(&punctuation), punctuation.labels_hash());
}

fn incident(name: &str, phase: Option<crate::api::Phase>, created_secs: i64) -> crate::api::Incident {
    let mut i: crate::api::Incident = serde_yaml::from_str(&format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {{name: {name}}}\nspec: {{summary: s, target: {{kind: Deployment, name: checkout}}}}\n"
    ))
    .unwrap();
    i.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(created_secs).unwrap(),
    ));
    i.status = phase.map(|phase| crate::api::IncidentStatus {
        phase: Some(phase),
        ..Default::default()
    });
    i
}

#[test]
fn a_firing_deduplicates_only_onto_an_open_incident() {
    use crate::api::Phase;
    let closed = [
        incident("a", Some(Phase::Resolved), 1),
        incident("b", Some(Phase::Escalated), 2),
    ];
    assert!(
        super::open_incident(&closed).is_none(),
        "all closed: a new Incident opens"
    );
    let mixed = [
        incident("a", Some(Phase::Resolved), 1),
        incident("c", Some(Phase::AwaitingApproval), 3),
        incident("d", None, 4),
    ];
    let open = super::open_incident(&mixed).map(|i| i.metadata.name.clone().unwrap());
    assert_eq!(open.as_deref(), Some("c"), "the oldest open one");
    let fresh = [incident("d", None, 4)];
    assert!(
        super::open_incident(&fresh).is_some(),
        "not yet reconciled counts as open"
    );
}
