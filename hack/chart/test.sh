#!/usr/bin/env bash
# Offline checks of the Helm chart: lint, render variants, and assert the
# security-relevant parts of the output (least-privilege RBAC, Secrets only
# where intended, hardened pod). Needs only helm ($HELM, or helm on PATH).
# Last line: "chart: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
chart="${root}/charts/dontpanic"

HELM="${HELM:-}"
if [[ -z "$HELM" ]]; then
  HELM="$(command -v helm || true)"
fi
if [[ -z "$HELM" || ! -x "$HELM" ]]; then
  echo "chart: helm not found; set HELM=/path/to/helm or put helm on PATH" >&2
  echo "chart: 0 passed, 1 failed"
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() {
  failed=$((failed + 1)); echo "FAIL - $1"
  if [[ -n "${2:-}" && -s "$2" ]]; then sed 's/^/       /' "$2" | head -40; fi
}
# check NAME COMMAND... : passes when the command succeeds.
check() { local name="$1"; shift; if "$@" >"$tmp/out" 2>&1; then ok "$name"; else fail "$name" "$tmp/out"; fi; }
# check_not NAME COMMAND... : passes when the command fails.
check_not() { local name="$1"; shift; if "$@" >"$tmp/out" 2>&1; then fail "$name" "$tmp/out"; else ok "$name"; fi; }

# render FILE ARGS... : helm template into FILE (release "t", namespace "ops").
render() { local out="$1"; shift; "$HELM" template t "$chart" --namespace ops "$@" >"$out" 2>"$out.err"; }

# docs KIND FILE [NAMESPACE] : the documents of that top-level kind (and
# namespace), each followed by "---".
docs() {
  awk -v k="$1" -v ns="${3:-}" '
    function flush() { if (kind_ok && (ns == "" || ns_ok)) printf "%s---\n", buf; buf = ""; kind_ok = 0; ns_ok = 0 }
    /^---/ { flush(); next }
    {
      buf = buf $0 "\n"
      if ($0 == "kind: " k) kind_ok = 1
      if ($0 == "  namespace: " ns) ns_ok = 1
    }
    END { flush() }' "$2"
}
count() { docs "$@" | grep -c '^---$'; }
has() { grep -Eq -- "$1"; }

# --- lint and package -------------------------------------------------------
check "helm lint --strict" "$HELM" lint --strict "$chart"
if "$HELM" lint --strict "$chart" 2>&1 | grep -E '^\[(WARNING|ERROR)\]' >"$tmp/lint"; then
  fail "helm lint prints no warnings" "$tmp/lint"
else
  ok "helm lint prints no warnings"
fi
check "chart CRDs match crds/ (check.sh)" "${root}/hack/chart/check.sh"
if "$HELM" package "$chart" -d "$tmp/pkg" >"$tmp/out" 2>&1 &&
  tar -tzf "$tmp"/pkg/dontpanic-*.tgz >"$tmp/pkg.list" 2>&1 &&
  grep -q 'dontpanic/crds/incidents.dontpanic.dev.yaml' "$tmp/pkg.list" &&
  grep -q 'dontpanic/crds/playbooks.dontpanic.dev.yaml' "$tmp/pkg.list"; then
  ok "helm package includes both CRDs"
else
  fail "helm package includes both CRDs" "$tmp/out"
fi

# --- renders ----------------------------------------------------------------
D="$tmp/default.yaml"
W="$tmp/watch.yaml"
A="$tmp/all.yaml"
check "render: defaults" render "$D"
check "render: watchNamespace, ServiceMonitor, NetworkPolicy, extra secret namespaces, flags" \
  render "$W" --set watchNamespace=foo --set serviceMonitor.enabled=true --set networkPolicy.enabled=true \
  --set 'rbac.extraSecretNamespaces={a,b}' --set prometheus.url=http://prometheus:9090 \
  --set aws.endpointUrl=http://moto:5000 --set logging.json=true --set incidentWorkers=32
