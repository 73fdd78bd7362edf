//! The `lede` binary: wiring only — config, telemetry, connect, run until a signal.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio_util::sync::CancellationToken;

use lede::config::{
    BenchArgs, Cli, Command, EvalArgs, HealthcheckArgs, PipelineArgs, ProcessArgs, PublishArgs,
    TailArgs, TransportKind, WorkerArgs,
};
use lede::http::Health;
use lede::pipeline::{self, Pipeline};
use lede::transport::{self, ConsumerSettings};
use metrics_exporter_prometheus::PrometheusHandle;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let telemetry = match lede::telemetry::init(cli.log_format, cli.otlp_endpoint.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot set up logging and tracing: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Stages run on the stage pool (`lede::runner`), never here; the blocking pool loads the
    // model and reads files, and keeps the generous stack in case a parser there recurses.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(lede::pipeline::STAGE_STACK_BYTES)
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            telemetry.fatal(&format_args!("{e:#}"));
            ExitCode::FAILURE
        }
    };
    drop(runtime);
    telemetry.shutdown();
    code
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Worker(args) => worker(args).await,
        Command::Process(args) => process(args).await,
        Command::Publish(args) => publish(args).await,
        Command::Bench(args) => bench(args).await,
        Command::Tail(args) => tail(args).await,
        Command::Eval(args) => eval(args).await,
        Command::Healthcheck(args) => healthcheck(args).await,
    }
}

/// Builds the pipeline (loading the model) on the blocking pool, off the async executor.
async fn build_pipeline(args: &PipelineArgs) -> anyhow::Result<Pipeline> {
    let (names, options) = (args.stage_names(), args.stage_options());
    tokio::task::spawn_blocking(move || pipeline::build(&names, &options))
        .await
        .context("the model-loading task failed")?
        .context("cannot build the pipeline")
}

/// Cancels the token on SIGINT or SIGTERM.
fn shutdown_on_signal() -> anyhow::Result<CancellationToken> {
    use tokio::signal::unix::{SignalKind, signal};
    let token = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let cancel = token.clone();
    tokio::spawn(async move {
        let which = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        };
        tracing::info!(signal = which, "Shutting down");
        cancel.cancel();
    });
    Ok(token)
}

