//! The analytic relation between a point's cross-entropy and its Jacobian norms (SPEC §6,
//! the paper's A.3), as exact curves under its assumption.
//!
//! With `g_i = ∂f_i/∂x`, `J = A G`, `A = diag σ − σσᵀ`. **Assume** the rows g_i are
//! orthogonal with equal norms C (`G Gᵀ = C² I`). Then, writing `s = σ_y = e^{−l}`:
//!
//! * target row: `‖J_y‖² = C² s² ((1 − s)² + Σ_{i≠y} σ_i²)`. Given s alone,
//!   `Σ_{i≠y} σ_i²` ranges over `[(1−s)²/(n−1), (1−s)²]` (spread evenly / all on one
//!   class), so `‖J_y‖/C ∈ [s(1−s)·√(n/(n−1)), √2·s(1−s)]`;
//! * full norm: `‖J‖_F² = C² ‖A‖_F² = C² (Σσ_i² − 2Σσ_i³ + (Σσ_i²)²)`. Given s, its
//!   extremes are the maximum-entropy case (`σ_i = (1−s)/(n−1)` for i ≠ y, giving
//!   `√F(s)`) and the case with the remaining mass on one class (`‖A‖_F = 2s(1−s)`):
//!   `‖J‖_F/C` lies between `min` and `max` of the two. (Which one is larger depends on s:
//!   for confident mistakes, s → 0, the one-class case is the smaller.) `‖J‖_F ≥ ‖J_y‖`
//!   in all cases. The unit tests check these ranges on random distributions.
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

/// `[lower, upper]` of `‖J‖_F/C` at loss `l` with `n` classes.
pub fn full_norm_range(loss: f64, n: usize) -> (f64, f64) {
    let s = (-loss).exp();
    let q = (1.0 - s) / (n as f64 - 1.0);
    let mut sigma = vec![q; n];
    sigma[0] = s;
    let (spread, one_class) = (a_frobenius_sq(&sigma).max(0.0).sqrt(), 2.0 * s * (1.0 - s));
    (spread.min(one_class), spread.max(one_class))
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
        for n in [2usize, 3, 10, 100] {
            for _ in 0..2000 {
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
    fn ranges_are_attained_at_their_extremes() {
        let (s, n) = (0.3f64, 10usize);
        let loss = -s.ln();
        let (lo, hi) = full_norm_range(loss, n);
        let mut two_class = vec![0.0; n];
        two_class[0] = s;
        two_class[1] = 1.0 - s;
        assert!((a_frobenius_sq(&two_class).sqrt() - hi).abs() < 1e-12);
        let maxent: Vec<f64> = std::iter::once(s)
            .chain(std::iter::repeat_n((1.0 - s) / 9.0, 9))
            .collect();
        assert!((a_frobenius_sq(&maxent).sqrt() - lo).abs() < 1e-12);
        assert_eq!(estimate_c(&[3.0, 1.0, 2.0], 4), 1.0);
    }
}
