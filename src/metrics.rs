//! The operator's own metrics, served on `/metrics`.

use crate::api::IncidentStatus;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerOnly {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseSeverity {
    pub phase: String,
    pub severity: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub action: String,
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct VerdictLabels {
    pub verdict: String,
}

pub struct Metrics {
    pub registry: Registry,
    reconciles: Family<ControllerLabels, Counter>,
    reconcile_duration: Family<ControllerOnly, Histogram>,
    incidents: Family<PhaseSeverity, Gauge>,
    actions: Family<ActionLabels, Counter>,
    verdicts: Family<VerdictLabels, Counter>,
    detection_latency: Histogram,
    mitigation_latency: Histogram,
    api_requests: Family<MethodLabels, Counter>,
    status_conflicts: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("dontpanic");
        let reconciles = Family::<ControllerLabels, Counter>::default();
        let reconcile_duration = Family::<ControllerOnly, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 12))
        });
        let incidents = Family::<PhaseSeverity, Gauge>::default();
        let actions = Family::<ActionLabels, Counter>::default();
        let verdicts = Family::<VerdictLabels, Counter>::default();
        let detection_latency = Histogram::new(exponential_buckets(0.25, 2.0, 12));
        let mitigation_latency = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        registry.register("reconciles", "Reconciles by controller and result", reconciles.clone());
        registry.register(
            "reconcile_duration_seconds",
            "Reconcile duration",
            reconcile_duration.clone(),
        );
        registry.register(
            "incidents",
            "Incidents by phase and severity, as seen by this replica",
            incidents.clone(),
        );
        registry.register("actions", "Mitigation actions by type and result", actions.clone());
        registry.register(
            "validation_verdicts",
            "Validation measurements by verdict",
            verdicts.clone(),
        );
        registry.register(
            "detection_latency_seconds",
            "Time from a failure being observable to its Incident being opened",
            detection_latency.clone(),
        );
        registry.register(
            "mitigation_latency_seconds",
            "Time from an Incident being opened to its first mutating call",
            mitigation_latency.clone(),
        );
        let api_requests = Family::<MethodLabels, Counter>::default();
        registry.register(
            "kube_api_requests",
            "Requests this process sent to the Kubernetes API, by method",
            api_requests.clone(),
        );
        let status_conflicts = Counter::default();
        registry.register(
            "status_conflicts",
            "Incident status writes refused with 409 Conflict, each decided again from a fresh read",
            status_conflicts.clone(),
        );
        Metrics {
            api_requests,
            status_conflicts,
            registry,
            reconciles,
            reconcile_duration,
            incidents,
            actions,
            verdicts,
            detection_latency,
            mitigation_latency,
        }
    }
}

fn label<T: serde::Serialize>(value: Option<T>) -> String {
    value
        .and_then(|v| serde_json::to_value(v).ok())
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| "None".to_string())
}

impl Metrics {
    pub fn observe_reconcile(&self, controller: &str, took: Duration, ok: bool) {
        let result = if ok { "ok" } else { "error" };
        self.reconciles
            .get_or_create(&ControllerLabels {
                controller: controller.into(),
                result: result.into(),
            })
            .inc();
        self.reconcile_duration
            .get_or_create(&ControllerOnly {
                controller: controller.into(),
            })
            .observe(took.as_secs_f64());
    }

    /// Moves one Incident between phase/severity gauges when its status changes.
    pub fn observe_status(&self, old: Option<&IncidentStatus>, new: &IncidentStatus) {
        let key = |s: &IncidentStatus| PhaseSeverity {
            phase: label(s.phase),
            severity: label(s.severity),
        };
        let new_key = key(new);
        if let Some(old) = old.filter(|o| o.phase.is_some()) {
            if key(old) == new_key {
                return;
            }
            self.incidents.get_or_create(&key(old)).dec();
        }
        self.incidents.get_or_create(&new_key).inc();
    }

    pub fn observe_action(&self, action: &str, result: &str) {
        self.actions
            .get_or_create(&ActionLabels {
                action: action.into(),
                result: result.into(),
            })
            .inc();
    }

    pub fn observe_verdict(&self, verdict: &str) {
        self.verdicts
            .get_or_create(&VerdictLabels {
                verdict: verdict.into(),
            })
            .inc();
    }

    pub fn observe_detection_latency(&self, latency: Duration) {
        self.detection_latency.observe(latency.as_secs_f64());
    }

    pub fn observe_mitigation_latency(&self, latency: Duration) {
        self.mitigation_latency.observe(latency.as_secs_f64());
    }

    pub fn observe_api_request(&self, method: &str) {
        self.api_requests
            .get_or_create(&MethodLabels {
                method: method.to_string(),
            })
            .inc();
    }

    pub fn observe_status_conflict(&self) {
        self.status_conflicts.inc();
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("encoding into a String cannot fail");
        out
    }
}
