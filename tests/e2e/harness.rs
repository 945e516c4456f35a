//! What the end-to-end tests stand on: the testbed's API server, the operator as a real
//! process, and kubectl as a user runs it.

use dontpanic::api::{Incident, IncidentStatus, Phase};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: the end-to-end tests need the testbed; run them with `make test` (or `eval \"$(make -s testbed-env)\"` first)")
    })
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub async fn admin_client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(env("KUBECONFIG")).expect("the testbed kubeconfig reads"),
        &Default::default(),
    )
    .await
    .expect("the testbed kubeconfig is valid");
    Client::try_from(config).expect("a client for the testbed")
}

/// A namespace of the test's own, deleted when the test ends.
pub struct TestNamespace {
    pub name: String,
    pub client: Client,
}

impl TestNamespace {
    pub async fn new(prefix: &str) -> TestNamespace {
        let client = admin_client().await;
        let suffix: u32 = std::process::id() ^ (Instant::now().elapsed().subsec_nanos() ^ rand_u32());
        let name = format!("{prefix}-{:x}", suffix % 0xffffff);
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &ns)
            .await
            .expect("namespace created");
        TestNamespace { name, client }
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = Command::new(kubectl_path())
            .args(["delete", "namespace", &self.name, "--wait=false"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(Instant::now().elapsed().as_nanos() as u64);
    h.finish() as u32
}

/// The operator binary under test: `DONTPANIC_BIN` when set (a copy that a concurrent build
/// cannot replace mid-run), else the one cargo built for this test.
pub fn operator_bin() -> String {
    std::env::var("DONTPANIC_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_dontpanic").to_string())
}

pub fn kubectl_path() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_string())
}

/// Approves an Incident's waiting step the way a person does: `kubectl dontpanic approve`, as
/// the testbed's admin (an approver by the chart's default groups).
pub fn approve(ns: &TestNamespace, incident: &str) {
    let (code, out, err) = kubectl_plugin(&["approve", incident, "-n", &ns.name], &[]);
    assert_eq!(code, 0, "kubectl dontpanic approve: {out}{err}");
}

/// The plugin binary: `DONTPANIC_PLUGIN_BIN` when set, else the one cargo built for this test.
pub fn plugin_bin() -> String {
    std::env::var("DONTPANIC_PLUGIN_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_kubectl-dontpanic").to_string())
}

/// Runs a program with the testbed's admin kubeconfig; returns (exit code, stdout, stderr).
pub fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(program)
        .args(args)
        .env("KUBECONFIG", env("KUBECONFIG"))
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `kubectl dontpanic ...`, found by kubectl on PATH as a plugin.
pub fn kubectl_plugin(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let plugin = plugin_bin();
    let dir = std::path::Path::new(&plugin).parent().unwrap();
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut all = vec!["dontpanic"];
    all.extend_from_slice(args);
    let mut envs = envs.to_vec();
    envs.push(("PATH", &path));
    run(&kubectl_path(), &all, &envs)
}

/// Runs kubectl as a user would, against the testbed.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut cmd = Command::new(kubectl_path());
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("kubectl runs");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The operator as a real process, watching one namespace, with the chart's ServiceAccount
/// identity when the testbed provides it.
pub struct Operator {
    child: Option<Child>,
    pub log: PathBuf,
    namespace: String,
    extra: Vec<String>,
}

impl Operator {
    pub fn start(namespace: &str, extra: &[&str]) -> Operator {
        Operator::start_logging_to(namespace, namespace, extra)
    }

    /// Starts an operator whose log file is named after `log_name` (for several per namespace).
    pub fn start_logging_to(namespace: &str, log_name: &str, extra: &[&str]) -> Operator {
        let mut op = Operator {
            child: None,
            log: std::env::temp_dir().join(format!("dontpanic-{log_name}.log")),
            namespace: namespace.to_string(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        op.spawn(&[]);
        op
    }

    pub fn spawn(&mut self, more: &[&str]) {
        let kubeconfig = std::env::var("DONTPANIC_OPERATOR_KUBECONFIG").unwrap_or_else(|_| env("KUBECONFIG"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut args: Vec<String> = vec![
            "run".into(),
            "--namespace".into(),
            self.namespace.clone(),
            "--prometheus-url".into(),
            env("PROMETHEUS_URL"),
        ];
        let own_addr = self.extra.iter().any(|a| a == "--http-addr") || more.contains(&"--http-addr");
        if !own_addr {
            args.extend(["--http-addr".to_string(), "127.0.0.1:0".to_string()]);
        }
        args.extend(self.extra.iter().cloned());
        args.extend(more.iter().map(|s| s.to_string()));
        let child = Command::new(operator_bin())
            .args(&args)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", "info,dontpanic=debug,kube=warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the operator starts");
        self.child = Some(child);
    }

    /// Waits for the process to end by itself (it reached a crash point).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        None
    }

    /// Waits for the operator to die by SIGKILL at its crash point (`--exit-after-intent`,
    /// `--exit-at-phase`), or panics with the log.
    pub fn expect_killed_at_crash_point(&mut self) {
        use std::os::unix::process::ExitStatusExt;
        let status = self.wait_exit(Duration::from_secs(60));
        assert_eq!(
            status.and_then(|s| s.signal()),
            Some(libc::SIGKILL),
            "the operator should die by SIGKILL at the crash point ({status:?}); log:\n{}",
            self.logs()
        );
    }

    /// Drops the extra arguments given at start (such as a crash point) for the next spawn.
    pub fn extra_clear(&mut self) {
        self.extra.clear();
    }

    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("---- operator log {} ----\n{}", self.log.display(), self.logs());
        }
    }
}

/// Polls until `check` returns Some, or panics with what was last seen.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check().await {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn incident_status(ns: &TestNamespace, name: &str) -> IncidentStatus {
    ns.api::<Incident>().get(name).await.unwrap().status.unwrap_or_default()
}

