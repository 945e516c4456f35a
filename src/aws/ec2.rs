//! EC2: finding the target instance (by ID or tags), reading its health, and the reads the
//! relaunch action shares.

use super::error::from_sdk;
use super::names::ImageInfo;
use super::CloudObservation;
use crate::api::IncidentTarget;
use crate::mitigation::ActionError;
use crate::triage::Signals;
use aws_sdk_ec2::types::{Filter, Image, Instance, SummaryStatus};
use aws_sdk_ec2::Client;
use std::collections::BTreeMap;

/// Instance states in which the server does not serve.
const DOWN_STATES: &[&str] = &["stopping", "stopped", "shutting-down", "terminated"];

/// The instance's tags as a map.
pub fn tags(instance: &Instance) -> BTreeMap<String, String> {
    instance
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string())))
        .collect()
}

pub fn state(instance: &Instance) -> String {
    instance
        .state()
        .and_then(|s| s.name())
        .map(|n| n.as_str().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Reads one instance by ID.
pub async fn describe(client: &Client, instance_id: &str) -> Result<Instance, ActionError> {
    let what = format!("describing instance {instance_id}");
    let out = client
        .describe_instances()
        .instance_ids(instance_id)
        .send()
        .await
        .map_err(|e| from_sdk(&what, &e))?;
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .find(|i| i.instance_id() == Some(instance_id))
        .cloned()
        .ok_or_else(|| {
            ActionError::Permanent(format!(
                "{what}: InvalidInstanceID.NotFound: the instance ID '{instance_id}' does not exist"
            ))
        })
}

/// Instances carrying all the tags, except terminated ones.
pub async fn find_by_tags(client: &Client, wanted: &BTreeMap<String, String>) -> Result<Vec<Instance>, ActionError> {
    let mut request = client.describe_instances().filters(
        Filter::builder()
            .name("instance-state-name")
            .values("pending")
            .values("running")
            .values("stopping")
            .values("stopped")
            .build(),
    );
    for (k, v) in wanted {
        request = request.filters(Filter::builder().name(format!("tag:{k}")).values(v).build());
    }
    let out = request
        .send()
        .await
        .map_err(|e| from_sdk("finding instances by tags", &e))?;
    Ok(out.reservations().iter().flat_map(|r| r.instances()).cloned().collect())
}

/// The instance an Incident targets: by tags when `target.tags` is set (exactly one must
/// match), by ID otherwise. Instances launched for the Incident itself (tagged
/// `dontpanic.dev/incident=<incident>`, copying the target's tags) are not the target.
pub async fn resolve(client: &Client, target: &IncidentTarget, incident: &str) -> Result<Instance, ActionError> {
    if target.tags.is_empty() {
        return describe(client, &target.name).await;
    }
    let found: Vec<Instance> = find_by_tags(client, &target.tags)
        .await?
        .into_iter()
        .filter(|i| tags(i).get(super::names::INCIDENT_TAG).map(String::as_str) != Some(incident))
        .collect();
    let selector: Vec<String> = target.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(ActionError::Refused(format!(
            "no EC2 instance carries the tags {}; the tag selector must match exactly one",
            selector.join(",")
        ))),
        many => {
            let ids: Vec<&str> = many.iter().filter_map(|i| i.instance_id()).collect();
            Err(ActionError::Refused(format!(
                "{} EC2 instances carry the tags {} ({}); the tag selector must match exactly one",
                many.len(),
                selector.join(","),
                ids.join(", ")
            )))
        }
    }
}

/// The instance and system status checks, when the API reports them.
pub async fn status_checks(client: &Client, instance_id: &str) -> Result<Option<(String, String)>, ActionError> {
    let out = client
        .describe_instance_status()
        .instance_ids(instance_id)
        .include_all_instances(true)
        .send()
        .await
        .map_err(|e| from_sdk(&format!("reading status checks of {instance_id}"), &e))?;
    let name = |s: Option<&SummaryStatus>| s.map(|s| s.as_str().to_string()).unwrap_or_default();
    Ok(out.instance_statuses().first().map(|s| {
        (
            name(s.instance_status().and_then(|x| x.status())),
            name(s.system_status().and_then(|x| x.status())),
        )
    }))
}

/// Whether an instance is down, and its state in one line, from its state and checks.
pub fn health(instance_id: &str, state: &str, checks: Option<(&str, &str)>) -> (bool, String) {
    let impaired = checks.is_some_and(|(i, s)| i == "impaired" || s == "impaired");
    let down = DOWN_STATES.contains(&state) || impaired;
    let line = match checks {
        Some((i, s)) if impaired => {
            format!("instance {instance_id} {state}, status checks impaired (instance {i}, system {s})")
        }
        _ => format!("instance {instance_id} {state}"),
    };
    (down, line)
}

/// Triage's view of an EC2 target (or of the instance that replaced it).
pub async fn observe(
    client: &Client,
    target: &IncidentTarget,
    incident: &str,
    instance_id: Option<&str>,
) -> Result<CloudObservation, ActionError> {
    let instance = match instance_id {
        Some(id) => describe(client, id).await?,
        None => resolve(client, target, incident).await?,
    };
    let id = instance.instance_id().unwrap_or_default().to_string();
    let state = state(&instance);
    let checks = if state == "running" {
        status_checks(client, &id).await?
    } else {
        None
    };
    let (down, line) = health(&id, &state, checks.as_ref().map(|(i, s)| (i.as_str(), s.as_str())));
    let note = format!(
        "instance {id}, type {}, AZ {}, state {state}{}, AMI {}",
        instance.instance_type().map(|t| t.as_str()).unwrap_or("unknown"),
        instance
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or("unknown"),
        checks
            .as_ref()
            .map(|(i, s)| format!(", status checks instance {i} / system {s}"))
            .unwrap_or_default(),
        instance.image_id().unwrap_or("unknown"),
    );
    Ok(CloudObservation {
        signals: Signals {
            target_found: true,
            server_down: down,
            server_state: Some(line),
            ..Signals::default()
        },
        note,
        labels: tags(&instance),
    })
}

fn image_info(image: &Image) -> ImageInfo {
    ImageInfo {
        id: image.image_id().unwrap_or_default().to_string(),
        name: image.name().unwrap_or_default().to_string(),
        created: image.creation_date().unwrap_or_default().to_string(),
        available: image.state().map(|s| s.as_str()) == Some("available"),
    }
}

/// Images matching a name pattern and tags.
pub async fn find_images(
    client: &Client,
    name_filter: Option<&str>,
    tags: &BTreeMap<String, String>,
) -> Result<Vec<ImageInfo>, ActionError> {
    let mut request = client.describe_images();
    if let Some(name) = name_filter {
        request = request.filters(Filter::builder().name("name").values(name).build());
    }
    for (k, v) in tags {
        request = request.filters(Filter::builder().name(format!("tag:{k}")).values(v).build());
    }
    let out = request.send().await.map_err(|e| from_sdk("finding AMIs", &e))?;
    Ok(out.images().iter().map(image_info).collect())
}

/// One image by ID.
pub async fn describe_image(client: &Client, image_id: &str) -> Result<ImageInfo, ActionError> {
    let what = format!("describing AMI {image_id}");
    let out = client
        .describe_images()
        .image_ids(image_id)
        .send()
        .await
        .map_err(|e| from_sdk(&what, &e))?;
    out.images()
        .first()
        .map(image_info)
        .ok_or_else(|| ActionError::Permanent(format!("{what}: InvalidAMIID.NotFound: no such AMI")))
}

#[cfg(test)]
mod tests {
    use super::health;

    #[test]
    fn stopped_terminated_and_impaired_instances_are_down() {
        assert!(health("i-1", "stopped", None).0);
        assert!(health("i-1", "terminated", None).0);
        assert!(health("i-1", "shutting-down", None).0);
        let (down, line) = health("i-1", "running", Some(("impaired", "ok")));
        assert!(down);
        assert_eq!(
            line,
            "instance i-1 running, status checks impaired (instance impaired, system ok)"
        );
        assert!(!health("i-1", "running", Some(("ok", "ok"))).0);
        assert!(!health("i-1", "running", Some(("initializing", "initializing"))).0);
        assert!(!health("i-1", "pending", None).0);
        assert_eq!(health("i-1", "stopped", None).1, "instance i-1 stopped");
    }
}
