//! A real Prometheus (Debian's `prometheus` package) scrapes a live worker with the compose
//! scrape config (`deploy/prometheus/prometheus.yml`, discovery pointed at the worker, a 1 s
//! interval) while articles flow through a real nats-server, then answers the Grafana
//! dashboard's own throughput, stage-latency and consumer-lag queries with non-zero values
//! through its HTTP API, and reports lede's alerting rules loaded and healthy.

mod common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use common::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn prometheus_binary() -> PathBuf {
    if let Ok(bin) = std::env::var("PROMETHEUS_BIN") {
        return PathBuf::from(bin);
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join("prometheus"))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "prometheus not found: install it with `apt-get install prometheus` (or \
                 `make setup`), or set PROMETHEUS_BIN to its path"
            )
        })
}

/// `deploy/prometheus/prometheus.yml` with the `lede` job's DNS discovery replaced by the
/// worker's address, Prometheus's own target by its port, the rules loaded from the checkout
/// and every interval at 1 s. Each edit must apply, so a reshaped file fails here loudly.
fn scrape_config(worker: u16, prometheus: u16) -> String {
    let path = Path::new(ROOT).join("deploy/prometheus/prometheus.yml");
    let text = std::fs::read_to_string(&path).expect("test set-up");
    let mut out = Vec::new();
    let mut skipping = false;
    let mut replaced = 0;
    for line in text.lines() {
        if skipping {
            if line.starts_with("  - job_name:") {
                skipping = false;
            } else {
                continue;
            }
        }
        if line == "    dns_sd_configs:" {
            skipping = true;
            replaced += 1;
            out.push("    static_configs:".to_owned());
            out.push(format!("      - targets: [\"127.0.0.1:{worker}\"]"));
            continue;
        }
        out.push(line.to_owned());
    }
    assert_eq!(
        replaced, 1,
        "one dns_sd_configs block (the lede job) in {text}"
    );
    assert!(
        text.contains("  - job_name: lede\n"),
        "no `lede` job in {text}"
    );
    let mut config = out.join("\n") + "\n";
    for (from, to) in [
        ("scrape_interval: 5s", "scrape_interval: 1s".to_owned()),
        (
            "evaluation_interval: 15s",
            "evaluation_interval: 1s".to_owned(),
        ),
        (
            "/etc/prometheus/rules/*.yml",
            format!("{ROOT}/deploy/prometheus/rules/*.yml"),
        ),
        ("localhost:9090", format!("127.0.0.1:{prometheus}")),
    ] {
        assert!(config.contains(from), "{from:?} not in {}", path.display());
        config = config.replacen(from, &to, 1);
    }
    config
}

