//! Story keys: each kind of copy in the DEV set's README joins its story, a distinct story on
//! the same topic does not; offline (`lede process`) and online (JetStream KV, 1 and 3 workers)
//! agree; racing replicas, redelivery and a KV outage or restart keep one key per story.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests fail loudly by design.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use common::*;
use lede::pipeline::story::{self, MemoryIndex, Signature, StoryIndex};
use lede::pipeline::{self, Pipeline, StageOptions};
use lede::record::{EnrichedArticle, StoryOut};
use lede::transport::kv::{self, KvIndex};

const ORIGINAL: &str = "City councillors voted 7-2 on Tuesday to approve a $48 million plan to \
rebuild the Harbour Street bridge, ending two years of debate over how to pay for the crossing.

The plan, backed by Mayor Elena Ruiz, will close the bridge to cars from March while crews \
replace its steel deck and widen the footpaths. Buses will be diverted along Mill Road.

\"This bridge carries 30,000 people a day and it is falling apart,\" Ruiz said after the vote. \
\"We could not wait another winter.\"

Councillor Tom Baines, who voted against the plan, said the city should have sought more money \
from the state before committing local taxes. He warned that the cost could rise further.

Engineers found corrosion in the bridge's main beams in 2022, and weight limits have kept heavy \
lorries off it since last summer. Local shop owners said the closure would hurt trade.

The council expects the rebuilt bridge to reopen in late 2027. A public meeting on the detours \
will be held at the town hall next week.";

/// Same city, same bridge, same week: another story.
const SAME_TOPIC: &str = "Shop owners on Harbour Street said on Thursday that they would ask the \
city for help after the council approved closing the bridge for its rebuild next year.

Maria Chen, who runs a bakery near the crossing, said half of her customers drive in from the \
other side of the river. \"If they cannot reach us for a year, many of us will not survive,\" \
she said.

The business association wants rent relief and free parking on Mill Road during the works. A \
spokesman for Mayor Elena Ruiz said the city would meet the owners but made no promises.

Traders in the old market district faced a similar closure in 2019, when two cafes shut \
before the new tram line opened.";

fn stage_pipeline() -> Pipeline {
    pipeline::build(
        &["clean".to_owned(), "story".to_owned()],
        &StageOptions::default(),
    )
    .unwrap()
}

fn raw(id: &str, title: &str, text: &str) -> Vec<u8> {
    serde_json::json!({"id": id, "title": title, "text": text})
        .to_string()
        .into_bytes()
}

/// `lede process`'s path: the pipeline, then the story step on an in-memory index. `None`:
/// the article was rejected (no text left after cleaning), so it has no record and no story.
fn offline_story(pipeline: &Pipeline, index: &MemoryIndex, payload: &[u8]) -> Option<StoryOut> {
    let mut enriched = lede::enrich::enrich_payload(pipeline, payload, 1 << 22).ok()?;
    futures::executor::block_on(lede::enrich::assign_story(index, &mut enriched)).unwrap();
    let record: EnrichedArticle = serde_json::from_slice(&enriched.record).unwrap();
    Some(
        record
            .story
            .expect("every record of the story stage has its story"),
    )
}

fn offline(pipeline: &Pipeline, index: &MemoryIndex, payload: &[u8]) -> StoryOut {
    offline_story(pipeline, index, payload).expect("enriched")
}

/// A rejected article's key for scoring: its own singleton story (every id gets one key, the
/// DEV README's rule).
fn rejected_key(id: &str) -> String {
    format!("rejected:{id}")
}

fn paragraphs() -> Vec<&'static str> {
    ORIGINAL.split("\n\n").collect()
}

