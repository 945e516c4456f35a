//! Approval belongs to one step and one person: a step that must wait for a human records an
//! approval request with a token nobody can know before the step waits; only the approval
//! annotation carrying that token, with the approver's name, lets that one step run.

use super::set_phase;
use crate::api::{
    ApprovalRequest, Incident, IncidentStatus, Phase, StepState, StepStatus, APPROVAL_ANNOTATION,
    APPROVED_BY_ANNOTATION,
};
use crate::timeline::record;
use chrono::{DateTime, Utc};
use kube::ResourceExt;

/// How much of an ignored annotation value status keeps: enough to tell values apart, bounded
/// however large the annotation is.
const IGNORED_VALUE_LIMIT: usize = 64;

/// Whether the step may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// The step waits for its approval.
    Waiting,
    /// The step was approved; it may run.
    Open,
}

/// What the Incident's annotations say to a step's approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Answer {
    /// No approval annotation.
    None,
    /// The request's token, and who gave it.
    Approved { by: String },
    /// An approval annotation that approves nothing here, and why.
    Ignored { value: String, why: String },
}

/// The token of a step's approval request: a digest of the Incident's UID, the step's index and
/// the moment it started waiting. The UID exists only once the Incident does, and the moment
/// only once the step waits, so no manifest or earlier approval can carry it.
pub fn token(incident_uid: &str, index: usize, requested_at: DateTime<Utc>) -> String {
    let input = format!(
        "{incident_uid}/{index}/{}",
        requested_at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
    );
    let digest = ring::digest::digest(&ring::digest::SHA256, input.as_bytes());
    digest.as_ref()[..10].iter().map(|b| format!("{b:02x}")).collect()
}

/// The step waiting for approval now, and its request: what an approver approves.
pub fn awaiting(st: &IncidentStatus) -> Option<(&StepStatus, &ApprovalRequest)> {
    st.steps
        .iter()
        .filter(|s| s.state == StepState::AwaitingApproval)
        .find_map(|s| s.approval.as_ref().filter(|a| a.approved_by.is_none()).map(|a| (s, a)))
}

/// Holds step `index` until the Incident carries the approval for it: records the approval
/// request when the step starts waiting, says once per value why an annotation is ignored, and
/// records who approved.
pub fn gate(st: &mut IncidentStatus, index: usize, incident: &Incident, now: DateTime<Utc>) -> Gate {
    if st.steps[index]
        .approval
        .as_ref()
        .is_some_and(|a| a.approved_by.is_some())
    {
        // Approved already: a retry of the same step after a transient failure, or a wait for
        // cooldown or capacity after the approval.
        return Gate::Open;
    }
    if st.steps[index].approval.is_none() {
        request(st, index, incident, now);
    }
    let step = &st.steps[index];
    let Some(request) = step.approval.clone() else {
        return Gate::Waiting;
    };
    match answer(incident, st, index, &request.token) {
        Answer::None => Gate::Waiting,
        Answer::Ignored { value, why } => {
            let value: String = value.chars().take(IGNORED_VALUE_LIMIT).collect();
            if request.ignored.as_ref() != Some(&value) {
                let message = format!(
                    "approval annotation {APPROVAL_ANNOTATION}={value:?} ignored for step {} ({}): {why}; {}",
                    step.name,
                    step.action,
                    how_to_approve(incident, &request.token)
                );
                if let Some(a) = st.steps[index].approval.as_mut() {
                    a.ignored = Some(value);
                }
                record(st, now, crate::api::EntryType::ApprovalIgnored, message);
            }
            Gate::Waiting
        }
        Answer::Approved { by } => {
            let (name, action) = (step.name.clone(), step.action.clone());
            let step = &mut st.steps[index];
            step.state = StepState::Pending;
            if let Some(a) = step.approval.as_mut() {
                a.approved_by = Some(by.clone());
                a.approved_at = Some(now);
            }
            record(
                st,
                now,
                crate::api::EntryType::Approved,
                format!("step {name} ({action}) approved by {by}"),
            );
            set_phase(st, Phase::Mitigating, now, &format!("step {name} approved by {by}"));
            Gate::Open
        }
    }
}

