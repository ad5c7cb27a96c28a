//! Float buffers the rank-1 walk reuses from one layer, and one trajectory, to the next on
//! the same thread. A walk needs a few megabytes per layer; allocating them afresh each
//! time costs a page fault per 4 KiB page (a fifth of a deep walk's time, measured), so
//! released buffers are kept, up to [`SPARE_LIMIT`] floats per thread, and handed out again.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Most floats a thread keeps in spare buffers (128 MiB).
const SPARE_LIMIT: usize = 1 << 25;

thread_local! {
    static SPARE: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// `len` floats of a reused buffer, given back to this thread's spares when dropped. The
/// buffer behind it keeps every float it ever held (its `Vec` length is the most it was
/// ever asked for), so taking it again for any length up to that writes nothing: not
/// zeroing a few megabytes per layer saves a memset as long as the product that fills them.
#[derive(Default)]
pub(super) struct Buffer {
    floats: Vec<f32>,
    len: usize,
}

impl Deref for Buffer {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.floats[..self.len]
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.floats[..self.len]
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        release(std::mem::take(&mut self.floats));
    }
}

/// A buffer of `len` floats for the caller to overwrite entirely: a released one when one
/// is large enough (the smallest such), else the largest released one, grown. Its values
/// are whatever the buffer held before (zeros where it grew).
pub(super) fn take(len: usize) -> Buffer {
    let mut floats = reuse(len);
    if floats.len() < len {
        floats.resize(len, 0.0);
    }
    Buffer { floats, len }
}

/// A released buffer (with its contents) that can hold `capacity` floats, or a new one.
fn reuse(capacity: usize) -> Vec<f32> {
    let reused = SPARE.with_borrow_mut(|spare| {
        let fits = (spare.iter().enumerate())
            .filter(|(_, v)| v.capacity() >= capacity)
            .min_by_key(|(_, v)| v.capacity())
            .map(|(k, _)| k);
        let pick = fits.or_else(|| (0..spare.len()).max_by_key(|&k| spare[k].capacity()));
        pick.map(|k| spare.swap_remove(k))
    });
    let mut v = reused.unwrap_or_default();
    v.reserve(capacity.saturating_sub(v.len()));
    v
}

/// Keeps `v` for reuse on this thread, unless the spare buffers would exceed the limit
/// (then the smallest are freed first).
fn release(v: Vec<f32>) {
    if v.capacity() == 0 {
        return;
    }
    SPARE.with_borrow_mut(|spare| {
        spare.push(v);
        spare.sort_by_key(|v| std::cmp::Reverse(v.capacity()));
        let mut kept = 0;
        spare.retain(|v| {
            kept += v.capacity();
            kept <= SPARE_LIMIT
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_buffers_are_reused_and_the_spare_stays_bounded() {
        let mut v = take(1000);
        assert!(v.len() == 1000);
        v.iter_mut().for_each(|x| *x = 7.0);
        let address = v.as_ptr();
        drop(v);
        let again = take(900);
        assert_eq!(again.as_ptr(), address, "the released buffer is reused");
        assert_eq!(again.len(), 900);
        drop(again);
        let longer = take(1000);
        assert!(
            longer.iter().all(|&x| x == 7.0),
            "the floats it held are kept, not zeroed"
        );
        drop(longer);
        let grown = take(1500);
        assert!(grown.len() == 1500 && grown[1000..].iter().all(|&x| x == 0.0));
        drop(grown);
        release(vec![0.0; SPARE_LIMIT]);
        let kept: usize = SPARE.with_borrow(|s| s.iter().map(|v| v.capacity()).sum());
        assert!(kept <= SPARE_LIMIT, "{kept} floats kept");
    }
}
