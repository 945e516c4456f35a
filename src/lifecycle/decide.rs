//! One reconcile's decision: the status to write and what to do next.

use super::approval::{self, Gate};
use super::effects::ClaimResult;
use super::revert::{revert_due, revert_started};
use super::safety::{approval_required, SafetyPolicy};
use super::steps::replan_or_escalate;
use super::{escalate, resolve_without_action, set_phase};
use crate::api::{
    set_condition, Incident, IncidentSource, IncidentStatus, Phase, Playbook, RevertState, Severity, StepSpec,
    StepState, StepStatus, TargetKind,
};
use crate::duration::format_duration;
use crate::timeline::{last_says, record};
use crate::triage::{impact, Signals, Verdict};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// The Playbook an Incident follows, or why there is none.
#[derive(Debug, Clone)]
pub enum PlaybookLookup {
    Found {
        playbook: Box<Playbook>,
        problems: Vec<String>,
    },
    Missing(String),
}

/// What the lifecycle needs to know about another Incident.
#[derive(Debug, Clone, PartialEq)]
pub struct OtherIncident {
    pub uid: String,
    pub namespace: String,
    pub name: String,
    pub target_kind: TargetKind,
    pub target_name: String,
    pub phase: Option<Phase>,
    pub created: DateTime<Utc>,
    /// When its last real (not dry-run) mutating step finished successfully.
    pub last_mutation_at: Option<DateTime<Utc>>,
    /// It is open and has started a real (not dry-run) step: it holds its target, whatever its
    /// age, and one of the cluster's mitigation slots.
    pub mitigating: bool,
}

/// Everything a decision is made from.
pub struct Inputs<'a> {
    pub incident: &'a Incident,
    pub playbook: &'a PlaybookLookup,
    /// Fresh signals of the target; present in open phases after Detected.
    pub signals: Option<&'a Signals>,
    /// Triage of those signals.
    pub verdict: Option<&'a Verdict>,
    /// Other Incidents in scope (not this one).
    pub others: &'a [OtherIncident],
    pub max_concurrent_mitigations: usize,
    /// Whether an action declares it needs approval by default, by step index.
    pub action_requires_approval: &'a dyn Fn(&StepSpec) -> bool,
    pub now: DateTime<Utc>,
}

/// What the driver must do after writing the decided status.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Nothing beyond writing status.
    Nothing,
    /// Gather evidence and add it to status.
    GatherEvidence,
    /// Plan the step's change, record it as intent, then apply it.
    StartStep(usize),
    /// The step's intent is recorded but its result is not: apply it (idempotently).
    ResumeStep(usize),
    /// As `ResumeStep`, but the target looks healthy now: only find out (by a dry-run) whether
    /// the intent was applied before the restart; if not, it is dropped, never carried out.
    ConfirmStep(usize),
    /// The step's revert intent is recorded: undo the step (idempotently).
    RevertStep(usize),
    /// Take the due validation measurements.
    Measure,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub status: IncidentStatus,
    pub next: Next,
    pub requeue: Duration,
}

const WAIT: Duration = Duration::from_secs(5);
const IDLE: Duration = Duration::from_secs(15);
/// A requeue this short means "go on at once": the driver runs the next pass without waiting.
pub const IMMEDIATELY: Duration = Duration::from_millis(50);
/// How long validation waits for a mitigation's rollout to converge before measuring anyway.
const SETTLE_LIMIT: chrono::Duration = chrono::Duration::seconds(120);

impl PlaybookLookup {
    /// The Playbook's spec, when there is a Playbook.
    pub fn spec(&self) -> Option<&crate::api::PlaybookSpec> {
        match self {
            PlaybookLookup::Found { playbook, .. } => Some(&playbook.spec),
            PlaybookLookup::Missing(_) => None,
        }
    }

    /// The safety policy in force: the Playbook's, or the defaults.
    pub fn safety_policy(&self) -> SafetyPolicy {
        SafetyPolicy::from_spec(self.spec().and_then(|s| s.safety.as_ref()))
    }
}

