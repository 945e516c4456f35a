//! The health signals triage reads, as plain data so rules can be tested without a cluster.

use crate::expr::{Value, Variables};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Health signals of a Kubernetes workload (or a cloud server) at one moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Signals {
    /// False when the target does not exist.
    pub target_found: bool,
    pub desired_replicas: i32,
    pub ready_replicas: i32,
    pub available_replicas: i32,
    pub unavailable_replicas: i32,
    pub updated_replicas: i32,
    pub crash_looping_pods: i32,
    pub image_pull_failing_pods: i32,
    pub oom_killed_pods: i32,
    pub not_ready_pods: i32,
    pub max_restarts: i32,
    /// Nodes hosting the target's pods, and how many of them are not Ready.
    pub hosting_nodes: i32,
    pub not_ready_nodes: i32,
    /// Services selecting the target's pods, and their endpoints.
    pub services: i32,
    pub ready_endpoints: i32,
    pub total_endpoints: i32,
    pub progress_deadline_exceeded: bool,
    /// A rollout is still converging: the controller has not caught up with the spec, or old
    /// pods are still being replaced.
    pub rolling_out: bool,
    /// The newest ReplicaSet of a rollout has failing pods while an older revision exists.
    pub new_replica_set_failing: bool,
    pub warning_events: i32,
    /// Values of the Playbook's Prometheus signals, by name.
    pub metrics: BTreeMap<String, f64>,
    /// Names of Playbook signals whose `offWhen` holds.
    pub metrics_off: Vec<String>,
    /// For cloud targets: the server is down or impaired (stopped, terminated, failed checks).
    pub server_down: bool,
    /// For cloud targets: a one-line state, e.g. "instance stopped" or "DB status failed".
    pub server_state: Option<String>,
    /// The release the workload runs now (Kubernetes targets only).
    pub release: Option<crate::api::TargetState>,
}

impl Signals {
    /// Unavailable replicas as a fraction of desired ones; 0 when nothing is desired.
    pub fn unavailable_ratio(&self) -> f64 {
        if self.desired_replicas <= 0 {
            return 0.0;
        }
        let unavailable = self
            .unavailable_replicas
            .max(self.desired_replicas - self.available_replicas)
            .max(0);
        f64::from(unavailable) / f64::from(self.desired_replicas)
    }

    /// Why the target is failing right now, or None when nothing a user would notice is wrong.
    /// Warning events alone do not count: they outlive the failure they report.
    pub fn failing(&self) -> Option<String> {
        if !self.target_found {
            return Some(self.server_state.clone().unwrap_or_else(|| "target not found".into()));
        }
        if self.server_down {
            return Some(self.server_state.clone().unwrap_or_else(|| "server down".into()));
        }
        let unavailable = (self.desired_replicas - self.available_replicas)
            .max(self.unavailable_replicas)
            .max(0);
        if unavailable > 0 {
            return Some(format!("{unavailable}/{} replicas unavailable", self.desired_replicas));
        }
        if self.failing_pods() > 0 {
            return Some(format!("{} pod(s) failing", self.failing_pods()));
        }
        if self.new_replica_set_failing {
            return Some("the new ReplicaSet of the rollout is failing".into());
        }
        if self.progress_deadline_exceeded {
            return Some("the rollout exceeded its progress deadline".into());
        }
        if self.services > 0 && self.ready_endpoints == 0 && self.desired_replicas > 0 {
            return Some(format!("0/{} endpoints ready", self.total_endpoints));
        }
        if !self.metrics_off.is_empty() {
            return Some(format!("signals off: {}", self.metrics_off.join(", ")));
        }
        None
    }

    /// Pods failing in a way a user would notice.
    pub fn failing_pods(&self) -> i32 {
        self.crash_looping_pods + self.image_pull_failing_pods + self.oom_killed_pods + self.not_ready_pods
    }

    /// The variables Playbook rules may use.
    pub fn variables(&self) -> Variables {
        let mut vars = Variables::new();
        let mut num = |name: &str, value: f64| {
            vars.insert(name.to_string(), Value::Number(value));
        };
        num("desiredReplicas", f64::from(self.desired_replicas));
        num("readyReplicas", f64::from(self.ready_replicas));
        num("availableReplicas", f64::from(self.available_replicas));
        num("unavailableReplicas", f64::from(self.unavailable_replicas));
        num("unavailableRatio", self.unavailable_ratio());
        num("crashLoopingPods", f64::from(self.crash_looping_pods));
        num("imagePullFailingPods", f64::from(self.image_pull_failing_pods));
        num("oomKilledPods", f64::from(self.oom_killed_pods));
        num("notReadyPods", f64::from(self.not_ready_pods));
        num("failingPods", f64::from(self.failing_pods()));
        num("maxRestarts", f64::from(self.max_restarts));
        num("hostingNodes", f64::from(self.hosting_nodes));
        num("notReadyNodes", f64::from(self.not_ready_nodes));
        num("services", f64::from(self.services));
        num("readyEndpoints", f64::from(self.ready_endpoints));
        num("totalEndpoints", f64::from(self.total_endpoints));
        num("warningEvents", f64::from(self.warning_events));
        for (name, value) in &self.metrics {
            num(name, *value);
        }
        vars.insert(
            "progressDeadlineExceeded".into(),
            Value::Bool(self.progress_deadline_exceeded),
        );
        vars.insert("newReplicaSetFailing".into(), Value::Bool(self.new_replica_set_failing));
        vars.insert("serverDown".into(), Value::Bool(self.server_down));
        vars
    }
}
