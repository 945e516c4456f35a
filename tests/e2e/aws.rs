//! AWS mitigations against the testbed's moto server, through the real SDK clients: relaunching
//! a stopped EC2 instance (also across a restart), restoring an RDS instance from a snapshot and
//! to a point in time with an endpoint cutover, approval by default, and AWS errors.

use crate::harness::*;
use aws_sdk_ec2::types::{Filter, InstanceType, ResourceType, Tag, TagSpecification};
use dontpanic::api::{Incident, IncidentStatus, Phase, Playbook, SafetySpec, StepState};
use dontpanic::aws::names::{restored_db_identifier, INCIDENT_TAG};
use dontpanic::aws::{Aws, AwsClients};
use dontpanic::mitigation::{ActionContext, MitigationAction, Outcome, RelaunchEc2FromAmi};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::ResourceExt;
use std::collections::BTreeMap;
use std::time::Duration;

async fn clients() -> &'static AwsClients {
    static AWS: std::sync::OnceLock<Aws> = std::sync::OnceLock::new();
    AWS.get_or_init(|| Aws::new(Some(env("AWS_ENDPOINT_URL"))))
        .clients()
        .await
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build()
}

/// Any AMI moto ships with, to build the test's own AMIs from.
async fn base_image(c: &AwsClients) -> String {
    let out = c
        .ec2
        .describe_images()
        .owners("amazon")
        .filters(Filter::builder().name("name").values("amzn-ami-*").build())
        .send()
        .await
        .expect("moto lists its AMIs");
    out.images()
        .iter()
        .find_map(|i| i.image_id().map(str::to_string))
        .expect("moto has a default Amazon Linux AMI")
}

async fn launch(c: &AwsClients, image: &str, tags: &[(&str, &str)]) -> String {
    let out = c
        .ec2
        .run_instances()
        .image_id(image)
        .instance_type(InstanceType::T3Micro)
        .min_count(1)
        .max_count(1)
        .key_name("ops")
        .tag_specifications(
            TagSpecification::builder()
                .resource_type(ResourceType::Instance)
                .set_tags(Some(tags.iter().map(|(k, v)| tag(k, v)).collect()))
                .build(),
        )
        .send()
        .await
        .expect("instance launched");
    out.instances()[0].instance_id().unwrap().to_string()
}

async fn instance_state(c: &AwsClients, id: &str) -> (String, Option<String>, BTreeMap<String, String>) {
    let out = c.ec2.describe_instances().instance_ids(id).send().await.unwrap();
    let i = out.reservations()[0].instances()[0].clone();
    (
        dontpanic::aws::ec2::state(&i),
        i.image_id().map(str::to_string),
        dontpanic::aws::ec2::tags(&i),
    )
}

/// Instances (in any state) that this Incident launched.
async fn launched_for(c: &AwsClients, incident: &str) -> Vec<String> {
    let out = c
        .ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name(format!("tag:{INCIDENT_TAG}"))
                .values(incident)
                .build(),
        )
        .send()
        .await
        .unwrap();
    out.reservations()
        .iter()
        .flat_map(|r| r.instances())
        .filter_map(|i| i.instance_id().map(str::to_string))
        .collect()
}

fn ec2_playbook(ec2: &str, mode: &str) -> String {
    format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: servers}}\nspec:\n  selector: {{kinds: [EC2Instance]}}\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: [{{action: RelaunchEC2FromAMI, ec2: {ec2}}}]\n  validation: {{interval: 1s, count: 2}}\n  safety: {{mode: {mode}, maxAttempts: 3}}\n"
    )
}

fn rds_playbook(step: &str, mode: &str) -> String {
    format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Playbook\nmetadata: {{name: databases}}\nspec:\n  selector: {{kinds: [RDSInstance]}}\n  mitigations:\n    - severities: [Critical, Major, Medium, Minor]\n      steps: [{step}]\n  validation: {{interval: 1s, count: 2}}\n  safety: {{mode: {mode}, maxAttempts: 3}}\n"
    )
}

