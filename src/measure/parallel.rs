//! Independent per-trajectory work spread over threads with results kept in order: the
//! items run `group` at a time (one per thread, each on one thread) and are handed to the
//! caller in index order, so sums and early stops are the same at every thread count.

use crate::error::Result;
use rayon::prelude::*;
use std::ops::ControlFlow;

/// Computes `work(i)` for `i` in `0..count`, `group` at a time in parallel, and passes each
/// result to `fold` in index order until `fold` breaks or returns an error.
pub(super) fn in_order_by_groups<T: Send>(
    count: usize,
    group: usize,
    work: impl Fn(usize) -> T + Sync,
    mut fold: impl FnMut(usize, T) -> Result<ControlFlow<()>>,
) -> Result<()> {
    let group = group.max(1);
    for first in (0..count).step_by(group) {
        let ids = first..(first + group).min(count);
        let done: Vec<T> = ids.clone().into_par_iter().map(&work).collect();
        for (i, result) in ids.zip(done) {
            if fold(i, result)?.is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}
