//! Delivery in the background: what an Incident's written status holds is sent once per
//! attempt, with a timeout; Minor notifications wait for the digest; each attempt's result is
//! handed back to the Incident controller, which records it in the next status write.

use super::outbox::{self, Attempt, Target};
use super::route::{targets, Handling};
use super::{body, digest_body, Message, Notification, Receiver, DEFAULT_DIGEST_INTERVAL};
use crate::api::{Incident, IncidentStatus, PendingNotification, Playbook, ReceiverOrigin, ReceiverType};
use crate::webhook::token::TokenRef;
use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Client, ResourceExt};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

const TIMEOUT: Duration = Duration::from_secs(5);
/// The default PagerDuty Events API v2 endpoint.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// How long an attempt whose result is in status is remembered, so that an Incident read from
/// a cache that is behind that write does not send it again.
const REMEMBER_SENT: Duration = Duration::from_secs(600);

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
enum DeliveryError {
    #[error("cannot read Secret {namespace}/{name}: {source}")]
    Secret {
        namespace: String,
        name: String,
        source: kube::Error,
    },
    #[error("Secret {namespace}/{name} has no key {key}")]
    SecretKey {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("receiver {0} names no url Secret")]
    NoUrl(String),
    #[error("pagerduty receiver {0} names no routingKey Secret")]
    NoRoutingKey(String),
    #[error("receiver {0} is no longer defined")]
    Gone(String),
    #[error("POST failed: {0}")]
    Post(#[from] reqwest::Error),
    #[error("receiver answered {0}")]
    Status(reqwest::StatusCode),
}

/// `namespace/name` of an Incident: the key of everything remembered about it.
type IncidentKey = String;

/// One attempt of one pending notification: what to report its result for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Sent {
    incident: IncidentKey,
    id: String,
    receiver: String,
    number: u32,
}

struct Job {
    receiver: Receiver,
    payload: Payload,
    reports: Vec<Sent>,
    what: String,
}

enum Payload {
    One(Box<Message>),
    Digest(Vec<Message>),
}

struct DigestBatch {
    receiver: Receiver,
    interval: Duration,
    since: Instant,
    messages: Vec<Message>,
    reports: Vec<Sent>,
}

struct Shared {
    client: Client,
    http: reqwest::Client,
    playbooks: Store<Playbook>,
    default_receiver: Option<Receiver>,
    /// Attempt results not yet known to be in status.
    results: Mutex<HashMap<IncidentKey, Vec<Attempt>>>,
    /// Attempts started: `None` until their result is in status, then when it was seen there.
    sent: Mutex<HashMap<Sent, Option<Instant>>>,
    /// When each Incident is already due to be reconciled for a retry.
    wakeups: Mutex<HashMap<IncidentKey, DateTime<Utc>>>,
    /// Wakes the Incident controller for an Incident with a result to record or a retry due.
    retrigger: mpsc::UnboundedSender<ObjectRef<Incident>>,
    digests: Mutex<HashMap<(String, ReceiverOrigin, String), DigestBatch>>,
}

/// Delivers pending notifications in background tasks; cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Job>,
}

