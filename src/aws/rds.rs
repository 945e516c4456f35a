//! RDS: reading a DB instance's health, and the reads the restore action shares.

use super::error::from_sdk;
use super::CloudObservation;
use crate::mitigation::ActionError;
use crate::triage::Signals;
use aws_sdk_rds::types::{DbInstance, DbSnapshot};
use aws_sdk_rds::Client;

/// DB statuses in which the database does not serve, or cannot be trusted to.
const DOWN_STATUSES: &[&str] = &[
    "failed",
    "incompatible-restore",
    "incompatible-network",
    "incompatible-parameters",
    "incompatible-option-group",
    "incompatible-credentials",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
    "restore-error",
    "storage-full",
    "stopped",
    "stopping",
    "deleting",
];

/// Whether a DB instance is down, and its status in one line.
pub fn health(db_id: &str, status: &str) -> (bool, String) {
    (
        DOWN_STATUSES.contains(&status),
        format!("DB instance {db_id} status {status}"),
    )
}

pub fn status(db: &DbInstance) -> String {
    db.db_instance_status().unwrap_or("unknown").to_string()
}

/// `host:port`, once RDS has assigned an endpoint.
pub fn endpoint(db: &DbInstance) -> Option<String> {
    let e = db.endpoint()?;
    let host = e.address().filter(|a| !a.is_empty())?;
    Some(match e.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// Reads one DB instance; `None` when it does not exist.
pub async fn find(client: &Client, db_id: &str) -> Result<Option<DbInstance>, ActionError> {
    let what = format!("describing DB instance {db_id}");
    match client
        .describe_db_instances()
        .db_instance_identifier(db_id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .db_instances()
            .iter()
            .find(|d| d.db_instance_identifier() == Some(db_id))
            .cloned()),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_db_instance_not_found_fault()) => Ok(None),
        Err(e) => Err(from_sdk(&what, &e)),
    }
}

/// Reads one DB instance that must exist.
pub async fn describe(client: &Client, db_id: &str) -> Result<DbInstance, ActionError> {
    find(client, db_id).await?.ok_or_else(|| {
        ActionError::Permanent(format!(
            "describing DB instance {db_id}: DBInstanceNotFound: DBInstance {db_id} not found"
        ))
    })
}

/// Triage's view of an RDS target (or of the DB restored in its place).
pub async fn observe(client: &Client, db_id: &str) -> Result<CloudObservation, ActionError> {
    let db = describe(client, db_id).await?;
    let status = status(&db);
    let (down, line) = health(db_id, &status);
    let note = format!(
        "DB instance {db_id}, status {status}, engine {} {}, class {}, endpoint {}",
        db.engine().unwrap_or("unknown"),
        db.engine_version().unwrap_or_default(),
        db.db_instance_class().unwrap_or("unknown"),
        endpoint(&db).unwrap_or_else(|| "none".into()),
    );
    Ok(CloudObservation {
        signals: Signals {
            target_found: true,
            server_down: down,
            server_state: Some(line),
            ..Signals::default()
        },
        note,
        labels: db
            .tag_list()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
            .collect(),
    })
}

/// Snapshots of a DB instance, automated and manual.
pub async fn snapshots(client: &Client, db_id: &str) -> Result<Vec<DbSnapshot>, ActionError> {
    let out = client
        .describe_db_snapshots()
        .db_instance_identifier(db_id)
        .send()
        .await
        .map_err(|e| from_sdk(&format!("listing snapshots of {db_id}"), &e))?;
    Ok(out.db_snapshots().to_vec())
}

/// One snapshot by identifier.
pub async fn snapshot(client: &Client, snapshot_id: &str) -> Result<DbSnapshot, ActionError> {
    let what = format!("describing DB snapshot {snapshot_id}");
    let out = client
        .describe_db_snapshots()
        .db_snapshot_identifier(snapshot_id)
        .send()
        .await
        .map_err(|e| from_sdk(&what, &e))?;
    out.db_snapshots()
        .first()
        .cloned()
        .ok_or_else(|| ActionError::Permanent(format!("{what}: DBSnapshotNotFound: no such snapshot")))
}

/// The newest available snapshot.
pub fn newest_snapshot(snapshots: &[DbSnapshot]) -> Option<&DbSnapshot> {
    snapshots
        .iter()
        .filter(|s| s.status() == Some("available"))
        .max_by_key(|s| {
            (
                s.snapshot_create_time().map(|t| (t.secs(), t.subsec_nanos())),
                s.db_snapshot_identifier().map(str::to_string),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_rds::primitives::DateTime;

    #[test]
    fn failed_and_full_databases_are_down_available_ones_are_not() {
        for s in ["failed", "incompatible-restore", "storage-full", "stopped"] {
            assert!(health("db", s).0, "{s}");
        }
        for s in [
            "available",
            "backing-up",
            "modifying",
            "rebooting",
            "storage-optimization",
        ] {
            assert!(!health("db", s).0, "{s}");
        }
        assert_eq!(health("orders", "failed").1, "DB instance orders status failed");
    }

    fn snap(id: &str, secs: i64, status: &str) -> DbSnapshot {
        DbSnapshot::builder()
            .db_snapshot_identifier(id)
            .snapshot_create_time(DateTime::from_secs(secs))
            .status(status)
            .build()
    }

    #[test]
    fn the_newest_available_snapshot_is_chosen() {
        let all = vec![
            snap("a", 100, "available"),
            snap("c", 300, "creating"),
            snap("b", 200, "available"),
        ];
        assert_eq!(newest_snapshot(&all).unwrap().db_snapshot_identifier(), Some("b"));
        assert!(newest_snapshot(&all[1..2]).is_none());
    }
}
