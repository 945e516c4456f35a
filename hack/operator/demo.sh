#!/usr/bin/env bash
# The demo: a healthy app, a bad rollout, an Incident, and the operator handling it.
# Runs the operator as a local process with the chart's ServiceAccount identity.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${KUBECONFIG:?run with the testbed environment}" "${TESTBED_DIR:?}"
ns=${DEMO_NAMESPACE:-demo}
bin="${CARGO_TARGET_DIR:-target}/debug/dontpanic"
log="$TESTBED_DIR/logs/demo-operator.log"

bash hack/operator/stop.sh >/dev/null 2>&1 || true
kubectl delete namespace "$ns" --ignore-not-found --wait=true >/dev/null
kubectl create namespace "$ns" >/dev/null

echo "==> starting the operator as system:serviceaccount:dontpanic-system:dontpanic (log: $log)"
mkdir -p "$(dirname "$log")"
KUBECONFIG="$TESTBED_DIR/operator.kubeconfig" nohup "$bin" run --namespace "$ns" \
  --http-addr "127.0.0.1:${DONTPANIC_WEBHOOK_PORT:-26450}" --prometheus-url "$PROMETHEUS_URL" >"$log" 2>&1 &
echo $! >"$TESTBED_DIR/demo-operator.pid"

echo "==> the app: checkout v1, three replicas"
kubectl apply -n "$ns" -f examples/app.yaml -f examples/playbook.yaml >/dev/null
kubectl rollout status -n "$ns" deployment/checkout --timeout=60s

echo "==> a bad release: checkout v2 crash-loops"
kubectl patch -n "$ns" deployment/checkout --type=strategic -p '{"spec":{"template":{
  "metadata":{"labels":{"testbed.dontpanic.dev/behavior":"crashloop"},"annotations":{"dontpanic.dev/build":"1002"}},
  "spec":{"containers":[{"name":"app","image":"shop/checkout:v2"}]}}}}' >/dev/null
for _ in $(seq 60); do
  kubectl get pods -n "$ns" -o jsonpath='{.items[*].status.containerStatuses[*].state.waiting.reason}' | grep -q CrashLoopBackOff && break
  sleep 1
done
kubectl get pods -n "$ns"

echo "==> someone reports it: kubectl apply -f examples/incident.yaml"
kubectl apply -n "$ns" -f examples/incident.yaml
phase=""
for _ in $(seq 120); do
  phase=$(kubectl get incident checkout-500 -n "$ns" -o jsonpath='{.status.phase}')
  case "$phase" in Resolved|Escalated|Failed) break ;; esac
  sleep 1
done

echo
kubectl get incidents -n "$ns" -o wide
echo
echo "==> timeline of incident $ns/checkout-500"
kubectl get incident checkout-500 -n "$ns" \
  -o jsonpath='{range .status.timeline[*]}{.time}{"  "}{.type}{"  "}{.message}{"\n"}{end}'
echo
kubectl get deployment checkout -n "$ns" -o jsonpath='deployment/checkout now runs {.spec.template.spec.containers[0].image}{"\n"}'
echo "The operator keeps running (pid $(cat "$TESTBED_DIR/demo-operator.pid")); stop everything with: make demo-down"
[ "$phase" = Resolved ]
