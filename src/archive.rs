//! The timeline archive: entries that roll off the bounded status timeline are kept in a
//! ConfigMap `<incident>-timeline` owned by the Incident, so nothing written down is lost and
//! the archive is garbage-collected with the Incident.

use crate::api::{Incident, TimelineEntry};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};

/// Keys are `timeline-0000.jsonl`, `timeline-0001.jsonl`, ...: one JSON entry per line.
pub const KEY_PREFIX: &str = "timeline-";
/// The most a single key holds.
pub const CHUNK_BYTES: usize = 256 * 1024;
/// The most the archive holds in total, under the 1MiB object limit; the oldest entries beyond
/// it are dropped and counted in [`DROPPED_ANNOTATION`].
pub const MAX_BYTES: usize = 900 * 1024;
/// How many entries the archive itself had to drop because of [`MAX_BYTES`].
pub const DROPPED_ANNOTATION: &str = "dontpanic.dev/archive-dropped";
/// Labels the archive so people can find it.
pub const INCIDENT_LABEL: &str = "dontpanic.dev/incident";

/// The archive ConfigMap's name for an Incident.
pub fn archive_name(incident: &str) -> String {
    format!("{incident}-timeline")
}

/// What identifies an entry: its time, type and message.
pub type Key = (chrono::DateTime<chrono::Utc>, crate::api::EntryType, String);

/// The entry's identity, for de-duplication.
pub fn key(e: &TimelineEntry) -> Key {
    (e.time, e.type_, e.message.clone())
}

/// Entries in the previously written timeline that the new one no longer has.
pub fn rolled_off(old: &[TimelineEntry], new: &[TimelineEntry]) -> Vec<TimelineEntry> {
    let kept: HashSet<Key> = new.iter().map(key).collect();
    old.iter().filter(|e| !kept.contains(&key(e))).cloned().collect()
}

/// Reads the entries stored in the archive's data, in key order.
pub fn decode(data: &BTreeMap<String, String>) -> Vec<TimelineEntry> {
    data.iter()
        .filter(|(k, _)| k.starts_with(KEY_PREFIX))
        .flat_map(|(_, v)| v.lines())
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// Adds entries to the stored ones, de-duplicated by time, type and message and ordered by
/// time, and lays them out in chunks. Returns the data and how many of the oldest entries did
/// not fit.
pub fn encode(stored: &[TimelineEntry], added: &[TimelineEntry]) -> (BTreeMap<String, String>, usize) {
    let mut seen = HashSet::new();
    let mut all: Vec<&TimelineEntry> = stored.iter().chain(added).filter(|e| seen.insert(key(e))).collect();
    all.sort_by_key(|e| e.time);
    let lines: Vec<String> = all
        .iter()
        .map(|e| serde_json::to_string(e).expect("an entry serializes"))
        .collect();
    // Keep the newest entries that fit.
    let mut total = 0;
    let mut first = lines.len();
    while first > 0 && total + lines[first - 1].len() < MAX_BYTES {
        total += lines[first - 1].len() + 1;
        first -= 1;
    }
    let mut data = BTreeMap::new();
    let mut chunk = String::new();
    for line in &lines[first..] {
        if !chunk.is_empty() && chunk.len() + line.len() + 1 > CHUNK_BYTES {
            data.insert(
                format!("{KEY_PREFIX}{:04}.jsonl", data.len()),
                std::mem::take(&mut chunk),
            );
        }
        chunk.push_str(line);
        chunk.push('\n');
    }
    if !chunk.is_empty() {
        data.insert(format!("{KEY_PREFIX}{:04}.jsonl", data.len()), chunk);
    }
    (data, first)
}

/// Reads an Incident's archived entries; none when there is no archive.
pub async fn read(client: &Client, namespace: &str, incident: &str) -> kube::Result<Vec<TimelineEntry>> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .get_opt(&archive_name(incident))
        .await?
        .and_then(|cm| cm.data)
        .map(|data| decode(&data))
        .unwrap_or_default())
}

/// Appends entries to the Incident's archive, creating it owned by the Incident.
pub async fn append(client: &Client, incident: &Incident, entries: &[TimelineEntry]) -> kube::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let namespace = incident.namespace().unwrap_or_default();
    let name = archive_name(&incident.name_any());
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    let existing = api.get_opt(&name).await?;
    let stored = existing
        .as_ref()
        .and_then(|cm| cm.data.as_ref())
        .map(decode)
        .unwrap_or_default();
    let dropped_before: usize = existing
        .as_ref()
        .and_then(|cm| cm.annotations().get(DROPPED_ANNOTATION))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let (data, dropped) = encode(&stored, entries);
    let mut annotations = BTreeMap::new();
    if dropped_before + dropped > 0 {
        annotations.insert(DROPPED_ANNOTATION.to_string(), (dropped_before + dropped).to_string());
    }
    let body = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {INCIDENT_LABEL: incident.name_any()},
            "annotations": annotations,
            "ownerReferences": [{
                "apiVersion": Incident::api_version(&()),
                "kind": Incident::kind(&()),
                "name": incident.name_any(),
                "uid": incident.uid().unwrap_or_default(),
                "controller": false,
                "blockOwnerDeletion": false,
            }],
        },
        "data": data,
    });
    let params = PatchParams::apply(crate::controller::FIELD_MANAGER).force();
    api.patch(&name, &params, &Patch::Apply(&body)).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn entry(secs: i64, message: &str) -> TimelineEntry {
        TimelineEntry {
            time: Utc.timestamp_opt(1_795_000_000 + secs, 0).unwrap(),
            type_: crate::api::EntryType::Waiting,
            message: message.into(),
        }
    }

    #[test]
    fn rolled_off_entries_are_the_ones_the_new_timeline_lost() {
        let old = vec![entry(0, "a"), entry(1, "b"), entry(2, "c")];
        let new = vec![entry(1, "b"), entry(2, "c"), entry(3, "d")];
        assert_eq!(rolled_off(&old, &new), vec![entry(0, "a")]);
        assert!(rolled_off(&new, &new).is_empty());
    }

    #[test]
    fn appending_twice_is_idempotent_and_ordered() {
        let (data, dropped) = encode(&[], &[entry(2, "c"), entry(0, "a")]);
        assert_eq!(dropped, 0);
        let stored = decode(&data);
        let (again, _) = encode(&stored, &[entry(0, "a"), entry(1, "b")]);
        let messages: Vec<String> = decode(&again).into_iter().map(|e| e.message).collect();
        assert_eq!(messages, vec!["a", "b", "c"]);
    }

    #[test]
    fn large_archives_are_chunked_and_capped() {
        let big = "x".repeat(10_000);
        let entries: Vec<TimelineEntry> = (0..200).map(|i| entry(i, &format!("{i} {big}"))).collect();
        let (data, dropped) = encode(&[], &entries);
        assert!(data.len() > 1, "chunked into several keys");
        assert!(data.values().all(|v| v.len() <= CHUNK_BYTES));
        let total: usize = data.values().map(String::len).sum();
        assert!(total <= MAX_BYTES);
        assert!(dropped > 0);
        let kept = decode(&data);
        assert_eq!(kept.len() + dropped, 200);
        assert_eq!(
            kept.last().unwrap().message,
            entries[199].message,
            "the newest are kept"
        );
    }
}
