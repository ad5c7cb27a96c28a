//! The rank-1 walk's per-arc loops written with AVX-512 intrinsics: region codes and
//! pre-activation values at a point of an arc, side changes between an arc's ends, start
//! sides, linear pieces, and a block's rank-1 update and rounding. The compiler's own
//! vectorization of the portable loops (in `codes`, `roots`, `sides` and `chain`) ran them
//! 1.5–3× slower than these, and together they are about half of the walk's time outside
//! the products.
//!
//! Each function does the portable loop's operations in the same order, element by
//! element (a multiply, then an add, never fused; conversions round to nearest as `as`
//! does), so it gives the same bits; the tests below check that on every path against the
//! portable loops, tails and non-finite values included. Callers reach these only through
//! [`available`].

use std::arch::x86_64::*;

/// Whether this CPU runs these functions (AVX-512 F, BW and VL).
#[inline(always)]
pub(super) fn available() -> bool {
    crate::compute::simd::has_avx512()
}

/// `out[i] = Σ_k z[k·w + i] · basis[k]` over `nb` (2 or 3) basis functions, summed in
/// the order of k (as the portable `roots::values_with`).
///
/// # Safety
/// Only where [`available`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn values_at(z: &[f32], nb: usize, basis: &[f64; 3], out: &mut [f64]) {
    let w = out.len();
    assert!((2..=3).contains(&nb) && z.len() >= nb * w);
    let full = w / 8 * 8;
    let b = splat3(basis);
    for i in (0..full).step_by(8) {
        // SAFETY: i + 8 ≤ w, and every row k < nb holds w numbers (asserted above).
        unsafe {
            let v = value8(z.as_ptr().add(i), w, nb, &b);
            _mm512_storeu_pd(out.as_mut_ptr().add(i), v);
        }
    }
    for (i, o) in out.iter_mut().enumerate().skip(full) {
        *o = value(z, w, nb, basis, i);
    }
}

/// The pre-activations of 8 neurons, `Σ_k z[k·w] · b[k]` from `z` on (k < nb, 2 or 3).
///
/// # Safety
/// `z` points at `nb` rows of `w` float32 with 8 readable from each row's start.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn value8(z: *const f32, w: usize, nb: usize, b: &[__m512d; 3]) -> __m512d {
    // SAFETY: as the caller promises.
    unsafe {
        let mut v = _mm512_mul_pd(widen(z), b[0]);
        v = _mm512_add_pd(v, _mm512_mul_pd(widen(z.add(w)), b[1]));
        if nb == 3 {
            v = _mm512_add_pd(v, _mm512_mul_pd(widen(z.add(2 * w)), b[2]));
        }
        v
    }
}

/// One neuron's pre-activation as the portable loops compute it.
#[inline(always)]
fn value(z: &[f32], w: usize, nb: usize, basis: &[f64; 3], i: usize) -> f64 {
    let mut v = z[i] as f64 * basis[0];
    v += z[w + i] as f64 * basis[1];
    if nb == 3 {
        v += z[2 * w + i] as f64 * basis[2];
    }
    v
}

/// Eight float32 at `p`, widened to float64.
///
/// # Safety
/// `p` points at 8 readable float32, on a CPU with AVX-512 F.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
unsafe fn widen(p: *const f32) -> __m512d {
    // SAFETY: as the caller promises.
    unsafe { _mm512_cvtps_pd(_mm256_loadu_ps(p)) }
}

/// `[set1(x[0]), set1(x[1]), set1(x[2])]`.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
fn splat3(x: &[f64; 3]) -> [__m512d; 3] {
    [_mm512_set1_pd(x[0]), _mm512_set1_pd(x[1]), _mm512_set1_pd(x[2])]
}

/// The region code of every neuron (the number of `breakpoints`, one or two, strictly
/// below its pre-activation rounded to float32) at the point with basis values `basis`,
/// from coefficients `z` (`nb × w`, 2 or 3 rows; w = `codes.len()`), as the portable
/// `codes::codes_with` and `codes::codes_any`.
///
/// # Safety
/// Only where [`available`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn codes_at(z: &[f32], nb: usize, basis: &[f64; 3], breakpoints: &[f32], codes: &mut [u8]) {
    let w = codes.len();
    let two = breakpoints.len() == 2;
    assert!((2..=3).contains(&nb) && (1..=2).contains(&breakpoints.len()) && z.len() >= nb * w);
    let full = w / 8 * 8;
    let b = splat3(basis);
    let (beta0, beta1) = (
        _mm256_set1_ps(breakpoints[0]),
        _mm256_set1_ps(breakpoints[breakpoints.len() - 1]),
    );
    let one = _mm_set1_epi8(1);
    for i in (0..full).step_by(8) {
        // SAFETY: i + 8 ≤ w, and every row k < nb holds w numbers (asserted above).
        unsafe {
            let v = _mm512_cvtpd_ps(value8(z.as_ptr().add(i), w, nb, &b));
            let mut code = _mm_maskz_mov_epi8(_mm256_cmp_ps_mask::<_CMP_GT_OQ>(v, beta0) as u16, one);
            if two {
                let above = _mm256_cmp_ps_mask::<_CMP_GT_OQ>(v, beta1);
                code = _mm_add_epi8(code, _mm_maskz_mov_epi8(above as u16, one));
            }
            _mm_storel_epi64(codes.as_mut_ptr().add(i).cast(), code);
        }
    }
    for (i, code) in codes.iter_mut().enumerate().skip(full) {
        let v = value(z, w, nb, basis, i) as f32;
        *code = (v > breakpoints[0]) as u8 + (two && v > breakpoints[1]) as u8;
    }
}

