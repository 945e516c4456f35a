//! The `dontpanic.dev/v1alpha1` API: the single source of the CRDs.

mod common;
mod incident;
mod playbook;

pub use common::*;
pub use incident::*;
pub use playbook::*;

use kube::CustomResourceExt;

/// The CRDs as YAML documents, in the order `crds/` stores them.
pub fn crds_yaml() -> Vec<(&'static str, String)> {
    vec![
        (
            "incidents.dontpanic.dev.yaml",
            serde_yaml::to_string(&Incident::crd()).expect("CRD serializes"),
        ),
        (
            "playbooks.dontpanic.dev.yaml",
            serde_yaml::to_string(&Playbook::crd()).expect("CRD serializes"),
        ),
    ]
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
}
