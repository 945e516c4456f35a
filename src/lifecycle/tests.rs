//! The step planner and state machine, driven from YAML fixtures with no API server.

use super::*;
use crate::api::{Change, Incident, SafetyMode, Severity, StepState};
use crate::lifecycle::analysis::{MeasurementResult, Verdict as M};
use crate::lifecycle::model::{ActionError, Outcome};
use crate::triage::{classify, workload_signals, Signals, Verdict};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/lifecycle/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn t(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap() + Duration::seconds(secs)
}

struct World {
    incident: Incident,
    playbook: PlaybookLookup,
    signals: Signals,
    verdict: Verdict,
    others: Vec<OtherIncident>,
    limit: usize,
}

fn world() -> World {
    let rollout = crate::triage::tests::load("rollout-new-replicaset-crashlooping.yaml");
    let signals = workload_signals(&rollout.observation());
    let verdict = classify(&signals, &[], None, &mut Vec::new());
    World {
        incident: fixture_incident(),
        playbook: PlaybookLookup::Found {
            playbook: Box::new(fixture("playbook-web.yaml")),
            problems: vec![],
        },
        signals,
        verdict,
        others: vec![],
        limit: 5,
    }
}

fn fixture_incident() -> Incident {
    fixture("incident-checkout.yaml")
}

impl World {
    fn decide(&mut self, now: DateTime<Utc>) -> Decision {
        let no_default_approval = |_: &crate::api::StepSpec| false;
        let d = decide(&Inputs {
            incident: &self.incident,
            playbook: &self.playbook,
            signals: Some(&self.signals),
            verdict: Some(&self.verdict),
            others: &self.others,
            max_concurrent_mitigations: self.limit,
            action_requires_approval: &no_default_approval,
            now,
        });
        self.incident.status = Some(d.status.clone());
        d
    }

    fn status(&self) -> &crate::api::IncidentStatus {
        self.incident.status.as_ref().unwrap()
    }

    fn safety_mode(&mut self, mode: SafetyMode) {
        if let PlaybookLookup::Found { playbook, .. } = &mut self.playbook {
            playbook.spec.safety.as_mut().unwrap().mode = mode;
        }
    }

    /// Drives a fresh Incident to its first StartStep.
    fn drive_to_first_step(&mut self) -> Decision {
        self.decide(t(0));
        self.decide(t(1));
        self.decide(t(2));
        self.decide(t(3))
    }
}

fn outcome(message: &str) -> Outcome {
    Outcome {
        message: message.into(),
        already_applied: false,
        change: Change::default(),
    }
}

#[test]
fn a_new_incident_is_detected_triaged_and_planned() {
    let mut w = world();
    let d = w.decide(t(0));
    assert_eq!(d.status.phase, Some(crate::api::Phase::Detected));
    assert_eq!(d.status.timeline[0].type_, "Detected");
    assert!(d.status.timeline[0].message.contains("checkout returns 500"));
    assert_eq!(d.status.observed_generation, Some(1));

    let d = w.decide(t(1));
    assert_eq!(d.status.phase, Some(crate::api::Phase::Triaging));

    let d = w.decide(t(2));
    assert_eq!(d.next, Next::GatherEvidence);
    assert_eq!(d.status.severity, Some(Severity::Major));
    assert_eq!(d.status.phase, Some(crate::api::Phase::Mitigating));
    assert_eq!(d.status.playbook.as_deref(), Some("web"));
    let names: Vec<_> = d.status.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["rollback-deployment-1", "scale-deployment-2"]);
    assert!(d
        .status
        .timeline
        .iter()
        .any(|e| e.type_ == crate::api::EntryType::Triaged && e.message.contains("Major")));
    assert_eq!(d.status.impact.as_ref().unwrap().failing_pods, Some(1));

    let d = w.decide(t(3));
    assert_eq!(d.next, Next::StartStep(0));
}

#[test]
fn a_reconcile_with_nothing_new_changes_nothing() {
    let mut w = world();
    w.drive_to_first_step();
    w.safety_mode(SafetyMode::Approval);
    let first = w.decide(t(10));
    let second = w.decide(t(20));
    let third = w.decide(t(30));
    assert_eq!(first.status.phase, Some(crate::api::Phase::AwaitingApproval));
    assert_eq!(second.status, third.status, "a no-op reconcile must not rewrite status");
}

