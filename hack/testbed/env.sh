#!/usr/bin/env bash
# Prints shell exports for using the testbed:  eval "$(hack/testbed/env.sh)"
# Values come from $TESTBED_DIR/env, written by up.sh; without it (testbed
# not up) they are derived from TESTBED_DIR/TESTBED_PORT_BASE and a warning
# goes to stderr.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

declare -A V=(
  [TESTBED_DIR]="$TESTBED_DIR"
  [TESTBED_PORT_BASE]="$TESTBED_PORT_BASE"
  [KUBECONFIG]="${TESTBED_DIR}/kubeconfig"
  [KUBECTL]="${KUBECTL_BIN_DIR}/kubectl"
  [HELM]="${KUBECTL_BIN_DIR}/helm"
  [TESTBED_VENV]="$VENV_DIR"
  [APISERVER_PORT]="$APISERVER_PORT"
  [PROMETHEUS_PORT]="$PROMETHEUS_PORT"
  [ALERTMANAGER_PORT]="$ALERTMANAGER_PORT"
  [SIGNALS_PORT]="$SIGNALS_PORT"
  [MOTO_PORT]="$MOTO_PORT"
  [DONTPANIC_WEBHOOK_PORT]="$DONTPANIC_WEBHOOK_PORT"
)

if [[ -f "${TESTBED_DIR}/env" ]]; then
  while IFS='=' read -r key value; do
    [[ -n "$key" && "$key" != \#* ]] && V[$key]="$value"
  done <"${TESTBED_DIR}/env"
else
  log "warning: ${TESTBED_DIR}/env not found (testbed not up?); printing the default values"
fi

q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
ex() { printf 'export %s=%s\n' "$1" "$(q "$2")"; }

ex TESTBED_DIR "${V[TESTBED_DIR]}"
ex TESTBED_PORT_BASE "${V[TESTBED_PORT_BASE]}"
ex KUBECONFIG "${V[KUBECONFIG]}"
ex KUBE_APISERVER_URL "https://127.0.0.1:${V[APISERVER_PORT]}"
ex PROMETHEUS_URL "http://127.0.0.1:${V[PROMETHEUS_PORT]}"
ex ALERTMANAGER_URL "http://127.0.0.1:${V[ALERTMANAGER_PORT]}"
ex SIGNALS_URL "http://127.0.0.1:${V[SIGNALS_PORT]}"
ex AWS_ENDPOINT_URL "http://127.0.0.1:${V[MOTO_PORT]}"
ex AWS_ACCESS_KEY_ID testing
ex AWS_SECRET_ACCESS_KEY testing
ex AWS_REGION us-east-1
ex AWS_DEFAULT_REGION us-east-1
ex AWS_EC2_METADATA_DISABLED true
ex DONTPANIC_WEBHOOK_PORT "${V[DONTPANIC_WEBHOOK_PORT]}"
ex TESTBED_KUBECTL "${V[KUBECTL]}"
ex TESTBED_HELM "${V[HELM]}"
ex TESTBED_VENV "${V[TESTBED_VENV]}"
# kubectl and helm on PATH (added once).
bindir="$(dirname "${V[KUBECTL]}")"
# shellcheck disable=SC2016 # $PATH expands where the output is eval-ed
printf 'case ":$PATH:" in *:%s:*) ;; *) export PATH=%s:"$PATH" ;; esac\n' "$bindir" "$(q "$bindir")"
