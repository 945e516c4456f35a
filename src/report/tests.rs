//! The report from YAML fixtures: facts, merge, and a golden Markdown file.

use super::*;
use crate::api::Incident;
use chrono::TimeZone;

fn fixture(name: &str) -> Incident {
    let path = format!("{}/tests/fixtures/report/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn entry(secs: i64, type_: &str, message: &str) -> TimelineEntry {
    TimelineEntry {
        time: Utc.timestamp_opt(1_795_000_000 + secs, 0).unwrap(),
        type_: serde_json::from_value(serde_json::Value::String(type_.into())).unwrap(),
        message: message.into(),
    }
}

/// Replaces what differs from run to run (times, durations, generated names) with placeholders.
pub fn normalise(text: &str) -> String {
    let rules = [
        (
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( UTC|Z|\+00:00)?",
            "<TIME>",
        ),
        (r"\b\d+(h\d+m\d+s|h\d+m|h\d+s|h|m\d+s|m|s|ms)\b", "<DURATION>"),
        (r"\b(dp-[a-z]+)-[0-9a-f]{1,6}\b", "$1-<ID>"),
        (r"\b([a-z]+)-[0-9a-f]{8,10}-[0-9a-z]{5}\b", "$1-<POD>"),
        (r"\b(kind|kwok|testbed)-[a-z0-9-]*[0-9]\b", "<NODE>"),
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "<UID>",
        ),
    ];
    let mut out = text.to_string();
    for (pattern, replacement) in rules {
        out = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&out, replacement)
            .into_owned();
    }
    out
}

#[test]
fn normalising_hides_what_changes_from_run_to_run() {
    let text = "dp-report-1d4437 checkout-7b6588dcd5-q9c2z on kwok-node-2 at 2026-11-23 23:56:16 UTC took 1m19s, 973ms";
    assert_eq!(
        normalise(text),
        "dp-report-<ID> checkout-<POD> on <NODE> at <TIME> took <DURATION>, <DURATION>"
    );
}

#[test]
fn merge_dedupes_and_orders_archived_and_current_entries() {
    let archived = vec![
        entry(0, "Detected", "a"),
        entry(1, "Triaged", "b"),
        entry(2, "Evidence", "c"),
    ];
    let current = vec![
        entry(2, "Evidence", "c"),
        entry(3, "StepStarted", "d"),
        entry(1, "Triaged", "b"),
    ];
    let merged = merge_timeline(&archived, &current);
    let messages: Vec<&str> = merged.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, vec!["a", "b", "c", "d"]);
    // Same time, different message: both kept, in recorded order.
    let merged = merge_timeline(&[entry(5, "X", "first")], &[entry(5, "X", "second")]);
    assert_eq!(merged.len(), 2);
    assert_eq!(merged[0].message, "first");
}

#[test]
fn a_timeline_longer_than_the_status_cap_is_reported_in_full() {
    let mut incident = fixture("rollback-resolved.yaml");
    let status = incident.status.as_mut().unwrap();
    status.timeline.clear();
    let mut archived = Vec::new();
    for i in 0..120 {
        let dropped = crate::timeline::record(
            status,
            entry(i, "Waiting", "").time,
            crate::api::EntryType::Waiting,
            format!("entry {i}"),
        );
        archived.extend(dropped);
    }
    assert_eq!(status.timeline.len(), crate::timeline::STATUS_TIMELINE_CAP);
    assert_eq!(archived.len(), 120 - crate::timeline::STATUS_TIMELINE_CAP);
    assert_eq!(
        status.rolled_off, archived,
        "dropped entries wait in status for the archive"
    );
    let partial = build(&incident, &archived[10..]);
    assert_eq!(partial.timeline_missing, 10);
    assert!(to_markdown(&partial).contains("10 older entr(ies) could not be read"));
    let report = build(&incident, &archived);
    assert_eq!(report.timeline.len(), 120);
    assert_eq!(report.timeline_missing, 0);
    let markdown = to_markdown(&report);
    for i in 0..120 {
        assert!(
            markdown.contains(&format!("| Waiting | entry {i} |")),
            "entry {i} missing"
        );
    }
}

