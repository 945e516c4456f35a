"""Tests of the testbed itself. They assume a running testbed (make testbed-up)
and read its settings from hack/testbed/env.sh, except the teardown test,
which starts and stops a second testbed of its own."""

import json
import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

HACK_DIR = Path(__file__).resolve().parent.parent
BEHAVIOR = "testbed.dontpanic.dev/behavior"


def read_env(extra=None):
    """Runs env.sh and returns the variables it exports."""
    env = dict(os.environ)
    env.update(extra or {})
    out = subprocess.run(
        ["bash", str(HACK_DIR / "env.sh")], env=env, check=True, capture_output=True, text=True
    ).stdout
    values = {}
    for line in out.splitlines():
        parts = shlex.split(line)
        if len(parts) == 2 and parts[0] == "export" and "=" in parts[1]:
            key, value = parts[1].split("=", 1)
            values[key] = value
    return values


ENV = read_env()


def wait_for(what, fn, timeout, interval=0.2):
    """Polls fn until it returns a truthy value; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = fn()
            if last:
                return last
        except Exception as err:  # noqa: BLE001 - keep polling, report at the end
            last = err
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def kubectl(*args, input=None, check=True, kubeconfig=None, extra=()):
    cmd = [ENV["TESTBED_KUBECTL"], "--kubeconfig", kubeconfig or ENV["KUBECONFIG"], *extra, *args]
    res = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60)
    if check and res.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {res.stderr}")
    return res


def kget(*args):
    return json.loads(kubectl("get", "-o", "json", *args).stdout)


def http(method, url, data=None, timeout=10):
    req = urllib.request.Request(url, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def prom_query(expr):
    url = ENV["PROMETHEUS_URL"] + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    status, body = http("GET", url)
    assert status == 200, body
    return json.loads(body)["data"]["result"]


def deployment_manifest(name, namespace, replicas=3, behavior=None, image="example/app:1"):
    labels = {"app": name}
    if behavior:
        labels[BEHAVIOR] = behavior
    return json.dumps({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
        },
    })


@pytest.fixture
def namespace():
    name = "tb-" + uuid.uuid4().hex[:8]
    kubectl("create", "namespace", name)
    # Pods need the namespace's default ServiceAccount.
    wait_for("default ServiceAccount", lambda: kubectl(
        "get", "serviceaccount", "default", "-n", name, check=False).returncode == 0, 30)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def deployment_available(name, namespace, replicas):
    def check():
        st = kget("deployment", name, "-n", namespace).get("status", {})
        conds = {c["type"]: c["status"] for c in st.get("conditions", [])}
        return conds.get("Available") == "True" and st.get("availableReplicas") == replicas \
            and st.get("updatedReplicas") == replicas and st.get("replicas") == replicas
    return check


def test_deployment_of_three_becomes_available(namespace):
    kubectl("apply", "-f", "-", input=deployment_manifest("web", namespace))
    kubectl("expose", "deployment", "web", "-n", namespace, "--port", "80")
    wait_for("Deployment web Available with 3 replicas", deployment_available("web", namespace, 3), 60)

    pods = kget("pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 3
    assert len({p["spec"]["nodeName"] for p in pods}) >= 2, "scheduler should spread over the kwok nodes"
    for pod in pods:
        assert pod["spec"]["nodeName"].startswith("kwok-node-")
        assert pod["status"]["phase"] == "Running"
        assert pod["status"]["podIP"]

    def ready_endpoints():
        slices = kget("endpointslices", "-n", namespace, "-l", "kubernetes.io/service-name=web")["items"]
        return sum(1 for s in slices for e in s.get("endpoints") or []
                   if e.get("conditions", {}).get("ready")) == 3
    wait_for("3 ready endpoints", ready_endpoints, 30)

    # Scaling down really deletes pods.
    kubectl("scale", "deployment", "web", "-n", namespace, "--replicas=1")
    wait_for("scale down to 1 pod", lambda: len(
        kget("pods", "-n", namespace, "-l", "app=web")["items"]) == 1, 60)


def test_rollout_to_crashloop_template(namespace):
    kubectl("apply", "-f", "-", input=deployment_manifest("api", namespace))
    wait_for("Deployment api Available", deployment_available("api", namespace, 3), 60)

    kubectl("apply", "-f", "-", input=deployment_manifest(
        "api", namespace, behavior="crashloop", image="example/app:2"))

    def crashing_pod():
        pods = kget("pods", "-n", namespace, "-l", f"app=api,{BEHAVIOR}=crashloop")["items"]
        for pod in pods:
            for cs in pod.get("status", {}).get("containerStatuses") or []:
                if cs.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff":
                    return pod
        return None
    pod = wait_for("a new pod in CrashLoopBackOff", crashing_pod, 60)
    name = pod["metadata"]["name"]
    assert pod["status"]["phase"] == "Running"
    conds = {c["type"]: c["status"] for c in pod["status"]["conditions"]}
    assert conds["Ready"] == "False"
    assert conds["ContainersReady"] == "False"
    cs = pod["status"]["containerStatuses"][0]
    assert cs["image"] == "example/app:2"
    first = cs["restartCount"]

    def restarted():
        p = kget("pod", name, "-n", namespace)
        return p["status"]["containerStatuses"][0]["restartCount"] >= first + 2
    wait_for("restartCount to keep rising", restarted, 20)

    def unavailable():
        st = kget("deployment", "api", "-n", namespace)["status"]
        return st.get("unavailableReplicas", 0) >= 1 and st.get("updatedReplicas", 0) >= 1
    wait_for("Deployment reporting unavailable replicas", unavailable, 30)

    # The old ReplicaSet's pods stay Ready while the new one fails.
    st = kget("deployment", "api", "-n", namespace)["status"]
    assert st.get("availableReplicas") == 3


def test_not_ready_behavior(namespace):
    kubectl("apply", "-f", "-", input=deployment_manifest("idle", namespace, replicas=1, behavior="not-ready"))

    def running_not_ready():
        pods = kget("pods", "-n", namespace, "-l", "app=idle")["items"]
        if not pods or pods[0]["status"].get("phase") != "Running":
            return False
        conds = {c["type"]: c["status"] for c in pods[0]["status"].get("conditions", [])}
        return conds.get("Ready") == "False"
    wait_for("pod Running but not Ready", running_not_ready, 30)


def test_service_account_token_and_rbac(namespace):
    kubectl("create", "serviceaccount", "reader", "-n", namespace)
    token = kubectl("create", "token", "reader", "-n", namespace).stdout.strip()
    server = ["--server", ENV["KUBE_APISERVER_URL"], "--token", token]
    as_sa = dict(kubeconfig=os.devnull, extra=server + [
        "--certificate-authority", str(Path(ENV["TESTBED_DIR"]) / "pki" / "ca.crt")])

    who = kubectl("auth", "whoami", "-o", "json", **as_sa)
    assert json.loads(who.stdout)["status"]["userInfo"]["username"] == \
        f"system:serviceaccount:{namespace}:reader"
    denied = kubectl("get", "pods", "-n", namespace, check=False, **as_sa)
    assert denied.returncode != 0 and "forbidden" in denied.stderr.lower()

    kubectl("create", "role", "pod-reader", "-n", namespace, "--verb=get,list", "--resource=pods")
    kubectl("create", "rolebinding", "reader", "-n", namespace, "--role=pod-reader",
            f"--serviceaccount={namespace}:reader")
    wait_for("RBAC to allow listing pods", lambda: kubectl(
        "get", "pods", "-n", namespace, check=False, **as_sa).returncode == 0, 10)


def test_signal_reaches_prometheus_within_3s():
    service = "svc-" + uuid.uuid4().hex[:8]
    base = ENV["SIGNALS_URL"]
    t0 = time.monotonic()
    status, body = http("POST", f"{base}/set?name=demo_error_ratio&service={service}&value=0.25")
    assert status == 200, body

    def visible():
        res = prom_query(f'demo_error_ratio{{service="{service}"}}')
        return res and float(res[0]["value"][1]) == 0.25
    wait_for("value in Prometheus", visible, 3, interval=0.1)
    assert time.monotonic() - t0 < 3

    # Extra labels are kept; bad input is refused.
    status, _ = http("POST", f"{base}/set?name=demo_error_ratio&service={service}&namespace=n1&deployment=d1&value=1")
    assert status == 200
    assert http("POST", f"{base}/set?name=bad-name&value=1")[0] == 400
    assert http("POST", f"{base}/set?name=ok_name&bad-label=x&value=1")[0] == 400
    assert http("POST", f"{base}/set?name=ok_name&value=notanumber")[0] == 400

    http("POST", f"{base}/unset?name=demo_error_ratio&service={service}&namespace=n1&deployment=d1")
    metrics = http("GET", f"{base}/metrics")[1]
    assert f'demo_error_ratio{{service="{service}"}} 0.25' in metrics
    assert 'deployment="d1"' not in metrics
    assert http("POST", f"{base}/reset")[0] == 200
    assert http("GET", f"{base}/metrics")[1].strip() == ""


class _WebhookSink:
    """Stands in for the operator's Alertmanager webhook endpoint."""

    def __init__(self, port):
        import http.server
        import threading

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def find(self, service, status):
        for path, payload in self.received:
            for alert in payload.get("alerts", []):
                if alert["labels"].get("service") == service and alert["status"] == status:
                    return path, alert
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_alert_reaches_alertmanager_and_webhook():
    service = "svc-" + uuid.uuid4().hex[:8]
    base = ENV["SIGNALS_URL"]
    try:
        sink = _WebhookSink(int(ENV["DONTPANIC_WEBHOOK_PORT"]))
    except OSError:
        sink = None  # the operator itself holds the port; check Alertmanager only
    try:
        http("POST", f"{base}/set?name=demo_error_ratio&namespace=shop&deployment=checkout"
                     f"&service={service}&value=0.9")

        def alert_in_alertmanager():
            status, body = http("GET", ENV["ALERTMANAGER_URL"] + "/api/v2/alerts")
            assert status == 200, body
            for alert in json.loads(body):
                labels = alert["labels"]
                if labels.get("alertname") == "DemoHighErrorRatio" and labels.get("service") == service:
                    return labels
            return None
        labels = wait_for("DemoHighErrorRatio in Alertmanager", alert_in_alertmanager, 20)
        assert labels["severity"] == "critical"
        assert labels["namespace"] == "shop" and labels["deployment"] == "checkout"

        if sink is not None:
            path, alert = wait_for("firing alert at the webhook", lambda: sink.find(service, "firing"), 20)
            assert path == "/webhooks/alertmanager"
            assert alert["labels"]["alertname"] == "DemoHighErrorRatio"
            http("POST", f"{base}/unset?name=demo_error_ratio&namespace=shop&deployment=checkout"
                         f"&service={service}")
            wait_for("resolved alert at the webhook", lambda: sink.find(service, "resolved"), 30)
    finally:
        http("POST", f"{base}/reset")
        if sink is not None:
            sink.close()