/// Waits until the Incident's status satisfies `check`.
pub async fn wait_status(
    ns: &TestNamespace,
    name: &str,
    what: &str,
    timeout: Duration,
    check: impl Fn(&IncidentStatus) -> bool,
) -> IncidentStatus {
    let api = ns.api::<Incident>();
    let check = &check;
    eventually(what, timeout, || {
        let api = api.clone();
        async move {
            let st = api
                .get(name)
                .await
                .map_err(|e| e.to_string())?
                .status
                .unwrap_or_default();
            if check(&st) {
                Ok(st)
            } else {
                Err(timeline_text(&st))
            }
        }
    })
    .await
}

/// The Incident's annotations.
pub async fn incident_annotations(ns: &TestNamespace, name: &str) -> std::collections::BTreeMap<String, String> {
    ns.api::<Incident>()
        .get(name)
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap_or_default()
}

/// Waits until the Incident reaches `phase`.
pub async fn wait_phase(ns: &TestNamespace, name: &str, phase: Phase, timeout: Duration) -> IncidentStatus {
    let api = ns.api::<Incident>();
    eventually(&format!("incident {name} to be {phase}"), timeout, || {
        let api = api.clone();
        async move {
            let inc = api.get(name).await.map_err(|e| e.to_string())?;
            let st = inc.status.unwrap_or_default();
            if st.phase == Some(phase) {
                Ok(st)
            } else {
                let tail: Vec<String> = st
                    .timeline
                    .iter()
                    .rev()
                    .take(3)
                    .map(|e| format!("{}: {}", e.type_, e.message))
                    .collect();
                Err(format!("phase {:?}; newest timeline: {tail:?}", st.phase))
            }
        }
    })
    .await
}

/// The demo app: a Deployment of `replicas` pods on image `shop/<name>:v1`, labelled tier=web,
/// with a Service, waited on until Available.
pub async fn create_app(ns: &TestNamespace, name: &str, replicas: i32) -> Deployment {
    let deployment: Deployment = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name, "tier": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "template": {
                "metadata": {"labels": {"app": name}, "annotations": {"dontpanic.dev/build": "1001"}},
                "spec": {"containers": [{"name": "app", "image": format!("shop/{name}:v1")}]}
            }
        }
    }))
    .unwrap();
    let api = ns.api::<Deployment>();
    api.create(&PostParams::default(), &deployment)
        .await
        .expect("deployment created");
    let service: k8s_openapi::api::core::v1::Service = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]}
    }))
    .unwrap();
    ns.api::<k8s_openapi::api::core::v1::Service>()
        .create(&PostParams::default(), &service)
        .await
        .expect("service created");
    wait_available(ns, name, replicas, &format!("shop/{name}:v1")).await
}

pub async fn wait_available(ns: &TestNamespace, name: &str, replicas: i32, image: &str) -> Deployment {
    let api = ns.api::<Deployment>();
    eventually(
        &format!("{name} to be available on {image}"),
        Duration::from_secs(60),
        || {
            let api = api.clone();
            async move {
                let d = api.get(name).await.map_err(|e| e.to_string())?;
                let st = d.status.clone().unwrap_or_default();
                let current = d.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0]
                    .image
                    .clone()
                    .unwrap_or_default();
                let done = current == image
                    && st.available_replicas == Some(replicas)
                    && st.updated_replicas == Some(replicas)
                    && st.replicas == Some(replicas)
                    && st.observed_generation == d.metadata.generation;
                if done {
                    Ok(d)
                } else {
                    Err(format!("image {current}, status {st:?}"))
                }
            }
        },
    )
    .await
}

