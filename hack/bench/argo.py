"""The latency scenario of run.py with Argo Rollouts, for a side-by-side comparison.

N Rollouts (canary, one replica each, `progressDeadlineSeconds` and `progressDeadlineAbort`)
are watched by the Argo Rollouts controller built from its Go module (build-argo.sh). M of them
are rolled out to a crash-looping template at once. For each, measured from outside by watches:
  - failure acted upon: first CrashLoopBackOff pod → the Rollout's `status.abort` turns true;
  - rollback: the abort → the canary ReplicaSet scaled to 0 (what Argo does instead of a
    `rollout undo`: the stable ReplicaSet never stopped serving).
The progress deadline is the window Argo waits by design; it is reported beside the figures.
"""
import json
import os
import socket
import subprocess
import tempfile
import time

import run

VERSION = "v1.8.3"
DEADLINE_SECONDS = 10
GOMOD = os.path.join(run.REPO, "hack", "bench", "gomod", "argo-rollouts")


def controller_binary():
    return os.path.join(os.path.expanduser("~"), ".cache", "dontpanic", "bench", "bin", f"rollouts-controller-{VERSION}")


def crds_dir():
    out = subprocess.run(["go", "list", "-m", "-json", "github.com/argoproj/argo-rollouts"], cwd=GOMOD,
                         capture_output=True, text=True, check=True).stdout
    return os.path.join(json.loads(out)["Dir"], "manifests", "crds")


def rollout(name):
    """The benchmark's Deployment as a canary Rollout that aborts at its progress deadline."""
    doc = run.deployment(name)
    doc["apiVersion"], doc["kind"] = "argoproj.io/v1alpha1", "Rollout"
    doc["spec"].update({"progressDeadlineSeconds": DEADLINE_SECONDS, "progressDeadlineAbort": True,
                        "strategy": {"canary": {"maxSurge": 1, "maxUnavailable": 0}}})
    return doc


class Controller:
    def __init__(self, ns, log):
        self.log = open(log, "w")
        metrics, healthz = run_free_port(), run_free_port()
        env = dict(os.environ, POD_NAMESPACE=ns)
        self.proc = subprocess.Popen([controller_binary(), "--kubeconfig", os.environ["KUBECONFIG"], "--namespaced",
                                      "--namespace", ns, "--leader-elect=false", "--metricsport", str(metrics),
                                      "--healthzPort", str(healthz), "--loglevel", "warn"],
                                     env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def rss_mib(self):
        return run.rss_mib(self.proc)

    def stop(self):
        run.stop(self.proc)


def run_free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def canary_scaled_down():
    """Matches a revision-2 ReplicaSet scaled back to 0 after it was scaled up."""
    scaled_up = set()

    def match(fields):
        if len(fields) < 3 or fields[1] != "2":
            return None
        app, replicas = fields[0], int(fields[2])
        if replicas > 0:
            scaled_up.add(app)
            return None
        return app if app in scaled_up else None

    return match


def latency(n, failing, settle_seconds=10):
    """Runs the scenario; returns a result row."""
    ns = f"bench-argo-n{n}"
    crds = crds_dir()
    for name in sorted(os.listdir(crds)):
        if name.endswith("-crd.yaml"):
            run.kubectl("apply", "--server-side", "-f", os.path.join(crds, name))
    run.fresh_namespace(ns)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(run.deployments_yaml(n, "app", rollout))
    controller = Controller(ns, f"/tmp/argo-rollouts-bench-{n}.log")
    try:
        run.kubectl("apply", "-n", ns, "-f", f.name)
        run.wait_pods_running(ns, n)
        time.sleep(settle_seconds)
        rss = controller.rss_mib()
        crashing = run.crash_loop_watch(ns)
        aborted = run.FirstSeen(ns, "rollouts.argoproj.io", '{.metadata.name}{" "}{.status.abort}',
                                lambda f: f[0] if len(f) > 1 and f[1] == "true" else None)
        rolled_back = run.FirstSeen(ns, "replicasets",
                                    '{.metadata.labels.app}{" "}{.metadata.annotations.rollout\\.argoproj\\.io/revision}'
                                    '{" "}{.spec.replicas}', canary_scaled_down())
        time.sleep(2)
        targets = [f"app-{i:04d}" for i in range(failing)]
        patch = json.dumps({"spec": {"template": {"metadata": {"labels": {"testbed.dontpanic.dev/behavior": "crashloop"}}}}})
        for name in targets:
            run.kubectl("patch", "-n", ns, f"rollout.argoproj.io/{name}", "--type=merge", "-p", patch)
        deadline = time.time() + 180
        while time.time() < deadline and len(rolled_back.first_seen) < failing:
            time.sleep(1)
        for w in (crashing, aborted, rolled_back):
            w.stop()
        detection = [aborted.first_seen[t] - crashing.first_seen[t] for t in targets
                     if t in aborted.first_seen and t in crashing.first_seen]
        mitigation = [rolled_back.first_seen[t] - aborted.first_seen[t] for t in targets
                      if t in rolled_back.first_seen and t in aborted.first_seen]
        row = {"n": n, "failing": failing, "aborted": len(aborted.first_seen), "rolled_back": len(rolled_back.first_seen),
               "deadline_seconds": DEADLINE_SECONDS, "rss_mib": rss,
               "detection_p50": run.percentile(detection, 50), "detection_p99": run.percentile(detection, 99),
               "mitigation_p50": run.percentile(mitigation, 50), "mitigation_p99": run.percentile(mitigation, 99)}
        print(json.dumps(row), flush=True)
        return row
    finally:
        controller.stop()
        run.kubectl("delete", "namespace", ns, "--wait=false", check=False)