/// Decides the next status of an Incident.
pub fn decide(inp: &Inputs) -> Decision {
    let incident = inp.incident;
    let now = inp.now;
    let generation = incident.metadata.generation;
    let mut st = incident.status.clone().unwrap_or_default();
    let spec_changed = st.observed_generation != generation;
    st.observed_generation = generation;
    st.target_ref = Some(incident.spec.target.display());
    if let PlaybookLookup::Found { playbook, .. } = inp.playbook {
        st.responder = playbook.spec.responder.clone().or(st.responder);
    }
    let done = |status, next, requeue| Decision { status, next, requeue };

    let Some(phase) = st.phase else {
        let times = st.times.get_or_insert_with(Default::default);
        times.detected_at = Some(now);
        let source = serde_json::to_value(incident.spec.source)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let mut message = format!(
            "opened by {source} for {}: {}",
            incident.spec.target.display(),
            incident.spec.summary
        );
        if let Some(observed) = incident.spec.observed_at {
            message.push_str(&format!("; failure first observable at {}", observed.to_rfc3339()));
        }
        st.phase = Some(Phase::Detected);
        record(&mut st, now, crate::api::EntryType::Detected, message);
        return done(st, Next::Nothing, IMMEDIATELY);
    };
    if phase.is_closed() {
        return done(st, Next::Nothing, Duration::ZERO);
    }
    if phase == Phase::Detected {
        set_phase(&mut st, Phase::Triaging, now, "reading the target's health signals");
        return done(st, Next::Nothing, IMMEDIATELY);
    }

    let (Some(signals), Some(verdict)) = (inp.signals, inp.verdict) else {
        return done(st, Next::Nothing, WAIT);
    };

    // Triage, and re-triage while open: severity only escalates, except a human override.
    let mut gather = false;
    match st.severity {
        None => {
            st.severity = Some(verdict.severity);
            st.severity_reason = Some(verdict.reason.clone());
            let imp = impact(signals);
            record(
                &mut st,
                now,
                crate::api::EntryType::Triaged,
                format!(
                    "severity {}: {} (impact: {})",
                    verdict.severity, verdict.reason, imp.summary
                ),
            );
            st.impact = Some(imp);
            st.times.get_or_insert_with(Default::default).triaged_at = Some(now);
            set_condition(
                &mut st.conditions,
                "Triaged",
                true,
                "Triaged",
                &format!("{}: {}", verdict.severity, verdict.reason),
                generation,
                now,
            );
            gather = true;
        }
        Some(current) => {
            let human = verdict.decided_by == "human";
            let escalates = verdict.severity > current;
            if (human && verdict.severity != current && spec_changed) || (!human && escalates) {
                record(
                    &mut st,
                    now,
                    crate::api::EntryType::SeverityChanged,
                    format!("severity {current} → {}: {}", verdict.severity, verdict.reason),
                );
                st.severity = Some(verdict.severity);
                st.severity_reason = Some(verdict.reason.clone());
                st.impact = Some(impact(signals));
                set_condition(
                    &mut st.conditions,
                    "Triaged",
                    true,
                    "Retriaged",
                    &format!("{}: {}", verdict.severity, verdict.reason),
                    generation,
                    now,
                );
                gather = true;
            }
        }
    }
    let evidence_next = if gather { Next::GatherEvidence } else { Next::Nothing };
    if st.target_state.is_none() {
        // The release every later plan is checked against.
        st.target_state = signals.release.clone();
    }

    match phase {
        Phase::Triaging => {
            if let Some(decision) = follow_or_link(&mut st, inp) {
                return decision;
            }
            let playbook = match inp.playbook {
                PlaybookLookup::Missing(reason) => {
                    escalate(&mut st, now, &format!("no usable Playbook: {reason}"), generation);
                    return done(st, evidence_next, Duration::ZERO);
                }
                PlaybookLookup::Found { playbook, problems } if !problems.is_empty() => {
                    let name = playbook.metadata.name.clone().unwrap_or_default();
                    escalate(
                        &mut st,
                        now,
                        &format!("Playbook {name} is not usable: {}", problems.join("; ")),
                        generation,
                    );
                    return done(st, evidence_next, Duration::ZERO);
                }
                PlaybookLookup::Found { playbook, .. } => playbook,
            };
            let pb_name = playbook.metadata.name.clone().unwrap_or_default();
            st.playbook = Some(pb_name.clone());
            let severity = st.severity.unwrap_or(Severity::Minor);
            let Some(plan) = playbook
                .spec
                .mitigations
                .iter()
                .find(|m| m.severities.contains(&severity))
            else {
                escalate(
                    &mut st,
                    now,
                    &format!("Playbook {pb_name} has no mitigation for severity {severity}"),
                    generation,
                );
                return done(st, evidence_next, Duration::ZERO);
            };
            st.steps = plan
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| StepStatus::pending(step_name(s, i), s.action.clone(), Some(s.clone())))
                .collect();
            let names: Vec<String> = st.steps.iter().map(|s| format!("{} ({})", s.name, s.action)).collect();
            set_phase(
                &mut st,
                Phase::Mitigating,
                now,
                &format!("following Playbook {pb_name}: {}", names.join(" → ")),
            );
            done(st, evidence_next, IMMEDIATELY)
        }
        Phase::Mitigating | Phase::AwaitingApproval => {
            let decision = next_step(&mut st, inp);
            let next = if gather && decision.1 == Next::Nothing {
                Next::GatherEvidence
            } else {
                decision.1
            };
            done(st, next, decision.0)
        }
        Phase::Validating => {
            let due = st
                .validation
                .as_ref()
                .and_then(|v| v.next_measurement_at)
                .unwrap_or(now);
            let started = st.validation.as_ref().map(|v| v.started_at).unwrap_or(now);
            let settling = signals.rolling_out && !signals.progress_deadline_exceeded && now < started + SETTLE_LIMIT;
            if due <= now && settling {
                let message = format!(
                    "waiting for {} to finish rolling out before measuring (at most {}s)",
                    incident.spec.target.display(),
                    SETTLE_LIMIT.num_seconds()
                );
                if !last_says(&st, crate::api::EntryType::Settling, &message) {
                    record(&mut st, now, crate::api::EntryType::Settling, message);
                }
                return done(st, evidence_next, Duration::from_secs(1));
            }
            if due <= now {
                return done(st, Next::Measure, IMMEDIATELY);
            }
            let wait = (due - now).to_std().unwrap_or(IMMEDIATELY);
            done(st, evidence_next, wait)
        }
        _ => done(st, Next::Nothing, IDLE),
    }
}

