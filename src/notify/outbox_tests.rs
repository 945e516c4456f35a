//! The pending notifications in status: recorded with their change, delivered at least once,
//! bounded; and who hears about an Incident no Playbook handles.

use super::outbox::{apply_attempts, backoff, due, pending_for, reflects, stage, Target};
use super::route::{targets, Handling};
use super::{Attempt, DefaultReceiverError, Message, Notification, Receiver, MAX_ATTEMPTS, MAX_PENDING};
use crate::api::{
    Incident, IncidentStatus, NotificationKind, NotifySpec, Phase, Postmortem, ReceiverOrigin, ReceiverType, Severity,
};
use crate::webhook::token::TokenRef;
use chrono::{DateTime, Duration, Utc};

fn target(name: &str, pages: bool) -> Target {
    Target {
        receiver: name.into(),
        from: ReceiverOrigin::Playbook,
        digest: false,
        pages,
    }
}

fn opened() -> IncidentStatus {
    IncidentStatus {
        severity: Some(Severity::Major),
        phase: Some(Phase::Triaging),
        responder: Some("alice".into()),
        ..Default::default()
    }
}

fn now() -> DateTime<Utc> {
    "2026-11-23T10:00:00Z".parse().unwrap()
}

/// A status holding one pending "opened" notification to `team` and `oncall`.
fn with_pending() -> IncidentStatus {
    let before = IncidentStatus::default();
    let (status, _) = stage(
        Some(&before),
        &opened(),
        &[],
        &[target("team", false), target("oncall", true)],
        "uid-1",
        now(),
    );
    status
}

fn attempt(receiver: &str, number: u32, failure: Option<&str>) -> Attempt {
    Attempt {
        id: "uid-1-0".into(),
        receiver: receiver.into(),
        number,
        failure: failure.map(String::from),
    }
}

#[test]
fn a_change_records_its_notifications_in_the_same_status() {
    let status = with_pending();
    let ids: Vec<(&str, &str)> = status
        .notifications
        .iter()
        .map(|p| (p.id.as_str(), p.receiver.as_str()))
        .collect();
    assert_eq!(
        ids,
        vec![("uid-1-0", "team"), ("uid-1-0", "oncall")],
        "one id, every receiver"
    );
    let p = &status.notifications[0];
    assert_eq!(
        (p.kind, p.severity, p.responder.as_deref(), p.recorded_at, p.attempts),
        (NotificationKind::Opened, Severity::Major, Some("alice"), now(), 0)
    );
    assert!(due(p, now()));
    // Writing the same status again records nothing new.
    let (again, notes) = stage(Some(&status), &status, &[], &[target("team", false)], "uid-2", now());
    assert!(notes.is_empty());
    assert_eq!(again.notifications, status.notifications);
}

#[test]
fn a_failed_attempt_waits_with_backoff_and_a_delivered_one_leaves() {
    let mut status = with_pending();
    let failed = attempt("team", 1, Some("receiver answered 503"));
    apply_attempts(&mut status, std::slice::from_ref(&failed), now());
    let team = status
        .notifications
        .iter()
        .find(|p| p.receiver == "team")
        .unwrap()
        .clone();
    assert_eq!(team.attempts, 1);
    assert_eq!(team.next_attempt_at, Some(now() + backoff(1)));
    assert_eq!(team.last_error.as_deref(), Some("receiver answered 503"));
    assert!(!due(&team, now()) && due(&team, now() + backoff(1)));
    assert!(reflects(&status, &failed));
    // The same result again changes nothing: it is recorded once.
    let before = status.clone();
    apply_attempts(&mut status, &[failed], now() + Duration::seconds(5));
    assert_eq!(status, before);
    apply_attempts(&mut status, &[attempt("team", 2, None)], now());
    let left: Vec<&str> = status.notifications.iter().map(|p| p.receiver.as_str()).collect();
    assert_eq!(left, vec!["oncall"], "delivered to team; oncall still pending");
    assert!(backoff(2) > backoff(1) && backoff(30) <= Duration::seconds(60));
}

#[test]
fn the_last_failed_attempt_gives_up_once_in_the_timeline() {
    let mut status = with_pending();
    let all: Vec<Attempt> = (1..=MAX_ATTEMPTS)
        .map(|n| attempt("team", n, Some("POST failed: connection refused")))
        .collect();
    apply_attempts(&mut status, &all, now());
    apply_attempts(&mut status, &all, now());
    assert!(status.notifications.iter().all(|p| p.receiver != "team"));
    let failures: Vec<&str> = status
        .timeline
        .iter()
        .filter(|e| e.type_ == crate::api::EntryType::NotificationFailed)
        .map(|e| e.message.as_str())
        .collect();
    assert_eq!(
        failures,
        vec!["opened notification to receiver team failed after 3 attempts: POST failed: connection refused"]
    );
}

#[test]
fn a_status_decided_before_a_write_does_not_bring_back_what_it_removed() {
    let stale = with_pending();
    let attempts = vec![
        attempt("team", 1, None),
        attempt("oncall", 1, Some("x")),
        attempt("oncall", 2, Some("x")),
        attempt("oncall", 3, Some("x")),
    ];
    let (written, _) = stage(Some(&stale), &stale, &attempts, &[], "uid-2", now());
    assert!(written.notifications.is_empty());
    // Later in the same reconcile, a status decided from before that write is written.
    let mut decided = stale.clone();
    decided.phase = Some(Phase::Mitigating);
    let (again, _) = stage(Some(&written), &decided, &attempts, &[], "uid-3", now());
    assert!(again.notifications.is_empty(), "{:?}", again.notifications);
    let failures = again
        .timeline
        .iter()
        .filter(|e| e.type_ == crate::api::EntryType::NotificationFailed)
        .count();
    assert_eq!(failures, 1, "the give-up stays in the timeline, once");
}

