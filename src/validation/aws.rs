//! The `aws` provider: the cloud target (or what replaced it) is up as the AWS API reports it:
//! an EC2 instance running with status checks not impaired, an RDS DB instance `available`.
//! It judges the signals triage read in the same reconcile.

use super::analysis::{MeasurementResult, Verdict};
use super::{MetricProvider, ProviderContext};
use crate::api::AwsCheck;
use async_trait::async_trait;

pub struct AwsProvider<'a> {
    pub spec: &'a AwsCheck,
}

/// Judges the signals of a cloud target.
pub fn judge(spec: &AwsCheck, signals: Option<&crate::triage::Signals>) -> MeasurementResult {
    let Some(s) = signals else {
        return MeasurementResult {
            verdict: Verdict::Error,
            value: None,
            message: Some("the target could not be read".into()),
        };
    };
    let state = s.server_state.clone().unwrap_or_else(|| "unknown state".into());
    if !s.target_found {
        return MeasurementResult {
            verdict: Verdict::Failed,
            value: Some(state),
            message: Some("the target does not exist".into()),
        };
    }
    if spec.available != Some(true) {
        return MeasurementResult {
            verdict: Verdict::Successful,
            value: Some(state),
            message: None,
        };
    }
    // RDS reports `available` only once it serves; anything else that is not down (creating,
    // modifying, ...) is not available yet either.
    let up = !s.server_down && (state.contains(" running") || state.ends_with(" available"));
    MeasurementResult {
        verdict: if up { Verdict::Successful } else { Verdict::Failed },
        value: Some(state.clone()),
        message: (!up).then(|| format!("not available: {state}")),
    }
}

#[async_trait]
impl MetricProvider for AwsProvider<'_> {
    async fn measure(&self, ctx: &ProviderContext<'_>) -> MeasurementResult {
        judge(self.spec, ctx.signals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::triage::Signals;

    fn signals(down: bool, state: &str) -> Signals {
        Signals {
            target_found: true,
            server_down: down,
            server_state: Some(state.into()),
            ..Signals::default()
        }
    }

    #[test]
    fn running_instances_and_available_databases_pass() {
        let spec = AwsCheck { available: Some(true) };
        let ok = |s: Signals| judge(&spec, Some(&s)).verdict;
        assert_eq!(ok(signals(false, "instance i-1 running")), Verdict::Successful);
        assert_eq!(
            ok(signals(false, "DB instance db status available")),
            Verdict::Successful
        );
        assert_eq!(ok(signals(false, "instance i-1 pending")), Verdict::Failed);
        assert_eq!(ok(signals(false, "DB instance db status creating")), Verdict::Failed);
        assert_eq!(ok(signals(true, "instance i-1 stopped")), Verdict::Failed);
        assert_eq!(judge(&spec, None).verdict, Verdict::Error);
    }
}
