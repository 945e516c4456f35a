//! Validation transitions: start after a step, record measurements, resolve or move on.

use super::set_phase;
use super::steps::advance_or_escalate;
use crate::api::{set_condition, CheckStatus, IncidentStatus, Phase, Postmortem, ValidationSpec, ValidationStatus};
use crate::duration::{after, parse_duration_at_most, MAX_PLAYBOOK_DURATION};
use crate::lifecycle::analysis::{self, Limits, MeasurementResult, Verdict};
use crate::timeline::record;
use chrono::{DateTime, Utc};

pub const DEFAULT_INTERVAL_SECS: u64 = 5;
/// The name of the check a target gets when its Playbook names none: for every kind it asks
/// whether the target is available.
pub const DEFAULT_CHECK: &str = "available";
/// "Give them time (at least a couple of days)."
pub const DEFAULT_REVIEW_PERIOD_HOURS: i64 = 48;
/// The review period when none is configured.
pub const DEFAULT_REVIEW_PERIOD: std::time::Duration =
    std::time::Duration::from_secs(DEFAULT_REVIEW_PERIOD_HOURS as u64 * 3600);

fn checks_of(spec: Option<&ValidationSpec>) -> Vec<String> {
    match spec.map(|s| &s.checks) {
        Some(checks) if !checks.is_empty() => checks.iter().map(|c| c.name.clone()).collect(),
        _ => vec![DEFAULT_CHECK.to_string()],
    }
}

/// Starts validating after a step.
pub fn start_validation(st: &mut IncidentStatus, step_index: usize, spec: Option<&ValidationSpec>, now: DateTime<Utc>) {
    // An unreadable delay makes the Playbook not Ready; measuring at once is then the safe side.
    let delay = spec
        .and_then(|s| s.initial_delay.as_deref())
        .and_then(|d| parse_duration_at_most(d, MAX_PLAYBOOK_DURATION).ok())
        .unwrap_or_default();
    st.validation = Some(ValidationStatus {
        after_step: step_index as u32,
        started_at: now,
        next_measurement_at: Some(after(now, delay)),
        verdict: Verdict::Running,
        checks: checks_of(spec)
            .into_iter()
            .map(|name| CheckStatus {
                name,
                phase: Verdict::Running,
                ..CheckStatus::default()
            })
            .collect(),
    });
}

/// What the driver must do after measurements were recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum AfterMeasure {
    KeepMeasuring,
    Resolved,
    /// Validation failed; revert this step first when it asks for it.
    Failed {
        revert_step: Option<usize>,
    },
}

/// Records one round of measurements (one per check, by check name) and decides what follows.
/// On resolution the post-incident review is due `review_period` later.
pub fn record_measurements(
    st: &mut IncidentStatus,
    spec: Option<&ValidationSpec>,
    results: &[(String, MeasurementResult)],
    generation: Option<i64>,
    review_period: std::time::Duration,
    now: DateTime<Utc>,
) -> AfterMeasure {
    let default_spec = ValidationSpec::default();
    let spec_or_default = spec.unwrap_or(&default_spec);
    let limits = Limits::from_spec(spec_or_default);
    let interval = spec_or_default
        .interval
        .as_deref()
        .and_then(|i| parse_duration_at_most(i, MAX_PLAYBOOK_DURATION).ok())
        .unwrap_or(std::time::Duration::from_secs(DEFAULT_INTERVAL_SECS));
    let Some(mut validation) = st.validation.take() else {
        return AfterMeasure::KeepMeasuring;
    };
    let mut finished_now = Vec::new();
    for check in validation.checks.iter_mut() {
        let Some((_, result)) = results.iter().find(|(name, _)| *name == check.name) else {
            continue;
        };
        let before = check.phase;
        let verdict = analysis::record(check, result, &limits, now);
        if !before.is_final() && verdict.is_final() {
            finished_now.push((
                check.name.clone(),
                verdict,
                result.value.clone(),
                result.message.clone(),
            ));
        }
    }
    for (name, verdict, value, message) in finished_now {
        let detail = [value.map(|v| format!("last value {v}")), message]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        record(
            st,
            now,
            crate::api::EntryType::CheckVerdict,
            format!(
                "check {name}: {}{}",
                verdict.as_str(),
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({detail})")
                }
            ),
        );
    }
    let overall = analysis::overall(&validation.checks);
    validation.verdict = overall;
    validation.next_measurement_at = (!overall.is_final()).then_some(after(now, interval));
    let step_index = validation.after_step as usize;
    let summary: Vec<String> = validation
        .checks
        .iter()
        .map(|c| format!("{} {}", c.name, c.phase.as_str()))
        .collect();
    st.validation = Some(validation);
    match overall {
        Verdict::Running => AfterMeasure::KeepMeasuring,
        Verdict::Successful => {
            record(
                st,
                now,
                crate::api::EntryType::Validated,
                format!("recovery validated: {}", summary.join(", ")),
            );
            set_condition(
                &mut st.conditions,
                "Validated",
                true,
                "ChecksPassed",
                &summary.join(", "),
                generation,
                now,
            );
            set_phase(st, Phase::Resolved, now, "recovery validated");
            st.postmortem = Some(Postmortem {
                due_by: after(now, review_period),
            });
            AfterMeasure::Resolved
        }
        verdict => {
            let reason = format!("validation {}: {}", verdict.as_str(), summary.join(", "));
            record(st, now, crate::api::EntryType::ValidationFailed, reason.clone());
            set_condition(
                &mut st.conditions,
                "Validated",
                false,
                verdict.as_str(),
                &summary.join(", "),
                generation,
                now,
            );
            let revert = st
                .steps
                .get(step_index)
                .filter(|s| !s.reverted && !s.dry_run)
                .and_then(|s| s.spec.as_ref())
                .is_some_and(|s| s.revert_on_failure == Some(true));
            if revert {
                // The step is undone first; what comes after is decided when the revert ends.
                super::revert::revert_started(st, step_index, &reason, now);
            } else {
                advance_or_escalate(st, &reason, generation, now);
            }
            AfterMeasure::Failed {
                revert_step: revert.then_some(step_index),
            }
        }
    }
}
