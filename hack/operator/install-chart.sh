#!/usr/bin/env bash
# Installs (or upgrades) the chart into the testbed and waits for its CRDs.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${KUBECONFIG:?run with the testbed environment}"
namespace=${DONTPANIC_NAMESPACE:-dontpanic-system}
helm upgrade --install dontpanic charts/dontpanic --namespace "$namespace" --create-namespace \
  --set replicaCount=1 >/dev/null
# helm installs CRDs only on first install; keep them current on upgrades too.
kubectl apply --server-side --force-conflicts -f crds/ >/dev/null
kubectl wait --for condition=established --timeout=60s \
  crd/incidents.dontpanic.dev crd/playbooks.dontpanic.dev >/dev/null
echo "chart installed in namespace $namespace; CRDs established"
