//! The fixed stage pool: the only place stages run, for every way articles come in.
//!
//! [`Runner::start`] spawns exactly `threads` OS threads (named `lede-stage-N`, with
//! [`STAGE_STACK_BYTES`] stacks) and no thread is ever added: the JetStream worker, the
//! queue-group transport and `lede process` all hand payloads to [`Runner::submit`] (or
//! [`Runner::enqueue_blocking`]), and a pool thread runs the per-message path
//! ([`enrich_payload`]: decode → stages → encode) on it. So the number of threads — and of the
//! per-thread working memory the stages keep (the entity model's scratch is thread-local) — is
//! fixed at start-up, whatever the burst.
//!
//! **The CPU permit is being a pool thread.** Jobs wait in a bounded queue until a thread is
//! free. The article's time budget (`--deadline`) starts when a thread picks the job up: once
//! budget + [`DEADLINE_GRACE`] have passed, the caller gets a `deadline_exceeded` rejection on
//! time, but the thread is not killed (Rust cannot) and takes the next job only when the stage
//! returns. A stuck stage therefore costs one thread of the pool, never an extra one; if every
//! thread is stuck, articles wait in the queue (the JetStream worker keeps progress-acking them,
//! and they are nak'ed at shutdown).
//!
//! Why a hand-rolled pool rather than tokio's blocking pool or rayon: `spawn_blocking` grows to
//! 512 threads while stuck stages hold theirs, and each new thread regrows its own scratch;
//! rayon has no way to give up waiting on a job. The queue is tokio's bounded `mpsc` (async
//! `send` with backpressure for the transports, `blocking_send` for `lede process`); the pool
//! threads share its receiver behind a mutex (one thread waits in `blocking_recv`, the idle
//! others on the lock), which makes it a multi-consumer queue without another dependency.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::enrich::{Enriched, Rejection, enrich_payload};
use crate::pipeline::{Pipeline, STAGE_STACK_BYTES};

/// Extra time past the budget before the caller stops waiting for a stage that has not
/// returned, so the pipeline's own check (which names the stage) normally reports the overrun.
pub const DEADLINE_GRACE: Duration = Duration::from_millis(500);

/// Prefix of the pool threads' names (`lede-stage-0`, …), as `/proc/PID/task/*/comm` shows it.
pub const THREAD_NAME_PREFIX: &str = "lede-stage-";

/// Why the pool could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// `threads` was zero.
    #[error("the stage pool needs at least one thread (--threads)")]
    NoThreads,
    /// The OS refused a thread.
    #[error("cannot start stage thread {index}: {source}")]
    Spawn {
        /// Which thread.
        index: usize,
        /// The OS error.
        source: std::io::Error,
    },
    /// [`Runner::start`] was called outside a tokio runtime (its timers serve the deadlines).
    #[error("the stage pool must be started inside a tokio runtime")]
    NoRuntime,
}

/// One article handed to the pool.
struct Job {
    payload: Bytes,
    /// The caller's span (`article`), entered on the pool thread.
    span: tracing::Span,
    /// Told when a thread starts on the job: the time budget runs from here.
    started: oneshot::Sender<()>,
    reply: oneshot::Sender<Result<Enriched, Rejection>>,
}

struct Inner {
    jobs: mpsc::Sender<Job>,
    deadline: Option<Duration>,
    threads: usize,
    busy: Arc<AtomicUsize>,
    runtime: tokio::runtime::Handle,
}

/// A handle to the stage pool; clones share it. The threads stop once every handle is dropped
/// and they have finished their current job.
#[derive(Clone)]
pub struct Runner {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("threads", &self.inner.threads)
            .field("busy", &self.busy())
            .finish_non_exhaustive()
    }
}

/// A job in the pool's queue; [`Ticket::outcome`] (async) or [`Ticket::wait`] (blocking) gives
/// its result within the article's time budget.
#[derive(Debug)]
pub struct Ticket {
    started: oneshot::Receiver<()>,
    reply: oneshot::Receiver<Result<Enriched, Rejection>>,
    deadline: Option<Duration>,
    runtime: tokio::runtime::Handle,
}

