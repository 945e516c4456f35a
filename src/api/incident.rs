//! The Incident resource: one production problem, from detection to resolution.

use super::common::{Condition, Severity, TargetKind};
use super::playbook::StepSpec;
use chrono::{DateTime, Utc};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The annotation a human sets to let the step waiting for approval run. Its value must be the
/// token of that step's approval request (`status.steps[].approval.token`); any other value
/// approves nothing.
pub const APPROVAL_ANNOTATION: &str = "dontpanic.dev/approved";

/// Who set [`APPROVAL_ANNOTATION`]: the approving user's name, which the chart's admission
/// policy checks against the user making the request.
pub const APPROVED_BY_ANNOTATION: &str = "dontpanic.dev/approved-by";

/// An Incident describes a production problem on one target and records how it was handled.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "dontpanic.dev",
    version = "v1alpha1",
    kind = "Incident",
    namespaced,
    shortname = "inc",
    status = "IncidentStatus",
    printcolumn = r#"{"name":"Severity","type":"string","jsonPath":".status.severity"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Target","type":"string","jsonPath":".status.targetRef"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Source","type":"string","jsonPath":".spec.source","priority":1}"#,
    printcolumn = r#"{"name":"Responder","type":"string","jsonPath":".status.responder","priority":1}"#,
    printcolumn = r#"{"name":"Last Step","type":"string","jsonPath":".status.lastStep","priority":1}"#
)]
#[serde(rename_all = "camelCase")]
pub struct IncidentSpec {
    /// One line saying what is wrong, as a person would report it, e.g. "checkout returns 500".
    #[x_kube(validation = Rule::new("size(self) > 0").message("summary must not be empty"))]
    #[schemars(length(max = 1024))]
    pub summary: String,
    /// The object that is failing.
    pub target: IncidentTarget,
    /// A human override of the triaged severity. When set it always wins over triage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = super::common::field_description_wins)]
    pub severity: Option<Severity>,
    /// The Playbook to follow. When absent, the Playbook in the namespace whose selector matches
    /// the target is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook_ref: Option<PlaybookRef>,
    /// Who opened the Incident.
    #[serde(default)]
    pub source: IncidentSource,
    /// When the failure was first observable, as reported by the source that opened the
    /// Incident. Makes detection latency visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_at: Option<DateTime<Utc>>,
    /// The Alertmanager alert that opened this Incident. Its severity is a floor for triage:
    /// triage may find it worse, never milder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertRef>,
}

/// The label carrying the fingerprint of the alert that opened an Incident (letters and digits
/// only, bounded): the webhook finds an alert's open Incident by it.
pub const ALERT_FINGERPRINT_LABEL: &str = "dontpanic.dev/alert-fingerprint";
/// Set by the webhook when the alert resolves: the alert's end time (RFC 3339).
pub const ALERT_RESOLVED_ANNOTATION: &str = "dontpanic.dev/alert-resolved-at";
/// Set by rollout detection when the target fails again while this Incident is open: JSON
/// `{"key", "time", "message"}`; the Incident controller records each new key once.
pub const DETECTED_AGAIN_ANNOTATION: &str = "dontpanic.dev/detected-again";

/// An Alertmanager alert, as recorded on the Incident it opened.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertRef {
    /// The `alertname` label.
    pub name: String,
    /// Alertmanager's fingerprint of the alert; the same alert sent again adds nothing.
    pub fingerprint: String,
    /// The severity mapped from the alert's labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Severity>,
    /// When the alert started firing, as Alertmanager reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// The alert's labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

/// The failing object. Kubernetes targets live in the Incident's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.kind == 'EC2Instance' || !has(self.tags) || size(self.tags) == 0").message("target.tags selects EC2 instances only; other kinds are named by target.name"))]
pub struct IncidentTarget {
    /// The kind of the target.
    pub kind: TargetKind,
    /// The target's name: a Deployment or StatefulSet name, an EC2 instance ID, or an RDS DB
    /// instance identifier.
    #[x_kube(validation = Rule::new("size(self) > 0").message("target.name must not be empty"))]
    #[schemars(length(max = 253))]
    pub name: String,
    /// For EC2Instance targets: select the instance by tags instead of by ID. The tags must
    /// match exactly one instance.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
}

