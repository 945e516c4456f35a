//! The event-driven end of rollout detection: a Controller over Deployments, woken by their
//! ReplicaSets and pods, that opens Incidents and records completed rollouts as healthy. It requeues only to re-check one Deployment's
//! `unavailableFor` deadline.

use super::{decide_open, health, healthy_record_due, incident_name, open_incident_for, Health, OpenOutcome};
use crate::api::{
    Incident, IncidentSource, IncidentSpec, IncidentTarget, Playbook, TargetKind, DETECTED_AGAIN_ANNOTATION,
};
use crate::controller::FIELD_MANAGER;
use crate::duration::{parse_duration_at_most, MAX_PLAYBOOK_DURATION};
use crate::kubeutil::{api_for, HEALTHY_AT_ANNOTATION};
use crate::metrics::Metrics;
use chrono::Utc;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::utils::WatchStreamExt;
use kube::runtime::{reflector, watcher, Controller};
use kube::{Client, ResourceExt};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// Deployments checked at once.
const DETECTION_CONCURRENCY: u16 = 8;

/// The label marking Incidents opened by rollout detection.
pub const DETECTED_BY_LABEL: &str = "dontpanic.dev/detected-by";

pub struct DetectionContext {
    pub client: Client,
    pub playbooks: Store<Playbook>,
    pub incidents: Store<Incident>,
    pub metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Panicked(#[from] crate::controller::Panicked),
}

/// The pod's Deployment, from its owning ReplicaSet's name minus the pod-template-hash.
fn pod_to_deployment(pod: PartialObjectMeta<Pod>) -> Option<ObjectRef<Deployment>> {
    let namespace = pod.namespace()?;
    let hash = pod.labels().get("pod-template-hash")?.clone();
    let owner = pod
        .owner_references()
        .iter()
        .find(|o| o.kind == "ReplicaSet" && o.controller == Some(true))?;
    let deployment = owner.name.strip_suffix(&format!("-{hash}"))?;
    Some(ObjectRef::new(deployment).within(&namespace))
}

/// Drops what detection never reads before an object is cached: managedFields and the
/// last-applied annotation are most of a Deployment's size.
fn slim(deployment: &mut Deployment) {
    deployment.managed_fields_mut().clear();
    deployment
        .annotations_mut()
        .remove("kubectl.kubernetes.io/last-applied-configuration");
}

/// Runs rollout detection until shutdown. Deployments are cached slimmed; ReplicaSets and pods
/// are watched as metadata only, since they only say which Deployment to look at.
pub async fn run(ctx: Arc<DetectionContext>, namespace: Option<String>) {
    let ns = namespace.as_deref();
    let (reader, writer) = reflector::store::<Deployment>();
    let deployments = watcher(api_for::<Deployment>(&ctx.client, ns), watcher::Config::default())
        .default_backoff()
        .modify(slim)
        .reflect(writer)
        .touched_objects();
    let replica_sets = watcher(
        api_for::<PartialObjectMeta<ReplicaSet>>(&ctx.client, ns),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    let pods = watcher(
        api_for::<PartialObjectMeta<Pod>>(&ctx.client, ns),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    // A bounded number of Deployments at a time: at start-up every watched Deployment is
    // looked at once, and unbounded that is one pair of list calls in flight per Deployment.
    Controller::for_stream(deployments, reader)
        .with_config(kube::runtime::controller::Config::default().concurrency(DETECTION_CONCURRENCY))
        .owns_stream(replica_sets)
        .watches_stream(pods, pod_to_deployment)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(deployment: Arc<Deployment>, error: &Error, _ctx: Arc<DetectionContext>) -> Action {
    tracing::warn!(deployment = %deployment.name_any(), %error, "rollout detection failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// The first Playbook (by name) in the namespace that selects the Deployment, as the
/// Incident controller would choose it, with its rollout-health window when it asks for
/// detection.
fn selecting_playbook(ctx: &DetectionContext, deployment: &Deployment) -> Option<(String, Option<chrono::Duration>)> {
    let namespace = deployment.namespace().unwrap_or_default();
    let labels = deployment.labels();
    let playbooks = ctx.playbooks.state();
    let in_namespace = playbooks
        .iter()
        .map(|pb| pb.as_ref())
        .filter(|pb| pb.metadata.namespace.as_deref() == Some(namespace.as_str()));
    let pb = crate::api::first_selecting(in_namespace, TargetKind::Deployment, labels)?;
    let window = pb
        .spec
        .detection
        .as_ref()
        .and_then(|d| d.rollout_health.as_ref())
        .and_then(|r| parse_duration_at_most(&r.unavailable_for, MAX_PLAYBOOK_DURATION).ok())
        .map(crate::duration::to_chrono);
    Some((pb.name_any(), window))
}

/// Records the Deployment's current ReplicaSet as healthy once its rollout is complete (see
/// [`healthy_record_due`]). The record only widens what a later rollback may choose, so a
/// failure to write it is logged and does not hold up detection.
async fn record_healthy(ctx: &DetectionContext, deployment: &Deployment, replica_sets: &[ReplicaSet]) {
    let Some(name) = healthy_record_due(deployment, replica_sets) else {
        return;
    };
    let namespace = deployment.namespace().unwrap_or_default();
    let at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let patch = json!({"metadata": {"annotations": {HEALTHY_AT_ANNOTATION: at}}});
    let params = PatchParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..PatchParams::default()
    };
    match Api::<ReplicaSet>::namespaced(ctx.client.clone(), &namespace)
        .patch(&name, &params, &Patch::Merge(&patch))
        .await
    {
        Ok(_) => {
            tracing::info!(replica_set = %name, deployment = %deployment.name_any(), "rollout complete; revision recorded as healthy")
        }
        Err(error) => tracing::warn!(replica_set = %name, %error, "could not record the revision as healthy"),
    }
}

async fn reconcile(deployment: Arc<Deployment>, ctx: Arc<DetectionContext>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = crate::controller::contain_panics(check(&deployment, &ctx)).await;
    ctx.metrics
        .observe_reconcile("detection", started.elapsed(), result.is_ok());
    result
}

async fn check(deployment: &Deployment, ctx: &DetectionContext) -> Result<Action, Error> {
    let Some((playbook, window)) = selecting_playbook(ctx, deployment) else {
        return Ok(Action::await_change());
    };
    let namespace = deployment.namespace().unwrap_or_default();
    let name = deployment.name_any();
    let selector = deployment
        .spec
        .as_ref()
        .map(|s| crate::kubeutil::selector_string(&s.selector))
        .unwrap_or_default();
    // Served from the API server's watch cache as it is: the event that woke this check came
    // from that cache, so it already holds what changed. A consistent read would wait for the
    // cache to catch up with etcd, which under a burst of rollouts takes seconds.
    let params = ListParams::default().labels(&selector).match_any();
    let replica_sets_api = Api::<ReplicaSet>::namespaced(ctx.client.clone(), &namespace);
    let pods_api = Api::<Pod>::namespaced(ctx.client.clone(), &namespace);
    let Some(window) = window else {
        record_healthy(ctx, deployment, &replica_sets_api.list(&params).await?.items).await;
        return Ok(Action::await_change());
    };
    let (replica_sets, pods) = tokio::join!(replica_sets_api.list(&params), pods_api.list(&params));
    let (replica_sets, pods) = (replica_sets?.items, pods?.items);
    record_healthy(ctx, deployment, &replica_sets).await;
    let now = Utc::now();
    match health(deployment, &replica_sets, &pods, window, now) {
        Health::Healthy => Ok(Action::await_change()),
        Health::Pending { recheck_at } => {
            let wait = (recheck_at - now).to_std().unwrap_or_default() + Duration::from_millis(200);
            Ok(crate::controller::requeue_after(wait))
        }
        Health::Failing {
            revision,
            reason,
            since,
        } => {
            let incidents = ctx.incidents.state();
            let open = open_incident_for(&incidents, &namespace, TargetKind::Deployment, &name);
            match decide_open(open, &name, revision, &reason, now) {
                OpenOutcome::Nothing => {}
                OpenOutcome::Create => {
                    open_incident(ctx, &namespace, &name, &playbook, revision, &reason, since).await?
                }
                OpenOutcome::AddToOpen { incident, note } => {
                    let patch = json!({"metadata": {"annotations": {
                        DETECTED_AGAIN_ANNOTATION: serde_json::to_string(&note).unwrap_or_default()
                    }}});
                    Api::<Incident>::namespaced(ctx.client.clone(), &namespace)
                        .patch(&incident, &PatchParams::default(), &Patch::Merge(&patch))
                        .await?;
                    tracing::info!(%incident, deployment = %name, %reason, "target failed again; added to the open incident");
                }
            }
            Ok(Action::await_change())
        }
    }
}

async fn open_incident(
    ctx: &DetectionContext,
    namespace: &str,
    deployment: &str,
    playbook: &str,
    revision: i64,
    reason: &str,
    since: chrono::DateTime<Utc>,
) -> Result<(), Error> {
    let incident_name = incident_name(deployment, revision);
    let mut incident = Incident::new(
        &incident_name,
        IncidentSpec {
            summary: format!("rollout of Deployment {deployment} failed its health check: {reason}"),
            target: IncidentTarget {
                kind: TargetKind::Deployment,
                name: deployment.to_string(),
                tags: Default::default(),
            },
            severity: None,
            playbook_ref: None,
            source: IncidentSource::HealthCheck,
            observed_at: Some(since),
            alert: None,
        },
    );
    incident
        .labels_mut()
        .insert(DETECTED_BY_LABEL.into(), "rollout-health".into());
    let api: Api<Incident> = Api::namespaced(ctx.client.clone(), namespace);
    match api.create(&PostParams::default(), &incident).await {
        Ok(_) => {
            let latency = (Utc::now() - since).to_std().unwrap_or_default();
            ctx.metrics.observe_detection_latency(latency);
            tracing::info!(
                incident = %incident_name, %deployment, %playbook, %reason,
                latency_seconds = latency.as_secs_f64(),
                "rollout failed its health check; incident opened"
            );
            Ok(())
        }
        // Already opened (a previous reconcile, or it was closed): nothing to add.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(()),
        Err(e) => Err(e.into()),
    }
}
