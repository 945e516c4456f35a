//! `RestoreRDS`: restores a DB instance from a snapshot or to a point in time into a new
//! identifier derived from the Incident, waits for it, and optionally writes its endpoint into a
//! Secret or ConfigMap. The old database is never touched. Needs approval by default.

use super::wait::{self, Progress};
use super::{cutover, intent_detail, ActionContext, ActionError, Drift, MitigationAction, Outcome, REPLACEMENT_DETAIL};
use crate::api::{Change, RdsRestoreParams, SafetySpec, StepSpec, TargetKind};
use crate::aws::error::from_sdk;
use crate::aws::names::{restored_db_identifier, INCIDENT_TAG, STEP_TAG};
use crate::aws::rds::{self, endpoint, newest_snapshot, status};
use async_trait::async_trait;
use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::primitives::DateTime as AwsTime;
use aws_sdk_rds::types::{DbInstance, Tag};
use aws_sdk_rds::Client;
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::BTreeMap;

pub struct RestoreRds;

/// `Change.details` keys.
const SOURCE_DB: &str = "sourceDbInstance";
const NEW_DB: &str = "newDbInstanceIdentifier";
const SNAPSHOT: &str = "snapshotId";
const RESTORE_TIME: &str = "restoreTime";
const LATEST_RESTORABLE: &str = "latestRestorableTime";
const ENDPOINT: &str = "endpoint";
const SOURCE_STATUS: &str = "sourceDbStatus";

/// The drift of the source DB since the plan recorded its status: it was down and is
/// available again, so someone restored, started or repaired it and a restore is no longer
/// what the Incident needs. Other moves (available → backing-up, one down status to another)
/// leave the restore as warranted as it was.
fn source_drift(source: &str, recorded: &str, now: &str) -> Option<Drift> {
    let was_down = rds::health(source, recorded).0;
    (was_down && now == "available").then(|| Drift {
        message: format!(
            "DB instance {source} is available again, no longer {recorded} as when the restore was planned"
        ),
        // RDS does not say who; CloudTrail would.
        field_manager: None,
    })
}

fn params(step: &StepSpec) -> RdsRestoreParams {
    step.rds.clone().unwrap_or_default()
}

fn check(p: &RdsRestoreParams) -> Result<(), String> {
    let sources = [
        p.snapshot_id.is_some(),
        p.use_latest_snapshot == Some(true),
        p.restore_time.is_some(),
        p.latest_restorable_time == Some(true),
    ];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err(
            "set only one of rds.snapshotId, rds.useLatestSnapshot, rds.restoreTime and rds.latestRestorableTime"
                .into(),
        );
    }
    if p.snapshot_id.as_deref().is_some_and(|s| s.trim().is_empty()) {
        return Err("rds.snapshotId must not be empty".into());
    }
    if let Some(c) = &p.cutover {
        cutover::check(c).map_err(|e| format!("rds.{e}"))?;
    }
    Ok(())
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn aws_time_text(t: &AwsTime) -> String {
    DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())
        .map(rfc3339)
        .unwrap_or_else(|| t.to_string())
}

/// The source as people read it: `snapshot X` or `point in time T`.
fn source_text(intent: &Change) -> String {
    match (
        intent.details.get(SNAPSHOT),
        intent.details.get(RESTORE_TIME),
        intent.details.get(LATEST_RESTORABLE),
    ) {
        (Some(s), _, _) => format!(
            "snapshot {s}{}",
            intent
                .details
                .get("snapshotCreatedAt")
                .map(|t| format!(" (taken {t})"))
                .unwrap_or_default()
        ),
        (None, Some(t), _) => format!("point in time {t}"),
        (None, None, Some(t)) => format!("the latest restorable time ({t})"),
        _ => "an unknown source".into(),
    }
}

