//! The Incident controller: dereference → decide (pure) → act → update status.

use super::status::{apply_status, publish};
use super::{Context, Error};
use crate::api::{Incident, IncidentStatus, Phase, Playbook, StepState, TargetKind};
use crate::evidence::{build_evidence, fetch_logs};
use crate::lifecycle::{
    self, AfterMeasure, Decision, Inputs, Next, OtherIncident, PlaybookLookup, SafetyPolicy, IMMEDIATELY,
};
use crate::mitigation::{self, ActionContext};
use crate::triage::{self, Signals, Verdict, WorkloadObservation};
use crate::validation::{self, analysis::MeasurementResult, ProviderContext};
use chrono::Utc;
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Everything read about the world for one reconcile.
struct Observed {
    playbook: PlaybookLookup,
    observation: Option<WorkloadObservation>,
    signals: Option<Signals>,
    verdict: Option<Verdict>,
    rule_errors: Vec<String>,
    /// For cloud targets: the evidence line read with the signals.
    cloud_note: Option<String>,
}

/// Status writes refused with a conflict that one reconcile decides again before backing off.
const CONFLICT_RETRIES: u32 = 5;
/// Lifecycle passes one reconcile runs at most; a pass that only moved the phase on goes
/// straight into the next, so Detected → Triaging → Mitigating does not wait for requeues.
const PASSES_PER_RECONCILE: usize = 6;

pub async fn reconcile(incident: Arc<Incident>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = std::time::Instant::now();
    let result = reconcile_retrying_conflicts(&incident, &ctx).await;
    ctx.metrics
        .observe_reconcile("incident", started.elapsed(), result.is_ok());
    result
}

pub fn error_policy(incident: Arc<Incident>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(incident = %incident.name_any(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}

/// A conflict means the Incident changed after it was read (or the cached copy was behind):
/// the decision is made again from a fresh read, never resent and never dropped.
async fn reconcile_retrying_conflicts(incident: &Incident, ctx: &Context) -> Result<Action, Error> {
    let namespace = incident.namespace().unwrap_or_default();
    let api: Api<Incident> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut current = std::borrow::Cow::Borrowed(incident);
    let mut conflicts = 0;
    loop {
        match reconcile_inner(&current, ctx).await {
            Err(Error::Conflict(message)) if conflicts < CONFLICT_RETRIES => {
                conflicts += 1;
                ctx.metrics.observe_status_conflict();
                tracing::info!(incident = %incident.name_any(), %message, conflicts, "status write conflicted; deciding again from a fresh read");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(conflicts))).await;
                match api.get_opt(&incident.name_any()).await? {
                    Some(fresh) => current = std::borrow::Cow::Owned(fresh),
                    None => return Ok(Action::await_change()),
                }
            }
            result => return result,
        }
    }
}

#[tracing::instrument(name = "reconcile", skip_all, fields(namespace = %incident.namespace().unwrap_or_default(), incident = %incident.name_any()))]
async fn reconcile_inner(incident: &Incident, ctx: &Context) -> Result<Action, Error> {
    let namespace = incident.namespace().unwrap_or_default();
    let api: Api<Incident> = Api::namespaced(ctx.client.clone(), &namespace);
    let phase = incident.status.as_ref().and_then(|s| s.phase);
    let generation_seen = incident.status.as_ref().and_then(|s| s.observed_generation) == incident.metadata.generation;
    let news = incident
        .status
        .as_ref()
        .is_some_and(|st| lifecycle::sources::pending(incident, st));
    if phase.is_some_and(Phase::is_closed) && generation_seen && !news && !ctx.notifier.has_work(incident) {
        return Ok(Action::await_change());
    }
    // Notifications a crash or a previous leader left undelivered go out now, late not never.
    if let Some(status) = &incident.status {
        ctx.notifier.dispatch(incident, status);
    }
    let mut writer = StatusWriter {
        api: &api,
        incident,
        written: incident.status.clone(),
        resource_version: incident.metadata.resource_version.clone(),
        ctx,
        archived: Default::default(),
        outbox: Default::default(),
    };
    let mut current = std::borrow::Cow::Borrowed(incident);
    let mut observed: Option<Observed> = None;
    for _ in 0..PASSES_PER_RECONCILE {
        let phase = current.status.as_ref().and_then(|s| s.phase);
        // What was read about the target in an earlier pass still holds: only phase changes
        // happened since, nothing was mutated.
        let reuse = observed
            .as_ref()
            .is_some_and(|o| o.signals.is_some() || !needs_observation(phase));
        if !reuse {
            if needs_observation(phase) {
                // Status shows where the Incident stands before anything is waited on.
                if let Some(pending) = &current.status {
                    writer.write(pending).await?;
                }
            }
            observed = Some(dereference(&current, ctx, &namespace, phase).await?);
        }
        let observed_now = observed.as_ref().expect("set just above");
        let (status, action, next) = pass(&current, ctx, &namespace, observed_now, &mut writer).await?;
        let moved_on_only =
            matches!(next, Next::Nothing | Next::GatherEvidence) && writer.written.as_ref() != Some(&status);
        match action {
            // Only the phase moved on, nothing changed in the world: the next pass follows at
            // once and the status is written with it, one write for several steps of the
            // lifecycle. Nothing is lost if the process dies before: it is decided again.
            Some(requeue) if requeue <= IMMEDIATELY && moved_on_only => {
                let mut updated = current.into_owned();
                updated.status = Some(status);
                updated.metadata.resource_version = writer.resource_version.clone();
                current = std::borrow::Cow::Owned(updated);
            }
            Some(requeue) => {
                writer.write(&status).await?;
                return Ok(Action::requeue(requeue.max(IMMEDIATELY)));
            }
            None => {
                writer.write(&status).await?;
                return Ok(Action::await_change());
            }
        }
    }
    if let Some(pending) = &current.status {
        writer.write(pending).await?;
    }
    Ok(Action::requeue(IMMEDIATELY))
}