impl Runner {
    /// Starts `threads` pool threads running `pipeline`, refusing payloads over `max_bytes`.
    /// Must be called inside a tokio runtime.
    ///
    /// # Errors
    /// [`RunnerError`] when `threads` is zero, no runtime is current, or a thread cannot start.
    pub fn start(
        pipeline: Arc<Pipeline>,
        threads: usize,
        max_bytes: usize,
    ) -> Result<Self, RunnerError> {
        if threads == 0 {
            return Err(RunnerError::NoThreads);
        }
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| RunnerError::NoRuntime)?;
        // Room for one waiting job per thread: a thread that finishes finds the next one ready,
        // and everything beyond waits in `submit`, holding only its payload.
        let (jobs, receiver) = mpsc::channel(threads);
        let receiver = Arc::new(Mutex::new(receiver));
        let busy = Arc::new(AtomicUsize::new(0));
        for index in 0..threads {
            let (receiver, pipeline, busy) = (receiver.clone(), pipeline.clone(), busy.clone());
            std::thread::Builder::new()
                .name(format!("{THREAD_NAME_PREFIX}{index}"))
                .stack_size(STAGE_STACK_BYTES)
                .spawn(move || serve(&receiver, &pipeline, max_bytes, &busy))
                .map_err(|source| RunnerError::Spawn { index, source })?;
        }
        Ok(Self {
            inner: Arc::new(Inner {
                jobs,
                deadline: pipeline.deadline(),
                threads,
                busy,
                runtime,
            }),
        })
    }

    /// The number of pool threads.
    pub fn threads(&self) -> usize {
        self.inner.threads
    }

    /// Pool threads running a job now (a stuck stage counts until it returns).
    pub fn busy(&self) -> usize {
        self.inner.busy.load(Ordering::Relaxed)
    }

    /// Runs the per-message path on `payload` on a pool thread: the record, or why not.
    /// Waits for room in the queue first; the time budget starts when a thread takes the job.
    ///
    /// # Errors
    /// The article's [`Rejection`]: bad input, a stage's refusal or panic, `too_large`, or
    /// `deadline_exceeded`.
    pub async fn submit(&self, payload: Bytes) -> Result<Enriched, Rejection> {
        let (job, ticket) = self.job(payload);
        if self.inner.jobs.send(job).await.is_err() {
            return Err(stopped());
        }
        ticket.outcome().await
    }

    /// [`Runner::submit`], unless `stop` completes before a pool thread takes the job: then the
    /// job is withdrawn unrun and the answer is `None` (the JetStream worker hands such an
    /// article back at shutdown). Once a thread has the job, `stop` no longer matters.
    ///
    /// # Errors
    /// The article's [`Rejection`], inside `Some`.
    pub async fn submit_until(
        &self,
        payload: Bytes,
        stop: impl std::future::Future<Output = ()>,
    ) -> Option<Result<Enriched, Rejection>> {
        let (job, mut ticket) = self.job(payload);
        let queued = async {
            self.inner.jobs.send(job).await.is_ok() && (&mut ticket.started).await.is_ok()
        };
        tokio::select! {
            biased;
            taken = queued => {
                if !taken {
                    return Some(Err(stopped()));
                }
            }
            () = stop => return None,
        }
        Some(ticket.finish().await)
    }

    /// Queues `payload`, blocking the calling thread while the queue is full. For synchronous
    /// callers (`lede process`); never call it on an async executor thread.
    ///
    /// # Errors
    /// A [`Rejection`] when the pool has stopped.
    pub fn enqueue_blocking(&self, payload: Bytes) -> Result<Ticket, Rejection> {
        let (job, ticket) = self.job(payload);
        self.inner.jobs.blocking_send(job).map_err(|_| stopped())?;
        Ok(ticket)
    }

    fn job(&self, payload: Bytes) -> (Job, Ticket) {
        let (started_tx, started) = oneshot::channel();
        let (reply_tx, reply) = oneshot::channel();
        let job = Job {
            payload,
            span: tracing::Span::current(),
            started: started_tx,
            reply: reply_tx,
        };
        let ticket = Ticket {
            started,
            reply,
            deadline: self.inner.deadline,
            runtime: self.inner.runtime.clone(),
        };
        (job, ticket)
    }
}