impl IncidentTarget {
    /// `Kind/name`, as shown to people.
    pub fn display(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }
}

/// A reference to a Playbook in the Incident's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct PlaybookRef {
    /// The Playbook's name.
    pub name: String,
}

/// Who opened an Incident.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IncidentSource {
    /// A person applied it.
    #[default]
    Manual,
    /// The operator's rollout health detection opened it.
    HealthCheck,
    /// An Alertmanager alert opened it.
    Alertmanager,
}

/// Where an Incident is in its lifecycle.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum Phase {
    Detected,
    Triaging,
    Mitigating,
    AwaitingApproval,
    Validating,
    Resolved,
    Escalated,
    Failed,
}

impl Phase {
    /// Closed Incidents are left alone by the lifecycle.
    pub fn is_closed(self) -> bool {
        matches!(self, Phase::Resolved | Phase::Escalated | Phase::Failed)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

/// What the operator observed and did.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentStatus {
    /// The `.metadata.generation` last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The lifecycle phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The severity in force: the human override if set, otherwise the triaged one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = super::common::field_description_wins)]
    pub severity: Option<Severity>,
    /// Why the severity is what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_reason: Option<String>,
    /// `Kind/name` of the target, for printing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<String>,
    /// The Playbook in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playbook: Option<String>,
    /// The on-call responder named by the Playbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder: Option<String>,
    /// How bad it is, with the numbers behind it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impact: Option<Impact>,
    /// What was found while triaging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// The mitigation steps planned from the Playbook, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,
    /// `name (state)` of the most recent step, for printing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_step: Option<String>,
    /// Recovery validation after mitigation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationStatus>,
    /// Another open Incident on the same target that is handling it; this one does not act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linked_to: Option<String>,
    /// The release the Incident was triaged on, and that its steps are planned from. A change
    /// to it (someone shipped, rolled back or scaled) is recorded and the plan is made again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_state: Option<TargetState>,
    /// Why every further step waits for a human's approval, whatever the safety mode: someone
    /// else changed the target between a step's plan and its action, so someone is acting on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_required_because: Option<String>,
    /// The newest timeline entries, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelineEntry>,
    /// How many older timeline entries were dropped from status (see the archive ConfigMap).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub timeline_dropped: u32,
    /// Entries dropped from `timeline` since this status was read, not yet archived. Never
    /// written to the API server: the status writer archives them first.
    #[serde(skip)]
    #[schemars(skip)]
    pub rolled_off: Vec<TimelineEntry>,
    /// Key times of the lifecycle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<PhaseTimes>,
    /// Post-incident review bookkeeping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postmortem: Option<Postmortem>,
    /// Triaged, Mitigated and Validated, per the Kubernetes API conventions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Notifications not yet delivered, oldest first and bounded: written together with the
    /// change that causes them, so that a restarted operator delivers them late, never not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub notifications: Vec<super::notification::PendingNotification>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The numbers behind a severity.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Impact {
    /// One line, e.g. "3/3 replicas unavailable, 0/3 endpoints ready".
    pub summary: String,
    /// Replicas the target asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_replicas: Option<i32>,
    /// Replicas whose pods are ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Replicas available to serve (ready for minReadySeconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// Replicas not available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_replicas: Option<i32>,
    /// Ready endpoints behind the Services that select the target's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_endpoints: Option<i32>,
    /// All endpoints behind those Services, ready or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_endpoints: Option<i32>,
    /// Pods of the target that are failing (crash-looping, not ready, unschedulable, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_pods: Option<i32>,
    /// Nodes hosting the target's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosting_nodes: Option<i32>,
    /// Of those nodes, the ones that are not Ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_ready_nodes: Option<i32>,
    /// Signals named by the Playbook that are off, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals_off: Vec<String>,
}

/// Evidence gathered at triage time, capped so status never grows without bound.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    /// When this evidence was gathered.
    pub gathered_at: DateTime<Utc>,
    /// The earliest failure the operator could observe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error_time: Option<DateTime<Utc>>,
    /// What the first error time was read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error_source: Option<String>,
    /// The failing pods of the target, with the nodes they run on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_pods: Vec<PodEvidence>,
    /// Recent Warning events about the target and its pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warning_events: Vec<EventEvidence>,
    /// The last log lines of the failing containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogEvidence>,
    /// The target's revisions, newest first, with images and builds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollout_history: Vec<RevisionEvidence>,
    /// Parts that could not be gathered, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodEvidence {
    /// The pod's name.
    pub name: String,
    /// The node (server) the pod runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The pod's phase: Pending, Running, Failed, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// The most telling reason: CrashLoopBackOff, ImagePullBackOff, OOMKilled, NotReady, ...
    pub reason: String,
    /// Container restarts, summed over the pod's containers.
    #[serde(default)]
    pub restarts: i32,
    /// The Deployment revision the pod belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// The pod's containers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub containers: Vec<ContainerEvidence>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerEvidence {
    /// The container's name.
    pub name: String,
    /// The image the container runs.
    pub image: String,
    /// waiting, running or terminated.
    pub state: String,
    /// Why the container is waiting or terminated, e.g. CrashLoopBackOff or OOMKilled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How often the container restarted.
    #[serde(default)]
    pub restarts: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventEvidence {
    /// When the event was last seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<DateTime<Utc>>,
    /// `Kind/name` of the object the event is about.
    pub object: String,
    /// The event's reason, e.g. BackOff or FailedScheduling.
    pub reason: String,
    /// The event's message.
    pub message: String,
    /// How often the event occurred.
    #[serde(default)]
    pub count: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEvidence {
    /// The pod the lines come from.
    pub pod: String,
    /// The container the lines come from.
    pub container: String,
    /// The last lines, each cut to a bounded length.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    /// Why no lines are present, when they are not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionEvidence {
    /// The revision number (deployment.kubernetes.io/revision).
    pub revision: i64,
    /// The images of the revision's pod template.
    pub images: Vec<String>,
    /// The build number from the pod template's dontpanic.dev/build annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The kubernetes.io/change-cause annotation, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_cause: Option<String>,
    /// Pods of this revision.
    pub replicas: i32,
    /// Ready pods of this revision.
    pub ready_replicas: i32,
    /// When the revision was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

/// The state of one mitigation step.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum StepState {
    Pending,
    AwaitingApproval,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// One mitigation step: what was intended before it ran, and what happened.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// The step's name, unique within the Incident.
    pub name: String,
    /// The action the step runs, e.g. RollbackDeployment.
    pub action: String,
    /// Pending, AwaitingApproval, Running, Succeeded, Failed or Skipped.
    pub state: StepState,
    /// How often the step was attempted.
    #[serde(default)]
    pub attempts: u32,
    /// When the latest attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When the step finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// What the action reported, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// True when the step ran as a server-side dry-run and changed nothing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// The change this step intends, written before the action runs so that a restart can
    /// tell whether it was already applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Change>,
    /// When the step may be retried after a transient failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<DateTime<Utc>>,
    /// True once the step's change was undone because validation failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reverted: bool,
    /// The step as the Playbook defined it when mitigation began; later Playbook edits do not
    /// change a mitigation under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<StepSpec>,
    /// Undoing the step's change after its validation failed: intent before, result after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert: Option<RevertStatus>,
    /// The request for a human's approval, when the step had to wait for one, and its answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalRequest>,
}

/// Where undoing a step stands.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum RevertState {
    /// The revert intent is recorded; the revert runs (again, idempotently) on the next pass.
    Running,
    /// A transient failure; retried after `retryAfter`.
    Pending,
    Succeeded,
    /// Given up: the target stays as the step left it, and a human is paged.
    Failed,
}

/// The undoing of one step, under the same intent protocol as the step itself.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevertStatus {
    pub state: RevertState,
    /// How often the revert was attempted.
    #[serde(default)]
    pub attempts: u32,
    /// The change the revert makes (the step's change, reversed), recorded before it runs.
    pub intent: Change,
    /// When the latest attempt started.
    pub started_at: DateTime<Utc>,
    /// When the revert ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// When a failed attempt may be retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<DateTime<Utc>>,
    /// What the revert reported, or why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The release of a workload at one moment: what a plan is made from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetState {
    /// The revision (deployment.kubernetes.io/revision) of the pod template in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<i64>,
    /// The pod-template-hash of the ReplicaSet running that template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_hash: Option<String>,
    /// The template's images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// The desired replica count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The field manager that last wrote the spec (who shipped or changed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_by: Option<String>,
}

