//! A quick impact analysis: is it really "all down"?

use super::signals::Signals;
use crate::api::Impact;

/// Summarises the numbers behind a severity in one line, plus the numbers themselves.
pub fn impact(signals: &Signals) -> Impact {
    if !signals.target_found {
        return Impact {
            summary: "target not found".to_string(),
            ..Impact::default()
        };
    }
    if let Some(state) = &signals.server_state {
        return Impact {
            summary: state.clone(),
            ..Impact::default()
        };
    }
    let unavailable = (signals.desired_replicas - signals.available_replicas)
        .max(signals.unavailable_replicas)
        .max(0);
    let mut parts = vec![format!(
        "{unavailable}/{} replicas unavailable",
        signals.desired_replicas
    )];
    if signals.services > 0 {
        parts.push(format!(
            "{}/{} endpoints ready",
            signals.ready_endpoints, signals.total_endpoints
        ));
    }
    if signals.failing_pods() > 0 {
        parts.push(format!("{} pod(s) failing", signals.failing_pods()));
    }
    if signals.not_ready_nodes > 0 {
        parts.push(format!(
            "{}/{} nodes not ready",
            signals.not_ready_nodes, signals.hosting_nodes
        ));
    }
    if !signals.metrics_off.is_empty() {
        parts.push(format!("signals off: {}", signals.metrics_off.join(", ")));
    }
    Impact {
        summary: parts.join(", "),
        desired_replicas: Some(signals.desired_replicas),
        ready_replicas: Some(signals.ready_replicas),
        available_replicas: Some(signals.available_replicas),
        unavailable_replicas: Some(unavailable),
        ready_endpoints: (signals.services > 0).then_some(signals.ready_endpoints),
        total_endpoints: (signals.services > 0).then_some(signals.total_endpoints),
        failing_pods: Some(signals.failing_pods()),
        hosting_nodes: Some(signals.hosting_nodes),
        not_ready_nodes: Some(signals.not_ready_nodes),
        signals_off: signals.metrics_off.clone(),
    }
}