#[test]
fn approval_mode_waits_for_the_annotation() {
    let mut w = world();
    w.safety_mode(SafetyMode::Approval);
    let d = w.drive_to_first_step();
    assert_eq!(d.next, Next::Nothing);
    assert_eq!(w.status().phase, Some(crate::api::Phase::AwaitingApproval));
    assert_eq!(w.status().steps[0].state, StepState::AwaitingApproval);
    let annotations = w.incident.metadata.annotations.get_or_insert_with(Default::default);
    annotations.insert(crate::api::APPROVAL_ANNOTATION.into(), "true".into());
    annotations.insert(crate::api::APPROVED_BY_ANNOTATION.into(), "alice".into());
    let d = w.decide(t(30));
    assert_eq!(
        d.next,
        Next::Nothing,
        "a value other than the request's token approves nothing"
    );
    assert_eq!(w.status().steps[0].state, StepState::AwaitingApproval);
    let token = w.status().steps[0].approval.as_ref().unwrap().token.clone();
    w.incident
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(crate::api::APPROVAL_ANNOTATION.into(), token);
    let d = w.decide(t(40));
    assert_eq!(d.next, Next::StartStep(0));
    assert_eq!(w.status().phase, Some(crate::api::Phase::Mitigating));
    assert!(w
        .status()
        .timeline
        .iter()
        .any(|e| e.type_ == crate::api::EntryType::Approved));
    assert_eq!(
        w.status().steps[0].approval.as_ref().unwrap().approved_by.as_deref(),
        Some("alice")
    );
}

#[test]
fn the_intent_is_recorded_and_a_restart_resumes_instead_of_restarting() {
    let mut w = world();
    w.drive_to_first_step();
    let mut st = w.status().clone();
    let intent = Change {
        from_revision: Some(2),
        to_revision: Some(1),
        to_template_hash: Some("v1".into()),
        ..Change::default()
    };
    step_started(&mut st, 0, intent, false, "Deployment/checkout", t(4));
    assert_eq!(st.steps[0].state, StepState::Running);
    assert_eq!(st.steps[0].attempts, 1);
    w.incident.status = Some(st);
    // The operator died here; the next reconcile resumes the recorded intent.
    assert_eq!(w.decide(t(5)).next, Next::ResumeStep(0));
}

#[test]
fn success_validates_then_resolves() {
    let mut w = world();
    w.drive_to_first_step();
    let mut st = w.status().clone();
    step_started(&mut st, 0, Change::default(), false, "Deployment/checkout", t(4));
    let pb = match &w.playbook {
        PlaybookLookup::Found { playbook, .. } => playbook.clone(),
        _ => unreachable!(),
    };
    step_succeeded(
        &mut st,
        0,
        &outcome("rolled back"),
        pb.spec.validation.as_ref(),
        Some(1),
        t(5),
    );
    assert_eq!(st.phase, Some(crate::api::Phase::Validating));
    let ok = vec![(
        "available".to_string(),
        MeasurementResult {
            verdict: M::Successful,
            value: Some("3/3".into()),
            message: None,
        },
    )];
    assert_eq!(
        record_measurements(
            &mut st,
            pb.spec.validation.as_ref(),
            &ok,
            Some(1),
            DEFAULT_REVIEW_PERIOD,
            t(5)
        ),
        AfterMeasure::KeepMeasuring
    );
    assert_eq!(
        record_measurements(
            &mut st,
            pb.spec.validation.as_ref(),
            &ok,
            Some(1),
            DEFAULT_REVIEW_PERIOD,
            t(10)
        ),
        AfterMeasure::Resolved
    );
    assert_eq!(st.phase, Some(crate::api::Phase::Resolved));
    assert_eq!(st.postmortem.as_ref().unwrap().due_by, t(10) + Duration::hours(48));
    assert!(st
        .conditions
        .iter()
        .any(|c| c.type_ == "Validated" && c.status == "True"));
}

