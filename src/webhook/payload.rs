//! The Alertmanager webhook payload (version 4), parsed defensively: pure.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Deeper JSON is rejected before parsing; Alertmanager's payload is 3 levels deep.
pub const MAX_DEPTH: usize = 32;

#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Payload {
    pub version: String,
    #[serde(default)]
    pub group_key: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub receiver: String,
    pub alerts: Vec<Alert>,
}

#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// firing or resolved.
    pub status: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    #[serde(default)]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub generator_url: String,
    #[serde(default)]
    pub fingerprint: String,
}

impl Alert {
    pub fn name(&self) -> &str {
        self.labels
            .get("alertname")
            .map(String::as_str)
            .unwrap_or("unnamed alert")
    }

    pub fn firing(&self) -> bool {
        self.status == "firing"
    }

    /// Alertmanager's fingerprint, or a stable one computed from the labels when absent.
    pub fn fingerprint(&self) -> String {
        if !self.fingerprint.is_empty() {
            return self.fingerprint.to_ascii_lowercase();
        }
        self.labels_hash()
    }

    /// A stable hash of the labels, as 16 hex digits.
    pub fn labels_hash(&self) -> String {
        // FNV-1a over the sorted labels: stable across processes and versions.
        let mut hash: u64 = 0xcbf29ce484222325;
        for (k, v) in &self.labels {
            for byte in k.bytes().chain([0xff]).chain(v.bytes()).chain([0xfe]) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x100000001b3);
            }
        }
        format!("{hash:016x}")
    }
}

/// How deeply arrays and objects nest in a JSON text (strings are skipped).
pub fn nesting_depth(text: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Parses a webhook body, with a message a sender can act on when it is not acceptable.
pub fn parse(body: &[u8]) -> Result<Payload, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err("empty body: expected an Alertmanager webhook payload (version 4)".into());
    }
    let depth = nesting_depth(body);
    if depth > MAX_DEPTH {
        return Err(format!(
            "JSON nested {depth} levels deep; at most {MAX_DEPTH} are accepted"
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))?;
    match value.get("version").and_then(|v| v.as_str()) {
        Some("4") => {}
        Some(other) => {
            return Err(format!(
                "unsupported payload version {other:?}: only Alertmanager webhook version \"4\" is accepted"
            ))
        }
        None => return Err("missing \"version\": expected an Alertmanager webhook payload (version 4)".into()),
    }
    let payload: Payload =
        serde_json::from_value(value).map_err(|e| format!("not an Alertmanager webhook payload: {e}"))?;
    for (i, alert) in payload.alerts.iter().enumerate() {
        if alert.status != "firing" && alert.status != "resolved" {
            return Err(format!(
                "alerts[{i}].status is {:?}; expected \"firing\" or \"resolved\"",
                alert.status
            ));
        }
    }
    Ok(payload)
}
