//! Notifications: every lifecycle transition worth telling a human passes here, routed by
//! severity to the Playbook's receivers, or to the operator's default receiver when no
//! Playbook handles the Incident.
//!
//! Delivery is at least once: [`notifications`] derives what to tell from a status change,
//! [`outbox`] records it in the very status write that makes the change (pure), and the
//! [`Notifier`] delivers what the written status holds, reports each attempt back, and the
//! next status write removes what was delivered or gives up after a bound, in the timeline.
//! A restarted operator finds what is still pending in status and delivers it late.
//! [`route`] decides who hears what (pure), [`message`] builds the receivers' payloads (pure).

mod message;
mod notifier;
mod outbox;
mod receiver;
mod route;

pub use message::{body, digest_body, Message, Urgency};
pub use notifier::{Notifier, OutboxWriter};
pub use outbox::{Attempt, MAX_ATTEMPTS, MAX_PENDING};
pub use receiver::{DefaultReceiverError, Receiver};
pub use route::{route, Delivery, DEFAULT_DIGEST_INTERVAL};

use crate::api::{IncidentStatus, NotificationKind, PendingNotification, Phase};

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
            Some(phase @ (Phase::Escalated | Phase::Failed)) => {
                out.push(Notification::Escalated(closing_reason(new, phase)));
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

/// Why the Incident entered `phase`: its phase change's message. Evidence gathered in the same
/// pass may come after it in the timeline.
fn closing_reason(status: &IncidentStatus, phase: Phase) -> String {
    let prefix = format!("{phase}: ");
    status
        .timeline
        .iter()
        .rev()
        .find_map(|e| {
            (e.type_ == crate::api::EntryType::PhaseChanged)
                .then(|| e.message.strip_prefix(&prefix))
                .flatten()
        })
        .or_else(|| status.timeline.last().map(|e| e.message.as_str()))
        .unwrap_or_default()
        .to_string()
}

impl Notification {
    /// What kind of transition this is.
    pub fn kind(&self) -> NotificationKind {
        match self {
            Notification::Opened => NotificationKind::Opened,
            Notification::SeverityChanged => NotificationKind::SeverityChanged,
            Notification::StepStarted(_) => NotificationKind::MitigationStarted,
            Notification::StepFinished(_) => NotificationKind::MitigationFinished,
            Notification::Escalated(_) => NotificationKind::Escalated,
            Notification::Resolved => NotificationKind::Resolved,
            Notification::PostmortemDue { .. } => NotificationKind::PostmortemDue,
        }
    }

    /// Whether this notification may page. A review reminder never wakes anyone.
    pub fn may_page(&self) -> bool {
        !matches!(self, Notification::PostmortemDue { .. })
    }

    /// The step or the escalation reason, as a pending notification records it.
    fn detail(&self) -> Option<String> {
        match self {
            Notification::StepStarted(s) | Notification::StepFinished(s) | Notification::Escalated(s) => {
                Some(crate::evidence::clip(s, 1000))
            }
            _ => None,
        }
    }

    /// The notification a pending one records.
    pub fn of(pending: &PendingNotification) -> Notification {
        let detail = pending.detail.clone().unwrap_or_default();
        match pending.kind {
            NotificationKind::Opened => Notification::Opened,
            NotificationKind::SeverityChanged => Notification::SeverityChanged,
            NotificationKind::MitigationStarted => Notification::StepStarted(detail),
            NotificationKind::MitigationFinished => Notification::StepFinished(detail),
            NotificationKind::Escalated => Notification::Escalated(detail),
            NotificationKind::Resolved => Notification::Resolved,
            NotificationKind::PostmortemDue => Notification::PostmortemDue {
                responder: pending.responder.clone(),
                due_by: pending.due_by.unwrap_or(pending.recorded_at),
            },
        }
    }
}

#[cfg(test)]
mod outbox_tests;
#[cfg(test)]
mod tests;
