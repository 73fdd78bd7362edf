# lede — the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: setup demo test lint bench-transport bench-memory fuzz

## Installs nats-server and the spaCy model if missing.
setup:
	./scripts/setup.sh

## Builds lede, starts a local broker and a worker, publishes examples/, prints the records.
demo: setup
	$(CARGO) build --release --locked
	./scripts/demo.sh

## Everything CI runs: setup, the whole test suite, then both fuzz targets for
## TEST_FUZZ_SECONDS each (30; `make test TEST_FUZZ_SECONDS=0` skips fuzzing).
TEST_FUZZ_SECONDS ?= 30
test: setup
	$(CARGO) test --locked --all-targets
	$(CARGO) test --locked --doc
	if [ "$(TEST_FUZZ_SECONDS)" != 0 ]; then $(MAKE) fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS); fi

## Formatting and lints, as required before every commit.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## Articles/s through a local broker (no stages, then all stages) vs `lede process`.
bench-transport: setup
	$(CARGO) build --release --locked
	./scripts/bench-transport.sh

## Peak RSS (VmHWM) of a worker draining a 3,000-article news burst and of one 4 MiB article
## (worker and `lede process`), and `lede process` articles/s at --threads 1 and 2
## (BEFORE=path/to/lede compares another binary side by side). Prints README's tables.
bench-memory: setup
	$(CARGO) build --release --locked
	./scripts/bench-memory.py $(if $(BEFORE),--before $(BEFORE)) $(BENCH_MEMORY_ARGS)

## Fuzzes the record decoder and the whole per-message function, FUZZ_SECONDS each (default 60).
FUZZ_SECONDS ?= 60
fuzz:
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	./scripts/fuzz.sh $(FUZZ_SECONDS)

.PHONY: bench
## lede vs the Python worker a team would write (nats-py + spaCy): pipeline and end-to-end
## throughput, latency, peak RSS and entity agreement. Writes bench/results/ (table, JSON,
## chart) and the README section. BENCH_ARGS=--quick for a short development run.
bench: setup
	$(CARGO) build --release --locked --bins
	./bench/setup-venv.sh
	.venv/bin/python -m unittest discover -s bench -p 'test_*.py'
	.venv/bin/python bench/run.py --update-readme $(BENCH_ARGS)
