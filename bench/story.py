#!/usr/bin/env python3
"""`make bench-story` (also run by `make bench`): lede's story keys against datasketch.

On the DEV stream ../shared/data/dedup/dev.jsonl (488 articles in arrival order, gold keys), the
same scorer (../shared/data/dedup/score.py) grades, side by side:

1. datasketch MinHashLSH, 128 permutations, processed online with best match (each article
   queries the index, takes the key of the candidate with the highest estimated Jaccard, then
   inserts itself): word 3-grams and 5-grams of lower-cased `\\w+` tokens, threshold 0.5.
2. lede's story stage: `lede process --stages clean,story` (the in-memory index).
3. lede workers (default stages, the story index in JetStream KV) with 1 and 3 replicas
   through a local nats-server, articles published in stream order as one burst.

Speed: articles/s of the story stage alone (datasketch: CPU seconds of signature + query +
insert, start-up and I/O excluded; lede: the record's own `processing.stages` micros of the
signature, and the CPU-time difference of `lede process --threads 1` with and without the stage,
which adds the online assignment), and the whole worker's articles/s with 1 and 3 replicas, with
stories on and off. Every timing is the median of --repeat runs. Writes
bench/results/story.{json,md}.

The gold `story` field is removed from the payloads before anything sees them.
"""
import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEDUP = ROOT.parent / "shared" / "data" / "dedup"
RESULTS = ROOT / "bench" / "results"
METRICS = ["pairwise_precision", "pairwise_recall", "pairwise_f1", "bcubed_f1", "ari"]


def log(*parts):
    print("[bench-story]", *parts, file=sys.stderr, flush=True)


def load_stream():
    rows = [json.loads(line) for line in open(DEDUP / "dev.jsonl", encoding="utf-8") if line.strip()]
    return rows


def score(system_rows, tmp: Path):
    """score.py over SYSTEM rows [{id, story}] in stream order; returns its JSON."""
    path = tmp / "system.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for r in system_rows:
            f.write(json.dumps({"id": r["id"], "story": r["story"]}) + "\n")
    out = subprocess.run(
        [sys.executable, str(DEDUP / "score.py"), str(DEDUP / "dev.jsonl"), str(path), "--meta", str(DEDUP / "dev.meta.jsonl")],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


# ---------------------------------------------------------------------------------------------
# datasketch
# ---------------------------------------------------------------------------------------------

WORD = re.compile(r"\w+")


def shingles(text: str, n: int):
    words = WORD.findall(text.lower())
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def datasketch_run(rows, n: int, threshold: float):
    from datasketch import MinHash, MinHashLSH

    texts = [(r["id"], shingles(r["text"], n)) for r in rows]
    lsh = MinHashLSH(threshold=threshold, num_perm=128)
    sigs, keys, out = {}, {}, []
    started = time.process_time()
    for article_id, sh in texts:
        m = MinHash(num_perm=128)
        m.update_batch([s.encode("utf-8") for s in sh])
        best, best_j = None, -1.0
        for cand in lsh.query(m):
            j = m.jaccard(sigs[cand])
            if j > best_j:
                best, best_j = cand, j
        key = keys[best] if best is not None else article_id
        lsh.insert(article_id, m)
        sigs[article_id], keys[article_id] = m, key
        out.append({"id": article_id, "story": key})
    cpu = time.process_time() - started
    return out, len(rows) / cpu


# ---------------------------------------------------------------------------------------------
# lede
# ---------------------------------------------------------------------------------------------


def write_input(rows, path: Path):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "title": r["title"], "text": r["text"], "source": r["source"]}) + "\n")


def cpu_of(cmd, stdout):
    """Runs cmd; returns (user+sys CPU seconds of the child, wall seconds)."""
    before = os.times()
    started = time.monotonic()
    # `lede process` exits 2 when it rejected some articles (the DEV stream has a few that are
    # empty after cleaning); anything else is a failure.
    done = subprocess.run(cmd, stdout=stdout, stderr=subprocess.DEVNULL)
    if done.returncode not in (0, 2):
        raise subprocess.CalledProcessError(done.returncode, cmd)
    wall = time.monotonic() - started
    after = os.times()
    return (after.children_user - before.children_user) + (after.children_system - before.children_system), wall


