//! Severity rules: the runbook's defaults, Playbook overrides, and the human override.

use super::signals::Signals;
use crate::api::{AlertRef, Severity, TriageRule};
use crate::expr;

/// A triage outcome with the reason a person would give.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub severity: Severity,
    pub reason: String,
    /// `default`, `playbook` or `human`.
    pub decided_by: &'static str,
}

/// Classifies by Playbook rules first, then the defaults; a human-set severity always wins.
/// Rules that fail to evaluate are reported in `rule_errors` and skipped, never fatal.
pub fn classify(
    signals: &Signals,
    playbook_rules: &[TriageRule],
    human: Option<Severity>,
    rule_errors: &mut Vec<String>,
) -> Verdict {
    let triaged = playbook_verdict(signals, playbook_rules, rule_errors).unwrap_or_else(|| default_verdict(signals));
    match human {
        Some(severity) => Verdict {
            severity,
            reason: format!(
                "set by a human in spec.severity (triage says {}: {})",
                triaged.severity, triaged.reason
            ),
            decided_by: "human",
        },
        None => triaged,
    }
}

fn playbook_verdict(signals: &Signals, rules: &[TriageRule], errors: &mut Vec<String>) -> Option<Verdict> {
    if rules.is_empty() {
        return None;
    }
    let vars = signals.variables();
    for rule in rules {
        match expr::eval_bool(&rule.when, &vars) {
            Ok(true) => {
                return Some(Verdict {
                    severity: rule.severity,
                    reason: format!("Playbook rule `{}`", rule.when),
                    decided_by: "playbook",
                })
            }
            Ok(false) => {}
            Err(err) => errors.push(format!("triage rule `{}`: {err}", rule.when)),
        }
    }
    None
}

/// The runbook's default rules.
pub fn default_verdict(s: &Signals) -> Verdict {
    let verdict = |severity, reason: String| Verdict {
        severity,
        reason,
        decided_by: "default",
    };
    if !s.target_found {
        let why = s
            .server_state
            .as_ref()
            .map(|reason| format!("target not found: {reason}"))
            .unwrap_or_else(|| "target not found".to_string());
        return verdict(Severity::Critical, why);
    }
    if s.server_down {
        let state = s.server_state.clone().unwrap_or_else(|| "server down".to_string());
        return verdict(Severity::Critical, state);
    }
    if let Some(state) = &s.server_state {
        // A cloud server that is up: nothing here says users are affected.
        if s.metrics_off.is_empty() {
            return verdict(Severity::Minor, format!("{state}; no visible effect"));
        }
    }
    let ratio = s.unavailable_ratio();
    let unavailable = (s.desired_replicas - s.available_replicas)
        .max(s.unavailable_replicas)
        .max(0);
    if s.services > 0 && s.ready_endpoints == 0 && s.desired_replicas > 0 {
        return verdict(Severity::Critical, format!("0/{} endpoints ready", s.total_endpoints));
    }
    if s.desired_replicas > 0 && ratio >= 0.9 {
        return verdict(
            Severity::Critical,
            format!("{unavailable}/{} replicas unavailable", s.desired_replicas),
        );
    }
    if s.hosting_nodes > 0 && s.not_ready_nodes == s.hosting_nodes {
        return verdict(
            Severity::Critical,
            format!("all {} hosting nodes not ready", s.hosting_nodes),
        );
    }
    if s.desired_replicas > 0 && ratio >= 0.5 {
        return verdict(
            Severity::Major,
            format!("{unavailable}/{} replicas unavailable", s.desired_replicas),
        );
    }
    if s.new_replica_set_failing {
        return verdict(
            Severity::Major,
            "the new ReplicaSet of the rollout is failing".to_string(),
        );
    }
    if s.progress_deadline_exceeded {
        return verdict(Severity::Major, "rollout exceeded its progress deadline".to_string());
    }
    if unavailable > 0 {
        return verdict(
            Severity::Medium,
            format!("{unavailable}/{} replicas unavailable", s.desired_replicas),
        );
    }
    if s.crash_looping_pods > 0 || s.oom_killed_pods > 0 || s.image_pull_failing_pods > 0 {
        return verdict(
            Severity::Medium,
            format!("{} pod(s) failing while the service still answers", s.failing_pods()),
        );
    }
    if !s.metrics_off.is_empty() {
        return verdict(Severity::Minor, format!("signals off: {}", s.metrics_off.join(", ")));
    }
    if s.warning_events > 0 {
        return verdict(Severity::Minor, format!("{} recent warning event(s)", s.warning_events));
    }
    verdict(Severity::Minor, "no visible effect on the target".to_string())
}

/// The severity of the alert that opened an Incident is a floor: triage may find it worse,
/// never milder. A human override still wins.
pub fn alert_floor(verdict: &mut Verdict, alert: &AlertRef) {
    let Some(floor) = alert.severity else {
        return;
    };
    if verdict.decided_by != "human" && floor > verdict.severity {
        verdict.reason = format!(
            "alert {} says {floor} (triage alone found {}: {})",
            alert.name, verdict.severity, verdict.reason
        );
        verdict.severity = floor;
    }
}
