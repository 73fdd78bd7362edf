#!/usr/bin/env bash
# Installs trafilatura 2.3.x into the git-ignored .venv/ and writes its texts on both HTML page
# sets to target/trafilatura-html.jsonl, which `lede eval html` scores beside lede's own.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c 'import trafilatura, sys; sys.exit(not trafilatura.__version__.startswith("2.3."))' 2>/dev/null; then
  # lxml >= 5.2 moved the HTML cleaner that justext (a trafilatura dependency) imports.
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check 'trafilatura>=2.3,<2.4' lxml_html_clean
fi
exec "$venv/bin/python" "$root/scripts/trafilatura-html.py" "$@"
