//! Status writes the API server refuses with 409 Conflict are decided again and written, never
//! dropped, and never make a mitigation run twice. The refusals come from the real API server:
//! an admission webhook on loopback (hack/testbed/admission_faults.py) denies chosen writes.

use crate::harness::*;
use crate::lifecycle::{incident, playbook};
use dontpanic::api::{Incident, Phase, StepState};
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

const VALIDATION: &str = "{interval: 1s, count: 2, checks: [{name: available, kubernetes: {available: true}}]}";

/// Which writes the webhook numbers and may refuse.
pub struct FaultedWrites {
    /// The resource the numbered requests are for, such as `incidents`.
    pub resource: &'static str,
    /// The webhook rule that sends those writes to the webhook.
    pub rule: Value,
    /// Only writes sent with this field manager are numbered.
    pub field_manager: Option<&'static str>,
}

impl FaultedWrites {
    fn incident_status() -> FaultedWrites {
        FaultedWrites {
            resource: "incidents",
            rule: json!({"apiGroups": ["dontpanic.dev"], "apiVersions": ["*"], "operations": ["UPDATE"], "resources": ["incidents/status"]}),
            field_manager: None,
        }
    }
}

/// The webhook process and its registration, both removed when dropped.
pub struct AdmissionFaults {
    process: Child,
    name: String,
    record: PathBuf,
}

impl AdmissionFaults {
    /// Refuses the listed Incident status writes (numbered from 1) in namespace `ns` with `code`.
    async fn start(ns: &TestNamespace, refuse: &[u32], code: u16) -> AdmissionFaults {
        AdmissionFaults::start_for(ns, FaultedWrites::incident_status(), refuse, code).await
    }

    /// Refuses the listed writes of `writes` (numbered from 1) in namespace `ns` with `code`.
    pub async fn start_for(ns: &TestNamespace, writes: FaultedWrites, refuse: &[u32], code: u16) -> AdmissionFaults {
        let pki = PathBuf::from(env("TESTBED_DIR")).join("pki");
        let port = free_port();
        let record = std::env::temp_dir().join(format!("{}-admission.jsonl", ns.name));
        let _ = std::fs::remove_file(&record);
        let refuse: Vec<String> = refuse.iter().map(u32::to_string).collect();
        let mut command = Command::new("python3");
        command
            .arg(repo().join("hack/testbed/admission_faults.py"))
            .args(["--port", &port.to_string(), "--code", &code.to_string()])
            .args(["--refuse", &refuse.join(","), "--resource", writes.resource]);
        if let Some(manager) = writes.field_manager {
            command.args(["--field-manager", manager]);
        }
        let process = command
            .arg("--cert")
            .arg(pki.join("webhook-serving.crt"))
            .arg("--key")
            .arg(pki.join("webhook-serving.key"))
            .arg("--record")
            .arg(&record)
            .spawn()
            .expect("python3 runs the admission webhook");
        let name = format!("dontpanic-faults-{}", ns.name);
        let faults = AdmissionFaults { process, name, record };
        let ca = std::fs::read(pki.join("ca.crt")).expect("the testbed CA");
        let config: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": {"name": faults.name},
            "webhooks": [{
                "name": "faults.testbed.dontpanic.dev",
                "clientConfig": {
                    "url": format!("https://127.0.0.1:{port}/"),
                    "caBundle": k8s_openapi::ByteString(ca),
                },
                "rules": [
                    writes.rule,
                    {"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"], "resources": ["configmaps"]},
                ],
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.name}},
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 5,
            }],
        }))
        .unwrap();
        Api::<ValidatingWebhookConfiguration>::all(ns.client.clone())
            .create(&PostParams::default(), &config)
            .await
            .expect("webhook registered");
        // The API server picks the registration up asynchronously: write ConfigMaps until the
        // webhook has seen one, so every Incident write after this goes through it.
        let configmaps = ns.api::<ConfigMap>();
        let mut probe = 0;
        eventually("the API server to call the webhook", Duration::from_secs(30), || {
            probe += 1;
            let configmaps = configmaps.clone();
            let faults = &faults;
            let name = format!("webhook-probe-{probe}");
            async move {
                let cm: ConfigMap = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
                let _ = configmaps.create(&PostParams::default(), &cm).await;
                if faults.requests().iter().any(|r| r["resource"] == "configmaps") {
                    Ok(())
                } else {
                    Err("no request yet".to_string())
                }
            }
        })
        .await;
        faults
    }

    /// Every admission request seen so far.
    pub fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.record)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for AdmissionFaults {
    fn drop(&mut self) {
        let _ = Command::new(kubectl_path())
            .args([
                "delete",
                "validatingwebhookconfiguration",
                &self.name,
                "--ignore-not-found",
            ])
            .status();
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test]
async fn status_writes_refused_with_409_are_decided_again_and_never_dropped() {
    let ns = TestNamespace::new("dp-conflict").await;
    bad_release_with_playbook(&ns, &playbook("auto", "[{action: RollbackDeployment}]", VALIDATION)).await;
    // Every other write among the first ten: the opening write, the phase changes, the step's
    // intent (before the rollback) and its result (after it) each meet a conflict once.
    let refused = [1, 3, 5, 7, 9];
    let faults = AdmissionFaults::start(&ns, &refused, 409).await;
    let op = Operator::start(&ns.name, &[]);
    apply_yaml(&ns.api::<Incident>(), &incident("checkout-500", "checkout")).await;
    let st = wait_phase(&ns, "checkout-500", Phase::Resolved, Duration::from_secs(90)).await;

    let requests = faults.requests();
    let status_writes: Vec<&Value> = requests.iter().filter(|r| r["resource"] == "incidents").collect();
    assert!(
        status_writes
            .iter()
            .all(|r| r["subResource"] == "status" && r["name"] == "checkout-500"),
        "{status_writes:?}"
    );
    let refusals = status_writes.iter().filter(|r| r["refused"] == true).count();
    assert_eq!(refusals, refused.len(), "the API server refused {refusals} writes");
    let retried = op.logs().matches("deciding again from a fresh read").count();
    assert_eq!(retried, refused.len(), "each conflict is decided again:\n{}", op.logs());

    let timeline = timeline_text(&st);
    for entry in ["Detected", "Triaged", "StepStarted", "StepSucceeded"] {
        let count = st.timeline.iter().filter(|e| e.type_ == entry).count();
        assert_eq!(count, 1, "{entry} recorded {count} times:\n{timeline}");
    }
    assert_eq!(st.steps[0].state, StepState::Succeeded);
    assert_eq!(st.steps[0].attempts, 1);
    // One of the refused writes carried the rollback's result: decided again, the step resumed
    // from its recorded intent and found the rollback done, instead of sending it twice.
    let message = st.steps[0].message.clone().unwrap_or_default();
    assert!(message.contains("already rolled back"), "{message}\n{timeline}");
    assert_eq!(revisions(&ns).await, vec![2, 3], "exactly one rollback:\n{timeline}");
}