/// One copy of ORIGINAL per transform kind of the DEV README, named by it.
fn variants() -> Vec<(&'static str, String, String)> {
    let p = paragraphs();
    let title = "Council approves $48m Harbour Street bridge rebuild";
    let v = |kind, t: &str, text: String| (kind, t.to_owned(), text);
    vec![
        v("exact", title, ORIGINAL.to_owned()),
        v(
            "light: quotes, dashes, spelling, numbers, said-day, typos, nbsp",
            title,
            ORIGINAL
                .replace('"', "\u{201c}")
                .replace("7-2", "7\u{2013}2")
                .replace("30,000", "30000")
                .replace("Harbour", "Harbor")
                .replace("on Tuesday", "Tuesday")
                .replace("corrosion", "corrosoin")
                .replace("lorries off", "lorries\u{a0}off"),
        ),
        v(
            "syndication: headline, dateline, byline, junk, frame",
            "UPDATE 1-Bridge rebuild approved | Metro Courier",
            format!(
                "Metro Courier | Local news\nShare on Facebook  Share on Twitter  Email\n\n\
                 By Sam Ortiz, Staff Writer\n\nPORT ELLIS (Reuters) - {}\n\nAdvertisement\n\n{}\n\n\
                 Have a news tip? Email tips@metrocourier.example or call our newsroom.",
                p[0],
                p[1..].join("\n\nShare this article\n\n")
            ),
        ),
        v(
            "syndication: paragraph dropped and a RELATED teaser added",
            title,
            format!(
                "{}\n\nRELATED: Ferry fares to rise in spring\n\n{}",
                p[..3].join("\n\n"),
                p[4..].join("\n\n")
            ),
        ),
        v(
            "truncation: 45% of the body and Read more",
            title,
            format!("{}\n\n{} […] Read more", p[0], p[1]),
        ),
        v(
            "rewrite: lede rewritten, attribution moved, a lead-in",
            title,
            format!(
                "According to reports, a $48 million plan to rebuild the Harbour Street bridge \
                 was approved by city councillors on Tuesday in a 7-2 vote, ending two years of \
                 debate over how to pay for the crossing.\n\n{}",
                p[1..].join("\n\n")
            ),
        ),
    ]
}

#[test]
fn every_kind_of_copy_joins_the_story_and_a_same_topic_story_does_not() {
    let pipeline = stage_pipeline();
    let index = MemoryIndex::new();
    let first = offline(&pipeline, &index, &raw("orig", "Bridge vote", ORIGINAL));
    assert_eq!(first.first_id, "orig");
    assert_eq!(first.similarity, None);
    for (i, (kind, title, text)) in variants().into_iter().enumerate() {
        let got = offline(&pipeline, &index, &raw(&format!("copy-{i}"), &title, &text));
        assert_eq!(got.key, first.key, "{kind}: not linked ({got:?})");
        assert_eq!(got.first_id, "orig", "{kind}");
        let s = got.similarity.expect("a later member has a similarity");
        assert!((0.0..=1.0).contains(&s), "{kind}: {s}");
    }
    let other = offline(&pipeline, &index, &raw("other", "Traders", SAME_TOPIC));
    assert_ne!(other.key, first.key, "a same-topic story merged");
    assert_eq!(other.first_id, "other");
}

#[test]
fn short_texts_in_one_outlet_frame_stay_apart() {
    // The DEV set's hard negatives: boilerplate shared, stories not.
    let frame = |body: &str| {
        format!(
            "{body}\n\n\u{a9} The Daily Ledger. All rights reserved. This material may not be \
             published, broadcast, rewritten or redistributed without permission.\n\nGet the \
             morning briefing: sign up for The Daily Ledger newsletter and never miss a story."
        )
    };
    let pipeline = stage_pipeline();
    let index = MemoryIndex::new();
    let a = offline(
        &pipeline,
        &index,
        &raw(
            "a",
            "t",
            &frame("Great service, friendly staff, fair prices."),
        ),
    );
    let b = offline(
        &pipeline,
        &index,
        &raw(
            "b",
            "t",
            &frame("The parcel arrived late and the box was damaged."),
        ),
    );
    assert_ne!(a.key, b.key);
    // What keeps them apart is `clean`, which strips the outlet's footer: the framed texts are
    // mostly frame, and their own signatures would make them one story.
    let framed = |body: &str| Signature::of(&frame(body)).expect("words");
    assert!(
        story::same_story(
            &framed("Great service, friendly staff, fair prices."),
            &framed("The parcel arrived late and the box was damaged."),
        )
        .is_some(),
        "the frame alone makes them look alike"
    );
}

