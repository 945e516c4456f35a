//! Starts the controllers and the HTTP server.

use crate::api::{Incident, Playbook};
use crate::controller::{self, Context, Settings};
use crate::http::{router, HttpState};
use crate::kubeutil::api_for;
use crate::metrics::Metrics;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use kube::runtime::reflector::Store;
use kube::runtime::utils::{predicates, Predicate, WatchStreamExt};
use kube::runtime::{reflector, watcher, Controller};
use kube::{Client, ResourceExt};
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

/// A Kubernetes client that counts the API requests it makes, for `/metrics`.
pub async fn client(metrics: Arc<Metrics>) -> anyhow::Result<Client> {
    let config = kube::Config::infer().await?;
    let counting = tower::util::MapRequestLayer::new(move |request: http::Request<kube::client::Body>| {
        metrics.observe_api_request(request.method().as_str());
        request
    });
    Ok(kube::client::ClientBuilder::try_from(config)?
        .with_layer(&counting)
        .build())
}

pub async fn run(
    client: Client,
    metrics: Arc<Metrics>,
    settings: Settings,
    leader: Option<crate::leader::LeaseConfig>,
    http_addr: SocketAddr,
) -> anyhow::Result<()> {
    ensure_crds(&client, settings.namespace.as_deref()).await?;
    let http_state = Arc::new(HttpState {
        ready: Default::default(),
        metrics: metrics.clone(),
    });
    let namespace = settings.namespace.clone();

    // Every replica, leader or standby, reads Playbooks: the webhook maps alerts with them.
    let (playbooks, playbooks_writer) = reflector::store::<Playbook>();
    let playbooks_api: Api<Playbook> = api_for(&client, namespace.as_deref());
    tokio::spawn(
        reflector(playbooks_writer, watcher(playbooks_api, watcher::Config::default()))
            .default_backoff()
            .applied_objects()
            .for_each(|_| async {}),
    );
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
    tracing::info!(
        http_addr = %listener.local_addr()?,
        "serving /healthz, /readyz, /metrics and {}",
        crate::webhook::PATH
    );
    let server = axum::serve(listener, router(http_state.clone()).merge(webhook));

    let controllers = async {
        if let Some(lease) = leader {
            let mut leading = crate::leader::spawn(client.clone(), lease);
            // A standby serves its HTTP endpoints (alerts included); it is ready once it knows
            // it is standing by.
            http_state.ready.store(true, Ordering::Relaxed);
            while !*leading.borrow() {
                if leading.changed().await.is_err() {
                    return;
                }
            }
            http_state.ready.store(false, Ordering::Relaxed);
        }
        run_controllers(client.clone(), metrics.clone(), settings, http_state.clone(), playbooks).await;
    };
    tokio::select! {
        _ = controllers => tracing::info!("controllers stopped"),
        result = server => result?,
    }
    Ok(())
}

/// Runs the Incident, Playbook and detection controllers until shutdown. Only the leader does.
async fn run_controllers(
    client: Client,
    metrics: Arc<Metrics>,
    settings: Settings,
    http_state: Arc<HttpState>,
    playbooks: Store<Playbook>,
) {
    let namespace = settings.namespace.clone();
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
    let (warning_events, events_writer) = reflector::store::<Event>();
    let events_watch = watcher(
        api_for::<Event>(&client, namespace.as_deref()),
        watcher::Config::default().fields("type=Warning"),
    )
    .default_backoff()
    .modify(|event| event.managed_fields_mut().clear())
    .reflect(events_writer)
    .for_each(|event| async move {
        if let Err(error) = event {
            tracing::warn!(%error, "watching Warning events failed; retrying");
        }
    });
    let (notifier, retriggered) =
        crate::notify::Notifier::start(client.clone(), playbooks.clone(), settings.default_receiver.clone());
    let ctx = Arc::new(Context::new(
        client.clone(),
        metrics.clone(),
        settings,
        reader.clone(),
        playbooks.clone(),
        warning_events.clone(),
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
    let incident_controller = {
        let (reader, ctx) = (reader.clone(), ctx.clone());
        async move {
            // Triage counts Warning events: it starts once they are known.
            if warning_events.wait_until_ready().await.is_err() {
                return;
            }
            Controller::for_stream(trigger, reader)
                .with_config(kube::runtime::controller::Config::default().concurrency(ctx.settings.incident_workers))
                .reconcile_on(retriggered)
                .shutdown_on_signal()
                .run(controller::incident::reconcile, controller::incident::error_policy, ctx)
                .for_each(|_| async {})
                .await
        }
    };
    let playbook_controller = Controller::new(
        api_for::<Playbook>(&client, namespace.as_deref()),
        watcher::Config::default(),
    )
    .shutdown_on_signal()
    .run(
        controller::playbook::reconcile,
        controller::playbook::error_policy,
        ctx.clone(),
    )
    .for_each(|_| async {});
    let readiness = {
        let reader = reader.clone();
        let events = ctx.warning_events.clone();
        let state = http_state.clone();
        async move {
            if reader.wait_until_ready().await.is_ok() && events.wait_until_ready().await.is_ok() {
                state.ready.store(true, Ordering::Relaxed);
                tracing::info!("watches synced; ready");
            }
        }
    };
    futures::future::join5(
        incident_controller,
        playbook_controller,
        detection,
        readiness,
        events_watch,
    )
    .await;
}
