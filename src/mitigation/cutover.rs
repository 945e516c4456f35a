//! Writing a value into a Secret or ConfigMap key, for actions that move a service somewhere
//! new (RestoreRDS writes the restored endpoint) so that applications pick it up.

use super::deployment::FIELD_MANAGER;
use super::{ActionContext, ActionError};
use crate::api::RdsCutover;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::ByteString;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

/// `Secret <name> key <key>` or `ConfigMap <name> key <key>`, as shown to people.
pub fn describe(cutover: &RdsCutover) -> String {
    match (&cutover.secret_name, &cutover.config_map_name) {
        (Some(s), _) => format!("Secret {s} key {}", cutover.key),
        (None, Some(c)) => format!("ConfigMap {c} key {}", cutover.key),
        (None, None) => format!("(no object) key {}", cutover.key),
    }
}

/// What is wrong with a cutover target, for the Playbook's Ready condition.
pub fn check(cutover: &RdsCutover) -> Result<(), String> {
    if cutover.secret_name.is_some() == cutover.config_map_name.is_some() {
        return Err("cutover needs exactly one of secretName and configMapName".into());
    }
    let key_ok = !cutover.key.is_empty()
        && cutover.key.len() <= 253
        && cutover
            .key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !key_ok {
        return Err(format!(
            "cutover.key {:?} is not a valid Secret/ConfigMap key (letters, digits, '-', '_', '.')",
            cutover.key
        ));
    }
    Ok(())
}

/// The key's current value, if the object and key exist.
pub async fn read(ctx: &ActionContext<'_>, cutover: &RdsCutover) -> Result<Option<String>, ActionError> {
    if let Some(name) = &cutover.secret_name {
        let api = Api::<Secret>::namespaced(ctx.client.clone(), ctx.namespace);
        let secret = api
            .get_opt(name)
            .await
            .map_err(|e| ActionError::from_kube(&format!("reading Secret {name}"), e))?;
        return Ok(secret
            .and_then(|s| s.data)
            .and_then(|d| d.get(&cutover.key).cloned())
            .map(|v| String::from_utf8_lossy(&v.0).into_owned()));
    }
    let name = cutover.config_map_name.clone().unwrap_or_default();
    let api = Api::<ConfigMap>::namespaced(ctx.client.clone(), ctx.namespace);
    let cm = api
        .get_opt(&name)
        .await
        .map_err(|e| ActionError::from_kube(&format!("reading ConfigMap {name}"), e))?;
    Ok(cm.and_then(|c| c.data).and_then(|d| d.get(&cutover.key).cloned()))
}

/// Sets the key to `value` with a server-side apply that owns only that key, creating the
/// object when it is missing.
pub async fn write(ctx: &ActionContext<'_>, cutover: &RdsCutover, value: &str) -> Result<(), ActionError> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    if let Some(name) = &cutover.secret_name {
        let api = Api::<Secret>::namespaced(ctx.client.clone(), ctx.namespace);
        let data = json!({ cutover.key.clone(): ByteString(value.as_bytes().to_vec()) });
        let patch = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data});
        api.patch(name, &params, &Patch::Apply(patch))
            .await
            .map_err(|e| ActionError::from_kube(&format!("writing Secret {name}"), e))?;
        return Ok(());
    }
    let name = cutover.config_map_name.clone().unwrap_or_default();
    let api = Api::<ConfigMap>::namespaced(ctx.client.clone(), ctx.namespace);
    let patch = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {cutover.key.clone(): value}});
    api.patch(&name, &params, &Patch::Apply(patch))
        .await
        .map_err(|e| ActionError::from_kube(&format!("writing ConfigMap {name}"), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_one_object_and_a_valid_key() {
        let mut c = RdsCutover {
            secret_name: Some("db".into()),
            config_map_name: None,
            key: "DB_ENDPOINT".into(),
        };
        assert!(check(&c).is_ok());
        assert_eq!(describe(&c), "Secret db key DB_ENDPOINT");
        c.config_map_name = Some("db".into());
        assert!(check(&c).is_err());
        c.secret_name = None;
        c.key = "bad key".into();
        assert!(check(&c).unwrap_err().contains("not a valid"));
    }
}