/// Whether a phase acts on what is read about the target.
fn needs_observation(phase: Option<Phase>) -> bool {
    matches!(
        phase,
        Some(Phase::Triaging | Phase::Mitigating | Phase::AwaitingApproval | Phase::Validating)
    )
}

/// One lifecycle pass: decide (pure) and act on the decision. Returns the status to write, when
/// to come back (`None`: only on change) and what was acted on. A step's intent and result are
/// written here, around the action; everything else is left to the caller.
async fn pass(
    incident: &Incident,
    ctx: &Context,
    namespace: &str,
    observed: &Observed,
    writer: &mut StatusWriter<'_>,
) -> Result<(IncidentStatus, Option<Duration>, Next), Error> {
    let others = others_in_scope(ctx, incident);
    let now = Utc::now();
    let requires_approval =
        |step: &crate::api::StepSpec| mitigation::find(&step.action).is_some_and(|a| a.requires_approval_by_default());
    let Decision {
        mut status,
        next,
        requeue,
    } = lifecycle::decide(&Inputs {
        incident,
        playbook: &observed.playbook,
        signals: observed.signals.as_ref(),
        verdict: observed.verdict.as_ref(),
        others: &others,
        max_concurrent_mitigations: ctx.settings.max_concurrent_mitigations,
        action_requires_approval: &requires_approval,
        now,
    });
    if status.phase.is_some() && incident.status.is_some() {
        lifecycle::sources::apply(incident, &mut status, now);
    }
    for error in &observed.rule_errors {
        if !crate::timeline::last_says(&status, "RuleError", error) {
            crate::timeline::record(&mut status, now, "RuleError", error.clone());
        }
    }
    match &next {
        Next::Nothing => {}
        Next::GatherEvidence => {
            if let Some(obs) = &observed.observation {
                gather_evidence(ctx, namespace, obs, &mut status).await;
            }
            if let Some(note) = &observed.cloud_note {
                crate::timeline::record(&mut status, now, "Evidence", note.clone());
            }
        }
        Next::StartStep(index) => {
            // Planning only reads; what was decided above (approvals, waiting reasons) is
            // written together with the step's intent, before the action changes anything.
            start_step(ctx, incident, observed, *index, &mut status, writer).await?;
        }
        Next::ResumeStep(index) => {
            let index = *index;
            let snapshot = status.clone();
            let action_ctx = action_context(ctx, incident, observed, &snapshot, index);
            let policy = observed.playbook.safety_policy();
            let intent = status.steps[index].intent.clone().unwrap_or_default();
            finish_step(
                ctx,
                incident,
                observed,
                index,
                &action_ctx,
                &policy,
                &intent,
                &mut status,
            )
            .await;
        }
        Next::Measure => measure(ctx, incident, observed, &mut status).await,
    }
    let closed = status.phase.is_some_and(Phase::is_closed);
    Ok((status, if closed { None } else { Some(requeue) }, next))
}

