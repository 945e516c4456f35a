# dontpanic: `make demo` shows it working on a local cluster; `make test` runs everything.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/dontpanic/target
export CARGO_TERM_COLOR ?= never
# Test builds carry the crash points the crash-safety tests use; release builds do not.
TEST_FEATURES := --features failpoints
REPO_ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
TESTBED_ENV = eval "$$(REPO_ROOT=$(REPO_ROOT) bash hack/testbed/env.sh)"

include hack/testbed/testbed.mk

.PHONY: build install-plugin crds check-crds lint test test-unit test-e2e chart-install operator-identity demo demo-down bench

## build: the operator binary and the test binaries
build:
	cargo build --locked --bins --tests $(TEST_FEATURES)

## install-plugin: install `kubectl dontpanic` (report, timeline, list, approve) into ~/.cargo/bin
install-plugin:
	cargo install --locked --path . --bin kubectl-dontpanic

## crds: regenerate crds/ from the Rust types and copy them into the chart
crds: build
	$(CARGO_TARGET_DIR)/debug/dontpanic crds --out-dir crds
	bash hack/chart/sync-crds.sh

## check-crds: fail when crds/ or the chart's copy is stale
check-crds: build
	bash hack/operator/check-crds.sh

## lint: rustfmt, clippy and the chart's own checks
lint:
	cargo fmt --all -- --check
	cargo clippy --locked --all-targets -- -D warnings
	cargo clippy --locked --all-targets $(TEST_FEATURES) -- -D warnings
	$(TESTBED_ENV) && HELM="$$TESTBED_HELM" bash hack/chart/test.sh

## chart-install: install the chart into the testbed (CRDs, RBAC, Deployment)
chart-install: testbed-up
	$(TESTBED_ENV) && bash hack/operator/install-chart.sh

## operator-identity: a kubeconfig with the chart's ServiceAccount token
operator-identity: chart-install
	$(TESTBED_ENV) && bash hack/operator/identity.sh

test-unit: build
	cargo test --locked $(TEST_FEATURES) --lib --bins --test fuzz_parsers --test fuzz_time

test-e2e: build operator-identity
	$(TESTBED_ENV) && export DONTPANIC_OPERATOR_KUBECONFIG="$$TESTBED_DIR/operator.kubeconfig" && \
		cargo test --locked $(TEST_FEATURES) --test e2e -- --test-threads=$${E2E_THREADS:-4} && \
		cargo test --locked $(TEST_FEATURES) --test e2e -- --ignored --test-threads=1

## test: unit tests, CRD freshness, lint, the testbed's own tests, and end-to-end tests
test: build check-crds test-unit lint testbed-up
	$(MAKE) --no-print-directory testbed-test
	$(MAKE) --no-print-directory test-e2e

## demo: testbed up, chart installed, operator running as its ServiceAccount, an incident handled
demo: build operator-identity
	$(TESTBED_ENV) && bash hack/operator/demo.sh

## demo-down: stop the demo operator and the testbed
demo-down:
	-$(TESTBED_ENV) && bash hack/operator/stop.sh
	$(MAKE) --no-print-directory testbed-down

## bench: scale, latency and throughput figures on the testbed, written to docs/benchmarks.md
bench: operator-identity
	cargo build --locked --release --bin dontpanic
	bash hack/bench/build-argo.sh
	$(TESTBED_ENV) && python3 hack/bench/run.py --argo $(BENCH_ARGS)
