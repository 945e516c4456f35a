//! Reads a workload and everything around it from the API server, in parallel and bounded
//! in time. Everything after this read is pure.

use crate::kubeutil::selector_string;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use std::collections::BTreeSet;
use std::time::Duration;

/// Everything read about a Deployment or StatefulSet at one moment.
#[derive(Debug, Clone, Default)]
pub struct WorkloadObservation {
    pub deployment: Option<Deployment>,
    pub stateful_set: Option<StatefulSet>,
    pub replica_sets: Vec<ReplicaSet>,
    pub pods: Vec<Pod>,
    pub nodes: Vec<Node>,
    pub services: Vec<Service>,
    pub endpoint_slices: Vec<EndpointSlice>,
    pub warning_events: Vec<Event>,
    /// Parts that could not be read, and why.
    pub notes: Vec<String>,
}

impl WorkloadObservation {
    pub fn found(&self) -> bool {
        self.deployment.is_some() || self.stateful_set.is_some()
    }

    fn pod_selector(&self) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector> {
        self.deployment
            .as_ref()
            .and_then(|d| d.spec.as_ref())
            .map(|s| &s.selector)
            .or_else(|| {
                self.stateful_set
                    .as_ref()
                    .and_then(|s| s.spec.as_ref())
                    .map(|s| &s.selector)
            })
    }
}

const READ_TIMEOUT: Duration = Duration::from_secs(10);

async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = Result<T, kube::Error>>) -> Result<T, String> {
    match tokio::time::timeout(READ_TIMEOUT, fut).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(format!("{what}: {err}")),
        Err(_) => Err(format!("{what}: timed out after {}s", READ_TIMEOUT.as_secs())),
    }
}

/// Reads a Deployment or StatefulSet and its pods, ReplicaSets, nodes, Services,
/// EndpointSlices and Warning events.
pub async fn observe_workload(
    client: &Client,
    warning_events: &Store<Event>,
    namespace: &str,
    kind: crate::api::TargetKind,
    name: &str,
) -> Result<WorkloadObservation, kube::Error> {
    let mut obs = WorkloadObservation::default();
    match kind {
        crate::api::TargetKind::StatefulSet => {
            obs.stateful_set = Api::<StatefulSet>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await?;
        }
        _ => {
            obs.deployment = Api::<Deployment>::namespaced(client.clone(), namespace)
                .get_opt(name)
                .await?;
        }
    }
    let Some(selector) = obs.pod_selector().map(selector_string) else {
        return Ok(obs);
    };
    // Lists are served from the API server's watch cache as it stands (resourceVersion 0)
    // rather than after waiting for it to catch up with etcd: what is read here informs triage,
    // evidence and validation, never a write, and mitigations re-read what they change.
    let lp = ListParams::default().labels(&selector).match_any();
    let pods_api = Api::<Pod>::namespaced(client.clone(), namespace);
    let rs_api = Api::<ReplicaSet>::namespaced(client.clone(), namespace);
    let svc_api = Api::<Service>::namespaced(client.clone(), namespace);
    let is_deployment = obs.deployment.is_some();
    let all = ListParams::default().match_any();
    let (pods, replica_sets, services) = tokio::join!(
        bounded("pods", pods_api.list(&lp)),
        async {
            if is_deployment {
                bounded("replicasets", rs_api.list(&lp)).await.map(|l| l.items)
            } else {
                Ok(Vec::new())
            }
        },
        bounded("services", svc_api.list(&all)),
    );
    let owner_uid = obs.deployment.as_ref().and_then(|d| d.metadata.uid.clone());
    match replica_sets {
        Ok(items) => {
            obs.replica_sets = items
                .into_iter()
                .filter(|rs| rs.owner_references().iter().any(|o| Some(&o.uid) == owner_uid.as_ref()))
                .collect()
        }
        Err(e) => obs.notes.push(e),
    }
    match pods {
        Ok(list) => obs.pods = list.items,
        Err(e) => obs.notes.push(e),
    }
    let pod_labels: Vec<_> = obs.pods.iter().map(|p| p.labels().clone()).collect();
    match services {
        Ok(list) => {
            obs.services = list
                .items
                .into_iter()
                .filter(|svc| {
                    let Some(sel) = svc.spec.as_ref().and_then(|s| s.selector.as_ref()) else {
                        return false;
                    };
                    !sel.is_empty()
                        && pod_labels
                            .iter()
                            .any(|labels| sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
                })
                .collect()
        }
        Err(e) => obs.notes.push(e),
    }
    let mut involved: BTreeSet<String> = obs.pods.iter().map(|p| p.name_any()).collect();
    involved.insert(name.to_string());
    involved.extend(obs.replica_sets.iter().map(|rs| rs.name_any()));
    // From the operator's own watch of Warning events: Kubernetes keeps no watch cache for
    // events, so listing them reads every event of the namespace from etcd, which in a busy
    // namespace took longer than everything else read here together.
    obs.warning_events = warning_events
        .state()
        .iter()
        .filter(|e| e.metadata.namespace.as_deref() == Some(namespace))
        .filter(|e| e.involved_object.name.as_ref().is_some_and(|n| involved.contains(n)))
        .map(|e| (**e).clone())
        .collect();

    let node_names: BTreeSet<String> = obs
        .pods
        .iter()
        .filter_map(|p| p.spec.as_ref()?.node_name.clone())
        .collect();
    let nodes_api = Api::<Node>::all(client.clone());
    let slices_api = Api::<EndpointSlice>::namespaced(client.clone(), namespace);
    let node_reads = futures::future::join_all(node_names.iter().map(|n| bounded("node", nodes_api.get_opt(n))));
    let slice_reads = futures::future::join_all(obs.services.iter().map(|svc| {
        let lp = ListParams::default()
            .labels(&format!("kubernetes.io/service-name={}", svc.name_any()))
            .match_any();
        let api = slices_api.clone();
        async move { bounded("endpointslices", api.list(&lp)).await }
    }));
    let (nodes, slices) = tokio::join!(node_reads, slice_reads);
    for node in nodes {
        match node {
            Ok(Some(n)) => obs.nodes.push(n),
            Ok(None) => {}
            Err(e) => obs.notes.push(e),
        }
    }
    for slice in slices {
        match slice {
            Ok(list) => obs.endpoint_slices.extend(list.items),
            Err(e) => obs.notes.push(e),
        }
    }
    Ok(obs)
}