def test_moto_ec2_and_rds():
    import boto3

    kwargs = dict(
        endpoint_url=ENV["AWS_ENDPOINT_URL"],
        region_name=ENV["AWS_REGION"],
        aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"],
    )
    ec2 = boto3.client("ec2", **kwargs)
    images = ec2.describe_images(Owners=["amazon"])["Images"]
    assert isinstance(images, list)
    rds = boto3.client("rds", **kwargs)
    assert "DBInstances" in rds.describe_db_instances()
    ident = "tb-" + uuid.uuid4().hex[:8]
    rds.create_db_instance(DBInstanceIdentifier=ident, DBInstanceClass="db.t3.micro",
                           Engine="postgres", MasterUsername="u", MasterUserPassword="password1",
                           AllocatedStorage=20)
    try:
        got = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"]
        assert got[0]["DBInstanceIdentifier"] == ident
    finally:
        rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)


def _free_port_base():
    for base in range(27440, 40000, 100):
        ok = True
        for off in range(12):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", base + off)) == 0:
                    ok = False
                    break
        if ok:
            return base
    pytest.skip("no free port range for a second testbed")


def _group_alive(pgid):
    out = subprocess.run(["ps", "-e", "-o", "pgid=,stat="], capture_output=True, text=True).stdout
    return any(line.split()[0] == str(pgid) and not line.split()[1].startswith("Z")
               for line in out.splitlines() if line.strip())


