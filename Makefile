# Leadpipe — the two commands are `make dev` and `make test`.

SHELL  := /bin/bash
CARGO  ?= cargo
PYTHON ?= python3

ARCH      ?= arm64
TRIPLE    := $(if $(filter arm64,$(ARCH)),aarch64,x86_64)-unknown-linux-gnu
# cargo-lambda's flag for ARCH: --arm64 or --x86-64 (not --x86_64).
LAMBDA_ARCH_FLAG = $(if $(filter arm64,$(ARCH)),--arm64,$(if $(filter x86_64,$(ARCH)),--x86-64,$(error ARCH must be arm64 or x86_64, not $(ARCH))))
FUNCTIONS := ingest meta-verify process deliver admin sweep

.PHONY: api-conformance lambda-invoke chaos latency load dev dev-reset test lint fmt check bench bench-criterion deps-moto deps-rust deps-browser deps-lambda deps-fuzz fuzz package package-cli infra-check help

help:
	@echo "make dev    - run the whole pipeline locally on http://127.0.0.1:3000 (data and admin token kept in target/dev)"
	@echo "make dev-reset - make dev from a clean slate (deletes target/dev)"
	@echo "make dev DEMO=1 - also a Graph API stand-in and a sample receiver (the README's Meta and delivery walkthroughs)"
	@echo "make test   - every test, unit and integration (starts its own emulator), and the console in Chromium"
	@echo "make lint   - rustfmt and clippy, as CI runs them"
	@echo "make api-conformance - schemathesis against the local stack (docs/openapi.json)"
	@echo "make lambda-invoke - cargo lambda watch + invoke of every sample in events/"
	@echo "make bench-criterion - criterion benches of the pure hot paths"
	@echo "make chaos  - fault-injection run (2,000 leads, kills, emulator restart, outages; ≤ 45 min) that reckons every lead"
	@echo "make latency - 1,000 leads at 4/s through the local stack (release): accept and end-to-end p50/p90/p99 (issue 25 §2)"
	@echo "make load   - leads at 1,000/s for 60 s (or what the machine sustains), nothing lost (issue 25 §6)"
	@echo "make bench  - cold start, warm cost, memory and size of every function vs an empty one (BENCHMARKS.md)"
	@echo "make package - Lambda zips in target/lambda/<fn>/bootstrap.zip (ARCH=arm64|x86_64), then make package-cli"
	@echo "make package-cli - the leadpipe CLI for Linux and, where the toolchain allows, macOS (target/cli/)"
	@echo "make infra-check - terraform fmt, validate and test (offline), checkov and the infra parity test"
	@echo "make fuzz   - every cargo-fuzz target for FUZZ_SECONDS (60) each"

## Installs what a fresh machine lacks: moto's server (with Flask).
deps-moto:
	@$(PYTHON) -c "import moto.server, flask" 2>/dev/null || \
	  { echo "installing moto[server]…"; $(PYTHON) -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'; }

deps-rust:
	@command -v $(CARGO) >/dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }

## The local stack: emulator on 127.0.0.1:4566 (unless AWS_ENDPOINT_URL is
## set), resources, every route on LEADPIPE_ADDR (127.0.0.1:3000).
## Data and the secrets (the admin token) are kept in DEV_STATE between
## runs (LEADPIPE_DEV_STATE=off keeps nothing); `make dev-reset` deletes it.
## DEMO=1 also starts a Graph API stand-in and a sample receiver.
DEV_STATE ?= target/dev
dev: deps-rust deps-moto
	@echo "building leadpipe-local (the first build takes a few minutes; cargo shows its progress)…"
	@$(CARGO) build -p leadpipe-local
	@LEADPIPE_DEV_STATE=$${LEADPIPE_DEV_STATE:-$(DEV_STATE)} LEADPIPE_DEMO=$(DEMO) exec ./target/debug/leadpipe-local

dev-reset:
	@rm -rf $(DEV_STATE) && echo "deleted $(DEV_STATE): this run starts clean"
	@$(MAKE) --no-print-directory dev

BROWSER_DEPS ?= $(HOME)/.cache/leadpipe-browser
CHROMIUM     ?= /usr/bin/chromium

## The console's browser test: Chromium from Debian's packages (apt), node,
## and playwright-core + axe-core from npm into BROWSER_DEPS (a cache).
deps-browser:
	@SUDO=$$( [ "$$(id -u)" -eq 0 ] || echo sudo ); \
	if ! [ -x $(CHROMIUM) ] || ! command -v npm >/dev/null; then \
	  if command -v apt-get >/dev/null; then \
	    echo "installing chromium and node (apt)…"; \
	    $$SUDO apt-get install -y -qq chromium nodejs npm >/dev/null 2>&1 || \
	      { $$SUDO apt-get update -qq >/dev/null && $$SUDO apt-get install -y -qq chromium nodejs npm >/dev/null; } || true; \
	  fi; \
	fi; \
	if [ -x $(CHROMIUM) ] && command -v npm >/dev/null; then \
	  mkdir -p $(BROWSER_DEPS); \
	  if ! cmp -s tests/browser/package.json $(BROWSER_DEPS)/package.json || \
	     ! [ -d $(BROWSER_DEPS)/node_modules/playwright-core ] || ! [ -d $(BROWSER_DEPS)/node_modules/axe-core ]; then \
	    echo "installing playwright-core and axe-core into $(BROWSER_DEPS)…"; \
	    cp tests/browser/package.json $(BROWSER_DEPS)/ && \
	    (cd $(BROWSER_DEPS) && npm install --no-audit --no-fund --loglevel=error); \
	  fi; \
	else \
	  echo "!!!!!!!! chromium or npm cannot be installed: the console's browser test will be SKIPPED !!!!!!!!"; \
	fi

