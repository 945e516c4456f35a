//! The post-mortem draft: a pure function from an Incident and its archived timeline to a
//! [`Report`], rendered as Markdown or JSON.
//!
//! The report says what happened, not who did it: it names systems, changes and times.

mod build;
mod markdown;

pub use build::{build, merge_timeline};
pub use markdown::{to_markdown, utc as markdown_utc};

use crate::api::TimelineEntry;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Everything a post-incident review starts from.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub name: String,
    pub namespace: String,
    /// The one-line summary from the Incident.
    pub summary: String,
    /// `Kind/name` of the target.
    pub target: String,
    pub source: String,
    pub severity: Option<String>,
    pub severity_reason: Option<String>,
    /// The phase the Incident is in (Resolved, Escalated, ...).
    pub phase: Option<String>,
    pub playbook: Option<String>,
    /// The on-call role named by the Playbook; who to ask, not who to blame.
    pub responder: Option<String>,
    pub times: KeyTimes,
    pub durations: Durations,
    /// Each phase the Incident went through, with how long it lasted.
    pub phases: Vec<PhaseSpan>,
    pub impact: Option<ImpactFacts>,
    pub first_error: Option<FirstError>,
    pub affected: Affected,
    /// Revisions rolled back, with images and builds on both sides.
    pub rollbacks: Vec<Rollback>,
    /// Databases restored by a mitigation: `source → restored` when both are known.
    pub restored_databases: Vec<String>,
    /// Instances relaunched by a mitigation: `old → new` when both are known.
    pub relaunched_instances: Vec<String>,
    /// Every mitigation step, in order.
    pub steps: Vec<StepFacts>,
    pub validation: Option<ValidationFacts>,
    /// The whole timeline, archived and current, oldest first, in UTC.
    pub timeline: Vec<TimelineEntry>,
    /// Entries status says were moved to the archive but the archive did not yield.
    pub timeline_missing: u32,
    /// When the post-incident review is due.
    pub postmortem_due_by: Option<DateTime<Utc>>,
}

/// The lifecycle's key times.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct KeyTimes {
    /// When the failure was first observable: the source's observation or the first error,
    /// whichever is earlier.
    pub started_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub triaged_at: Option<DateTime<Utc>>,
    pub first_mitigation_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
}

/// One duration, in milliseconds and as people read it.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Span {
    pub milliseconds: i64,
    pub text: String,
}

/// Time to detect, to mitigate and to resolve.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Durations {
    /// From the first observable failure to the Incident being opened.
    pub time_to_detect: Option<Span>,
    /// From detection to the first successful mitigation.
    pub time_to_mitigate: Option<Span>,
    /// From detection to validated recovery.
    pub time_to_resolve: Option<Span>,
}

/// A phase and how long the Incident stayed in it.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PhaseSpan {
    pub phase: String,
    pub entered_at: DateTime<Utc>,
    /// Absent for the phase the Incident is still in.
    pub duration: Option<Span>,
}

/// How bad it was.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ImpactFacts {
    pub summary: String,
    pub signals_off: Vec<String>,
}

/// The earliest failure the operator observed.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FirstError {
    pub time: DateTime<Utc>,
    pub source: Option<String>,
}

/// The servers involved.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Affected {
    pub pods: Vec<AffectedPod>,
    /// Nodes hosting failing pods.
    pub nodes: Vec<String>,
    /// EC2 instance IDs, from the target and from mitigation details.
    pub instances: Vec<String>,
    /// RDS DB identifiers, from the target and from mitigation details.
    pub databases: Vec<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AffectedPod {
    pub name: String,
    pub node: Option<String>,
    pub reason: String,
    pub restarts: i32,
    pub images: Vec<String>,
}

/// What a rollback changed.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    pub step: String,
    pub from_revision: Option<i64>,
    pub from_images: Vec<String>,
    pub from_build: Option<String>,
    pub to_revision: Option<i64>,
    pub to_images: Vec<String>,
    pub to_build: Option<String>,
    /// True when only recorded as a dry-run.
    pub dry_run: bool,
    /// True when undone after validation failed.
    pub reverted: bool,
}

/// One mitigation step as it ended.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepFacts {
    pub name: String,
    pub action: String,
    pub state: String,
    pub attempts: u32,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub message: Option<String>,
    pub dry_run: bool,
    pub reverted: bool,
    /// Action-specific facts (instance IDs, AMI, DB identifiers, endpoints, ...), as `key=value`.
    pub details: Vec<String>,
}

/// How recovery was validated.
#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ValidationFacts {
    pub verdict: crate::api::AnalysisVerdict,
    pub started_at: DateTime<Utc>,
    pub checks: Vec<CheckFacts>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CheckFacts {
    pub name: String,
    pub verdict: crate::api::AnalysisVerdict,
    pub measurements: u32,
    pub successful: u32,
    pub failed: u32,
    pub inconclusive: u32,
    pub errors: u32,
    pub last_value: Option<String>,
}

/// The report as pretty-printed JSON.
pub fn to_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("a report serializes")
}

#[cfg(test)]
mod tests;
