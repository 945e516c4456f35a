//! The Playbook resource: what to do, and how carefully, when a target is in trouble.

use super::common::{Condition, Severity, TargetKind};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Playbook maps severities to mitigation steps, says how recovery is validated, and sets
/// the safety policy for every mutating action.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
#[kube(
    group = "dontpanic.dev",
    version = "v1alpha1",
    kind = "Playbook",
    namespaced,
    shortname = "pb",
    status = "PlaybookStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookSpec {
    /// Which targets this Playbook applies to when an Incident names no Playbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<TargetSelector>,
    /// Automatic detection of failures on the selected targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detection: Option<Detection>,
    /// Rules that override the default triage, and extra Prometheus signals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triage: Option<TriageSpec>,
    /// Ordered mitigation steps per severity. The first entry listing the Incident's severity
    /// is used.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mitigations: Vec<MitigationPlan>,
    /// How recovery is validated after each mitigation step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationSpec>,
    /// The safety policy every mutating step obeys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety: Option<SafetySpec>,
    /// The on-call responder for Incidents handled by this Playbook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder: Option<String>,
    /// How Alertmanager alerts map to targets and severities for targets this Playbook selects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alerts: Option<AlertsSpec>,
    /// Who hears about Incidents handled by this Playbook, by severity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifySpec>,
}

/// Maps Alertmanager alert labels to a target and a severity.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlertsSpec {
    /// Which alert labels name the target. Defaults: `namespace`, `deployment`, `statefulset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_labels: Option<TargetLabels>,
    /// Which alert label carries the severity; `severity` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_label: Option<String>,
    /// Severity label values mapped to severities, on top of the defaults
    /// (critical/page → Critical, error/major → Major, warning → Medium, info → Minor).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub severity_map: BTreeMap<String, Severity>,
}

/// Names of the alert labels that identify a target.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetLabels {
    /// The label holding the namespace; `namespace` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The label holding a Deployment name; `deployment` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment: Option<String>,
    /// The label holding a StatefulSet name; `statefulset` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statefulset: Option<String>,
}

/// Notification receivers and how severities route to them.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifySpec {
    /// Where notifications can go.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<ReceiverSpec>,
    /// Severity → receivers. When empty the runbook defaults apply: Critical and Major go to
    /// every receiver at once, Medium to the non-paging receivers at once, Minor to the digest
    /// of the non-paging receivers. Minor never pages, whatever the routes say.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteSpec>,
    /// How often the digest of Minor notifications is sent, e.g. "10m"; 10m when absent, at most
    /// 720h (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(r"self.matches('^([0-9]{1,5}(ms|s|m|h))+$') && duration(self) <= duration('720h')").message("digestInterval must be a duration such as 10m, at most 720h (30 days)"))]
    #[schemars(length(max = 32))]
    pub digest_interval: Option<String>,
}

/// One notification receiver. URLs and keys come only from Secrets in the Playbook's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiverSpec {
    /// The name routes use for this receiver.
    pub name: String,
    /// webhook (generic JSON), slack (incoming webhook) or pagerduty (Events API v2).
    #[serde(rename = "type")]
    pub type_: ReceiverType,
    /// The URL to post to. Required for webhook and slack; for pagerduty it overrides the
    /// Events API endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<SecretKeyRef>,
    /// pagerduty: the integration (routing) key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_key: Option<SecretKeyRef>,
}

/// The kinds of receivers.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReceiverType {
    #[default]
    Webhook,
    Slack,
    Pagerduty,
}

/// A key of a Secret in the Playbook's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
pub struct SecretKeyRef {
    /// The Secret's name.
    pub name: String,
    /// The key within the Secret.
    pub key: String,
}

/// Routes the listed severities to the listed receivers.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The severities this route handles.
    pub severities: Vec<Severity>,
    /// Receiver names.
    pub receivers: Vec<String>,
    /// Collect into the digest instead of sending at once.
    #[serde(default)]
    pub digest: bool,
}

/// Selects targets by kind and labels.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TargetSelector {
    /// Target kinds this Playbook handles. Empty means any kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kinds: Vec<TargetKind>,
    /// Labels the target must carry (Kubernetes targets) or tags (EC2).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