async fn worker(args: WorkerArgs) -> anyhow::Result<ExitCode> {
    args.validate().context("invalid configuration")?;
    let pipeline = Arc::new(build_pipeline(&args.pipeline).await?);
    let shutdown = shutdown_on_signal()?;
    // Endpoints come up first, so liveness holds while the broker is still being reached.
    let health = Health::new();
    let http_stop = CancellationToken::new();
    let metrics = match args.http_addr {
        Some(addr) => Some(serve_http(addr, health.clone(), &http_stop).await?),
        None => None,
    };
    let stopping = (shutdown.clone(), health.clone());
    tokio::spawn(async move {
        stopping.0.cancelled().await;
        stopping.1.set_stopping();
    });
    // Start-up rides out a broker that is not there yet or a cluster electing leaders, for
    // --startup-timeout; readiness says what it waits for meanwhile.
    let waiting = health.clone();
    let retry = transport::StartupRetry::new(args.nats.startup_timeout)
        .reporting(move |why| waiting.set_waiting(Some(why.to_owned())));
    let client = transport::connect_with(
        &args.nats.nats_url,
        "lede-worker",
        &args.nats.security,
        &retry,
    )
    .await?;
    health.set_client(client.clone());
    let settings = transport::jetstream::WorkerSettings {
        in_flight: args.in_flight,
        cpu_threads: args.cpu_threads(),
        max_bytes: args.max_bytes,
        output_subject: args.nats.output_subject.clone(),
        dlq_subject: args.nats.dlq_subject.clone(),
        ack_wait: args.ack_wait,
        max_deliver: args.max_deliver,
        shutdown_timeout: args.shutdown_timeout,
        story: None,
    };
    tracing::info!(
        stages = ?pipeline.names(),
        transport = ?args.transport,
        in_flight = args.in_flight,
        threads = settings.cpu_threads,
        auth = args.nats.security.describe().unwrap_or("invalid"),
        tls = args.nats.security.tls_ca_file.is_some() || args.nats.security.tls_cert_file.is_some(),
        "Worker starting"
    );
    let mut settings = settings;
    if pipeline.names().contains(&lede::pipeline::story::NAME) {
        let js = async_nats::jetstream::new(client.clone());
        let bucket = transport::kv::bucket(&js, &args.nats, &retry).await?;
        settings.story = Some(transport::kv::KvIndex::new(bucket, client.clone()));
    }
    match args.transport {
        TransportKind::Jetstream => {
            let js = async_nats::jetstream::new(client.clone());
            let topology = transport::bind_streams(&js, &args.nats, &retry).await?;
            let consumer = transport::bind_consumer(
                &topology.input,
                &ConsumerSettings {
                    name: args.consumer.clone(),
                    filter_subject: args.nats.input_subject.clone(),
                    ack_wait: args.ack_wait,
                    max_deliver: args.max_deliver,
                    max_ack_pending: args.max_ack_pending,
                },
                args.nats.ensure_streams,
                &retry,
            )
            .await?;
            tracing::info!(consumer = %args.consumer, stream = %args.nats.input_stream, "Worker ready");
            health.set_bound();
            if metrics.is_some() {
                tokio::spawn(lede::metrics::poll_consumer(
                    consumer.clone(),
                    http_stop.clone(),
                ));
            }
            let stats = Arc::new(transport::jetstream::Stats::default());
            transport::jetstream::run(
                client.clone(),
                consumer,
                pipeline,
                settings,
                stats,
                shutdown,
            )
            .await?;
        }
        TransportKind::Core => {
            tracing::info!(subject = %args.nats.input_subject, group = %args.queue_group, "Worker ready");
            // `queue_group::run` subscribes first thing; a failure there ends the process.
            health.set_bound();
            transport::queue_group::run(
                client.clone(),
                &args.nats.input_subject,
                &args.queue_group,
                pipeline,
                settings,
                shutdown,
            )
            .await?;
        }
    }
    // Every ack the broker would take was flushed by the worker; draining now closes the
    // connection cleanly, unless the broker is gone.
    match tokio::time::timeout(transport::CLOSE_TIMEOUT, client.drain()).await {
        Ok(drained) => drained
            .map_err(|e| anyhow::Error::from_boxed(Box::new(e)))
            .context("draining the connection")?,
        Err(_) => tracing::warn!("The broker did not answer the drain; closing without it"),
    }
    http_stop.cancel();
    tracing::info!("Worker stopped");
    Ok(ExitCode::SUCCESS)
}

/// Installs the metrics recorder and serves the endpoints on `addr` until `stop`.
async fn serve_http(
    addr: std::net::SocketAddr,
    health: Arc<Health>,
    stop: &CancellationToken,
) -> anyhow::Result<PrometheusHandle> {
    let handle = lede::metrics::install().context("cannot install the metrics recorder")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on --http-addr {addr}"))?;
    let router = lede::http::router(health, Some(handle.clone()));
    tracing::info!(addr = %addr, "Serving /healthz, /readyz and /metrics");
    let serve_stop = stop.clone();
    tokio::spawn(async move {
        if let Err(e) = lede::http::serve(listener, router, serve_stop).await {
            tracing::error!(error = %e, "The HTTP endpoint failed");
        }
    });
    tokio::spawn(lede::metrics::upkeep(handle.clone(), stop.clone()));
    Ok(handle)
}

/// `lede healthcheck`: a GET that must answer 200 (the runtime image has no curl).
async fn healthcheck(args: HealthcheckArgs) -> anyhow::Result<ExitCode> {
    let url = args.url.clone();
    let status = tokio::task::spawn_blocking(move || {
        reqwest::blocking::Client::builder()
            .timeout(args.timeout)
            .build()
            .and_then(|c| c.get(&args.url).send())
            .map(|r| r.status())
    })
    .await
    .context("the probe task failed")?
    .with_context(|| format!("GET {url}"))?;
    if status.is_success() {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("GET {url}: {status}");
        Ok(ExitCode::FAILURE)
    }
}