#[test]
fn the_review_period_is_configurable() {
    let mut st = crate::api::IncidentStatus {
        validation: Some(crate::api::ValidationStatus {
            started_at: t(0),
            verdict: crate::api::AnalysisVerdict::Running,
            checks: vec![crate::api::CheckStatus {
                name: "available".into(),
                phase: crate::api::AnalysisVerdict::Running,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let spec = crate::api::ValidationSpec {
        count: Some(1),
        ..Default::default()
    };
    let ok = vec![(
        "available".to_string(),
        MeasurementResult {
            verdict: M::Successful,
            value: None,
            message: None,
        },
    )];
    let week = std::time::Duration::from_secs(7 * 24 * 3600);
    assert_eq!(
        record_measurements(&mut st, Some(&spec), &ok, Some(1), week, t(3)),
        AfterMeasure::Resolved
    );
    assert_eq!(st.postmortem.as_ref().unwrap().due_by, t(3) + Duration::days(7));
}

#[test]
fn failed_validation_runs_the_next_step_then_escalates_and_asks_for_revert() {
    let mut w = world();
    w.drive_to_first_step();
    let pb = match &w.playbook {
        PlaybookLookup::Found { playbook, .. } => playbook.clone(),
        _ => unreachable!(),
    };
    let v = pb.spec.validation.as_ref();
    let bad = vec![(
        "available".to_string(),
        MeasurementResult {
            verdict: M::Failed,
            value: None,
            message: Some("1/3".into()),
        },
    )];
    let mut st = w.status().clone();
    step_started(&mut st, 0, Change::default(), false, "x", t(4));
    step_succeeded(&mut st, 0, &outcome("rolled back"), v, Some(1), t(5));
    assert_eq!(
        record_measurements(&mut st, v, &bad, Some(1), DEFAULT_REVIEW_PERIOD, t(6)),
        AfterMeasure::Failed { revert_step: None }
    );
    assert_eq!(st.phase, Some(crate::api::Phase::Mitigating));
    w.incident.status = Some(st);
    assert_eq!(w.decide(t(7)).next, Next::StartStep(1));
    let mut st = w.status().clone();
    step_started(
        &mut st,
        1,
        Change {
            from_replicas: Some(3),
            to_replicas: Some(6),
            ..Change::default()
        },
        false,
        "x",
        t(8),
    );
    let scaled = Outcome {
        change: st.steps[1].intent.clone().unwrap(),
        ..outcome("scaled")
    };
    step_succeeded(&mut st, 1, &scaled, v, Some(1), t(9));
    assert_eq!(
        record_measurements(&mut st, v, &bad, Some(1), DEFAULT_REVIEW_PERIOD, t(10)),
        AfterMeasure::Failed { revert_step: Some(1) }
    );
    // The revert comes first, under its own intent; what follows is decided after it.
    assert_eq!(st.phase, Some(crate::api::Phase::Mitigating));
    let revert = st.steps[1].revert.clone().unwrap();
    assert_eq!(revert.state, crate::api::RevertState::Running);
    assert_eq!(
        (revert.intent.from_replicas, revert.intent.to_replicas),
        (Some(6), Some(3))
    );
    w.incident.status = Some(st.clone());
    assert_eq!(
        w.decide(t(11)).next,
        Next::RevertStep(1),
        "a restart resumes the revert"
    );
    revert_finished(&mut st, 1, Ok(&outcome("scaled back to 3")), Some(1), t(12));
    assert!(st.steps[1].reverted);
    assert_eq!(st.phase, Some(crate::api::Phase::Escalated));
    assert!(st
        .timeline
        .last()
        .unwrap()
        .message
        .contains("no mitigation step is left"));
}

#[test]
fn a_refused_step_fails_at_once_and_a_transient_one_retries() {
    let mut w = world();
    w.drive_to_first_step();
    let mut st = w.status().clone();
    step_failed(&mut st, 0, &ActionError::Transient("timeout".into()), 2, Some(1), t(4));
    assert_eq!(st.steps[0].state, StepState::Pending);
    assert_eq!(st.steps[0].attempts, 1);
    assert_eq!(st.steps[0].retry_after, Some(t(9)));
    w.incident.status = Some(st);
    assert_eq!(w.decide(t(5)).next, Next::Nothing, "waits for the retry time");
    assert_eq!(w.decide(t(9)).next, Next::StartStep(0));
    let mut st = w.status().clone();
    step_failed(
        &mut st,
        0,
        &ActionError::Transient("timeout again".into()),
        2,
        Some(1),
        t(10),
    );
    assert_eq!(st.steps[0].state, StepState::Failed, "attempts are limited");
    assert_eq!(st.phase, Some(crate::api::Phase::Mitigating), "the next step follows");
    step_failed(&mut st, 1, &ActionError::Refused("no".into()), 2, Some(1), t(11));
    assert_eq!(st.steps[1].state, StepState::Failed);
    assert_eq!(st.steps[1].attempts, 1);
    assert_eq!(st.phase, Some(crate::api::Phase::Escalated));
}

#[test]
fn dry_run_records_every_step_and_changes_nothing() {
    let mut w = world();
    w.safety_mode(SafetyMode::DryRun);
    assert_eq!(w.drive_to_first_step().next, Next::StartStep(0));
    let mut st = w.status().clone();
    step_started(&mut st, 0, Change::default(), true, "x", t(4));
    step_succeeded(&mut st, 0, &outcome("dry-run: would roll back"), None, Some(1), t(5));
    assert_eq!(st.phase, Some(crate::api::Phase::Mitigating));
    step_started(&mut st, 1, Change::default(), true, "x", t(6));
    step_succeeded(&mut st, 1, &outcome("dry-run: would scale"), None, Some(1), t(7));
    assert_eq!(st.phase, Some(crate::api::Phase::Escalated));
    assert!(st.steps.iter().all(|s| s.dry_run));
    assert!(st.timeline.iter().any(|e| e.message.contains("would roll back")));
}

fn other(name: &str, created: i64, phase: crate::api::Phase) -> OtherIncident {
    OtherIncident {
        uid: format!("uid-{name}"),
        namespace: "shop".into(),
        name: name.into(),
        target_kind: crate::api::TargetKind::Deployment,
        target_name: "checkout".into(),
        phase: Some(phase),
        created: t(created),
        last_mutation_at: None,
        mitigating: false,
    }
}

#[test]
fn a_second_incident_on_the_same_target_links_to_the_first() {
    let mut w = world();
    w.others = vec![other("older", -60, crate::api::Phase::Mitigating)];
    w.drive_to_first_step();
    assert_eq!(w.status().linked_to.as_deref(), Some("older"));
    assert!(w.status().steps.is_empty());
    w.others[0].phase = Some(crate::api::Phase::Resolved);
    w.decide(t(10));
    assert_eq!(w.status().phase, Some(crate::api::Phase::Resolved));
}

#[test]
fn the_newer_incident_never_wins_the_target() {
    let mut w = world();
    w.others = vec![other("newer", 60, crate::api::Phase::Triaging)];
    assert_eq!(w.drive_to_first_step().next, Next::StartStep(0));
    assert!(w.status().linked_to.is_none());
}

#[test]
fn cooldown_and_the_concurrency_limit_make_it_wait() {
    let mut w = world();
    let mut done = other("earlier", -600, crate::api::Phase::Resolved);
    done.last_mutation_at = Some(t(-60));
    w.others = vec![done];
    w.decide(t(0));
    w.decide(t(1));
    w.decide(t(2));
    assert_eq!(w.decide(t(3)).next, Next::Nothing);
    assert!(w.status().timeline.last().unwrap().message.starts_with("cooldown"));
    assert_eq!(w.decide(t(241)).next, Next::StartStep(0), "after 5 minutes it may act");

    let mut w = world();
    let mut busy = other("elsewhere", -600, crate::api::Phase::Mitigating);
    busy.target_name = "cart".into();
    busy.mitigating = true;
    w.others = vec![busy];
    w.limit = 1;
    assert_eq!(w.drive_to_first_step().next, Next::Nothing);
    assert!(w
        .status()
        .timeline
        .last()
        .unwrap()
        .message
        .contains("cluster-wide limit is 1"));
}

#[test]
fn no_playbook_escalates_with_the_reason() {
    let mut w = world();
    w.playbook = PlaybookLookup::Missing("no Playbook in namespace shop selects Deployment/checkout".into());
    w.drive_to_first_step();
    assert_eq!(w.status().phase, Some(crate::api::Phase::Escalated));
    assert!(w.status().timeline.last().unwrap().message.contains("no Playbook"));
}

#[test]
fn severity_escalates_with_a_reason_and_never_silently_drops() {
    let mut w = world();
    w.drive_to_first_step();
    let all_down = crate::triage::tests::load("all-replicas-down.yaml");
    w.signals = workload_signals(&all_down.observation());
    w.verdict = classify(&w.signals, &[], None, &mut Vec::new());
    w.decide(t(20));
    assert_eq!(w.status().severity, Some(Severity::Critical));
    let entry = w
        .status()
        .timeline
        .iter()
        .find(|e| e.type_ == crate::api::EntryType::SeverityChanged)
        .unwrap();
    assert_eq!(entry.message, "severity Major → Critical: 0/3 endpoints ready");
    w.verdict.severity = Severity::Minor;
    w.decide(t(30));
    assert_eq!(w.status().severity, Some(Severity::Critical));
}

#[test]
fn the_timeline_is_bounded() {
    let mut st = crate::api::IncidentStatus::default();
    for i in 0..120 {
        crate::timeline::record(&mut st, t(i), crate::api::EntryType::Waiting, format!("{i}"));
    }
    assert_eq!(st.timeline.len(), crate::timeline::STATUS_TIMELINE_CAP);
    assert_eq!(st.timeline_dropped, 70);
    assert_eq!(st.timeline[0].message, "70");
}

fn ship(w: &mut World, revision: i64, image: &str) {
    let release = w.signals.release.get_or_insert_with(Default::default);
    release.revision = Some(revision);
    release.template_hash = Some(format!("hash-{revision}"));
    release.images = vec![image.into()];
    release.changed_by = Some("kubectl-client-side-apply".into());
}

fn heal(w: &mut World) {
    let s = &mut w.signals;
    s.crash_looping_pods = 0;
    s.not_ready_pods = 0;
    s.available_replicas = s.desired_replicas;
    s.unavailable_replicas = 0;
    s.new_replica_set_failing = false;
    s.ready_endpoints = s.total_endpoints;
}

#[test]
fn a_fix_shipped_while_approval_waits_resolves_instead_of_being_rolled_back() {
    let mut w = world();
    w.safety_mode(SafetyMode::Approval);
    w.drive_to_first_step();
    assert_eq!(w.status().phase, Some(crate::api::Phase::AwaitingApproval));
    assert!(w.status().target_state.is_some(), "the release triaged on is on record");
    ship(&mut w, 3, "checkout:v3");
    heal(&mut w);
    w.incident
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(crate::api::APPROVAL_ANNOTATION.into(), "true".into());
    let d = w.decide(t(30));
    assert_eq!(d.next, Next::Nothing, "approving does not roll the fix back");
    assert_eq!(d.status.phase, Some(crate::api::Phase::Resolved));
    let changed = d
        .status
        .timeline
        .iter()
        .find(|e| e.type_ == crate::api::EntryType::TargetChanged)
        .unwrap();
    assert!(changed.message.contains("checkout:v3"), "{}", changed.message);
    assert!(
        changed.message.contains("kubectl-client-side-apply"),
        "{}",
        changed.message
    );
}

#[test]
fn a_release_that_still_fails_is_planned_again_and_needs_a_new_approval() {
    let mut w = world();
    w.safety_mode(SafetyMode::Approval);
    w.drive_to_first_step();
    ship(&mut w, 3, "checkout:v3");
    let d = w.decide(t(30));
    assert_eq!(d.next, Next::Nothing);
    assert_eq!(d.status.phase, Some(crate::api::Phase::Triaging));
    assert!(d
        .status
        .timeline
        .iter()
        .any(|e| e.type_ == crate::api::EntryType::ApprovalWithdrawn));
    // Planned again from v3, the step waits for a new approval.
    w.decide(t(31));
    let d = w.decide(t(32));
    assert_eq!(d.status.phase, Some(crate::api::Phase::AwaitingApproval));
    assert_eq!(
        d.status.target_state.as_ref().unwrap().images,
        vec!["checkout:v3".to_string()]
    );
}

#[test]
fn a_target_healthy_at_the_moment_of_acting_is_left_alone() {
    let mut w = world();
    w.incident.spec.source = crate::api::IncidentSource::HealthCheck;
    w.drive_to_first_step();
    w.incident.status.as_mut().unwrap().steps[0].state = StepState::Pending;
    heal(&mut w);
    let d = w.decide(t(10));
    assert_eq!(d.next, Next::Nothing);
    assert_eq!(d.status.phase, Some(crate::api::Phase::Resolved));
    assert!(d.status.steps.iter().all(|s| s.started_at.is_none()));
}

#[test]
fn a_recorded_intent_on_a_healthy_target_is_only_confirmed() {
    let mut w = world();
    w.incident.spec.source = crate::api::IncidentSource::HealthCheck;
    w.drive_to_first_step();
    let mut st = w.status().clone();
    step_started(&mut st, 0, Change::default(), false, "Deployment/checkout", t(4));
    w.incident.status = Some(st);
    heal(&mut w);
    assert_eq!(w.decide(t(5)).next, Next::ConfirmStep(0));
}

#[test]
fn a_failing_revert_is_retried_with_backoff_then_escalates() {
    let mut w = world();
    w.drive_to_first_step();
    let mut st = w.status().clone();
    let scaled = Change {
        from_replicas: Some(3),
        to_replicas: Some(6),
        ..Change::default()
    };
    step_started(&mut st, 1, scaled, false, "x", t(4));
    revert_started(&mut st, 1, "validation failed", t(5));
    let timeout = ActionError::Transient("timeout".into());
    let mut now = t(5);
    for attempt in 1..MAX_REVERT_ATTEMPTS {
        revert_finished(&mut st, 1, Err(&timeout), Some(1), now);
        let retry = st.steps[1].revert.as_ref().unwrap().retry_after.unwrap();
        assert!(retry > now, "attempt {attempt} backs off");
        w.incident.status = Some(st.clone());
        assert_eq!(w.decide(now).next, Next::Nothing, "waits for the backoff");
        now = retry;
        let d = w.decide(now);
        assert_eq!(d.next, Next::RevertStep(1));
        st = d.status;
        assert_eq!(st.steps[1].revert.as_ref().unwrap().attempts, attempt + 1);
    }
    revert_finished(&mut st, 1, Err(&timeout), Some(1), now);
    assert_eq!(st.phase, Some(crate::api::Phase::Escalated));
    assert_eq!(
        st.steps[1].revert.as_ref().unwrap().state,
        crate::api::RevertState::Failed
    );
}

#[test]
fn a_revert_the_target_changed_under_is_not_forced() {
    let mut w = world();
    w.drive_to_first_step();
    let mut st = w.status().clone();
    step_started(&mut st, 1, Change::default(), false, "x", t(4));
    revert_started(&mut st, 1, "validation failed", t(5));
    let drift = ActionError::Drifted(crate::lifecycle::model::Drift {
        message: "replicas 6 → 9".into(),
        field_manager: Some("hpa".into()),
    });
    revert_finished(&mut st, 1, Err(&drift), Some(1), t(6));
    assert_eq!(st.phase, Some(crate::api::Phase::Escalated));
    assert!(!st.steps[1].reverted);
    assert!(st.timeline.last().unwrap().message.contains("replicas 6 → 9"));
}

#[test]
fn a_change_between_plan_and_action_is_planned_again_and_waits_for_a_human() {
    let mut w = world();
    w.drive_to_first_step();
    let mut st = w.status().clone();
    step_started(&mut st, 0, Change::default(), false, "Deployment/checkout", t(4));
    let drift = crate::lifecycle::model::Drift {
        message: "replicas 3 → 5".into(),
        field_manager: Some("oncall-human".into()),
    };
    step_drifted(&mut st, 0, &drift, Some(1), t(5));
    assert_eq!(st.phase, Some(crate::api::Phase::Triaging));
    assert!(st
        .approval_required_because
        .as_deref()
        .unwrap()
        .contains("oncall-human"));
    w.incident.status = Some(st);
    w.decide(t(6));
    let d = w.decide(t(7));
    assert_eq!(d.next, Next::Nothing, "auto mode, yet a human decides now");
    assert_eq!(d.status.phase, Some(crate::api::Phase::AwaitingApproval));
    let waiting = d
        .status
        .timeline
        .iter()
        .rev()
        .find(|e| e.type_ == "AwaitingApproval")
        .unwrap();
    assert!(waiting.message.contains("oncall-human"), "{}", waiting.message);
}
