//! Recovery validation: providers behind [`MetricProvider`], one file each, and the analysis
//! that turns measurements into a verdict.

pub use crate::lifecycle::analysis;
mod aws;
mod http;
mod kubernetes;
mod prometheus;

use crate::api::{AwsCheck, CheckSpec, KubernetesCheck, TargetKind};
use crate::triage::Signals;
use analysis::MeasurementResult;
use async_trait::async_trait;
use kube::Client;

pub use aws::AwsProvider;
pub use http::HttpProvider;
pub use kubernetes::KubernetesProvider;
pub use prometheus::{instant_query, Credentials, PrometheusProvider, QueryResult};

/// What a provider may use to take a measurement.
pub struct ProviderContext<'a> {
    pub client: Client,
    pub http: reqwest::Client,
    pub namespace: &'a str,
    pub default_prometheus_url: Option<&'a str>,
    /// The target's signals read in this reconcile, for the kubernetes provider.
    pub signals: Option<&'a Signals>,
}

/// Takes one measurement of one check.
#[async_trait]
pub trait MetricProvider: Send + Sync {
    async fn measure(&self, ctx: &ProviderContext<'_>) -> MeasurementResult;
}

/// The provider a check names, or why it names none or several.
pub fn provider_for(check: &CheckSpec) -> Result<Box<dyn MetricProvider + '_>, String> {
    let set = [
        check.kubernetes.is_some(),
        check.prometheus.is_some(),
        check.http.is_some(),
        check.aws.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set != 1 {
        return Err(format!(
            "check {:?} must set exactly one provider (kubernetes, prometheus, http or aws), it sets {set}",
            check.name
        ));
    }
    if let Some(k) = &check.kubernetes {
        return Ok(Box::new(KubernetesProvider { spec: k }));
    }
    if let Some(p) = &check.prometheus {
        return Ok(Box::new(PrometheusProvider { spec: p }));
    }
    if let Some(a) = &check.aws {
        return Ok(Box::new(AwsProvider { spec: a }));
    }
    Ok(Box::new(HttpProvider {
        spec: check.http.as_ref().expect("counted above"),
    }))
}

/// The check used when a Playbook validates nothing itself: the target is available.
pub fn default_checks() -> Vec<CheckSpec> {
    vec![CheckSpec {
        name: crate::lifecycle::DEFAULT_CHECK.to_string(),
        kubernetes: Some(KubernetesCheck {
            available: Some(true),
            min_ready_endpoints: None,
        }),
        ..CheckSpec::default()
    }]
}

/// The default check for a target kind, named `available` for every kind: Kubernetes workloads
/// are available as Kubernetes sees them; EC2 instances run (the relaunched one, after a
/// relaunch) and RDS DB instances are `available` (the restored one, after a restore).
pub fn default_checks_for(kind: TargetKind) -> Vec<CheckSpec> {
    match kind {
        TargetKind::Deployment | TargetKind::StatefulSet => default_checks(),
        TargetKind::EC2Instance | TargetKind::RDSInstance => vec![CheckSpec {
            name: crate::lifecycle::DEFAULT_CHECK.to_string(),
            aws: Some(AwsCheck { available: Some(true) }),
            ..CheckSpec::default()
        }],
    }
}

/// Checks a check's configuration without measuring, for the Playbook's Ready condition.
pub fn check_spec_problems(check: &CheckSpec) -> Vec<String> {
    let mut problems = Vec::new();
    if let Err(e) = provider_for(check) {
        problems.push(e);
    }
    if let Some(p) = &check.prometheus {
        if p.query.trim().is_empty() {
            problems.push(format!("check {:?}: prometheus.query is empty", check.name));
        }
        if let Err(e) = crate::expr::parse(&p.success_condition) {
            problems.push(format!("check {:?}: successCondition: {e}", check.name));
        }
        if let Some(f) = &p.failure_condition {
            if let Err(e) = crate::expr::parse(f) {
                problems.push(format!("check {:?}: failureCondition: {e}", check.name));
            }
        }
    }
    if let Some(h) = &check.http {
        if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
            problems.push(format!(
                "check {:?}: http.url must start with http:// or https://",
                check.name
            ));
        }
        if let Some(t) = &h.timeout {
            if let Err(e) = crate::duration::parse_duration_at_most(t, crate::duration::MAX_HTTP_TIMEOUT) {
                problems.push(format!("check {:?}: http.timeout: {e}", check.name));
            }
        }
    }
    if let Some(a) = &check.aws {
        if a.available.is_none() {
            problems.push(format!("check {:?}: aws needs `available`", check.name));
        }
    }
    if let Some(k) = &check.kubernetes {
        if k.available.is_none() && k.min_ready_endpoints.is_none() {
            problems.push(format!(
                "check {:?}: kubernetes needs `available` or `minReadyEndpoints`",
                check.name
            ));
        }
    }
    problems
}
