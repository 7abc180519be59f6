//! A gate for CPU-heavy work such as password hashing.
//!
//! Such work must not run on the async workers (it would stall every
//! connection sharing the thread), and must not run unbounded on the
//! blocking pool either (a login flood would then take every core). So it
//! waits for one of a fixed number of permits, then runs on the blocking pool.
//! The wait itself is bounded too: when `max_waiting` callers already wait,
//! the next is turned away at once (429), so a flood of sign-ins costs
//! neither memory nor the patience of the requests queued behind it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// Runs closures on the blocking pool, at most `permits` at a time.
#[derive(Clone)]
pub(crate) struct CpuGate {
    permits: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
}

/// Counts a caller as waiting for as long as it lives.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl CpuGate {
    pub(crate) fn new(permits: usize, max_waiting: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
        }
    }

    /// Waits for a permit, then runs `work` on the blocking pool; 429 at
    /// once when too many callers are already waiting.
    pub(crate) async fn run<T, F>(&self, work: F) -> AppResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let waiting = Waiting(Arc::clone(&self.waiting));
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            return Err(AppError::TooManyRequests {
                message: "The server is busy: try again in 1 s.".into(),
                retry_after_secs: 1,
            });
        }
        // The permit moves into the blocking task: if the request is dropped
        // (the client went away), the work still runs to its end and only
        // then frees its slot, so the bound holds for work in flight.
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|err| AppError::internal("cpu gate closed", err))?;
        drop(waiting);
        tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        })
        .await
        .map_err(|err| AppError::internal("blocking task failed", err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn callers_beyond_the_waiting_bound_are_turned_away_at_once() {
        let gate = CpuGate::new(1, 1);
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let running = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(move || hold.recv().is_ok()).await }
        });
        // Let the first caller take the one permit.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let waiting = tokio::spawn({
            let gate = gate.clone();
            async move { gate.run(|| 2).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;

        let refused = gate.run(|| 3).await;
        assert!(matches!(refused, Err(AppError::TooManyRequests { .. })));

        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), Ok(true));
        assert_eq!(waiting.await.unwrap(), Ok(2));
        assert_eq!(gate.run(|| 4).await, Ok(4), "the bound frees up again");
    }
}
