//! The analytic relation between a point's cross-entropy and its Jacobian norms (the
//! paper's appendix A.3), as exact curves under its assumption.
//!
//! With `g_i = ∂f_i/∂x`, `J = A G`, `A = diag σ − σσᵀ`. **Assume** the rows g_i are
//! orthogonal with equal norms C (`G Gᵀ = C² I`). Then, writing `s = σ_y = e^{−l}`:
//!
//! * target row: `‖J_y‖² = C² s² ((1 − s)² + Σ_{i≠y} σ_i²)`. Given s alone,
//!   `Σ_{i≠y} σ_i²` ranges over `[(1−s)²/(n−1), (1−s)²]` (spread evenly / all on one
//!   class), so `‖J_y‖/C ∈ [s(1−s)·√(n/(n−1)), √2·s(1−s)]`;
//! * full norm: `‖J‖_F² = C² ‖A‖_F² = C² (Σσ_i² − 2Σσ_i³ + (Σσ_i²)²)`. Given s, the
//!   range of `‖A‖_F` over all ways to spread `1 − s` over the other classes is found
//!   exactly: at an extremum every non-zero σ_i (i ≠ y) solves the same quadratic (the
//!   Lagrange condition `2σ − 6σ² + 4(Σσ²)σ = λ`), so it takes at most two distinct
//!   values; the range is the extreme over k classes at u and m classes at v (rest 0),
//!   `k·u + m·v = 1 − s`, each a one-dimensional search. Neither the maximum-entropy case
//!   (the paper's "upper estimate", also reported) nor the one-class case is an extreme
//!   for every s. `‖J‖_F ≥ ‖J_y‖` always.
//!
//! C is estimated per network as the median over points of `‖G‖_F/√n` (the RMS row norm).

/// `‖A‖_F²` for a probability vector σ.
pub fn a_frobenius_sq(sigma: &[f64]) -> f64 {
    let s2: f64 = sigma.iter().map(|s| s * s).sum();
    let s3: f64 = sigma.iter().map(|s| s * s * s).sum();
    s2 - 2.0 * s3 + s2 * s2
}

/// `[lower, upper]` of `‖J_y‖/C` at loss `l` with `n` classes.
pub fn target_row_range(loss: f64, n: usize) -> (f64, f64) {
    let s = (-loss).exp();
    let base = s * (1.0 - s);
    (base * (n as f64 / (n as f64 - 1.0)).sqrt(), base * 2f64.sqrt())
}

/// `√F(s)`: `‖A‖_F` at maximum entropy, the paper's estimate of `‖J‖_F/C`.
pub fn max_entropy_full_norm(loss: f64, n: usize) -> f64 {
    let s = (-loss).exp();
    let q = (1.0 - s) / (n as f64 - 1.0);
    let s2 = s * s + (n - 1) as f64 * q * q;
    let s3 = s * s * s + (n - 1) as f64 * q * q * q;
    (s2 - 2.0 * s3 + s2 * s2).max(0.0).sqrt()
}

/// `‖A‖_F²` when σ_y = s, k classes hold u, m classes hold v, the rest 0.
fn two_level(s: f64, k: f64, u: f64, m: f64, v: f64) -> f64 {
    let s2 = s * s + k * u * u + m * v * v;
    let s3 = s * s * s + k * u * u * u + m * v * v * v;
    s2 - 2.0 * s3 + s2 * s2
}

/// Golden-section search for the minimum of `f` on [a, b].
fn golden_min(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..80 {
        let (c, d) = (b - g * (b - a), a + g * (b - a));
        if f(c) < f(d) { b = d } else { a = c }
    }
    f(0.5 * (a + b))
}

/// The exact `[min, max]` of `‖J‖_F/C = ‖A‖_F` over all σ with σ_y = e^{−loss} (n classes).
pub fn full_norm_range(loss: f64, n: usize) -> (f64, f64) {
    let s = (-loss).exp();
    let rest = 1.0 - s;
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    const GRID: usize = 24;
    for k in 1..n {
        for m in 0..n - k {
            let (kf, mf) = (k as f64, m as f64);
            if m == 0 {
                let v = two_level(s, kf, rest / kf, 0.0, 0.0);
                (lo, hi) = (lo.min(v), hi.max(v));
                continue;
            }
            let f = |u: f64| two_level(s, kf, u, mf, ((rest - kf * u) / mf).max(0.0));
            let top = rest / kf;
            let vals: Vec<f64> = (0..=GRID).map(|i| f(top * i as f64 / GRID as f64)).collect();
            let (imin, imax) = (0..=GRID).fold((0, 0), |(a, b), i| {
                (
                    if vals[i] < vals[a] { i } else { a },
                    if vals[i] > vals[b] { i } else { b },
                )
            });
            let bracket = |i: usize| {
                (
                    top * i.saturating_sub(1) as f64 / GRID as f64,
                    top * (i + 1).min(GRID) as f64 / GRID as f64,
                )
            };
            let (a, b) = bracket(imin);
            lo = lo.min(golden_min(f, a, b)).min(vals[imin]);
            let (a, b) = bracket(imax);
            hi = hi.max(-golden_min(|u| -f(u), a, b)).max(vals[imax]);
        }
    }
    (lo.max(0.0).sqrt(), hi.max(0.0).sqrt())
}

