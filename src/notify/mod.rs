//! Notifications: every lifecycle transition worth telling a human passes here, routed by
//! severity to the Playbook's receivers.
//!
//! [`notifications`] derives what to tell from a status change, [`route`] decides who hears it
//! (pure), [`message`] builds the receivers' payloads (pure), and [`Notifier`] delivers in the
//! background with timeouts and bounded retries, never blocking mitigation.

mod message;
mod notifier;
mod route;

pub use message::{body, digest_body, Message, Urgency};
pub use notifier::Notifier;
pub use route::{route, Delivery, DEFAULT_DIGEST_INTERVAL};

use crate::api::{IncidentStatus, Phase};

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

impl Notification {
    /// A short name for the payloads: opened, severity-changed, step-started, ...
    pub fn kind(&self) -> &'static str {
        match self {
            Notification::Opened => "opened",
            Notification::SeverityChanged => "severity-changed",
            Notification::StepStarted(_) => "mitigation-started",
            Notification::StepFinished(_) => "mitigation-finished",
            Notification::Escalated(_) => "escalated",
            Notification::Resolved => "resolved",
            Notification::PostmortemDue { .. } => "postmortem-due",
        }
    }

    /// Whether this notification may page. A review reminder never wakes anyone.
    pub fn may_page(&self) -> bool {
        !matches!(self, Notification::PostmortemDue { .. })
    }
}

#[cfg(test)]
mod tests;