/// Writes status when it changed, and tells people about what changed.
struct StatusWriter<'a> {
    api: &'a Api<Incident>,
    incident: &'a Incident,
    written: Option<IncidentStatus>,
    /// The version of the Incident the next write must apply to.
    resource_version: Option<String>,
    ctx: &'a Context,
    /// Entries this writer already archived.
    archived: std::collections::HashSet<crate::archive::Key>,
    /// Pending notifications: recorded in the write whose change causes them.
    outbox: crate::notify::OutboxWriter,
}

impl StatusWriter<'_> {
    async fn write(&mut self, status: &IncidentStatus) -> Result<(), Error> {
        let (status, notes) = self
            .outbox
            .stage(&self.ctx.notifier, self.incident, self.written.as_ref(), status);
        let status = &status;
        if self.written.as_ref() == Some(status) {
            return Ok(());
        }
        // Entries about to roll off the status timeline are archived first, so that a crash
        // between the two writes loses nothing.
        let old_timeline = self.written.as_ref().map(|s| s.timeline.as_slice()).unwrap_or_default();
        let mut rolled_off = crate::archive::rolled_off(old_timeline, &status.timeline);
        // Entries recorded and dropped again before any write never reached status.
        rolled_off.extend(crate::archive::rolled_off(&status.rolled_off, &status.timeline));
        rolled_off.retain(|e| !self.archived.contains(&crate::archive::key(e)));
        if !rolled_off.is_empty() {
            crate::archive::append(&self.ctx.client, self.incident, &rolled_off).await?;
            self.archived.extend(rolled_off.iter().map(crate::archive::key));
        }
        let Some(written) = apply_status(
            self.api,
            self.incident,
            self.written.as_ref(),
            status,
            self.resource_version.as_deref(),
        )
        .await?
        else {
            return Ok(());
        };
        self.resource_version = written.metadata.resource_version;
        let old_phase = self.written.as_ref().and_then(|s| s.phase);
        if status.phase.is_some() && old_phase != status.phase && status.phase == self.ctx.settings.exit_at_phase {
            crate::failpoint::kill_self("the Incident entered the phase --exit-at-phase names");
        }
        if old_phase != status.phase {
            if let Some(phase) = status.phase {
                let warning = matches!(phase, Phase::Escalated | Phase::Failed);
                let note = status.timeline.last().map(|e| e.message.clone()).unwrap_or_default();
                publish(&self.ctx.recorder, self.incident, warning, &phase.to_string(), note).await;
            }
        }
        self.outbox.written(&self.ctx.notifier, self.incident, status);
        for note in &notes {
            if let crate::notify::Notification::PostmortemDue { responder, due_by } = note {
                let who = responder.as_deref().unwrap_or("the responder");
                let text = format!("post-incident review due by {}; {who} is notified", due_by.to_rfc3339());
                publish(&self.ctx.recorder, self.incident, false, "PostmortemDue", text).await;
            }
        }
        self.ctx.metrics.observe_status(self.written.as_ref(), status);
        self.written = Some(status.clone());
        Ok(())
    }
}

async fn dereference(
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
    let problems = super::playbook::problems(&found.spec);
    Some(PlaybookLookup::Found {
        playbook: Box::new(found.clone()),
        problems,
    })
}

