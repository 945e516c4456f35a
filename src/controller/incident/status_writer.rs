//! Writes an Incident's status when it changed, against the version it was decided from, and
//! tells people about what changed.

use super::super::status::{apply_status, publish};
use super::super::{Context, Error};
use crate::api::{Incident, IncidentStatus, Phase};
use crate::failpoint::Point;
use kube::api::Api;

/// Writes status when it changed, and tells people about what changed.
pub(super) struct StatusWriter<'a> {
    pub(super) api: &'a Api<Incident>,
    pub(super) incident: &'a Incident,
    /// The status as last written (or read).
    pub(super) written: Option<IncidentStatus>,
    /// The version of the Incident the next write must apply to.
    pub(super) resource_version: Option<String>,
    pub(super) ctx: &'a Context,
    /// Entries this writer already archived.
    pub(super) archived: std::collections::HashSet<crate::archive::Key>,
    /// Pending notifications: recorded in the write whose change causes them.
    pub(super) outbox: crate::notify::OutboxWriter,
}

impl StatusWriter<'_> {
    /// Whether `status` is what was last written, apart from the pending notifications the
    /// writer itself adds.
    pub(super) fn has_written(&self, status: &IncidentStatus) -> bool {
        self.written.as_ref().is_some_and(|written| {
            let mut same = status.clone();
            same.notifications = written.notifications.clone();
            &same == written
        })
    }

    pub(super) async fn write(&mut self, status: &IncidentStatus) -> Result<(), Error> {
        let (status, notes) = self
            .outbox
            .stage(&self.ctx.notifier, self.incident, self.written.as_ref(), status);
        let status = &status;
        if self.written.as_ref() == Some(status) {
            return Ok(());
        }
        // Entries about to roll off the status timeline are archived first, so that a crash
        // between the two writes loses nothing.
        let old_timeline = self.written.as_ref().map(|s| s.timeline.as_slice()).unwrap_or_default();
        let mut rolled_off = crate::archive::rolled_off(old_timeline, &status.timeline);
        // Entries recorded and dropped again before any write never reached status.
        rolled_off.extend(crate::archive::rolled_off(&status.rolled_off, &status.timeline));
        rolled_off.retain(|e| !self.archived.contains(&crate::archive::key(e)));
        if !rolled_off.is_empty() {
            crate::archive::append(&self.ctx.client, self.incident, &rolled_off).await?;
            self.archived.extend(rolled_off.iter().map(crate::archive::key));
        }
        let Some(written) = apply_status(
            self.api,
            self.incident,
            self.written.as_ref(),
            status,
            self.resource_version.as_deref(),
        )
        .await?
        else {
            return Ok(());
        };
        self.resource_version = written.metadata.resource_version;
        let old_phase = self.written.as_ref().and_then(|s| s.phase);
        if let Some(phase) = status.phase.filter(|p| old_phase != Some(*p)) {
            self.ctx.settings.failpoints.reached(Point::EnteredPhase(phase));
        }
        if old_phase != status.phase {
            if let Some(phase) = status.phase {
                let warning = matches!(phase, Phase::Escalated | Phase::Failed);
                let note = status.timeline.last().map(|e| e.message.clone()).unwrap_or_default();
                publish(&self.ctx.recorder, self.incident, warning, &phase.to_string(), note).await;
            }
        }
        self.outbox.written(&self.ctx.notifier, self.incident, status);
        for note in &notes {
            if let crate::notify::Notification::PostmortemDue { responder, due_by } = note {
                let who = responder.as_deref().unwrap_or("the responder");
                let text = format!("post-incident review due by {}; {who} is notified", due_by.to_rfc3339());
                publish(&self.ctx.recorder, self.incident, false, "PostmortemDue", text).await;
            }
        }
        self.ctx.metrics.observe_status(self.written.as_ref(), status);
        if status.phase.is_some_and(Phase::is_closed) {
            // A closed Incident acts no more: its target and slot are free once this is on record.
            if let Some(uid) = self.incident.metadata.uid.as_deref() {
                self.ctx.release_claim(uid);
            }
        }
        self.written = Some(status.clone());
        Ok(())
    }
}
