//! Dereference: what one reconcile reads about the world before deciding. Reads only.

use super::super::{Context, Error};
use crate::api::{Incident, Phase, Playbook, StepState, TargetKind};
use crate::lifecycle::{OtherIncident, PlaybookLookup};
use crate::mitigation;
use crate::triage::{self, Signals, Verdict, WorkloadObservation};
use crate::validation;
use kube::api::{Api, ListParams};
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Everything read about the world for one reconcile.
pub(super) struct Observed {
    pub(super) playbook: PlaybookLookup,
    pub(super) observation: Option<WorkloadObservation>,
    pub(super) signals: Option<Signals>,
    pub(super) verdict: Option<Verdict>,
    pub(super) rule_errors: Vec<String>,
    /// For cloud targets: the evidence line read with the signals.
    pub(super) cloud_note: Option<String>,
}

/// Whether a phase acts on what is read about the target.
pub(super) fn needs_observation(phase: Option<Phase>) -> bool {
    matches!(
        phase,
        Some(Phase::Triaging | Phase::Mitigating | Phase::AwaitingApproval | Phase::Validating)
    )
}

pub(super) async fn dereference(
    incident: &Incident,
    ctx: &Context,
    namespace: &str,
    phase: Option<Phase>,
) -> Result<Observed, Error> {
    let mut observed = Observed {
        playbook: PlaybookLookup::Missing("not looked up".into()),
        observation: None,
        signals: None,
        verdict: None,
        rule_errors: Vec::new(),
        cloud_note: None,
    };
    if !needs_observation(phase) {
        return Ok(observed);
    }
    let target = &incident.spec.target;
    let (observation, mut signals, labels) = match target.kind {
        TargetKind::Deployment | TargetKind::StatefulSet => {
            let obs = triage::observe_workload(&ctx.client, &ctx.warning_events, namespace, target.kind, &target.name)
                .await?;
            let signals = triage::workload_signals(&obs);
            let labels = obs
                .deployment
                .as_ref()
                .map(|d| d.labels().clone())
                .or_else(|| obs.stateful_set.as_ref().map(|s| s.labels().clone()))
                .unwrap_or_default();
            (Some(obs), signals, labels)
        }
        TargetKind::EC2Instance | TargetKind::RDSInstance => {
            let cloud = observe_cloud(incident, ctx, namespace).await?;
            observed.cloud_note = Some(cloud.note);
            (None, cloud.signals, cloud.labels)
        }
    };
    observed.playbook = lookup_playbook(ctx, incident, namespace, &labels).await?;
    let rules = observed
        .playbook
        .spec()
        .and_then(|s| s.triage.clone())
        .unwrap_or_default();
    read_playbook_signals(ctx, &rules.signals, &mut signals, &mut observed.rule_errors).await;
    let mut verdict = triage::classify(
        &signals,
        &rules.rules,
        incident.spec.severity,
        &mut observed.rule_errors,
    );
    if let Some(alert) = &incident.spec.alert {
        triage::alert_floor(&mut verdict, alert);
    }
    observed.observation = observation;
    observed.signals = Some(signals);
    observed.verdict = Some(verdict);
    Ok(observed)
}

/// Reads a cloud target through the AWS API. After a step replaced the target (a relaunched
/// instance, a restored DB), the replacement is read instead: it is what now serves, and what
/// validation judges. A target that cannot be found (or a tag selector that does not match
/// exactly one instance) is reported in the signals; throttling and outages retry the reconcile.
async fn observe_cloud(
    incident: &Incident,
    ctx: &Context,
    namespace: &str,
) -> Result<crate::aws::CloudObservation, Error> {
    let target = &incident.spec.target;
    let replacement = incident.status.as_ref().and_then(|st| {
        st.steps
            .iter()
            .rev()
            .filter(|s| s.state == StepState::Succeeded && !s.dry_run)
            .find_map(|s| s.intent.as_ref()?.details.get(mitigation::REPLACEMENT_DETAIL).cloned())
    });
    let clients = ctx.aws.clients().await;
    let incident_ref = format!("{namespace}/{}", incident.name_any());
    let read = match target.kind {
        TargetKind::EC2Instance => {
            crate::aws::ec2::observe(&clients.ec2, target, &incident_ref, replacement.as_deref()).await
        }
        _ => crate::aws::rds::observe(&clients.rds, replacement.as_deref().unwrap_or(&target.name)).await,
    };
    match read {
        Ok(mut cloud) => {
            if let Some(r) = &replacement {
                cloud.note = format!("replacement {r} of {}: {}", target.display(), cloud.note);
            }
            Ok(cloud)
        }
        Err(e) if e.retryable() => Err(Error::Other(format!("reading {}: {}", target.display(), e.message()))),
        Err(e) => Ok(crate::aws::CloudObservation::not_found(e.message().to_string())),
    }
}

