#!/usr/bin/env bash
# Runs `lede bench` against a throw-away local JetStream broker: the transport's ceiling
# (no stages, 5 KB articles) and all stages through the broker vs `lede process`, in one run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
lede=${LEDE_BIN:-$root/target/release/lede}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port); monitor=$(free_port); store=$(mktemp -d)
"${NATS_SERVER_BIN:-nats-server}" -a 127.0.0.1 -js -sd "$store" -p "$port" -m "$monitor" >"$store/nats.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait 2>/dev/null; rm -rf "$store"' EXIT
for _ in $(seq 100); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),1)" 2>/dev/null && break
  sleep 0.1
done
corpus=${CORPUS:-$root/../shared/data/parity/news_dev.jsonl}
echo "machine: $(nproc) cores, $(uname -m); corpus for stages: $corpus" >&2
"$lede" bench --nats-url "nats://127.0.0.1:$port" --model "$root/models/en_core_web_sm-3.8.0" "$@" "$corpus"
