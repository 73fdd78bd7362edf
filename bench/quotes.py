#!/usr/bin/env python3
"""lede's `quotes` stage beside textacy 0.13's `direct_quotations` (spaCy en_core_web_sm's parser)
on the same texts, for speed and agreement.

    .venv/bin/python bench/quotes.py [--lede target/release/lede] [--repeat 20] [GOLD.jsonl ...]

Texts: every gold file given, by default the seed (shared/data/quotes/seed.jsonl) and lede's case
table (tests/fixtures/quotes_cases.jsonl). For each system the direct quotes are scored with
shared/data/quotes/score.py (its JSON line is kept). Systems:
  lede            `lede process --stages segment,entities,quotes --threads 1`
  textacy         `direct_quotations` on the whole article (an exception = an article with none)
  textacy/para    the same, one paragraph (line) at a time, as the README's reference figures do
Speed: articles/s on one thread, model loading left out (lede: the run over REPEAT copies of the
texts minus a run over one article; textacy: time inside `nlp()` + extraction). Agreement: lede's
and textacy's direct quotes matched one-to-one when they overlap by half of the shorter one,
2·matched/(n_lede+n_textacy), and how often the matched pairs' speakers overlap.
Writes bench/results/quotes.json and prints a Markdown table.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data", "quotes")
MODEL = os.path.join(ROOT, "models", "en_core_web_sm-3.8.0")
QUOTES = set("\"'\u201c\u201d\u2018\u2019\u201e\u201a\u201f\u201b\u00ab\u00bb\u2039\u203a\u2032\u2033`")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def score(gold_path, rows, tmp):
    sys_path = os.path.join(tmp, "system.jsonl")
    write_jsonl(sys_path, rows)
    out = subprocess.run([sys.executable, os.path.join(SHARED, "score.py"), gold_path, sys_path],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def run_lede(lede, gold, repeat, tmp):
    def run(articles):
        path = os.path.join(tmp, "raw.jsonl")
        write_jsonl(path, articles)
        t = time.perf_counter()
        out = subprocess.run([lede, "process", "--stages", "segment,entities,quotes", "--threads", "1",
                              "--model", MODEL, path], check=True, capture_output=True, text=True)
        return time.perf_counter() - t, [json.loads(l) for l in out.stdout.splitlines() if l.strip()]

    raw = [{"id": g["id"], "text": g["text"]} for g in gold]
    load, _ = run(raw[:1])
    many = [dict(r, id=f"{r['id']}#{k}") for k in range(repeat) for r in raw]
    total, _ = run(many)
    _, records = run(raw)
    by_id = {r["id"]: r for r in records}
    rows = []
    failed = 0
    for g in gold:
        r = by_id.get(g["id"])
        if r is None or "quotes" not in r:
            failed += 1
            rows.append({"id": g["id"], "text": g["text"], "quotes": []})
            continue
        rows.append({"id": g["id"], "text": r["text"],
                     "quotes": [q for q in r["quotes"] if q["kind"] == "direct"]})
    rate = len(many) / max(total - load, 1e-9)
    return rows, rate, failed


def run_textacy(nlp, gold, per_paragraph):
    from textacy.extract.triples import direct_quotations

    rows, errors, spent = [], 0, 0.0
    for g in gold:
        text = g["text"]
        parts = []
        if per_paragraph:
            pos = 0
            for line in text.split("\n"):
                if line.strip():
                    parts.append((pos, line))
                pos += len(line) + 1
        else:
            parts.append((0, text))
        quotes, failed = [], False
        for offset, part in parts:
            t = time.perf_counter()
            doc = nlp(part)
            try:
                triples = list(direct_quotations(doc))
            except Exception:  # textacy raises on odd quote counts and the like
                triples, failed = [], True
            spent += time.perf_counter() - t
            for tr in triples:
                speaker = None
                if tr.speaker:
                    s = min(tok.idx for tok in tr.speaker)
                    e = max(tok.idx + len(tok.text) for tok in tr.speaker)
                    speaker = {"start": offset + s, "end": offset + e, "text": part[s:e]}
                quotes.append({"start": offset + tr.content.start_char, "end": offset + tr.content.end_char,
                               "speaker": speaker})
        errors += failed
        rows.append({"id": g["id"], "text": text, "quotes": quotes})
    return rows, len(gold) / max(spent, 1e-9), errors


def trim(text, s, e):
    while s < e and (text[s].isspace() or text[s] in QUOTES):
        s += 1
    while e > s and (text[e - 1].isspace() or text[e - 1] in QUOTES):
        e -= 1
    return s, e


def agreement(a_rows, b_rows):
    matched = n_a = n_b = spk = 0
    b_by = {r["id"]: r for r in b_rows}
    for ra in a_rows:
        rb = b_by.get(ra["id"], {"quotes": []})
        text = ra["text"]
        qa = [(trim(text, q["start"], q["end"]), q["speaker"]) for q in ra["quotes"]]
        qb = [(trim(text, q["start"], q["end"]), q["speaker"]) for q in rb["quotes"]]
        n_a += len(qa)
        n_b += len(qb)
        pairs = []
        for i, (x, _) in enumerate(qa):
            for j, (y, _) in enumerate(qb):
                ov = max(0, min(x[1], y[1]) - max(x[0], y[0]))
                if ov > 0 and 2 * ov >= min(x[1] - x[0], y[1] - y[0]):
                    pairs.append((-ov, i, j))
        used_a, used_b = set(), set()
        for _, i, j in sorted(pairs):
            if i in used_a or j in used_b:
                continue
            used_a.add(i)
            used_b.add(j)
            matched += 1
            sa, sb = qa[i][1], qb[j][1]
            spk += bool(sa and sb and min(sa["end"], sb["end"]) > max(sa["start"], sb["start"])) or (not sa and not sb)
    return {"quote_agreement": round(2 * matched / (n_a + n_b), 4) if n_a + n_b else 0.0,
            "speaker_agreement": round(spk / matched, 4) if matched else 0.0,
            "matched": matched, "lede": n_a, "textacy": n_b}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("gold", nargs="*")
    ap.add_argument("--lede", default=os.path.join(ROOT, "target", "release", "lede"))
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "quotes.json"))
    a = ap.parse_args()
    files = a.gold or [os.path.join(SHARED, "seed.jsonl"),
                       os.path.join(ROOT, "tests", "fixtures", "quotes_cases.jsonl")]
    gold = [g for f in files for g in read_jsonl(f)]
    import spacy
    import textacy

    nlp = spacy.load(MODEL)
    with tempfile.TemporaryDirectory() as tmp:
        gold_path = os.path.join(tmp, "gold.jsonl")
        write_jsonl(gold_path, gold)
        lede_rows, lede_rate, lede_failed = run_lede(a.lede, gold, a.repeat, tmp)
        results = {"texts": [os.path.relpath(f, ROOT) for f in files], "articles": len(gold),
                   "cpu": cpu_name(), "textacy": textacy.__version__, "spacy": spacy.__version__, "systems": {}}
        results["systems"]["lede"] = {"articles_per_s": round(lede_rate, 1), "failed_articles": lede_failed,
                                      "score": score(gold_path, lede_rows, tmp)}
        whole_rows = None
        for name, per_paragraph in [("textacy", False), ("textacy/para", True)]:
            rows, rate, errors = run_textacy(nlp, gold, per_paragraph)
            whole_rows = whole_rows or rows
            results["systems"][name] = {"articles_per_s": round(rate, 1), "failed_articles": errors,
                                        "score": score(gold_path, rows, tmp)}
        results["agreement_lede_textacy"] = agreement(lede_rows, whole_rows)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    print(f"{results['articles']} articles ({', '.join(results['texts'])}), one thread, {results['cpu']}\n")
    print("| system | articles/s | articles failing | overlap P/R/F1 | speaker acc | quote+speaker P/R/F1 |")
    print("|---|---|---|---|---|---|")
    for name, r in results["systems"].items():
        s = r["score"]
        o, e = s["overlap"], s["e2e"]
        print(f"| {name} | {r['articles_per_s']} | {r['failed_articles']} | {o['p']:.3f}/{o['r']:.3f}/{o['f1']:.3f} "
              f"| {s['speaker_acc']:.3f} | {e['p']:.3f}/{e['r']:.3f}/{e['f1']:.3f} |")
    ag = results["agreement_lede_textacy"]
    print(f"\nlede vs textacy (whole articles): quote agreement {ag['quote_agreement']:.3f} "
          f"({ag['matched']} matched of {ag['lede']} lede / {ag['textacy']} textacy), "
          f"speaker agreement on matched {ag['speaker_agreement']:.3f}")


def cpu_name():
    """The CPU (model, family/model) and the vector ISA lede's kernels dispatch to."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from run import cpu_info  # bench/run.py: one reading of /proc/cpuinfo for every bench

    return "{}, {}".format(*cpu_info())


if __name__ == "__main__":
    main()
