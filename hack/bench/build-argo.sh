#!/usr/bin/env bash
# Builds the Argo Rollouts controller from its published Go module (for `make bench`'s side-by-side
# scenario) into ~/.cache/dontpanic/bench/bin, once. A cold build takes about 10 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version=v1.8.3
out="${HOME}/.cache/dontpanic/bench/bin/rollouts-controller-${version}"
if [[ -x "$out" ]]; then
  echo "$out"
  exit 0
fi
mkdir -p "$(dirname "$out")"
cd "$here/gomod/argo-rollouts"
started=$SECONDS
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out.tmp" github.com/argoproj/argo-rollouts/cmd/rollouts-controller
mv "$out.tmp" "$out"
echo "built $out in $((SECONDS - started))s" >&2
echo "$out"
