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
