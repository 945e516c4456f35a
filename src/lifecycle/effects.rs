//! The effects a decision asks for, and the order they run in. The driver executes effects and
//! hands their results back here; it never decides what comes next. Only [`Effect::Apply`] and
//! [`Effect::Revert`] change the world, and [`Run::next_effect`] yields one only after the status that
//! records its intent has been persisted: a crash at any point resumes the recorded intent and
//! never makes a change that the Incident has no record of.

use super::revert::revert_finished;
use super::steps::{step_abandoned, step_drifted, step_failed, step_started, step_succeeded};
use super::validating::{record_measurements, AfterMeasure};
use super::{Decision, Next, IMMEDIATELY};
use crate::api::{Change, IncidentStatus, RevertState, StepState, ValidationSpec};
use crate::lifecycle::analysis::MeasurementResult;
use crate::lifecycle::model::{ActionError, Outcome};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::time::Duration;

/// One thing the driver does for the lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Write the status as it stands (an unchanged status is not written).
    Persist,
    /// Read evidence about the target into the status (reads only).
    GatherEvidence,
    /// Take the target and a mitigation slot, exactly, against every other Incident.
    Claim,
    /// Read the target and decide step `i`'s change (reads only).
    Plan(usize),
    /// Make step `i`'s recorded intent true. With `confirm_only`, only find out (by a dry-run)
    /// whether it already is.
    Apply { step: usize, confirm_only: bool },
    /// Undo step `i` as its recorded revert intent says.
    Revert(usize),
    /// Take the due validation measurements.
    Measure,
}

impl Effect {
    /// Whether the effect may change the target.
    pub fn mutates(self) -> bool {
        matches!(
            self,
            Effect::Apply {
                confirm_only: false,
                ..
            } | Effect::Revert(_)
        )
    }
}

/// What the Claim effect found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    Granted,
    /// Another open Incident has acted on (or claimed) the same target.
    HeldBy(String),
    /// This many Incidents are mitigating already, at or over the limit.
    AtLimit {
        busy: usize,
        limit: usize,
    },
}

/// Facts the result handlers need, fixed for one run.
#[derive(Debug, Clone)]
pub struct RunFacts {
    pub generation: Option<i64>,
    pub max_attempts: u32,
    pub dry_run: bool,
    /// The target, as the timeline names it.
    pub target: String,
    pub validation: Option<ValidationSpec>,
    pub review_period: Duration,
}

/// The effects of one decision, fed with their results until none is left.
#[derive(Debug)]
pub struct Run {
    status: IncidentStatus,
    persisted: Option<IncidentStatus>,
    queue: VecDeque<Effect>,
    requeue: Duration,
    facts: RunFacts,
}

/// How long to wait after a claim was refused.
const CLAIM_WAIT: Duration = Duration::from_secs(5);

impl Run {
    /// The effects a decision asks for. `persisted` is the status as last written.
    pub fn new(decision: Decision, persisted: Option<IncidentStatus>, facts: RunFacts) -> Run {
        let Decision { status, next, requeue } = decision;
        let mut queue = VecDeque::new();
        // Dry-runs change nothing: they take no target and no slot.
        let claim = !facts.dry_run;
        match next {
            Next::Nothing => {}
            Next::GatherEvidence => queue.push_back(Effect::GatherEvidence),
            Next::StartStep(step) => {
                if claim {
                    queue.push_back(Effect::Claim);
                }
                queue.push_back(Effect::Plan(step));
            }
            Next::ResumeStep(step) | Next::ConfirmStep(step) => {
                if claim {
                    queue.push_back(Effect::Claim);
                }
                let confirm_only = matches!(next, Next::ConfirmStep(_));
                queue.push_back(Effect::Apply { step, confirm_only });
            }
            Next::RevertStep(step) => queue.push_back(Effect::Revert(step)),
            Next::Measure => queue.push_back(Effect::Measure),
        }
        queue.push_back(Effect::Persist);
        Run {
            status,
            persisted,
            queue,
            requeue,
            facts,
        }
    }

    /// The status as decided so far.
    pub fn status(&self) -> &IncidentStatus {
        &self.status
    }

    /// Lets the driver add timeline entries it learned outside the lifecycle.
    pub fn status_mut(&mut self) -> &mut IncidentStatus {
        &mut self.status
    }

    /// When to come back after the run.
    pub fn requeue(&self) -> Duration {
        self.requeue
    }