/// Reads the Playbook's Prometheus signals into the triage signals.
async fn read_playbook_signals(
    ctx: &Context,
    specs: &[crate::api::SignalSpec],
    signals: &mut Signals,
    errors: &mut Vec<String>,
) {
    if specs.is_empty() {
        return;
    }
    let Some(base) = ctx.settings.prometheus_url.as_deref() else {
        errors.push("the Playbook names Prometheus signals but the operator runs without --prometheus-url".into());
        return;
    };
    let no_credentials = validation::Credentials::default();
    let reads = specs
        .iter()
        .map(|s| validation::instant_query(&ctx.http, base, &s.query, &no_credentials));
    let results = futures::future::join_all(reads).await;
    for (spec, result) in specs.iter().zip(results) {
        let value = match result {
            Ok(validation::QueryResult::Scalar(v)) => v,
            Ok(validation::QueryResult::Vector(v)) if !v.is_empty() => {
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            }
            Ok(_) => continue,
            Err(e) => {
                errors.push(format!("signal {}: {e}", spec.name));
                continue;
            }
        };
        signals.metrics.insert(spec.name.clone(), value);
        if let Some(off) = &spec.off_when {
            let mut vars = crate::expr::Variables::new();
            vars.insert("result".into(), crate::expr::Value::Number(value));
            match crate::expr::eval_bool(off, &vars) {
                Ok(true) => signals.metrics_off.push(spec.name.clone()),
                Ok(false) => {}
                Err(e) => errors.push(format!("signal {} offWhen: {e}", spec.name)),
            }
        }
    }
}

/// The Playbook the Incident follows: the one it names, else the first (by name) that selects
/// its target. Read from the watch's cache; when the cache has none, from the API server, so a
/// Playbook applied a moment before its Incident is never missed.
async fn lookup_playbook(
    ctx: &Context,
    incident: &Incident,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Result<PlaybookLookup, Error> {
    let cached = ctx.playbooks.state();
    let in_namespace = cached
        .iter()
        .map(|pb| pb.as_ref())
        .filter(|pb| pb.metadata.namespace.as_deref() == Some(namespace));
    if let Some(found) = choose_playbook(incident, labels, in_namespace) {
        return Ok(found);
    }
    let api: Api<Playbook> = Api::namespaced(ctx.client.clone(), namespace);
    let listed: Vec<Playbook> = match &incident.spec.playbook_ref {
        Some(reference) => api.get_opt(&reference.name).await?.into_iter().collect(),
        None => api.list(&ListParams::default()).await?.items,
    };
    Ok(choose_playbook(incident, labels, &listed).unwrap_or_else(|| {
        PlaybookLookup::Missing(match &incident.spec.playbook_ref {
            Some(reference) => format!("Playbook {} not found in namespace {namespace}", reference.name),
            None => format!(
                "no Playbook in namespace {namespace} selects {}",
                incident.spec.target.display()
            ),
        })
    }))
}

fn choose_playbook<'a>(
    incident: &Incident,
    labels: &BTreeMap<String, String>,
    playbooks: impl IntoIterator<Item = &'a Playbook>,
) -> Option<PlaybookLookup> {
    let found = match &incident.spec.playbook_ref {
        Some(reference) => playbooks
            .into_iter()
            .find(|pb| pb.metadata.name.as_deref() == Some(reference.name.as_str()))?,
        None => crate::api::first_selecting(playbooks, incident.spec.target.kind, labels)?,
    };
    let problems = crate::controller::playbook::problems(&found.spec);
    Some(PlaybookLookup::Found {
        playbook: Box::new(found.clone()),
        problems,
    })
}

pub(super) fn others_in_scope(ctx: &Context, incident: &Incident) -> Vec<OtherIncident> {
    let uid = incident.metadata.uid.clone();
    ctx.incidents
        .state()
        .iter()
        .filter(|other| other.metadata.uid != uid)
        .map(|other| {
            let (phase, steps) = match &other.status {
                Some(st) => (st.phase, st.steps.as_slice()),
                None => (None, &[][..]),
            };
            let last_mutation_at = steps
                .iter()
                .filter(|s| s.state == StepState::Succeeded && !s.dry_run)
                .filter_map(|s| s.finished_at)
                .max();
            let mitigating =
                !phase.is_some_and(Phase::is_closed) && steps.iter().any(|s| s.started_at.is_some() && !s.dry_run);
            OtherIncident {
                uid: other.metadata.uid.clone().unwrap_or_default(),
                namespace: other.namespace().unwrap_or_default(),
                name: other.name_any(),
                target_kind: other.spec.target.kind,
                target_name: other.spec.target.name.clone(),
                phase,
                created: other
                    .metadata
                    .creation_timestamp
                    .as_ref()
                    .map(|t| crate::evidence::to_chrono(&t.0))
                    .unwrap_or_default(),
                last_mutation_at,
                mitigating,
            }
        })
        .collect()
}
