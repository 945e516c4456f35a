//! The controllers: reconcile + error_policy over a shared [`Context`].

pub mod incident;
pub mod playbook;
mod status;

pub use status::FIELD_MANAGER;

use crate::api::{Incident, Playbook};
use crate::lifecycle::claims::{ClaimTable, Claimant};
use crate::lifecycle::effects::ClaimResult;
use crate::lifecycle::OtherIncident;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;
use kube::Client;
use std::sync::Arc;

/// Operator-wide settings from the command line.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Watch only this namespace.
    pub namespace: Option<String>,
    pub prometheus_url: Option<String>,
    pub aws_endpoint_url: Option<String>,
    /// The cluster-wide limit on Incidents mitigating at once.
    pub max_concurrent_mitigations: usize,
    /// Incidents reconciled at once.
    pub incident_workers: u16,
    /// Crash points for crash-safety tests; none in a release build.
    pub failpoints: crate::failpoint::Failpoints,
    /// Time from resolution until the post-incident review is due.
    pub review_period: std::time::Duration,
    /// The Secret key holding the Alertmanager webhook's bearer token.
    pub webhook_token_secret: Option<crate::webhook::token::TokenRef>,
    /// Hears about Incidents no Playbook handles.
    pub default_receiver: Option<crate::notify::Receiver>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            namespace: None,
            prometheus_url: None,
            aws_endpoint_url: None,
            max_concurrent_mitigations: 5,
            incident_workers: 16,
            failpoints: Default::default(),
            review_period: crate::lifecycle::DEFAULT_REVIEW_PERIOD,
            webhook_token_secret: None,
            default_receiver: None,
        }
    }
}

/// What every reconcile shares.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    pub http: reqwest::Client,
    /// Every Incident in scope, for locking, cooldowns and the concurrency limit.
    pub incidents: Store<Incident>,
    /// Every Playbook in scope, as the watch last saw them.
    pub playbooks: Store<Playbook>,
    /// Warning events in scope, for triage and evidence.
    pub warning_events: Store<k8s_openapi::api::core::v1::Event>,
    /// AWS clients, built when an AWS target or action first needs them.
    pub aws: crate::aws::Aws,
    /// Delivers notifications in the background and hands failures back.
    pub notifier: Notifier,
    /// Who may act on which target, and how many act at once.
    claims: std::sync::Mutex<ClaimTable>,
}

impl Context {
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        settings: Settings,
        incidents: Store<Incident>,
        playbooks: Store<Playbook>,
        warning_events: Store<k8s_openapi::api::core::v1::Event>,
        notifier: Notifier,
    ) -> Context {
        let reporter = Reporter {
            controller: "dontpanic".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("dontpanic/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("an HTTP client with default settings builds");
        Context {
            aws: crate::aws::Aws::new(settings.aws_endpoint_url.clone()),
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            settings,
            http,
            incidents,
            playbooks,
            warning_events,
            notifier,
            claims: Default::default(),
        }
    }

    /// Claims a target and a mitigation slot for an Incident about to act. Every worker claims
    /// through this one lock, so the limit holds exactly however many reconcile at once.
    pub fn claim(&self, me: &Claimant, others: &[OtherIncident], now: chrono::DateTime<chrono::Utc>) -> ClaimResult {
        let mut table = self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.claim(me, others, self.settings.max_concurrent_mitigations, now)
    }

    /// Frees a closed Incident's claim.
    pub fn release_claim(&self, uid: &str) {
        let mut table = self.claims.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        table.release(uid);
    }
}

/// Errors a reconcile can end with; all are retried with backoff by `error_policy`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// A status write was refused because the object changed since it was read.
    #[error("conflict writing status: {0}")]
    Conflict(String),
    #[error("{0}")]
    Other(String),
    #[error(transparent)]
    Panicked(#[from] Panicked),
}

/// A reconcile panicked; the panic was contained to that object, which is retried.
#[derive(Debug, thiserror::Error)]
#[error("reconcile panicked: {0}")]
pub struct Panicked(pub String);

/// The longest a reconcile asks to wait before the next one. Waits come from times written in
/// status and Playbooks; the controller's timer queue panics on deadlines years away, and
/// looking again within the hour costs nothing.
pub const MAX_REQUEUE: std::time::Duration = std::time::Duration::from_secs(3600);

/// A requeue after `wait`, capped at [`MAX_REQUEUE`].
pub fn requeue_after(wait: std::time::Duration) -> kube::runtime::controller::Action {
    kube::runtime::controller::Action::requeue(wait.min(MAX_REQUEUE))
}

/// Runs one reconcile so that a panic in it becomes a [`Panicked`] error for `error_policy` to
/// retry with backoff, instead of ending the controller and with it the process.
pub async fn contain_panics<T, E: From<Panicked>>(
    reconcile: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    use futures::FutureExt;
    // Nothing is shared across the unwind that a later reconcile could see half-updated: the
    // state a reconcile changes lives in the API server and in mutexes that tolerate poison.
    match std::panic::AssertUnwindSafe(reconcile).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-text panic payload".to_string());
            tracing::error!(%message, "reconcile panicked; retrying with backoff");
            Err(Panicked(message).into())
        }
    }
}

#[cfg(test)]
mod panic_tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_reconcile_becomes_an_error() {
        let result: Result<(), Error> = contain_panics(async {
            tokio::task::yield_now().await;
            panic!("index out of bounds");
        })
        .await;
        assert!(matches!(result, Err(Error::Panicked(Panicked(m))) if m == "index out of bounds"));
        let formatted: Result<(), Error> = contain_panics(async { panic!("step {}", 3) }).await;
        assert!(matches!(formatted, Err(Error::Panicked(Panicked(m))) if m == "step 3"));
    }

    #[tokio::test]
    async fn a_reconcile_that_does_not_panic_is_untouched() {
        assert!(matches!(contain_panics(async { Ok::<_, Error>(7) }).await, Ok(7)));
        let err = contain_panics(async { Err::<(), _>(Error::Other("no".into())) }).await;
        assert!(matches!(err, Err(Error::Other(m)) if m == "no"));
    }

    #[test]
    fn requeues_are_capped() {
        assert_eq!(
            requeue_after(std::time::Duration::MAX),
            kube::runtime::controller::Action::requeue(MAX_REQUEUE)
        );
    }
}