/// Whether each neuron's pre-activation `z[i] + z[w + i]·t` (coefficients `2 × w`) is
/// above each breakpoint, into `out` (`breakpoints.len()` runs of `⌈w/64⌉` words), as
/// `sides::write_portable`.
///
/// # Safety
/// Only where [`available`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn start_sides(z: &[f32], t: f64, breakpoints: &[f32], out: &mut [u64]) {
    let w = z.len() / 2;
    let words = w.div_ceil(64);
    assert!(out.len() >= breakpoints.len() * words && breakpoints.len() <= 2);
    let basis = [1.0, t, 0.0];
    let b = splat3(&basis);
    let beta = [
        _mm512_set1_pd(breakpoints.first().map_or(0.0, |&x| x as f64)),
        _mm512_set1_pd(breakpoints.last().map_or(0.0, |&x| x as f64)),
    ];
    for k in 0..words {
        let (i0, i1) = (k * 64, ((k + 1) * 64).min(w));
        let full = i0 + (i1 - i0) / 8 * 8;
        let mut word = [0u64; 2];
        for i in (i0..full).step_by(8) {
            // SAFETY: i + 8 ≤ w, and z holds two rows of w.
            let v = unsafe { value8(z.as_ptr().add(i), w, 2, &b) };
            word[0] |= (_mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, beta[0]) as u64) << (i - i0);
            word[1] |= (_mm512_cmp_pd_mask::<_CMP_GT_OQ>(v, beta[1]) as u64) << (i - i0);
        }
        for i in full..i1 {
            let v = value(z, w, 2, &basis, i);
            for (n, &x) in breakpoints.iter().enumerate() {
                word[n] |= ((v > x as f64) as u64) << (i - i0);
            }
        }
        for (n, &word) in word.iter().enumerate().take(breakpoints.len()) {
            out[n * words + k] = word;
        }
    }
}

/// `out[i] = slope[codes[i] & 3] · x[i]`, plus `offset[codes[i] & 3]` when
/// `with_offset`, as `codes::Pieces::apply_portable`.
///
/// # Safety
/// Only where [`available`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn through_pieces(
    slope: &[f32; 4],
    offset: &[f32; 4],
    codes: &[u8],
    x: &[f32],
    with_offset: bool,
    out: &mut [f32],
) {
    let n = out.len().min(x.len()).min(codes.len());
    let full = n / 16 * 16;
    let table = |t: &[f32; 4]| _mm512_setr_ps(t[0], t[1], t[2], t[3], 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.);
    let (slopes, offsets) = (table(slope), table(offset));
    let three = _mm512_set1_epi32(3);
    for i in (0..full).step_by(16) {
        // SAFETY: i + 16 ≤ n ≤ every length.
        unsafe {
            let code = _mm512_and_si512(
                _mm512_cvtepu8_epi32(_mm_loadu_si128(codes.as_ptr().add(i).cast())),
                three,
            );
            let mut v = _mm512_mul_ps(_mm512_permutexvar_ps(code, slopes), _mm512_loadu_ps(x.as_ptr().add(i)));
            if with_offset {
                v = _mm512_add_ps(v, _mm512_permutexvar_ps(code, offsets));
            }
            _mm512_storeu_ps(out.as_mut_ptr().add(i), v);
        }
    }
    for i in full..n {
        let code = codes[i] as usize & 3;
        let v = slope[code] * x[i];
        out[i] = if with_offset { v + offset[code] } else { v };
    }
}

