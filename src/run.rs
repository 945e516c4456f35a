//! Starts the controllers and the HTTP server.

use crate::api::{Incident, Playbook};
use crate::controller::{self, Context, Settings};
use crate::http::{router, HttpState};
use crate::kubeutil::api_for;
use crate::metrics::Metrics;
use futures::StreamExt;
use kube::api::{Api, ListParams};
use kube::runtime::utils::{predicates, Predicate, WatchStreamExt};
use kube::runtime::{reflector, watcher, Controller};
use kube::Client;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Fails with a clear message when the CRDs are not installed.
pub async fn ensure_crds(client: &Client, namespace: Option<&str>) -> anyhow::Result<()> {
    let incidents: Api<Incident> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    match incidents.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => anyhow::bail!(
            "the dontpanic CRDs are not installed in this cluster.\n\
             Install them with:  dontpanic crds | kubectl apply --server-side -f -\n\
             or install the Helm chart:  helm install dontpanic charts/dontpanic"
        ),
        Err(e) => Err(anyhow::anyhow!("cannot list Incidents: {e}")),
    }
}

pub async fn run(client: Client, settings: Settings, http_addr: SocketAddr) -> anyhow::Result<()> {
    ensure_crds(&client, settings.namespace.as_deref()).await?;
    let metrics = Arc::new(Metrics::default());
    let http_state = Arc::new(HttpState {
        ready: Default::default(),
        metrics: metrics.clone(),
    });
    let namespace = settings.namespace.clone();
    let playbooks_api: Api<Playbook> = api_for(&client, namespace.as_deref());
    let playbook_controller = Controller::new(playbooks_api, watcher::Config::default());
    let playbooks = playbook_controller.store();

    let token = settings
        .webhook_token_secret
        .clone()
        .map(|r| Arc::new(crate::webhook::token::Token::new(client.clone(), r)));
    if let Some(token) = token.clone() {
        token.refresh().await;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(crate::webhook::token::REFRESH).await;
                token.refresh().await;
            }
        });
    }
    let webhook = crate::webhook::router(Arc::new(crate::webhook::WebhookState {
        client: client.clone(),
        playbooks: playbooks.clone(),
        namespace: namespace.clone(),
        token,
    }));
    let listener = tokio::net::TcpListener::bind(http_addr).await?;
    tracing::info!(%http_addr, "serving /healthz, /readyz, /metrics and {}", crate::webhook::PATH);
    let server = axum::serve(listener, router(http_state.clone()).merge(webhook));

    let incidents_api: Api<Incident> = api_for(&client, namespace.as_deref());
    let (reader, writer) = reflector::store::<Incident>();
    // Status writes do not trigger reconciles: only spec (generation) and annotation changes
    // do, and the lifecycle requeues itself. This keeps the operator from reacting to itself.
    let trigger = reflector(writer, watcher(incidents_api, watcher::Config::default()))
        .default_backoff()
        .touched_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::annotations),
            Default::default(),
        );
    let (notifier, retriggered) = crate::notify::Notifier::start(client.clone(), playbooks.clone());
    let ctx = Arc::new(Context::new(
        client.clone(),
        metrics.clone(),
        settings,
        reader.clone(),
        notifier,
    ));
    let detection = crate::detection::controller::run(
        Arc::new(crate::detection::controller::DetectionContext {
            client: client.clone(),
            playbooks: playbooks.clone(),
            incidents: reader.clone(),
            metrics: metrics.clone(),
        }),
        namespace.clone(),
    );

    let incident_controller = Controller::for_stream(trigger, reader.clone())
        .reconcile_on(retriggered)
        .shutdown_on_signal()
        .run(
            controller::incident::reconcile,
            controller::incident::error_policy,
            ctx.clone(),
        )
        .for_each(|_| async {});
    let playbook_controller = playbook_controller
        .shutdown_on_signal()
        .run(
            controller::playbook::reconcile,
            controller::playbook::error_policy,
            ctx.clone(),
        )
        .for_each(|_| async {});
    let readiness = {
        let reader = reader.clone();
        let state = http_state.clone();
        async move {
            if reader.wait_until_ready().await.is_ok() {
                state.ready.store(true, Ordering::Relaxed);
                tracing::info!("watches synced; ready");
            }
        }
    };
    tokio::select! {
        _ = futures::future::join4(incident_controller, playbook_controller, detection, readiness) => tracing::info!("controllers stopped"),
        result = server => result?,
    }
    Ok(())
}
