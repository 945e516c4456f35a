//! Delivery in the background: secrets resolved per send, timeouts, bounded retries, the Minor
//! digest, and failures handed back to the Incident controller for the timeline.

use super::{body, digest_body, route, Delivery, Message, Notification, DEFAULT_DIGEST_INTERVAL};
use crate::api::{Incident, IncidentStatus, Playbook, ReceiverSpec, ReceiverType, SecretKeyRef};
use chrono::Utc;
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Attempts per notification before it counts as failed.
pub const MAX_ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(5);
/// The default PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

struct Job {
    namespace: String,
    receiver: ReceiverSpec,
    payload: Payload,
    /// `namespace/name` of the Incident to report a failure on, when there is one.
    incident: Option<String>,
    what: String,
}

enum Payload {
    One(Box<Message>),
    Digest(Vec<Message>),
}

struct DigestBatch {
    namespace: String,
    receiver: ReceiverSpec,
    interval: Duration,
    since: Instant,
    messages: Vec<Message>,
}

struct Shared {
    client: Client,
    http: reqwest::Client,
    playbooks: Store<Playbook>,
    failures: Mutex<HashMap<String, Vec<String>>>,
    /// Wakes the Incident controller for an Incident with a failure to record.
    retrigger: mpsc::UnboundedSender<ObjectRef<Incident>>,
    digests: Mutex<HashMap<(String, String), DigestBatch>>,
}

/// Hands notifications to a background task; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Job>,
}

fn key(incident: &Incident) -> String {
    format!("{}/{}", incident.namespace().unwrap_or_default(), incident.name_any())
}

impl Notifier {
    /// Starts the delivery and digest tasks. The returned stream names Incidents that have a
    /// failed notification to record; the Incident controller reconciles on it.
    pub fn start(
        client: Client,
        playbooks: Store<Playbook>,
    ) -> (
        Notifier,
        impl futures::Stream<Item = ObjectRef<Incident>> + Send + 'static,
    ) {
        let (retrigger, retriggered) = mpsc::unbounded_channel();
        let http = reqwest::Client::builder()
            .user_agent(concat!("dontpanic/", env!("CARGO_PKG_VERSION")))
            .timeout(TIMEOUT)
            .build()
            .expect("an HTTP client with default settings builds");
        let shared = Arc::new(Shared {
            client,
            http,
            playbooks,
            failures: Default::default(),
            retrigger,
            digests: Default::default(),
        });
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let worker = shared.clone();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let shared = worker.clone();
                tokio::spawn(async move { send_with_retries(&shared, job).await });
            }
        });
        let digester = shared.clone();
        let digest_tx = tx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                for job in due_digests(&digester) {
                    let _ = digest_tx.send(job);
                }
            }
        });
        let stream = futures::stream::unfold(retriggered, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
        (Notifier { shared, tx }, stream)
    }

    /// Whether failed notifications of this Incident wait to be recorded.
    pub fn has_failures(&self, incident: &Incident) -> bool {
        self.shared
            .failures
            .lock()
            .expect("failure lock")
            .get(&key(incident))
            .is_some_and(|f| !f.is_empty())
    }

    /// Routes and queues notifications; returns at once.
    pub fn deliver(&self, incident: &Incident, status: &IncidentStatus, notifications: &[Notification]) {
        let namespace = incident.namespace().unwrap_or_default();
        for n in notifications {
            tracing::info!(incident = %key(incident), notification = ?n, severity = ?status.severity, "notification");
        }
        let (Some(severity), Some(playbook)) = (status.severity, status.playbook.as_deref()) else {
            return;
        };
        let Some(pb) = self
            .shared
            .playbooks
            .get(&kube::runtime::reflector::ObjectRef::new(playbook).within(&namespace))
        else {
            return;
        };
        let Some(spec) = pb.spec.notify.clone() else {
            return;
        };
        let interval = spec
            .digest_interval
            .as_deref()
            .and_then(|d| crate::duration::parse_duration(d).ok())
            .unwrap_or(DEFAULT_DIGEST_INTERVAL);
        let deliveries = route(&spec, severity);
        for n in notifications {
            let message = Message {
                namespace: namespace.clone(),
                incident: incident.name_any(),
                notification: n.clone(),
                severity,
                phase: status.phase.map(|p| p.to_string()).unwrap_or_default(),
                target: incident.spec.target.display(),
                summary: incident.spec.summary.clone(),
                responder: status.responder.clone(),
                time: Utc::now(),
            };
            for Delivery { receiver, digest } in &deliveries {
                if !n.may_page() && super::route::pages(receiver) {
                    continue;
                }
                if *digest {
                    let mut digests = self.shared.digests.lock().expect("digest lock");
                    let batch = digests
                        .entry((namespace.clone(), receiver.name.clone()))
                        .or_insert_with(|| DigestBatch {
                            namespace: namespace.clone(),
                            receiver: receiver.clone(),
                            interval,
                            since: Instant::now(),
                            messages: Vec::new(),
                        });
                    if batch.messages.is_empty() {
                        batch.since = Instant::now();
                    }
                    batch.interval = interval;
                    batch.messages.push(message.clone());
                } else {
                    let _ = self.tx.send(Job {
                        namespace: namespace.clone(),
                        receiver: receiver.clone(),
                        payload: Payload::One(Box::new(message.clone())),
                        incident: Some(key(incident)),
                        what: n.kind().to_string(),
                    });
                }
            }
        }
    }

    /// Failed notifications of this Incident not yet in its timeline; each is returned once.
    pub fn take_failures(&self, incident: &Incident) -> Vec<String> {
        self.shared
            .failures
            .lock()
            .expect("failure lock")
            .remove(&key(incident))
            .unwrap_or_default()
    }
}

