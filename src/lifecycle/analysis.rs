//! Analysis counters with the meanings Argo Rollouts gives them. Pure.

use crate::api::{CheckStatus, Measurement, ValidationSpec};
use chrono::{DateTime, Utc};

/// Measurements kept per check in status.
pub const MEASUREMENTS_KEPT: usize = 5;
pub const DEFAULT_COUNT: u32 = 3;
pub const DEFAULT_CONSECUTIVE_ERROR_LIMIT: u32 = 4;

/// The verdict of one measurement or of a whole analysis (a status enum of the CRD).
pub use crate::api::AnalysisVerdict as Verdict;

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Successful => "Successful",
            Verdict::Failed => "Failed",
            Verdict::Inconclusive => "Inconclusive",
            Verdict::Error => "Error",
            Verdict::Running => "Running",
        }
    }

    #[cfg(test)]
    pub fn parse(text: &str) -> Verdict {
        match text {
            "Successful" => Verdict::Successful,
            "Failed" => Verdict::Failed,
            "Inconclusive" => Verdict::Inconclusive,
            "Error" => Verdict::Error,
            _ => Verdict::Running,
        }
    }

    pub fn is_final(self) -> bool {
        self != Verdict::Running
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One measurement as a provider reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurementResult {
    pub verdict: Verdict,
    pub value: Option<String>,
    pub message: Option<String>,
}

/// The limits in force for a validation spec, with defaults filled in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub count: u32,
    pub failure_limit: u32,
    pub inconclusive_limit: u32,
    pub consecutive_success_limit: Option<u32>,
    pub consecutive_error_limit: u32,
}

impl Limits {
    pub fn from_spec(spec: &ValidationSpec) -> Limits {
        Limits {
            count: spec.count.filter(|c| *c > 0).unwrap_or(DEFAULT_COUNT),
            failure_limit: spec.failure_limit.unwrap_or(0),
            inconclusive_limit: spec.inconclusive_limit.unwrap_or(0),
            consecutive_success_limit: spec.consecutive_success_limit.filter(|c| *c > 0),
            consecutive_error_limit: DEFAULT_CONSECUTIVE_ERROR_LIMIT,
        }
    }
}

/// Adds a measurement to a check and returns the check's verdict so far.
pub fn record(check: &mut CheckStatus, result: &MeasurementResult, limits: &Limits, now: DateTime<Utc>) -> Verdict {
    if check.phase.is_final() {
        return check.phase;
    }
    check.count += 1;
    match result.verdict {
        Verdict::Successful => {
            check.successful += 1;
            check.consecutive_successes += 1;
            check.consecutive_errors = 0;
        }
        Verdict::Failed => {
            check.failed += 1;
            check.consecutive_successes = 0;
            check.consecutive_errors = 0;
        }
        Verdict::Inconclusive => {
            check.inconclusive += 1;
            check.consecutive_successes = 0;
            check.consecutive_errors = 0;
        }
        Verdict::Error | Verdict::Running => {
            check.errors += 1;
            check.consecutive_errors += 1;
            check.consecutive_successes = 0;
        }
    }
    check.measurements.push(Measurement {
        time: now,
        verdict: result.verdict,
        value: result.value.clone(),
        message: result.message.clone(),
    });
    if check.measurements.len() > MEASUREMENTS_KEPT {
        let excess = check.measurements.len() - MEASUREMENTS_KEPT;
        check.measurements.drain(..excess);
    }
    let verdict = check_verdict(check, limits);
    check.phase = verdict;
    verdict
}

fn check_verdict(check: &CheckStatus, limits: &Limits) -> Verdict {
    if check.failed > limits.failure_limit {
        return Verdict::Failed;
    }
    if check.inconclusive > limits.inconclusive_limit {
        return Verdict::Inconclusive;
    }
    if check.consecutive_errors > limits.consecutive_error_limit {
        return Verdict::Error;
    }
    if let Some(limit) = limits.consecutive_success_limit {
        if check.consecutive_successes >= limit {
            return Verdict::Successful;
        }
        if check.count >= limits.count {
            return Verdict::Failed;
        }
        return Verdict::Running;
    }
    if check.count >= limits.count {
        // Measurements that erred without reaching the error limit still leave no proof of
        // success when none succeeded.
        return if check.successful > 0 {
            Verdict::Successful
        } else {
            Verdict::Inconclusive
        };
    }
    Verdict::Running
}