/// Sends the restore request the intent describes.
async fn restore(client: &Client, ctx: &ActionContext<'_>, intent: &Change, new_id: &str) -> Result<(), ActionError> {
    let source = intent_detail(intent, SOURCE_DB)?;
    let get = |k: &str| intent.details.get(k).filter(|v| !v.is_empty()).cloned();
    let groups: Option<Vec<String>> = get("securityGroupIds").map(|g| g.split(',').map(str::to_string).collect());
    let tags = vec![
        Tag::builder()
            .key(INCIDENT_TAG)
            .value(format!("{}/{}", ctx.namespace, ctx.incident_name))
            .build(),
        Tag::builder().key(STEP_TAG).value(ctx.step_index.to_string()).build(),
    ];
    let what = format!("restoring {source} into {new_id}");
    let sent = if let Some(snapshot) = get(SNAPSHOT) {
        client
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(new_id)
            .db_snapshot_identifier(snapshot)
            .set_db_instance_class(get("instanceClass"))
            .set_db_subnet_group_name(get("subnetGroup"))
            .set_vpc_security_group_ids(groups)
            .set_db_parameter_group_name(get("parameterGroup"))
            .set_tags(Some(tags))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| (e.code() == Some("DBInstanceAlreadyExists"), from_sdk(&what, &e)))
    } else {
        let mut request = client
            .restore_db_instance_to_point_in_time()
            .source_db_instance_identifier(source)
            .target_db_instance_identifier(new_id)
            .set_db_instance_class(get("instanceClass"))
            .set_db_subnet_group_name(get("subnetGroup"))
            .set_vpc_security_group_ids(groups)
            .set_db_parameter_group_name(get("parameterGroup"))
            .set_tags(Some(tags));
        request = match get(RESTORE_TIME) {
            Some(t) => {
                let t = DateTime::parse_from_rfc3339(&t)
                    .map_err(|e| ActionError::Permanent(format!("the recorded restore time {t}: {e}")))?;
                request.restore_time(AwsTime::from_secs(t.timestamp()))
            }
            None => request.use_latest_restorable_time(true),
        };
        request
            .send()
            .await
            .map(|_| ())
            .map_err(|e| (e.code() == Some("DBInstanceAlreadyExists"), from_sdk(&what, &e)))
    };
    match sent {
        Ok(()) | Err((true, _)) => Ok(()),
        Err((false, e)) => Err(e),
    }
}

/// Waits briefly for the restored DB to be `available` with an endpoint.
async fn wait_available(client: &Client, new_id: &str) -> Result<DbInstance, ActionError> {
    wait::until(
        &format!("the restored DB instance {new_id}"),
        wait::BUDGET,
        || async move {
            let db = rds::describe(client, new_id).await?;
            let now = status(&db);
            if rds::health(new_id, &now).0 {
                return Err(ActionError::Permanent(format!(
                    "the restored DB instance {new_id} is {now}"
                )));
            }
            if now == "available" && endpoint(&db).is_some() {
                return Ok(Progress::Done(db));
            }
            Ok(Progress::Waiting(now))
        },
    )
    .await
}

