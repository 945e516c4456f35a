//! `RelaunchEC2FromAMI`: launches a replacement for a failing EC2 instance from an AMI, with the
//! same launch parameters and tags, then keeps, stops or terminates the old one.

use super::wait::{self, Progress};
use super::{intent_detail, ActionContext, ActionError, Drift, MitigationAction, Outcome, REPLACEMENT_DETAIL};
use crate::api::{Change, Ec2RelaunchParams, OldInstancePolicy, SafetySpec, StepSpec, TargetKind};
use crate::aws::ec2::{self, state};
use crate::aws::error::{from_sdk, is_dry_run_ok};
use crate::aws::names::{self, client_token, created_image_name, newest_image, INCIDENT_TAG, STEP_TAG};
use async_trait::async_trait;
use aws_sdk_ec2::types::{IamInstanceProfileSpecification, Instance, Placement, ResourceType, Tag, TagSpecification};
use aws_sdk_ec2::Client;
use chrono::Utc;
use std::collections::BTreeMap;

pub struct RelaunchEc2FromAmi;

/// `Change.details` keys.
const OLD: &str = "oldInstanceId";
const NEW: &str = "newInstanceId";
const IMAGE: &str = "imageId";
const IMAGE_NAME: &str = "imageName";
const IMAGE_SOURCE: &str = "imageSource";
const TOKEN: &str = "clientToken";
const OLD_POLICY: &str = "oldInstance";
const OLD_STATE: &str = "oldInstanceState";

/// The coarse condition of an instance state: moving within one (pending → running,
/// stopping → stopped, shutting-down → terminated) happens by itself; moving between them means
/// someone started, stopped or replaced the instance.
fn state_class(state: &str) -> &str {
    match state {
        "pending" | "running" => "running",
        "stopping" | "stopped" => "stopped",
        "shutting-down" | "terminated" => "terminated",
        other => other,
    }
}

/// The drift of the old instance since the plan recorded it in `recorded`, if any.
fn old_instance_drift(old_id: &str, recorded: &str, now: &str) -> Option<Drift> {
    (state_class(recorded) != state_class(now)).then(|| Drift {
        message: format!(
            "instance {old_id} is {now}, no longer {recorded} as when the relaunch was planned: someone acted on it since"
        ),
        // EC2 does not say who; CloudTrail would.
        field_manager: None,
    })
}
const SOURCE_CREATE: &str = "createImageFirst";

fn params(step: &StepSpec) -> Ec2RelaunchParams {
    step.ec2.clone().unwrap_or_default()
}

/// Checks that at most one image source is set, and that each is well formed.
fn check(p: &Ec2RelaunchParams) -> Result<(), String> {
    let by_filter = p.image_name_filter.is_some() || !p.image_tags.is_empty();
    let sources = [p.image_id.is_some(), by_filter, p.create_image_first == Some(true)];
    if sources.iter().filter(|s| **s).count() > 1 {
        return Err("set only one of ec2.imageId, ec2.imageNameFilter/imageTags and ec2.createImageFirst".into());
    }
    if let Some(id) = &p.image_id {
        if !id.starts_with("ami-") {
            return Err(format!("ec2.imageId must be an AMI ID (ami-...), got {id:?}"));
        }
    }
    if p.image_name_filter.as_deref().is_some_and(|f| f.trim().is_empty()) {
        return Err("ec2.imageNameFilter must not be empty".into());
    }
    Ok(())
}