async fn process(args: ProcessArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Arc::new(build_pipeline(&args.pipeline).await?);
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    anyhow::ensure!(threads > 0, "--threads (LEDE_THREADS) must be at least 1");
    let runner = lede::runner::Runner::start(pipeline, threads, args.max_bytes)
        .context("cannot start the stage pool")?;
    let summary = tokio::task::spawn_blocking(move || {
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        let summary = lede::process::run(&runner, &args.files, &mut out);
        out.flush().map(|()| summary)
    })
    .await
    .context("the processing task failed")?
    .context("writing the output")??;
    tracing::info!(
        enriched = summary.enriched,
        rejected = summary.rejected,
        seconds = summary.elapsed.as_secs_f64(),
        "Done"
    );
    Ok(if summary.rejected > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

async fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let client = transport::connect_with(
        &args.nats.nats_url,
        "lede-publish",
        &args.nats.security,
        &transport::StartupRetry::new(args.nats.startup_timeout),
    )
    .await?;
    let js = async_nats::jetstream::new(client.clone());
    if args.nats.ensure_streams {
        transport::streams(&js, &args.nats).await?;
    }
    let files = args.files.clone();
    let payloads = tokio::task::spawn_blocking(move || {
        lede::input::payloads(&files)
            .map(|p| p.map(|p| p.bytes))
            .collect::<std::io::Result<Vec<_>>>()
    })
    .await
    .context("the reading task failed")?
    .context("reading the articles")?;
    let summary =
        transport::publish::publish_all(&js, &args.nats.input_subject, payloads, args.window).await;
    client
        .flush()
        .await
        .map_err(|e| anyhow::Error::from_boxed(Box::new(e)))
        .context("flushing")?;
    println!("{summary}");
    Ok(if summary.failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let pipeline = Arc::new(build_pipeline(&args.pipeline).await?);
    let corpus = match &args.corpus {
        Some(path) => {
            let files = vec![path.clone()];
            tokio::task::spawn_blocking(move || {
                lede::input::payloads(&files)
                    .filter_map(|p| p.ok())
                    .filter_map(|p| lede::record::RawArticle::decode(&p.bytes, usize::MAX).ok())
                    .filter_map(|a| a.text)
                    .collect::<Vec<_>>()
            })
            .await?
        }
        None => vec![include_str!("../examples/seed.txt").to_owned()],
    };
    anyhow::ensure!(!corpus.is_empty(), "the corpus has no article texts");
    let rows = lede::bench::run(&args, pipeline, &corpus).await?;
    println!("| measurement | articles | seconds | articles/s |");
    println!("|---|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {:.2} | {:.0} |",
            row.name,
            row.articles,
            row.seconds,
            row.rate()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn tail(args: TailArgs) -> anyhow::Result<ExitCode> {
    let client = transport::connect_with(
        &args.nats.nats_url,
        "lede-tail",
        &args.nats.security,
        &transport::StartupRetry::new(args.nats.startup_timeout),
    )
    .await?;
    let js = async_nats::jetstream::new(client);
    let stream = if args.dlq {
        &args.nats.dlq_stream
    } else {
        &args.nats.output_stream
    };
    let records = transport::tail::read(&js, stream, args.count, args.timeout).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for record in records {
        if let Some((kind, reason)) = &record.error {
            let line = serde_json::json!({
                "error_kind": kind,
                "error": reason,
                "payload": String::from_utf8_lossy(&record.payload),
            });
            writeln!(out, "{line}")?;
        } else {
            out.write_all(&record.payload)?;
            out.write_all(b"\n")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let report = tokio::task::spawn_blocking(move || {
        lede::eval::run(&args.topic, &args.data_dir, &args.model).map_err(|e| e.to_string())
    })
    .await
    .context("the evaluation task failed")?
    .map_err(anyhow::Error::msg)?;
    println!("{report}");
    Ok(ExitCode::SUCCESS)
}
