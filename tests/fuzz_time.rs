//! Property tests: no duration a Playbook can spell and no clock reading, however extreme,
//! makes the safety policy or validation panic on time arithmetic.

use chrono::{DateTime, TimeZone, Utc};
use dontpanic::api::{AnalysisVerdict, IncidentStatus, SafetySpec, ValidationSpec};
use dontpanic::duration::{parse_duration, parse_duration_at_most, MAX_DURATION, MAX_PLAYBOOK_DURATION};
use dontpanic::lifecycle::analysis::MeasurementResult;
use dontpanic::lifecycle::{record_measurements, start_validation, SafetyPolicy};
use proptest::prelude::*;

/// Strings shaped like durations, many with huge numbers, plus arbitrary text.
fn duration_text() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::collection::vec(
            ("[0-9]{1,20}", prop_oneof![Just("ms"), Just("s"), Just("m"), Just("h")]),
            1..4
        )
        .prop_map(|parts| parts.into_iter().map(|(n, u)| format!("{n}{u}")).collect::<String>()),
        ".{0,40}",
    ]
}

/// Clock readings including the ends of what chrono can represent.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    prop_oneof![
        Just(DateTime::<Utc>::MAX_UTC),
        Just(DateTime::<Utc>::MIN_UTC),
        Just(DateTime::<Utc>::UNIX_EPOCH),
        (-8_000_000_000_000i64..8_000_000_000_000i64)
            .prop_map(|s| Utc.timestamp_opt(s, 0).single().unwrap_or_default()),
    ]
}

fn verdict() -> impl Strategy<Value = AnalysisVerdict> {
    prop_oneof![
        Just(AnalysisVerdict::Successful),
        Just(AnalysisVerdict::Failed),
        Just(AnalysisVerdict::Inconclusive),
        Just(AnalysisVerdict::Running),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn parsed_durations_stay_within_the_bound(text in duration_text()) {
        if let Ok(d) = parse_duration(&text) {
            prop_assert!(d <= MAX_DURATION);
        }
    }

    #[test]
    fn policies_and_validation_never_panic_on_extreme_times(
        cooldown in proptest::option::of(duration_text()),
        interval in proptest::option::of(duration_text()),
        initial_delay in proptest::option::of(duration_text()),
        count in proptest::option::of(any::<u32>()),
        failure_limit in proptest::option::of(any::<u32>()),
        started in instant(),
        measured in instant(),
        verdicts in proptest::collection::vec(verdict(), 1..6),
        review_secs in any::<u64>(),
    ) {
        let safety = SafetySpec { cooldown, ..SafetySpec::default() };
        let policy = SafetyPolicy::from_spec(Some(&safety));
        // Never silently zero: an unreadable cooldown is the longest, not none.
        if let Some(Err(_)) = safety.cooldown.as_deref().map(|c| parse_duration_at_most(c, MAX_PLAYBOOK_DURATION)) {
            prop_assert_eq!(policy.cooldown, MAX_PLAYBOOK_DURATION);
        }
        let spec = ValidationSpec {
            interval,
            initial_delay,
            count,
            failure_limit,
            ..ValidationSpec::default()
        };
        let mut status = IncidentStatus::default();
        start_validation(&mut status, 0, Some(&spec), started);
        let check = status.validation.as_ref().unwrap().checks[0].name.clone();
        for (i, v) in verdicts.into_iter().enumerate() {
            let result = MeasurementResult { verdict: v, value: Some(i.to_string()), message: None };
            record_measurements(
                &mut status,
                Some(&spec),
                &[(check.clone(), result)],
                Some(1),
                std::time::Duration::from_secs(review_secs),
                measured,
            );
        }
    }
}