/// The tags the new instance gets: the old one's (minus reserved `aws:` tags) plus the
/// Incident and step markers.
fn new_tags(old: &BTreeMap<String, String>, incident: &str, step_index: usize) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = old
        .iter()
        .filter(|(k, _)| !k.starts_with("aws:"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.insert(INCIDENT_TAG.into(), incident.into());
    tags.insert(STEP_TAG.into(), step_index.to_string());
    tags
}

fn dry_run_or(
    err: aws_sdk_ec2::error::SdkError<
        impl aws_sdk_ec2::error::ProvideErrorMetadata + std::error::Error + 'static,
        aws_sdk_ec2::config::http::HttpResponse,
    >,
    what: &str,
    dry_run: bool,
) -> Result<(), ActionError> {
    if dry_run && is_dry_run_ok(&err) {
        Ok(())
    } else {
        Err(from_sdk(what, &err))
    }
}

/// The AMI `createImageFirst` made for this step, when it exists already.
async fn created_image(client: &Client, name: &str) -> Result<Option<names::ImageInfo>, ActionError> {
    let found = ec2::find_images(client, Some(name), &BTreeMap::new()).await?;
    Ok(found.into_iter().find(|i| i.name == name))
}

/// Creates the AMI from the failing instance (once) and waits briefly for it to be available.
async fn ensure_image(
    client: &Client,
    ctx: &ActionContext<'_>,
    old_id: &str,
    name: &str,
) -> Result<Option<String>, ActionError> {
    let existing = created_image(client, name).await?;
    let image_id = match existing {
        Some(image) => image.id,
        None => {
            let sent = client
                .create_image()
                .instance_id(old_id)
                .name(name)
                .description(format!(
                    "dontpanic: image of {old_id} for incident {}/{}",
                    ctx.namespace, ctx.incident_name
                ))
                .no_reboot(true)
                .dry_run(ctx.dry_run)
                .send()
                .await;
            match sent {
                Ok(out) => out.image_id().unwrap_or_default().to_string(),
                Err(e) => {
                    dry_run_or(e, &format!("creating an AMI from {old_id}"), ctx.dry_run)?;
                    return Ok(None);
                }
            }
        }
    };
    wait::until(&format!("AMI {image_id} ({name})"), wait::BUDGET, || async {
        let image = ec2::describe_image(client, &image_id).await?;
        Ok(if image.available {
            Progress::Done(())
        } else {
            Progress::Waiting("not available yet".into())
        })
    })
    .await?;
    Ok(Some(image_id))
}

/// An instance this step launched before (a retry or a restart), if any.
async fn launched_before(client: &Client, ctx: &ActionContext<'_>) -> Result<Option<Instance>, ActionError> {
    let mut marker = BTreeMap::new();
    marker.insert(
        INCIDENT_TAG.to_string(),
        format!("{}/{}", ctx.namespace, ctx.incident_name),
    );
    marker.insert(STEP_TAG.to_string(), ctx.step_index.to_string());
    Ok(ec2::find_by_tags(client, &marker).await?.into_iter().next())
}

/// Launches the replacement with the old instance's parameters; `None` for a dry-run.
async fn launch(
    client: &Client,
    ctx: &ActionContext<'_>,
    old: &Instance,
    image_id: &str,
    token: &str,
) -> Result<Option<Instance>, ActionError> {
    let incident = format!("{}/{}", ctx.namespace, ctx.incident_name);
    let tags: Vec<Tag> = new_tags(&ec2::tags(old), &incident, ctx.step_index)
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let security_groups: Vec<String> = old
        .security_groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    let mut request = client
        .run_instances()
        .image_id(image_id)
        .min_count(1)
        .max_count(1)
        .client_token(token)
        .set_instance_type(old.instance_type().cloned())
        .set_key_name(old.key_name().map(str::to_string))
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(tags))
                .build(),
        )
        .dry_run(ctx.dry_run);
    if !security_groups.is_empty() {
        request = request.set_security_group_ids(Some(security_groups));
    }
    match old.subnet_id() {
        Some(subnet) => request = request.subnet_id(subnet),
        None => {
            if let Some(az) = old.placement().and_then(|p| p.availability_zone()) {
                request = request.placement(Placement::builder().availability_zone(az).build());
            }
        }
    }
    if let Some(arn) = old.iam_instance_profile().and_then(|p| p.arn()) {
        request = request.iam_instance_profile(IamInstanceProfileSpecification::builder().arn(arn).build());
    }
    match request.send().await {
        Ok(out) => out
            .instances()
            .first()
            .cloned()
            .map(Some)
            .ok_or_else(|| ActionError::Transient("RunInstances returned no instance".into())),
        Err(e) => {
            dry_run_or(
                e,
                &format!("launching a replacement for {}", old.instance_id().unwrap_or_default()),
                ctx.dry_run,
            )?;
            Ok(None)
        }
    }
}

