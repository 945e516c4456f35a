//! What to do about a failing rollout given the Incidents already open: pure.

use crate::api::{DetectedAgain, Incident, Phase, TargetKind};
use chrono::{DateTime, Utc};
use kube::ResourceExt;

/// The deterministic name of the Incident for a failing revision of a Deployment.
pub fn incident_name(deployment: &str, revision: i64) -> String {
    let suffix = format!("-rollout-{revision}");
    let keep = 253usize.saturating_sub(suffix.len());
    let base: String = deployment.chars().take(keep).collect();
    format!("{base}{suffix}")
}

/// The open Incident on a target, if any: the oldest not closed.
pub fn open_incident_for<'a>(
    incidents: &'a [std::sync::Arc<Incident>],
    namespace: &str,
    kind: TargetKind,
    name: &str,
) -> Option<&'a Incident> {
    incidents
        .iter()
        .filter(|i| i.namespace().as_deref() == Some(namespace))
        .filter(|i| i.spec.target.kind == kind && i.spec.target.name == name)
        .filter(|i| !i.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_closed))
        .min_by_key(|i| (i.metadata.creation_timestamp.clone().map(|t| t.0), i.name_any()))
        .map(|i| i.as_ref())
}

/// What detection does about a failure.
#[derive(Debug, Clone, PartialEq)]
pub enum OpenOutcome {
    /// No Incident is open on the target: open one.
    Create,
    /// Another Incident is open: add to its timeline through the annotation.
    AddToOpen { incident: String, note: DetectedAgain },
    /// Already known.
    Nothing,
}

/// Decides between opening an Incident and adding to the open one. Re-observing a failure the
/// open Incident already knows about adds nothing, so a flapping pod cannot storm the timeline.
pub fn decide_open(
    open: Option<&Incident>,
    deployment: &str,
    revision: i64,
    reason: &str,
    now: DateTime<Utc>,
) -> OpenOutcome {
    let Some(open) = open else {
        return OpenOutcome::Create;
    };
    let name = open.name_any();
    if name == incident_name(deployment, revision) {
        return OpenOutcome::Nothing;
    }
    let key = format!("revision-{revision}");
    let known = open
        .annotations()
        .get(crate::api::DETECTED_AGAIN_ANNOTATION)
        .and_then(|v| serde_json::from_str::<DetectedAgain>(v).ok())
        .is_some_and(|d| d.key == key);
    if known {
        return OpenOutcome::Nothing;
    }
    OpenOutcome::AddToOpen {
        incident: name,
        note: DetectedAgain {
            key,
            time: now,
            message: reason.to_string(),
        },
    }
}