/// A step's request for a human's approval. Only an approval annotation carrying this request's
/// token approves the step, so an approval cannot be given before the step waits, nor carry
/// over to another step.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    /// The value the dontpanic.dev/approved annotation must carry to approve this step. Derived
    /// from the Incident's UID, the step and the moment it started waiting, so nobody can know
    /// it before then.
    pub token: String,
    /// When the step started waiting for approval.
    pub requested_at: DateTime<Utc>,
    /// Who approved the step (the dontpanic.dev/approved-by annotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// When the approval was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at: Option<DateTime<Utc>>,
    /// The newest approval annotation value that did not approve this step (shortened); the
    /// timeline says why once per value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
}

impl StepStatus {
    /// A step planned but not started.
    pub fn pending(name: String, action: String, spec: Option<StepSpec>) -> StepStatus {
        StepStatus {
            name,
            action,
            state: StepState::Pending,
            attempts: 0,
            started_at: None,
            finished_at: None,
            message: None,
            dry_run: false,
            intent: None,
            retry_after: None,
            reverted: false,
            spec,
            revert: None,
            approval: None,
        }
    }
}

/// A change made (or intended) by an action, in terms a post-mortem needs.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// The revision in place before the change (the one rolled back from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_revision: Option<i64>,
    /// The revision the change restores (the one rolled back to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<i64>,
    /// The images before the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_images: Vec<String>,
    /// The images after the change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to_images: Vec<String>,
    /// The build number before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_build: Option<String>,
    /// The build number after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_build: Option<String>,
    /// The pod-template-hash of the ReplicaSet running the Deployment's template when the change
    /// was planned; the change is made only while that is still so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_template_hash: Option<String>,
    /// The pod-template-hash of the ReplicaSet a rollback restores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_template_hash: Option<String>,
    /// The replica count before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_replicas: Option<i32>,
    /// The replica count after the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_replicas: Option<i32>,
    /// The value of the restartedAt annotation a restart sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarted_at: Option<String>,
    /// Action-specific facts (instance IDs, AMI, DB identifiers, endpoints, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, String>,
}