check "render: ingressFrom peers, extraEnv, priorityClassName, tag" render "$A" \
  --set networkPolicy.enabled=true --set 'networkPolicy.ingressFrom[0].namespaceSelector.matchLabels.name=monitoring' \
  --set 'extraEnv[0].name=RUST_LOG' --set 'extraEnv[0].value=debug' --set priorityClassName=system-cluster-critical \
  --set image.tag=dev --set replicaCount=1 --set serviceAccount.name=custom
check "render: serviceAccount.create=false, rbac.create=false" render "$tmp/norbac.yaml" \
  --set serviceAccount.create=false --set rbac.create=false
check "render: approval groups" render "$tmp/approvers.yaml" --set 'approval.groups={oncall-leads,sre}'
check "render: approval.admissionPolicy=false" render "$tmp/nopolicy.yaml" --set approval.admissionPolicy=false

# --- values schema ----------------------------------------------------------
check_not "schema rejects replicaCount=0" render "$tmp/x.yaml" --set replicaCount=0
check_not "schema rejects empty image.repository" render "$tmp/x.yaml" --set image.repository=
check_not "schema rejects unknown top-level keys" render "$tmp/x.yaml" --set bogus=1
check_not "schema rejects incidentWorkers=0" render "$tmp/x.yaml" --set incidentWorkers=0
check_not "schema rejects an empty approval.groups" render "$tmp/x.yaml" --set-json 'approval.groups=[]'
check_not "schema rejects a quote in an approval group" render "$tmp/x.yaml" --set "approval.groups={it's}"
check_not "schema rejects an unknown defaultReceiver.type" render "$tmp/x.yaml" --set defaultReceiver.type=email
check_not "schema rejects a webhook defaultReceiver without urlSecret" render "$tmp/x.yaml" --set defaultReceiver.type=webhook
check_not "schema rejects a pagerduty defaultReceiver without routingKeySecret" render "$tmp/x.yaml" --set defaultReceiver.type=pagerduty
check_not "schema rejects a defaultReceiver.urlSecret that is not namespace/name:key" render "$tmp/x.yaml" \
  --set defaultReceiver.type=slack --set defaultReceiver.urlSecret=hooks
R="$tmp/receiver.yaml"
check "render: defaultReceiver" render "$R" --set defaultReceiver.type=pagerduty \
  --set defaultReceiver.routingKeySecret=ops/pagerduty:routing-key --set defaultReceiver.urlSecret=ops/pagerduty:url
for flag in '--default-receiver-type=pagerduty' '--default-receiver-routing-key-secret=ops/pagerduty:routing-key' \
  '--default-receiver-url-secret=ops/pagerduty:url'; do
  check "[receiver] arg $flag" grep -qF -- "- $flag" < <(docs Deployment "$R")
done
check_not "[default] no default receiver flags" has '--default-receiver' < <(docs Deployment "$D")
check_not "schema rejects an invalid namespace in extraSecretNamespaces" render "$tmp/x.yaml" --set 'rbac.extraSecretNamespaces={Not_A_Namespace}'

# --- RBAC ---------------------------------------------------------------------
for f in "$D" "$W" "$A"; do
  v="$(basename "$f" .yaml)"
  if docs ClusterRole "$f" | grep -q secrets; then
    fail "[$v] no ClusterRole rule mentions secrets"
  else
    ok "[$v] no ClusterRole rule mentions secrets"
  fi
  check_not "[$v] no wildcard in any rule" has '(verbs|resources|apiGroups): \[[^]]*"\*"' <"$f"
  check "[$v] a Role for secrets exists in the release namespace" has 'resources: \["secrets"\]' < <(docs Role "$f" ops)
  check "[$v] release-namespace secrets rule is get-only" \
    test "$(docs Role "$f" ops | grep -A1 'resources: \["secrets"\]' | sed -n 's/^ *verbs: //p')" = '["get"]'
  check "[$v] leader-election Lease access in the release namespace" has 'resources: \["leases"\]' < <(docs Role "$f" ops)
  check "[$v] RoleBinding in the release namespace" test "$(count RoleBinding "$f" ops)" -ge 1
  check "[$v] ClusterRole grants nodes get/list" has 'resources: \["nodes"\]' < <(docs ClusterRole "$f")
  check "[$v] replicasets may be patched (revision annotations), statefulsets only read" \
    test "$(grep -A1 -E 'resources: \["(replicasets|statefulsets)"\]' "$f" | sed -n 's/^ *verbs: //p' | sort -u | tr '\n' ' ')" \
    = '["get", "list", "watch", "patch"] ["get", "list", "watch"] '