/// Calls `f(i)` for every neuron whose pre-activation lies on different sides of `beta`
/// at the two ends of an arc (`start`, `end`), in increasing order.
///
/// # Safety
/// Only where [`available`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn for_each_side_change(start: &[f64], end: &[f64], beta: f64, mut f: impl FnMut(usize)) {
    let n = start.len().min(end.len());
    let full = n / 8 * 8;
    let b = _mm512_set1_pd(beta);
    for i in (0..full).step_by(8) {
        // SAFETY: i + 8 ≤ n ≤ both lengths.
        let (s, e) = unsafe {
            (
                _mm512_loadu_pd(start.as_ptr().add(i)),
                _mm512_loadu_pd(end.as_ptr().add(i)),
            )
        };
        let mut changed = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(s, b) ^ _mm512_cmp_pd_mask::<_CMP_GT_OQ>(e, b);
        while changed != 0 {
            f(i + changed.trailing_zeros() as usize);
            changed &= changed - 1;
        }
    }
    for i in full..n {
        if (start[i] > beta) != (end[i] > beta) {
            f(i);
        }
    }
}

/// `acc += δ ⊗ d` for the `acc.len() / d.len()` (2 or 3) basis functions, each product
/// rounded and then added, as `chain::add_term`.
///
/// # Safety
/// Only where [`available`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn add_term(acc: &mut [f64], delta: [f64; 3], d: &[f32]) {
    let w = d.len();
    let nb = acc.len() / w.max(1);
    assert!((2..=3).contains(&nb) && acc.len() == nb * w);
    let full = w / 8 * 8;
    let dv = splat3(&delta);
    for i in (0..full).step_by(8) {
        // SAFETY: i + 8 ≤ w, and acc holds nb rows of w (asserted above).
        unsafe {
            let x = widen(d.as_ptr().add(i));
            let a = acc.as_mut_ptr().add(i);
            _mm512_storeu_pd(a, _mm512_add_pd(_mm512_loadu_pd(a), _mm512_mul_pd(dv[0], x)));
            let a = a.add(w);
            _mm512_storeu_pd(a, _mm512_add_pd(_mm512_loadu_pd(a), _mm512_mul_pd(dv[1], x)));
            if nb == 3 {
                let a = a.add(w);
                _mm512_storeu_pd(a, _mm512_add_pd(_mm512_loadu_pd(a), _mm512_mul_pd(dv[2], x)));
            }
        }
    }
    for i in full..w {
        let x = d[i] as f64;
        acc[i] += delta[0] * x;
        acc[w + i] += delta[1] * x;
        if nb == 3 {
            acc[2 * w + i] += delta[2] * x;
        }
    }
}

/// Rounds `acc` into `dst` (float32) and returns whether every rounded value is finite,
/// as `chain::round_into`.
///
/// # Safety
/// Only where [`available`].
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
pub(super) unsafe fn round_into(dst: &mut [f32], acc: &[f64]) -> bool {
    let n = dst.len().min(acc.len());
    let full = n / 8 * 8;
    let exponent = _mm256_set1_epi32(0x7f80_0000);
    let mut not_finite: u8 = 0;
    for i in (0..full).step_by(8) {
        // SAFETY: i + 8 ≤ n ≤ both lengths.
        unsafe {
            let v = _mm512_cvtpd_ps(_mm512_loadu_pd(acc.as_ptr().add(i)));
            let bits = _mm256_and_si256(_mm256_castps_si256(v), exponent);
            not_finite |= _mm256_cmpeq_epi32_mask(bits, exponent);
            _mm256_storeu_ps(dst.as_mut_ptr().add(i), v);
        }
    }
    for i in full..n {
        let v = acc[i] as f32;
        not_finite |= !v.is_finite() as u8;
        dst[i] = v;
    }
    not_finite == 0
}

#[cfg(test)]
mod tests {
    use super::super::{chain, codes, roots};
    use super::*;