fn key(incident: &Incident) -> IncidentKey {
    format!("{}/{}", incident.namespace().unwrap_or_default(), incident.name_any())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps stay consistent even if a holder panicked: each update is one insert or remove.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    fn retrigger(&self, incident: &str) {
        if let Some((namespace, name)) = incident.split_once('/') {
            let _ = self.retrigger.send(ObjectRef::new(name).within(namespace));
        }
    }

    /// Hands an attempt's result to the Incident controller.
    fn report(&self, sent: &Sent, failure: Option<String>) {
        lock(&self.results)
            .entry(sent.incident.clone())
            .or_default()
            .push(Attempt {
                id: sent.id.clone(),
                receiver: sent.receiver.clone(),
                number: sent.number,
                failure,
            });
        self.retrigger(&sent.incident);
    }

    /// Reconciles the Incident at `at`, unless it already will be by then.
    fn wake_at(self: &Arc<Self>, incident: IncidentKey, at: DateTime<Utc>) {
        {
            let mut wakeups = lock(&self.wakeups);
            if wakeups.get(&incident).is_some_and(|w| *w <= at && *w > Utc::now()) {
                return;
            }
            wakeups.insert(incident.clone(), at);
        }
        let shared = self.clone();
        let wait = (at - Utc::now()).to_std().unwrap_or_default();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            lock(&shared.wakeups).remove(&incident);
            shared.retrigger(&incident);
        });
    }

    /// The receiver a pending notification names, as defined now.
    fn receiver(
        &self,
        incident: &Incident,
        status: &IncidentStatus,
        pending: &PendingNotification,
    ) -> Option<Receiver> {
        match pending.receiver_from {
            ReceiverOrigin::OperatorDefault => self.default_receiver.clone().filter(|r| r.name == pending.receiver),
            ReceiverOrigin::Playbook => {
                let namespace = incident.namespace().unwrap_or_default();
                let playbook = self
                    .playbooks
                    .get(&ObjectRef::new(status.playbook.as_deref()?).within(&namespace))?;
                let spec = playbook.spec.notify.as_ref()?;
                let found = spec.receivers.iter().find(|r| r.name == pending.receiver)?;
                Some(Receiver::in_namespace(found, &namespace))
            }
        }
    }

    /// The digest interval of the Playbook the Incident follows.
    fn digest_interval(&self, incident: &Incident, status: &IncidentStatus) -> Duration {
        let namespace = incident.namespace().unwrap_or_default();
        status
            .playbook
            .as_deref()
            .and_then(|name| self.playbooks.get(&ObjectRef::new(name).within(&namespace)))
            .and_then(|pb| pb.spec.notify.clone())
            .and_then(|n| n.digest_interval)
            .and_then(|d| crate::duration::parse_duration_at_most(&d, crate::duration::MAX_PLAYBOOK_DURATION).ok())
            .unwrap_or(DEFAULT_DIGEST_INTERVAL)
    }
}

