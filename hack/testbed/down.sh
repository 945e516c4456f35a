#!/usr/bin/env bash
# Stops every process the testbed in $TESTBED_DIR started (each runs in its
# own process group: SIGTERM to the group, SIGKILL after a timeout) and removes
# the state directory. --keep-state stops the processes but keeps the files.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP_STATE=0
[[ "${1:-}" == "--keep-state" ]] && KEEP_STATE=1
STOP_TIMEOUT="${TESTBED_STOP_TIMEOUT:-10}"

if [[ ! -d "$TESTBED_DIR" ]]; then
  log "nothing to stop (${TESTBED_DIR} does not exist)"
  exit 0
fi

# group_members PGID START: live (non-zombie) processes of process group PGID
# that started no earlier than START (the group leader's recorded start time).
group_members() {
  local pgid="$1" start="$2" pid pg st t
  while read -r pid pg st; do
    [[ "$pg" == "$pgid" && "$st" != Z* ]] || continue
    t="$(proc_start_time "$pid")" || continue
    (( t >= start )) && printf '%s\n' "$pid"
  done < <(ps -e -o pid=,pgid=,stat= 2>/dev/null)
  return 0
}

declare -A GROUP_START=()
for ((i = ${#TESTBED_COMPONENTS[@]} - 1; i >= 0; i--)); do
  name="${TESTBED_COMPONENTS[$i]}"
  f="$(pid_file "$name")"
  [[ -f "$f" ]] || continue
  read -r pid start <"$f" || continue
  [[ -n "${pid:-}" && -n "${start:-}" ]] || continue
  if [[ -n "$(group_members "$pid" "$start")" ]]; then
    GROUP_START[$pid]="$start"
    log "stopping $name (pgid $pid)"
    kill -TERM -- "-$pid" 2>/dev/null || true
  fi
done

deadline=$(( $(now_ms) + STOP_TIMEOUT * 1000 ))
killed=0
while ((${#GROUP_START[@]})); do
  for pgid in "${!GROUP_START[@]}"; do
    [[ -z "$(group_members "$pgid" "${GROUP_START[$pgid]}")" ]] && unset "GROUP_START[$pgid]"
  done
  ((${#GROUP_START[@]})) || break
  if (( $(now_ms) > deadline )); then
    if ((killed)); then
      die "process groups ${!GROUP_START[*]} survived SIGKILL"
    fi
    for pgid in "${!GROUP_START[@]}"; do
      log "process group $pgid still running after ${STOP_TIMEOUT}s; sending SIGKILL"
      for pid in $(group_members "$pgid" "${GROUP_START[$pgid]}"); do kill -KILL "$pid" 2>/dev/null || true; done
    done
    killed=1
    deadline=$(( $(now_ms) + 5000 ))
  fi
  sleep 0.1
done

rm -f "${TESTBED_DIR}"/pids/*.pid 2>/dev/null || true

if ((KEEP_STATE)); then
  log "stopped; state kept in ${TESTBED_DIR}"
  exit 0
fi

# Only remove a directory that is recognisably a testbed state directory.
if [[ -f "${TESTBED_DIR}/env" || -d "${TESTBED_DIR}/pids" || -d "${TESTBED_DIR}/pki" ]]; then
  rm -rf "${TESTBED_DIR}"
  log "stopped and removed ${TESTBED_DIR}"
else
  log "stopped; ${TESTBED_DIR} does not look like a testbed directory, left in place"
fi
