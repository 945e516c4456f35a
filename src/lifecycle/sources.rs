//! News from the sources that opened an Incident, delivered through annotations (only the
//! Incident controller writes status): a rollout failing again, an alert resolving.

use super::set_phase;
use crate::api::{
    set_condition, DetectedAgain, Incident, IncidentStatus, Phase, ALERT_RESOLVED_ANNOTATION, DETECTED_AGAIN_ANNOTATION,
};
use crate::timeline::record;
use chrono::{DateTime, Utc};
use kube::ResourceExt;

fn detected_again(incident: &Incident) -> Option<DetectedAgain> {
    serde_json::from_str(incident.annotations().get(DETECTED_AGAIN_ANNOTATION)?).ok()
}

fn detected_again_message(note: &DetectedAgain) -> String {
    format!("[{}] {} (at {})", note.key, note.message, note.time.to_rfc3339())
}

fn alert_resolved_message(incident: &Incident, at: &str) -> String {
    let name = incident.spec.alert.as_ref().map(|a| a.name.as_str()).unwrap_or("alert");
    format!("{name} resolved at {at}")
}

/// True when an annotation carries news the timeline does not have yet.
pub fn pending(incident: &Incident, status: &IncidentStatus) -> bool {
    let has = |type_: &str, message: &str| status.timeline.iter().any(|e| e.type_ == type_ && e.message == message);
    let again = detected_again(incident).is_some_and(|n| !has("DetectedAgain", &detected_again_message(&n)));
    let resolved = incident
        .annotations()
        .get(ALERT_RESOLVED_ANNOTATION)
        .is_some_and(|at| !has("AlertResolved", &alert_resolved_message(incident, at)));
    again || resolved
}

/// Whether a mitigation step is under way (started, not yet validated).
fn mitigation_running(status: &IncidentStatus) -> bool {
    match status.phase {
        Some(Phase::Validating) => true,
        Some(Phase::Mitigating) => status.steps.iter().any(|s| s.started_at.is_some()),
        _ => false,
    }
}

/// Records source news once each. A resolved alert closes the Incident as Resolved when no
/// mitigation is running; otherwise the lifecycle finishes what it started.
pub fn apply(incident: &Incident, status: &mut IncidentStatus, now: DateTime<Utc>) {
    if let Some(note) = detected_again(incident) {
        let message = detected_again_message(&note);
        if !status
            .timeline
            .iter()
            .any(|e| e.type_ == crate::api::EntryType::DetectedAgain && e.message == message)
        {
            record(status, now, crate::api::EntryType::DetectedAgain, message);
        }
    }
    if let Some(at) = incident.annotations().get(ALERT_RESOLVED_ANNOTATION) {
        let message = alert_resolved_message(incident, at);
        if !status
            .timeline
            .iter()
            .any(|e| e.type_ == crate::api::EntryType::AlertResolved && e.message == message)
        {
            record(status, now, crate::api::EntryType::AlertResolved, message);
            let closed = status.phase.is_some_and(Phase::is_closed);
            if !closed && !mitigation_running(status) {
                set_condition(
                    &mut status.conditions,
                    "Mitigated",
                    true,
                    "ResolvedBySource",
                    "resolved by alertmanager",
                    incident.metadata.generation,
                    now,
                );
                set_phase(status, Phase::Resolved, now, "resolved by alertmanager");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::StepState;

    fn incident(annotations: serde_json::Value, phase: Phase) -> (Incident, IncidentStatus) {
        let inc: Incident = serde_json::from_value(serde_json::json!({
            "apiVersion": "dontpanic.dev/v1alpha1", "kind": "Incident",
            "metadata": {"name": "alert-1", "namespace": "shop", "annotations": annotations},
            "spec": {"summary": "x", "target": {"kind": "Deployment", "name": "web"},
                     "alert": {"name": "Down", "fingerprint": "1"}}
        }))
        .unwrap();
        let status = IncidentStatus {
            phase: Some(phase),
            ..Default::default()
        };
        (inc, status)
    }

    #[test]
    fn a_resolved_alert_resolves_an_incident_with_nothing_running() {
        let (inc, mut st) = incident(
            serde_json::json!({ALERT_RESOLVED_ANNOTATION: "2026-01-01T00:00:00Z"}),
            Phase::AwaitingApproval,
        );
        assert!(pending(&inc, &st));
        apply(&inc, &mut st, Utc::now());
        assert_eq!(st.phase, Some(Phase::Resolved));
        assert!(st
            .timeline
            .iter()
            .any(|e| e.message.contains("resolved by alertmanager")));
        assert!(!pending(&inc, &st), "recorded once");
        let before = st.timeline.len();
        apply(&inc, &mut st, Utc::now());
        assert_eq!(st.timeline.len(), before);
    }

    #[test]
    fn a_resolved_alert_leaves_a_running_mitigation_alone() {
        let (inc, mut st) = incident(
            serde_json::json!({ALERT_RESOLVED_ANNOTATION: "2026-01-01T00:00:00Z"}),
            Phase::Mitigating,
        );
        st.steps.push(crate::api::StepStatus {
            state: StepState::Running,
            attempts: 1,
            started_at: Some(Utc::now()),
            ..crate::api::StepStatus::pending("rollback".into(), "RollbackDeployment".into(), None)
        });
        apply(&inc, &mut st, Utc::now());
        assert_eq!(st.phase, Some(Phase::Mitigating));
        assert!(st
            .timeline
            .iter()
            .any(|e| e.type_ == crate::api::EntryType::AlertResolved));
    }

    #[test]
    fn failing_again_is_recorded_once_per_key() {
        let note = DetectedAgain {
            key: "revision-3".into(),
            time: Utc::now(),
            message: "1 pod(s) of revision 3 in CrashLoopBackOff".into(),
        };
        let (inc, mut st) = incident(
            serde_json::json!({DETECTED_AGAIN_ANNOTATION: serde_json::to_string(&note).unwrap()}),
            Phase::Triaging,
        );
        apply(&inc, &mut st, Utc::now());
        apply(&inc, &mut st, Utc::now());
        let again: Vec<_> = st
            .timeline
            .iter()
            .filter(|e| e.type_ == crate::api::EntryType::DetectedAgain)
            .collect();
        assert_eq!(again.len(), 1);
        assert!(again[0].message.contains("[revision-3]"));
        assert_eq!(st.phase, Some(Phase::Triaging));
    }
}
