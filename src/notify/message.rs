//! What a notification says, and the payload each receiver type expects: pure.

use super::Notification;
use crate::api::{Incident, PendingNotification, ReceiverType, Severity};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

/// How urgently a notification is meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// Critical and Major: all hands on deck.
    AllHands,
    /// Medium: the owning team.
    Team,
    /// Minor: for the report.
    Report,
}

impl Urgency {
    pub fn of(severity: Severity) -> Urgency {
        match severity {
            Severity::Critical | Severity::Major => Urgency::AllHands,
            Severity::Medium => Urgency::Team,
            Severity::Minor => Urgency::Report,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Urgency::AllHands => "all-hands",
            Urgency::Team => "team",
            Urgency::Report => "report",
        }
    }
}

/// One notification about one Incident, ready to be formatted.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The pending notification's id: the same on every attempt, so receivers can dedupe.
    pub id: String,
    pub namespace: String,
    pub incident: String,
    pub notification: Notification,
    pub severity: Severity,
    pub phase: String,
    pub target: String,
    pub summary: String,
    pub responder: Option<String>,
    pub time: DateTime<Utc>,
}

impl Message {
    /// The message a pending notification of `incident` stands for, as of when it was recorded.
    pub fn of(incident: &Incident, pending: &PendingNotification) -> Message {
        Message {
            id: pending.id.clone(),
            namespace: incident.metadata.namespace.clone().unwrap_or_default(),
            incident: incident.metadata.name.clone().unwrap_or_default(),
            notification: Notification::of(pending),
            severity: pending.severity,
            phase: pending.phase.map(|p| p.to_string()).unwrap_or_default(),
            target: incident.spec.target.display(),
            summary: incident.spec.summary.clone(),
            responder: pending.responder.clone(),
            time: pending.recorded_at,
        }
    }

    /// One line a person reads first.
    pub fn text(&self) -> String {
        let what = match &self.notification {
            Notification::Opened => "opened".to_string(),
            Notification::SeverityChanged => format!("severity is now {}", self.severity),
            Notification::StepStarted(step) => format!("mitigation {step} started"),
            Notification::StepFinished(step) => format!("mitigation {step} finished"),
            Notification::Escalated(reason) => format!("escalated: {reason}"),
            Notification::Resolved => "resolved".to_string(),
            Notification::PostmortemDue { due_by, .. } => {
                format!("resolved; the post-incident review is due by {}", due_by.to_rfc3339())
            }
        };
        let mut text = format!(
            "[{}] incident {}/{} on {} {what}: {}",
            self.severity, self.namespace, self.incident, self.target, self.summary
        );
        match (Urgency::of(self.severity), &self.responder) {
            (Urgency::AllHands, Some(r)) => text.push_str(&format!(" (all hands on deck; responder: {r})")),
            (Urgency::AllHands, None) => text.push_str(" (all hands on deck; no responder named)"),
            (_, Some(r)) => text.push_str(&format!(" (responder: {r})")),
            _ => {}
        }
        text
    }

    fn detail(&self) -> Value {
        match &self.notification {
            Notification::StepStarted(s) | Notification::StepFinished(s) => json!(s),
            Notification::Escalated(r) => json!(r),
            _ => Value::Null,
        }
    }
}

fn pagerduty_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Major => "error",
        Severity::Medium => "warning",
        Severity::Minor => "info",
    }
}

/// The JSON a receiver of `kind` expects for one message. `routing_key` is for PagerDuty.
pub fn body(kind: ReceiverType, message: &Message, routing_key: Option<&str>) -> Value {
    match kind {
        ReceiverType::Webhook => json!({
            "version": "1",
            "id": message.id,
            "notification": message.notification.kind().as_str(),
            "detail": message.detail(),
            "incident": {"namespace": message.namespace, "name": message.incident},
            "severity": message.severity.to_string(),
            "urgency": Urgency::of(message.severity).as_str(),
            "phase": message.phase,
            "target": message.target,
            "summary": message.summary,
            "responder": message.responder,
            "text": message.text(),
            "time": message.time.to_rfc3339(),
        }),
        ReceiverType::Slack => json!({ "text": message.text() }),
        ReceiverType::Pagerduty => {
            let dedup_key = format!("dontpanic/{}/{}", message.namespace, message.incident);
            let action = if message.notification == Notification::Resolved {
                "resolve"
            } else {
                "trigger"
            };
            json!({
                "routing_key": routing_key.unwrap_or_default(),
                "event_action": action,
                "dedup_key": dedup_key,
                "payload": {
                    "summary": crate::evidence::clip(&message.text(), 1024),
                    "source": message.target,
                    "severity": pagerduty_severity(message.severity),
                    "timestamp": message.time.to_rfc3339(),
                    "component": message.target,
                    "group": message.namespace,
                    "class": message.notification.kind().as_str(),
                    "custom_details": {
                        "notification_id": message.id,
                        "incident": format!("{}/{}", message.namespace, message.incident),
                        "responder": message.responder,
                        "phase": message.phase,
                    },
                },
            })
        }
    }
}

/// One digest body with many messages, for webhook and Slack receivers.
pub fn digest_body(kind: ReceiverType, messages: &[Message]) -> Value {
    let lines: Vec<String> = messages.iter().map(Message::text).collect();
    match kind {
        ReceiverType::Slack => {
            json!({ "text": format!("dontpanic digest ({} minor notification(s)):\n{}", lines.len(), lines.join("\n")) })
        }
        _ => json!({
            "version": "1",
            "notification": "digest",
            "urgency": "report",
            "count": messages.len(),
            "items": messages.iter().map(|m| body(ReceiverType::Webhook, m, None)).collect::<Vec<_>>(),
        }),
    }
}
