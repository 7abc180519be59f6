//! A gate for CPU-heavy work such as password hashing.
//!
//! Such work must not run on the async workers (it would stall every
//! connection sharing the thread), and must not run unbounded on the
//! blocking pool either (a login flood would then take every core). So it
//! waits for one of a fixed number of permits, then runs on the blocking pool.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// Runs closures on the blocking pool, at most `permits` at a time.
#[derive(Clone)]
pub struct CpuGate {
    permits: Arc<Semaphore>,
}

impl CpuGate {
    pub fn new(permits: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
        }
    }

    /// Waits for a permit, then runs `work` on the blocking pool.
    pub async fn run<T, F>(&self, work: F) -> AppResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // The permit moves into the blocking task: if the request is dropped
        // (the client went away), the work still runs to its end and only
        // then frees its slot, so the bound holds for work in flight.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|err| AppError::internal("cpu gate closed", err))?;
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|err| AppError::internal("blocking task failed", err))
    }
}
