#!/usr/bin/env bash
# Starts the testbed on 127.0.0.1 and waits until every component is healthy:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok (three
# fake nodes), the signal exporter, moto, Alertmanager and Prometheus.
# A no-op when the testbed in $TESTBED_DIR is already up and healthy.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

T0=$(now_ms)
KUBECTL="${KUBECTL_BIN_DIR}/kubectl"

all_up() {
  local c
  for c in "${TESTBED_COMPONENTS[@]}"; do
    component_pid "$c" >/dev/null || return 1
    "health_$c" || return 1
  done
}

if [[ -d "${TESTBED_DIR}/pids" ]]; then
  if all_up; then
    log "already up (${TESTBED_DIR}, port base ${TESTBED_PORT_BASE})"
    exit 0
  fi
  log "found a stale or partial testbed in ${TESTBED_DIR}; cleaning it up first"
  "${TESTBED_HACK_DIR}/down.sh"
fi

# ---- preconditions -------------------------------------------------------------
for b in "${K8S_BIN_DIR}/kube-apiserver" "${K8S_BIN_DIR}/kube-controller-manager" \
  "${K8S_BIN_DIR}/kube-scheduler" "${ETCD_BIN_DIR}/etcd" "${KWOK_BIN_DIR}/kwok" \
  "$KUBECTL" "${VENV_DIR}/bin/moto_server" "$PROMETHEUS_BIN" "$ALERTMANAGER_BIN"; do
  [[ -x "$b" ]] || die "missing $b; run 'make testbed-deps' (hack/testbed/deps.sh) first"
done

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$PROMETHEUS_PORT" "$ALERTMANAGER_PORT" \
  "$SIGNALS_PORT" "$MOTO_PORT" "$KWOK_PORT" "$KCM_PORT" "$SCHEDULER_PORT"; do
  if port_busy "$p"; then
    die "port $p on 127.0.0.1 is already in use; pick another TESTBED_PORT_BASE (now ${TESTBED_PORT_BASE})"
  fi
done

# ---- state directory ---------------------------------------------------------------
mkdir -p "${TESTBED_DIR}"/{pids,logs,etcd,prometheus/rules,prometheus/data,alertmanager,moto}
"${TESTBED_HACK_DIR}/certs.sh"
PKI="${TESTBED_DIR}/pki"

