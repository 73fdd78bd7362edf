//! The deployment files, checked offline: docker-compose.yml with `docker-compose config -q`
//! (with and without the `cluster` profile), the Kubernetes manifests against the Kubernetes,
//! KEDA and Prometheus Operator schemas, the dashboard against the metrics lede exports, the
//! alerting rules and every dashboard query by `promtool` unit tests (all by
//! `scripts/validate-deploy.py`), and the production stream and consumer configs
//! (deploy/k8s/nats/) against a real nats-server and a worker that binds to them with
//! `--ensure-streams=false`, on one server and, as R3 streams, on a 3-node cluster.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use async_nats::jetstream::{self, consumer, stream};
use common::cluster::Cluster;
use common::*;
use lede::transport::{self, ConsumerSettings};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Runs the validator on `root`; a missing tool fails the test with how to install it.
fn validate(root: &Path) -> Output {
    let out = Command::new("python3")
        .arg(Path::new(ROOT).join("scripts/validate-deploy.py"))
        .arg("--root")
        .arg(root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 ({e}); install Python 3"));
    assert_ne!(
        out.status.code(),
        Some(3),
        "a validation tool is missing: {}\n(`make setup` / scripts/setup.sh installs \
         docker-compose, prometheus's promtool and kubernetes-validate)",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn compose_file_and_kubernetes_manifests_validate_offline() {
    let out = validate(Path::new(ROOT));
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains(" 0 failed"), "{report}");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("test set-up");
    for entry in std::fs::read_dir(from).expect("test set-up") {
        let entry = entry.expect("test set-up");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("test set-up").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("test set-up");
        }
    }
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("test set-up");
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).expect("test set-up");
}

#[test]
fn the_validator_catches_a_misnamed_consumer_short_grace_periods_and_unknown_fields() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    copy_dir(&Path::new(ROOT).join("deploy"), &root.join("deploy"));
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::create_dir_all(root.join("scripts")).unwrap();
    for file in [
        "docker-compose.yml",
        "src/metrics.rs",
        "scripts/fetch-model.sh",
    ] {
        std::fs::copy(Path::new(ROOT).join(file), root.join(file)).unwrap();
    }
    let k8s = root.join("deploy/k8s");
    edit(
        &k8s.join("scaledobject.yaml"),
        "consumer: \"lede\"",
        "consumer: \"lede-workers\"",
    );
    edit(
        &k8s.join("deployment.yaml"),
        "terminationGracePeriodSeconds: 40",
        "terminationGracePeriodSeconds: 10\n      hostNetwrk: true",
    );
    edit(
        &root.join("docker-compose.yml"),
        "stop_grace_period: 30s",
        "stop_grace_period: 15s",
    );
    edit(
        &root.join("deploy/grafana/dashboards/lede.json"),
        "lede_dlq_published_total",
        "lede_dead_letters_total",
    );
    // A rate() window no scrape interval fills.
    edit(
        &root.join("deploy/grafana/dashboards/lede.json"),
        "rate(lede_articles_enriched_total[1m])",
        "rate(lede_articles_enriched_total[10s])",
    );
    // An alert that no longer fires when its test says it must (and a stale operator copy).
    edit(
        &root.join("deploy/prometheus/rules/lede.rules.yml"),
        "max(lede_consumer_pending) > 2048",
        "max(lede_consumer_pending) > 99999",
    );
    // KEDA on the client Service of a clustered NATS cannot reach the consumer's leader.
    edit(
        &k8s.join("scaledobject.yaml"),
        "nats-headless.nats.svc.cluster.local:8222",
        "nats.nats.svc.cluster.local:8222",
    );
    // A cluster node that does not route to all the others.
    edit(
        &root.join("docker-compose.yml"),
        "\"--routes\", \"nats://nats-1:6222,nats://nats-2:6222\"",
        "\"--routes\", \"nats://nats-1:6222\"",
    );
    let out = validate(root);
    let report = text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    for expected in [
        "consumer 'lede-workers' is not the provisioned consumer 'lede'",
        "terminationGracePeriodSeconds 10 is not above LEDE_SHUTDOWN_TIMEOUT",
        "'hostNetwrk' was unexpected",
        "stop_grace_period 15.0s is not above LEDE_SHUTDOWN_TIMEOUT 20.0s",
        "queries lede_dead_letters_total, which lede does not export",
        "panel 'DLQ rate by kind': sum by (kind) (rate(lede_dead_letters_total[5m])) returns no \
         non-zero sample",
        "panel 'Throughput': sum(rate(lede_articles_enriched_total[10s])) returns no non-zero \
         sample",
        "promtool test rules: ",
        "alertname: LedeBacklogGrowingAtMaxReplicas, time: 30m",
        "deploy/k8s/prometheusrule.yaml differs from deploy/prometheus/rules/lede.rules.yml",
        "it must be the headless Service 'nats-headless.nats.svc.cluster.local'",
        "nats-3 routes to ['nats-1'], not to every other node",
    ] {
        assert!(report.contains(expected), "{expected:?} not in\n{report}");
    }
    assert!(report.contains(" 11 failed"), "{report}");
}