impl Notifier {
    /// Starts the delivery and digest tasks. The returned stream names Incidents with an
    /// attempt result to record or a retry due; the Incident controller reconciles on it.
    pub fn start(
        client: Client,
        playbooks: Store<Playbook>,
        default_receiver: Option<Receiver>,
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
            default_receiver,
            results: Default::default(),
            sent: Default::default(),
            wakeups: Default::default(),
            retrigger,
            digests: Default::default(),
        });
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let worker = shared.clone();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                let shared = worker.clone();
                tokio::spawn(async move { send(&shared, job).await });
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

    /// Whether the Incident has notifications to deliver or attempt results to record.
    pub fn has_work(&self, incident: &Incident) -> bool {
        incident.status.as_ref().is_some_and(|s| !s.notifications.is_empty())
            || lock(&self.shared.results)
                .get(&key(incident))
                .is_some_and(|r| !r.is_empty())
    }

    /// Who new notifications about the Incident go to, given its status.
    fn targets(&self, incident: &Incident, status: &IncidentStatus) -> Vec<Target> {
        let Some(severity) = status.severity else {
            return Vec::new();
        };
        let namespace = incident.namespace().unwrap_or_default();
        let playbook = status
            .playbook
            .as_deref()
            .and_then(|name| self.shared.playbooks.get(&ObjectRef::new(name).within(&namespace)))
            .filter(|pb| crate::controller::playbook::problems(&pb.spec).is_empty());
        let handling = match (&status.linked_to, &playbook) {
            (Some(_), _) => Handling::Linked,
            (None, Some(pb)) => Handling::Playbook(pb.spec.notify.as_ref()),
            (None, None) => Handling::Nobody,
        };
        targets(handling, severity, self.shared.default_receiver.as_ref())
    }

    /// Forgets the attempt results `status` (as written to the API server) already records.
    fn recorded(&self, incident: &Incident, status: &IncidentStatus) {
        let incident_key = key(incident);
        let mut results = lock(&self.shared.results);
        let Some(list) = results.get_mut(&incident_key) else {
            return;
        };
        let mut sent = lock(&self.shared.sent);
        list.retain(|attempt| {
            if !outbox::reflects(status, attempt) {
                return true;
            }
            let done = Sent {
                incident: incident_key.clone(),
                id: attempt.id.clone(),
                receiver: attempt.receiver.clone(),
                number: attempt.number,
            };
            sent.insert(done, Some(Instant::now()));
            false
        });
        if list.is_empty() {
            results.remove(&incident_key);
        }
        sent.retain(|_, seen| seen.is_none_or(|at| at.elapsed() < REMEMBER_SENT));
    }

    /// Starts an attempt for each due pending notification of the Incident that has none under
    /// way, and schedules a reconcile for the first retry not yet due. `status` is as written
    /// to (or read from) the API server, so nothing is sent that a crash could lose from there.
    pub fn dispatch(&self, incident: &Incident, status: &IncidentStatus) {
        let now = Utc::now();
        let incident_key = key(incident);
        let mut next_retry: Option<DateTime<Utc>> = None;
        for pending in &status.notifications {
            if !outbox::due(pending, now) {
                next_retry = match (next_retry, pending.next_attempt_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                continue;
            }
            let sent = Sent {
                incident: incident_key.clone(),
                id: pending.id.clone(),
                receiver: pending.receiver.clone(),
                number: pending.attempts + 1,
            };
            if lock(&self.shared.sent).insert(sent.clone(), None).is_some() {
                continue;
            }
            tracing::info!(incident = %incident_key, id = %pending.id, receiver = %pending.receiver, kind = pending.kind.as_str(), attempt = sent.number, "notification");
            let Some(receiver) = self.shared.receiver(incident, status, pending) else {
                let gone = DeliveryError::Gone(pending.receiver.clone());
                self.shared.report(&sent, Some(gone.to_string()));
                continue;
            };
            let message = Message::of(incident, pending);
            if pending.digest {
                let interval = self.shared.digest_interval(incident, status);
                let namespace = incident.namespace().unwrap_or_default();
                let mut digests = lock(&self.shared.digests);
                let batch = digests
                    .entry((namespace, pending.receiver_from, receiver.name.clone()))
                    .or_insert_with(|| DigestBatch {
                        receiver: receiver.clone(),
                        interval,
                        since: Instant::now(),
                        messages: Vec::new(),
                        reports: Vec::new(),
                    });
                if batch.messages.is_empty() {
                    batch.since = Instant::now();
                }
                batch.interval = interval;
                batch.receiver = receiver;
                batch.messages.push(message);
                batch.reports.push(sent);
            } else {
                let _ = self.tx.send(Job {
                    receiver,
                    what: pending.kind.as_str().to_string(),
                    payload: Payload::One(Box::new(message)),
                    reports: vec![sent],
                });
            }
        }
        if let Some(at) = next_retry {
            self.shared.wake_at(incident_key, at);
        }
    }
}

/// What one reconcile's status writes carry from one to the next about notifications.
#[derive(Default)]
pub struct OutboxWriter {
    /// Attempt results applied by this reconcile's writes. A status decided before one of those
    /// writes gets them applied again, so that it does not bring back what they removed.
    attempts: Vec<Attempt>,
}