fn others_in_scope(ctx: &Context, incident: &Incident) -> Vec<OtherIncident> {
    let uid = incident.metadata.uid.clone();
    ctx.incidents
        .state()
        .iter()
        .filter(|other| other.metadata.uid != uid)
        .map(|other| {
            let status = other.status.clone().unwrap_or_default();
            let last_mutation_at = status
                .steps
                .iter()
                .filter(|s| s.state == StepState::Succeeded && !s.dry_run)
                .filter_map(|s| s.finished_at)
                .max();
            let mitigating = matches!(status.phase, Some(Phase::Mitigating | Phase::Validating))
                && status.steps.iter().any(|s| s.started_at.is_some());
            OtherIncident {
                namespace: other.namespace().unwrap_or_default(),
                name: other.name_any(),
                target_kind: other.spec.target.kind,
                target_name: other.spec.target.name.clone(),
                phase: status.phase,
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

async fn gather_evidence(ctx: &Context, namespace: &str, obs: &WorkloadObservation, status: &mut IncidentStatus) {
    let failing: Vec<(String, String)> = obs
        .pods
        .iter()
        .filter(|p| crate::kubeutil::pod_failure(p).is_some())
        .flat_map(|p| {
            let name = p.name_any();
            p.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .map(move |c| (name.clone(), c.name.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let logs = fetch_logs(&ctx.client, namespace, &failing).await;
    let evidence = build_evidence(obs, logs, Utc::now());
    let mut parts = Vec::new();
    if !evidence.failing_pods.is_empty() {
        let pods: Vec<String> = evidence
            .failing_pods
            .iter()
            .map(|p| {
                format!(
                    "{} on {} ({})",
                    p.name,
                    p.node.clone().unwrap_or_else(|| "no node".into()),
                    p.reason
                )
            })
            .collect();
        parts.push(format!("failing pods: {}", pods.join(", ")));
    }
    if let Some(first) = evidence.first_error_time {
        parts.push(format!(
            "first error at {} ({})",
            first.to_rfc3339(),
            evidence.first_error_source.clone().unwrap_or_default()
        ));
    }
    if !evidence.rollout_history.is_empty() {
        let revs: Vec<String> = evidence
            .rollout_history
            .iter()
            .map(|r| format!("rev {} {}", r.revision, r.images.join(",")))
            .collect();
        parts.push(format!("rollout history: {}", revs.join("; ")));
    }
    parts.push(format!("{} warning event(s)", evidence.warning_events.len()));
    let with_lines = evidence.logs.iter().filter(|l| !l.lines.is_empty()).count();
    if !evidence.logs.is_empty() {
        if with_lines == 0 {
            let why = evidence
                .logs
                .iter()
                .find_map(|l| l.unavailable.clone())
                .unwrap_or_default();
            parts.push(format!("logs unavailable ({why})"));
        } else {
            parts.push(format!("log lines from {with_lines} container(s)"));
        }
    }
    status.evidence = Some(evidence);
    crate::timeline::record(status, Utc::now(), "Evidence", parts.join("; "));
}

fn action_context<'a>(
    ctx: &'a Context,
    incident: &'a Incident,
    observed: &'a Observed,
    status: &'a IncidentStatus,
    index: usize,
) -> ActionContext<'a> {
    let safety = observed.playbook.spec().and_then(|s| s.safety.as_ref());
    static DEFAULT_SAFETY: std::sync::OnceLock<crate::api::SafetySpec> = std::sync::OnceLock::new();
    static DEFAULT_STEP: std::sync::OnceLock<crate::api::StepSpec> = std::sync::OnceLock::new();
    ActionContext {
        client: ctx.client.clone(),
        aws: &ctx.aws,
        namespace: incident.metadata.namespace.as_deref().unwrap_or_default(),
        incident_name: incident.metadata.name.as_deref().unwrap_or_default(),
        incident_uid: incident.metadata.uid.as_deref().unwrap_or_default(),
        step_index: index,
        target: &incident.spec.target,
        step: status.steps[index]
            .spec
            .as_ref()
            .unwrap_or_else(|| DEFAULT_STEP.get_or_init(Default::default)),
        safety: safety.unwrap_or_else(|| DEFAULT_SAFETY.get_or_init(Default::default)),
        dry_run: observed.playbook.safety_policy().dry_run(),
    }
}

async fn start_step(
    ctx: &Context,
    incident: &Incident,
    observed: &Observed,
    index: usize,
    status: &mut IncidentStatus,
    writer: &mut StatusWriter<'_>,
) -> Result<(), Error> {
    let now = Utc::now();
    let generation = incident.metadata.generation;
    let policy = observed.playbook.safety_policy();
    let action_name = status.steps[index].action.clone();
    let Some(action) = mitigation::find(&action_name) else {
        let error = mitigation::ActionError::Refused(format!("unknown action {action_name}"));
        lifecycle::step_failed(status, index, &error, policy.max_attempts, generation, now);
        return Ok(());
    };
    let snapshot = status.clone();
    let action_ctx = action_context(ctx, incident, observed, &snapshot, index);
    let planned = action
        .plan(&action_ctx)
        .instrument(tracing::info_span!("action.plan", action = %action_name))
        .await;
    let intent = match planned {
        Ok(intent) => intent,
        Err(error) => {
            ctx.metrics.observe_action(&action_name, "refused");
            lifecycle::step_failed(status, index, &error, policy.max_attempts, generation, now);
            return Ok(());
        }
    };
    lifecycle::step_started(
        status,
        index,
        intent.clone(),
        policy.dry_run(),
        &incident.spec.target.display(),
        now,
    );
    // The intent is on record before anything changes: a restart from here resumes, never repeats.
    writer.write(status).await?;
    if ctx.settings.exit_after_intent && !policy.dry_run() {
        crate::failpoint::kill_self("the step's intent is recorded, as --exit-after-intent asks");
    }
    if let Some(opened) = status.times.as_ref().and_then(|t| t.detected_at) {
        if status.steps.iter().filter(|s| s.started_at.is_some()).count() == 1 && status.steps[index].attempts == 1 {
            ctx.metrics
                .observe_mitigation_latency((now - opened).to_std().unwrap_or_default());
        }
    }
    finish_step(ctx, incident, observed, index, &action_ctx, &policy, &intent, status).await;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn finish_step(
    ctx: &Context,
    incident: &Incident,
    observed: &Observed,
    index: usize,
    action_ctx: &ActionContext<'_>,
    policy: &SafetyPolicy,
    intent: &crate::api::Change,
    status: &mut IncidentStatus,
) {
    let generation = incident.metadata.generation;
    let action_name = status.steps[index].action.clone();
    let Some(action) = mitigation::find(&action_name) else {
        return;
    };
    let result = action
        .apply(action_ctx, intent)
        .instrument(tracing::info_span!("action.apply", action = %action_name, dry_run = action_ctx.dry_run))
        .await;
    let now = Utc::now();
    let validation = observed.playbook.spec().and_then(|s| s.validation.clone());
    match result {
        Ok(outcome) => {
            ctx.metrics.observe_action(
                &action_name,
                if outcome.already_applied {
                    "already-applied"
                } else {
                    "succeeded"
                },
            );
            lifecycle::step_succeeded(status, index, &outcome, validation.as_ref(), generation, now);
        }
        Err(error) => {
            ctx.metrics.observe_action(&action_name, "failed");
            lifecycle::step_failed(status, index, &error, policy.max_attempts, generation, now);
        }
    }
}

async fn measure(ctx: &Context, incident: &Incident, observed: &Observed, status: &mut IncidentStatus) {
    let spec = observed.playbook.spec().and_then(|s| s.validation.clone());
    let checks = match spec.as_ref().map(|s| s.checks.clone()) {
        Some(checks) if !checks.is_empty() => checks,
        _ => validation::default_checks_for(incident.spec.target.kind),
    };
    let namespace = incident.namespace().unwrap_or_default();
    let provider_ctx = ProviderContext {
        client: ctx.client.clone(),
        http: ctx.http.clone(),
        namespace: &namespace,
        default_prometheus_url: ctx.settings.prometheus_url.as_deref(),
        signals: observed.signals.as_ref(),
    };
    let measurements = checks.iter().map(|check| {
        let provider_ctx = &provider_ctx;
        async move {
            let result = match validation::provider_for(check) {
                Ok(provider) => {
                    let span = tracing::info_span!("provider.measure", check = %check.name);
                    provider.measure(provider_ctx).instrument(span).await
                }
                Err(e) => MeasurementResult {
                    verdict: validation::analysis::Verdict::Error,
                    value: None,
                    message: Some(e),
                },
            };
            (check.name.clone(), result)
        }
    });
    let results: Vec<(String, MeasurementResult)> = futures::future::join_all(measurements).await;
    for (_, r) in &results {
        ctx.metrics.observe_verdict(r.verdict.as_str());
    }
    let now = Utc::now();
    let after = lifecycle::record_measurements(
        status,
        spec.as_ref(),
        &results,
        incident.metadata.generation,
        ctx.settings.review_period,
        now,
    );
    if let AfterMeasure::Failed {
        revert_step: Some(index),
    } = after
    {
        let Some(action) = mitigation::find(&status.steps[index].action) else {
            return;
        };
        if !action.can_revert() {
            lifecycle::step_reverted(
                status,
                index,
                Err(&mitigation::ActionError::Refused(format!(
                    "{} cannot be reverted",
                    action.name()
                ))),
                now,
            );
            return;
        }
        let applied = status.steps[index].intent.clone().unwrap_or_default();
        let snapshot = status.clone();
        let action_ctx = action_context(ctx, incident, observed, &snapshot, index);
        let result = action
            .revert(&action_ctx, &applied)
            .instrument(tracing::info_span!("action.revert", action = %action.name()))
            .await;
        lifecycle::step_reverted(status, index, result.as_ref(), Utc::now());
    }
}