/// The overall verdict: any failure fails, any error errs, any inconclusive is inconclusive,
/// and success needs every check.
pub fn overall(checks: &[CheckStatus]) -> Verdict {
    let verdicts: Vec<Verdict> = checks.iter().map(|c| c.phase).collect();
    if verdicts.contains(&Verdict::Failed) {
        Verdict::Failed
    } else if verdicts.contains(&Verdict::Error) {
        Verdict::Error
    } else if verdicts.contains(&Verdict::Inconclusive) {
        Verdict::Inconclusive
    } else if !verdicts.is_empty() && verdicts.iter().all(|v| *v == Verdict::Successful) {
        Verdict::Successful
    } else {
        Verdict::Running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(count: u32, failure: u32, inconclusive: u32, consecutive: Option<u32>) -> Limits {
        Limits {
            count,
            failure_limit: failure,
            inconclusive_limit: inconclusive,
            consecutive_success_limit: consecutive,
            consecutive_error_limit: 4,
        }
    }

    fn m(verdict: Verdict) -> MeasurementResult {
        MeasurementResult {
            verdict,
            value: Some("0.1".into()),
            message: None,
        }
    }

    fn run(l: Limits, seq: &[Verdict]) -> Verdict {
        let mut check = CheckStatus {
            name: "c".into(),
            phase: Verdict::Running,
            ..CheckStatus::default()
        };
        let mut last = Verdict::Running;
        for v in seq {
            last = record(&mut check, &m(*v), &l, Utc::now());
        }
        last
    }

    use Verdict::*;

    #[test]
    fn succeeds_after_count_without_failures() {
        assert_eq!(run(limits(3, 0, 0, None), &[Successful, Successful]), Running);
        assert_eq!(
            run(limits(3, 0, 0, None), &[Successful, Successful, Successful]),
            Successful
        );
    }

    #[test]
    fn fails_when_failures_exceed_the_limit() {
        assert_eq!(run(limits(3, 0, 0, None), &[Failed]), Failed);
        assert_eq!(run(limits(3, 1, 0, None), &[Failed, Successful]), Running);
        assert_eq!(
            run(limits(3, 1, 0, None), &[Failed, Successful, Successful]),
            Successful
        );
        assert_eq!(run(limits(5, 1, 0, None), &[Failed, Failed]), Failed);
    }

    #[test]
    fn inconclusive_never_counts_as_success() {
        assert_eq!(run(limits(3, 0, 0, None), &[Inconclusive]), Inconclusive);
        assert_eq!(
            run(limits(3, 0, 2, None), &[Inconclusive, Inconclusive, Inconclusive]),
            Inconclusive
        );
        assert_eq!(run(limits(2, 0, 5, None), &[Inconclusive, Inconclusive]), Inconclusive);
    }

    #[test]
    fn consecutive_success_limit_succeeds_early_or_fails_at_count() {
        assert_eq!(
            run(limits(10, 5, 0, Some(2)), &[Failed, Successful, Successful]),
            Successful
        );
        assert_eq!(run(limits(3, 5, 0, Some(3)), &[Successful, Failed, Successful]), Failed);
    }

    #[test]
    fn errors_beyond_the_consecutive_limit_err() {
        assert_eq!(run(limits(10, 0, 0, None), &[Error, Error, Error, Error]), Running);
        assert_eq!(run(limits(10, 0, 0, None), &[Error, Error, Error, Error, Error]), Error);
    }

    #[test]
    fn keeps_only_the_newest_measurements() {
        let mut check = CheckStatus {
            name: "c".into(),
            phase: Verdict::Running,
            ..CheckStatus::default()
        };
        let l = limits(20, 20, 0, None);
        for _ in 0..8 {
            record(&mut check, &m(Successful), &l, Utc::now());
        }
        assert_eq!(check.measurements.len(), MEASUREMENTS_KEPT);
        assert_eq!(check.count, 8);
    }

    #[test]
    fn overall_needs_every_check() {
        let c = |p: &str| CheckStatus {
            name: "x".into(),
            phase: Verdict::parse(p),
            ..CheckStatus::default()
        };
        assert_eq!(overall(&[c("Successful"), c("Running")]), Running);
        assert_eq!(overall(&[c("Successful"), c("Successful")]), Successful);
        assert_eq!(overall(&[c("Successful"), c("Inconclusive")]), Inconclusive);
        assert_eq!(overall(&[c("Inconclusive"), c("Failed")]), Failed);
    }
}