impl TargetSelector {
    /// Whether a target of this kind carrying these labels is selected.
    pub fn selects(&self, kind: TargetKind, labels: &BTreeMap<String, String>) -> bool {
        (self.kinds.is_empty() || self.kinds.contains(&kind))
            && self.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
}

/// The Playbook that handles a target: the first, by name, whose selector selects it.
pub fn first_selecting<'a>(
    playbooks: impl IntoIterator<Item = &'a Playbook>,
    kind: TargetKind,
    labels: &BTreeMap<String, String>,
) -> Option<&'a Playbook> {
    playbooks
        .into_iter()
        .filter(|pb| pb.spec.selector.as_ref().is_some_and(|s| s.selects(kind, labels)))
        .min_by_key(|pb| pb.metadata.name.clone())
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Detection {
    /// Open an Incident when the newest ReplicaSet of a selected Deployment fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_health: Option<RolloutHealth>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RolloutHealth {
    /// How long new pods may stay not Ready before the rollout counts as failed, e.g. "20s"; at
    /// most 720h (30 days).
    #[x_kube(validation = Rule::new(r"self.matches('^([0-9]{1,5}(ms|s|m|h))+$') && duration(self) <= duration('720h')").message("unavailableFor must be a duration such as 30s, 5m or 1h30m, at most 720h (30 days)"))]
    #[schemars(length(max = 32))]
    pub unavailable_for: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriageSpec {
    /// Evaluated in order before the default rules; the first rule whose `when` holds decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<TriageRule>,
    /// Prometheus queries read during triage. Their values are available to rules by name,
    /// and a signal whose `offWhen` holds makes the Incident at least Minor.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalSpec>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriageRule {
    /// The severity this rule assigns when its `when` holds.
    pub severity: Severity,
    /// An expression over the triage signals, e.g. `unavailableRatio >= 0.3 || error_rate > 0.1`.
    pub when: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalSpec {
    /// The name rules use for this signal's value.
    pub name: String,
    /// An instant PromQL query returning one number.
    pub query: String,
    /// An expression over `result` saying when the signal is off, e.g. `result > 0.05`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_when: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MitigationPlan {
    /// The severities this plan handles.
    pub severities: Vec<Severity>,
    /// Steps run in order; the next one runs only when validation of the previous one fails.
    pub steps: Vec<StepSpec>,
}

/// One mitigation step. Which parameters apply depends on `action`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepSpec {
    /// A name for the step in the timeline; defaults to the action in kebab case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RollbackDeployment, RestartDeployment, ScaleDeployment, RelaunchEC2FromAMI or RestoreRDS.
    #[x_kube(validation = Rule::new("size(self) > 0").message("action must not be empty"))]
    #[schemars(length(max = 64))]
    pub action: String,
    /// RollbackDeployment: the revision to roll back to; the previous one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_revision: Option<i64>,
    /// ScaleDeployment: the replica count, bounded by the safety policy's min/max.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Undo this step's change when the validation after it fails (ScaleDeployment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert_on_failure: Option<bool>,
    /// Wait for a human's approval before this step, whatever the safety mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires_approval: Option<bool>,
    /// RelaunchEC2FromAMI: which AMI to launch from and what to do with the old instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2: Option<Ec2RelaunchParams>,
    /// RestoreRDS: what to restore from and where to write the new endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds: Option<RdsRestoreParams>,
}

/// Parameters of `RelaunchEC2FromAMI`. Set at most one of `imageId`, `imageNameFilter`/`imageTags`
/// and `createImageFirst`; with none, the failing instance's own AMI is used.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Ec2RelaunchParams {
    /// Launch from this AMI, e.g. `ami-0123456789abcdef0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub image_id: Option<String>,
    /// Launch from the newest available AMI whose name matches this pattern (`*` and `?`
    /// wildcards, as the EC2 `name` filter takes them), e.g. `shop-web-*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 128))]
    pub image_name_filter: Option<String>,
    /// Launch from the newest available AMI carrying all these tags. Combines with
    /// `imageNameFilter`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub image_tags: BTreeMap<String, String>,
    /// Create an AMI from the failing instance first (without rebooting it) and launch from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_image_first: Option<bool>,
    /// What happens to the failing instance once the new one runs: `keep` (the default),
    /// `stop` or `terminate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_instance: Option<OldInstancePolicy>,
}

/// What `RelaunchEC2FromAMI` does with the instance it replaced.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OldInstancePolicy {
    /// Leave it as it is, for investigation.
    #[default]
    Keep,
    /// Stop it (its volumes stay).
    Stop,
    /// Terminate it.
    Terminate,
}

impl OldInstancePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            OldInstancePolicy::Keep => "keep",
            OldInstancePolicy::Stop => "stop",
            OldInstancePolicy::Terminate => "terminate",
        }
    }
}

/// Parameters of `RestoreRDS`. Restore from a snapshot (`snapshotId`, or the newest one with
/// `useLatestSnapshot`, the default) or to a point in time (`restoreTime`, or
/// `latestRestorableTime`); set one source only.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RdsRestoreParams {
    /// Restore from this DB snapshot identifier (or ARN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub snapshot_id: Option<String>,
    /// Restore from the newest available snapshot of the instance, automated or manual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_latest_snapshot: Option<bool>,
    /// Restore to this point in time (RFC 3339), e.g. `2026-01-02T03:04:05Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_time: Option<chrono::DateTime<chrono::Utc>>,
    /// Restore to the latest restorable time of the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_restorable_time: Option<bool>,
    /// Write the restored endpoint (`host:port`) into a Secret or ConfigMap key in the
    /// Incident's namespace, so applications pick it up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cutover: Option<RdsCutover>,
}