done
check "[default] only one Role mentions secrets" test "$(docs Role "$D" | grep -c 'secrets')" -eq 1
check "[default] ClusterRole holds the namespaced rules" has 'resources: \["incidents"\]' < <(docs ClusterRole "$D")
check_not "[watch] ClusterRole holds only nodes" has 'incidents|deployments|pods|configmaps' < <(docs ClusterRole "$W")
check "[watch] namespaced rules move to a Role in the watched namespace" has 'resources: \["incidents"\]' < <(docs Role "$W" foo)
check "[watch] RoleBinding in the watched namespace" test "$(count RoleBinding "$W" foo)" -eq 1
check "[watch] incidentWorkers becomes --incident-workers" has '--incident-workers=32' < "$W"
check_not "[default] no --incident-workers flag: the operator's default holds" has '--incident-workers' < "$D"
check_not "[watch] no secrets in the watched namespace" has secrets < <(docs Role "$W" foo)
for ns in a b; do
  check "[watch] extra secret namespace $ns: Role with secrets get/update/patch/create" \
    has 'verbs: \["get", "update", "patch", "create"\]' < <(docs Role "$W" "$ns")
  check "[watch] extra secret namespace $ns: RoleBinding" test "$(count RoleBinding "$W" "$ns")" -eq 1
done
check "[default] no secret Roles outside the release namespace" test "$(docs Role "$D" | grep -c '^  namespace: ')" -eq 1
check "[norbac] rbac.create=false renders no RBAC" test "$(grep -cE '^kind: (Cluster)?Role(Binding)?$' "$tmp/norbac.yaml")" -eq 0
check "[norbac] serviceAccount.create=false renders no ServiceAccount" test "$(count ServiceAccount "$tmp/norbac.yaml")" -eq 0
check "[all] bindings name the custom ServiceAccount" has '^    name: custom$' < <(docs ClusterRoleBinding "$A")

# --- approval admission policy ---------------------------------------------------
vap="$tmp/vap.yaml"
docs ValidatingAdmissionPolicy "$D" >"$vap"
check "[default] one ValidatingAdmissionPolicy" test "$(count ValidatingAdmissionPolicy "$D")" -eq 1
check "[default] one ValidatingAdmissionPolicyBinding" test "$(count ValidatingAdmissionPolicyBinding "$D")" -eq 1
check "[default] the policy is admissionregistration.k8s.io/v1" has '^apiVersion: admissionregistration.k8s.io/v1$' <"$vap"
check "[default] the policy guards Incident CREATE and UPDATE" has 'operations: \["CREATE", "UPDATE"\]' <"$vap"
check "[default] the policy fails closed" has '^  failurePolicy: Fail$' <"$vap"
check "[default] approvers: system:masters and dontpanic:approvers" \
  has 'expression: "\[\\"system:masters\\",\\"dontpanic:approvers\\"\]"' <"$vap"
check "[default] approved-by must be the requesting user" has "variables.approvedBy == request.userInfo.username" <"$vap"
check "[default] the binding denies" has 'validationActions: \["Deny"\]' < <(docs ValidatingAdmissionPolicyBinding "$D")
check "[default] the binding names the policy" \
  test "$(sed -n 's/^  policyName: //p' < <(docs ValidatingAdmissionPolicyBinding "$D"))" = \
  "$(sed -n '/^metadata:/,/^spec:/s/^  name: //p' "$vap")"