#[test]
fn the_rollback_report_has_the_facts_a_review_needs() {
    let report = build(&fixture("rollback-resolved.yaml"), &[]);
    let rb = &report.rollbacks[0];
    assert_eq!((rb.from_revision, rb.to_revision), (Some(2), Some(1)));
    assert_eq!(rb.from_images, vec!["shop/checkout:v2"]);
    assert_eq!(rb.from_build.as_deref(), Some("1002"));
    assert_eq!(rb.to_build.as_deref(), Some("1001"));
    assert_eq!(
        report.first_error.as_ref().unwrap().time,
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 58, 41).unwrap()
    );
    assert_eq!(report.affected.pods[0].name, "checkout-6d9f7c5b8-x2k4p");
    assert_eq!(report.affected.nodes, vec!["kind-worker2"]);
    assert_eq!(report.durations.time_to_detect.as_ref().unwrap().text, "1m19s");
    assert_eq!(report.durations.time_to_mitigate.as_ref().unwrap().milliseconds, 3400);
    assert_eq!(report.durations.time_to_resolve.as_ref().unwrap().text, "15s");
    let phases: Vec<&str> = report.phases.iter().map(|p| p.phase.as_str()).collect();
    assert_eq!(
        phases,
        vec!["Detected", "Triaging", "Mitigating", "Validating", "Resolved"]
    );
    let markdown = to_markdown(&report);
    for needle in [
        "- From: revision 2, image shop/checkout:v2, build 1002",
        "- To: revision 1, image shop/checkout:v1, build 1001",
        "2026-11-23 09:58:41 UTC",
        "| checkout-6d9f7c5b8-x2k4p | kind-worker2 | CrashLoopBackOff |",
        "- Time to resolve: 15s",
        "## Root cause (to be completed)",
        "## What went well",
        "## What went wrong",
        "## Action items",
    ] {
        assert!(markdown.contains(needle), "missing {needle:?} in:\n{markdown}");
    }
    let json: serde_json::Value = serde_json::from_str(&to_json(&report)).unwrap();
    assert_eq!(json["rollbacks"][0]["fromBuild"], "1002");
    assert_eq!(json["affected"]["nodes"][0], "kind-worker2");
}

#[test]
fn the_rollback_report_matches_the_golden_file() {
    // A resolved Incident captured from the e2e rollback scenario.
    let incident = fixture("rollback-captured.yaml");
    let report = build(&incident, &[]);
    let rb = &report.rollbacks[0];
    assert_eq!((rb.from_revision, rb.to_revision), (Some(2), Some(1)));
    assert_eq!(
        (rb.from_build.as_deref(), rb.to_build.as_deref()),
        (Some("1002"), Some("1001"))
    );
    assert!(report.first_error.is_some() && !report.affected.nodes.is_empty());
    assert!(report.durations.time_to_resolve.is_some());
    let markdown = normalise(&to_markdown(&report));
    let path = format!("{}/tests/golden/report-rollback.md", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &markdown).unwrap();
    }
    let golden = std::fs::read_to_string(&path).expect("golden file exists; run with UPDATE_GOLDEN=1 to write it");
    assert_eq!(
        markdown, golden,
        "the report differs from {path}; run with UPDATE_GOLDEN=1 and review the diff"
    );
}

#[test]
fn aws_details_become_affected_servers_restored_databases_and_relaunched_instances() {
    let report = build(&fixture("aws-resolved.yaml"), &[]);
    assert_eq!(report.affected.databases, vec!["orders-db", "orders-db-restored"]);
    assert_eq!(report.affected.instances, vec!["i-0def5678", "i-0abc1234"]);
    assert_eq!(report.restored_databases, vec!["orders-db → orders-db-restored"]);
    assert_eq!(report.relaunched_instances, vec!["i-0abc1234 → i-0def5678"]);
    assert!(report.steps[1].details.contains(&"imageId=ami-12345678".to_string()));
    assert_eq!(report.durations.time_to_detect.as_ref().unwrap().text, "5m");
    let markdown = to_markdown(&report);
    for needle in [
        "- Restored databases: orders-db → orders-db-restored",
        "- Relaunched instances: i-0abc1234 → i-0def5678",
        "- EC2 instances: i-0def5678, i-0abc1234",
        "- Databases: orders-db, orders-db-restored",
        "  - Details: imageId=ami-12345678",
    ] {
        assert!(markdown.contains(needle), "missing {needle:?}:\n{markdown}");
    }
}

#[test]
fn the_report_is_blameless() {
    let markdown = to_markdown(&build(&fixture("rollback-resolved.yaml"), &[])).to_lowercase();
    for word in ["blame", "fault", "mistake", "careless", "human error"] {
        assert!(!markdown.contains(word), "the report should not say {word:?}");
    }
}
