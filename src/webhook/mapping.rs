//! Alert labels → the Incident's target and severity: pure.

use super::payload::Alert;
use crate::api::{AlertsSpec, Playbook, Severity, TargetKind};
use kube::ResourceExt;

/// Where an alert points.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertTarget {
    pub namespace: String,
    pub kind: TargetKind,
    pub name: String,
    pub severity: Option<Severity>,
    /// The Playbook whose mapping was used, if any.
    pub playbook: Option<String>,
}

/// The runbook's severity words.
pub fn default_severity(value: &str) -> Option<Severity> {
    match value.to_ascii_lowercase().as_str() {
        "critical" | "page" => Some(Severity::Critical),
        "error" | "major" => Some(Severity::Major),
        "warning" | "medium" => Some(Severity::Medium),
        "info" | "minor" => Some(Severity::Minor),
        _ => None,
    }
}

/// Maps the alert's severity label, the Playbook's map first.
pub fn severity(alert: &Alert, spec: &AlertsSpec) -> Option<Severity> {
    let label = spec.severity_label.as_deref().unwrap_or("severity");
    let value = alert.labels.get(label)?;
    spec.severity_map
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(value))
        .map(|(_, s)| *s)
        .or_else(|| default_severity(value))
}

/// The target named by the alert's labels under a mapping.
pub fn target(alert: &Alert, spec: &AlertsSpec) -> Result<(String, TargetKind, String), String> {
    let labels = spec.target_labels.clone().unwrap_or_default();
    let ns_label = labels.namespace.as_deref().unwrap_or("namespace");
    let dep_label = labels.deployment.as_deref().unwrap_or("deployment");
    let sts_label = labels.statefulset.as_deref().unwrap_or("statefulset");
    let missing = || {
        format!(
            "alert {} (fingerprint {}) has no label naming its target: expected {ns_label:?} and one of {dep_label:?}, {sts_label:?}",
            alert.name(),
            alert.fingerprint()
        )
    };
    let namespace = alert
        .labels
        .get(ns_label)
        .filter(|v| !v.is_empty())
        .ok_or_else(missing)?;
    let (kind, name) = if let Some(d) = alert.labels.get(dep_label).filter(|v| !v.is_empty()) {
        (TargetKind::Deployment, d)
    } else if let Some(s) = alert.labels.get(sts_label).filter(|v| !v.is_empty()) {
        (TargetKind::StatefulSet, s)
    } else {
        return Err(missing());
    };
    Ok((namespace.clone(), kind, name.clone()))
}

/// Resolves an alert: a Playbook whose own mapping points the alert at a target in the
/// Playbook's namespace, of a kind it selects, provides the mapping; otherwise the defaults.
pub fn resolve(alert: &Alert, playbooks: &[&Playbook]) -> Result<AlertTarget, String> {
    let mut sorted: Vec<&Playbook> = playbooks.iter().copied().filter(|p| p.spec.alerts.is_some()).collect();
    sorted.sort_by_key(|p| (p.namespace(), p.name_any()));
    for pb in sorted {
        let spec = pb.spec.alerts.clone().unwrap_or_default();
        let Ok((namespace, kind, name)) = target(alert, &spec) else {
            continue;
        };
        let selects_kind = pb
            .spec
            .selector
            .as_ref()
            .is_some_and(|s| s.kinds.is_empty() || s.kinds.contains(&kind));
        if pb.namespace().as_deref() == Some(namespace.as_str()) && selects_kind {
            return Ok(AlertTarget {
                namespace,
                kind,
                name,
                severity: severity(alert, &spec),
                playbook: Some(pb.name_any()),
            });
        }
    }
    let spec = AlertsSpec::default();
    let (namespace, kind, name) = target(alert, &spec)?;
    Ok(AlertTarget {
        namespace,
        kind,
        name,
        severity: severity(alert, &spec),
        playbook: None,
    })
}

/// Characters of the fingerprint kept in names and labels: the name stays far below the
/// 253-character limit and the label value below 63.
const FINGERPRINT_CHARS: usize = 40;

/// The alert's fingerprint as names and labels carry it: lowercase letters and digits only,
/// bounded; the labels' hash when the sender's fingerprint has nothing usable.
pub fn fingerprint_key(alert: &Alert) -> String {
    let key: String = alert
        .fingerprint()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(FINGERPRINT_CHARS)
        .collect::<String>()
        .to_ascii_lowercase();
    if key.is_empty() {
        alert.labels_hash()
    } else {
        key
    }
}

/// The Incident name for one firing of an alert: the fingerprint and the firing's start, so
/// the same firing sent again names the same Incident and a later firing of the same alert
/// names a new one. A valid DNS-1123 name of at most 64 characters.
pub fn incident_name(alert: &Alert) -> String {
    let key = fingerprint_key(alert);
    match alert.starts_at {
        Some(at) => format!("alert-{key}-{}", at.format("%Y%m%d%H%M%S%3f")),
        None => format!("alert-{key}"),
    }
}
