//! Mitigation actions, one file each, behind the [`MitigationAction`] trait.

mod cutover;
mod deployment;
mod ec2_relaunch;
mod rds_restore;
mod restart;
pub mod revisions;
mod rollback;
mod scale;
mod wait;

use crate::api::{Change, IncidentTarget, SafetySpec, StepSpec, TargetKind};
pub use crate::lifecycle::model::{ActionError, Drift, Outcome};
use async_trait::async_trait;
use kube::Client;

pub use ec2_relaunch::RelaunchEc2FromAmi;
pub use rds_restore::RestoreRds;
pub use restart::RestartDeployment;
pub use rollback::RollbackDeployment;
pub use scale::ScaleDeployment;

/// What an action needs to know about the step it runs in.
pub struct ActionContext<'a> {
    pub client: Client,
    /// AWS clients, built on first use.
    pub aws: &'a crate::aws::Aws,
    pub namespace: &'a str,
    pub incident_name: &'a str,
    pub incident_uid: &'a str,
    pub step_index: usize,
    pub target: &'a IncidentTarget,
    pub step: &'a StepSpec,
    pub safety: &'a SafetySpec,
    /// Send mutations as dry-runs only (server-side for Kubernetes, `DryRun` for EC2), or record
    /// them without sending where the API has no dry-run (RDS).
    pub dry_run: bool,
}

/// The `Change.details` key naming what replaced the target (a new instance ID, a restored DB
/// identifier); triage and validation look at the replacement after such a step.
pub const REPLACEMENT_DETAIL: &str = "replacement";

/// A fact the recorded intent must hold, by its `Change.details` key.
pub(crate) fn intent_detail<'a>(intent: &'a Change, key: &str) -> Result<&'a str, ActionError> {
    intent
        .details
        .get(key)
        .map(String::as_str)
        .ok_or_else(|| ActionError::Permanent(format!("the recorded intent has no {key}")))
}

/// A mitigation action. `plan` reads and decides; `apply` makes the change idempotently.
#[async_trait]
pub trait MitigationAction: Send + Sync {
    /// The name Playbooks use.
    fn name(&self) -> &'static str;
    /// The target kinds this action works on.
    fn target_kinds(&self) -> &'static [TargetKind];
    /// Whether a human must approve by default, whatever the safety mode.
    fn requires_approval_by_default(&self) -> bool {
        false
    }
    /// Checks a step's parameters, for the Playbook's Ready condition.
    fn check_params(&self, step: &StepSpec, safety: &SafetySpec) -> Result<(), String>;
    /// Decides the change to make from the target's current state, without changing anything.
    async fn plan(&self, ctx: &ActionContext<'_>) -> Result<Change, ActionError>;
    /// Makes the intended change unless it is already in place.
    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError>;
    /// Whether `revert` can undo this action.
    fn can_revert(&self) -> bool {
        false
    }
    /// Undoes an applied change.
    async fn revert(&self, _ctx: &ActionContext<'_>, _applied: &Change) -> Result<Outcome, ActionError> {
        Err(ActionError::Refused(format!("{} cannot be reverted", self.name())))
    }
}

/// Every action this operator knows.
pub fn registry() -> Vec<Box<dyn MitigationAction>> {
    vec![
        Box::new(RollbackDeployment),
        Box::new(RestartDeployment),
        Box::new(ScaleDeployment),
        Box::new(RelaunchEc2FromAmi),
        Box::new(RestoreRds),
    ]
}

/// Looks up an action by its Playbook name.
pub fn find(name: &str) -> Option<Box<dyn MitigationAction>> {
    registry().into_iter().find(|a| a.name() == name)
}

/// Names of all known actions, for error messages.
pub fn known_names() -> Vec<&'static str> {
    registry().iter().map(|a| a.name()).collect()
}