## Every test. Test binaries start their own emulator on a free port, or use
## AWS_ENDPOINT_URL when it is set. With the browser dependencies present the
## console's Chromium test must run (LEADPIPE_REQUIRE_BROWSER).
## Then the API conformance run (schemathesis against the local stack, from
## docs/openapi.json) and the cargo-lambda run of every sample event.
test: deps-rust deps-moto deps-browser
	@set -o pipefail; \
	if [ -x $(CHROMIUM) ] && [ -d $(BROWSER_DEPS)/node_modules/playwright-core ] && [ -d $(BROWSER_DEPS)/node_modules/axe-core ]; then \
	  export LEADPIPE_REQUIRE_BROWSER=1; fi; \
	LEADPIPE_BROWSER_DEPS=$(BROWSER_DEPS) LEADPIPE_CHROMIUM=$(CHROMIUM) \
	$(CARGO) test --workspace --locked 2>&1 | awk '{ print } \
	  /^test result:/ { passed += $$4; failed += $$6 } \
	  END { printf "\ntests: %d passed, %d failed\n", passed, failed }'
	@$(MAKE) --no-print-directory api-conformance
	@$(MAKE) --no-print-directory lambda-invoke

## schemathesis (PyPI, own virtualenv; skipped when it cannot be installed)
## against leadpipe-local, checking every answer against docs/openapi.json.
api-conformance: deps-rust deps-moto
	@CARGO=$(CARGO) PYTHON=$(PYTHON) ./scripts/schemathesis.sh

## `cargo lambda watch` + `cargo lambda invoke --data-file` for every sample
## in events/ (skipped, with a message, without cargo-lambda).
lambda-invoke: deps-rust deps-moto
	@CARGO=$(CARGO) PYTHON=$(PYTHON) ./scripts/lambda-invoke.sh

lint: deps-rust
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

bench-criterion:
	$(CARGO) bench -p leadpipe --locked --bench inbound --bench outbound -- --warm-up-time 1 --measurement-time 3

## Every function in the release profile under a local Lambda Runtime API,
## against empty baselines; criterion figures; BENCHMARKS.md.
bench: deps-rust deps-moto bench-criterion
	$(CARGO) build --release --locked $(addprefix -p ,$(FUNCTIONS)) -p leadpipe-bench
	./target/release/leadpipe-bench

## A bounded fault-injection run against the local stack (leadpipe-local,
## SIGKILLed and restarted) that reckons every accepted lead and delivery.
## Prints every figure (leads accepted and ended, deliveries delivered, dead,
## redriven, duplicated; faults by kind) and exits non-zero on a loss, a bad
## signature, two leads for one address or duplicates beyond the window
## stated in RELIABILITY.md; what was injected: target/chaos/summary-full.json.
## CHAOS_ARGS: e.g. --leads 3000, --window 420, --settle 300, --short.
chaos: deps-rust deps-moto
	$(CARGO) build --locked -p leadpipe-local -p leadpipe-chaos
	T=$${CARGO_TARGET_DIR:-$(CURDIR)/target}; LEADPIPE_LOCAL_BIN=$$T/debug/leadpipe-local timeout 2700 $$T/debug/leadpipe-chaos $(CHAOS_ARGS)

## Leads at a target rate through the local stack (release builds of
## leadpipe-local and the harness, moto as the emulator), timed from the
## sender's first byte to the 202 (accept) and from the 202 to the
## receiver's first POST (end to end); exits non-zero when an accepted lead
## never arrives. Prints a markdown table, writes target/load/<name>.json.
## Not part of `make test` (minutes). Arguments: --leads N, --rate PER_S,
## --duration S (leads = rate × duration), --concurrency N (requests open at
## once), --pollers N (the stack's concurrent batches per queue), --settle S.
LATENCY_ARGS ?= --leads 1000 --rate 4 --concurrency 32
LOAD_ARGS    ?= --rate 1000 --duration 60 --concurrency 64 --settle 900
LOAD_BUILD    = $(CARGO) build --release --locked -p leadpipe-local -p leadpipe-chaos
LOAD_RUN      = T=$${CARGO_TARGET_DIR:-$(CURDIR)/target}; LEADPIPE_LOCAL_BIN=$$T/release/leadpipe-local $$T/release/leadpipe-chaos load
latency: deps-rust deps-moto
	$(LOAD_BUILD)
	$(LOAD_RUN) --name latency $(LATENCY_ARGS)

