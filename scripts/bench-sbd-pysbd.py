#!/usr/bin/env python3
"""pySBD's sentence segmentation speed on the 40 DEV news texts, to compare with
`cargo bench --bench segment` (paragraphs+sentences).

Usage: python scripts/bench-sbd-pysbd.py [PARITY_JSONL] [--rounds N]
Needs pysbd (pip install pysbd). Each round segments every text once with one reused
Segmenter; the script prints the median, min and max over the rounds in MiB/s of UTF-8 (2^20
bytes, the unit criterion prints).
"""
import argparse
import json
import pathlib
import statistics
import time

import pysbd

DEFAULT = pathlib.Path(__file__).resolve().parent / "../../shared/data/parity/news_dev.jsonl"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default=str(DEFAULT))
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    texts = [json.loads(l)["text"] for l in open(args.path, encoding="utf-8")]
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    seg = pysbd.Segmenter(language="en", clean=False)
    for t in texts:  # warm-up
        seg.segment(t)
    rates = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for t in texts:
            seg.segment(t)
        rates.append(nbytes / (time.perf_counter() - start) / 2**20)
    print(
        f"pySBD {pysbd.__version__ if hasattr(pysbd, '__version__') else ''}: {len(texts)} texts, "
        f"{nbytes} bytes, {args.rounds} rounds: median {statistics.median(rates):.3f} MiB/s "
        f"(min {min(rates):.3f}, max {max(rates):.3f})"
    )


if __name__ == "__main__":
    main()
