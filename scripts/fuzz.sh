#!/usr/bin/env bash
# Runs the cargo-fuzz targets for a bounded time each (default 60 s), seeded from the
# checked-in hostile corpus. cargo-fuzz passes nightly-only flags (-Zsanitizer=address);
# RUSTC_BOOTSTRAP=1 lets the stable toolchain accept them. Needs `cargo install cargo-fuzz`.
# Exit status is non-zero if a target finds a crash (the input is saved under fuzz/artifacts/).
set -euo pipefail
seconds="${1:-60}"
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
for target in decode enrich; do
    mkdir -p "corpus/$target"
    echo "== fuzzing $target for ${seconds}s"
    cargo fuzz run -O "$target" "corpus/$target" ../tests/fixtures/hostile -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10
done
