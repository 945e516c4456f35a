use super::{clip, MAX_LINE_CHARS, MAX_LOG_CONTAINERS, MAX_LOG_LINES};
use crate::api::LogEvidence;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use kube::Client;
use std::time::Duration;

const LOG_TIMEOUT: Duration = Duration::from_secs(5);

/// Reads the last lines of up to a few failing containers in parallel. A container whose logs
/// cannot be read (no kubelet behind a fake node, for example) gets a note saying why.
pub async fn fetch_logs(client: &Client, namespace: &str, targets: &[(String, String)]) -> Vec<LogEvidence> {
    let api = Api::<Pod>::namespaced(client.clone(), namespace);
    let reads = targets.iter().take(MAX_LOG_CONTAINERS).map(|(pod, container)| {
        let api = api.clone();
        async move {
            let params = LogParams {
                container: Some(container.clone()),
                tail_lines: Some(MAX_LOG_LINES as i64),
                limit_bytes: Some(32 * 1024),
                ..LogParams::default()
            };
            let mut evidence = LogEvidence {
                pod: pod.clone(),
                container: container.clone(),
                ..LogEvidence::default()
            };
            match tokio::time::timeout(LOG_TIMEOUT, api.logs(pod, &params)).await {
                Ok(Ok(text)) if text.trim().is_empty() => {
                    evidence.unavailable = Some("the container wrote no log lines".to_string())
                }
                Ok(Ok(text)) => {
                    let lines: Vec<&str> = text.lines().collect();
                    let start = lines.len().saturating_sub(MAX_LOG_LINES);
                    evidence.lines = lines[start..].iter().map(|l| clip(l, MAX_LINE_CHARS)).collect();
                }
                Ok(Err(err)) => {
                    evidence.unavailable = Some(clip(&format!("logs not available: {err}"), MAX_LINE_CHARS))
                }
                Err(_) => {
                    evidence.unavailable = Some(format!(
                        "logs not available: no answer within {}s",
                        LOG_TIMEOUT.as_secs()
                    ))
                }
            }
            evidence
        }
    });
    futures::future::join_all(reads).await
}