def lede_process(lede, input_path: Path, out_path: Path, stages: str, threads: int = 1):
    with open(out_path, "w") as out:
        cpu, wall = cpu_of([lede, "process", "--threads", str(threads), "--stages", stages, str(input_path)], out)
    records = [json.loads(line) for line in open(out_path, encoding="utf-8")]
    return records, cpu, wall


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="lede-story-nats-")

    def __enter__(self):
        self.proc = subprocess.Popen(["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=10)

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"


def lede_workers(lede, input_path: Path, n_articles: int, replicas: int, stages):
    """Start `replicas` workers, publish the stream as one burst once all are ready, read every
    record back; returns (records in stream order, articles/s from publish to last record)."""
    with Server() as server:
        common = ["--nats-url", server.url, "--log-format", "json"]
        stage_args = ["--stages", stages] if stages is not None else []
        workers = []
        try:
            for _ in range(replicas):
                p = subprocess.Popen([lede, "worker", *common, *stage_args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
                workers.append(p)
            for p in workers:
                deadline = time.monotonic() + 120
                for line in p.stderr:
                    if "Worker ready" in line:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError("a worker did not become ready")
            started = time.monotonic()
            subprocess.run([lede, "publish", *common, str(input_path)], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            tail = subprocess.run([lede, "tail", *common, "--count", str(n_articles), "--timeout", "600s"],
                                  check=True, capture_output=True, text=True)
            seconds = time.monotonic() - started
        finally:
            for p in workers:
                p.terminate()
            for p in workers:
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
        records = [json.loads(line) for line in tail.stdout.splitlines() if line.strip()]
    return records, n_articles / seconds


def keys_of(records, order):
    """Ids in stream order with their story key. An article lede rejected (dead-lettered, e.g.
    `no_text` when cleaning leaves nothing) has no record and no story: it is scored as a story
    of its own, since the scorer wants one key per id. A record without `story` is a bug."""
    by_id = {r["id"]: r for r in records}
    broken = [i for i in order if i in by_id and "story" not in by_id[i]]
    if broken:
        raise RuntimeError(f"{len(broken)} records without a story key (first: {broken[0]})")
    return [{"id": i, "story": by_id[i]["story"]["key"] if i in by_id else f"rejected:{i}"} for i in order]


def score_halves(system_rows, tmp: Path):
    """score.py on each half of the stream on its own (first 244 articles, last 244): the
    thresholds were tuned on the whole DEV file, so both halves are reported, and the held-out
    stream of the lead is the real test."""
    rows = [json.loads(line) for line in open(DEDUP / "dev.jsonl", encoding="utf-8") if line.strip()]
    meta = [json.loads(line) for line in open(DEDUP / "dev.meta.jsonl", encoding="utf-8") if line.strip()]
    half = len(rows) // 2
    out = {}
    for name, sl in (("first_half", slice(0, half)), ("second_half", slice(half, None))):
        ids = {r["id"] for r in rows[sl]}
        gold, gmeta, system = tmp / f"gold-{name}.jsonl", tmp / f"meta-{name}.jsonl", tmp / f"sys-{name}.jsonl"
        gold.write_text("".join(json.dumps(r) + "\n" for r in rows[sl]))
        gmeta.write_text("".join(json.dumps(m) + "\n" for m in meta if m["id"] in ids))
        system.write_text("".join(json.dumps(r) + "\n" for r in system_rows if r["id"] in ids))
        res = subprocess.run([sys.executable, str(DEDUP / "score.py"), str(gold), str(system), "--meta", str(gmeta)],
                             check=True, capture_output=True, text=True).stdout
        out[name] = json.loads(res)
    return out


def partition(keys):
    groups = {}
    for r in keys:
        groups.setdefault(r["story"], []).append(r["id"])
    return sorted(sorted(g) for g in groups.values())


def story_micros(records):
    total = 0
    for r in records:
        for t in r["processing"]["stages"]:
            if t["stage"] == "story":
                total += t["micros"]
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lede", default=str(ROOT / "target" / "release" / "lede"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="one repetition, no worker runs")
    ap.add_argument("--no-workers", action="store_true")
    # `make bench` passes its BENCH_ARGS to bench/run.py too: ignore the ones meant for it.
    a, _ = ap.parse_known_args()
    repeat = 1 if a.quick else a.repeat
    rows = load_stream()
    order = [r["id"] for r in rows]
    results = {"articles": len(rows), "systems": []}
    with tempfile.TemporaryDirectory(prefix="lede-story-") as tmp:
        tmp = Path(tmp)
        input_path = tmp / "dev.input.jsonl"
        write_input(rows, input_path)

        for n in (3, 5):
            speeds = []
            for _ in range(repeat):
                out, speed = datasketch_run(rows, n, 0.5)
                speeds.append(speed)
            s = score(out, tmp)
            results["systems"].append({"system": f"datasketch MinHashLSH, {n}-grams, t=0.5", "scores": s,
                                       "halves": score_halves(out, tmp),
                                       "stage_articles_per_s": statistics.median(speeds)})
            log(results["systems"][-1]["system"], {k: s[k] for k in METRICS})

        with_story, without = [], []
        records = None
        for _ in range(repeat):
            records, cpu_on, _ = lede_process(a.lede, input_path, tmp / "on.jsonl", "clean,story")
            _, cpu_off, _ = lede_process(a.lede, input_path, tmp / "off.jsonl", "clean")
            with_story.append(cpu_on)
            without.append(cpu_off)
        s = score(keys_of(records, order), tmp)
        halves = score_halves(keys_of(records, order), tmp)
        diff = statistics.median(with_story) - statistics.median(without)
        results["systems"].append({
            "system": "lede story stage (`lede process --stages clean,story`)", "scores": s, "halves": halves,
            "stage_articles_per_s": len(rows) / (story_micros(records) / 1e6),
            "stage_and_assign_articles_per_s": len(rows) / diff if diff > 0 else None,
        })
        log(results["systems"][-1]["system"], {k: s[k] for k in METRICS})

        # The story stage's share of the default pipeline's time (`lede process`, 1 thread).
        default_records, cpu_default, _ = lede_process(a.lede, input_path, tmp / "default.jsonl", "clean,story,segment,entities")
        stage_total = sum(t["micros"] for r in default_records for t in r["processing"]["stages"])
        results["story_share_of_pipeline"] = story_micros(default_records) / stage_total
        results["process_default_keys_match"] = keys_of(default_records, order) == keys_of(records, order)

        if not (a.quick or a.no_workers):
            offline = keys_of(records, order)
            configs = (("stories on", "clean,story,segment,entities,quotes"),
                       ("stories off", "clean,segment,entities,quotes"))
            for replicas in (1, 3):
                # The default pipeline with and without the (opt-in) story stage, alternating
                # (on, off, off, on, ...) so the machine's noise falls on both.
                speeds = {label: [] for label, _ in configs}
                got = {}
                for rep in range(repeat):
                    for label, stages in (configs if rep % 2 == 0 else configs[::-1]):
                        # Rejected articles go to the dead-letter stream: wait for the records only.
                        recs, speed = lede_workers(a.lede, input_path, len(records), replicas, stages)
                        speeds[label].append(speed)
                        got[label] = recs
                        log(f"lede worker ×{replicas}, {label}", f"{speed:.1f} articles/s")
                for label, stages in configs:
                    entry = {"system": f"lede worker ×{replicas}, {label}", "articles_per_s": statistics.median(speeds[label]),
                             "runs": speeds[label]}
                    if "story" in stages.split(","):
                        keys = keys_of(got[label], order)
                        entry["scores"] = score(keys, tmp)
                        entry["same_keys_as_process"] = keys == offline
                        # The burst is decided concurrently, not one article after another: the
                        # grouping may match while a story's first member (hence its key) differs.
                        entry["same_partition_as_process"] = partition(keys) == partition(offline)
                    results["systems"].append(entry)
                    log(entry["system"], entry.get("articles_per_s"), entry.get("same_keys_as_process"))

    results["machine"] = {"cpu": cpu_name(), "cores": os.cpu_count()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "story.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "story.md").write_text(markdown(results))
    print(markdown(results))


def cpu_name():
    """The CPU (model, family/model) and the vector ISA lede's kernels dispatch to."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from run import cpu_info  # bench/run.py: one reading of /proc/cpuinfo for every bench

    return "{}, {}".format(*cpu_info())


def fmt(x, digits=4):
    return "–" if x is None else f"{x:.{digits}f}"


def markdown(results):
    lines = [
        f"DEV stream: {results['articles']} articles ({results['machine']['cpu']}, {results['machine']['cores']} cores).",
        "",
        "| system | pairwise P | R | F1 | B3 F1 | ARI | linked later arrivals | false-linked first arrivals | story stage articles/s | worker articles/s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in results["systems"]:
        sc = s.get("scores")
        if sc:
            linked = sum(v["linked"] for v in sc["later_arrivals_linked"].values())
            total = sum(v["n"] for v in sc["later_arrivals_linked"].values())
            cells = [fmt(sc[k]) for k in METRICS] + [f"{linked}/{total}", str(sc["first_arrivals_false_linked"])]
        else:
            cells = ["–"] * 7
        speed = s.get("stage_articles_per_s")
        if s.get("stage_and_assign_articles_per_s"):
            speed_cell = f"{speed:,.0f} (with assignment: {s['stage_and_assign_articles_per_s']:,.0f})"
        else:
            speed_cell = "–" if speed is None else f"{speed:,.0f}"
        worker = s.get("articles_per_s")
        lines.append(f"| {s['system']} | " + " | ".join(cells) + f" | {speed_cell} | {'–' if worker is None else f'{worker:,.1f}'} |")
    lines.append("")
    lines.append(f"Story stage share of the default pipeline's stage time (`lede process --threads 1`): "
                 f"{100 * results['story_share_of_pipeline']:.2f} %.")
    for s in results["systems"]:
        for name, h in (s.get("halves") or {}).items():
            lines.append(f"{s['system']}, {name.replace('_', ' ')} alone: pairwise F1 {h['pairwise_f1']:.4f}, "
                         f"B3 F1 {h['bcubed_f1']:.4f}, ARI {h['ari']:.4f}.")
    by_name = {s["system"]: s for s in results["systems"]}
    for replicas in (1, 3):
        on, off = by_name.get(f"lede worker ×{replicas}, stories on"), by_name.get(f"lede worker ×{replicas}, stories off")
        if on and off:
            lines.append(f"Worker ×{replicas}: stories on {on['articles_per_s']:,.1f} vs off {off['articles_per_s']:,.1f} articles/s "
                         f"(medians; runs on {', '.join(f'{v:.1f}' for v in on['runs'])}; off {', '.join(f'{v:.1f}' for v in off['runs'])}): "
                         f"stories cost {100 * (1 - on['articles_per_s'] / off['articles_per_s']):.1f} %.")
    same = [s for s in results["systems"] if "same_keys_as_process" in s]
    if same:
        lines.append("Worker keys identical to `lede process`: " + ", ".join(
            f"{s['system']}: {'yes' if s['same_keys_as_process'] else 'no'}" for s in same) + ".")
        lines.append("Worker grouping identical to `lede process` (the stream published as one burst): " + ", ".join(
            f"{s['system']}: {'yes' if s['same_partition_as_process'] else 'no'}" for s in same) + ".")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