#[test]
fn a_short_text_is_not_contained_in_another_through_their_outlet_frame() {
    // The DEV stream's FeedHub frame, which `clean` keeps: a bracketed headline before the
    // text, a disclaimer after it. A one-line review in it shares the frame, and nearly nothing
    // else, with a longer posting in it.
    let frame = |title: &str, body: &str| {
        format!(
            "[{title}]\n\n{body}\n\nThis article was automatically imported from a partner feed. \
             FeedHub is not responsible for its content."
        )
    };
    let long = frame(
        "Email: a reader Groups: pets, cats",
        "Email: a reader Groups: pets, cats, dogs, rabbits, birds, fish, reptiles, horses and \
         ponies, ferrets, hamsters, guinea pigs, parrots, canaries, tortoises, snakes and \
         lizards. This message was cancelled from within the mail client before it was sent.",
    );
    let short = frame("Great service !!", "Great service !!");
    let pipeline = stage_pipeline();
    let index = MemoryIndex::new();
    let a = offline(&pipeline, &index, &raw("long", "t", &long));
    let b = offline(&pipeline, &index, &raw("short", "t", &short));
    assert_ne!(
        a.key, b.key,
        "the frame made the review part of the posting"
    );
    // The frame alone makes the short text look contained in the long one; only its body
    // (what is left without the frame-like end paragraphs) is too short to say so.
    let (sl, ss) = (
        Signature::of(&long).expect("words"),
        Signature::of(&short).expect("words"),
    );
    assert!(ss.shingles >= story::CONTAINMENT_MIN_SHINGLES);
    assert!(
        sl.containment(&ss) >= story::CONTAINMENT_THRESHOLD,
        "{}",
        sl.containment(&ss)
    );
    assert!(ss.body < story::CONTAINMENT_MIN_SHINGLES);
    assert!(story::same_story(&sl, &ss).is_none());
}

#[test]
fn containment_is_not_asked_of_texts_with_too_few_shingles() {
    // A short text all inside a long one: contained, but too short for that to say anything.
    let long = "The council approved the new budget on Tuesday after a long debate about \
                schools, roads and the cost of heating public buildings this winter.";
    let short = "The council approved the new budget on Tuesday.";
    let (l, s) = (
        Signature::of(long).expect("words"),
        Signature::of(short).expect("words"),
    );
    assert_eq!(s.shingles, 6, "a short text");
    assert!(
        l.containment(&s) >= story::CONTAINMENT_THRESHOLD,
        "{}",
        l.containment(&s)
    );
    assert!(
        l.jaccard(&s) < story::JACCARD_THRESHOLD,
        "{}",
        l.jaccard(&s)
    );
    assert_eq!(story::same_story(&l, &s), None);
}

#[test]
fn the_story_stage_needs_clean_before_it() {
    let err = pipeline::build(&["story".to_owned()], &StageOptions::default()).unwrap_err();
    assert!(err.to_string().contains("needs \"clean\""), "{err}");
    assert!(
        !pipeline::default_stages().contains(&story::NAME),
        "story keys are opt-in until their end-to-end cost is within budget (README)"
    );
}

/// The story bucket, as `--ensure-streams` creates it.
async fn open_bucket(
    js: &jetstream::Context,
    args: &lede::config::NatsArgs,
) -> async_nats::jetstream::kv::Store {
    kv::bucket(js, args, &lede::transport::StartupRetry::new(WAIT))
        .await
        .unwrap()
}

