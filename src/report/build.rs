//! Incident (+ archived timeline) → Report. Pure: no API calls, no clock.

use super::*;
use crate::api::{Incident, StepState, TargetKind};
use crate::duration::format_duration;
use std::collections::{BTreeSet, HashSet};

/// The archived entries and the ones still in status, de-duplicated by time, type and message,
/// oldest first. Entries with the same time keep their recorded order.
pub fn merge_timeline(archived: &[TimelineEntry], current: &[TimelineEntry]) -> Vec<TimelineEntry> {
    let mut seen = HashSet::new();
    let mut out: Vec<TimelineEntry> = archived
        .iter()
        .chain(current.iter())
        .filter(|e| seen.insert((e.time, e.type_, e.message.clone())))
        .cloned()
        .collect();
    out.sort_by_key(|e| e.time);
    out
}

fn span(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<Span> {
    let (from, to) = (from?, to?);
    let milliseconds = (to - from).num_milliseconds().max(0);
    Some(Span {
        milliseconds,
        text: format_duration(std::time::Duration::from_millis(milliseconds as u64)),
    })
}

fn push_unique(list: &mut Vec<String>, values: impl IntoIterator<Item = String>) {
    for v in values {
        let v = v.trim().to_string();
        if !v.is_empty() && !list.contains(&v) {
            list.push(v);
        }
    }
}

/// What a detail names, read generically from its key and value: AWS actions record
/// instance IDs and DB identifiers under keys that say so.
#[derive(Debug, PartialEq)]
enum DetailKind {
    Instance,
    Database,
    Other,
}

/// An EC2 instance ID: `i-` and 8 or 17 hex digits.
fn is_instance_id(value: &str) -> bool {
    value
        .strip_prefix("i-")
        .is_some_and(|hex| matches!(hex.len(), 8 | 17) && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

fn detail_kind(key: &str, value: &str, action: &str) -> DetailKind {
    let k = key.to_ascii_lowercase();
    let names_an_id = ["id", "ids", "identifier", "identifiers", "instance", "instances"]
        .iter()
        .any(|end| k.ends_with(end));
    let about_db = k.contains("db") || k.contains("database");
    let values = split_values(value);
    if !values.is_empty() && values.iter().all(|v| is_instance_id(v)) {
        DetailKind::Instance
    } else if (about_db && names_an_id) || (k == "replacement" && action.contains("rds")) {
        DetailKind::Database
    } else {
        DetailKind::Other
    }
}

fn split_values(value: &str) -> Vec<String> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `old → new` when the details name both sides of a replacement, otherwise the values.
fn replacements(found: &[(String, String)]) -> Vec<String> {
    let side = |words: &[&str]| -> Vec<String> {
        let mut out = Vec::new();
        for (k, v) in found {
            let k = k.to_ascii_lowercase();
            if words.iter().any(|w| k.contains(w)) {
                push_unique(&mut out, split_values(v));
            }
        }
        out
    };
    let old = side(&["old", "source"]);
    let new = side(&["new", "replacement"]);
    if !old.is_empty() && !new.is_empty() {
        vec![format!("{} → {}", old.join(", "), new.join(", "))]
    } else {
        let mut all = Vec::new();
        for (_, v) in found {
            push_unique(&mut all, split_values(v));
        }
        all
    }
}

/// Builds the post-mortem draft of an Incident. `archived` holds the timeline entries that
/// rolled off the bounded status timeline.
pub fn build(incident: &Incident, archived: &[TimelineEntry]) -> Report {
    let status = incident.status.clone().unwrap_or_default();
    let times = status.times.clone().unwrap_or_default();
    let evidence = status.evidence.clone().unwrap_or_default();
    let timeline = merge_timeline(archived, &status.timeline);
    let timeline_missing =
        (status.timeline.len() + status.timeline_dropped as usize).saturating_sub(timeline.len()) as u32;

    let first_error = evidence.first_error_time.map(|time| FirstError {
        time,
        source: evidence.first_error_source.clone(),
    });
    let started_at = [incident.spec.observed_at, evidence.first_error_time]
        .into_iter()
        .flatten()
        .min()
        .filter(|t| times.detected_at.is_none_or(|d| *t <= d));
    let resolved = status.phase == Some(crate::api::Phase::Resolved);
    let durations = Durations {
        time_to_detect: span(started_at, times.detected_at),
        time_to_mitigate: span(times.detected_at, times.mitigated_at),
        time_to_resolve: if resolved {
            span(times.detected_at, times.closed_at)
        } else {
            None
        },
    };

    let mut phases: Vec<PhaseSpan> = Vec::new();
    for entry in &timeline {
        let phase = match entry.type_.as_str() {
            "Detected" => "Detected".to_string(),
            "PhaseChanged" => match entry.message.split_once(':') {
                Some((phase, _)) => phase.trim().to_string(),
                None => continue,
            },
            _ => continue,
        };
        if phases.last().is_some_and(|p| p.phase == phase) {
            continue;
        }
        if let Some(last) = phases.last_mut() {
            last.duration = span(Some(last.entered_at), Some(entry.time));
        }
        phases.push(PhaseSpan {
            phase,
            entered_at: entry.time,
            duration: None,
        });
    }

    let mut affected = Affected::default();
    for pod in &evidence.failing_pods {
        affected.pods.push(AffectedPod {
            name: pod.name.clone(),
            node: pod.node.clone(),
            reason: pod.reason.clone(),
            restarts: pod.restarts,
            images: pod.containers.iter().map(|c| c.image.clone()).collect(),
        });
        push_unique(&mut affected.nodes, pod.node.clone());
    }
    match incident.spec.target.kind {
        TargetKind::EC2Instance => push_unique(&mut affected.instances, [incident.spec.target.name.clone()]),
        TargetKind::RDSInstance => push_unique(&mut affected.databases, [incident.spec.target.name.clone()]),
        TargetKind::Deployment | TargetKind::StatefulSet => {}
    }

    let mut rollbacks = Vec::new();
    let mut restored_databases = Vec::new();
    let mut relaunched_instances = Vec::new();
    let mut steps = Vec::new();
    for step in &status.steps {
        steps.push(StepFacts {
            name: step.name.clone(),
            action: step.action.clone(),
            state: format!("{:?}", step.state),
            attempts: step.attempts,
            started_at: step.started_at,
            finished_at: step.finished_at,
            message: step.message.clone(),
            dry_run: step.dry_run,
            reverted: step.reverted,
            details: step
                .intent
                .iter()
                .flat_map(|c| c.details.iter())
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        });
        let Some(change) = &step.intent else { continue };
        if change.from_revision.is_some() || change.to_revision.is_some() {
            rollbacks.push(Rollback {
                step: step.name.clone(),
                from_revision: change.from_revision,
                from_images: change.from_images.clone(),
                from_build: change.from_build.clone(),
                to_revision: change.to_revision,
                to_images: change.to_images.clone(),
                to_build: change.to_build.clone(),
                dry_run: step.dry_run,
                reverted: step.reverted,
            });
        }
        let changed = step.state == StepState::Succeeded && !step.dry_run;
        let action = step.action.to_ascii_lowercase();
        let (mut instances, mut databases) = (Vec::new(), Vec::new());
        for (key, value) in &change.details {
            match detail_kind(key, value, &action) {
                DetailKind::Instance => {
                    push_unique(&mut affected.instances, split_values(value));
                    instances.push((key.clone(), value.clone()));
                }
                DetailKind::Database => {
                    push_unique(&mut affected.databases, split_values(value));
                    databases.push((key.clone(), value.clone()));
                }
                DetailKind::Other => {}
            }
        }
        if changed && !instances.is_empty() && (action.contains("ec2") || action.contains("launch")) {
            push_unique(&mut relaunched_instances, replacements(&instances));
        }
        if changed && !databases.is_empty() && (action.contains("rds") || action.contains("restore")) {
            push_unique(&mut restored_databases, replacements(&databases));
        }
    }
    affected.nodes = affected
        .nodes
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();

    let validation = status.validation.as_ref().map(|v| ValidationFacts {
        verdict: v.verdict,
        started_at: v.started_at,
        checks: v
            .checks
            .iter()
            .map(|c| CheckFacts {
                name: c.name.clone(),
                verdict: c.phase,
                measurements: c.count,
                successful: c.successful,
                failed: c.failed,
                inconclusive: c.inconclusive,
                errors: c.errors,
                last_value: c.measurements.last().and_then(|m| m.value.clone()),
            })
            .collect(),
    });

    let source = serde_json::to_value(incident.spec.source)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default();
    Report {
        name: incident.metadata.name.clone().unwrap_or_default(),
        namespace: incident.metadata.namespace.clone().unwrap_or_default(),
        summary: incident.spec.summary.clone(),
        target: incident.spec.target.display(),
        source,
        severity: status.severity.map(|s| s.to_string()),
        severity_reason: status.severity_reason.clone(),
        phase: status.phase.map(|p| p.to_string()),
        playbook: status.playbook.clone(),
        responder: status.responder.clone(),
        times: KeyTimes {
            started_at,
            detected_at: times.detected_at,
            triaged_at: times.triaged_at,
            first_mitigation_at: times.first_mitigation_at,
            mitigated_at: times.mitigated_at,
            closed_at: times.closed_at,
        },
        durations,
        phases,
        impact: status.impact.as_ref().map(|i| ImpactFacts {
            summary: i.summary.clone(),
            signals_off: i.signals_off.clone(),
        }),
        first_error,
        affected,
        rollbacks,
        restored_databases,
        relaunched_instances,
        steps,
        validation,
        timeline,
        timeline_missing,
        postmortem_due_by: status.postmortem.as_ref().map(|p| p.due_by),
    }
}