fn nats_config<T: serde::de::DeserializeOwned>(file: &str) -> T {
    let path: PathBuf = Path::new(ROOT).join("deploy/k8s/nats").join(file);
    let text = std::fs::read_to_string(&path).expect("test set-up");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn provision(js: &jetstream::Context) {
    for name in [
        "ARTICLES",
        "ARTICLES_ENRICHED",
        "ARTICLES_DLQ",
        "KV_LEDE_STORIES",
    ] {
        let config: stream::Config = nats_config(&format!("stream-{name}.json"));
        assert_eq!(config.name, name);
        js.create_stream(config).await.expect("creating the stream");
    }
    let config: consumer::pull::Config = nats_config("consumer-lede.json");
    js.get_stream("ARTICLES")
        .await
        .expect("test set-up")
        .create_consumer(config)
        .await
        .expect("creating the consumer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn provisioned_streams_and_consumer_match_what_lede_creates_and_a_worker_binds_to_them() {
    // What the production configs create...
    let provisioned = NatsServer::start();
    let pjs = jetstream::new(connect(&provisioned.url()).await);
    provision(&pjs).await;
    // ...and what lede itself creates with its defaults (--ensure-streams).
    let ensured = NatsServer::start();
    let ejs = jetstream::new(connect(&ensured.url()).await);
    // lede's defaults exactly as the CLI parses them.
    let cli = <lede::config::Cli as clap::Parser>::try_parse_from([
        "lede",
        "worker",
        "--nats-url",
        &ensured.url(),
    ])
    .expect("test set-up");
    let lede::config::Command::Worker(args) = cli.command else {
        unreachable!()
    };
    let topology = transport::streams(&ejs, &args.nats)
        .await
        .expect("test set-up");
    let defaults = ConsumerSettings {
        name: args.consumer.clone(),
        filter_subject: args.nats.input_subject.clone(),
        ack_wait: args.ack_wait,
        max_deliver: args.max_deliver,
        max_ack_pending: args.max_ack_pending,
    };
    transport::consumer(&topology.input, &defaults, true)
        .await
        .expect("test set-up");

    for name in [
        "ARTICLES",
        "ARTICLES_ENRICHED",
        "ARTICLES_DLQ",
        "KV_LEDE_STORIES",
    ] {
        let p = pjs
            .get_stream(name)
            .await
            .expect("test set-up")
            .info()
            .await
            .expect("test set-up")
            .config
            .clone();
        let e = ejs
            .get_stream(name)
            .await
            .expect("test set-up")
            .info()
            .await
            .expect("test set-up")
            .config
            .clone();
        assert_eq!(
            (
                &p.subjects,
                p.retention,
                p.storage,
                p.max_age,
                p.duplicate_window
            ),
            (
                &e.subjects,
                e.retention,
                e.storage,
                e.max_age,
                e.duplicate_window
            ),
            "stream {name}: provisioned vs lede's own"
        );
    }
    let consumer_config = |js: jetstream::Context| async move {
        let mut c: consumer::PullConsumer = js
            .get_stream("ARTICLES")
            .await
            .expect("test set-up")
            .get_consumer("lede")
            .await
            .expect("test set-up");
        c.info().await.expect("test set-up").config.clone()
    };
    let (p, e) = (
        consumer_config(pjs.clone()).await,
        consumer_config(ejs).await,
    );
    assert_eq!(
        (
            &p.filter_subject,
            p.ack_policy,
            p.ack_wait,
            p.max_deliver,
            &p.backoff,
            p.max_ack_pending
        ),
        (
            &e.filter_subject,
            e.ack_policy,
            e.ack_wait,
            e.max_deliver,
            &e.backoff,
            e.max_ack_pending
        ),
        "consumer lede: provisioned vs lede's own"
    );

    // A worker that must not create anything binds to the provisioned ones and works.
    let mut worker = spawn_lede_worker(
        &provisioned.url(),
        &["--ensure-streams=false", "--stages", ""],
    );
    publish(&pjs, vec![article("prov", "Provisioned.")]).await;
    wait_for_messages(&pjs, "ARTICLES_ENRICHED", 1).await;
    wait_consumer_idle(&pjs).await;
    worker.kill().ok();
    worker.wait().ok();
}

/// Runs deploy/k8s/nats/provision.sh with a `nats` CLI stand-in that records the configs it is
/// given (`stream info`/`consumer info` find nothing, so everything is added); returns the
/// script's output and the directory of recorded configs.
fn provision_script(replicas: &str) -> (Output, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("test set-up");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("test set-up");
    let fake = bin.join("nats");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         # nats stream add NAME --config FILE | nats consumer add STREAM NAME --config FILE\n\
         case \"$1 $2\" in\n\
           'stream info'|'consumer info') exit 1 ;;\n\
           'stream add') cp \"$5\" \"$RECORD/stream-$3.json\" ;;\n\
           'consumer add') cp \"$6\" \"$RECORD/consumer-$4.json\" ;;\n\
           *) echo \"unexpected: $*\" >&2; exit 2 ;;\n\
         esac\n",
    )
    .expect("test set-up");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("test set-up");
    let record = dir.path().join("record");
    std::fs::create_dir_all(&record).expect("test set-up");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = Command::new("sh")
        .arg(Path::new(ROOT).join("deploy/k8s/nats/provision.sh"))
        .env("PATH", path)
        .env("NATS_URL", "nats://unused:4222")
        .env("NATS_STREAM_REPLICAS", replicas)
        .env("RECORD", &record)
        .output()
        .expect("cannot run sh");
    (out, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_provisioning_files_make_r3_streams_on_a_three_node_cluster_and_a_worker_runs_on_it() {
    let (out, _dir) = provision_script("2");
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("NATS_STREAM_REPLICAS=2; use 1, 3 or 5"),
        "{}",
        text(&out)
    );

    // What the provisioning script hands the nats CLI with NATS_STREAM_REPLICAS=3...
    let (out, dir) = provision_script("3");
    assert!(out.status.success(), "{}", text(&out));
    let recorded = |file: &str| -> String {
        std::fs::read_to_string(dir.path().join("record").join(file))
            .unwrap_or_else(|e| panic!("provision.sh did not add {file}: {e}"))
    };
    // ...created on a real 3-node cluster.
    let cluster = Cluster::start();
    let client = tokio::time::timeout(WAIT, async_nats::connect(cluster.url_list()))
        .await
        .expect("connect timed out")
        .expect("connect failed");
    let js = jetstream::new(client);
    for name in ["ARTICLES", "ARTICLES_ENRICHED", "ARTICLES_DLQ"] {
        let config: stream::Config =
            serde_json::from_str(&recorded(&format!("stream-{name}.json"))).expect("test set-up");
        assert_eq!(config.num_replicas, 3, "{name}");
        // The cluster elects its meta leader and sees its peers within a few seconds.
        let deadline = std::time::Instant::now() + WAIT;
        let mut created = loop {
            match js.create_stream(config.clone()).await {
                Ok(s) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => panic!("creating {name} on the cluster: {e}"),
            }
        };
        // A leader and two replicas, once the peers report.
        loop {
            let info = created.info().await.expect("stream info");
            let peers = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
            assert_eq!(info.config.num_replicas, 3, "{name}");
            if peers == 2 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{name}: {peers} replicas besides the leader, expected 2: {info:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let config: consumer::pull::Config =
        serde_json::from_str(&recorded("consumer-lede.json")).expect("test set-up");
    let mut created = js
        .get_stream("ARTICLES")
        .await
        .expect("test set-up")
        .create_consumer(config)
        .await
        .expect("creating the consumer");
    // The consumer follows its stream's R3.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let info = created.info().await.expect("consumer info");
        let peers = info.cluster.as_ref().map_or(0, |c| c.replicas.len());
        if peers == 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consumer lede: {peers} replicas besides the leader, expected 2: {info:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }

    // A worker seeded with one server binds to the provisioned consumer and enriches.
    let mut worker = spawn_lede_worker(
        &cluster.nodes[1].url(),
        &["--ensure-streams=false", "--stages", ""],
    );
    publish(&js, vec![article("r3", "Replicated.")]).await;
    wait_for_messages(&js, "ARTICLES_ENRICHED", 1).await;
    wait_consumer_idle(&js).await;
    worker.kill().ok();
    worker.wait().ok();
}
