//! The `dontpanic.dev/v1alpha1` API: the single source of the CRDs.

mod common;
mod incident;
mod notification;
mod playbook;

pub use common::*;
pub use incident::*;
pub use notification::*;
pub use playbook::*;

use kube::CustomResourceExt;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};

/// The CRDs as YAML documents, in the order `crds/` stores them.
pub fn crds_yaml() -> Vec<(&'static str, String)> {
    let yaml = |mut crd: CustomResourceDefinition| {
        for version in &mut crd.spec.versions {
            if let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
                unwrap_descriptions(schema);
            }
        }
        serde_yaml::to_string(&crd).expect("CRD serializes")
    };
    vec![
        ("incidents.dontpanic.dev.yaml", yaml(Incident::crd())),
        ("playbooks.dontpanic.dev.yaml", yaml(Playbook::crd())),
    ]
}

/// Joins the lines of wrapped doc comments so that `kubectl explain` re-flows them; blank
/// lines (paragraphs) stay.
fn unwrap_descriptions(schema: &mut JSONSchemaProps) {
    if let Some(text) = schema.description.as_mut() {
        *text = text
            .split("\n\n")
            .map(|paragraph| paragraph.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("\n\n");
    }
    for child in schema.properties.iter_mut().flat_map(|p| p.values_mut()) {
        unwrap_descriptions(child);
    }
    match schema.items.as_mut() {
        Some(JSONSchemaPropsOrArray::Schema(item)) => unwrap_descriptions(item),
        Some(JSONSchemaPropsOrArray::Schemas(items)) => items.iter_mut().for_each(unwrap_descriptions),
        None => {}
    }
    if let Some(JSONSchemaPropsOrBool::Schema(values)) = schema.additional_properties.as_mut() {
        unwrap_descriptions(values);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Collects the paths of properties without a description, walking the whole schema.
    fn undocumented(path: &str, schema: &Value, out: &mut Vec<String>) {
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                let at = format!("{path}.{name}");
                let described = prop
                    .get("description")
                    .and_then(Value::as_str)
                    .is_some_and(|d| !d.trim().is_empty());
                if !described && at != ".metadata" && at != ".apiVersion" && at != ".kind" {
                    out.push(at.clone());
                }
                undocumented(&at, prop, out);
            }
        }
        if let Some(items) = schema.get("items") {
            undocumented(&format!("{path}[]"), items, out);
        }
        if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
            undocumented(&format!("{path}{{}}"), values, out);
        }
    }

    #[test]
    fn every_field_of_every_crd_has_a_description() {
        let mut missing = Vec::new();
        for crd in [Incident::crd(), Playbook::crd()] {
            let crd = serde_json::to_value(&crd).unwrap();
            let kind = crd["spec"]["names"]["kind"].as_str().unwrap().to_string();
            for version in crd["spec"]["versions"].as_array().unwrap() {
                let schema = &version["schema"]["openAPIV3Schema"];
                undocumented(&kind, schema, &mut missing);
            }
        }
        assert!(
            missing.is_empty(),
            "{} propert(ies) without a description (add a doc comment):\n{}",
            missing.len(),
            missing.join("\n")
        );
    }

    #[test]
    fn generated_descriptions_are_unwrapped_for_kubectl_explain() {
        let (_, yaml) = crds_yaml().remove(0);
        assert!(yaml.contains("description: The Playbook to follow. When absent, the Playbook in the namespace whose selector matches the target is used."), "{yaml}");
    }
}
