//! The `delay` stage: sleeps a fixed time per article and changes nothing.
//!
//! It exists for fault injection and benchmarks (a stage slower than the ack wait, a worker
//! killed while articles are in flight); it is never in the default `--stages`.

use std::time::Duration;

use super::{Document, Stage, StageError};

/// Sleeps `--delay-ms` per article.
#[derive(Debug, Clone, Copy)]
pub struct Delay {
    pause: Duration,
}

impl Delay {
    /// A stage that sleeps `pause` per article.
    pub fn new(pause: Duration) -> Self {
        Self { pause }
    }
}

impl Stage for Delay {
    fn name(&self) -> &'static str {
        "delay"
    }

    fn process(&self, _doc: &mut Document) -> Result<(), StageError> {
        std::thread::sleep(self.pause);
        Ok(())
    }
}