fn sig(text: &str) -> Signature {
    Signature::of(text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_racing_on_two_copies_agree_on_one_key() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let args = nats_args(&server.url());
    open_bucket(&js, &args).await;
    // Two replicas: two connections, two index handles.
    let replica = |js: jetstream::Context| {
        let args = args.clone();
        async move { KvIndex::new(open_bucket(&js, &args).await, js.client()) }
    };
    let r1 = replica(jetstream::new(connect(&server.url()).await)).await;
    let r2 = replica(jetstream::new(connect(&server.url()).await)).await;
    for round in 0..25 {
        // A fresh story per round; two copies arrive at once, one on each replica.
        let body: Vec<String> = (0..80).map(|w| format!("r{round}w{w}")).collect();
        let body = body.join(" ");
        let (a, b) = (format!("a{round}"), format!("b{round}"));
        let (sa, sb) = (sig(&body), sig(&format!("BREAKING: {body} Read more")));
        let (x, y) = tokio::join!(
            story::assign(&r1, &a, Some(&sa)),
            story::assign(&r2, &b, Some(&sb))
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        assert_eq!(x.key, y.key, "round {round}: {x:?} vs {y:?}");
        // A later copy joins the same story, on either replica.
        let third = story::assign(&r1, &format!("c{round}"), Some(&sa))
            .await
            .unwrap();
        assert_eq!(third.key, x.key, "round {round}");
        // What each replica recorded is what it answered: a redelivery gets it back.
        assert_eq!(story::assign(&r2, &a, Some(&sa)).await.unwrap(), x);
        assert_eq!(story::assign(&r1, &b, Some(&sb)).await.unwrap(), y);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_redelivered_article_gets_its_first_key_even_when_the_index_moved_on() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let index = KvIndex::new(
        open_bucket(&js, &nats_args(&server.url())).await,
        js.client(),
    );
    let first = story::assign(&index, "x", Some(&sig(SAME_TOPIC)))
        .await
        .unwrap();
    // Meanwhile another story's articles come in...
    let orig = story::assign(&index, "orig", Some(&sig(ORIGINAL)))
        .await
        .unwrap();
    // ...and "x" is delivered again, even with a text that would now match "orig".
    let again = story::assign(&index, "x", Some(&sig(ORIGINAL)))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_ne!(again.key, orig.key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kv_restart_loses_nothing_and_gives_no_second_key() {
    let mut server = NatsServer::start();
    let client = connect(&server.url()).await;
    let js = jetstream::new(client.clone());
    let index = KvIndex::new(
        open_bucket(&js, &nats_args(&server.url())).await,
        js.client(),
    );
    let first = story::assign(&index, "orig", Some(&sig(ORIGINAL)))
        .await
        .unwrap();

    server.kill();
    // While the index is down the answer is an error (the article waits), never a new key.
    let during = story::assign(&index, "copy", Some(&sig(ORIGINAL))).await;
    assert!(
        matches!(during, Err(story::IndexError::Unavailable(_))),
        "{during:?}"
    );
    server.restart();
    tokio::time::timeout(WAIT, async {
        while client.connection_state() != async_nats::connection::State::Connected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("reconnect");
    let copy = story::assign(&index, "copy", Some(&sig(ORIGINAL)))
        .await
        .unwrap();
    assert_eq!(copy.key, first.key);
    assert_eq!(copy.first_id, "orig");
    let again = story::assign(&index, "orig", Some(&sig(ORIGINAL)))
        .await
        .unwrap();
    assert_eq!(again, first);
}

/// The DEV stream (../shared/data/dedup/dev.jsonl), in arrival order, without the gold key.
fn dev_stream(limit: usize) -> Vec<(String, Vec<u8>)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/dedup/dev.jsonl"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (the shared data folder is ../shared)"));
    text.lines()
        .take(limit)
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = v["id"].as_str().unwrap().to_owned();
            let payload =
                serde_json::json!({"id": id, "title": v["title"], "text": v["text"]}).to_string();
            (id, payload.into_bytes())
        })
        .collect()
}

/// Id → story key, as `lede process` decides it.
fn offline_keys(stream: &[(String, Vec<u8>)]) -> HashMap<String, String> {
    let pipeline = stage_pipeline();
    let index = MemoryIndex::new();
    stream
        .iter()
        .map(|(id, payload)| {
            let key = offline_story(&pipeline, &index, payload)
                .map_or_else(|| rejected_key(id), |s| s.key);
            (id.clone(), key)
        })
        .collect()
}

/// The partition a key map makes (ids grouped by key), comparable across runs.
fn partition(keys: &HashMap<String, String>) -> Vec<Vec<String>> {
    let mut groups: HashMap<&str, Vec<String>> = HashMap::new();
    for (id, key) in keys {
        groups.entry(key.as_str()).or_default().push(id.clone());
    }
    let mut out: Vec<Vec<String>> = groups
        .into_values()
        .map(|mut g| {
            g.sort();
            g
        })
        .collect();
    out.sort();
    out
}

async fn online_keys(stream: &[(String, Vec<u8>)], replicas: usize) -> HashMap<String, String> {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let mut workers = Vec::new();
    for _ in 0..replicas {
        workers.push(
            Worker::start(
                &server.url(),
                stage_pipeline(),
                Duration::from_secs(10),
                1 << 22,
            )
            .await,
        );
    }
    // Arrival order is the stream's order; each article is published once it was handled, as
    // a feed arrives article by article (the online setting of the DEV README).
    let mut keys = HashMap::new();
    for (i, (_, payload)) in stream.iter().enumerate() {
        publish(&js, vec![payload.clone()]).await;
        // Handled: in the output or the dead-letter stream.
        tokio::time::timeout(WAIT, async {
            loop {
                let done = stream_state(&js, "ARTICLES_ENRICHED").await.messages
                    + stream_state(&js, "ARTICLES_DLQ").await.messages;
                if done > i as u64 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
        .await
        .expect("article handled in time");
    }
    for m in read_all(&js, "ARTICLES_DLQ").await {
        // The dead letter carries the input payload as it came.
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        keys.insert(id.clone(), rejected_key(&id));
    }
    for m in read_all(&js, "ARTICLES_ENRICHED").await {
        let r: EnrichedArticle = serde_json::from_slice(&m.payload).unwrap();
        keys.insert(
            r.id.clone(),
            r.story.expect("every record has its story").key,
        );
    }
    for w in workers {
        w.stop().await;
    }
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn offline_and_online_with_one_and_three_workers_give_the_same_keys() {
    let stream = dev_stream(160);
    let offline = offline_keys(&stream);
    assert_eq!(offline.len(), stream.len());
    let one = online_keys(&stream, 1).await;
    assert_eq!(one, offline, "1 worker vs lede process");
    let three = online_keys(&stream, 3).await;
    assert_eq!(three, offline, "3 workers vs lede process");
    // Not vacuous: the slice has stories with several members.
    let groups = partition(&offline);
    assert!(groups.iter().any(|g| g.len() >= 3), "{groups:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_index_outage_delays_the_article_and_never_drops_its_key() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let worker = Worker::start(
        &server.url(),
        stage_pipeline(),
        Duration::from_secs(5),
        1 << 22,
    )
    .await;
    js.delete_key_value("LEDE_STORIES").await.unwrap();
    publish(&js, vec![raw("late", "t", ORIGINAL)]).await;
    let deadline = std::time::Instant::now() + WAIT;
    while worker
        .stats
        .retried
        .load(std::sync::atomic::Ordering::Relaxed)
        == 0
    {
        assert!(std::time::Instant::now() < deadline, "never retried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stream_state(&js, "ARTICLES_ENRICHED").await.messages, 0);
    assert_eq!(stream_state(&js, "ARTICLES_DLQ").await.messages, 0);
    open_bucket(&js, &nats_args(&server.url())).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    let records = read_all(&js, "ARTICLES_ENRICHED").await;
    let r: EnrichedArticle = serde_json::from_slice(&records[0].payload).unwrap();
    assert_eq!(r.story.expect("story").first_id, "late");
    worker.stop().await;
}

#[test]
fn the_dev_stream_scores_above_the_issue_targets() {
    let stream = dev_stream(usize::MAX);
    let keys = offline_keys(&stream);
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/dedup/dev.jsonl"
    );
    let gold: HashMap<String, String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["id"].as_str().unwrap().to_owned(),
                v["story"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (f1, b3) = scores(&gold, &keys);
    assert!(
        f1 >= 0.95 && b3 >= 0.985,
        "pairwise F1 {f1:.4}, B-cubed F1 {b3:.4}"
    );
}

/// Pairwise F1 and B-cubed F1 as `score.py` defines them.
fn scores(gold: &HashMap<String, String>, sys: &HashMap<String, String>) -> (f64, f64) {
    let mut cell: HashMap<(&str, &str), usize> = HashMap::new();
    let mut gsize: HashMap<&str, usize> = HashMap::new();
    let mut ssize: HashMap<&str, usize> = HashMap::new();
    for (id, g) in gold {
        let s = sys[id].as_str();
        *cell.entry((g.as_str(), s)).or_default() += 1;
        *gsize.entry(g.as_str()).or_default() += 1;
        *ssize.entry(s).or_default() += 1;
    }
    let c2 = |n: usize| (n * n.saturating_sub(1) / 2) as f64;
    let tp: f64 = cell.values().map(|&v| c2(v)).sum();
    let gp: f64 = gsize.values().map(|&v| c2(v)).sum();
    let sp: f64 = ssize.values().map(|&v| c2(v)).sum();
    let p = if sp > 0.0 { tp / sp } else { 1.0 };
    let r = if gp > 0.0 { tp / gp } else { 1.0 };
    let n = gold.len() as f64;
    let (mut bp, mut br) = (0.0, 0.0);
    for (id, g) in gold {
        let s = sys[id].as_str();
        let both = cell[&(g.as_str(), s)] as f64;
        bp += both / ssize[s] as f64;
        br += both / gsize[g.as_str()] as f64;
    }
    let (bp, br) = (bp / n, br / n);
    (2.0 * p * r / (p + r), 2.0 * bp * br / (bp + br))
}

#[test]
fn signatures_are_the_same_on_every_thread() {
    // The index is shared by replicas: a signature must not depend on where it is computed.
    let a = Arc::new(sig(ORIGINAL));
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| sig(ORIGINAL)))
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), *a);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_batched_direct_get_answers_every_key_in_the_order_asked() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let store = open_bucket(&js, &nats_args(&server.url())).await;
    for (k, v) in [("b.one", "1"), ("b.two", "2"), ("b.gone", "3")] {
        store.put(k, v.into()).await.expect("put");
    }
    store.put("b.two", "2 again".into()).await.expect("put");
    store.delete("b.gone").await.expect("delete");
    let index = KvIndex::new(store, js.client());
    let keys: Vec<String> = ["b.two", "b.missing", "b.one", "b.gone", "b.two"]
        .map(str::to_owned)
        .to_vec();
    let got = index
        .get_batch(&keys)
        .await
        .expect("batched get")
        .expect("nats-server 2.11+ batches direct gets");
    let got: Vec<Option<&[u8]>> = got.iter().map(|v| v.as_deref()).collect();
    let want: Vec<Option<&[u8]>> = vec![Some(b"2 again"), None, Some(b"1"), None, Some(b"2 again")];
    assert_eq!(got, want);
    // The index's own `get` gives the same, and nothing for no key at all.
    let via_trait = StoryIndex::get(&index, &keys).await.expect("get");
    assert_eq!(
        via_trait.iter().map(|v| v.as_deref()).collect::<Vec<_>>(),
        want
    );
    assert!(StoryIndex::get(&index, &[]).await.expect("get").is_empty());
    let none = index
        .get_batch(&["b.missing".to_owned()])
        .await
        .expect("batched get")
        .expect("batched");
    assert_eq!(none, vec![None]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batched_gets_on_one_reply_subscription_each_get_their_own_answers() {
    let server = NatsServer::start();
    let js = jetstream::new(connect(&server.url()).await);
    let store = open_bucket(&js, &nats_args(&server.url())).await;
    let n = 64;
    for i in 0..n {
        store
            .put(format!("b.{i}"), i.to_string().into())
            .await
            .expect("put");
    }
    let index = KvIndex::new(store, js.client());
    // Every get asks for its own key, a neighbour and a missing one, all at once: the replies
    // share one subscription and must reach the get that asked.
    let gets = (0..n).map(|i| {
        let index = index.clone();
        async move {
            let keys = [
                format!("b.{i}"),
                "b.missing".to_owned(),
                format!("b.{}", (i + 1) % n),
            ];
            let got = index
                .get_batch(&keys)
                .await
                .expect("batched get")
                .expect("nats-server 2.11+ batches direct gets");
            (i, got)
        }
    });
    // A reply handed to the wrong get leaves the right one waiting: bound the wait.
    let answers = tokio::time::timeout(WAIT, futures::future::join_all(gets))
        .await
        .expect("every get answered in time");
    for (i, got) in answers {
        let got: Vec<Option<String>> = got
            .into_iter()
            .map(|v| v.map(|b| String::from_utf8(b.to_vec()).expect("utf-8")))
            .collect();
        assert_eq!(
            got,
            vec![Some(i.to_string()), None, Some(((i + 1) % n).to_string())],
            "get {i}"
        );
    }
}
