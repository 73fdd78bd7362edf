#!/usr/bin/env python3
"""Runs trafilatura 2.3.x on the two HTML page sets and writes its texts for `lede eval html`.

`scripts/trafilatura-html.sh` installs trafilatura into the git-ignored `.venv/` and calls this.
For every page of `shared/data/html/` (40 ScrapingHub DEV pages) and `shared/data/html-extra/`
(846 pages) it runs `trafilatura.extract(html, url=..., include_comments=False)` — the call the
html-extra README's reference figures use — and writes one JSON line `{"set", "id", "text",
"ms"}` to the output file (default `target/trafilatura-html.jsonl`, git-ignored: the texts are
the publishers'). `lede eval html` then scores those texts with its own metric on the same
pages, so both columns come from one implementation of the ScrapingHub shingle metric. This
script also prints its own scores (the same metric, re-implemented below) as a cross-check.
"""

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

WORD = re.compile(r"\w+")


def shingles(text):
    words = WORD.findall(text)
    if not words:
        return Counter()
    if len(words) < 4:
        return Counter([tuple(words)])
    return Counter(tuple(words[i : i + 4]) for i in range(len(words) - 3))


def score(pred, truth):
    p, g = shingles(pred), shingles(truth)
    tp = sum(min(n, g[k]) for k, n in p.items())
    fp = sum(p.values()) - tp
    fn = sum(g.values()) - tp
    if fp == 0 and fn == 0:
        return 1.0, 1.0
    precision = tp / (tp + fp) if sum(p.values()) else None
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall


def corpus(scores):
    ps = [p for p, _ in scores if p is not None]
    p = sum(ps) / len(ps) if ps else 0.0
    r = sum(r for _, r in scores) / len(scores) if scores else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main():
    root = Path(__file__).resolve().parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=root.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=root / "target" / "trafilatura-html.jsonl")
    args = ap.parse_args()

    import trafilatura

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        for name in ("html", "html-extra"):
            folder = args.data / name
            truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
            scores = {}
            total_ms = 0.0
            for key, item in sorted(truth.items()):
                html = gzip.decompress((folder / f"{key}.html.gz").read_bytes()).decode(
                    "utf-8", "replace"
                )
                started = time.perf_counter()
                text = trafilatura.extract(
                    html, url=item.get("url") or None, include_comments=False
                ) or ""
                ms = (time.perf_counter() - started) * 1000
                total_ms += ms
                out.write(json.dumps({"set": name, "id": key, "text": text, "ms": ms}) + "\n")
                scores[key] = score(text, item["articleBody"])
            groups = {"all": list(scores)}
            for key, item in truth.items():
                if "source" in item:
                    groups.setdefault(item["source"], []).append(key)
            for group, keys in groups.items():
                p, r, f1 = corpus([scores[k] for k in keys])
                print(f"{name:<10} {group:<12} {len(keys):>4} pages  F1 {f1:.3f}  P {p:.3f}  R {r:.3f}")
            print(f"{name:<10} {total_ms / len(truth):.1f} ms/page", file=sys.stderr)
    print(f"wrote {args.out} (trafilatura {trafilatura.__version__})")


if __name__ == "__main__":
    main()