/// An Incident on `kind`/`target`; `spec_extra` and `target_extra` are YAML flow fields that
/// start with a comma.
fn incident_yaml(name: &str, kind: &str, target: &str, target_extra: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: dontpanic.dev/v1alpha1\nkind: Incident\nmetadata: {{name: {name}}}\nspec: {{summary: '{target} is down'{spec_extra}, target: {{kind: {kind}, name: {target}{target_extra}}}}}\n"
    )
}

fn step_details(st: &IncidentStatus) -> BTreeMap<String, String> {
    st.steps[0].intent.clone().unwrap_or_default().details
}

async fn uid_of(ns: &TestNamespace, name: &str) -> String {
    ns.api::<Incident>().get(name).await.unwrap().uid().unwrap()
}

#[tokio::test]
async fn a_stopped_instance_is_relaunched_from_the_newest_matching_ami_once_across_a_restart() {
    let ns = TestNamespace::new("dp-ec2").await;
    let c = clients().await;
    let base = base_image(c).await;
    // Two AMIs of the app; the newer one must be chosen.
    let builder = launch(c, &base, &[("Name", "builder")]).await;
    let prefix = format!("dp-e2e-{}-web", ns.name);
    let mut images = Vec::new();
    for version in ["v1", "v2"] {
        let out = c
            .ec2
            .create_image()
            .instance_id(&builder)
            .name(format!("{prefix}-{version}"))
            .send()
            .await
            .expect("AMI created");
        images.push(out.image_id().unwrap().to_string());
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let app = format!("shop-{}", ns.name);
    let old = launch(c, &images[0], &[("Name", "web-1"), ("app", &app), ("role", "web")]).await;
    c.ec2.stop_instances().instance_ids(&old).send().await.unwrap();
    assert_eq!(instance_state(c, &old).await.0, "stopped");

    apply_yaml(
        &ns.api::<Playbook>(),
        &ec2_playbook(
            &format!("{{imageNameFilter: '{prefix}-*', oldInstance: terminate}}"),
            "auto",
        ),
    )
    .await;
    let mut op = Operator::start(&ns.name, &["--exit-after-intent"]);
    apply_yaml(
        &ns.api::<Incident>(),
        &incident_yaml(
            "web-down",
            "EC2Instance",
            "web-1",
            &format!(", tags: {{app: {app}}}"),
            "",
        ),
    )
    .await;
    op.expect_killed_at_crash_point();
    let st = incident_status(&ns, "web-down").await;
    assert_eq!(st.steps[0].state, StepState::Running);
    let intent = step_details(&st);
    assert_eq!(intent.get("oldInstanceId"), Some(&old));
    assert_eq!(
        intent.get("imageId"),
        Some(&images[1]),
        "the newest matching AMI is chosen"
    );
    let incident_ref = format!("{}/web-down", ns.name);
    assert!(
        launched_for(c, &incident_ref).await.is_empty(),
        "nothing launched before the restart"
    );

    op.extra_clear();
    op.spawn(&[]);
    let st = wait_phase(&ns, "web-down", Phase::Resolved, Duration::from_secs(120)).await;
    let text = timeline_text(&st);
    assert!(
        text.contains("Critical") && text.contains(&format!("instance {old} stopped")),
        "{text}"
    );
    assert_eq!(st.steps[0].attempts, 1, "{text}");
    let details = step_details(&st);
    let new = details
        .get("newInstanceId")
        .cloned()
        .expect("the new instance is recorded");
    assert!(
        text.contains(&new) && text.contains(&old) && text.contains(&images[1]),
        "{text}"
    );
    assert!(
        details.contains_key("launchedAt") && details.contains_key("runningAt"),
        "{details:?}"
    );
    let (state, image, tags) = instance_state(c, &new).await;
    assert_eq!(state, "running");
    assert_eq!(image.as_deref(), Some(images[1].as_str()));
    assert_eq!(tags.get("Name").map(String::as_str), Some("web-1"));
    assert_eq!(tags.get("app"), Some(&app));
    assert_eq!(tags.get("role").map(String::as_str), Some("web"));
    assert_eq!(tags.get(INCIDENT_TAG), Some(&incident_ref));
    assert_eq!(instance_state(c, &old).await.0, "terminated", "oldInstance: terminate");
    assert_eq!(
        launched_for(c, &incident_ref).await,
        vec![new.clone()],
        "exactly one new instance"
    );

    // The step applied once more with the recorded intent (a crash after the launch, before the
    // status was written) finds the instance it launched and launches nothing.
    let incident = ns.api::<Incident>().get("web-down").await.unwrap();
    let again = apply_again(&ns, &incident, &st).await;
    assert!(again.already_applied, "{}", again.message);
    assert_eq!(again.change.details.get("newInstanceId"), Some(&new));
    assert_eq!(launched_for(c, &incident_ref).await, vec![new.clone()], "still one");

    c.ec2
        .terminate_instances()
        .instance_ids(&builder)
        .instance_ids(&new)
        .send()
        .await
        .unwrap();
    for image in &images {
        let _ = c.ec2.deregister_image().image_id(image).send().await;
    }
}

/// Runs step 0's `apply` in this process, with the intent the Incident recorded.
async fn apply_again(ns: &TestNamespace, incident: &Incident, st: &IncidentStatus) -> Outcome {
    let aws = Aws::new(Some(env("AWS_ENDPOINT_URL")));
    let step = st.steps[0].spec.clone().unwrap_or_default();
    let safety = SafetySpec::default();
    let uid = incident.uid().unwrap();
    let ctx = ActionContext {
        client: ns.client.clone(),
        aws: &aws,
        namespace: &ns.name,
        incident_name: "web-down",
        incident_uid: &uid,
        step_index: 0,
        target: &incident.spec.target,
        step: &step,
        safety: &safety,
        dry_run: false,
    };
    let intent = st.steps[0].intent.clone().unwrap();
    RelaunchEc2FromAmi
        .apply(&ctx, &intent)
        .await
        .expect("applying again succeeds")
}

#[tokio::test]
async fn create_image_first_launches_from_an_image_of_the_failing_instance_and_stops_it() {
    let ns = TestNamespace::new("dp-ec2img").await;
    let c = clients().await;
    let base = base_image(c).await;
    let old = launch(c, &base, &[("Name", "api-1")]).await;
    apply_yaml(
        &ns.api::<Playbook>(),
        &ec2_playbook("{createImageFirst: true, oldInstance: stop}", "auto"),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(
        &ns.api::<Incident>(),
        &incident_yaml("api-slow", "EC2Instance", &old, "", ", severity: Major"),
    )
    .await;
    let st = wait_phase(&ns, "api-slow", Phase::Resolved, Duration::from_secs(90)).await;
    let details = step_details(&st);
    let image = details.get("imageId").cloned().expect("the created AMI is recorded");
    let name = details.get("imageName").cloned().unwrap();
    assert!(name.starts_with(&format!("dontpanic-{}-api-slow-", ns.name)), "{name}");
    let new = details.get("newInstanceId").cloned().unwrap();
    let (state, launched_from, tags) = instance_state(c, &new).await;
    assert_eq!(
        (state.as_str(), launched_from.as_deref()),
        ("running", Some(image.as_str()))
    );
    assert_eq!(tags.get("Name").map(String::as_str), Some("api-1"));
    assert_eq!(instance_state(c, &old).await.0, "stopped", "oldInstance: stop");
    c.ec2
        .terminate_instances()
        .instance_ids(&old)
        .instance_ids(&new)
        .send()
        .await
        .unwrap();
    let _ = c.ec2.deregister_image().image_id(&image).send().await;
}

#[tokio::test]
async fn a_dry_run_relaunch_uses_the_ec2_dry_run_flag_and_launches_nothing() {
    let ns = TestNamespace::new("dp-ec2dry").await;
    let c = clients().await;
    let base = base_image(c).await;
    let old = launch(c, &base, &[("Name", "dry-1")]).await;
    c.ec2.stop_instances().instance_ids(&old).send().await.unwrap();
    apply_yaml(
        &ns.api::<Playbook>(),
        &ec2_playbook(&format!("{{imageId: {base}, oldInstance: stop}}"), "dry-run"),
    )
    .await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(
        &ns.api::<Incident>(),
        &incident_yaml("dry-down", "EC2Instance", &old, "", ""),
    )
    .await;
    let st = wait_phase(&ns, "dry-down", Phase::Escalated, Duration::from_secs(60)).await;
    let text = timeline_text(&st);
    assert!(st.steps[0].dry_run, "{text}");
    assert!(
        text.contains(&format!("dry-run: would relaunch {old} from {base}")),
        "{text}"
    );
    assert!(launched_for(c, &format!("{}/dry-down", ns.name)).await.is_empty());
    c.ec2.terminate_instances().instance_ids(&old).send().await.unwrap();
}

async fn create_db(c: &AwsClients, id: &str) {
    c.rds
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .master_username("app")
        .master_user_password("correct-horse-battery")
        .allocated_storage(20)
        .send()
        .await
        .expect("DB instance created");
}

async fn db_status(c: &AwsClients, id: &str) -> Option<String> {
    dontpanic::aws::rds::find(&c.rds, id)
        .await
        .unwrap()
        .map(|d| dontpanic::aws::rds::status(&d))
}

/// Lets the operator's ServiceAccount write Secrets in the test namespace, as the chart's
/// `rbac.extraSecretNamespaces` does for application namespaces.
fn grant_secret_writes(ns: &TestNamespace) {
    let yaml = format!(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: dontpanic-secrets, namespace: {n}}}\nrules: [{{apiGroups: [''], resources: [secrets], verbs: [get, create, update, patch]}}]\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: dontpanic-secrets, namespace: {n}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: dontpanic-secrets}}\nsubjects: [{{kind: ServiceAccount, name: dontpanic, namespace: dontpanic-system}}]\n",
        n = ns.name
    );
    let (ok, _, err) = kubectl(&["apply", "-f", "-"], Some(&yaml));
    assert!(ok, "{err}");
}