impl Ticket {
    /// The job's result, or `deadline_exceeded` once the budget (plus [`DEADLINE_GRACE`]) has
    /// run out since a thread took it. Dropping the future before then withdraws a job that is
    /// still queued.
    ///
    /// # Errors
    /// The article's [`Rejection`].
    pub async fn outcome(mut self) -> Result<Enriched, Rejection> {
        if (&mut self.started).await.is_err() {
            // The job was dropped unrun: only when the pool itself went away.
            return Err(stopped());
        }
        self.finish().await
    }

    /// The rest of [`Ticket::outcome`] once a thread has taken the job.
    async fn finish(self) -> Result<Enriched, Rejection> {
        let Some(budget) = self.deadline else {
            return self.reply.await.unwrap_or_else(|_| Err(lost()));
        };
        match tokio::time::timeout(budget + DEADLINE_GRACE, self.reply).await {
            Ok(reply) => reply.unwrap_or_else(|_| Err(lost())),
            Err(_) => {
                tracing::error!(
                    budget_ms = budget.as_millis(),
                    "A stage is still running past the article's time budget; rejecting the article (its pool thread stays busy until the stage returns)"
                );
                Err(Rejection {
                    id: None,
                    kind: "deadline_exceeded",
                    message: format!(
                        "a stage was still running {} ms after the article's time budget of {} ms (--deadline) ran out",
                        DEADLINE_GRACE.as_millis(),
                        budget.as_millis()
                    ),
                })
            }
        }
    }

    /// [`Ticket::outcome`], blocking the calling thread. Never call it on an async executor
    /// thread (it would panic); `lede process` calls it from its own blocking thread.
    ///
    /// # Errors
    /// The article's [`Rejection`].
    pub fn wait(self) -> Result<Enriched, Rejection> {
        let runtime = self.runtime.clone();
        runtime.block_on(self.outcome())
    }
}

/// A pool thread: takes jobs until the queue closes.
fn serve(
    receiver: &Mutex<mpsc::Receiver<Job>>,
    pipeline: &Pipeline,
    max_bytes: usize,
    busy: &AtomicUsize,
) {
    loop {
        // Held only while waiting: the thread that gets a job releases the lock to run it.
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .blocking_recv();
        let Some(job) = job else { return };
        if job.reply.is_closed() {
            // The caller gave up (shutdown) while the job was queued: nothing to run.
            continue;
        }
        if job.started.send(()).is_err() {
            continue;
        }
        busy.fetch_add(1, Ordering::Relaxed);
        // The pipeline catches stage panics itself; this catches one in decode or encode, so
        // no job can take a pool thread down.
        let outcome = job.span.in_scope(|| {
            catch_unwind(AssertUnwindSafe(|| {
                enrich_payload(pipeline, &job.payload, max_bytes)
            }))
            .unwrap_or_else(|_| {
                Err(Rejection {
                    id: None,
                    kind: "panic",
                    message: "the per-message path panicked outside any stage".to_owned(),
                })
            })
        });
        busy.fetch_sub(1, Ordering::Relaxed);
        // The caller may have stopped waiting (deadline, shutdown): then the result is dropped.
        let _ = job.reply.send(outcome);
    }
}

fn stopped() -> Rejection {
    Rejection {
        id: None,
        kind: "panic",
        message: "the stage pool has stopped".to_owned(),
    }
}

