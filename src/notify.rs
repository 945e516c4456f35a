//! The notification hook: every lifecycle transition worth telling a human passes here.

use crate::api::{Incident, IncidentStatus, Phase};
use kube::ResourceExt;

/// A transition a responder may need to hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    Opened,
    SeverityChanged,
    StepStarted(String),
    StepFinished(String),
    Escalated(String),
    Resolved,
    /// The post-incident review is due; tells the responder when.
    PostmortemDue {
        responder: Option<String>,
        due_by: chrono::DateTime<chrono::Utc>,
    },
}

/// Works out which notifications a status change implies.
pub fn notifications(old: Option<&IncidentStatus>, new: &IncidentStatus) -> Vec<Notification> {
    let mut out = Vec::new();
    let old_phase = old.and_then(|s| s.phase);
    if old.and_then(|s| s.severity).is_none() && new.severity.is_some() {
        out.push(Notification::Opened);
    } else if old.and_then(|s| s.severity) != new.severity {
        out.push(Notification::SeverityChanged);
    }
    let old_steps = old.map(|s| s.steps.clone()).unwrap_or_default();
    for step in &new.steps {
        let before = old_steps.iter().find(|s| s.name == step.name);
        if step.started_at.is_some() && before.and_then(|b| b.started_at) != step.started_at {
            out.push(Notification::StepStarted(step.name.clone()));
        }
        if step.finished_at.is_some() && before.and_then(|b| b.finished_at) != step.finished_at {
            out.push(Notification::StepFinished(step.name.clone()));
        }
    }
    if old_phase != new.phase {
        match new.phase {
            Some(Phase::Escalated) | Some(Phase::Failed) => {
                let reason = new.timeline.last().map(|e| e.message.clone()).unwrap_or_default();
                out.push(Notification::Escalated(reason));
            }
            Some(Phase::Resolved) => out.push(Notification::Resolved),
            _ => {}
        }
    }
    if let Some(pm) = &new.postmortem {
        if old.and_then(|s| s.postmortem.as_ref()) != Some(pm) {
            out.push(Notification::PostmortemDue {
                responder: new.responder.clone(),
                due_by: pm.due_by,
            });
        }
    }
    out
}

/// Delivers notifications. Receivers (webhooks, chat, paging) plug in here; until a Playbook
/// names one, they go to the operator's log.
pub async fn deliver(incident: &Incident, notifications: &[Notification]) {
    for n in notifications {
        tracing::info!(
            incident = %format!("{}/{}", incident.namespace().unwrap_or_default(), incident.name_any()),
            notification = ?n,
            "notification"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Postmortem;
    use chrono::{TimeZone, Utc};

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
}
