//! Routing by severity, notification derivation and payload formats.

use super::message::digest_body;
use super::{body, notifications, route, Message, Notification};
use crate::api::Postmortem;
use crate::api::{IncidentStatus, NotifySpec, Phase, ReceiverType, Severity, StepState, StepStatus};
use chrono::TimeZone;
use chrono::Utc;

fn spec(yaml: &str) -> NotifySpec {
    serde_yaml::from_str(yaml).unwrap()
}

const RECEIVERS: &str = "receivers: [{name: team, type: webhook, url: {name: s, key: team}}, {name: chat, type: slack, url: {name: s, key: chat}}, {name: oncall, type: pagerduty, routingKey: {name: s, key: pd}}]";

fn names(spec: &NotifySpec, severity: Severity) -> Vec<(String, bool)> {
    route(spec, severity)
        .into_iter()
        .map(|d| (d.receiver.name, d.digest))
        .collect()
}

#[test]
fn runbook_defaults_route_by_severity() {
    let s = spec(&format!("{{{RECEIVERS}}}"));
    let now = |n: &[&str]| n.iter().map(|x| (x.to_string(), false)).collect::<Vec<_>>();
    assert_eq!(
        names(&s, Severity::Critical),
        now(&["team", "chat", "oncall"]),
        "all hands"
    );
    assert_eq!(
        names(&s, Severity::Major),
        now(&["team", "chat", "oncall"]),
        "all hands"
    );
    assert_eq!(
        names(&s, Severity::Medium),
        now(&["team", "chat"]),
        "the owning team, no page"
    );
    assert_eq!(
        names(&s, Severity::Minor),
        vec![("team".into(), true), ("chat".into(), true)],
        "the digest, never a page"
    );
}

#[test]
fn explicit_routes_win_but_minor_never_pages() {
    let s = spec(&format!(
        "{{{RECEIVERS}, routes: [{{severities: [Critical], receivers: [oncall]}}, {{severities: [Medium, Minor], receivers: [oncall, chat], digest: true}}]}}"
    ));
    assert_eq!(names(&s, Severity::Critical), vec![("oncall".into(), false)]);
    assert!(names(&s, Severity::Major).is_empty(), "no route, no notification");
    assert_eq!(
        names(&s, Severity::Medium),
        vec![("oncall".into(), true), ("chat".into(), true)]
    );
    assert_eq!(
        names(&s, Severity::Minor),
        vec![("chat".into(), true)],
        "Minor never pages"
    );
}

fn step(name: &str, started: bool, finished: bool) -> StepStatus {
    StepStatus {
        state: if finished {
            StepState::Succeeded
        } else {
            StepState::Running
        },
        attempts: 1,
        started_at: started.then(Utc::now),
        finished_at: finished.then(Utc::now),
        ..StepStatus::pending(name.into(), "RollbackDeployment".into(), None)
    }
}

#[test]
fn notifications_follow_the_lifecycle() {
    let opened = IncidentStatus {
        severity: Some(Severity::Major),
        phase: Some(Phase::Triaging),
        ..Default::default()
    };
    assert_eq!(notifications(None, &opened), vec![Notification::Opened]);
    let worse = IncidentStatus {
        severity: Some(Severity::Critical),
        ..opened.clone()
    };
    assert_eq!(
        notifications(Some(&opened), &worse),
        vec![Notification::SeverityChanged]
    );
    let started = IncidentStatus {
        steps: vec![step("rollback", true, false)],
        phase: Some(Phase::Mitigating),
        ..worse.clone()
    };
    assert_eq!(
        notifications(Some(&worse), &started),
        vec![Notification::StepStarted("rollback".into())]
    );
    let resolved = IncidentStatus {
        steps: vec![step("rollback", true, true)],
        phase: Some(Phase::Resolved),
        ..started.clone()
    };
    let got = notifications(Some(&started), &resolved);
    assert!(got.contains(&Notification::StepFinished("rollback".into())) && got.contains(&Notification::Resolved));
}

fn message(severity: Severity, notification: Notification) -> Message {
    Message {
        id: "uid-1".into(),
        namespace: "shop".into(),
        incident: "checkout-rollout-2".into(),
        notification,
        severity,
        phase: "Mitigating".into(),
        target: "Deployment/checkout".into(),
        summary: "checkout crash-loops".into(),
        responder: Some("alice".into()),
        time: Utc::now(),
    }
}

#[test]
fn payloads_match_each_receiver_type() {
    let m = message(Severity::Critical, Notification::Opened);
    let w = body(ReceiverType::Webhook, &m, None);
    assert_eq!(
        (w["notification"].as_str(), w["urgency"].as_str()),
        (Some("opened"), Some("all-hands"))
    );
    assert_eq!(w["responder"], "alice");
    let s = body(ReceiverType::Slack, &m, None);
    assert!(s["text"]
        .as_str()
        .unwrap()
        .contains("all hands on deck; responder: alice"));
    let p = body(ReceiverType::Pagerduty, &m, Some("key"));
    assert_eq!(p["routing_key"], "key");
    assert_eq!(p["event_action"], "trigger");
    assert_eq!(p["dedup_key"], "dontpanic/shop/checkout-rollout-2");
    assert_eq!(p["payload"]["severity"], "critical");
    let r = body(
        ReceiverType::Pagerduty,
        &message(Severity::Major, Notification::Resolved),
        Some("key"),
    );
    assert_eq!(
        (r["event_action"].as_str(), r["payload"]["severity"].as_str()),
        (Some("resolve"), Some("error"))
    );
    let d = digest_body(ReceiverType::Webhook, &[message(Severity::Minor, Notification::Opened)]);
    assert_eq!(
        (d["notification"].as_str(), d["count"].as_u64()),
        (Some("digest"), Some(1))
    );
}

#[test]
fn resolution_tells_the_responder_when_the_review_is_due() {
    let due_by = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap();
    let old = IncidentStatus {
        phase: Some(Phase::Validating),
        responder: Some("team-checkout".into()),
        ..Default::default()
    };
    let new = IncidentStatus {
        phase: Some(Phase::Resolved),
        postmortem: Some(Postmortem { due_by }),
        ..old.clone()
    };
    let notes = notifications(Some(&old), &new);
    assert!(notes.contains(&Notification::Resolved));
    assert!(notes.contains(&Notification::PostmortemDue {
        responder: Some("team-checkout".into()),
        due_by
    }));
    assert!(!notifications(Some(&new), &new)
        .iter()
        .any(|n| matches!(n, Notification::PostmortemDue { .. })));
}

#[test]
fn an_escalation_says_why_even_when_evidence_follows_it() {
    let triaging = IncidentStatus {
        severity: Some(Severity::Minor),
        phase: Some(Phase::Triaging),
        ..Default::default()
    };
    let mut escalated = IncidentStatus {
        phase: Some(Phase::Escalated),
        ..triaging.clone()
    };
    let now = Utc::now();
    crate::timeline::record(
        &mut escalated,
        now,
        crate::api::EntryType::PhaseChanged,
        "Escalated: no usable Playbook: none selects it",
    );
    crate::timeline::record(
        &mut escalated,
        now,
        crate::api::EntryType::Evidence,
        "rollout history: rev 1",
    );
    assert_eq!(
        notifications(Some(&triaging), &escalated),
        vec![Notification::Escalated("no usable Playbook: none selects it".into())]
    );
}
