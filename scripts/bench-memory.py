#!/usr/bin/env python3
"""Peak memory and throughput of lede (`make bench-memory`): what README "Hostile input and
limits" and the Kubernetes memory request/limit are derived from.

Measures, with every stage and the spaCy model:
  1. peak RSS (VmHWM) of one `lede worker` (default flags) draining a burst of N news articles
     published before it starts (the backlog a restarted replica finds);
  2. peak RSS of one ~4 MiB article, through a worker and through `lede process --threads 1`
     (beside the same texts as separate articles, for the time per MB), and of a worker
     draining a burst of such articles (the worst case the deployment's limit must hold);
  3. articles/s of `lede process --threads 1` and `--threads 2` on the news corpus, for this
     build and (with --before BIN) another binary, alternating, median of --reps runs.

The news texts are the article bodies of ../shared/data (parity/news_dev.jsonl and the
html-extra ground truth). The long article is the English ones (as lede's own `clean` stage
judges them) concatenated; the same texts, one article each, give the ordinary time per MB it
is compared with (the whole corpus would not do: its Russian, Portuguese… texts skip the
entity stage and are two bytes a character). Standard library only.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data"
MIB = 1024 * 1024


def news_texts():
    """The news article bodies, in a fixed order."""
    texts = []
    with open(DATA / "parity" / "news_dev.jsonl", encoding="utf-8") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
    truth = json.loads((DATA / "html-extra" / "ground-truth.json").read_text(encoding="utf-8"))
    for key in sorted(truth):
        body = truth[key].get("articleBody") or ""
        if len(body) >= 500:
            texts.append(body)
    return texts


def english(lede, texts, work):
    """The texts lede's `clean` stage labels English."""
    path = work / "languages.jsonl"
    write_jsonl(path, texts, len(texts), "lang")
    out = subprocess.run([lede, "process", "--stages", "clean", str(path)], capture_output=True, text=True, check=True)
    langs = {}
    for line in out.stdout.splitlines():
        record = json.loads(line)
        langs[record["id"]] = record.get("lang")
    return [t for i, t in enumerate(texts) if langs.get(f"lang-{i}") == "en"]


def write_jsonl(path, texts, count, tag):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            f.write(json.dumps({"id": f"{tag}-{i}", "text": texts[i % len(texts)]}, ensure_ascii=False) + "\n")


