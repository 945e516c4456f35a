//! News from the sources that opened an Incident, delivered through annotations (only the
//! Incident controller writes status): a rollout failing again, an alert resolving.

use super::set_phase;
use crate::api::{
    set_condition, Incident, IncidentStatus, Phase, ALERT_RESOLVED_ANNOTATION, DETECTED_AGAIN_ANNOTATION,
};
use crate::detection::DetectedAgain;
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
        if !status.timeline.iter().any(|e| e.type_ == "DetectedAgain" && e.message == message) {
            record(status, now, "DetectedAgain", message);
        }
    }
    if let Some(at) = incident.annotations().get(ALERT_RESOLVED_ANNOTATION) {
        let message = alert_resolved_message(incident, at);
        if !status.timeline.iter().any(|e| e.type_ == "AlertResolved" && e.message == message) {
            record(status, now, "AlertResolved", message);
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