impl OutboxWriter {
    /// The status to write instead of `incoming`, with its pending notifications up to date
    /// (see [`outbox::stage`]), and the notifications the change from `written` causes.
    pub fn stage(
        &mut self,
        notifier: &Notifier,
        incident: &Incident,
        written: Option<&IncidentStatus>,
        incoming: &IncidentStatus,
    ) -> (IncidentStatus, Vec<Notification>) {
        let reported = lock(&notifier.shared.results)
            .get(&key(incident))
            .cloned()
            .unwrap_or_default();
        for attempt in reported {
            if !self.attempts.contains(&attempt) {
                self.attempts.push(attempt);
            }
        }
        // `written` came from the API server: what it records needs no memory any more.
        if let Some(written) = written {
            notifier.recorded(incident, written);
        }
        let now = Utc::now();
        let id_base = format!(
            "{}-{}",
            incident.metadata.uid.clone().unwrap_or_else(|| incident.name_any()),
            now.timestamp_micros()
        );
        let targets = notifier.targets(incident, incoming);
        outbox::stage(written, incoming, &self.attempts, &targets, &id_base, now)
    }

    /// After `status` was written: forgets what it records and delivers what it holds.
    pub fn written(&self, notifier: &Notifier, incident: &Incident, status: &IncidentStatus) {
        notifier.recorded(incident, status);
        notifier.dispatch(incident, status);
    }
}

fn due_digests(shared: &Shared) -> Vec<Job> {
    let mut digests = lock(&shared.digests);
    let mut jobs = Vec::new();
    for batch in digests.values_mut() {
        if !batch.messages.is_empty() && batch.since.elapsed() >= batch.interval {
            jobs.push(Job {
                receiver: batch.receiver.clone(),
                what: format!("digest of {}", batch.messages.len()),
                payload: Payload::Digest(std::mem::take(&mut batch.messages)),
                reports: std::mem::take(&mut batch.reports),
            });
            batch.since = Instant::now();
        }
    }
    jobs
}

async fn secret_value(client: &Client, reference: &TokenRef) -> Result<String, DeliveryError> {
    let secret = Api::<Secret>::namespaced(client.clone(), &reference.namespace)
        .get(&reference.name)
        .await
        .map_err(|source| DeliveryError::Secret {
            namespace: reference.namespace.clone(),
            name: reference.name.clone(),
            source,
        })?;
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(&reference.key))
        .ok_or_else(|| DeliveryError::SecretKey {
            namespace: reference.namespace.clone(),
            name: reference.name.clone(),
            key: reference.key.clone(),
        })?;
    Ok(String::from_utf8_lossy(&bytes.0).trim().to_string())
}

async fn send_once(shared: &Shared, job: &Job) -> Result<(), DeliveryError> {
    let receiver = &job.receiver;
    let url = match (&receiver.url, receiver.type_) {
        (Some(reference), _) => secret_value(&shared.client, reference).await?,
        (None, ReceiverType::Pagerduty) => PAGERDUTY_EVENTS_URL.to_string(),
        (None, _) => return Err(DeliveryError::NoUrl(receiver.name.clone())),
    };
    let routing_key = match &receiver.routing_key {
        Some(reference) => Some(secret_value(&shared.client, reference).await?),
        None => None,
    };
    if receiver.type_ == ReceiverType::Pagerduty && routing_key.is_none() {
        return Err(DeliveryError::NoRoutingKey(receiver.name.clone()));
    }
    let payload = match &job.payload {
        Payload::One(m) => body(receiver.type_, m, routing_key.as_deref()),
        Payload::Digest(ms) => digest_body(receiver.type_, ms),
    };
    let response = shared.http.post(&url).json(&payload).send().await?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status(response.status()))
    }
}

/// One attempt; its result goes back to every notification it carried.
async fn send(shared: &Shared, job: Job) {
    let failure = match send_once(shared, &job).await {
        Ok(()) => {
            tracing::debug!(receiver = %job.receiver.name, what = %job.what, "notification delivered");
            None
        }
        Err(error) => {
            tracing::warn!(receiver = %job.receiver.name, what = %job.what, %error, "notification attempt failed");
            Some(error.to_string())
        }
    };
    for sent in &job.reports {
        shared.report(sent, failure.clone());
    }
}