/// Starts the wait: a fresh request, the timeline saying exactly what to run.
fn request(st: &mut IncidentStatus, index: usize, incident: &Incident, now: DateTime<Utc>) {
    let token = token(&incident.uid().unwrap_or_default(), index, now);
    let step = &mut st.steps[index];
    step.state = StepState::AwaitingApproval;
    step.approval = Some(ApprovalRequest {
        token: token.clone(),
        requested_at: now,
        approved_by: None,
        approved_at: None,
        ignored: None,
    });
    let (name, action) = (step.name.clone(), step.action.clone());
    let because = st
        .approval_required_because
        .as_ref()
        .map(|why| format!(" ({why})"))
        .unwrap_or_default();
    record(
        st,
        now,
        crate::api::EntryType::AwaitingApproval,
        format!(
            "step {name} ({action}) waits for a human's approval{because}; {}",
            how_to_approve(incident, &token)
        ),
    );
    set_phase(
        st,
        Phase::AwaitingApproval,
        now,
        &format!("step {name} needs a human's approval"),
    );
}

/// The commands that approve the waiting step, for the timeline.
fn how_to_approve(incident: &Incident, token: &str) -> String {
    let name = incident.name_any();
    let namespace = incident.namespace().unwrap_or_default();
    format!(
        "to approve, run `kubectl dontpanic approve {name} -n {namespace}` or `kubectl annotate incident/{name} -n {namespace} {APPROVAL_ANNOTATION}={token} {APPROVED_BY_ANNOTATION}=<your user name>`"
    )
}

