//! The written record: one entry per transition, bounded in status.

use crate::api::{EntryType, IncidentStatus, TimelineEntry};
use chrono::{DateTime, Utc};

/// Timeline entries kept in status; older ones are counted in `timelineDropped` and kept in
/// the archive.
pub const STATUS_TIMELINE_CAP: usize = 50;

/// Appends an entry, dropping the oldest beyond the cap. Returns the dropped entries so the
/// caller can archive them.
pub fn record(
    status: &mut IncidentStatus,
    now: DateTime<Utc>,
    type_: EntryType,
    message: impl Into<String>,
) -> Vec<TimelineEntry> {
    status.timeline.push(TimelineEntry {
        time: now,
        type_,
        message: message.into(),
    });
    let mut dropped = Vec::new();
    while status.timeline.len() > STATUS_TIMELINE_CAP {
        dropped.push(status.timeline.remove(0));
        status.timeline_dropped += 1;
    }
    status.rolled_off.extend(dropped.iter().cloned());
    dropped
}

/// True when the newest entry already says this; used to write a waiting reason only once.
pub fn last_says(status: &IncidentStatus, type_: EntryType, message: &str) -> bool {
    status
        .timeline
        .iter()
        .rev()
        .find(|e| e.type_ == type_)
        .is_some_and(|e| e.message == message)
}
