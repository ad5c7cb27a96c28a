//! The small loops the rank-1 walk runs once per arc, written so that the compiler
//! vectorizes them: a layer's region codes at one point of an arc, which neurons' codes
//! differ between two patterns, and which neurons cross a breakpoint on a segment arc; each
//! compiled for the widest vector instructions the CPU has ([`widest`]), or run as its
//! AVX-512 version (`avx512`, same bits) where the CPU has AVX-512.

#[cfg(target_arch = "x86_64")]
use super::avx512;
use crate::compute::simd::widest;
use crate::net::Activation;

/// The linear pieces of an activation by region code, as tables (codes past the last
/// piece read 0), so that loops over neurons look them up instead of branching.
pub(super) struct Pieces {
    slope: [f32; 4],
    offset: [f32; 4],
}

impl Pieces {
    pub(super) fn of(act: Activation) -> Pieces {
        let piece = |code: usize| match code <= act.breakpoints().len() {
            true => act.linear_piece(code as u8),
            false => (0.0, 0.0),
        };
        Pieces {
            slope: std::array::from_fn(|code| piece(code).0),
            offset: std::array::from_fn(|code| piece(code).1),
        }
    }

    /// `out[i] = slope(codes[i]) · x[i]`, plus `offset(codes[i])` when `with_offset`: `x`
    /// through each neuron's linear piece (float32, a multiply then an add).
    pub(super) fn apply(&self, codes: &[u8], x: &[f32], with_offset: bool, out: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if avx512::available() {
            // SAFETY: the CPU has AVX-512, checked just above.
            return unsafe { avx512::through_pieces(&self.slope, &self.offset, codes, x, with_offset, out) };
        }
        widest(
            #[inline(always)]
            || self.apply_portable(codes, x, with_offset, out),
        )
    }

    /// [`Self::apply`] in a plain loop.
    #[inline(always)]
    pub(super) fn apply_portable(&self, codes: &[u8], x: &[f32], with_offset: bool, out: &mut [f32]) {
        for ((o, &v), &code) in out.iter_mut().zip(x).zip(codes) {
            let code = code as usize & 3;
            let v = self.slope[code] * v;
            *o = if with_offset { v + self.offset[code] } else { v };
        }
    }
}

/// The region code of every neuron (the number of `breakpoints` strictly below its
/// pre-activation, rounded to float32, as `Activation::code`) at the point whose basis
/// values are `basis`, from coefficients `z` (`nb × w`, w = `codes.len()`). The
/// pre-activation is summed in float64 in the order of the basis functions, as
/// `roots::values_at` sums it.
pub(super) fn codes_at(z: &[f32], nb: usize, basis: &[f64; 3], breakpoints: &[f32], codes: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() && (2..=3).contains(&nb) && (1..=2).contains(&breakpoints.len()) {
        // SAFETY: the CPU has AVX-512, checked just above.
        return unsafe { avx512::codes_at(z, nb, basis, breakpoints, codes) };
    }
    widest(
        #[inline(always)]
        || match (nb, breakpoints) {
            (2, &[b0]) => codes_with::<2, 1>(z, basis, [b0], codes),
            (2, &[b0, b1]) => codes_with::<2, 2>(z, basis, [b0, b1], codes),
            (3, &[b0]) => codes_with::<3, 1>(z, basis, [b0], codes),
            (3, &[b0, b1]) => codes_with::<3, 2>(z, basis, [b0, b1], codes),
            _ => codes_any(z, nb, basis, breakpoints, codes),
        },
    )
}

#[inline(always)]
fn codes_with<const NB: usize, const NBP: usize>(z: &[f32], basis: &[f64; 3], bps: [f32; NBP], codes: &mut [u8]) {
    let w = codes.len();
    let rows: [&[f32]; NB] = std::array::from_fn(|k| &z[k * w..(k + 1) * w]);
    for (i, c) in codes.iter_mut().enumerate() {
        let mut v = rows[0][i] as f64 * basis[0];
        for k in 1..NB {
            v += rows[k][i] as f64 * basis[k];
        }
        let v = v as f32;
        let mut code = 0u8;
        for &beta in &bps {
            code += (v > beta) as u8;
        }
        *c = code;
    }
}

/// [`codes_at`] for any number of basis functions and breakpoints.
pub(super) fn codes_any(z: &[f32], nb: usize, basis: &[f64; 3], breakpoints: &[f32], codes: &mut [u8]) {
    let w = codes.len();
    for (i, c) in codes.iter_mut().enumerate() {
        let mut v = z[i] as f64 * basis[0];
        for (k, &b) in basis.iter().enumerate().take(nb).skip(1) {
            v += z[k * w + i] as f64 * b;
        }
        *c = breakpoints.iter().filter(|&&beta| v as f32 > beta).count() as u8;
    }
}