#[async_trait]
impl MitigationAction for RestoreRds {
    fn name(&self) -> &'static str {
        "RestoreRDS"
    }

    fn target_kinds(&self) -> &'static [TargetKind] {
        &[TargetKind::RDSInstance]
    }

    /// It changes where data lives.
    fn requires_approval_by_default(&self) -> bool {
        true
    }

    fn check_params(&self, step: &StepSpec, _safety: &SafetySpec) -> Result<(), String> {
        if step.ec2.is_some() || step.replicas.is_some() || step.to_revision.is_some() {
            return Err("RestoreRDS takes only `rds` parameters".into());
        }
        check(&params(step))
    }

    async fn plan(&self, ctx: &ActionContext<'_>) -> Result<Change, ActionError> {
        let p = params(ctx.step);
        check(&p).map_err(ActionError::Refused)?;
        let client = &ctx.aws.clients().await.rds;
        let source = rds::describe(client, &ctx.target.name).await?;
        let new_id = restored_db_identifier(ctx.incident_name, ctx.incident_uid, ctx.step_index);
        let mut details = BTreeMap::new();
        details.insert(SOURCE_DB.to_string(), ctx.target.name.clone());
        details.insert(NEW_DB.to_string(), new_id.clone());
        details.insert(SOURCE_STATUS.to_string(), status(&source));
        if let Some(t) = p.restore_time {
            details.insert(RESTORE_TIME.to_string(), rfc3339(t));
        } else if p.latest_restorable_time == Some(true) {
            let latest = source
                .latest_restorable_time()
                .map(aws_time_text)
                .unwrap_or_else(|| "as RDS reports it".into());
            details.insert(LATEST_RESTORABLE.to_string(), latest);
        } else {
            let snapshot = match &p.snapshot_id {
                Some(id) => rds::snapshot(client, id).await?,
                None => {
                    let all = rds::snapshots(client, &ctx.target.name).await?;
                    newest_snapshot(&all).cloned().ok_or_else(|| {
                        ActionError::Refused(format!(
                            "DB instance {} has no available snapshot to restore from",
                            ctx.target.name
                        ))
                    })?
                }
            };
            let id = snapshot.db_snapshot_identifier().unwrap_or_default().to_string();
            if snapshot.status() != Some("available") {
                return Err(ActionError::Refused(format!(
                    "snapshot {id} is {}, not available",
                    snapshot.status().unwrap_or("unknown")
                )));
            }
            details.insert(SNAPSHOT.to_string(), id);
            if let Some(t) = snapshot.snapshot_create_time() {
                details.insert("snapshotCreatedAt".to_string(), aws_time_text(t));
            }
            if let Some(t) = snapshot.snapshot_type() {
                details.insert("snapshotType".to_string(), t.to_string());
            }
        }
        let mut put = |k: &str, v: Option<String>| {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                details.insert(k.to_string(), v);
            }
        };
        put("instanceClass", source.db_instance_class().map(str::to_string));
        put(
            "subnetGroup",
            source
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(str::to_string),
        );
        put(
            "securityGroupIds",
            Some(
                source
                    .vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        );
        put(
            "parameterGroup",
            source
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .map(str::to_string),
        );
        put("engine", source.engine().map(str::to_string));
        put("cutover", p.cutover.as_ref().map(cutover::describe));
        Ok(Change {
            details,
            ..Change::default()
        })
    }

    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError> {
        let client = &ctx.aws.clients().await.rds;
        let source = intent_detail(intent, SOURCE_DB)?.to_string();
        let new_id = intent_detail(intent, NEW_DB)?.to_string();
        let from = source_text(intent);
        let target = cutover_target(ctx);
        let mut change = intent.clone();
        let existing = rds::find(client, &new_id).await?;
        // Before this step restored anything, the source must still be as planned.
        if let (None, Some(recorded)) = (&existing, intent.details.get(SOURCE_STATUS)) {
            let now = rds::find(client, &source).await?.map(|db| status(&db));
            let now = now.as_deref().unwrap_or("deleted");
            if let Some(drift) = source_drift(&source, recorded, now) {
                return Err(ActionError::Drifted(drift));
            }
        }
        // A dry-run sends nothing to RDS, and writes no Secret or ConfigMap either.
        if ctx.dry_run {
            return Ok(Outcome {
                message: dry_run_message(intent, target.as_ref()),
                already_applied: false,
                change,
            });
        }
        if existing.is_none() {
            restore(client, ctx, intent, &new_id).await?;
        }
        let restored = wait_available(client, &new_id).await?;
        let address = endpoint(&restored).unwrap_or_default();
        change.details.insert(ENDPOINT.to_string(), address.clone());
        change.details.insert(REPLACEMENT_DETAIL.to_string(), new_id.clone());
        change.details.insert("availableAt".to_string(), rfc3339(Utc::now()));
        let mut cut = String::new();
        let mut cut_already = true;
        if let Some(c) = &target {
            let before = cutover::read(ctx, c).await?;
            if before.as_deref() == Some(address.as_str()) {
                cut = format!("; {} already holds it", cutover::describe(c));
            } else {
                cut_already = false;
                cutover::write(ctx, c, &address).await?;
                if let Some(b) = before {
                    change.details.insert("cutoverPreviousValue".to_string(), b);
                }
                cut = format!("; wrote it into {}", cutover::describe(c));
            }
        }
        let already = existing.is_some() && cut_already;
        Ok(Outcome {
            message: format!(
                "{} {source} from {from} into {new_id}, available at endpoint {address}{cut}; the old DB instance {source} is untouched",
                if existing.is_some() { "reused the earlier restore of" } else { "restored" },
            ),
            already_applied: already,
            change,
        })
    }
}