#[test]
fn the_pending_list_is_bounded_and_says_what_it_dropped() {
    let mut status = opened();
    let targets: Vec<Target> = (0..MAX_PENDING + 3).map(|i| target(&format!("r{i}"), false)).collect();
    let (staged, _) = stage(Some(&IncidentStatus::default()), &status, &[], &targets, "uid-1", now());
    assert_eq!(staged.notifications.len(), MAX_PENDING);
    assert_eq!(staged.notifications[0].receiver, "r3", "the oldest go first");
    let dropped = staged.timeline.last().unwrap();
    assert!(dropped.type_ == "NotificationFailed" && dropped.message.starts_with("3 undelivered"));
    status.severity = None;
    assert!(
        pending_for(&[Notification::Opened], &status, &targets, "u", now()).is_empty(),
        "nothing to tell without a severity"
    );
}

#[test]
fn a_review_reminder_never_pages() {
    let due_by = now() + Duration::hours(48);
    let status = IncidentStatus {
        postmortem: Some(Postmortem { due_by }),
        ..opened()
    };
    let note = Notification::PostmortemDue {
        responder: Some("alice".into()),
        due_by,
    };
    let pending = pending_for(
        std::slice::from_ref(&note),
        &status,
        &[target("team", false), target("oncall", true)],
        "u",
        now(),
    );
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].receiver, "team");
    assert_eq!(
        Notification::of(&pending[0]),
        note,
        "the status holds all the message needs"
    );
}

#[test]
fn a_message_is_rebuilt_from_status_alone_with_its_id() {
    let incident: Incident = serde_yaml::from_str(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {name: checkout-down, namespace: shop}\nspec: {summary: checkout is down, target: {kind: Deployment, name: checkout}}\n",
    )
    .unwrap();
    let status = with_pending();
    let message = Message::of(&incident, &status.notifications[0]);
    assert_eq!(message.id, "uid-1-0");
    assert_eq!(message.time, now(), "when it happened, not when it was delivered");
    let body = super::body(ReceiverType::Webhook, &message, None);
    assert_eq!(
        (body["id"].as_str(), body["notification"].as_str()),
        (Some("uid-1-0"), Some("opened"))
    );
    assert_eq!(body["incident"]["name"], "checkout-down");
}

fn secret(text: &str) -> Option<TokenRef> {
    Some(text.parse().unwrap())
}

#[test]
fn an_incident_no_playbook_handles_goes_to_the_default_receiver() {
    let hook = Receiver::default_from_flags(Some(ReceiverType::Webhook), secret("ops/hooks:url"), None)
        .unwrap()
        .unwrap();
    let page = Receiver::default_from_flags(Some(ReceiverType::Pagerduty), None, secret("ops/pd:key"))
        .unwrap()
        .unwrap();
    let names = |t: Vec<Target>| {
        t.into_iter()
            .map(|t| (t.receiver, t.from, t.digest))
            .collect::<Vec<_>>()
    };
    let default = ("default".to_string(), ReceiverOrigin::OperatorDefault, false);
    assert_eq!(
        names(targets(Handling::Nobody, Severity::Minor, Some(&hook))),
        vec![default.clone()],
        "at once, even when Minor"
    );
    assert_eq!(
        names(targets(Handling::Nobody, Severity::Critical, Some(&page))),
        vec![default]
    );
    assert!(
        targets(Handling::Nobody, Severity::Minor, Some(&page)).is_empty(),
        "Minor never pages"
    );
    assert!(targets(Handling::Nobody, Severity::Critical, None).is_empty());
    assert!(targets(Handling::Linked, Severity::Critical, Some(&hook)).is_empty());
    let spec: NotifySpec =
        serde_yaml::from_str("receivers: [{name: team, type: webhook, url: {name: s, key: k}}]").unwrap();
    assert_eq!(
        names(targets(Handling::Playbook(Some(&spec)), Severity::Major, Some(&hook))),
        vec![("team".to_string(), ReceiverOrigin::Playbook, false)],
        "a Playbook that handles it keeps its own receivers"
    );
    assert!(targets(Handling::Playbook(None), Severity::Major, Some(&hook)).is_empty());
}

#[test]
fn a_default_receiver_that_could_never_deliver_is_refused() {
    assert_eq!(Receiver::default_from_flags(None, None, None), Ok(None));
    assert_eq!(
        Receiver::default_from_flags(None, secret("ops/hooks:url"), None),
        Err(DefaultReceiverError::NoType)
    );
    assert_eq!(
        Receiver::default_from_flags(Some(ReceiverType::Slack), None, None),
        Err(DefaultReceiverError::NoUrl(ReceiverType::Slack))
    );
    assert_eq!(
        Receiver::default_from_flags(Some(ReceiverType::Pagerduty), secret("ops/pd:url"), None),
        Err(DefaultReceiverError::NoRoutingKey)
    );
}
