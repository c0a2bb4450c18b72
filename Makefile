# The single entry point. `make help` lists the targets.
#
# Fresh Debian 12 machine: `make run` installs what is needed and runs the demo;
# `make test` runs every test.

SHELL := /bin/bash
CARGO ?= cargo
MIN_RUST := 1.95
SHARED := ../shared
BENCH_DIR ?= target/bench
FUZZ_SECONDS ?= 60

.PHONY: help setup setup-test build run demo test lint bench bench-capture bench-sync bench-replay bench-flows bench-store bench-intel eval dga-model dicts fuzz fuzz-build clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

# The sensor's build compiles the XDP program (ebpf/sensor.bpf.c) with clang-19 against
# libbpf-dev's headers (sensor/capture/build.rs); without them it builds AF_PACKET-only.
BUILD_DEB_PACKAGES := build-essential pkg-config clang-19 libbpf-dev
setup: ## Install build dependencies (Debian packages) and check the Rust toolchain
	@for p in $(BUILD_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@command -v $(CARGO) >/dev/null || { echo "Rust $(MIN_RUST)+ is needed (https://rustup.rs): cargo not found" >&2; exit 1; }
	@v=$$(rustc --version | awk '{print $$2}'); \
	  if [ "$$(printf '%s\n%s\n' "$(MIN_RUST)" "$$v" | sort -V | head -1)" != "$(MIN_RUST)" ]; then \
	    echo "Rust $(MIN_RUST)+ is needed, found $$v" >&2; exit 1; fi

build: setup ## Build the sensor and the SOC hub (release)
	$(CARGO) build --release --locked -p sensor -p soc-hub

run: build ## Build, then run the whole path: a local SOC hub, an enrolled sensor, the demo scenario, the alerts at the hub
	provisioning/demo.sh sensor-demo

demo: run ## Same as run

# The tests read exported pcapng back with tshark and mount a small tmpfs (as root, in CI).
# tshark (parity), tcpreplay, iproute2 and python3 (live capture), bpftool and ping (the XDP
# program's verifier and attach checks).
TEST_DEB_PACKAGES := tshark tcpreplay iproute2 python3 bpftool iputils-ping
setup-test: setup ## Install what the tests drive (Debian packages)
	@for p in $(TEST_DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

test: setup-test ## Run every test (unit, parity with Zeek/tshark, every shared capture, lints)
	$(CARGO) fmt --all --check
	$(CARGO) test --workspace --profile ci --locked
	$(CARGO) clippy --workspace --all-targets --profile ci --locked -- -D warnings
	@if [ "$$(id -u)" = 0 ]; then $(MAKE) -C ebpf check attach-check; \
	else echo "SKIPPED the XDP program's verifier and veth checks: not root (make -C ebpf check attach-check)"; fi

lint: setup ## Lints only
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

bench: bench-replay bench-flows bench-store bench-intel bench-capture bench-sync ## All benchmarks (needs root for the peers' packages); see docs/PERFORMANCE.md

bench-replay: build ## Replay throughput against Suricata on the large mixed capture
	bash bench/replay.sh "$(SHARED)" "$(BENCH_DIR)"

bench-capture: build ## Live capture on veth: receiver CPU per frame against Suricata's AF_PACKET and AF_XDP (root)
	bash bench/capture.sh "$(SHARED)" "$(BENCH_DIR)/capture"

bench-sync: setup ## Alerts to the SOC hub: latency, drain of a 1,000,000-alert backlog, 100 sensors at once
	$(CARGO) test --release --locked -p soc-hub --test bench -- --ignored --nocapture

bench-flows: setup ## Memory with 1,000,000 concurrent flows
	$(CARGO) run --release --locked -p sensor --example flow_memory

STORE_RECORDS ?= 10000000
bench-store: setup ## Store ingest, size against JSON lines and gzip, query latency (all captures, then without DNS tunnels)
	$(CARGO) build --release --locked -p sensor --example store_bench
	./target/release/examples/store_bench $(SHARED)/data/pcaps $(BENCH_DIR)/store $(STORE_RECORDS)
	STORE_BENCH_SKIP=dns-tunnel ./target/release/examples/store_bench $(SHARED)/data/pcaps $(BENCH_DIR)/store $(STORE_RECORDS)
	rm -rf $(BENCH_DIR)/store
	$(CARGO) build --release --locked -p sensor
	bash bench/store-ceiling.sh "$(SHARED)" "$(BENCH_DIR)"

bench-intel: setup ## Threat-intelligence lookups at 1,000 and 1,000,000 indicators
	$(CARGO) run --release --locked -p sensor-detect --example intel_bench

eval: setup ## Detectors against the shared captures' LABELS.tsv: recall and precision per ATT&CK technique
	$(CARGO) run --release --locked -p sensor --example eval -- $(SHARED)/data/pcaps

TOP_SITES := top-sites@1.1.222
dga-model: setup ## Retrain the DGA model shipped in sensor/detect/data and print its precision and recall
	command -v npm >/dev/null || { echo "npm is needed to fetch the top-sites list"; exit 1; }
	test -s /usr/share/dict/words || apt-get install -y wamerican
	mkdir -p $(BENCH_DIR)/dga && cd $(BENCH_DIR)/dga && npm pack --silent $(TOP_SITES) && tar xzf top-sites-*.tgz
	$(CARGO) run --release --locked -p sensor-detect --example dga -- --words /usr/share/dict/words \
		--top-sites $(BENCH_DIR)/dga/package/top-sites.json --captures $(SHARED)/data/pcaps \
		--out sensor/detect/data/dga-model.bin

dicts: setup ## Train zstd dictionaries for the store from the shared captures and measure them (none is shipped: docs/decisions/store-dictionaries.md)
	$(CARGO) run --release --locked -p sensor --example train_dicts -- $(SHARED)/data/pcaps $(BENCH_DIR)/dicts

fuzz-build: ## Build the fuzz targets (installs cargo-fuzz; nightly-free via RUSTC_BOOTSTRAP)
	bash fuzz/run.sh build

fuzz: ## Run each fuzz target for FUZZ_SECONDS (default 60), seeded from the shared captures
	bash fuzz/run.sh run $(FUZZ_SECONDS) "$(SHARED)"

clean: ## Remove build output and demo files
	$(CARGO) clean
	rm -rf sensor-demo