/// A namespace with a DB instance `<prefix>-<namespace>`, a Playbook with one RestoreRDS step,
/// and the operator watching it.
async fn rds_setup(ns_prefix: &str, db_prefix: &str, step: &str) -> (TestNamespace, String, Operator) {
    rds_setup_in_mode(ns_prefix, db_prefix, step, "auto").await
}

async fn rds_setup_in_mode(
    ns_prefix: &str,
    db_prefix: &str,
    step: &str,
    mode: &str,
) -> (TestNamespace, String, Operator) {
    let ns = TestNamespace::new(ns_prefix).await;
    let db = format!("{db_prefix}-{}", ns.name);
    create_db(clients().await, &db).await;
    apply_yaml(&ns.api::<Playbook>(), &rds_playbook(step, mode)).await;
    let op = Operator::start(&ns.name, &[]);
    (ns, db, op)
}

async fn open_rds_incident(ns: &TestNamespace, name: &str, db: &str, severity: &str) {
    apply_yaml(
        &ns.api::<Incident>(),
        &incident_yaml(name, "RDSInstance", db, "", &format!(", severity: {severity}")),
    )
    .await;
}

async fn delete_dbs(ids: &[&String]) {
    for id in ids {
        let _ = clients()
            .await
            .rds
            .delete_db_instance()
            .db_instance_identifier(id.as_str())
            .skip_final_snapshot(true)
            .send()
            .await;
    }
}

