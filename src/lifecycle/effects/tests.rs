//! The intent protocol as a property: over random sequences of reconciles, action results,
//! approvals, target changes and crashes, no mutating effect is ever executed unless the status
//! persisted just before it records that very intent, and nothing acts on a closed Incident.

use super::*;
use crate::api::{Incident, Phase, Playbook, SafetyMode, TargetState, APPROVAL_ANNOTATION};
use crate::lifecycle::analysis::Verdict as M;
use crate::lifecycle::model::Drift;
use crate::lifecycle::{decide, Inputs, PlaybookLookup};
use crate::triage::{classify, workload_signals, Signals};
use chrono::TimeZone;
use proptest::prelude::*;

fn fixture<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/lifecycle/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn failing_signals() -> Signals {
    let rollout = crate::triage::tests::load("rollout-new-replicaset-crashlooping.yaml");
    workload_signals(&rollout.observation())
}

fn healthy(mut s: Signals) -> Signals {
    s.crash_looping_pods = 0;
    s.not_ready_pods = 0;
    s.image_pull_failing_pods = 0;
    s.oom_killed_pods = 0;
    s.available_replicas = s.desired_replicas;
    s.ready_replicas = s.desired_replicas;
    s.unavailable_replicas = 0;
    s.new_replica_set_failing = false;
    s.progress_deadline_exceeded = false;
    s.ready_endpoints = s.total_endpoints;
    s
}

/// What the world answers in one reconcile.
#[derive(Debug, Clone)]
struct Turn {
    healthy: bool,
    /// Someone shipped another release before this reconcile.
    shipped: bool,
    approve: bool,
    claim: u8,
    plan: u8,
    apply: u8,
    revert: u8,
    measure: u8,
    /// Die after this many effects (none when larger than the run).
    crash_after: u8,
    seconds: i64,
}

fn turn() -> impl Strategy<Value = Turn> {
    (
        (prop::bool::weighted(0.2), prop::bool::weighted(0.1), any::<bool>()),
        (0u8..6, 0u8..5, 0u8..6, 0u8..4, 0u8..4),
        (0u8..12, 1i64..400),
    )
        .prop_map(
            |((healthy, shipped, approve), (claim, plan, apply, revert, measure), (crash_after, seconds))| Turn {
                healthy,
                shipped,
                approve,
                claim,
                plan,
                apply,
                revert,
                measure,
                crash_after,
                seconds,
            },
        )
}

fn change(replicas: i32) -> Change {
    Change {
        from_revision: Some(2),
        to_revision: Some(1),
        from_replicas: Some(3),
        to_replicas: Some(replicas),
        ..Change::default()
    }
}

fn error(kind: u8) -> ActionError {
    match kind {
        0 => ActionError::Transient("timeout".into()),
        1 => ActionError::Permanent("forbidden".into()),
        2 => ActionError::Refused("nothing to roll back to".into()),
        _ => ActionError::Drifted(Drift {
            message: "revision 2 → revision 3".into(),
            field_manager: Some("kubectl".into()),
        }),
    }
}

fn outcome(already: bool) -> Outcome {
    Outcome {
        message: if already { "already applied" } else { "applied" }.into(),
        already_applied: already,
        change: change(6),
    }
}

fn measurement(kind: u8) -> Vec<(String, MeasurementResult)> {
    let verdict = match kind {
        0 => M::Successful,
        1 => M::Failed,
        2 => M::Error,
        _ => M::Running,
    };
    vec![(
        "available".into(),
        MeasurementResult {
            verdict,
            value: None,
            message: None,
        },
    )]
}

