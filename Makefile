# lede — the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: setup demo test lint bench-transport fuzz

## Installs nats-server and the spaCy model if missing.
setup:
	./scripts/setup.sh

## Builds lede, starts a local broker and a worker, publishes examples/, prints the records.
demo: setup
	$(CARGO) build --release --locked
	./scripts/demo.sh

## Everything CI runs: setup, then the whole test suite.
test: setup
	$(CARGO) test --locked --all-targets
	$(CARGO) test --locked --doc

## Formatting and lints, as required before every commit.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## Articles/s through a local broker (no stages, then all stages) vs `lede process`.
bench-transport: setup
	$(CARGO) build --release --locked
	./scripts/bench-transport.sh

## Fuzzes the record decoder and the whole per-message function, FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	./scripts/fuzz.sh $(FUZZ_SECONDS)