/// The Incident escalated because its only step failed with `code` in the message.
async fn assert_failed_with_code(ns: &TestNamespace, name: &str, code: &str) {
    let st = wait_phase(ns, name, Phase::Escalated, Duration::from_secs(60)).await;
    let text = timeline_text(&st);
    assert_eq!(st.steps[0].state, StepState::Failed, "{text}");
    let message = st.steps[0].message.clone().unwrap_or_default();
    assert!(message.contains(code), "{message}");
    assert!(
        text.contains(code) && text.contains("no mitigation step is left"),
        "{text}"
    );
}

#[tokio::test]
async fn restore_rds_waits_for_approval_then_restores_the_newest_snapshot_and_cuts_over() {
    let c = clients().await;
    let (ns, db, _op) = rds_setup(
        "dp-rds",
        "orders",
        "{action: RestoreRDS, rds: {useLatestSnapshot: true, cutover: {secretName: orders-db, key: endpoint}}}",
    )
    .await;
    let snapshot = format!("{db}-manual");
    c.rds
        .create_db_snapshot()
        .db_instance_identifier(&db)
        .db_snapshot_identifier(&snapshot)
        .send()
        .await
        .expect("snapshot taken");
    grant_secret_writes(&ns);
    open_rds_incident(&ns, "orders-down", &db, "Critical").await;
    let st = wait_phase(&ns, "orders-down", Phase::AwaitingApproval, Duration::from_secs(60)).await;
    assert_eq!(st.steps[0].state, StepState::AwaitingApproval, "{}", timeline_text(&st));
    let new_id = restored_db_identifier("orders-down", &uid_of(&ns, "orders-down").await, 0);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(db_status(c, &new_id).await, None, "nothing is restored before approval");

    approve(&ns, "orders-down");
    let st = wait_phase(&ns, "orders-down", Phase::Resolved, Duration::from_secs(90)).await;
    let text = timeline_text(&st);
    let details = step_details(&st);
    assert_eq!(
        details.get("snapshotId"),
        Some(&snapshot),
        "the newest snapshot: {details:?}"
    );
    assert_eq!(details.get("newDbInstanceIdentifier"), Some(&new_id));
    let endpoint = details.get("endpoint").cloned().expect("endpoint recorded");
    assert!(endpoint.starts_with(&new_id), "{endpoint}");
    assert!(
        text.contains(&snapshot) && text.contains(&new_id) && text.contains(&endpoint),
        "{text}"
    );
    assert_eq!(db_status(c, &new_id).await.as_deref(), Some("available"));
    assert_eq!(
        db_status(c, &db).await.as_deref(),
        Some("available"),
        "the old DB is untouched"
    );
    let secret = ns
        .api::<Secret>()
        .get("orders-db")
        .await
        .expect("the cutover Secret exists");
    let value = secret.data.unwrap_or_default().get("endpoint").cloned().unwrap();
    assert_eq!(String::from_utf8(value.0).unwrap(), endpoint);
    delete_dbs(&[&db, &new_id]).await;
}

