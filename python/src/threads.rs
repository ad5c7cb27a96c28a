//! Thread pools for the binding: each call names its thread count (None = every core),
//! and runs inside a rayon pool of that size, kept for later calls of the same size.

use occam::compute::Compute;
use pyo3::prelude::*;
use rayon::ThreadPool;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Most threads a call may ask for (the command line's limit).
const MAX_THREADS: usize = occam::limits::MAX_THREADS;

static POOLS: OnceLock<Mutex<HashMap<usize, Arc<ThreadPool>>>> = OnceLock::new();

/// The thread count a call asked for, checked: None means all cores.
pub fn resolve(threads: Option<usize>) -> PyResult<usize> {
    match threads {
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        Some(n) if (1..=MAX_THREADS).contains(&n) => Ok(n),
        Some(n) => Err(crate::errors::invalid(format!(
            "threads={n} is out of range: valid values are 1 to {MAX_THREADS}, or None for all cores"
        ))),
    }
}

/// Runs `work` on a pool of `threads` threads with a matching [`Compute`].
pub fn run<T: Send>(threads: usize, work: impl FnOnce(&Compute) -> T + Send) -> PyResult<T> {
    let pool = {
        let pools = POOLS.get_or_init(Default::default);
        let mut pools = pools.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match pools.get(&threads) {
            Some(pool) => pool.clone(),
            None => {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .map_err(|e| crate::errors::invalid(format!("could not start {threads} threads: {e}")))?;
                let pool = Arc::new(pool);
                pools.insert(threads, pool.clone());
                pool
            }
        }
    };
    let compute = Compute::new(threads);
    Ok(pool.install(|| work(&compute)))
}