/// Waits briefly for the new instance to run and pass (or not report) its status checks.
async fn wait_running(client: &Client, id: &str) -> Result<Instance, ActionError> {
    wait::until(&format!("the new instance {id}"), wait::BUDGET, || async move {
        let instance = ec2::describe(client, id).await?;
        let now = state(&instance);
        match now.as_str() {
            "running" => {}
            "pending" => return Ok(Progress::Waiting(now)),
            other => {
                return Err(ActionError::Permanent(format!(
                    "the new instance {id} went {other} instead of running"
                )))
            }
        }
        match ec2::status_checks(client, id).await? {
            Some((i, s)) if i == "impaired" || s == "impaired" => Err(ActionError::Permanent(format!(
                "the new instance {id} runs but its status checks are impaired (instance {i}, system {s})"
            ))),
            Some((i, s)) if i == "initializing" || s == "initializing" => {
                Ok(Progress::Waiting("running with status checks initializing".into()))
            }
            _ => Ok(Progress::Done(instance)),
        }
    })
    .await
}

/// Stops or terminates the old instance, unless it is already so.
async fn handle_old(
    client: &Client,
    ctx: &ActionContext<'_>,
    old: &Instance,
    policy: OldInstancePolicy,
) -> Result<String, ActionError> {
    let id = old.instance_id().unwrap_or_default();
    let now = state(old);
    match policy {
        OldInstancePolicy::Keep => Ok(format!("old instance {id} kept ({now})")),
        OldInstancePolicy::Stop if matches!(now.as_str(), "stopped" | "stopping" | "terminated" | "shutting-down") => {
            Ok(format!("old instance {id} already {now}"))
        }
        OldInstancePolicy::Terminate if matches!(now.as_str(), "terminated" | "shutting-down") => {
            Ok(format!("old instance {id} already {now}"))
        }
        OldInstancePolicy::Stop => {
            if let Err(e) = client
                .stop_instances()
                .instance_ids(id)
                .dry_run(ctx.dry_run)
                .send()
                .await
            {
                dry_run_or(e, &format!("stopping {id}"), ctx.dry_run)?;
            }
            Ok(format!("old instance {id} stopped"))
        }
        OldInstancePolicy::Terminate => {
            if let Err(e) = client
                .terminate_instances()
                .instance_ids(id)
                .dry_run(ctx.dry_run)
                .send()
                .await
            {
                dry_run_or(e, &format!("terminating {id}"), ctx.dry_run)?;
            }
            Ok(format!("old instance {id} terminated"))
        }
    }
}