#[tokio::test]
async fn restore_rds_to_the_latest_restorable_time_writes_a_config_map() {
    let c = clients().await;
    let (ns, db, _op) = rds_setup(
        "dp-rdspitr",
        "ledger",
        "{action: RestoreRDS, requiresApproval: false, rds: {latestRestorableTime: true, cutover: {configMapName: ledger-db, key: host}}}",
    )
    .await;
    open_rds_incident(&ns, "ledger-down", &db, "Major").await;
    let st = wait_phase(&ns, "ledger-down", Phase::Resolved, Duration::from_secs(90)).await;
    let text = timeline_text(&st);
    let details = step_details(&st);
    assert!(details.contains_key("latestRestorableTime"), "{details:?}");
    assert!(text.contains("the latest restorable time"), "{text}");
    let new_id = details.get("newDbInstanceIdentifier").cloned().unwrap();
    assert_eq!(db_status(c, &new_id).await.as_deref(), Some("available"));
    assert_eq!(db_status(c, &db).await.as_deref(), Some("available"));
    let cm = ns
        .api::<ConfigMap>()
        .get("ledger-db")
        .await
        .expect("the cutover ConfigMap exists");
    assert_eq!(cm.data.unwrap_or_default().get("host"), details.get("endpoint"));
    delete_dbs(&[&db, &new_id]).await;
}

