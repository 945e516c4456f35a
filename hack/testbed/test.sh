#!/usr/bin/env bash
# Runs the testbed's own tests (hack/testbed/tests) with the venv's pytest.
# The testbed must be up; extra arguments go to pytest.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -x "${VENV_DIR}/bin/pytest" ]] || die "missing ${VENV_DIR}/bin/pytest; run 'make testbed-deps' first"
cd "${TESTBED_HACK_DIR}/tests"
export REPO_ROOT TESTBED_DIR TESTBED_PORT_BASE
export PYTHONDONTWRITEBYTECODE=1
exec "${VENV_DIR}/bin/pytest" -p no:cacheprovider -ra "$@" .