/// [`full_norm_range`] tabulated on a log-spaced grid of losses and interpolated, for
/// classifying many points (the exact search costs O(n²) per loss).
pub struct FullNormRanges {
    n: usize,
    ranges: Vec<(f64, f64)>,
}

impl FullNormRanges {
    const LO: f64 = -9.0;
    const HI: f64 = 1.5;
    const STEPS: usize = 420;

    pub fn new(n: usize) -> Self {
        let ranges = (0..=Self::STEPS)
            .map(|i| {
                full_norm_range(
                    10f64.powf(Self::LO + (Self::HI - Self::LO) * i as f64 / Self::STEPS as f64),
                    n,
                )
            })
            .collect();
        FullNormRanges { n, ranges }
    }

    /// The range at `loss`, linearly interpolated in log10(loss); outside the table, exact.
    pub fn at(&self, loss: f64) -> (f64, f64) {
        let e = loss.log10();
        if !(e > Self::LO && e < Self::HI) {
            return full_norm_range(loss, self.n);
        }
        let x = (e - Self::LO) / (Self::HI - Self::LO) * Self::STEPS as f64;
        let i = (x.floor() as usize).min(Self::STEPS - 1);
        let t = x - i as f64;
        let (a, b) = (self.ranges[i], self.ranges[i + 1]);
        // Geometric interpolation: the ranges vary like powers of the loss.
        let lerp = |x: f64, y: f64| {
            if x > 0.0 && y > 0.0 {
                (x.ln() + t * (y.ln() - x.ln())).exp()
            } else {
                x + t * (y - x)
            }
        };
        (lerp(a.0, b.0), lerp(a.1, b.1))
    }
}

/// C as the median over points of `‖G‖_F/√n`.
pub fn estimate_c(logit_jacobian_norms: &[f64], n: usize) -> f64 {
    let mut v: Vec<f64> = logit_jacobian_norms
        .iter()
        .filter(|x| x.is_finite())
        .map(|g| g / (n as f64).sqrt())
        .collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};
    use rand::RngExt;

    #[test]
    fn ranges_hold_for_every_distribution_with_the_given_target_probability() {
        // Random σ with σ_y = s fixed: the assumption G Gᵀ = C² I makes ‖J‖/C = ‖A‖_F and
        // ‖J_y‖/C = ‖A_y‖, which must fall inside the stated ranges.
        let mut rng = rng_for(1, Stream::Sweep);
        for n in [2usize, 3, 10, 30] {
            for _ in 0..500 {
                let s: f64 = rng.random_range(0.001..0.999);
                let raw: Vec<f64> = (1..n)
                    .map(|_| rng.random::<f64>().powi(rng.random_range(1..6)))
                    .collect();
                let total: f64 = raw.iter().sum();
                let mut sigma = vec![s];
                sigma.extend(raw.iter().map(|r| (1.0 - s) * r / total));
                let loss = -s.ln();
                let full = a_frobenius_sq(&sigma).sqrt();
                let (lo, hi) = full_norm_range(loss, n);
                assert!(
                    full >= lo - 1e-12 && full <= hi + 1e-12,
                    "n={n} s={s}: ‖A‖={full} not in [{lo}, {hi}]"
                );
                let row = (s * s * ((1.0 - s).powi(2) + sigma[1..].iter().map(|v| v * v).sum::<f64>())).sqrt();
                let (rlo, rhi) = target_row_range(loss, n);
                assert!(
                    row >= rlo - 1e-12 && row <= rhi + 1e-12,
                    "n={n}: ‖A_y‖={row} not in [{rlo}, {rhi}]"
                );
                assert!(row <= full + 1e-12);
            }
        }
    }

    #[test]
    fn ranges_contain_the_closed_form_cases_and_the_table_interpolates() {
        for (s, n) in [(0.3f64, 10usize), (0.01, 3), (0.9, 10), (0.5, 2)] {
            let loss = -s.ln();
            let (lo, hi) = full_norm_range(loss, n);
            let mut one_class = vec![0.0; n];
            one_class[0] = s;
            one_class[1] = 1.0 - s;
            let c1 = a_frobenius_sq(&one_class).sqrt();
            assert!((c1 - 2.0 * s * (1.0 - s)).abs() < 1e-12);
            let me = max_entropy_full_norm(loss, n);
            assert!(lo <= c1 + 1e-12 && c1 <= hi + 1e-12 && lo <= me + 1e-12 && me <= hi + 1e-12);
            let (rlo, _) = target_row_range(loss, n);
            assert!(rlo <= lo + 1e-12, "‖J‖ ≥ ‖J_y‖");
        }
        let table = FullNormRanges::new(10);
        for loss in [1e-6, 1e-3, 0.05, 0.7, 2.0, 9.0] {
            let (a, b) = (table.at(loss), full_norm_range(loss, 10));
            // 0.5%: ample for classifying points against a range set by an estimated C.
            assert!(
                (a.0 - b.0).abs() <= 5e-3 * b.0 && (a.1 - b.1).abs() <= 5e-3 * b.1,
                "{loss}: {a:?} vs {b:?}"
            );
        }
        assert_eq!(estimate_c(&[3.0, 1.0, 2.0], 4), 1.0);
    }
}