    /// Float32 values that probe every edge: the breakpoints themselves (0, ±1, 6), signed
    /// zeros, tiny and huge magnitudes, infinities and NaN, among ordinary ones.
    fn probe(n: usize, seed: u32) -> Vec<f32> {
        const EDGES: [f32; 12] = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            6.0,
            1e-40,
            -3e38,
            3e38,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            0.5,
        ];
        (0..n as u32)
            .map(|i| {
                let h = (i ^ seed).wrapping_mul(2_654_435_761).rotate_left(13);
                match h % 4 {
                    0 => EDGES[(h / 4) as usize % EDGES.len()],
                    _ => (h % 20_011) as f32 / 1000.0 - 10.0,
                }
            })
            .collect()
    }

    /// The bits of every value, every NaN as one: which NaN an operation returns when both
    /// operands are NaN depends on their order, which the compiler may swap in the
    /// portable loop's additions; every NaN is reported alike.
    fn bits64(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| if x.is_nan() { 1 } else { x.to_bits() }).collect()
    }

    /// [`bits64`] for float32.
    fn bits32(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| if x.is_nan() { 1 } else { x.to_bits() }).collect()
    }

    const WIDTHS: [usize; 7] = [1, 7, 8, 9, 16, 37, 200];
    const BASES: [[f64; 3]; 3] = [[1.0, 0.25, 0.0], [1.0, -0.6, 0.8], [1.0, 1e300, -1e-300]];

    /// Every kernel against its portable loop, bit for bit, for 2 and 3 basis functions,
    /// widths with and without a tail, and one or two breakpoints.
    #[test]
    fn each_kernel_gives_the_portable_loops_bits() {
        if !available() {
            eprintln!("no AVX-512 on this CPU: nothing to compare");
            return;
        }
        for (seed, w) in WIDTHS.into_iter().enumerate() {
            for nb in [2, 3] {
                let z = probe(nb * w, seed as u32);
                for basis in BASES {
                    let (mut fast, mut slow) = (vec![0.0; w], vec![0.0; w]);
                    // SAFETY: available() was checked above (for every call below).
                    unsafe { values_at(&z, nb, &basis, &mut fast) };
                    roots::values_with(&z, nb, &basis, &mut slow);
                    assert_eq!(bits64(&fast), bits64(&slow), "values, w {w} nb {nb} {basis:?}");
                    for bps in [&[0.0f32][..], &[-1.0, 1.0][..], &[0.0, 6.0][..]] {
                        let (mut fast, mut slow) = (vec![9u8; w], vec![9u8; w]);
                        unsafe { codes_at(&z, nb, &basis, bps, &mut fast) };
                        codes::codes_any(&z, nb, &basis, bps, &mut slow);
                        assert_eq!(fast, slow, "codes, w {w} nb {nb} {basis:?} {bps:?}");
                    }
                }
                let d = probe(w, 7 + seed as u32);
                let start: Vec<f64> = probe(nb * w, 99 + seed as u32)
                    .iter()
                    .map(|&v| v as f64 * 1e10)
                    .collect();
                let (mut fast, mut slow) = (start.clone(), start.clone());
                for delta in [[0.5, -2.0, 3.0], [1e-30, 7.0, -0.0], [f64::MAX, 1.0, 1.0]] {
                    unsafe { add_term(&mut fast, delta, &d) };
                    chain::add_term(&mut slow, delta, &d);
                    assert_eq!(bits64(&fast), bits64(&slow), "add_term, w {w} nb {nb} {delta:?}");
                }
                let acc: Vec<f64> = (start.iter().zip(probe(nb * w, 5 + seed as u32)))
                    .map(|(&a, b)| if b == 0.0 { 3.5e38 } else { a })
                    .collect();
                for acc in [&acc[..], &start.iter().map(|v| v * 1e-30).collect::<Vec<_>>()[..]] {
                    let (mut fast, mut slow) = (vec![0.0f32; acc.len()], vec![0.0f32; acc.len()]);
                    let finite = unsafe { round_into(&mut fast, acc) };
                    assert_eq!(
                        finite,
                        chain::round_into(&mut slow, acc),
                        "round_into's answer, w {w} nb {nb}"
                    );
                    assert_eq!(bits32(&fast), bits32(&slow), "round_into, w {w} nb {nb}");
                }
            }
        }
    }

    #[test]
    fn pieces_apply_as_the_portable_loop() {
        if !available() {
            return;
        }
        for act in crate::net::Activation::ALL
            .into_iter()
            .filter(|a| a.is_piecewise_linear())
        {
            let pieces = codes::Pieces::of(act);
            for (seed, w) in WIDTHS.into_iter().enumerate() {
                let x = probe(w, 3 + seed as u32);
                let codes: Vec<u8> = (0..w).map(|i| ((i * 5 + seed) % 4) as u8).collect();
                for with_offset in [false, true] {
                    let (mut fast, mut slow) = (vec![9.0f32; w], vec![9.0f32; w]);
                    pieces.apply(&codes, &x, with_offset, &mut fast);
                    pieces.apply_portable(&codes, &x, with_offset, &mut slow);
                    assert_eq!(bits32(&fast), bits32(&slow), "{act} w {w} offset {with_offset}");
                }
            }
        }
    }

    #[test]
    fn side_changes_are_those_of_the_portable_loop() {
        if !available() {
            return;
        }
        for (seed, w) in WIDTHS.into_iter().enumerate() {
            let start: Vec<f64> = probe(w, seed as u32).iter().map(|&v| v as f64).collect();
            let end: Vec<f64> = probe(w, 50 + seed as u32).iter().map(|&v| v as f64).collect();
            for beta in [0.0, -1.0, 1.0, 6.0] {
                let (mut fast, mut slow) = (Vec::new(), Vec::new());
                // SAFETY: available() was checked above.
                unsafe { for_each_side_change(&start, &end, beta, |i| fast.push(i)) };
                codes::side_changes(&start, &end, beta, &mut |i| slow.push(i));
                assert_eq!(fast, slow, "w {w} β {beta}");
                assert!(w < 16 || !fast.is_empty(), "w {w}: a change to find");
            }
        }
    }
}