#[async_trait]
impl MitigationAction for RelaunchEc2FromAmi {
    fn name(&self) -> &'static str {
        "RelaunchEC2FromAMI"
    }

    fn target_kinds(&self) -> &'static [TargetKind] {
        &[TargetKind::EC2Instance]
    }

    fn check_params(&self, step: &StepSpec, _safety: &SafetySpec) -> Result<(), String> {
        if step.rds.is_some() || step.replicas.is_some() || step.to_revision.is_some() {
            return Err("RelaunchEC2FromAMI takes only `ec2` parameters".into());
        }
        check(&params(step))
    }

    async fn plan(&self, ctx: &ActionContext<'_>) -> Result<Change, ActionError> {
        let p = params(ctx.step);
        check(&p).map_err(ActionError::Refused)?;
        let client = &ctx.aws.clients().await.ec2;
        let incident = format!("{}/{}", ctx.namespace, ctx.incident_name);
        let old = ec2::resolve(client, ctx.target, &incident).await?;
        let old_id = old.instance_id().unwrap_or_default().to_string();
        let mut details = BTreeMap::new();
        let by_filter = p.image_name_filter.is_some() || !p.image_tags.is_empty();
        let (image_id, image_name, source) = if let Some(id) = &p.image_id {
            let image = ec2::describe_image(client, id).await?;
            (image.id, image.name, "imageId".to_string())
        } else if by_filter {
            let found = ec2::find_images(client, p.image_name_filter.as_deref(), &p.image_tags).await?;
            let mut wanted: Vec<String> = p.image_name_filter.iter().map(|n| format!("name={n}")).collect();
            wanted.extend(p.image_tags.iter().map(|(k, v)| format!("tag:{k}={v}")));
            let image = newest_image(&found)
                .cloned()
                .ok_or_else(|| ActionError::Refused(format!("no available AMI matches {}", wanted.join(", "))))?;
            (
                image.id,
                image.name,
                format!("newest AMI matching {}", wanted.join(", ")),
            )
        } else if p.create_image_first == Some(true) {
            let name = created_image_name(ctx.namespace, ctx.incident_name, ctx.incident_uid, ctx.step_index);
            (String::new(), name, SOURCE_CREATE.to_string())
        } else {
            let id = old.image_id().unwrap_or_default().to_string();
            let name = ec2::describe_image(client, &id)
                .await
                .map(|i| i.name)
                .unwrap_or_default();
            (id, name, "the failing instance's own AMI".to_string())
        };
        if !image_id.is_empty() {
            details.insert(IMAGE.to_string(), image_id);
        }
        details.insert(IMAGE_NAME.to_string(), image_name);
        details.insert(IMAGE_SOURCE.to_string(), source);
        details.insert(OLD.to_string(), old_id);
        details.insert(OLD_STATE.to_string(), state(&old));
        if let Some(t) = old.instance_type() {
            details.insert("instanceType".to_string(), t.as_str().to_string());
        }
        details.insert(TOKEN.to_string(), client_token(ctx.incident_uid, ctx.step_index));
        details.insert(
            OLD_POLICY.to_string(),
            p.old_instance.unwrap_or_default().as_str().to_string(),
        );
        Ok(Change {
            details,
            ..Change::default()
        })
    }

    async fn apply(&self, ctx: &ActionContext<'_>, intent: &Change) -> Result<Outcome, ActionError> {
        let client = &ctx.aws.clients().await.ec2;
        let old_id = intent_detail(intent, OLD)?.to_string();
        let token = intent_detail(intent, TOKEN)?.to_string();
        let policy = params(ctx.step).old_instance.unwrap_or_default();
        let old = ec2::describe(client, &old_id).await?;
        let mut change = intent.clone();
        let previous = launched_before(client, ctx).await?;
        // Before this step launched anything, the old instance must still be as planned. Once it
        // has, the step itself may have stopped or terminated it, so a replay does not check.
        if let (None, Some(recorded)) = (&previous, intent.details.get(OLD_STATE)) {
            if let Some(drift) = old_instance_drift(&old_id, recorded, &state(&old)) {
                return Err(ActionError::Drifted(drift));
            }
        }
        let image_id = match (&previous, intent.details.get(IMAGE)) {
            (Some(instance), _) => instance.image_id().unwrap_or_default().to_string(),
            (None, Some(id)) => id.clone(),
            (None, None) => {
                let name = intent_detail(intent, IMAGE_NAME)?;
                match ensure_image(client, ctx, &old_id, name).await? {
                    Some(id) => id,
                    // A dry-run cannot launch from an image that was not made: check the
                    // launch against the old instance's own AMI instead.
                    None => old.image_id().unwrap_or_default().to_string(),
                }
            }
        };
        change.details.insert(IMAGE.to_string(), image_id.clone());
        let image_text = format!(
            "{image_id}{}",
            intent
                .details
                .get(IMAGE_NAME)
                .filter(|n| !n.is_empty())
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        );
        let already = previous.is_some();
        let new = match previous {
            Some(instance) => instance,
            None => match launch(client, ctx, &old, &image_id, &token).await? {
                Some(instance) => instance,
                None => {
                    let old_text = handle_old(client, ctx, &old, policy).await?;
                    return Ok(Outcome {
                        message: format!(
                            "dry-run: would relaunch {old_id} from {image_text} with the same type, subnet, security groups, profile, key and tags, then: {old_text} (EC2 DryRun: the requests would have succeeded)"
                        ),
                        already_applied: false,
                        change,
                    });
                }
            },
        };
        let new_id = new.instance_id().unwrap_or_default().to_string();
        change.details.insert(NEW.to_string(), new_id.clone());
        change.details.insert(REPLACEMENT_DETAIL.to_string(), new_id.clone());
        if let Some(t) = new.launch_time() {
            change.details.insert("launchedAt".to_string(), t.to_string());
        }
        let running = wait_running(client, &new_id).await?;
        change.details.insert(
            "runningAt".to_string(),
            Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        );
        let old_text = handle_old(client, ctx, &old, policy).await?;
        change.details.insert("oldInstanceResult".to_string(), old_text.clone());
        let launched = change.details.get("launchedAt").cloned().unwrap_or_default();
        Ok(Outcome {
            message: format!(
                "{} {old_id} as {new_id} from {image_text}, type {}, launched at {launched}, running at {}; {old_text}",
                if already {
                    "found the replacement launched earlier:"
                } else {
                    "relaunched"
                },
                running.instance_type().map(|t| t.as_str()).unwrap_or("unknown"),
                change.details.get("runningAt").cloned().unwrap_or_default(),
            ),
            already_applied: already,
            change,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_image_source_at_most() {
        let ok = Ec2RelaunchParams {
            image_name_filter: Some("web-*".into()),
            image_tags: [("role".to_string(), "web".to_string())].into(),
            ..Default::default()
        };
        assert!(check(&ok).is_ok());
        assert!(check(&Ec2RelaunchParams::default()).is_ok());
        let both = Ec2RelaunchParams {
            image_id: Some("ami-1".into()),
            create_image_first: Some(true),
            ..Default::default()
        };
        assert!(check(&both).unwrap_err().contains("only one"));
        let bad = Ec2RelaunchParams {
            image_id: Some("img-1".into()),
            ..Default::default()
        };
        assert!(check(&bad).unwrap_err().contains("ami-"));
    }

    #[test]
    fn the_old_instance_drifts_when_someone_started_stopped_or_replaced_it() {
        assert!(old_instance_drift("i-1", "running", "running").is_none());
        assert!(
            old_instance_drift("i-1", "pending", "running").is_none(),
            "it came up by itself"
        );
        assert!(old_instance_drift("i-1", "stopping", "stopped").is_none());
        let started = old_instance_drift("i-1", "stopped", "running").expect("someone started it");
        assert!(
            started.message.contains("i-1 is running, no longer stopped"),
            "{}",
            started.message
        );
        assert!(
            old_instance_drift("i-1", "running", "terminated").is_some(),
            "someone replaced it"
        );
        assert!(old_instance_drift("i-1", "running", "stopped").is_some());
    }

    #[test]
    fn the_new_instance_keeps_the_tags_and_is_marked() {
        let old: BTreeMap<String, String> = [
            ("Name".to_string(), "web-1".to_string()),
            ("aws:autoscaling:groupName".to_string(), "asg".to_string()),
            (INCIDENT_TAG.to_string(), "old/incident".to_string()),
        ]
        .into();
        let tags = new_tags(&old, "shop/web-down", 0);
        assert_eq!(tags.get("Name").map(String::as_str), Some("web-1"));
        assert_eq!(tags.get(INCIDENT_TAG).map(String::as_str), Some("shop/web-down"));
        assert_eq!(tags.get(STEP_TAG).map(String::as_str), Some("0"));
        assert!(!tags.contains_key("aws:autoscaling:groupName"));
    }
}
