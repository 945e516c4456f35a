#!/usr/bin/env bash
# Writes a kubeconfig whose only credential is a token of the chart's ServiceAccount, so the
# operator gets exactly the chart's RBAC when it runs as a local process.
set -euo pipefail
: "${KUBECONFIG:?run with the testbed environment}" "${TESTBED_DIR:?}"
namespace=${DONTPANIC_NAMESPACE:-dontpanic-system}
account=${DONTPANIC_SERVICE_ACCOUNT_NAME:-dontpanic}
token=$(kubectl create token "$account" --namespace "$namespace" --duration=24h)
server=$(kubectl config view --minify -o jsonpath='{.clusters[0].cluster.server}')
ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
out="$TESTBED_DIR/operator.kubeconfig"
umask 077
cat >"$out" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster: {server: "$server", certificate-authority-data: "$ca"}
users:
- name: $account
  user: {token: "$token"}
contexts:
- name: operator
  context: {cluster: testbed, user: $account}
current-context: operator
YAML
echo "$out"