def test_down_leaves_no_process():
    state = Path(tempfile.mkdtemp(prefix="testbed-down-")) / "tb"
    base = _free_port_base()
    env = dict(os.environ, TESTBED_DIR=str(state), TESTBED_PORT_BASE=str(base))
    env.pop("DONTPANIC_WEBHOOK_PORT", None)  # derive base+10 for this testbed
    try:
        up = subprocess.run(["bash", str(HACK_DIR / "up.sh")], env=env, capture_output=True,
                            text=True, timeout=300)
        assert up.returncode == 0, up.stderr[-3000:]
        pids = [int((state / "pids" / f).read_text().split()[0]) for f in os.listdir(state / "pids")]
        assert len(pids) == 9
        assert all(_group_alive(p) for p in pids)
        down = subprocess.run(["bash", str(HACK_DIR / "down.sh")], env=env, capture_output=True,
                              text=True, timeout=120)
        assert down.returncode == 0, down.stderr[-3000:]
        alive = [p for p in pids if _group_alive(p)]
        assert not alive, f"process groups still alive: {alive}"
        assert not state.exists()
        for off in (0, 3, 4, 5, 6, 7, 8):
            with socket.socket() as s:
                assert s.connect_ex(("127.0.0.1", base + off)) != 0, f"port {base + off} still open"
    finally:
        if state.exists():
            subprocess.run(["bash", str(HACK_DIR / "down.sh")], env=env, timeout=120)
        shutil.rmtree(state.parent, ignore_errors=True)