check "[approvers] approval.groups replaces the approver groups" \
  has 'expression: "\[\\"oncall-leads\\",\\"sre\\"\]"' < <(docs ValidatingAdmissionPolicy "$tmp/approvers.yaml")
check "[nopolicy] approval.admissionPolicy=false renders no policy" \
  test "$(grep -cE '^kind: ValidatingAdmissionPolicy(Binding)?$' "$tmp/nopolicy.yaml")" -eq 0

# --- Deployment -----------------------------------------------------------------
dep="$tmp/dep.yaml"
docs Deployment "$D" >"$dep"
check "[default] Deployment readOnlyRootFilesystem: true" has '^ +readOnlyRootFilesystem: true$' <"$dep"
check "[default] Deployment runAsNonRoot: true" has '^ +runAsNonRoot: true$' <"$dep"
check "[default] Deployment runAsUser: 65532" has '^ +runAsUser: 65532$' <"$dep"
check "[default] Deployment allowPrivilegeEscalation: false" has '^ +allowPrivilegeEscalation: false$' <"$dep"
check "[default] Deployment drops ALL capabilities" has '^ +- ALL$' <"$dep"
check "[default] Deployment seccompProfile RuntimeDefault" has '^ +type: RuntimeDefault$' <"$dep"
check "[default] image defaults to appVersion" has '^ +image: "dontpanic:0.1.0"$' <"$dep"
check "[default] 2 replicas" has '^  replicas: 2$' <"$dep"
check "[default] args: run --http-addr=0.0.0.0:8080" has '^ +- run$' <"$dep"
check_not "[default] no optional flags" has '- --(namespace|prometheus-url|aws-endpoint-url|log-json)' <"$dep"
check "[default] POD_NAME from metadata.name" has 'fieldPath: metadata.name' <"$dep"
check "[default] POD_NAMESPACE env" has 'name: POD_NAMESPACE' <"$dep"
check "[default] liveness probe /healthz" has 'path: /healthz' <"$dep"
check "[default] readiness probe /readyz" has 'path: /readyz' <"$dep"
check "[default] memory limit 192Mi (sized from docs/benchmarks.md)" has '^ +memory: 192Mi$' <"$dep"
check "[default] PodDisruptionBudget minAvailable 1" has '^  minAvailable: 1$' < <(docs PodDisruptionBudget "$D")
check "[default] Service http 8080" has '^      port: 8080$' < <(docs Service "$D")
check "[default] no ServiceMonitor" test "$(count ServiceMonitor "$D")" -eq 0
check "[default] no NetworkPolicy" test "$(count NetworkPolicy "$D")" -eq 0
wdep="$(docs Deployment "$W")"
for flag in '--namespace=foo' '--prometheus-url=http://prometheus:9090' '--aws-endpoint-url=http://moto:5000' '--log-json'; do
  check "[watch] arg $flag" grep -qF -- "- $flag" <<<"$wdep"
done
check "[watch] ServiceMonitor rendered" test "$(count ServiceMonitor "$W")" -eq 1
check "[watch] NetworkPolicy allows ingress on 8080" has 'port: 8080' < <(docs NetworkPolicy "$W")
check "[all] NetworkPolicy peers from values" has 'name: monitoring' < <(docs NetworkPolicy "$A")
check "[all] extraEnv rendered" has 'name: RUST_LOG' < <(docs Deployment "$A")
check "[all] priorityClassName rendered" has 'priorityClassName: system-cluster-critical' < <(docs Deployment "$A")
check "[all] image tag override" has 'image: "dontpanic:dev"' < <(docs Deployment "$A")
check "[all] replicaCount=1 renders no PodDisruptionBudget" test "$(count PodDisruptionBudget "$A")" -eq 0

echo "chart: ${passed} passed, ${failed} failed"
((failed == 0))
