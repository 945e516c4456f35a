//! Types shared by the Incident and Playbook resources.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How bad an incident is, ordered from least to most severe so that `max` escalates.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum Severity {
    /// Metrics off without visible effect, a secondary flow broken, few users affected.
    Minor,
    /// Some flows not working, some users affected.
    Medium,
    /// Significant malfunction, main flows disrupted, many users affected.
    Major,
    /// Servers down, main application unavailable, all or most users affected.
    Critical,
}

/// Keeps a field's own description when its type is an enum with documented variants: the
/// CRD generator would otherwise replace it with the enum's description.
pub(crate) fn field_description_wins(schema: &mut schemars::Schema) {
    fn strip(value: &mut serde_json::Value) {
        if let Some(obj) = value.as_object_mut() {
            obj.remove("description");
        }
    }
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(list) = obj.get_mut(key).and_then(|v| v.as_array_mut()) {
            list.iter_mut().for_each(strip);
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Severity::Minor => "Minor",
            Severity::Medium => "Medium",
            Severity::Major => "Major",
            Severity::Critical => "Critical",
        };
        f.write_str(text)
    }
}

/// The kinds of objects an Incident can be about.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum TargetKind {
    Deployment,
    StatefulSet,
    EC2Instance,
    RDSInstance,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            TargetKind::Deployment => "Deployment",
            TargetKind::StatefulSet => "StatefulSet",
            TargetKind::EC2Instance => "EC2Instance",
            TargetKind::RDSInstance => "RDSInstance",
        };
        f.write_str(text)
    }
}

/// A condition in the shape the Kubernetes API conventions prescribe.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// The aspect this condition describes, for example `Ready`, `Triaged` or `Validated`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase machine-readable reason for the last transition.
    pub reason: String,
    /// A human-readable explanation.
    #[serde(default)]
    pub message: String,
    /// When `status` last changed; unchanged while only reason or message change.
    pub last_transition_time: DateTime<Utc>,
    /// The `.metadata.generation` this condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Sets a condition, keeping `lastTransitionTime` unless the status flips, so that an
/// unchanged world produces an unchanged status.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: DateTime<Utc>,
) {
    let status_text = if status { "True" } else { "False" };
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(existing) => {
            if existing.status != status_text {
                existing.last_transition_time = now;
                existing.status = status_text.to_string();
            }
            existing.reason = reason.to_string();
            existing.message = message.to_string();
            existing.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.to_string(),
            status: status_text.to_string(),
            reason: reason.to_string(),
            message: message.to_string(),
            last_transition_time: now,
            observed_generation: generation,
        }),
    }
}

/// Looks up a condition by type.
pub fn find_condition<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}
