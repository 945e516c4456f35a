//! `POST /webhooks/alertmanager`: Alertmanager alerts open, deduplicate and resolve Incidents.
//!
//! [`payload`] parses (pure), [`mapping`] maps labels to a target and severity (pure),
//! [`token`] guards the endpoint, and the handler here is the only part touching the API.

pub mod mapping;
pub mod payload;
pub mod token;

use crate::api::{
    AlertRef, Incident, IncidentSource, IncidentSpec, IncidentTarget, Phase, Playbook, ALERT_FINGERPRINT_LABEL,
    ALERT_RESOLVED_ANNOTATION,
};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::reflector::Store;
use kube::{Client, ResourceExt};
use serde_json::json;
use std::sync::Arc;

/// Bodies above this size are refused with 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const PATH: &str = "/webhooks/alertmanager";

pub struct WebhookState {
    pub client: Client,
    pub playbooks: Store<Playbook>,
    /// Only alerts for this namespace are acted on, when set.
    pub namespace: Option<String>,
    pub token: Option<Arc<token::Token>>,
}

pub fn router(state: Arc<WebhookState>) -> Router {
    Router::new()
        .route(PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

fn reject(code: StatusCode, message: impl Into<String>) -> Response {
    let message = message.into();
    tracing::info!(status = code.as_u16(), %message, "alertmanager webhook refused");
    (code, Json(json!({"error": message}))).into_response()
}

async fn receive(State(state): State<Arc<WebhookState>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(token) = &state.token {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !token.check(presented).await {
            return reject(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
        }
    }
    let payload = match payload::parse(&body) {
        Ok(p) => p,
        Err(e) => return reject(StatusCode::BAD_REQUEST, e),
    };
    let playbooks = state.playbooks.state();
    let refs: Vec<&Playbook> = playbooks.iter().map(|p| p.as_ref()).collect();
    // Validate everything first: a payload with any unusable alert creates nothing.
    let mut resolved = Vec::new();
    let mut errors = Vec::new();
    for alert in &payload.alerts {
        match mapping::resolve(alert, &refs) {
            Ok(target) => resolved.push((alert, target)),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return reject(StatusCode::BAD_REQUEST, errors.join("; "));
    }
    let mut outcome = json!({"created": [], "duplicates": [], "resolved": [], "ignored": []});
    for (alert, target) in resolved {
        if state.namespace.as_ref().is_some_and(|ns| *ns != target.namespace) {
            let key = format!("{}/{}", target.namespace, mapping::incident_name(alert));
            push(&mut outcome, "ignored", key);
            continue;
        }
        let api: Api<Incident> = Api::namespaced(state.client.clone(), &target.namespace);
        let result = if alert.firing() {
            open(&api, alert, &target).await.map(|opened| match opened {
                Opened::Created(name) => ("created", name),
                Opened::Duplicate(name) => ("duplicates", name),
            })
        } else {
            resolve(&api, alert).await.map(|found| match found {
                Some(name) => ("resolved", name),
                None => ("ignored", mapping::incident_name(alert)),
            })
        };
        match result {
            Ok((bucket, name)) => push(&mut outcome, bucket, format!("{}/{name}", target.namespace)),
            Err(e) => {
                return reject(
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("cannot record alert {}: {e}", alert.name()),
                )
            }
        }
    }
    tracing::info!(%outcome, "alertmanager webhook handled");
    (StatusCode::OK, Json(outcome)).into_response()
}

fn push(outcome: &mut serde_json::Value, bucket: &str, key: String) {
    if let Some(list) = outcome.get_mut(bucket).and_then(|v| v.as_array_mut()) {
        list.push(json!(key));
    }
}

/// What a firing alert did.
enum Opened {
    /// A new Incident by this name.
    Created(String),
    /// The alert's open Incident by this name, or the one this firing already opened.
    Duplicate(String),
}

/// The open Incident among those of one alert fingerprint: the oldest, when several are.
fn open_incident(incidents: &[Incident]) -> Option<&Incident> {
    incidents
        .iter()
        .filter(|i| !i.status.as_ref().and_then(|s| s.phase).is_some_and(Phase::is_closed))
        .min_by_key(|i| (i.creation_timestamp(), i.name_any()))
}

/// The Incidents opened by alerts with this fingerprint, read from the API server.
async fn incidents_of(api: &Api<Incident>, alert: &payload::Alert) -> Result<Vec<Incident>, kube::Error> {
    let selector = format!("{ALERT_FINGERPRINT_LABEL}={}", mapping::fingerprint_key(alert));
    Ok(api.list(&ListParams::default().labels(&selector)).await?.items)
}

/// Opens an Incident for the alert unless one of its Incidents is still open: a re-send and a
/// new firing while open add nothing; a firing after the last Incident closed opens a new one.
async fn open(
    api: &Api<Incident>,
    alert: &payload::Alert,
    target: &mapping::AlertTarget,
) -> Result<Opened, kube::Error> {
    if let Some(open) = open_incident(&incidents_of(api, alert).await?) {
        return Ok(Opened::Duplicate(open.name_any()));
    }
    let name = mapping::incident_name(alert);
    let summary = alert
        .annotations
        .get("summary")
        .cloned()
        .unwrap_or_else(|| format!("alert {} is firing", alert.name()));
    let mut incident = Incident::new(
        &name,
        IncidentSpec {
            summary: crate::evidence::clip(&summary, 1000),
            target: IncidentTarget {
                kind: target.kind,
                name: target.name.clone(),
                tags: Default::default(),
            },
            severity: None,
            playbook_ref: target.playbook.clone().map(|name| crate::api::PlaybookRef { name }),
            source: IncidentSource::Alertmanager,
            observed_at: alert.starts_at,
            alert: Some(AlertRef {
                name: alert.name().to_string(),
                fingerprint: alert.fingerprint(),
                severity: target.severity,
                starts_at: alert.starts_at,
                labels: alert.labels.clone(),
            }),
        },
    );
    incident
        .labels_mut()
        .insert(ALERT_FINGERPRINT_LABEL.into(), mapping::fingerprint_key(alert));
    match api.create(&PostParams::default(), &incident).await {
        Ok(_) => {
            tracing::info!(incident = %name, alert = %alert.name(), "alert opened an incident");
            Ok(Opened::Created(name))
        }
        // This firing opened it before and it has closed since: the firing is still the same.
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(Opened::Duplicate(name)),
        Err(e) => Err(e),
    }
}

/// Marks the Incident of the resolved firing as resolved by its source: the one this firing
/// opened, else the alert's open one it was deduplicated onto. `None` when there is neither.
async fn resolve(api: &Api<Incident>, alert: &payload::Alert) -> Result<Option<String>, kube::Error> {
    let existing = match api.get_opt(&mapping::incident_name(alert)).await? {
        Some(own) => own,
        None => match open_incident(&incidents_of(api, alert).await?) {
            Some(open) => open.clone(),
            None => return Ok(None),
        },
    };
    let name = existing.name_any();
    if existing.annotations().contains_key(ALERT_RESOLVED_ANNOTATION) {
        return Ok(Some(name));
    }
    let at = alert.ends_at.unwrap_or_else(chrono::Utc::now).to_rfc3339();
    let patch = json!({"metadata": {"annotations": {ALERT_RESOLVED_ANNOTATION: at}}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
    tracing::info!(incident = %name, alert = %alert.name(), "alert resolved");
    Ok(Some(name))
}

#[cfg(test)]
mod tests;