/// Calls `f(i)` for every index where `a` and `b` differ, in increasing order (64
/// bytes compared at a time: patterns of neighbouring arcs differ in few neurons).
pub(super) fn for_each_difference(a: &[u8], b: &[u8], mut f: impl FnMut(usize)) {
    widest(
        #[inline(always)]
        || differences(a, b, &mut f),
    )
}

#[inline(always)]
fn differences(a: &[u8], b: &[u8], f: &mut impl FnMut(usize)) {
    // One bit per byte of a 64-byte chunk (the compiler makes it a few vector compares),
    // then one call per set bit.
    const CHUNK: usize = 64;
    // Equal lengths, so that both tails start at the same index.
    let n = a.len().min(b.len());
    let (mut xs, mut ys) = (a[..n].chunks_exact(CHUNK), b[..n].chunks_exact(CHUNK));
    let mut base = 0;
    for (x, y) in (&mut xs).zip(&mut ys) {
        let mut differ = 0u64;
        for j in 0..CHUNK {
            differ |= ((x[j] != y[j]) as u64) << j;
        }
        while differ != 0 {
            f(base + differ.trailing_zeros() as usize);
            differ &= differ - 1;
        }
        base += CHUNK;
    }
    for (j, (x, y)) in xs.remainder().iter().zip(ys.remainder()).enumerate() {
        if x != y {
            f(base + j);
        }
    }
}

/// Calls `f(i)` for every neuron whose pre-activation lies on different sides of `beta`
/// at the two ends of an arc (`start`, `end`), in increasing order.
pub(super) fn for_each_side_change(start: &[f64], end: &[f64], beta: f64, mut f: impl FnMut(usize)) {
    #[cfg(target_arch = "x86_64")]
    if avx512::available() {
        // SAFETY: the CPU has AVX-512, checked just above.
        return unsafe { avx512::for_each_side_change(start, end, beta, f) };
    }
    widest(
        #[inline(always)]
        || side_changes(start, end, beta, &mut f),
    )
}

#[inline(always)]
pub(super) fn side_changes(start: &[f64], end: &[f64], beta: f64, f: &mut impl FnMut(usize)) {
    const CHUNK: usize = 16;
    let changes = |s: f64, e: f64| (s > beta) != (e > beta);
    for (chunk, (s, e)) in start.chunks(CHUNK).zip(end.chunks(CHUNK)).enumerate() {
        // A branch-free test of the whole chunk first: side changes are rare.
        let any = (s.iter().zip(e)).fold(false, |any, (&s, &e)| any | changes(s, e));
        if any {
            (0..s.len())
                .filter(|&j| changes(s[j], e[j]))
                .for_each(|j| f(chunk * CHUNK + j));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specialised_codes_equal_the_general_loop() {
        let z: Vec<f32> = (0..3 * 37).map(|i| ((i * 7919) % 101) as f32 / 13.0 - 3.9).collect();
        let basis = [1.0, 0.37, -1.3];
        for bps in [&[0.0f32][..], &[-1.0, 1.0][..], &[0.0, 6.0, 7.0][..]] {
            for nb in [2, 3] {
                let (mut fast, mut slow) = (vec![9u8; 37], vec![9u8; 37]);
                codes_at(&z[..nb * 37], nb, &basis, bps, &mut fast);
                codes_any(&z[..nb * 37], nb, &basis, bps, &mut slow);
                assert_eq!(fast, slow, "nb {nb}, breakpoints {bps:?}");
                assert!(fast.iter().any(|&c| c != fast[0]), "a pattern to compare: {fast:?}");
            }
        }
    }

    #[test]
    fn differences_are_found_in_every_chunk_and_the_tail() {
        let a = vec![0u8; 150];
        let mut b = a.clone();
        let want = [0, 7, 8, 63, 64, 100, 127, 128, 140, 149];
        for i in want {
            b[i] = 1 + (i % 3) as u8;
        }
        let mut found = Vec::new();
        for_each_difference(&a, &b, |i| found.push(i));
        assert_eq!(found, want);
        found.clear();
        for_each_difference(&a[..21], &b[..21], |i| found.push(i));
        assert_eq!(found, [0, 7, 8], "a pattern shorter than one chunk");
        found.clear();
        for_each_difference(&a[..100], &b, |i| found.push(i));
        assert_eq!(
            found,
            [0, 7, 8, 63, 64],
            "patterns of different lengths: the shorter one's"
        );
    }

    #[test]
    fn side_changes_are_found_in_every_chunk_and_the_tail() {
        let start = vec![-1.0; 19];
        let mut end = start.clone();
        for i in [1, 8, 9, 18] {
            end[i] = 2.0;
        }
        end[3] = 0.5; // on the same side of 1.0 as −1
        let mut found = Vec::new();
        for_each_side_change(&start, &end, 0.25, |i| found.push(i));
        assert_eq!(found, [1, 3, 8, 9, 18]);
        found.clear();
        for_each_side_change(&start, &end, 1.0, |i| found.push(i));
        assert_eq!(found, [1, 8, 9, 18]);
    }
}