fn lost() -> Rejection {
    Rejection {
        id: None,
        kind: "panic",
        message: "the stage pool lost the article's result".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Document, Stage, StageError};
    use std::time::Instant;

    /// Sleeps `ms` milliseconds on articles whose text starts with "stuck".
    struct Stuck(u64);
    impl Stage for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        fn process(&self, doc: &mut Document) -> Result<(), StageError> {
            if doc.text.starts_with("stuck") {
                std::thread::sleep(Duration::from_millis(self.0));
            }
            Ok(())
        }
    }

    fn pipeline(stuck_ms: u64, deadline_ms: u64) -> Arc<Pipeline> {
        Arc::new(
            Pipeline::new(vec![Arc::new(Stuck(stuck_ms))], false)
                .with_deadline(Some(Duration::from_millis(deadline_ms))),
        )
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn within_the_budget_the_record_comes_back() {
        let runner = Runner::start(pipeline(0, 5_000), 2, 1 << 20).unwrap();
        let ok = runner
            .submit(Bytes::from_static(b"Some text."))
            .await
            .unwrap();
        assert!(!ok.record.is_empty());
        let bad = runner.submit(Bytes::from_static(b"\xff")).await;
        assert_eq!(bad.unwrap_err().kind, "invalid_utf8");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stuck_stage_is_rejected_on_time_but_keeps_its_thread_and_no_thread_is_added() {
        // Other tests in this binary run pools of their own: count threads by this pool's
        // effect, not by name. One thread, a stage stuck for 1.5 s, a budget of 100 ms.
        let runner = Runner::start(pipeline(1_500, 100), 1, 1 << 20).unwrap();
        let started = Instant::now();
        let err = runner
            .submit(Bytes::from_static(b"stuck article"))
            .await
            .unwrap_err();
        assert_eq!(err.kind, "deadline_exceeded");
        let rejected_after = started.elapsed();
        assert!(
            rejected_after < Duration::from_millis(1_200),
            "rejected at the budget, not when the stage returned: {rejected_after:?}"
        );
        assert_eq!(runner.busy(), 1, "the stuck stage still holds its thread");
        // The next article waits for that thread: it is not run on another one.
        let next = runner
            .submit(Bytes::from_static(b"A fine article."))
            .await
            .unwrap();
        assert!(!next.record.is_empty());
        assert!(
            started.elapsed() >= Duration::from_millis(1_500),
            "the next article ran only once the stuck stage returned: {:?}",
            started.elapsed()
        );
        assert_eq!(runner.threads(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_runs_on_exactly_the_pool_threads() {
        let names = Arc::new(Mutex::new(std::collections::BTreeSet::new()));
        struct Who(Arc<Mutex<std::collections::BTreeSet<String>>>);
        impl Stage for Who {
            fn name(&self) -> &'static str {
                "who"
            }
            fn process(&self, _doc: &mut Document) -> Result<(), StageError> {
                let name = std::thread::current().name().unwrap_or("?").to_owned();
                self.0.lock().unwrap().insert(name);
                std::thread::sleep(Duration::from_millis(2));
                Ok(())
            }
        }
        let who = Arc::new(Pipeline::new(vec![Arc::new(Who(names.clone()))], false));
        let runner = Runner::start(who, 2, 1 << 20).unwrap();
        let jobs: Vec<_> = (0..200)
            .map(|i| {
                let runner = runner.clone();
                tokio::spawn(
                    async move { runner.submit(Bytes::from(format!("Article {i}."))).await },
                )
            })
            .collect();
        for job in jobs {
            job.await.unwrap().unwrap();
        }
        let seen = names.lock().unwrap().clone();
        assert!(
            seen.len() <= 2 && seen.iter().all(|n| n.starts_with(THREAD_NAME_PREFIX)),
            "stages ran on {seen:?}"
        );
    }

    #[test]
    fn blocking_callers_get_the_same_path() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let runner = rt
            .block_on(async { Runner::start(pipeline(0, 5_000), 1, 16) })
            .unwrap();
        let big = runner
            .enqueue_blocking(Bytes::from_static(b"seventeen bytes!!"))
            .unwrap();
        assert_eq!(big.wait().unwrap_err().kind, "too_large");
        let ok = runner.enqueue_blocking(Bytes::from_static(b"Hi.")).unwrap();
        assert!(ok.wait().is_ok());
    }

    #[test]
    fn zero_threads_or_no_runtime_is_refused() {
        assert!(matches!(
            Runner::start(pipeline(0, 1), 1, 1),
            Err(RunnerError::NoRuntime)
        ));
        let rt = tokio::runtime::Runtime::new().unwrap();
        let zero = rt.block_on(async { Runner::start(pipeline(0, 1), 0, 1) });
        assert!(matches!(zero, Err(RunnerError::NoThreads)));
    }
}