/// A Prometheus server on loopback with its storage in a temp dir, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(worker: u16) -> Self {
        let dir = tempfile::tempdir().expect("test set-up");
        let port = free_port();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, scrape_config(worker, port)).expect("test set-up");
        let log = File::create(dir.path().join("prometheus.log")).expect("test set-up");
        let child = Command::new(prometheus_binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("cannot start prometheus");
        let prometheus = Self { child, port, dir };
        prometheus.wait_until(
            |p| p.get("/-/ready").is_some_and(|(s, _)| s == 200),
            "ready",
        );
        prometheus
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    /// `GET path` → (status, body); `None` while nothing answers.
    fn get(&self, path: &str) -> Option<(u16, String)> {
        let response = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .ok()?
            .get(format!("http://127.0.0.1:{}{path}", self.port))
            .send()
            .ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().ok()?))
    }

    /// An API call's `data`, or `None` on an error answer.
    fn api(&self, path: &str) -> Option<serde_json::Value> {
        let (status, body) = self.get(path)?;
        let json: serde_json::Value = serde_json::from_str(&body).ok()?;
        (status == 200 && json["status"] == "success").then(|| json["data"].clone())
    }

    /// Every sample of `expr` from `start` to now, one a second.
    fn range(&self, expr: &str, start: f64) -> Vec<(serde_json::Value, f64)> {
        let end = now();
        let data = self
            .api(&format!(
                "/api/v1/query_range?query={}&start={start}&end={end}&step=1",
                encode(expr)
            ))
            .unwrap_or_else(|| panic!("query_range {expr} failed"));
        let mut samples = Vec::new();
        for series in data["result"].as_array().into_iter().flatten() {
            for point in series["values"].as_array().into_iter().flatten() {
                if let Some(v) = point[1].as_str().and_then(|v| v.parse::<f64>().ok()) {
                    samples.push((series["metric"].clone(), v));
                }
            }
        }
        samples
    }

    fn wait_until(&self, ok: impl Fn(&Self) -> bool, what: &str) {
        let deadline = Instant::now() + WAIT;
        while !ok(self) {
            assert!(
                Instant::now() < deadline,
                "prometheus not {what} after {WAIT:?}; its log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64()
}

/// Percent-encodes a query parameter.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The expressions of the dashboard panel whose title starts with `title`.
fn panel_queries(title: &str) -> Vec<String> {
    let path = Path::new(ROOT).join("deploy/grafana/dashboards/lede.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("test set-up"))
            .expect("test set-up");
    let queries: Vec<String> = dashboard["panels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["title"].as_str().is_some_and(|t| t.starts_with(title)))
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .filter_map(|t| t["expr"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !queries.is_empty(),
        "no panel {title:?} in {}",
        path.display()
    );
    queries
}

#[test]
fn a_real_prometheus_scrapes_a_worker_and_the_dashboard_queries_answer_non_zero() {
    let runtime = tokio::runtime::Runtime::new().expect("test set-up");
    let server = NatsServer::start();
    let url = server.url();
    let http = free_port();
    let prometheus = Prometheus::start(http);
    let start = now();

    // A backlog before the worker binds, then articles all along, faster than the worker can
    // take them (two threads sleeping 25 ms an article take 80/s; 200/s arrive), so every
    // rate() has two different scrapes and the consumer gauges stay non-zero at every poll on
    // however fast a machine: a worker that keeps up would leave `ack_pending` at zero.
    let js = runtime.block_on(async {
        let js = jetstream::new(connect(&url).await);
        create_streams(&js, &url).await;
        publish(
            &js,
            (0..500)
                .map(|i| article(&format!("b{i}"), "Backlog. Two sentences."))
                .collect(),
        )
        .await;
        js
    });
    let model = model_dir();
    let mut worker = spawn_lede_worker(
        &url,
        &[
            "--model",
            model.to_str().expect("test set-up"),
            "--http-addr",
            &format!("127.0.0.1:{http}"),
            "--stages",
            "clean,segment,delay",
            "--delay",
            "25ms",
            "--in-flight",
            "4",
            "--threads",
            "2",
        ],
    );
    let publisher = runtime.spawn(async move {
        for round in 0.. {
            publish(
                &js,
                (0..20)
                    .map(|i| article(&format!("r{round}-{i}"), "Flowing. Text here."))
                    .collect(),
            )
            .await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    let throughput = panel_queries("Throughput");
    let stages = panel_queries("Per-stage latency");
    let lag = panel_queries("Consumer lag");
    let non_zero = |expr: &str| {
        prometheus
            .range(expr, start)
            .iter()
            .any(|(_, v)| v.is_finite() && *v > 0.0)
    };
    let wanted: Vec<&String> = [&throughput[0], &throughput[1], &lag[0], &lag[1]]
        .into_iter()
        .chain(&stages)
        .collect();
    let deadline = Instant::now() + WAIT;
    loop {
        let zero: Vec<&&String> = wanted.iter().filter(|q| !non_zero(q)).collect();
        if zero.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {WAIT:?} these dashboard queries still answer no non-zero value: {zero:?}; \
             prometheus's log:\n{}",
            prometheus.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every stage the worker runs has its own latency quantile.
    for query in &stages {
        let mut seen: Vec<String> = prometheus
            .range(query, start)
            .iter()
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .filter_map(|(m, _)| m["stage"].as_str().map(str::to_owned))
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen, ["clean", "delay", "segment"], "{query}");
    }
    // The compose rules file loads into a real Prometheus and every rule evaluates.
    let rules = prometheus.api("/api/v1/rules").expect("rules");
    let loaded: Vec<(String, String)> = rules["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| {
            (
                r["name"].as_str().unwrap_or_default().to_owned(),
                r["health"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(loaded.len(), 8, "{rules}");
    assert!(loaded.iter().all(|(_, h)| h == "ok"), "{loaded:?}");

    publisher.abort();
    worker.kill().ok();
    worker.wait().ok();
}
