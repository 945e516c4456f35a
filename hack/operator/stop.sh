#!/usr/bin/env bash
# Stops the demo operator started by demo.sh.
set -euo pipefail
: "${TESTBED_DIR:?run with the testbed environment}"
pidfile="$TESTBED_DIR/demo-operator.pid"
[ -f "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
fi
rm -f "$pidfile"