fn due_digests(shared: &Shared) -> Vec<Job> {
    let mut digests = shared.digests.lock().expect("digest lock");
    let mut jobs = Vec::new();
    for batch in digests.values_mut() {
        if !batch.messages.is_empty() && batch.since.elapsed() >= batch.interval {
            jobs.push(Job {
                namespace: batch.namespace.clone(),
                receiver: batch.receiver.clone(),
                what: format!("digest of {}", batch.messages.len()),
                payload: Payload::Digest(std::mem::take(&mut batch.messages)),
                incident: None,
            });
            batch.since = Instant::now();
        }
    }
    jobs
}

async fn secret_value(client: &Client, namespace: &str, reference: &SecretKeyRef) -> Result<String, String> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get(&reference.name)
        .await
        .map_err(|e| format!("cannot read Secret {namespace}/{}: {e}", reference.name))?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .ok_or_else(|| format!("Secret {namespace}/{} has no key {}", reference.name, reference.key))?;
    Ok(String::from_utf8_lossy(&bytes.0).trim().to_string())
}

async fn send_once(shared: &Shared, job: &Job) -> Result<(), String> {
    let receiver = &job.receiver;
    let url = match (&receiver.url, receiver.type_) {
        (Some(reference), _) => secret_value(&shared.client, &job.namespace, reference).await?,
        (None, ReceiverType::Pagerduty) => PAGERDUTY_EVENTS_URL.to_string(),
        (None, _) => return Err(format!("receiver {} names no url Secret", receiver.name)),
    };
    let routing_key = match &receiver.routing_key {
        Some(reference) => Some(secret_value(&shared.client, &job.namespace, reference).await?),
        None => None,
    };
    if receiver.type_ == ReceiverType::Pagerduty && routing_key.is_none() {
        return Err(format!(
            "pagerduty receiver {} names no routingKey Secret",
            receiver.name
        ));
    }
    let payload = match &job.payload {
        Payload::One(m) => body(receiver.type_, m, routing_key.as_deref()),
        Payload::Digest(ms) => digest_body(receiver.type_, ms),
    };
    let response = shared
        .http
        .post(&url)
        .json(&payload)
        .send()
        .await
        .map_err(|e| format!("POST failed: {e}"))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(format!("receiver answered {}", response.status()))
    }
}

async fn send_with_retries(shared: &Shared, job: Job) {
    let mut last = String::new();
    for attempt in 1..=MAX_ATTEMPTS {
        match send_once(shared, &job).await {
            Ok(()) => {
                tracing::debug!(receiver = %job.receiver.name, what = %job.what, "notification delivered");
                return;
            }
            Err(e) => last = e,
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
        }
    }
    tracing::warn!(receiver = %job.receiver.name, what = %job.what, error = %last, "notification failed");
    if let Some(incident) = job.incident {
        shared
            .failures
            .lock()
            .expect("failure lock")
            .entry(incident.clone())
            .or_default()
            .push(format!(
                "{} notification to receiver {} failed after {MAX_ATTEMPTS} attempts: {last}",
                job.what, job.receiver.name
            ));
        if let Some((namespace, name)) = incident.split_once('/') {
            let _ = shared.retrigger.send(ObjectRef::new(name).within(namespace));
        }
    }
}
