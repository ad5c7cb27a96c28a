//! Which side of each breakpoint every neuron of a segment level is on at the start of
//! each arc, as bits, written by the block pass right after it rounds the arc's
//! coefficients (while they are in cache). The roots pass then finds the neurons that
//! cross on an arc by comparing the bits of the arc's start with those of the next arc's
//! start, instead of reading every arc's coefficients again to evaluate them.
//!
//! The bits are those the roots pass's own test gives: `z₀ + z₁·t > β` with the arc's
//! float32 coefficients widened to float64 and summed as `roots::values_at` sums them at
//! basis (1, t), so both paths find the same crossings.

use super::rank1::BatchArc;
use crate::compute::simd::widest;

/// The start sides of every arc of a segment level: per arc, per breakpoint, one bit per
/// neuron in `words` 64-bit words.
pub(super) struct StartSides {
    words: usize,
    breakpoints: usize,
    bits: Vec<u64>,
}

impl StartSides {
    /// Room for `arcs` arcs of `width` neurons and `breakpoints` breakpoints (all false).
    pub(super) fn new(arcs: usize, width: usize, breakpoints: usize) -> StartSides {
        let words = width.div_ceil(64);
        StartSides {
            words,
            breakpoints,
            bits: vec![0; arcs * breakpoints * words],
        }
    }

    /// Words per arc.
    pub(super) fn per_arc(&self) -> usize {
        self.breakpoints * self.words
    }

    /// Arc `a`'s bits, breakpoint after breakpoint.
    pub(super) fn of(&self, a: usize) -> &[u64] {
        &self.bits[a * self.per_arc()..(a + 1) * self.per_arc()]
    }

    /// Arc `a`'s bits, to write.
    pub(super) fn of_mut(&mut self, a: usize) -> &mut [u64] {
        let n = self.per_arc();
        &mut self.bits[a * n..(a + 1) * n]
    }

    /// Every arc's bits, to hand out in consecutive runs of arcs.
    pub(super) fn all_mut(&mut self) -> &mut [u64] {
        &mut self.bits
    }

    /// Calls `f(i, β index)` for every neuron whose side of a breakpoint differs between
    /// the starts of arcs `a` and `b`, breakpoint after breakpoint, neurons in increasing
    /// order.
    pub(super) fn for_each_change(&self, a: usize, b: usize, mut f: impl FnMut(usize, usize)) {
        let (x, y) = (self.of(a), self.of(b));
        for (k, (wx, wy)) in x.iter().zip(y).enumerate() {
            let mut changed = wx ^ wy;
            while changed != 0 {
                f(
                    (k % self.words) * 64 + changed.trailing_zeros() as usize,
                    k / self.words,
                );
                changed &= changed - 1;
            }
        }
    }
}

/// Where a block of consecutive arcs writes its start sides.
pub(super) struct BlockSides<'a> {
    /// The block's arcs (their starts).
    pub(super) arcs: &'a [BatchArc],
    pub(super) breakpoints: &'a [f32],
    /// The block's bits, [`StartSides::per_arc`] words per arc.
    pub(super) bits: &'a mut [u64],
}

impl BlockSides<'_> {
    /// The start sides of the block's arc `j`, from its coefficients `z` (`2 × w`).
    pub(super) fn write(&mut self, j: usize, z: &[f32]) {
        let n = self.bits.len() / self.arcs.len().max(1);
        write(z, self.arcs[j].lo, self.breakpoints, &mut self.bits[j * n..(j + 1) * n]);
    }
}

/// Writes into `out` (`breakpoints.len()` runs of `⌈w/64⌉` words) whether each neuron's
/// pre-activation `z[i] + z[w + i]·t` (coefficients `2 × w`) is above each breakpoint.
pub(super) fn write(z: &[f32], t: f64, breakpoints: &[f32], out: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    if super::avx512::available() && breakpoints.len() <= 2 {
        // SAFETY: the CPU has AVX-512, checked just above.
        return unsafe { super::avx512::start_sides(z, t, breakpoints, out) };
    }
    widest(
        #[inline(always)]
        || write_portable(z, t, breakpoints, out),
    )
}

/// [`write`] in plain loops.
#[inline(always)]
pub(super) fn write_portable(z: &[f32], t: f64, breakpoints: &[f32], out: &mut [u64]) {
    let w = z.len() / 2;
    let words = w.div_ceil(64);
    let basis = [1.0, t, 0.0];
    let mut values = [0.0f64; 64];
    for k in 0..words {
        let (i0, i1) = (k * 64, ((k + 1) * 64).min(w));
        for (i, v) in (i0..i1).zip(values.iter_mut()) {
            *v = z[i] as f64 * basis[0];
            *v += z[w + i] as f64 * basis[1];
        }
        for (b, &beta) in breakpoints.iter().enumerate() {
            let beta = beta as f64;
            let mut word = 0u64;
            for (j, &v) in values[..i1 - i0].iter().enumerate() {
                word |= ((v > beta) as u64) << j;
            }
            out[b * words + k] = word;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bits are the side test of the roots pass, on every path, and their changes
    /// are the neurons whose side differs.
    #[test]
    fn bits_are_the_roots_pass_side_test() {
        for w in [1, 8, 63, 64, 65, 200] {
            let z: Vec<f32> = (0..2 * w)
                .map(|i| match i % 9 {
                    0 => 0.0,
                    1 => 1.0,
                    2 => -1.0,
                    3 => 6.0,
                    4 => f32::NAN,
                    _ => ((i * 7919) % 211) as f32 / 17.0 - 6.0,
                })
                .collect();
            for breakpoints in [&[0.0f32][..], &[-1.0, 1.0], &[0.0, 6.0], &[-1.0, 0.0, 6.0]] {
                let mut sides = StartSides::new(2, w, breakpoints.len());
                for (a, t) in [0.0, 0.37].into_iter().enumerate() {
                    write(&z, t, breakpoints, sides.of_mut(a));
                    let mut portable = vec![0; sides.per_arc()];
                    write_portable(&z, t, breakpoints, &mut portable);
                    assert_eq!(
                        sides.of(a),
                        &portable[..],
                        "w {w} t {t}: the dispatch and the plain loops"
                    );
                    let mut values = vec![0.0; w];
                    super::super::roots::values_at(&z, 2, &[1.0, t, 0.0], &mut values);
                    for (b, &beta) in breakpoints.iter().enumerate() {
                        for (i, &v) in values.iter().enumerate() {
                            let bit = sides.of(a)[b * w.div_ceil(64) + i / 64] >> (i % 64) & 1;
                            assert_eq!(bit == 1, v > beta as f64, "w {w} t {t} β {beta} neuron {i}");
                        }
                    }
                }
                let mut changes = Vec::new();
                sides.for_each_change(0, 1, |i, b| changes.push((b, i)));
                let mut want = Vec::new();
                let (mut v0, mut v1) = (vec![0.0; w], vec![0.0; w]);
                super::super::roots::values_at(&z, 2, &[1.0, 0.0, 0.0], &mut v0);
                super::super::roots::values_at(&z, 2, &[1.0, 0.37, 0.0], &mut v1);
                for (b, &beta) in breakpoints.iter().enumerate() {
                    let beta = beta as f64;
                    want.extend((0..w).filter(|&i| (v0[i] > beta) != (v1[i] > beta)).map(|i| (b, i)));
                }
                assert_eq!(changes, want, "w {w}");
                assert!(w < 64 || !want.is_empty(), "w {w}: changes to find");
            }
        }
    }
}