/// Where `RestoreRDS` writes the new endpoint. Set exactly one of `secretName` and
/// `configMapName`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RdsCutover {
    /// A Secret in the Incident's namespace; created when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// A ConfigMap in the Incident's namespace; created when missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_name: Option<String>,
    /// The key that receives `host:port`.
    pub key: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.failureLimit) || !has(self.count) || self.count == 0 || self.failureLimit < self.count").message("failureLimit must be below count"))]
pub struct ValidationSpec {
    /// Time between measurements, e.g. "5s"; at most 720h (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(r"self.matches('^([0-9]{1,5}(ms|s|m|h))+$') && duration(self) <= duration('720h')").message("interval must be a duration such as 5s or 1m, at most 720h (30 days)"))]
    #[schemars(length(max = 32))]
    pub interval: Option<String>,
    /// Measurements per check; the analysis succeeds after this many without failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// Failed measurements tolerated; one more fails the analysis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_limit: Option<u32>,
    /// Inconclusive measurements tolerated; one more makes the analysis inconclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inconclusive_limit: Option<u32>,
    /// Succeed early after this many consecutive successes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_success_limit: Option<u32>,
    /// Wait before the first measurement, e.g. "10s"; at most 720h (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(r"self.matches('^([0-9]{1,5}(ms|s|m|h))+$') && duration(self) <= duration('720h')").message("initialDelay must be a duration such as 10s, at most 720h (30 days)"))]
    #[schemars(length(max = 32))]
    pub initial_delay: Option<String>,
    /// The checks; all must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckSpec>,
}

/// One validation check; exactly one provider must be set.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckSpec {
    /// The check's name, shown in status and the timeline.
    pub name: String,
    /// Judge recovery by the target's state in Kubernetes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes: Option<KubernetesCheck>,
    /// Judge recovery by a Prometheus query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusCheck>,
    /// Judge recovery by an HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsCheck>,
}

/// The cloud target is healthy as the AWS API sees it. After a step that replaced the target
/// (a relaunched instance, a restored DB), the replacement is what is checked.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwsCheck {
    /// EC2: the instance is running and its status checks are not impaired. RDS: the DB
    /// instance is `available`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
}

/// The target is healthy as Kubernetes sees it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesCheck {
    /// All desired replicas are updated and available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<bool>,
    /// At least this many ready endpoints behind the Services selecting the target's pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_ready_endpoints: Option<i32>,
}

/// An instant Prometheus query judged by conditions over `result`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusCheck {
    /// An instant PromQL query.
    pub query: String,
    /// e.g. `result < 0.05`, or `all(result, {# < 0.05})` for vectors.
    pub success_condition: String,
    /// An expression over `result` that fails the measurement, e.g. `result > 0.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
    /// The Prometheus base URL; the operator's `--prometheus-url` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Credentials from a Secret in the Playbook's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<PrometheusAuth>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusAuth {
    /// The Secret's name.
    pub secret_name: String,
    /// Key holding a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token_key: Option<String>,
    /// Keys holding basic-auth credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_key: Option<String>,
    /// Key holding the basic-auth password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_key: Option<String>,
}

/// GET a URL: "does the site open for you?"
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpCheck {
    /// The URL to GET.
    pub url: String,
    /// The expected status code; 200 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// A substring the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// How long one request may take, e.g. "5s"; 5s when absent, at most 5m (checked by the
    /// operator: a rule here would push the schema past the API server's CEL cost budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32))]
    pub timeout: Option<String>,
}

/// How careful automation is.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SafetyMode {
    /// Mutating steps run without a human.
    #[default]
    Auto,
    /// Each mutating step waits for its own approval (`kubectl dontpanic approve`).
    Approval,
    /// Mutations are sent as server-side dry-runs and only recorded.
    DryRun,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.minReplicas) || !has(self.maxReplicas) || self.minReplicas <= self.maxReplicas").message("minReplicas must not exceed maxReplicas"))]
pub struct SafetySpec {
    /// auto runs mutating steps, approval waits before each for its own approval (the
    /// `dontpanic.dev/approved` annotation carrying that step's token), dry-run only records what
    /// would change.
    #[serde(default)]
    pub mode: SafetyMode,
    /// No new mitigation on the same target within this time after the last one, e.g. "5m"; at
    /// most 720h (30 days).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(r"self.matches('^([0-9]{1,5}(ms|s|m|h))+$') && duration(self) <= duration('720h')").message("cooldown must be a duration such as 5m, at most 720h (30 days)"))]
    #[schemars(length(max = 32))]
    pub cooldown: Option<String>,
    /// Attempts per step before it fails for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Bounds for ScaleDeployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Upper bound for ScaleDeployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_replicas: Option<i32>,
}

/// What the operator found when checking the Playbook.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlaybookStatus {
    /// The `.metadata.generation` last checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Valid, per the Kubernetes API conventions: whether the Playbook can be used, and why not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}
