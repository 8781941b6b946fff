//! Thread policy: independent jobs (batch items, latents, channel chunks) run on a rayon pool.
//!
//! A single rANS stream is sequential; parallelism only ever spans independent streams, so the
//! output is byte-identical for every thread count. The thread count comes from
//! [`set_num_threads`], else from the `TINIFY_NUM_THREADS` environment variable (read at first
//! use; 0 or unset means one thread per core, 1 means no worker threads at all; a value that is
//! not an integer in `0..=MAX_THREADS` means one thread: the Python package reports it as an
//! error). After `fork()`
//! the inherited pool has no threads behind it; [`after_fork_child`] (called by the Python
//! package from `os.register_at_fork`) forgets it and makes the child sequential.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use rayon::ThreadPool;

use crate::error::Result;

/// The most threads the environment variable may ask for.
pub const MAX_THREADS: usize = 1024;

/// 0 = not decided yet (read the environment on first use).
static THREADS: AtomicUsize = AtomicUsize::new(0);
static POOL: Mutex<Option<(usize, Arc<ThreadPool>)>> = Mutex::new(None);

fn default_threads() -> usize {
    let auto = || {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    };
    match std::env::var("TINIFY_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        None if std::env::var_os("TINIFY_NUM_THREADS").is_none() => auto(),
        Some(0) => auto(),
        Some(n) if n <= MAX_THREADS => n,
        _ => 1,
    }
}

/// Number of threads used for independent jobs.
pub fn num_threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = default_threads();
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Sets the number of threads for independent jobs; 0 means one per core (at most
/// [`MAX_THREADS`]).
pub fn set_num_threads(n: usize) {
    let n = if n == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        n.min(MAX_THREADS)
    };
    THREADS.store(n, Ordering::Relaxed);
}

/// Call in a child process after `fork()`: the parent's pool is unusable there.
pub fn after_fork_child() {
    if let Ok(mut guard) = POOL.lock() {
        if let Some(pool) = guard.take() {
            // The worker threads do not exist in the child; dropping the pool would try to
            // signal them, so it is deliberately leaked.
            std::mem::forget(pool);
        }
    }
    THREADS.store(1, Ordering::Relaxed);
}

fn pool(n: usize) -> Option<Arc<ThreadPool>> {
    let mut guard = POOL.lock().ok()?;
    if let Some((size, pool)) = guard.as_ref() {
        if *size == n {
            return Some(pool.clone());
        }
    }
    let pool = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .ok()?,
    );
    *guard = Some((n, pool.clone()));
    Some(pool)
}

/// Runs `f(0..n)` and collects the results in order, in parallel when more than one thread is
/// allowed and there is more than one job.
pub fn map<T, F>(n: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize) -> T + Sync + Send,
{
    let threads = num_threads();
    if threads > 1 && n > 1 {
        if let Some(pool) = pool(threads) {
            return pool.install(|| (0..n).into_par_iter().map(&f).collect());
        }
    }
    (0..n).map(f).collect()
}

/// As [`map`] for fallible jobs; the first error (in job order) is returned.
///
/// # Errors
/// The error of the first failing job.
pub fn try_map<T, F>(n: usize, f: F) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(usize) -> Result<T> + Sync + Send,
{
    map(n, f).into_iter().collect()
}
