//! The notifications an Incident's status holds until they are delivered: recorded in the
//! same write as the change that causes them, then updated from delivery attempts. Pure.

use super::{notifications, Notification};
use crate::api::{IncidentStatus, PendingNotification, ReceiverOrigin};
use chrono::{DateTime, Duration, Utc};

/// Pending notifications kept in status; beyond this the oldest are dropped, in the timeline.
pub const MAX_PENDING: usize = 32;
/// Attempts per notification and receiver before it is given up, in the timeline.
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest wait between two attempts.
const MAX_BACKOFF_SECS: i64 = 60;

/// One receiver a new notification goes to.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub receiver: String,
    pub from: ReceiverOrigin,
    pub digest: bool,
    /// The receiver pages someone (PagerDuty): a review reminder never goes there.
    pub pages: bool,
}

/// What became of one delivery attempt of one pending notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    pub id: String,
    pub receiver: String,
    /// 1 for the first attempt.
    pub number: u32,
    /// Why it failed; `None` when it was delivered.
    pub failure: Option<String>,
}

impl Attempt {
    fn is_for(&self, pending: &PendingNotification) -> bool {
        pending.id == self.id && pending.receiver == self.receiver
    }
}

/// The wait after the `failed`-th failed attempt: 1s, 2s, 4s, ... at most a minute.
pub fn backoff(failed: u32) -> Duration {
    let exponent = failed.saturating_sub(1).min(6);
    Duration::seconds((1i64 << exponent).min(MAX_BACKOFF_SECS))
}

/// Whether a pending notification's next attempt is due.
pub fn due(pending: &PendingNotification, now: DateTime<Utc>) -> bool {
    pending.next_attempt_at.is_none_or(|at| at <= now)
}

/// Whether `status` already says what `attempt` says: it no longer holds the notification, or
/// holds it with this attempt counted.
pub fn reflects(status: &IncidentStatus, attempt: &Attempt) -> bool {
    status
        .notifications
        .iter()
        .find(|p| attempt.is_for(p))
        .is_none_or(|p| p.attempts >= attempt.number)
}

/// Records what the attempts say, each once: a delivered notification leaves the list, a
/// failed one waits for its next attempt, and after the last allowed attempt it leaves the
/// list with a timeline entry.
pub fn apply_attempts(status: &mut IncidentStatus, attempts: &[Attempt], now: DateTime<Utc>) {
    for attempt in attempts {
        if reflects(status, attempt) {
            continue;
        }
        let Some(index) = status.notifications.iter().position(|p| attempt.is_for(p)) else {
            continue;
        };
        match &attempt.failure {
            None => {
                status.notifications.remove(index);
            }
            Some(error) if attempt.number >= MAX_ATTEMPTS => {
                let pending = status.notifications.remove(index);
                crate::timeline::record(
                    status,
                    now,
                    crate::api::EntryType::NotificationFailed,
                    format!(
                        "{} notification to receiver {} failed after {MAX_ATTEMPTS} attempts: {error}",
                        pending.kind.as_str(),
                        pending.receiver
                    ),
                );
            }
            Some(error) => {
                let pending = &mut status.notifications[index];
                pending.attempts = attempt.number;
                pending.next_attempt_at = Some(crate::duration::after_signed(now, backoff(attempt.number)));
                pending.last_error = Some(crate::evidence::clip(error, 1000));
            }
        }
    }
}

/// The pending notifications for `notes`, one per notification and target. All targets of a
/// notification share its id: `<id_base>-<index>`.
pub fn pending_for(
    notes: &[Notification],
    status: &IncidentStatus,
    targets: &[Target],
    id_base: &str,
    now: DateTime<Utc>,
) -> Vec<PendingNotification> {
    let Some(severity) = status.severity else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (index, note) in notes.iter().enumerate() {
        for target in targets {
            if target.pages && !note.may_page() {
                continue;
            }
            let due_by = match note {
                Notification::PostmortemDue { due_by, .. } => Some(*due_by),
                _ => None,
            };
            out.push(PendingNotification {
                id: format!("{id_base}-{index}"),
                receiver: target.receiver.clone(),
                receiver_from: target.from,
                digest: target.digest,
                kind: note.kind(),
                detail: note.detail(),
                due_by,
                severity,
                phase: status.phase,
                responder: status.responder.clone(),
                recorded_at: now,
                attempts: 0,
                next_attempt_at: None,
                last_error: None,
            });
        }
    }
    out
}

/// The status to write instead of `incoming`: the pending notifications of the last written
/// status (`written`) and of `incoming` together, the attempts recorded, and the notifications
/// the change from `written` to `incoming` causes added. Returns those notifications too.
///
/// Re-staging a stale `incoming` (decided before an earlier write of the same reconcile) with
/// the same attempts gives the same list: what was delivered is removed again, what was given
/// up is removed again and its timeline entry written again into that stale timeline.
pub fn stage(
    written: Option<&IncidentStatus>,
    incoming: &IncidentStatus,
    attempts: &[Attempt],
    targets: &[Target],
    id_base: &str,
    now: DateTime<Utc>,
) -> (IncidentStatus, Vec<Notification>) {
    let mut out = incoming.clone();
    let mut merged: Vec<PendingNotification> = written.map(|w| w.notifications.clone()).unwrap_or_default();
    for pending in &incoming.notifications {
        if !merged
            .iter()
            .any(|p| p.id == pending.id && p.receiver == pending.receiver)
        {
            merged.push(pending.clone());
        }
    }
    merged.sort_by_key(|p| p.recorded_at);
    out.notifications = merged;
    apply_attempts(&mut out, attempts, now);
    let notes = notifications(written, incoming);
    let new = pending_for(&notes, incoming, targets, id_base, now);
    out.notifications.extend(new);
    let over = out.notifications.len().saturating_sub(MAX_PENDING);
    if over > 0 {
        let dropped: Vec<PendingNotification> = out.notifications.drain(..over).collect();
        let receivers: std::collections::BTreeSet<&str> = dropped.iter().map(|p| p.receiver.as_str()).collect();
        crate::timeline::record(
            &mut out,
            now,
            crate::api::EntryType::NotificationFailed,
            format!(
                "{over} undelivered notification(s) to {} dropped: more than {MAX_PENDING} were pending",
                receivers.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    (out, notes)
}
