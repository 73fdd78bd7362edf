#!/usr/bin/env bash
# lede end to end on one machine: a local JetStream broker on free ports, one worker, the
# articles of examples/ published, and the enriched records printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lede=${LEDE_BIN:-$root/target/release/lede}
nats_server=${NATS_SERVER_BIN:-nats-server}

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
pids+=($!)

files=(examples/*.jsonl)
count=$(cat "${files[@]}" | grep -c .)
echo "== publishing $count articles from ${files[*]}" >&2
"$lede" publish --nats-url "$url" "${files[@]}" >&2
echo "== enriched records (articles.enriched):" >&2
"$lede" tail --nats-url "$url" --count "$count" --timeout 60s
dead=$("$lede" tail --nats-url "$url" --dlq --timeout 5s)
if [ -n "$dead" ]; then
  echo "== dead letters (articles.dlq):" >&2
  echo "$dead"
fi
