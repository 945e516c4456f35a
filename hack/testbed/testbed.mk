# Local testbed targets; included by the root Makefile, or run directly with
#   make -f hack/testbed/testbed.mk testbed-up
# Settings come from the environment: TESTBED_DIR (default <repo>/.testbed),
# TESTBED_PORT_BASE (default 26440), DONTPANIC_WEBHOOK_PORT (default base+10).

TESTBED_MK_DIR := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
REPO_ROOT ?= $(abspath $(TESTBED_MK_DIR)/../..)
TESTBED_SCRIPTS := $(REPO_ROOT)/hack/testbed

.PHONY: testbed-deps testbed-up testbed-env testbed-down testbed-test

## testbed-deps: install/build everything the testbed needs (idempotent, cached)
testbed-deps:
	@REPO_ROOT="$(REPO_ROOT)" bash "$(TESTBED_SCRIPTS)/deps.sh"

## testbed-up: start the testbed and wait until it is healthy (no-op when up)
testbed-up: testbed-deps
	@REPO_ROOT="$(REPO_ROOT)" bash "$(TESTBED_SCRIPTS)/up.sh"

## testbed-env: print shell exports; use as: eval "$$(make -s testbed-env)"
testbed-env:
	@REPO_ROOT="$(REPO_ROOT)" bash "$(TESTBED_SCRIPTS)/env.sh"

## testbed-down: stop every testbed process and remove its state
testbed-down:
	@REPO_ROOT="$(REPO_ROOT)" bash "$(TESTBED_SCRIPTS)/down.sh"

## testbed-test: run the testbed's own tests (the testbed must be up)
testbed-test:
	@REPO_ROOT="$(REPO_ROOT)" bash "$(TESTBED_SCRIPTS)/test.sh" $(TESTBED_PYTEST_ARGS)
