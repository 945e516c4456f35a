#!/usr/bin/env bash
# restart-component.sh NAME: stops one running testbed component (for example kube-apiserver)
# and starts it again with the same command line, then waits until it is healthy. Used by
# fault-tolerance tests; the rest of the testbed keeps running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
name="${1:?usage: restart-component.sh NAME}"
pid="$(component_pid "$name")" || die "${name} is not running"
mapfile -d '' -t cmd <"/proc/${pid}/cmdline"
[[ ${#cmd[@]} -gt 0 ]] || die "cannot read the command line of ${name} (pid ${pid})"
kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}"
for _ in $(seq 100); do kill -0 "${pid}" 2>/dev/null || break; sleep 0.1; done
kill -KILL -- "-${pid}" 2>/dev/null || true
start=$(now_ms)
start_component "$name" "${cmd[@]}"
for _ in $(seq 300); do
  if "health_${name}"; then
    log "${name} restarted and healthy in $(( $(now_ms) - start )) ms"
    exit 0
  fi
  sleep 0.1
done
log_tail "$name"
die "${name} did not become healthy after a restart"