render() {
  sed -e "s|@TESTBED_DIR@|${TESTBED_DIR}|g" \
    -e "s|@PROMETHEUS_PORT@|${PROMETHEUS_PORT}|g" \
    -e "s|@ALERTMANAGER_PORT@|${ALERTMANAGER_PORT}|g" \
    -e "s|@SIGNALS_PORT@|${SIGNALS_PORT}|g" \
    -e "s|@DONTPANIC_WEBHOOK_PORT@|${DONTPANIC_WEBHOOK_PORT}|g" \
    "$1" >"$2"
}
render "${TESTBED_HACK_DIR}/config/prometheus.yml.in" "${TESTBED_DIR}/prometheus/prometheus.yml"
render "${TESTBED_HACK_DIR}/config/alertmanager.yml.in" "${TESTBED_DIR}/alertmanager/alertmanager.yml"
cp "${TESTBED_HACK_DIR}"/config/rules/*.yml "${TESTBED_DIR}/prometheus/rules/"

# The values env.sh prints; written before anything starts so a failed start
# can still be inspected and torn down.
cat >"${TESTBED_DIR}/env" <<EOF
TESTBED_DIR=${TESTBED_DIR}
TESTBED_PORT_BASE=${TESTBED_PORT_BASE}
KUBECONFIG=${TESTBED_DIR}/kubeconfig
KUBECTL=${KUBECTL}
HELM=${KUBECTL_BIN_DIR}/helm
TESTBED_VENV=${VENV_DIR}
ETCD_PORT=${ETCD_PORT}
APISERVER_PORT=${APISERVER_PORT}
PROMETHEUS_PORT=${PROMETHEUS_PORT}
ALERTMANAGER_PORT=${ALERTMANAGER_PORT}
SIGNALS_PORT=${SIGNALS_PORT}
MOTO_PORT=${MOTO_PORT}
KWOK_PORT=${KWOK_PORT}
KCM_PORT=${KCM_PORT}
SCHEDULER_PORT=${SCHEDULER_PORT}
DONTPANIC_WEBHOOK_PORT=${DONTPANIC_WEBHOOK_PORT}
EOF

fail() {
  log "startup failed: $*"
  log "stopping what was started; logs stay in ${TESTBED_DIR}/logs (remove with 'make testbed-down')"
  "${TESTBED_HACK_DIR}/down.sh" --keep-state || true
  exit 1
}

# wait_all TIMEOUT NAME...: waits for several components at once.
wait_all() {
  local timeout="$1" deadline c pending; shift
  deadline=$(( $(now_ms) + timeout * 1000 ))
  pending=("$@")
  while ((${#pending[@]})); do
    local still=()
    for c in "${pending[@]}"; do
      if "health_$c"; then
        log "$c healthy ($(( $(now_ms) - T0 ))ms)"
        continue
      fi
      if ! component_pid "$c" >/dev/null; then
        log "$c exited during startup"; log_tail "$c"; return 1
      fi
      still+=("$c")
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    if (( $(now_ms) > deadline )); then
      for c in "${pending[@]}"; do log "$c not healthy after ${timeout}s"; log_tail "$c"; done
      return 1
    fi
    sleep 0.1
  done
}

# ---- etcd -------------------------------------------------------------------------------
start_component etcd "${ETCD_BIN_DIR}/etcd" \
  --name=testbed \
  --data-dir="${TESTBED_DIR}/etcd" \
  --listen-client-urls="http://127.0.0.1:${ETCD_PORT}" \
  --advertise-client-urls="http://127.0.0.1:${ETCD_PORT}" \
  --listen-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-advertise-peer-urls="http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster="testbed=http://127.0.0.1:${ETCD_PEER_PORT}" \
  --initial-cluster-state=new \
  --auto-compaction-retention=1 \
  --quota-backend-bytes=2147483648 \
  --unsafe-no-fsync=true \
  --log-level=warn || fail etcd
wait_all 30 etcd || fail etcd

# ---- kube-apiserver ---------------------------------------------------------------------
SA_ISSUER="https://kubernetes.default.svc.cluster.local"
start_component kube-apiserver "${K8S_BIN_DIR}/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:${ETCD_PORT}" \
  --bind-address=127.0.0.1 \
  --advertise-address=127.0.0.1 \
  --endpoint-reconciler-type=none \
  --secure-port="${APISERVER_PORT}" \
  --tls-cert-file="${PKI}/apiserver.crt" \
  --tls-private-key-file="${PKI}/apiserver.key" \
  --client-ca-file="${PKI}/ca.crt" \
  --authorization-mode=Node,RBAC \
  --service-account-key-file="${PKI}/sa.pub" \
  --service-account-signing-key-file="${PKI}/sa.key" \
  --service-account-issuer="${SA_ISSUER}" \
  --api-audiences="${SA_ISSUER}" \
  --service-cluster-ip-range=10.0.0.0/24 \
  --kubelet-preferred-address-types=InternalIP \
  --allow-privileged=true \
  --profiling=false \
  --v=1 || fail kube-apiserver
wait_all 90 kube-apiserver || fail kube-apiserver

kc() { "$KUBECTL" --kubeconfig "${TESTBED_DIR}/kubeconfig" "$@"; }

# kwok runs as its own user with cluster-admin rights.
kc create clusterrolebinding testbed-kwok --clusterrole=cluster-admin --user=testbed-kwok >/dev/null \
  || fail "binding the kwok user"

# ---- the rest, started together -----------------------------------------------------------
start_component kube-controller-manager "${K8S_BIN_DIR}/kube-controller-manager" \
  --kubeconfig="${PKI}/kube-controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="${KCM_PORT}" \
  --tls-cert-file="${PKI}/kube-controller-manager-serving.crt" \
  --tls-private-key-file="${PKI}/kube-controller-manager-serving.key" \
  --controllers='*,-node-ipam-controller,-node-route-controller,-service-lb-controller,-cloud-node-lifecycle-controller' \
  --allocate-node-cidrs=false \
  --use-service-account-credentials=true \
  --service-account-private-key-file="${PKI}/sa.key" \
  --root-ca-file="${PKI}/ca.crt" \
  --cluster-signing-cert-file="${PKI}/ca.crt" \
  --cluster-signing-key-file="${PKI}/ca.key" \
  --cluster-name=testbed \
  --leader-elect=false \
  --kube-api-qps=100 \
  --kube-api-burst=200 \
  --profiling=false \
  --v=1 || fail kube-controller-manager

start_component kube-scheduler "${K8S_BIN_DIR}/kube-scheduler" \
  --kubeconfig="${PKI}/kube-scheduler.kubeconfig" \
  --bind-address=127.0.0.1 \
  --secure-port="${SCHEDULER_PORT}" \
  --tls-cert-file="${PKI}/kube-scheduler-serving.crt" \
  --tls-private-key-file="${PKI}/kube-scheduler-serving.key" \
  --leader-elect=false \
  --profiling=false \
  --v=1 || fail kube-scheduler

start_component kwok "${KWOK_BIN_DIR}/kwok" \
  --kubeconfig="${PKI}/kwok.kubeconfig" \
  --config="${TESTBED_HACK_DIR}/kwok/kwok.yaml" \
  --config="${TESTBED_HACK_DIR}/kwok/stages-node.yaml" \
  --config="${TESTBED_HACK_DIR}/kwok/stages-pod.yaml" \
  --server-address="127.0.0.1:${KWOK_PORT}" || fail kwok

start_component signals "${VENV_DIR}/bin/python" "${TESTBED_HACK_DIR}/signals.py" \
  --host 127.0.0.1 --port "${SIGNALS_PORT}" || fail signals

start_component moto env -C "${TESTBED_DIR}/moto" \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
  "${VENV_DIR}/bin/moto_server" -H 127.0.0.1 -p "${MOTO_PORT}" || fail moto

start_component alertmanager "$ALERTMANAGER_BIN" \
  --config.file="${TESTBED_DIR}/alertmanager/alertmanager.yml" \
  --storage.path="${TESTBED_DIR}/alertmanager" \
  --web.listen-address="127.0.0.1:${ALERTMANAGER_PORT}" \
  --cluster.listen-address= \
  --log.level=warn || fail alertmanager

start_component prometheus "$PROMETHEUS_BIN" \
  --config.file="${TESTBED_DIR}/prometheus/prometheus.yml" \
  --storage.tsdb.path="${TESTBED_DIR}/prometheus/data" \
  --storage.tsdb.retention.time=1d \
  --web.listen-address="127.0.0.1:${PROMETHEUS_PORT}" \
  --web.enable-lifecycle \
  --log.level=warn || fail prometheus

wait_all 90 kube-controller-manager kube-scheduler kwok signals moto alertmanager prometheus \
  || fail "components not healthy"

# ---- fake nodes --------------------------------------------------------------------------
kc apply -f "${TESTBED_HACK_DIR}/kwok/nodes.yaml" >/dev/null || fail "creating nodes"
kc wait --for=condition=Ready node -l type=kwok --timeout=60s >/dev/null \
  || { log_tail kwok; fail "nodes not Ready"; }
# Pods need the default ServiceAccount (created by the controller-manager),
# and the nodes lose their not-ready taint once the node lifecycle controller
# has seen them Ready.
deadline=$(( $(now_ms) + 60000 ))
until kc get serviceaccount default -n default >/dev/null 2>&1 \
  && [[ -z "$(kc get nodes -l type=kwok -o jsonpath='{.items[*].spec.taints}')" ]]; do
  (( $(now_ms) < deadline )) || { log_tail kube-controller-manager; fail "default ServiceAccount missing or nodes still tainted"; }
  sleep 0.2
done

log "up in $(( ($(now_ms) - T0) / 1000 )).$(( ($(now_ms) - T0) % 1000 / 100 ))s: apiserver https://127.0.0.1:${APISERVER_PORT}, state ${TESTBED_DIR}"
if [[ "$TESTBED_DIR" == "${REPO_ROOT}/.testbed" && "$TESTBED_PORT_BASE" == 26440 ]]; then
  log "use it with: eval \"\$(make -s testbed-env)\"   (or: eval \"\$(hack/testbed/env.sh)\")"
else
  log "use it with: eval \"\$(TESTBED_DIR=${TESTBED_DIR} TESTBED_PORT_BASE=${TESTBED_PORT_BASE} ${TESTBED_HACK_DIR}/env.sh)\""
fi