    /// The next effect to execute, or None when the run is over. A mutating effect whose
    /// intent is not persisted yet is preceded by a Persist; one whose intent is missing is
    /// dropped.
    pub fn next_effect(&mut self) -> Option<Effect> {
        loop {
            let effect = *self.queue.front()?;
            if !effect.mutates() && !matches!(effect, Effect::Apply { .. }) {
                return self.queue.pop_front();
            }
            if self.intent_persisted(effect) {
                return self.queue.pop_front();
            }
            if self.intent_recorded(effect) {
                return Some(Effect::Persist);
            }
            // Nothing on record to carry out: never act without one.
            self.queue.pop_front();
        }
    }

    /// The driver wrote the status returned by [`Run::status`].
    pub fn persisted(&mut self) {
        if self.queue.front() == Some(&Effect::Persist) {
            self.queue.pop_front();
        }
        self.persisted = Some(self.status.clone());
    }

    fn intent_recorded(&self, effect: Effect) -> bool {
        intent_of(&self.status, effect).is_some()
    }

    fn intent_persisted(&self, effect: Effect) -> bool {
        let Some(persisted) = &self.persisted else {
            return false;
        };
        match (intent_of(persisted, effect), intent_of(&self.status, effect)) {
            (Some(on_record), Some(now)) => on_record == now,
            _ => false,
        }
    }

    /// The result of [`Effect::Claim`].
    pub fn claimed(&mut self, result: ClaimResult, now: DateTime<Utc>) {
        if result == ClaimResult::Granted {
            return;
        }
        self.queue.retain(|e| *e == Effect::Persist);
        self.requeue = CLAIM_WAIT;
        super::claims::refused(&mut self.status, &result, self.facts.generation, now);
    }

    /// The result of [`Effect::Plan`].
    pub fn planned(&mut self, step: usize, result: Result<Change, ActionError>, now: DateTime<Utc>) {
        let facts = &self.facts;
        match result {
            Ok(intent) => {
                step_started(&mut self.status, step, intent, facts.dry_run, &facts.target, now);
                self.push_front(Effect::Apply {
                    step,
                    confirm_only: false,
                });
            }
            Err(ActionError::Drifted(drift)) => {
                step_drifted(&mut self.status, step, &drift, facts.generation, now);
                self.requeue = IMMEDIATELY;
            }
            Err(error) => {
                step_failed(
                    &mut self.status,
                    step,
                    &error,
                    facts.max_attempts,
                    facts.generation,
                    now,
                );
                self.requeue = self.requeue.max(IMMEDIATELY);
            }
        }
    }

    /// The result of [`Effect::Apply`].
    pub fn applied(
        &mut self,
        step: usize,
        confirm_only: bool,
        result: Result<Outcome, ActionError>,
        now: DateTime<Utc>,
    ) {
        let facts = &self.facts;
        match result {
            Ok(outcome) if confirm_only && !outcome.already_applied => {
                step_abandoned(&mut self.status, step, &outcome.message, facts.generation, now);
            }
            Ok(outcome) => {
                step_succeeded(
                    &mut self.status,
                    step,
                    &outcome,
                    facts.validation.as_ref(),
                    facts.generation,
                    now,
                );
            }
            Err(ActionError::Drifted(drift)) => step_drifted(&mut self.status, step, &drift, facts.generation, now),
            Err(error) => step_failed(
                &mut self.status,
                step,
                &error,
                facts.max_attempts,
                facts.generation,
                now,
            ),
        }
        self.requeue = IMMEDIATELY;
    }

    /// The result of [`Effect::Revert`].
    pub fn reverted(&mut self, step: usize, result: Result<Outcome, ActionError>, now: DateTime<Utc>) {
        revert_finished(&mut self.status, step, result.as_ref(), self.facts.generation, now);
        self.requeue = IMMEDIATELY;
    }

    /// The result of [`Effect::Measure`].
    pub fn measured(&mut self, results: &[(String, MeasurementResult)], now: DateTime<Utc>) {
        let after = record_measurements(
            &mut self.status,
            self.facts.validation.as_ref(),
            results,
            self.facts.generation,
            self.facts.review_period,
            now,
        );
        if let AfterMeasure::Failed {
            revert_step: Some(step),
        } = after
        {
            self.push_front(Effect::Revert(step));
        }
        self.requeue = IMMEDIATELY;
    }

    fn push_front(&mut self, effect: Effect) {
        self.queue.push_front(effect);
    }
}

/// The intent a mutating effect carries out, as the status records it.
fn intent_of(status: &IncidentStatus, effect: Effect) -> Option<&Change> {
    match effect {
        Effect::Apply { step, .. } => {
            let s = status.steps.get(step)?;
            (s.state == StepState::Running).then_some(s.intent.as_ref()?)
        }
        Effect::Revert(step) => {
            let revert = status.steps.get(step)?.revert.as_ref()?;
            (revert.state == RevertState::Running).then_some(&revert.intent)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