load: deps-rust deps-moto
	$(LOAD_BUILD)
	$(LOAD_RUN) --name load $(LOAD_ARGS)

## cargo-lambda (with zig) from PyPI, and the rustup target for ARCH.
deps-lambda: deps-rust
	@command -v cargo-lambda >/dev/null || $(PYTHON) -m pip install --quiet --disable-pip-version-check 'cargo-lambda>=1.8'
	@if [ "$(ARCH)" = arm64 ]; then \
	  rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu; \
	else \
	  rustup target list --installed 2>/dev/null | grep -q x86_64-unknown-linux-gnu || rustup target add x86_64-unknown-linux-gnu; \
	fi

## A zip per function for Terraform: target/lambda/<fn>/bootstrap.zip
## (ARCH=arm64, the default, or ARCH=x86_64).
package: deps-lambda
	$(CARGO) lambda build --release --locked $(LAMBDA_ARCH_FLAG) --output-format zip $(addprefix -p ,$(FUNCTIONS))
	@T=$${CARGO_TARGET_DIR:-target}; ./scripts/check-glibc.sh $(addprefix $$T/$(TRIPLE)/release/,$(FUNCTIONS))
	@T=$${CARGO_TARGET_DIR:-target}; for f in $(FUNCTIONS); do \
	  unzip -l $$T/lambda/$$f/bootstrap.zip | grep -q ' bootstrap$$' || { echo "$$T/lambda/$$f/bootstrap.zip: no bootstrap inside"; exit 1; }; \
	  printf '%-12s %-7s %s\n' "$$f" "$$(du -h $$T/lambda/$$f/bootstrap.zip | cut -f1)" "$$(file -b $$T/$(TRIPLE)/release/$$f | cut -d, -f1-2)"; done
	@$(MAKE) --no-print-directory package-cli

## The `leadpipe` CLI, release builds in target/cli/: this machine's Linux
## target always; each macOS target when its rustup target and a linker for
## it are present (on a Mac, or with osxcross), else a line saying why not.
CLI_MAC_TARGETS ?= aarch64-apple-darwin x86_64-apple-darwin
package-cli: deps-rust
	@T=$${CARGO_TARGET_DIR:-target}; mkdir -p $$T/cli; \
	host=$$(rustc -vV | sed -n 's/^host: //p'); \
	$(CARGO) build --release --locked -p leadpipe-cli && cp $$T/release/leadpipe $$T/cli/leadpipe-$$host && \
	echo "$$T/cli/leadpipe-$$host"; \
	for t in $(CLI_MAC_TARGETS); do \
	  if [ "$$t" = "$$host" ]; then continue; fi; \
	  if rustup target list --installed 2>/dev/null | grep -qx "$$t" && { [ "$$(uname -s)" = Darwin ] || command -v "$$t-clang" >/dev/null || command -v o64-clang >/dev/null; }; then \
	    $(CARGO) build --release --locked -p leadpipe-cli --target $$t && cp $$T/$$t/release/leadpipe $$T/cli/leadpipe-$$t && echo "$$T/cli/leadpipe-$$t"; \
	  else echo "leadpipe-$$t: skipped (needs 'rustup target add $$t' and a macOS linker: build on a Mac, or with osxcross)"; fi; \
	done

CHECKOV_VENV ?= $(HOME)/.cache/leadpipe-checkov
CHECKOV_VERSION := 3.2.400

## Terraform checks that need no credentials and no provider download: fmt,
## validate and `terraform test` (mocked provider) over the module and the
## example from the local provider mirror (skipped, with a message, without
## one), checkov over the module, and the infra parity test.
infra-check:
	@./scripts/infra-check.sh
	@[ -x $(CHECKOV_VENV)/bin/checkov ] && $(CHECKOV_VENV)/bin/checkov --version | grep -qx '$(CHECKOV_VERSION)' || \
	  { $(PYTHON) -m venv $(CHECKOV_VENV) && $(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'; }
	$(CHECKOV_VENV)/bin/checkov -d infra/modules/leadpipe --skip-path tests --skip-download --compact --quiet
	$(CARGO) test -p leadpipe-tests --test it --locked infra::

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := inbound origin meta meta_signed template ssrf cursor sources filter

## cargo-fuzz needs a nightly toolchain and the cargo-fuzz command.
deps-fuzz: deps-rust
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

## Every fuzz target for a bounded time; a crash fails the run (its input is
## kept in fuzz/artifacts/<target>/).
fuzz: deps-fuzz
	@cd fuzz && for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $$t: $(FUZZ_SECONDS) s"; \
	  cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 2>&1 | \
	    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|==|SUMMARY|Done)' ; \
	  test $${PIPESTATUS[0]} -eq 0 || exit 1; \
	done
