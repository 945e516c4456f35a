use super::{clip, MAX_EVENTS, MAX_MESSAGE_CHARS, MAX_PODS, MAX_REVISIONS};
use crate::api::{ContainerEvidence, EventEvidence, Evidence, LogEvidence, PodEvidence, RevisionEvidence};
use crate::kubeutil::{pod_failure, revision_of, template_build, template_images, CHANGE_CAUSE_ANNOTATION};
use crate::triage::WorkloadObservation;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{Event, Pod};

/// Builds capped evidence from an observation and the log lines read for it.
pub fn build_evidence(obs: &WorkloadObservation, logs: Vec<LogEvidence>, now: DateTime<Utc>) -> Evidence {
    let mut evidence = Evidence {
        gathered_at: now,
        notes: obs.notes.clone(),
        logs,
        ..Evidence::default()
    };
    let revision_by_hash: Vec<(String, i64)> = obs
        .replica_sets
        .iter()
        .filter_map(|rs| {
            Some((
                rs.metadata.labels.as_ref()?.get("pod-template-hash")?.clone(),
                revision_of(&rs.metadata),
            ))
        })
        .collect();
    let mut failing: Vec<&Pod> = obs
        .pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && pod_failure(p).is_some())
        .collect();
    failing.sort_by_key(|p| p.metadata.name.clone());
    evidence.failing_pods = failing
        .iter()
        .take(MAX_PODS)
        .map(|p| pod_evidence(p, &revision_by_hash))
        .collect();
    if failing.len() > MAX_PODS {
        evidence
            .notes
            .push(format!("{} more failing pods not listed", failing.len() - MAX_PODS));
    }

    let mut events: Vec<&Event> = obs.warning_events.iter().collect();
    events.sort_by_key(|e| std::cmp::Reverse(event_time(e)));
    evidence.warning_events = events.iter().take(MAX_EVENTS).map(|e| event_evidence(e)).collect();

    let mut revisions: Vec<RevisionEvidence> = obs
        .replica_sets
        .iter()
        .filter_map(|rs| {
            let template = rs.spec.as_ref()?.template.as_ref()?;
            Some(RevisionEvidence {
                revision: revision_of(&rs.metadata),
                images: template_images(template),
                build: template_build(template),
                change_cause: rs
                    .metadata
                    .annotations
                    .as_ref()
                    .and_then(|a| a.get(CHANGE_CAUSE_ANNOTATION))
                    .map(|c| clip(c, MAX_MESSAGE_CHARS)),
                replicas: rs.status.as_ref().map(|s| s.replicas).unwrap_or(0),
                ready_replicas: rs.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
                created_at: rs.metadata.creation_timestamp.as_ref().map(|t| to_chrono(&t.0)),
            })
        })
        .collect();
    revisions.sort_by_key(|r| std::cmp::Reverse(r.revision));
    revisions.truncate(MAX_REVISIONS);
    evidence.rollout_history = revisions;

    let (first, source) = first_error(&failing, &obs.warning_events);
    evidence.first_error_time = first;
    evidence.first_error_source = source;
    if evidence.logs.iter().all(|l| l.lines.is_empty()) && !evidence.logs.is_empty() {
        evidence
            .notes
            .push("no log lines could be read for the failing containers".to_string());
    }
    evidence
}

/// Converts a Kubernetes timestamp into the chrono type status uses.
pub fn to_chrono(ts: &k8s_openapi::jiff::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond() as u32).unwrap_or_default()
}

fn pod_evidence(pod: &Pod, revision_by_hash: &[(String, i64)]) -> PodEvidence {
    let status = pod.status.clone().unwrap_or_default();
    let hash = pod.metadata.labels.as_ref().and_then(|l| l.get("pod-template-hash"));
    let containers: Vec<ContainerEvidence> = status
        .container_statuses
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let (state, reason) = match &c.state {
                Some(s) if s.waiting.is_some() => ("waiting", s.waiting.as_ref().and_then(|w| w.reason.clone())),
                Some(s) if s.terminated.is_some() => {
                    ("terminated", s.terminated.as_ref().and_then(|t| t.reason.clone()))
                }
                Some(s) if s.running.is_some() => ("running", None),
                _ => ("unknown", None),
            };
            ContainerEvidence {
                name: c.name,
                image: c.image,
                state: state.to_string(),
                reason,
                restarts: c.restart_count,
            }
        })
        .collect();
    PodEvidence {
        name: pod.metadata.name.clone().unwrap_or_default(),
        node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
        phase: status.phase,
        reason: pod_failure(pod).map(|f| f.reason().to_string()).unwrap_or_default(),
        restarts: containers.iter().map(|c| c.restarts).max().unwrap_or(0),
        revision: hash.and_then(|h| revision_by_hash.iter().find(|(rh, _)| rh == h).map(|(_, r)| *r)),
        containers,
    }
}

fn event_time(event: &Event) -> Option<DateTime<Utc>> {
    event
        .last_timestamp
        .as_ref()
        .map(|t| to_chrono(&t.0))
        .or_else(|| event.event_time.as_ref().map(|t| to_chrono(&t.0)))
        .or_else(|| event.first_timestamp.as_ref().map(|t| to_chrono(&t.0)))
}

fn event_evidence(event: &Event) -> EventEvidence {
    EventEvidence {
        time: event_time(event),
        object: format!(
            "{}/{}",
            event.involved_object.kind.clone().unwrap_or_default(),
            event.involved_object.name.clone().unwrap_or_default()
        ),
        reason: event.reason.clone().unwrap_or_default(),
        message: clip(event.message.as_deref().unwrap_or_default(), MAX_MESSAGE_CHARS),
        count: event.count.unwrap_or(1),
    }
}

/// The earliest failure visible: a failing pod turning not Ready, a container's last crash,
/// or the first Warning event.
fn first_error(failing: &[&Pod], events: &[Event]) -> (Option<DateTime<Utc>>, Option<String>) {
    let mut candidates: Vec<(DateTime<Utc>, String)> = Vec::new();
    for pod in failing {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let status = pod.status.clone().unwrap_or_default();
        for c in status.conditions.unwrap_or_default() {
            if c.type_ == "Ready" && c.status == "False" {
                if let Some(t) = c.last_transition_time {
                    candidates.push((to_chrono(&t.0), format!("pod {name} became not Ready")));
                }
            }
        }
        for cs in status.container_statuses.unwrap_or_default() {
            if let Some(t) = cs.last_state.and_then(|s| s.terminated).and_then(|t| t.finished_at) {
                candidates.push((to_chrono(&t.0), format!("container {}/{} terminated", name, cs.name)));
            }
        }
    }
    for event in events {
        let first = event
            .first_timestamp
            .as_ref()
            .map(|t| to_chrono(&t.0))
            .or_else(|| event.event_time.as_ref().map(|t| to_chrono(&t.0)));
        if let Some(t) = first {
            candidates.push((
                t,
                format!(
                    "Warning event {} on {}",
                    event.reason.clone().unwrap_or_default(),
                    event.involved_object.name.clone().unwrap_or_default()
                ),
            ));
        }
    }
    candidates.sort_by_key(|(t, _)| *t);
    match candidates.into_iter().next() {
        Some((t, source)) => (Some(t), Some(source)),
        None => (None, None),
    }
}