/// The annotation rollout detection puts on an open Incident when its target fails again.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DetectedAgain {
    /// One key per distinct failure (the failing revision); a new key is a new entry.
    pub key: String,
    pub time: DateTime<Utc>,
    pub message: String,
}

/// What a timeline entry records. A fixed set, so tools can rely on it; an entry of a kind this
/// version does not know (written by a newer one) reads as `Other`.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub enum EntryType {
    /// The alert that opened the Incident resolved.
    AlertResolved,
    /// An approval annotation that does not approve the waiting step.
    ApprovalIgnored,
    /// An approval request was withdrawn: the target changed.
    ApprovalWithdrawn,
    /// A human approved the waiting step.
    Approved,
    /// A step waits for a human's approval.
    AwaitingApproval,
    /// A validation check reached its verdict.
    CheckVerdict,
    /// The Incident was opened.
    Detected,
    /// Detection saw the target fail again.
    DetectedAgain,
    /// Evidence about the target was gathered.
    Evidence,
    /// Another Incident holds the target; this one follows it.
    Linked,
    /// A notification could not be delivered.
    NotificationFailed,
    /// The lifecycle moved to another phase.
    PhaseChanged,
    /// The target was healthy again before anything was done.
    Recovered,
    /// A revert failed (retried) or gave up.
    RevertFailed,
    /// A step's revert intent was recorded before the revert.
    RevertStarted,
    /// A Playbook rule could not be evaluated.
    RuleError,
    /// Validation waits for a rollout to settle.
    Settling,
    /// Re-triage changed the severity.
    SeverityChanged,
    /// A step's action failed or was refused.
    StepFailed,
    /// A step's change was undone.
    StepReverted,
    /// A step's intent was recorded before its action.
    StepStarted,
    /// A step's action made its change.
    StepSucceeded,
    /// Someone else changed the target since it was triaged or planned.
    TargetChanged,
    /// Severity and impact were first decided.
    Triaged,
    /// The Incident this one followed is gone.
    Unlinked,
    /// Validation passed: recovery confirmed.
    Validated,
    /// Validation failed.
    ValidationFailed,
    /// A step waits for a cooldown or a mitigation slot.
    Waiting,
    #[serde(other)]
    Other,
}