/// Plays one scenario and checks the protocol at every effect. Returns the mutations executed.
fn play(turns: &[Turn], mode: SafetyMode) -> Result<usize, TestCaseError> {
    let mut incident: Incident = fixture("incident-checkout.yaml");
    let mut playbook: Playbook = fixture("playbook-web.yaml");
    playbook.spec.safety.as_mut().unwrap().mode = mode;
    let lookup = PlaybookLookup::Found {
        playbook: Box::new(playbook),
        problems: vec![],
    };
    let mut release = TargetState {
        revision: Some(2),
        template_hash: Some("bad".into()),
        images: vec!["web:v2".into()],
        replicas: Some(3),
        changed_by: Some("kubectl".into()),
    };
    let mut now = chrono::Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap();
    let mut persisted: Option<crate::api::IncidentStatus> = None;
    let mut mutations = 0;
    for turn in turns {
        now += chrono::Duration::seconds(turn.seconds);
        if turn.shipped {
            let revision = release.revision.unwrap_or(0) + 1;
            release.revision = Some(revision);
            release.template_hash = Some(format!("rev{revision}"));
            release.images = vec![format!("web:v{revision}")];
        }
        let mut signals = if turn.healthy {
            healthy(failing_signals())
        } else {
            failing_signals()
        };
        signals.release = Some(release.clone());
        let verdict = classify(&signals, &[], None, &mut Vec::new());
        incident.status = persisted.clone();
        if turn.approve {
            incident
                .metadata
                .annotations
                .get_or_insert_with(Default::default)
                .insert(APPROVAL_ANNOTATION.into(), "true".into());
        }
        let no_default_approval = |_: &crate::api::StepSpec| false;
        let decision = decide(&Inputs {
            incident: &incident,
            playbook: &lookup,
            signals: Some(&signals),
            verdict: Some(&verdict),
            others: &[],
            max_concurrent_mitigations: 5,
            action_requires_approval: &no_default_approval,
            now,
        });
        let closed_before = persisted.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_closed);
        let facts = RunFacts {
            generation: Some(1),
            max_attempts: 2,
            dry_run: mode == SafetyMode::DryRun,
            target: "Deployment/checkout".into(),
            validation: lookup.spec().and_then(|s| s.validation.clone()),
            review_period: Duration::from_secs(3600),
        };
        let mut run = Run::new(decision, persisted.clone(), facts);
        let mut executed = 0u8;
        let mut claim_refused = false;
        let mut crashed = false;
        while let Some(effect) = run.next_effect() {
            if executed == turn.crash_after {
                crashed = true;
                break;
            }
            executed += 1;
            if effect.mutates() {
                prop_assert!(!closed_before, "{effect:?} on a closed Incident");
                prop_assert!(!claim_refused, "{effect:?} after the claim was refused");
                let on_record = persisted.as_ref().and_then(|p| intent_of(p, effect));
                prop_assert!(on_record.is_some(), "{effect:?} with no persisted intent");
                prop_assert_eq!(
                    on_record,
                    intent_of(run.status(), effect),
                    "{:?} of an intent not on record",
                    effect
                );
                mutations += 1;
            }
            match effect {
                Effect::Persist => {
                    persisted = Some(run.status().clone());
                    run.persisted();
                }
                Effect::GatherEvidence => {}
                Effect::Claim => {
                    let result = match turn.claim {
                        0 => ClaimResult::HeldBy("other".into()),
                        1 => ClaimResult::AtLimit { busy: 5, limit: 5 },
                        _ => ClaimResult::Granted,
                    };
                    claim_refused = result != ClaimResult::Granted;
                    run.claimed(result, now);
                }
                Effect::Plan(step) => {
                    let result = if turn.plan < 4 {
                        Ok(change(6))
                    } else {
                        Err(error(turn.apply))
                    };
                    run.planned(step, result, now);
                }
                Effect::Apply { step, confirm_only } => {
                    let result = match turn.apply {
                        0..=2 => Ok(outcome(turn.apply == 1)),
                        kind => Err(error(kind - 3)),
                    };
                    run.applied(step, confirm_only, result, now);
                }
                Effect::Revert(step) => {
                    let result = match turn.revert {
                        0 | 1 => Ok(outcome(turn.revert == 1)),
                        kind => Err(error(kind - 2)),
                    };
                    run.reverted(step, result, now);
                }
                Effect::Measure => run.measured(&measurement(turn.measure), now),
            }
        }
        if !crashed {
            prop_assert_eq!(
                persisted.as_ref(),
                Some(run.status()),
                "a finished run leaves nothing unwritten"
            );
        }
    }
    Ok(mutations)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 120, ..ProptestConfig::default() })]

    #[test]
    fn no_mutation_without_its_intent_persisted_first(turns in prop::collection::vec(turn(), 1..40)) {
        play(&turns, SafetyMode::Auto)?;
    }

    #[test]
    fn approval_mode_keeps_the_protocol(turns in prop::collection::vec(turn(), 1..40)) {
        play(&turns, SafetyMode::Approval)?;
    }

    #[test]
    fn dry_run_mode_keeps_the_protocol(turns in prop::collection::vec(turn(), 1..40)) {
        play(&turns, SafetyMode::DryRun)?;
    }
}

/// The property is not vacuous: an ordinary run does reach the mutating effects.
#[test]
fn a_plain_failing_rollout_is_mitigated() {
    let plain = Turn {
        healthy: false,
        shipped: false,
        approve: false,
        claim: 5,
        plan: 0,
        apply: 0,
        revert: 0,
        measure: 3,
        crash_after: 200,
        seconds: 1,
    };
    let mutations = play(&vec![plain; 8], SafetyMode::Auto).unwrap();
    assert_eq!(mutations, 1, "one rollback, then validation keeps running");
}