/// Reads the approval annotations against the request of step `index`.
fn answer(incident: &Incident, st: &IncidentStatus, index: usize, token: &str) -> Answer {
    let annotations = incident.annotations();
    let Some(value) = annotations.get(APPROVAL_ANNOTATION) else {
        return Answer::None;
    };
    if value == token {
        return match annotations.get(APPROVED_BY_ANNOTATION).map(|b| b.trim()) {
            Some(by) if !by.is_empty() => Answer::Approved { by: by.to_string() },
            _ => Answer::Ignored {
                value: value.clone(),
                why: format!("it carries no {APPROVED_BY_ANNOTATION} naming who approves"),
            },
        };
    }
    let other_step = st
        .steps
        .iter()
        .enumerate()
        .find(|(i, s)| *i != index && s.approval.as_ref().is_some_and(|a| &a.token == value));
    let why = match other_step {
        Some((_, s)) => format!("it is the approval of step {}, which does not carry over", s.name),
        None => "it does not carry the token of this step's approval request, so it was set before the step \
                 started waiting (for instance when the Incident was created) or for an older request"
            .to_string(),
    };
    Answer::Ignored {
        value: value.clone(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::StepStatus;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000 + s, 0).unwrap()
    }

    fn incident(annotations: &[(&str, &str)]) -> Incident {
        let annotations: serde_json::Map<String, serde_json::Value> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.to_string())))
            .collect();
        serde_json::from_value(serde_json::json!({
            "apiVersion": "dontpanic.dev/v1alpha1", "kind": "Incident",
            "metadata": {"name": "checkout-500", "namespace": "shop", "uid": "4b1c0d6e-0000-4000-8000-000000000001",
                         "annotations": annotations},
            "spec": {"summary": "x", "target": {"kind": "Deployment", "name": "checkout"}}
        }))
        .unwrap()
    }

    fn two_steps() -> IncidentStatus {
        IncidentStatus {
            phase: Some(Phase::Mitigating),
            steps: vec![
                StepStatus::pending("rollback".into(), "RollbackDeployment".into(), None),
                StepStatus::pending("restart".into(), "RestartDeployment".into(), None),
            ],
            ..Default::default()
        }
    }

    fn entries(st: &IncidentStatus, type_: &str) -> usize {
        st.timeline.iter().filter(|e| e.type_ == type_).count()
    }

    /// Lets step `index` start waiting and returns its request's token.
    fn wait(st: &mut IncidentStatus, index: usize, at: DateTime<Utc>) -> String {
        assert_eq!(gate(st, index, &incident(&[]), at), Gate::Waiting);
        st.steps[index].approval.as_ref().unwrap().token.clone()
    }

    fn approved_with(token: &str, by: &str) -> Incident {
        incident(&[(APPROVAL_ANNOTATION, token), (APPROVED_BY_ANNOTATION, by)])
    }

    #[test]
    fn tokens_differ_by_incident_step_and_moment() {
        let a = token("uid-1", 0, t(0));
        assert_eq!(a, token("uid-1", 0, t(0)), "the same request has the same token");
        assert_eq!(a.len(), 20);
        assert_ne!(a, token("uid-2", 0, t(0)));
        assert_ne!(a, token("uid-1", 1, t(0)));
        assert_ne!(a, token("uid-1", 0, t(1)));
    }

    #[test]
    fn a_waiting_step_records_a_request_and_says_what_to_run() {
        let mut st = two_steps();
        assert_eq!(gate(&mut st, 0, &incident(&[]), t(0)), Gate::Waiting);
        let request = st.steps[0].approval.clone().unwrap();
        assert_eq!(request.requested_at, t(0));
        assert_eq!(request.token, token("4b1c0d6e-0000-4000-8000-000000000001", 0, t(0)));
        assert_eq!(st.steps[0].state, StepState::AwaitingApproval);
        assert_eq!(st.phase, Some(Phase::AwaitingApproval));
        let waiting = st
            .timeline
            .iter()
            .find(|e| e.type_ == crate::api::EntryType::AwaitingApproval)
            .unwrap();
        assert!(waiting
            .message
            .contains("kubectl dontpanic approve checkout-500 -n shop"));
        assert!(waiting
            .message
            .contains(&format!("{APPROVAL_ANNOTATION}={}", request.token)));

        // Waiting on: the request and its token stay, nothing more is written.
        let before = st.timeline.len();
        assert_eq!(gate(&mut st, 0, &incident(&[]), t(5)), Gate::Waiting);
        assert_eq!(st.steps[0].approval, Some(request));
        assert_eq!(st.timeline.len(), before);
    }

    #[test]
    fn an_annotation_from_before_the_wait_is_ignored_once() {
        let early = approved_with("true", "alice");
        let mut st = two_steps();
        assert_eq!(gate(&mut st, 0, &early, t(0)), Gate::Waiting);
        assert_eq!(gate(&mut st, 0, &early, t(5)), Gate::Waiting);
        assert_eq!(gate(&mut st, 0, &early, t(10)), Gate::Waiting);
        assert_eq!(entries(&st, "ApprovalIgnored"), 1, "said once, not on every reconcile");
        assert_eq!(st.steps[0].state, StepState::AwaitingApproval);
        assert_eq!(st.steps[0].approval.as_ref().unwrap().approved_by, None);

        // Another wrong value is reported too.
        assert_eq!(gate(&mut st, 0, &approved_with("0123", "alice"), t(15)), Gate::Waiting);
        assert_eq!(entries(&st, "ApprovalIgnored"), 2);
    }

    #[test]
    fn the_token_approves_and_the_approver_is_recorded() {
        let mut st = two_steps();
        let token = wait(&mut st, 0, t(0));
        assert_eq!(gate(&mut st, 0, &approved_with(&token, "alice"), t(30)), Gate::Open);
        let request = st.steps[0].approval.as_ref().unwrap();
        assert_eq!(request.approved_by.as_deref(), Some("alice"));
        assert_eq!(request.approved_at, Some(t(30)));
        assert_eq!(st.steps[0].state, StepState::Pending);
        assert_eq!(st.phase, Some(Phase::Mitigating));
        let approved = st
            .timeline
            .iter()
            .find(|e| e.type_ == crate::api::EntryType::Approved)
            .unwrap();
        assert!(approved.message.contains("by alice"), "{}", approved.message);

        // Later passes (cooldown, a retry) stay approved without writing it again.
        assert_eq!(gate(&mut st, 0, &approved_with(&token, "alice"), t(35)), Gate::Open);
        assert_eq!(gate(&mut st, 0, &incident(&[]), t(40)), Gate::Open);
        assert_eq!(entries(&st, "Approved"), 1);
    }

    #[test]
    fn the_token_without_an_approver_approves_nothing() {
        let mut st = two_steps();
        let token = wait(&mut st, 0, t(0));
        let anonymous = incident(&[(APPROVAL_ANNOTATION, &token)]);
        assert_eq!(gate(&mut st, 0, &anonymous, t(5)), Gate::Waiting);
        assert_eq!(gate(&mut st, 0, &approved_with(&token, "  "), t(6)), Gate::Waiting);
        assert_eq!(st.steps[0].approval.as_ref().unwrap().approved_by, None);
        assert_eq!(entries(&st, "ApprovalIgnored"), 1);
    }

    #[test]
    fn approving_step_one_does_not_approve_step_two() {
        let mut st = two_steps();
        let first = wait(&mut st, 0, t(0));
        let approved = approved_with(&first, "alice");
        assert_eq!(gate(&mut st, 0, &approved, t(10)), Gate::Open);
        st.steps[0].state = StepState::Failed;

        assert_eq!(gate(&mut st, 1, &approved, t(60)), Gate::Waiting);
        assert_eq!(gate(&mut st, 1, &approved, t(65)), Gate::Waiting);
        let second = st.steps[1].approval.clone().unwrap();
        assert_ne!(second.token, first);
        assert_eq!(second.approved_by, None);
        assert_eq!(st.steps[1].state, StepState::AwaitingApproval);
        let ignored: Vec<_> = st
            .timeline
            .iter()
            .filter(|e| e.type_ == crate::api::EntryType::ApprovalIgnored)
            .collect();
        assert_eq!(ignored.len(), 1);
        assert!(
            ignored[0].message.contains("approval of step rollback"),
            "{}",
            ignored[0].message
        );

        assert_eq!(
            gate(&mut st, 1, &approved_with(&second.token, "bob"), t(70)),
            Gate::Open
        );
        assert_eq!(
            st.steps[1].approval.as_ref().unwrap().approved_by.as_deref(),
            Some("bob")
        );
        assert_eq!(
            st.steps[0].approval.as_ref().unwrap().approved_by.as_deref(),
            Some("alice")
        );
    }

    #[test]
    fn awaiting_names_the_step_that_waits_now() {
        let mut st = two_steps();
        assert_eq!(awaiting(&st), None);
        gate(&mut st, 0, &incident(&[]), t(0));
        let first = st.steps[0].approval.clone().unwrap();
        assert_eq!(
            awaiting(&st).map(|(s, a)| (s.name.as_str(), a)),
            Some(("rollback", &first))
        );
        gate(&mut st, 0, &approved_with(&first.token, "alice"), t(5));
        assert_eq!(awaiting(&st), None, "approved: nothing waits");
        st.steps[0].state = StepState::Failed;
        gate(&mut st, 1, &incident(&[]), t(9));
        assert_eq!(awaiting(&st).map(|(s, _)| s.name.as_str()), Some("restart"));
    }

    #[test]
    fn a_huge_ignored_value_is_kept_short() {
        let huge = "x".repeat(10_000);
        let mut st = two_steps();
        gate(&mut st, 0, &approved_with(&huge, "alice"), t(0));
        gate(&mut st, 0, &approved_with(&huge, "alice"), t(5));
        assert_eq!(
            st.steps[0].approval.as_ref().unwrap().ignored.as_ref().map(String::len),
            Some(IGNORED_VALUE_LIMIT)
        );
        assert_eq!(entries(&st, "ApprovalIgnored"), 1);
    }
}
