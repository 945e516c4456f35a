#!/usr/bin/env bash
# Fails when the chart's CRDs (charts/dontpanic/crds/) differ from the
# generated ones (crds/). Fix with: hack/chart/sync-crds.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
src="${root}/crds"
dst="${root}/charts/dontpanic/crds"

shopt -s nullglob
problems=()
src_files=("${src}"/*.yaml)
((${#src_files[@]} > 0)) || problems+=("no CRDs in crds/ (generate them: dontpanic crds --out-dir crds)")
for f in "${src_files[@]}"; do
  name="$(basename "$f")"
  if [[ ! -f "${dst}/${name}" ]]; then
    problems+=("charts/dontpanic/crds/${name} is missing")
  elif ! cmp -s -- "$f" "${dst}/${name}"; then
    problems+=("charts/dontpanic/crds/${name} differs from crds/${name}")
  fi
done
for f in "${dst}"/*.yaml; do
  name="$(basename "$f")"
  [[ -f "${src}/${name}" ]] || problems+=("charts/dontpanic/crds/${name} has no counterpart in crds/")
done

if ((${#problems[@]} > 0)); then
  echo "chart CRDs are out of sync with crds/:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  echo "run hack/chart/sync-crds.sh to fix" >&2
  exit 1
fi
echo "chart CRDs match crds/ (${#src_files[@]} file(s))"