def long_text(texts, limit):
    """News texts concatenated up to just under `limit` bytes (UTF-8), and the texts used."""
    parts, size = [], 0
    i = 0
    while True:
        t = texts[i % len(texts)].strip() + "\n\n"
        n = len(t.encode("utf-8"))
        if size + n > limit:
            break
        parts.append(t)
        size += n
        i += 1
    return "".join(parts), parts


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Broker:
    """A throw-away nats-server with JetStream and a 64 MiB max_payload (the most nats-server
    allows): the record of a 4 MiB article is about three times the text."""

    def __init__(self, work):
        self.port, self.monitor = free_port(), free_port()
        self.store = Path(tempfile.mkdtemp(dir=work))
        conf = self.store / "nats.conf"
        conf.write_text(
            f'listen: "127.0.0.1:{self.port}"\nhttp: "127.0.0.1:{self.monitor}"\n'
            f'max_payload: 67108864\nmax_pending: 268435456\njetstream {{ store_dir: "{self.store}" }}\n'
        )
        bin_ = os.environ.get("NATS_SERVER_BIN", "nats-server")
        self.proc = subprocess.Popen([bin_, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                break
            except OSError:
                time.sleep(0.05)
        self.url = f"nats://127.0.0.1:{self.port}"

    def stream_messages(self, name):
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/jsz?streams=true", timeout=5) as r:
            info = json.load(r)
        for account in info.get("account_details", []):
            for s in account.get("stream_detail", []):
                if s["name"] == name:
                    return s["state"]["messages"]
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        shutil.rmtree(self.store, ignore_errors=True)


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def threads_named(pid, prefix):
    names = []
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            names.append(Path(f"/proc/{pid}/task/{t}/comm").read_text().strip())
        except OSError:
            pass
    return len(names), sum(n.startswith(prefix) for n in names)


def worker_run(lede, model, payload_file, expected, work, extra=()):
    """Publishes `payload_file`, then starts a worker and waits until it stored `expected`
    outputs (records + dead letters). Returns (VmHWM MiB, seconds, (threads, stage threads),
    dead letters)."""
    broker = Broker(work)
    try:
        env = dict(os.environ, RUST_LOG="warn")
        pub = subprocess.run([lede, "publish", "--nats-url", broker.url, str(payload_file)], env=env, capture_output=True, text=True)
        if pub.returncode != 0:
            raise SystemExit(f"lede publish failed: {pub.stderr}")
        started = time.monotonic()
        proc = subprocess.Popen([lede, "worker", "--nats-url", broker.url, "--model", model, *extra], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        most = (0, 0)
        while True:
            done = broker.stream_messages("ARTICLES_ENRICHED") + broker.stream_messages("ARTICLES_DLQ")
            if proc.poll() is not None:
                raise SystemExit(f"the worker exited: {proc.stderr.read()}")
            most = max(most, threads_named(proc.pid, "lede-stage-"))
            if done >= expected:
                break
            if time.monotonic() - started > 900:
                raise SystemExit("the worker did not finish within 900 s")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        peak = vm_hwm_kib(proc.pid)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        return peak / 1024, seconds, most, broker.stream_messages("ARTICLES_DLQ")
    finally:
        broker.stop()


def process_run(lede, model, file, threads, extra=()):
    """`lede process` on `file`: (peak RSS MiB from wait4, seconds, exit code)."""
    started = time.monotonic()
    proc = subprocess.Popen([lede, "process", "--threads", str(threads), "--model", model, *extra, str(file)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    if proc.returncode not in (0, 2):
        raise SystemExit(f"lede process failed ({proc.returncode}): {err}")
    return usage.ru_maxrss / 1024, seconds, proc.returncode


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lede", default=str(ROOT / "target" / "release" / "lede"))
    p.add_argument("--before", help="another lede binary to compare articles/s with (e.g. main's)")
    p.add_argument("--model", default=str(ROOT / "models" / "en_core_web_sm-3.8.0"))
    p.add_argument("--burst", type=int, default=3000, help="articles in the worker burst")
    p.add_argument("--long-bytes", type=int, default=4 * MIB - 64 * 1024, help="size of the long article")
    p.add_argument("--long-burst", type=int, default=8, help="long articles in the worst-case burst")
    p.add_argument("--corpus-articles", type=int, default=400, help="articles per articles/s run")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--skip", default="", help="comma list of parts to skip: burst,long,long-burst,rate")
    args = p.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    texts = news_texts()
    work = Path(tempfile.mkdtemp(prefix="lede-bench-memory-"))
    rows = []
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores; lede: {args.lede}; news texts: {len(texts)}", file=sys.stderr)
    try:
        if "burst" not in skip:
            burst = work / "burst.jsonl"
            write_jsonl(burst, texts, args.burst, "burst")
            mb = burst.stat().st_size / 1e6
            peak, secs, (threads, stage), _ = worker_run(args.lede, args.model, burst, args.burst, work)
            rows.append((f"`lede worker` (default flags) draining a burst of {args.burst} news articles ({mb:.1f} MB) published before it starts", peak, secs, f"{args.burst / secs:.0f} articles/s; {stage} stage threads, at most {threads} threads"))
            print(rows[-1], file=sys.stderr)
        if "long" not in skip:
            english_texts = english(args.lede, texts, work)
            text, pieces = long_text(english_texts, args.long_bytes)
            size = len(text.encode("utf-8"))
            separate = work / "separate.jsonl"
            with open(separate, "w", encoding="utf-8") as f:
                for i, piece in enumerate(pieces):
                    f.write(json.dumps({"id": f"piece-{i}", "text": piece}, ensure_ascii=False) + "\n")
            txt = work / "long.txt"
            txt.write_text(text, encoding="utf-8")
            jsonl = work / "long.jsonl"
            jsonl.write_text(json.dumps({"id": "long", "text": text}, ensure_ascii=False) + "\n", encoding="utf-8")
            peak, secs, code = process_run(args.lede, args.model, txt, 1)
            rows.append((f"`lede process --threads 1`, one {size / MIB:.2f} MiB English news article ({len(pieces)} texts concatenated)", peak, secs, f"{size / 1e6 / secs:.2f} MB/s" + ("" if code == 0 else f" (exit {code})")))
            print(rows[-1], file=sys.stderr)
            peak, secs, code = process_run(args.lede, args.model, separate, 1)
            rows.append((f"`lede process --threads 1`, the same {len(pieces)} texts as separate articles", peak, secs, f"{size / 1e6 / secs:.2f} MB/s (ordinary articles)" + ("" if code == 0 else f" (exit {code})")))
            print(rows[-1], file=sys.stderr)
            peak, secs, _, dead = worker_run(args.lede, args.model, jsonl, 1, work)
            stored = "dead-lettered" if dead else "record stored"
            rows.append((f"`lede worker` (default flags), the same article", peak, secs, f"{stored}; incl. start-up and model load"))
            print(rows[-1], file=sys.stderr)
            if "long-burst" not in skip:
                # The worst case the deployment's limit must hold: every stage thread on an
                # article of the largest admitted size while --in-flight holds more of them.
                many = work / "long-burst.jsonl"
                with open(many, "w", encoding="utf-8") as f:
                    for i in range(args.long_burst):
                        f.write(json.dumps({"id": f"long-{i}", "text": text}, ensure_ascii=False) + "\n")
                peak, secs, (threads, stage), dead = worker_run(args.lede, args.model, many, args.long_burst, work)
                rows.append((f"`lede worker` (default flags: 2 stage threads, --in-flight 64), a burst of {args.long_burst} such articles", peak, secs, f"{args.long_burst - dead} records, {dead} dead letters"))
                print(rows[-1], file=sys.stderr)
        rate_rows = []
        if "rate" not in skip:
            corpus = work / "news.jsonl"
            write_jsonl(corpus, texts[:40], args.corpus_articles, "news")
            mb = corpus.stat().st_size / 1e6
            binaries = [("this build", args.lede)] + ([("before", args.before)] if args.before else [])
            results = {}
            for rep in range(args.reps):
                for threads in (1, 2):
                    for name, binary in binaries:
                        peak, secs, _ = process_run(binary, args.model, corpus, threads)
                        results.setdefault((name, threads), []).append((secs, peak))
            for threads in (1, 2):
                for name, _ in binaries:
                    runs = results[(name, threads)]
                    secs = statistics.median(s for s, _ in runs)
                    peak = max(p for _, p in runs)
                    rate_rows.append((name, threads, args.corpus_articles / secs, secs, peak))
        print(f"\nCPU: {cpu_name()} ({os.cpu_count()} cores). Command: scripts/bench-memory.py {' '.join(sys.argv[1:])}\n")
        if rows:
            print("| measurement | peak RSS (VmHWM) | seconds | notes |")
            print("|---|---:|---:|---|")
            for what, peak, secs, note in rows:
                print(f"| {what} | {peak:.0f} MiB | {secs:.1f} | {note} |")
        if rate_rows:
            print(f"\n`lede process` on {args.corpus_articles} news articles (parity/news_dev texts cycled, {mb:.1f} MB; median of {args.reps}, binaries alternating; time includes model load):\n")
            print("| binary | --threads | articles/s | seconds | peak RSS |")
            print("|---|---:|---:|---:|---:|")
            for name, threads, rate, secs, peak in rate_rows:
                print(f"| {name} | {threads} | {rate:.0f} | {secs:.2f} | {peak:.0f} MiB |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
