#!/usr/bin/env bash
# Copies the generated CRDs (crds/*.yaml, from `dontpanic crds --out-dir crds`)
# into the Helm chart's crds/ directory, removing chart CRDs that no longer
# exist upstream. Run after regenerating the CRDs; hack/chart/check.sh verifies.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
src="${root}/crds"
dst="${root}/charts/dontpanic/crds"

shopt -s nullglob
files=("${src}"/*.yaml)
if ((${#files[@]} == 0)); then
  echo "sync-crds: no CRDs in ${src}; generate them first: dontpanic crds --out-dir crds" >&2
  exit 1
fi

mkdir -p "${dst}"
for f in "${dst}"/*.yaml; do
  [[ -f "${src}/$(basename "$f")" ]] || { rm -f -- "$f"; echo "sync-crds: removed stale $(basename "$f")"; }
done
for f in "${files[@]}"; do
  cp -- "$f" "${dst}/"
done
echo "sync-crds: copied ${#files[@]} CRD(s) into charts/dontpanic/crds/"
