//! Triage rules from YAML fixtures in tests/fixtures/triage, with no API server.

use super::{classify, workload_signals, WorkloadObservation};
use crate::api::{Severity, TriageRule};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Event, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Fixture {
    pub expect: Expect,
    #[serde(default)]
    pub rules: Vec<TriageRule>,
    pub human: Option<Severity>,
    pub deployment: Option<Deployment>,
    #[serde(default)]
    pub replica_sets: Vec<ReplicaSet>,
    #[serde(default)]
    pub pods: Vec<Pod>,
    #[serde(default)]
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub endpoint_slices: Vec<EndpointSlice>,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Expect {
    pub severity: Severity,
    pub reason_contains: String,
}

impl Fixture {
    pub fn observation(&self) -> WorkloadObservation {
        WorkloadObservation {
            deployment: self.deployment.clone(),
            replica_sets: self.replica_sets.clone(),
            pods: self.pods.clone(),
            nodes: self.nodes.clone(),
            services: self.services.clone(),
            endpoint_slices: self.endpoint_slices.clone(),
            warning_events: self.events.clone(),
            ..WorkloadObservation::default()
        }
    }
}

pub(crate) fn load(name: &str) -> Fixture {
    let path = format!("{}/tests/fixtures/triage/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn every_fixture_triages_as_expected() {
    let dir = format!("{}/tests/fixtures/triage", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "expected the triage fixtures in {dir}");
    for name in names {
        let fixture = load(&name);
        let signals = workload_signals(&fixture.observation());
        let mut errors = Vec::new();
        let verdict = classify(&signals, &fixture.rules, fixture.human, &mut errors);
        assert!(errors.is_empty(), "{name}: rule errors {errors:?}");
        assert_eq!(
            verdict.severity, fixture.expect.severity,
            "{name}: {verdict:?} from {signals:?}"
        );
        assert!(
            verdict.reason.contains(&fixture.expect.reason_contains),
            "{name}: reason {:?} lacks {:?}",
            verdict.reason,
            fixture.expect.reason_contains
        );
    }
}

#[test]
fn rollout_signals_count_what_matters() {
    let signals = workload_signals(&load("rollout-new-replicaset-crashlooping.yaml").observation());
    assert_eq!(signals.crash_looping_pods, 1);
    assert_eq!(signals.max_restarts, 4);
    assert_eq!((signals.ready_endpoints, signals.total_endpoints), (3, 4));
    assert_eq!((signals.hosting_nodes, signals.not_ready_nodes), (3, 0));
    assert!(signals.new_replica_set_failing);
    assert_eq!(signals.warning_events, 1);
}

#[test]
fn a_missing_target_is_critical_and_said_so() {
    let verdict = classify(&Default::default(), &[], None, &mut Vec::new());
    assert_eq!(verdict.severity, Severity::Critical);
    assert!(verdict.reason.contains("not found"));
}

#[test]
fn broken_playbook_rules_are_reported_and_skipped() {
    let fixture = load("half-unavailable.yaml");
    let signals = workload_signals(&fixture.observation());
    let rules = vec![TriageRule {
        severity: Severity::Critical,
        when: "nonsense >".into(),
    }];
    let mut errors = Vec::new();
    let verdict = classify(&signals, &rules, None, &mut errors);
    assert_eq!(verdict.severity, Severity::Major);
    assert_eq!(errors.len(), 1);
}

#[test]
fn impact_says_how_bad_with_numbers() {
    let signals = workload_signals(&load("all-replicas-down.yaml").observation());
    let impact = super::impact(&signals);
    assert_eq!(
        impact.summary,
        "3/3 replicas unavailable, 0/3 endpoints ready, 3 pod(s) failing"
    );
    assert_eq!(impact.unavailable_replicas, Some(3));
    assert_eq!(impact.ready_endpoints, Some(0));
}

#[test]
fn an_alerts_severity_is_a_floor_that_only_a_human_overrides() {
    use super::{alert_floor, Verdict};
    use crate::api::AlertRef;
    let alert = AlertRef {
        name: "DemoHighErrorRatio".into(),
        fingerprint: "1".into(),
        severity: Some(Severity::Critical),
        starts_at: None,
        labels: Default::default(),
    };
    let mut mild = Verdict {
        severity: Severity::Minor,
        reason: "all replicas available".into(),
        decided_by: "default",
    };
    alert_floor(&mut mild, &alert);
    assert_eq!(mild.severity, Severity::Critical);
    assert!(mild
        .reason
        .contains("alert DemoHighErrorRatio says Critical (triage alone found Minor"));
    let mut human = Verdict {
        severity: Severity::Minor,
        reason: "set by a human".into(),
        decided_by: "human",
    };
    alert_floor(&mut human, &alert);
    assert_eq!(human.severity, Severity::Minor);
    let minor_alert = AlertRef {
        severity: Some(Severity::Minor),
        ..alert
    };
    let mut worse = Verdict {
        severity: Severity::Major,
        reason: "half down".into(),
        decided_by: "default",
    };
    alert_floor(&mut worse, &minor_alert);
    assert_eq!(worse.severity, Severity::Major, "triage may find it worse");
}