#[tokio::test]
async fn restore_rds_to_a_point_in_time() {
    let c = clients().await;
    let restore_time =
        (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (ns, db, _op) = rds_setup(
        "dp-rdstime",
        "stock",
        &format!("{{action: RestoreRDS, requiresApproval: false, rds: {{restoreTime: '{restore_time}'}}}}"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    open_rds_incident(&ns, "stock-down", &db, "Major").await;
    let st = wait_phase(&ns, "stock-down", Phase::Resolved, Duration::from_secs(90)).await;
    let details = step_details(&st);
    assert_eq!(details.get("restoreTime"), Some(&restore_time), "{details:?}");
    assert!(timeline_text(&st).contains(&format!("point in time {restore_time}")));
    let new_id = details.get("newDbInstanceIdentifier").cloned().unwrap();
    assert_eq!(db_status(c, &new_id).await.as_deref(), Some("available"));
    delete_dbs(&[&db, &new_id]).await;
}

#[tokio::test]
async fn a_dry_run_restore_records_the_request_and_restores_nothing() {
    let c = clients().await;
    let (ns, db, _op) = rds_setup_in_mode(
        "dp-rdsdry",
        "audit",
        "{action: RestoreRDS, requiresApproval: false, rds: {cutover: {configMapName: audit-db, key: host}}}",
        "dry-run",
    )
    .await;
    open_rds_incident(&ns, "audit-down", &db, "Critical").await;
    let st = wait_phase(&ns, "audit-down", Phase::Escalated, Duration::from_secs(60)).await;
    let text = timeline_text(&st);
    assert!(st.steps[0].dry_run, "{text}");
    assert!(
        text.contains(&format!("dry-run: would restore {db} from snapshot")),
        "{text}"
    );
    assert!(
        text.contains("RDS has no dry-run, so the request was recorded, not sent"),
        "{text}"
    );
    let new_id = restored_db_identifier("audit-down", &uid_of(&ns, "audit-down").await, 0);
    assert_eq!(db_status(c, &new_id).await, None, "nothing restored");
    assert!(
        ns.api::<ConfigMap>().get_opt("audit-db").await.unwrap().is_none(),
        "nothing written"
    );
    delete_dbs(&[&db]).await;
}

#[tokio::test]
async fn an_unknown_instance_fails_the_step_with_the_aws_error_code_and_escalates() {
    let ns = TestNamespace::new("dp-ec2err").await;
    apply_yaml(&ns.api::<Playbook>(), &ec2_playbook("{oldInstance: keep}", "auto")).await;
    let _op = Operator::start(&ns.name, &[]);
    apply_yaml(
        &ns.api::<Incident>(),
        &incident_yaml("ghost-down", "EC2Instance", "i-0123456789abcdef0", "", ""),
    )
    .await;
    assert_failed_with_code(&ns, "ghost-down", "InvalidInstanceID.NotFound").await;
}

#[tokio::test]
async fn a_tag_selector_must_match_exactly_one_instance() {
    let ns = TestNamespace::new("dp-ec2tags").await;
    let c = clients().await;
    let base = base_image(c).await;
    let twin = format!("twin-{}", ns.name);
    let a = launch(c, &base, &[("app", &twin)]).await;
    let b = launch(c, &base, &[("app", &twin)]).await;
    apply_yaml(&ns.api::<Playbook>(), &ec2_playbook("{oldInstance: keep}", "auto")).await;
    let _op = Operator::start(&ns.name, &[]);
    let nobody = format!("nobody-{}", ns.name);
    // Distinct target names: Incidents on one target would be linked, not handled apart.
    for (name, app) in [("twins-down", &twin), ("nobody-down", &nobody)] {
        apply_yaml(
            &ns.api::<Incident>(),
            &incident_yaml(name, "EC2Instance", app, &format!(", tags: {{app: {app}}}"), ""),
        )
        .await;
    }
    for (name, reason) in [
        ("twins-down", format!("2 EC2 instances carry the tags app={twin}")),
        ("nobody-down", format!("no EC2 instance carries the tags app={nobody}")),
    ] {
        let st = wait_phase(&ns, name, Phase::Escalated, Duration::from_secs(60)).await;
        let text = timeline_text(&st);
        assert!(
            text.contains(&reason) && text.contains("must match exactly one"),
            "{text}"
        );
        assert_eq!(st.steps[0].state, StepState::Failed, "{text}");
    }
    c.ec2
        .terminate_instances()
        .instance_ids(&a)
        .instance_ids(&b)
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_snapshot_fails_the_step_with_the_aws_error_code_and_escalates() {
    let (ns, db, _op) = rds_setup(
        "dp-rdserr",
        "billing",
        "{action: RestoreRDS, requiresApproval: false, rds: {snapshotId: no-such-snapshot}}",
    )
    .await;
    open_rds_incident(&ns, "billing-down", &db, "Critical").await;
    assert_failed_with_code(&ns, "billing-down", "DBSnapshotNotFound").await;
    assert_eq!(db_status(clients().await, &db).await.as_deref(), Some("available"));
    delete_dbs(&[&db]).await;
}