impl EntryType {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryType::AlertResolved => "AlertResolved",
            EntryType::ApprovalIgnored => "ApprovalIgnored",
            EntryType::ApprovalWithdrawn => "ApprovalWithdrawn",
            EntryType::Approved => "Approved",
            EntryType::AwaitingApproval => "AwaitingApproval",
            EntryType::CheckVerdict => "CheckVerdict",
            EntryType::Detected => "Detected",
            EntryType::DetectedAgain => "DetectedAgain",
            EntryType::Evidence => "Evidence",
            EntryType::Linked => "Linked",
            EntryType::NotificationFailed => "NotificationFailed",
            EntryType::PhaseChanged => "PhaseChanged",
            EntryType::Recovered => "Recovered",
            EntryType::RevertFailed => "RevertFailed",
            EntryType::RevertStarted => "RevertStarted",
            EntryType::RuleError => "RuleError",
            EntryType::Settling => "Settling",
            EntryType::SeverityChanged => "SeverityChanged",
            EntryType::StepFailed => "StepFailed",
            EntryType::StepReverted => "StepReverted",
            EntryType::StepStarted => "StepStarted",
            EntryType::StepSucceeded => "StepSucceeded",
            EntryType::TargetChanged => "TargetChanged",
            EntryType::Triaged => "Triaged",
            EntryType::Unlinked => "Unlinked",
            EntryType::Validated => "Validated",
            EntryType::ValidationFailed => "ValidationFailed",
            EntryType::Waiting => "Waiting",
            EntryType::Other => "Other",
        }
    }
}

impl std::fmt::Display for EntryType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Entries compare with their names, as tests and tools read them.
impl PartialEq<&str> for EntryType {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// One line of the written record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
pub struct TimelineEntry {
    /// When it happened, in UTC.
    pub time: DateTime<Utc>,
    /// What kind of entry it is.
    #[serde(rename = "type")]
    pub type_: EntryType,
    /// What happened, in a sentence.
    pub message: String,
}

/// Key times, for time-to-detect/mitigate/resolve.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTimes {
    /// When the Incident was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<DateTime<Utc>>,
    /// When a severity was first assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triaged_at: Option<DateTime<Utc>>,
    /// When the first mitigation step started changing something.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_mitigation_at: Option<DateTime<Utc>>,
    /// When a mitigation step last succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mitigated_at: Option<DateTime<Utc>>,
    /// When the Incident closed: Resolved, Escalated or Failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// Post-incident review bookkeeping.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Postmortem {
    /// When the review is due: resolution time plus the review period.
    pub due_by: DateTime<Utc>,
}

/// The verdict of one measurement, of one check, or of a whole validation.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AnalysisVerdict {
    Successful,
    Failed,
    Inconclusive,
    Error,
    #[default]
    Running,
}

/// Progress of recovery validation.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationStatus {
    /// Which mitigation step this validation follows (index into `steps`).
    pub after_step: u32,
    /// When validation started.
    pub started_at: DateTime<Utc>,
    /// When the next measurement is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_measurement_at: Option<DateTime<Utc>>,
    /// The overall verdict so far.
    pub verdict: AnalysisVerdict,
    /// Each check's progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckStatus>,
}

/// Counters and the newest measurements of one check.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckStatus {
    /// The check's name from the Playbook.
    pub name: String,
    /// The check's verdict so far.
    pub phase: AnalysisVerdict,
    /// Measurements taken.
    #[serde(default)]
    pub count: u32,
    /// Successful measurements.
    #[serde(default)]
    pub successful: u32,
    /// Failed measurements.
    #[serde(default)]
    pub failed: u32,
    /// Inconclusive measurements.
    #[serde(default)]
    pub inconclusive: u32,
    /// Measurements that could not be taken.
    #[serde(default)]
    pub errors: u32,
    /// Successful measurements in a row, up to now.
    #[serde(default)]
    pub consecutive_successes: u32,
    /// Errors in a row, up to now.
    #[serde(default)]
    pub consecutive_errors: u32,
    /// The newest few measurements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<Measurement>,
}

/// One measurement: a value, a verdict and a time.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    /// When it was measured.
    pub time: DateTime<Utc>,
    /// The measurement's verdict.
    pub verdict: AnalysisVerdict,
    /// The measured value, as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// What the provider said about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