/// Rolls the app out to a template whose pods crash-loop, and waits for a crash-looping pod.
pub async fn roll_out_crashloop(ns: &TestNamespace, name: &str, version: &str) {
    let patch = json!({"spec": {"template": {
        "metadata": {"labels": {"testbed.dontpanic.dev/behavior": "crashloop"}, "annotations": {"dontpanic.dev/build": "1002"}},
        "spec": {"containers": [{"name": "app", "image": format!("shop/{name}:{version}")}]}
    }}});
    ns.api::<Deployment>()
        .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await
        .expect("rollout patched");
    let pods = ns.api::<k8s_openapi::api::core::v1::Pod>();
    eventually("a crash-looping pod", Duration::from_secs(60), || {
        let pods = pods.clone();
        async move {
            let list = pods.list(&Default::default()).await.map_err(|e| e.to_string())?;
            let crashing = list
                .items
                .iter()
                .any(|p| dontpanic::kubeutil::pod_failure(p) == Some(dontpanic::kubeutil::PodFailure::CrashLoop));
            if crashing {
                Ok(())
            } else {
                Err(format!("{} pods, none crash-looping", list.items.len()))
            }
        }
    })
    .await;
}

pub async fn apply_yaml<K>(api: &Api<K>, yaml: &str) -> K
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let obj: K = serde_yaml::from_str(yaml).expect("test YAML parses");
    api.create(&PostParams::default(), &obj).await.expect("object created")
}

/// Sets a metric on the testbed's signal exporter.
pub async fn set_signal(name: &str, labels: &[(&str, &str)], value: f64) {
    let mut url = format!("{}/set?name={name}&value={value}", env("SIGNALS_URL"));
    for (k, v) in labels {
        url.push_str(&format!("&{k}={v}"));
    }
    let response = reqwest::Client::new()
        .post(&url)
        .send()
        .await
        .expect("signal exporter answers");
    assert!(response.status().is_success(), "setting {name}: {}", response.status());
}

pub fn timeline_text(status: &IncidentStatus) -> String {
    status
        .timeline
        .iter()
        .map(|e| format!("{} {}: {}", e.time.to_rfc3339(), e.type_, e.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until the operator's HTTP server on `port` answers /readyz with 200.
pub async fn wait_ready(port: u16) {
    wait_ok("the operator to be ready", &format!("http://127.0.0.1:{port}/readyz")).await;
}

/// Waits until GET `url` answers with a success status.
pub async fn wait_ok(what: &str, url: &str) {
    let url = url.to_string();
    eventually(what, Duration::from_secs(30), || {
        let url = url.clone();
        async move {
            match reqwest::get(&url).await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(r.status().to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
    })
    .await;
}

/// Lets the operator's ServiceAccount read Secrets in the test's namespace, as a team does
/// for its notification receivers (the chart grants this only where told to).
pub async fn grant_secret_read(ns: &TestNamespace) {
    use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
    let sa = std::env::var("DONTPANIC_SERVICE_ACCOUNT")
        .unwrap_or_else(|_| "system:serviceaccount:dontpanic-system:dontpanic".into());
    let sa_name = sa.rsplit(':').next().unwrap().to_string();
    let sa_namespace = sa.split(':').nth(2).unwrap().to_string();
    let role: Role = serde_json::from_value(json!({
        "metadata": {"name": "dontpanic-secrets-read"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]
    }))
    .unwrap();
    ns.api::<Role>()
        .create(&PostParams::default(), &role)
        .await
        .expect("role created");
    let binding: RoleBinding = serde_json::from_value(json!({
        "metadata": {"name": "dontpanic-secrets-read"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "dontpanic-secrets-read"},
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": sa_namespace}]
    }))
    .unwrap();
    ns.api::<RoleBinding>()
        .create(&PostParams::default(), &binding)
        .await
        .expect("role binding created");
}

/// The replica count a Deployment's spec asks for.
pub async fn spec_replicas(ns: &TestNamespace, name: &str) -> Option<i32> {
    ns.api::<Deployment>().get(name).await.unwrap().spec?.replicas
}

/// The revision numbers of the namespace's ReplicaSets, sorted: a rollback turns [1, 2] into [2, 3].
pub async fn revisions(ns: &TestNamespace) -> Vec<i64> {
    let mut revs: Vec<i64> = ns
        .api::<k8s_openapi::api::apps::v1::ReplicaSet>()
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|rs| dontpanic::kubeutil::revision_of(&rs.metadata))
        .collect();
    revs.sort();
    revs
}

/// The usual scene: checkout v1 healthy with 3 replicas, a crash-looping v2 rolled out, and the
/// given Playbook applied.
pub async fn bad_release_with_playbook(ns: &TestNamespace, playbook_yaml: &str) {
    create_app(ns, "checkout", 3).await;
    roll_out_crashloop(ns, "checkout", "v2").await;
    apply_yaml(&ns.api::<dontpanic::api::Playbook>(), playbook_yaml).await;
}

pub type Seen = Arc<Mutex<Vec<(String, Value, Instant)>>>;

/// A local HTTP sink recording (path, JSON body, arrival).
pub async fn json_sink() -> (u16, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Default::default();
    let record = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                let (head_end, length) = loop {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).to_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        break (i + 4, length);
                    }
                };
                while buf.len() < head_end + length {
                    let n = socket.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or_default().to_string();
                let body: Value = serde_json::from_slice(&buf[head_end..]).unwrap_or(Value::Null);
                record.lock().unwrap().push((path, body, Instant::now()));
                let _ = socket
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await;
            });
        }
    });
    (port, seen)
}
