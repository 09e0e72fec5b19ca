# Leadpipe — the two commands are `make dev` and `make test`.

SHELL  := /bin/bash
CARGO  ?= cargo
PYTHON ?= python3

.PHONY: dev test lint fmt check bench-criterion deps-moto deps-rust help

help:
	@echo "make dev    - run the whole pipeline locally on http://127.0.0.1:3000"
	@echo "make test   - every test, unit and integration (starts its own emulator)"
	@echo "make lint   - rustfmt and clippy, as CI runs them"
	@echo "make bench-criterion - criterion benches of the pure hot paths"

## Installs what a fresh machine lacks: moto's server (with Flask).
deps-moto:
	@$(PYTHON) -c "import moto.server, flask" 2>/dev/null || \
	  { echo "installing moto[server]…"; $(PYTHON) -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'; }

deps-rust:
	@command -v $(CARGO) >/dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)"; exit 1; }

## The local stack: emulator on 127.0.0.1:4566 (unless AWS_ENDPOINT_URL is
## set), resources, every route on LEADPIPE_ADDR (127.0.0.1:3000).
dev: deps-rust deps-moto
	@$(CARGO) build --quiet -p leadpipe-local
	@exec ./target/debug/leadpipe-local

## Every test. Test binaries start their own emulator on a free port, or use
## AWS_ENDPOINT_URL when it is set.
test: deps-rust deps-moto
	$(CARGO) test --workspace --locked

lint: deps-rust
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt:
	$(CARGO) fmt --all

bench-criterion:
	$(CARGO) bench -p leadpipe
