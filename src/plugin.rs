//! The commands behind `kubectl dontpanic` (and `dontpanic report|timeline|list|approve`).

use crate::api::{Incident, APPROVAL_ANNOTATION, APPROVED_BY_ANNOTATION};
use crate::cli::{PluginCommand, ReportFormat};
use crate::report::{self, markdown_utc};
use chrono::{DateTime, Utc};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

/// Why a command could not do its job; each becomes a one-line message and exit code 1.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("incident {name:?} not found in namespace {namespace:?}")]
    NotFound { name: String, namespace: String },
    #[error("cannot load the kubeconfig: {0}")]
    Config(String),
    #[error("the dontpanic CRDs are not installed in this cluster")]
    NoCrds,
    #[error("incident {name:?} in namespace {namespace:?} has no step waiting for approval (phase {phase})")]
    NotAwaiting {
        name: String,
        namespace: String,
        phase: String,
    },
    #[error("the API server did not say who you are (its SelfSubjectReview has no username)")]
    Anonymous,
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
}

/// Runs a command and returns the process exit code.
pub async fn run(command: PluginCommand) -> i32 {
    match execute(command).await {
        Ok(text) => {
            print!("{text}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn connect() -> Result<(Client, String), PluginError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::infer()
        .await
        .map_err(|e| PluginError::Config(e.to_string()))?;
    let namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| PluginError::Config(e.to_string()))?;
    Ok((client, namespace))
}

fn not_found(e: kube::Error, name: &str, namespace: &str) -> PluginError {
    match e {
        kube::Error::Api(ref s)
            if s.code == 404 && s.message.contains("the server could not find the requested resource") =>
        {
            PluginError::NoCrds
        }
        kube::Error::Api(ref s) if s.code == 404 => PluginError::NotFound {
            name: name.to_string(),
            namespace: namespace.to_string(),
        },
        other => PluginError::Kube(other),
    }
}

async fn get_incident(client: &Client, namespace: &str, name: &str) -> Result<Incident, PluginError> {
    Api::<Incident>::namespaced(client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| not_found(e, name, namespace))
}

/// The archived timeline; a user who may not read ConfigMaps gets the status timeline only,
/// with a warning.
async fn read_archive(
    client: &Client,
    namespace: &str,
    incident: &str,
) -> Result<Vec<crate::api::TimelineEntry>, PluginError> {
    match crate::archive::read(client, namespace, incident).await {
        Ok(entries) => Ok(entries),
        Err(kube::Error::Api(s)) if s.code == 403 => {
            eprintln!(
                "warning: cannot read the timeline archive (ConfigMap {}): {}; showing the status timeline only",
                crate::archive::archive_name(incident),
                s.message
            );
            Ok(Vec::new())
        }
        Err(e) => Err(e.into()),
    }
}

/// Executes a command and returns what it prints.
pub async fn execute(command: PluginCommand) -> Result<String, PluginError> {
    let (client, default_namespace) = connect().await?;
    match command {
        PluginCommand::Report {
            incident,
            namespace,
            format,
        } => {
            let namespace = namespace.unwrap_or(default_namespace);
            let inc = get_incident(&client, &namespace, &incident).await?;
            let archived = read_archive(&client, &namespace, &incident).await?;
            let report = report::build(&inc, &archived);
            Ok(match format {
                ReportFormat::Markdown => report::to_markdown(&report),
                ReportFormat::Json => report::to_json(&report) + "\n",
            })
        }
        PluginCommand::Timeline { incident, namespace } => {
            let namespace = namespace.unwrap_or(default_namespace);
            let inc = get_incident(&client, &namespace, &incident).await?;
            let archived = read_archive(&client, &namespace, &incident).await?;
            let current = inc.status.map(|s| s.timeline).unwrap_or_default();
            let entries = report::merge_timeline(&archived, &current);
            let rows = entries
                .iter()
                .map(|e| vec![markdown_utc(e.time), e.type_.to_string(), e.message.clone()])
                .collect();
            Ok(table(&["TIME (UTC)", "TYPE", "MESSAGE"], rows))
        }
        PluginCommand::List {
            all_namespaces: _,
            namespace,
        } => {
            let api: Api<Incident> = match &namespace {
                Some(ns) => Api::namespaced(client.clone(), ns),
                None => Api::all(client.clone()),
            };
            let list = api.list(&ListParams::default()).await.map_err(|e| match e {
                kube::Error::Api(ref s) if s.code == 404 => PluginError::NoCrds,
                other => PluginError::Kube(other),
            })?;
            Ok(list_table(&list.items, Utc::now()))
        }
        PluginCommand::Approve { incident, namespace } => {
            let namespace = namespace.unwrap_or(default_namespace);
            approve(&client, &namespace, &incident).await
        }
    }
}

/// Approves the step the Incident waits on, as the current user: the annotation carries that
/// step's token, so it approves nothing else, and names who approved.
async fn approve(client: &Client, namespace: &str, name: &str) -> Result<String, PluginError> {
    let inc = get_incident(client, namespace, name).await?;
    let status = inc.status.clone().unwrap_or_default();
    let Some((step, request)) = crate::lifecycle::approval::awaiting(&status) else {
        return Err(PluginError::NotAwaiting {
            name: name.to_string(),
            namespace: namespace.to_string(),
            phase: status.phase.map(|p| p.to_string()).unwrap_or_else(|| "unknown".into()),
        });
    };
    let user = whoami(client).await?;
    let patch = json!({"metadata": {"annotations": {
        APPROVAL_ANNOTATION: request.token,
        APPROVED_BY_ANNOTATION: user,
    }}});
    Api::<Incident>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|e| not_found(e, name, namespace))?;
    Ok(format!(
        "incident.dontpanic.dev/{name} in namespace {namespace}: step {} ({}) approved by {user}\n",
        step.name, step.action
    ))
}

/// The current user's name, as the API server authenticates it (and as the chart's admission
/// policy compares the approved-by annotation with).
async fn whoami(client: &Client) -> Result<String, PluginError> {
    use k8s_openapi::api::authentication::v1::SelfSubjectReview;
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await?;
    review
        .status
        .and_then(|s| s.user_info)
        .and_then(|u| u.username)
        .filter(|u| !u.is_empty())
        .ok_or(PluginError::Anonymous)
}

/// Open Incidents, most severe first, as kubectl prints tables.
pub fn list_table(incidents: &[Incident], now: DateTime<Utc>) -> String {
    let mut open: Vec<&Incident> = incidents
        .iter()
        .filter(|i| !i.status.as_ref().and_then(|s| s.phase).is_some_and(|p| p.is_closed()))
        .collect();
    let created = |i: &Incident| {
        i.metadata
            .creation_timestamp
            .as_ref()
            .map(|t| crate::evidence::to_chrono(&t.0))
    };
    open.sort_by(|a, b| {
        let sev = |i: &Incident| i.status.as_ref().and_then(|s| s.severity);
        sev(b)
            .cmp(&sev(a))
            .then_with(|| created(a).cmp(&created(b)))
            .then_with(|| a.name_any().cmp(&b.name_any()))
    });
    let rows = open
        .iter()
        .map(|i| {
            let st = i.status.clone().unwrap_or_default();
            vec![
                i.namespace().unwrap_or_default(),
                i.name_any(),
                st.severity.map(|s| s.to_string()).unwrap_or_default(),
                st.phase.map(|p| p.to_string()).unwrap_or_default(),
                st.target_ref.unwrap_or_else(|| i.spec.target.display()),
                created(i).map(|c| age(now - c)).unwrap_or_default(),
                st.last_step.unwrap_or_default(),
            ]
        })
        .collect();
    table(
        &["NAMESPACE", "NAME", "SEVERITY", "PHASE", "TARGET", "AGE", "LAST STEP"],
        rows,
    )
}

/// An age the way kubectl prints it: 45s, 12m, 3h, 2d.
pub fn age(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        0..120 => format!("{s}s"),
        120..7200 => format!("{}m", s / 60),
        7200..172800 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// Columns padded to their widest cell, three spaces apart, like kubectl.
pub fn table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                out.push_str(&cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                out.push_str(&cell);
                out.push_str(&" ".repeat(pad + 3));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.iter().map(|h| h.to_string()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn incident(name: &str, severity: &str, phase: &str, created: &str) -> Incident {
        serde_yaml::from_str(&format!(
            "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {{name: {name}, namespace: shop, creationTimestamp: '{created}'}}\nspec: {{summary: s, target: {{kind: Deployment, name: web}}}}\nstatus: {{severity: {severity}, phase: {phase}, targetRef: Deployment/web, lastStep: 'rollback (Running)'}}\n"
        ))
        .unwrap()
    }

    #[test]
    fn list_shows_open_incidents_most_severe_first() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let items = vec![
            incident("minor", "Minor", "Mitigating", "2026-11-23T11:59:00Z"),
            incident("closed", "Critical", "Resolved", "2026-11-23T11:00:00Z"),
            incident("critical", "Critical", "AwaitingApproval", "2026-11-23T09:00:00Z"),
            incident("major", "Major", "Triaging", "2026-11-20T12:00:00Z"),
        ];
        let out = list_table(&items, now);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("NAMESPACE   NAME"), "{out}");
        assert!(lines[0].ends_with("LAST STEP"), "{out}");
        assert!(lines[1].contains("critical") && lines[1].contains(" 3h "), "{out}");
        assert!(lines[2].contains("major") && lines[2].contains(" 3d "), "{out}");
        assert!(lines[3].contains("minor") && lines[3].contains(" 60s "), "{out}");
        assert!(!out.contains("closed"), "{out}");
        assert!(lines[1].ends_with("rollback (Running)"), "{out}");
    }
}
