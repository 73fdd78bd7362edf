#!/usr/bin/env python3
"""Long documents for the entity stage's bounded-memory parity test (tests/entities_long.rs).

Each long document is a deterministic concatenation of the shared parity texts
(../shared/data/parity/{news_dev,uner_dev,seed}.jsonl, in that order: 359 texts): piece j is
text (j * STRIDE) % 359, pieces are joined with SEP, and pieces are added until the document
has at least TARGET code points. spaCy en_core_web_sm 3.8 (NER only, exactly as the parity
files were made: see their README) is run on each with nlp.max_length raised, and the fixture
keeps what the test compares: the token count, a hash of the tokens and every entity.

    .venv/bin/pip install spacy==3.8.18
    .venv/bin/python scripts/gen-long-ner-fixture.py [MODEL_DIR]   # default models/en_core_web_sm-3.8.0

Writes tests/fixtures/long_entities.json.gz:
{"spacy": version, "docs": [{"name", "stride", "sep", "target_chars", "chars", "tokens",
  "token_hash", "ents": [[start, end, label], ...]}]}. Offsets are code points.
token_hash is 64-bit FNV-1a over the UTF-8 of "start,end,ws;" per token (ws 0/1).
"""
import gzip
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARITY = ROOT.parent / "shared" / "data" / "parity"
FILES = ["news_dev.jsonl", "uner_dev.jsonl", "seed.jsonl"]
NOT_NER = ["tok2vec", "tagger", "parser", "lemmatizer", "attribute_ruler", "senter"]
SEP = "\n\n"
# (name, stride, target code points). 1.2 M is past spaCy's default max_length of 1,000,000.
DOCS = [("news_190k", 1, 190_000), ("mixed_1m2", 7, 1_200_000)]


def texts():
    out = []
    for name in FILES:
        with open(PARITY / name, encoding="utf-8") as f:
            out.extend(json.loads(line)["text"] for line in f)
    return out


def build(all_texts, stride, target):
    pieces, length, j = [], 0, 0
    while length < target:
        t = all_texts[(j * stride) % len(all_texts)]
        pieces.append(t)
        length += len(t) + (len(SEP) if j else 0)
        j += 1
    return SEP.join(pieces)


def fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def main():
    import spacy

    model = sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "models" / "en_core_web_sm-3.8.0")
    nlp = spacy.load(model, exclude=NOT_NER)
    assert nlp.pipe_names == ["ner"], nlp.pipe_names
    nlp.max_length = 10_000_000
    all_texts = texts()
    assert len(all_texts) == 359, len(all_texts)
    docs = []
    for name, stride, target in DOCS:
        text = build(all_texts, stride, target)
        t = time.time()
        doc = nlp(text)
        spans = "".join(f"{x.idx},{x.idx + len(x.text)},{int(bool(x.whitespace_))};" for x in doc)
        rec = {
            "name": name,
            "stride": stride,
            "sep": SEP,
            "target_chars": target,
            "chars": len(text),
            "tokens": len(doc),
            "token_hash": f"{fnv1a(spans.encode()):016x}",
            "ents": [[e.start_char, e.end_char, e.label_] for e in doc.ents],
        }
        print(f"{name}: {len(text)} chars, {len(doc)} tokens, {len(rec['ents'])} entities, "
              f"{time.time() - t:.1f} s", file=sys.stderr)
        docs.append(rec)
    out = ROOT / "tests" / "fixtures" / "long_entities.json.gz"
    payload = json.dumps({"spacy": spacy.__version__, "docs": docs}, separators=(",", ":"))
    # mtime=0: the same input gives the same bytes.
    with open(out, "wb") as f:
        f.write(gzip.compress(payload.encode(), mtime=0))
    print(f"{out}: {out.stat().st_size} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
