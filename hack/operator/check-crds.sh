#!/usr/bin/env bash
# Fails when crds/ (or the chart's copy) differs from what the Rust types generate.
set -euo pipefail
cd "$(dirname "$0")/../.."
fresh=$(mktemp -d)
trap 'rm -rf "$fresh"' EXIT
"${CARGO_TARGET_DIR:-target}/debug/dontpanic" crds --out-dir "$fresh"
status=0
for file in "$fresh"/*.yaml; do
  name=$(basename "$file")
  if ! diff -q "$file" "crds/$name" >/dev/null 2>&1; then
    echo "crds/$name is stale: run 'make crds' and commit the result" >&2
    status=1
  fi
done
bash hack/chart/check.sh || status=1
[ "$status" = 0 ] && echo "crds: up to date"
exit "$status"
