//! Notifications waiting in an Incident's status: recorded with the status change that
//! causes them, removed once delivered or given up on.

use super::common::Severity;
use super::incident::Phase;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One notification to one receiver, not yet known to be delivered.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PendingNotification {
    /// Names the notification; the same at every receiver it goes to and on every attempt, so
    /// a receiver can drop a repeat.
    #[schemars(length(max = 128))]
    pub id: String,
    /// The receiver's name.
    pub receiver: String,
    /// Where the receiver is defined.
    pub receiver_from: ReceiverOrigin,
    /// Collected into the receiver's digest instead of sent at once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub digest: bool,
    /// What happened.
    pub kind: NotificationKind,
    /// The step for mitigation notifications; the reason for an escalation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub detail: Option<String>,
    /// For postmortem-due: when the review is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_by: Option<DateTime<Utc>>,
    /// The Incident's severity when this was recorded.
    pub severity: Severity,
    /// The Incident's phase when this was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The responder when this was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder: Option<String>,
    /// When the change that caused it was written.
    pub recorded_at: DateTime<Utc>,
    /// Delivery attempts that failed so far.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attempts: u32,
    /// When the next attempt is due, after a failed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub last_error: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Where a notification receiver is defined.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum ReceiverOrigin {
    /// In the Playbook the Incident follows.
    Playbook,
    /// The operator's default receiver, for Incidents no Playbook handles.
    OperatorDefault,
}

/// The transitions a responder hears about.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationKind {
    Opened,
    SeverityChanged,
    MitigationStarted,
    MitigationFinished,
    Escalated,
    Resolved,
    PostmortemDue,
}

impl NotificationKind {
    /// The name receivers see: opened, severity-changed, mitigation-started, ...
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::Opened => "opened",
            NotificationKind::SeverityChanged => "severity-changed",
            NotificationKind::MitigationStarted => "mitigation-started",
            NotificationKind::MitigationFinished => "mitigation-finished",
            NotificationKind::Escalated => "escalated",
            NotificationKind::Resolved => "resolved",
            NotificationKind::PostmortemDue => "postmortem-due",
        }
    }
}