/// The request RDS would get, as recorded instead of sent.
fn dry_run_message(intent: &Change, target: Option<&crate::api::RdsCutover>) -> String {
    let get = |k: &str, absent: &'static str| intent.details.get(k).map(String::as_str).unwrap_or(absent).to_string();
    let then = target
        .map(|c| format!(", then write its endpoint into {}", cutover::describe(c)))
        .unwrap_or_default();
    format!(
        "dry-run: would restore {} from {} into {} (class {}, subnet group {}, security groups {}, parameter group {}){then}; RDS has no dry-run, so the request was recorded, not sent",
        get(SOURCE_DB, "?"),
        source_text(intent),
        get(NEW_DB, "?"),
        get("instanceClass", "as the source"),
        get("subnetGroup", "default"),
        get("securityGroupIds", "default"),
        get("parameterGroup", "default"),
    )
}

fn cutover_target(ctx: &ActionContext<'_>) -> Option<crate::api::RdsCutover> {
    params(ctx.step).cutover
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RdsCutover;

    #[test]
    fn one_source_at_most_and_a_valid_cutover() {
        assert!(check(&RdsRestoreParams::default()).is_ok());
        let two = RdsRestoreParams {
            snapshot_id: Some("snap".into()),
            latest_restorable_time: Some(true),
            ..Default::default()
        };
        assert!(check(&two).unwrap_err().contains("only one"));
        let bad_cutover = RdsRestoreParams {
            cutover: Some(RdsCutover {
                secret_name: None,
                config_map_name: None,
                key: "k".into(),
            }),
            ..Default::default()
        };
        assert!(check(&bad_cutover).unwrap_err().contains("exactly one"));
    }

    #[test]
    fn the_source_drifts_when_it_came_back_since_the_plan() {
        let back = source_drift("orders", "stopped", "available").expect("someone started it");
        assert!(
            back.message.contains("orders is available again, no longer stopped"),
            "{}",
            back.message
        );
        assert!(source_drift("orders", "stopped", "starting").is_none());
        assert!(source_drift("orders", "available", "backing-up").is_none());
        assert!(source_drift("orders", "available", "available").is_none());
    }

    #[test]
    fn the_source_reads_well() {
        let mut c = Change::default();
        c.details.insert(SNAPSHOT.into(), "orders-2026".into());
        assert_eq!(source_text(&c), "snapshot orders-2026");
        c.details.clear();
        c.details.insert(RESTORE_TIME.into(), "2026-01-01T00:00:00Z".into());
        assert_eq!(source_text(&c), "point in time 2026-01-01T00:00:00Z");
    }

    #[test]
    fn a_dry_run_records_the_request_it_would_send() {
        let mut c = Change::default();
        c.details.insert(SOURCE_DB.into(), "orders".into());
        c.details.insert(NEW_DB.into(), "dp-orders-down-1234abcd-s0".into());
        c.details.insert(SNAPSHOT.into(), "orders-nightly".into());
        c.details.insert("instanceClass".into(), "db.r6g.large".into());
        let cut = RdsCutover {
            secret_name: Some("orders-db".into()),
            config_map_name: None,
            key: "endpoint".into(),
        };
        assert_eq!(
            dry_run_message(&c, Some(&cut)),
            "dry-run: would restore orders from snapshot orders-nightly into dp-orders-down-1234abcd-s0 (class db.r6g.large, subnet group default, security groups default, parameter group default), then write its endpoint into Secret orders-db key endpoint; RDS has no dry-run, so the request was recorded, not sent"
        );
    }
}
