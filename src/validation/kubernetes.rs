//! The `kubernetes` provider: the target is available, or has enough ready endpoints.

use super::analysis::{MeasurementResult, Verdict};
use super::{MetricProvider, ProviderContext};
use crate::api::KubernetesCheck;
use async_trait::async_trait;

pub struct KubernetesProvider<'a> {
    pub spec: &'a KubernetesCheck,
}

#[async_trait]
impl MetricProvider for KubernetesProvider<'_> {
    async fn measure(&self, ctx: &ProviderContext<'_>) -> MeasurementResult {
        let Some(s) = ctx.signals else {
            return MeasurementResult {
                verdict: Verdict::Error,
                value: None,
                message: Some("the target could not be read".into()),
            };
        };
        if !s.target_found {
            return MeasurementResult {
                verdict: Verdict::Failed,
                value: None,
                message: Some("the target does not exist".into()),
            };
        }
        let mut failures = Vec::new();
        let mut values = Vec::new();
        if s.server_down {
            failures.push(s.server_state.clone().unwrap_or_else(|| "the server is down".into()));
        }
        if self.spec.available == Some(true) {
            values.push(format!(
                "{}/{} available, {} updated",
                s.available_replicas, s.desired_replicas, s.updated_replicas
            ));
            let all = s.available_replicas >= s.desired_replicas
                && s.updated_replicas >= s.desired_replicas
                && s.unavailable_replicas == 0
                && s.failing_pods() == 0;
            if !all {
                failures.push("not all desired replicas are updated and available".to_string());
            }
        }
        if let Some(min) = self.spec.min_ready_endpoints {
            values.push(format!("{} ready endpoints", s.ready_endpoints));
            if s.ready_endpoints < min {
                failures.push(format!("{} ready endpoints, want at least {min}", s.ready_endpoints));
            }
        }
        MeasurementResult {
            verdict: if failures.is_empty() {
                Verdict::Successful
            } else {
                Verdict::Failed
            },
            value: Some(values.join(", ")),
            message: (!failures.is_empty()).then(|| failures.join("; ")),
        }
    }
}