/// A step's display name.
pub fn step_name(step: &StepSpec, index: usize) -> String {
    step.name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", kebab(&step.action), index + 1))
}

fn kebab(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.char_indices() {
        if c.is_ascii_uppercase() {
            if i > 0 && !name[..i].ends_with(|p: char| p.is_ascii_uppercase()) {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether another Incident is about the same target. Cloud targets are keyed by instance ID
/// or DB identifier alone: the same instance named from two namespaces is one target.
fn same_target(other: &OtherIncident, incident: &Incident) -> bool {
    let cloud = matches!(
        incident.spec.target.kind,
        TargetKind::EC2Instance | TargetKind::RDSInstance
    );
    (cloud || Some(&other.namespace) == incident.metadata.namespace.as_ref())
        && other.target_kind == incident.spec.target.kind
        && other.target_name == incident.spec.target.name
}

fn created(incident: &Incident) -> DateTime<Utc> {
    incident
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| crate::evidence::to_chrono(&t.0))
        .unwrap_or_default()
}

/// One active mitigation per target: the oldest open Incident acts; later ones link to it and
/// follow its outcome.
fn follow_or_link(st: &mut IncidentStatus, inp: &Inputs) -> Option<Decision> {
    let now = inp.now;
    let generation = inp.incident.metadata.generation;
    let me = (
        created(inp.incident),
        inp.incident.metadata.name.clone().unwrap_or_default(),
    );
    if let Some(linked) = st.linked_to.clone() {
        let primary = inp
            .others
            .iter()
            .find(|o| o.name == linked && same_target(o, inp.incident));
        match primary.and_then(|p| p.phase) {
            Some(Phase::Resolved) => {
                set_condition(
                    &mut st.conditions,
                    "Mitigated",
                    true,
                    "ResolvedByLinkedIncident",
                    &format!("incident {linked} resolved the target"),
                    generation,
                    now,
                );
                set_phase(st, Phase::Resolved, now, &format!("resolved by incident {linked}"));
                return Some(Decision {
                    status: st.clone(),
                    next: Next::Nothing,
                    requeue: Duration::ZERO,
                });
            }
            Some(p) if p.is_closed() => {
                escalate(
                    st,
                    now,
                    &format!("incident {linked}, which was handling the target, ended {p}"),
                    generation,
                );
                return Some(Decision {
                    status: st.clone(),
                    next: Next::Nothing,
                    requeue: Duration::ZERO,
                });
            }
            Some(_) => {
                return Some(Decision {
                    status: st.clone(),
                    next: Next::Nothing,
                    requeue: WAIT,
                })
            }
            None => {
                record(
                    st,
                    now,
                    crate::api::EntryType::Unlinked,
                    format!("incident {linked} is gone; handling the target here"),
                );
                st.linked_to = None;
            }
        }
    }
    let open_on_target = || {
        inp.others
            .iter()
            .filter(|o| same_target(o, inp.incident) && !o.phase.is_some_and(Phase::is_closed))
    };
    // One that has started a step holds the target whatever its age; otherwise the oldest acts.
    let primary = open_on_target()
        .filter(|o| o.mitigating)
        .min_by_key(|o| (o.created, o.name.clone()))
        .or_else(|| {
            open_on_target()
                .filter(|o| (o.created, o.name.clone()) < me)
                .min_by_key(|o| (o.created, o.name.clone()))
        })?;
    st.linked_to = Some(primary.name.clone());
    let message = format!(
        "incident {} is already handling {}; this one follows it and does not act",
        primary.name,
        inp.incident.spec.target.display()
    );
    record(st, now, crate::api::EntryType::Linked, message.clone());
    set_condition(
        &mut st.conditions,
        "Mitigated",
        false,
        "LinkedToIncident",
        &message,
        generation,
        now,
    );
    Some(Decision {
        status: st.clone(),
        next: Next::Nothing,
        requeue: WAIT,
    })
}

/// Picks up the current step: resume, wait for approval/cooldown/capacity, or start it.
fn next_step(st: &mut IncidentStatus, inp: &Inputs) -> (Duration, Next) {
    let now = inp.now;
    let generation = inp.incident.metadata.generation;
    // A step being undone is finished first: nothing else runs while its revert is pending.
    if let Some((index, due)) = revert_due(st, now) {
        if !due {
            let at = st.steps[index]
                .revert
                .as_ref()
                .and_then(|r| r.retry_after)
                .unwrap_or(now);
            return ((at - now).to_std().unwrap_or(IMMEDIATELY), Next::Nothing);
        }
        if st.steps[index]
            .revert
            .as_ref()
            .is_some_and(|r| r.state == RevertState::Pending)
        {
            revert_started(st, index, "retrying", now);
        }
        return (IMMEDIATELY, Next::RevertStep(index));
    }
    let Some(index) = st.steps.iter().position(|s| {
        matches!(
            s.state,
            StepState::Pending | StepState::AwaitingApproval | StepState::Running
        )
    }) else {
        escalate(st, now, "no mitigation step is left", generation);
        return (Duration::ZERO, Next::Nothing);
    };
    if let PlaybookLookup::Missing(reason) = inp.playbook {
        escalate(
            st,
            now,
            &format!("the Playbook is gone during mitigation: {reason}"),
            generation,
        );
        return (Duration::ZERO, Next::Nothing);
    }
    let Some(spec) = st.steps[index].spec.clone() else {
        escalate(
            st,
            now,
            &format!("step {} has no recorded parameters", st.steps[index].name),
            generation,
        );
        return (Duration::ZERO, Next::Nothing);
    };
    let spec = &spec;
    let step = st.steps[index].clone();
    let failing = still_failing(inp);
    if step.state == StepState::Running {
        return match (&step.intent, &failing) {
            (Some(_), Some(_)) => (IMMEDIATELY, Next::ResumeStep(index)),
            (Some(_), None) => (IMMEDIATELY, Next::ConfirmStep(index)),
            (None, _) => (IMMEDIATELY, Next::StartStep(index)),
        };
    }
    if let Some(retry) = step.retry_after {
        if retry > now {
            return ((retry - now).to_std().unwrap_or(IMMEDIATELY), Next::Nothing);
        }
    }
    // The plan is made from the release the Incident was triaged on: when someone shipped,
    // rolled back or scaled since, that is recorded and the plan is made again (or the Incident
    // resolves, when the change fixed it).
    let scales = spec.replicas.is_some();
    if let (Some(before), Some(current)) = (st.target_state.clone(), inp.signals.and_then(|s| s.release.as_ref())) {
        if let Some(change) = crate::triage::release_change(&before, current, scales) {
            record(
                st,
                now,
                crate::api::EntryType::TargetChanged,
                format!(
                    "{} changed while step {} waited: {change}",
                    inp.incident.spec.target.display(),
                    step.name
                ),
            );
            if step.state == StepState::AwaitingApproval {
                st.steps[index].state = StepState::Pending;
                record(
                    st,
                    now,
                    crate::api::EntryType::ApprovalWithdrawn,
                    format!(
                        "the approval request for step {} is withdrawn: it was for a target that is no longer there",
                        step.name
                    ),
                );
            }
            st.target_state = Some(current.clone());
            match inp.signals.and_then(Signals::failing) {
                None => resolve_without_action(
                    st,
                    now,
                    &format!("the target changed ({change}) and is healthy now; nothing was done"),
                    generation,
                ),
                Some(_) => replan_or_escalate(st, "the target changed", generation, now),
            }
            return (IMMEDIATELY, Next::Nothing);
        }
    }
    let first_mutation = st.steps.iter().all(|s| s.started_at.is_none() || s.dry_run);
    if first_mutation && failing.is_none() {
        let healthy = inp
            .signals
            .map(|s| format!("{} of {} replicas available", s.available_replicas, s.desired_replicas))
            .unwrap_or_default();
        resolve_without_action(
            st,
            now,
            &format!(
                "{} is healthy at the moment of acting ({healthy}); step {} was not started",
                inp.incident.spec.target.display(),
                step.name
            ),
            generation,
        );
        return (Duration::ZERO, Next::Nothing);
    }
    let policy = inp.playbook.safety_policy();
    let someone_else_acts = st.approval_required_because.is_some();
    if (someone_else_acts || approval_required(&policy, spec, (inp.action_requires_approval)(spec)))
        && approval::gate(st, index, inp.incident, now) == Gate::Waiting
    {
        return (WAIT, Next::Nothing);
    }
    if !policy.dry_run() && st.steps.iter().all(|s| s.started_at.is_none()) {
        let cooldown = policy.cooldown;
        let recent = inp
            .others
            .iter()
            .filter(|o| same_target(o, inp.incident))
            .filter_map(|o| o.last_mutation_at.map(|t| (t, o.name.clone())))
            .filter(|(t, _)| crate::duration::after(*t, cooldown) > now)
            .max();
        if let Some((at, name)) = recent {
            let until = crate::duration::after(at, cooldown);
            let message = format!(
                "cooldown: incident {name} changed {} at {}; no new mitigation before {} (cooldown {})",
                inp.incident.spec.target.display(),
                at.to_rfc3339(),
                until.to_rfc3339(),
                format_duration(policy.cooldown)
            );
            if !last_says(st, crate::api::EntryType::Waiting, &message) {
                record(st, now, crate::api::EntryType::Waiting, message.clone());
            }
            set_condition(
                &mut st.conditions,
                "Mitigated",
                false,
                "Cooldown",
                &message,
                generation,
                now,
            );
            return ((until - now).to_std().unwrap_or(WAIT).min(IDLE), Next::Nothing);
        }
        let busy = inp.others.iter().filter(|o| o.mitigating).count();
        if busy >= inp.max_concurrent_mitigations {
            let at_limit = ClaimResult::AtLimit {
                busy,
                limit: inp.max_concurrent_mitigations,
            };
            super::claims::refused(st, &at_limit, generation, now);
            return (WAIT, Next::Nothing);
        }
    }
    (IMMEDIATELY, Next::StartStep(index))
}

/// Why the Incident still needs acting on, or None when its target is healthy. A person's
/// Incident, or a firing alert's, stands until its target is seen failing no more only when
/// cluster signals can see that failure; otherwise the person or the alert is believed.
fn still_failing(inp: &Inputs) -> Option<String> {
    if let Some(reason) = inp.signals.and_then(Signals::failing) {
        return Some(reason);
    }
    match inp.incident.spec.source {
        IncidentSource::HealthCheck => None,
        IncidentSource::Manual => Some("opened by a person".into()),
        IncidentSource::Alertmanager => Some("its alert is still firing".into()),
    }
}
