//! Rank statistics for relating generalization gaps to metrics: Spearman's ρ, Kendall's
//! τ-b, Jiang et al.'s granulated Kendall τ, and the agreement fraction of paired designs
//! with a seeded bootstrap confidence interval; the conditional-mutual-information score
//! (Jiang et al. 2019, PGDL) lives in [`cmi`].

pub mod cmi;
pub use cmi::{Cmi, CmiNetwork, CmiTerm, CmiUndefined, CmiValue, conditional_mutual_information};

use crate::rng::{Stream, rng_for};
use rand::RngExt;
use std::collections::BTreeMap;

/// Average ranks (1-based; ties share the mean of their positions).
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && x[order[j + 1]] == x[order[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            r[k] = avg;
        }
        i = j + 1;
    }
    r
}

/// Pearson correlation; NaN when either side is constant or n < 2.
/// The median of finite values (the mean of the two middle ones for an even count); NaN
/// for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len() as f64;
    if x.len() < 2 {
        return f64::NAN;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    if sxx == 0.0 || syy == 0.0 {
        f64::NAN
    } else {
        sxy / (sxx * syy).sqrt()
    }
}

/// Spearman's ρ: Pearson correlation of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// Kendall's τ-b (tie-corrected): (C − D) / √((n₀ − n₁)(n₀ − n₂)).
pub fn kendall_tau(x: &[f64], y: &[f64]) -> f64 {
    assert_eq!(x.len(), y.len());
    let n = x.len();
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let dx = x[i].total_cmp(&x[j]) as i64;
            let dy = y[i].total_cmp(&y[j]) as i64;
            match (dx, dy) {
                (0, 0) => {
                    ties_x += 1;
                    ties_y += 1;
                }
                (0, _) => ties_x += 1,
                (_, 0) => ties_y += 1,
                _ if dx == dy => concordant += 1,
                _ => discordant += 1,
            }
        }
    }
    let n0 = (n * n.saturating_sub(1) / 2) as i64;
    let denom = (((n0 - ties_x) * (n0 - ties_y)) as f64).sqrt();
    if denom == 0.0 {
        f64::NAN
    } else {
        (concordant - discordant) as f64 / denom
    }
}

/// Jiang et al. (2020) granulated Kendall τ. `axes[k][i]` is trial i's value on
/// hyper-parameter axis k (as text). For each axis with more than one value, trials are
/// grouped by their values on all *other* axes; τ is computed within each group of ≥ 2
/// trials and averaged over groups (ψ_k); the result is the mean of ψ_k over those axes.
/// Returns (Ψ, [(axis index, ψ_k, groups, pairs of networks within the groups)]). A group
/// of two networks can only give τ = ±1, so callers judge Ψ by its pair count.
pub fn granulated_kendall(axes: &[Vec<String>], gap: &[f64], metric: &[f64]) -> (f64, Vec<(usize, f64, usize, usize)>) {
    let n = gap.len();
    let mut per_axis = Vec::new();
    for k in 0..axes.len() {
        let distinct: std::collections::HashSet<&String> = axes[k].iter().collect();
        if distinct.len() < 2 {
            continue;
        }
        let mut groups: BTreeMap<Vec<&String>, Vec<usize>> = BTreeMap::new();
        for i in 0..n {
            let key: Vec<&String> = (0..axes.len()).filter(|&a| a != k).map(|a| &axes[a][i]).collect();
            groups.entry(key).or_default().push(i);
        }
        let (taus, pairs): (Vec<f64>, Vec<usize>) = groups
            .values()
            .filter(|g| g.len() >= 2)
            .map(|g| {
                let (gx, gy): (Vec<f64>, Vec<f64>) = g.iter().map(|&i| (metric[i], gap[i])).unzip();
                (kendall_tau(&gx, &gy), g.len() * (g.len() - 1) / 2)
            })
            .filter(|(t, _)| t.is_finite())
            .unzip();
        if !taus.is_empty() {
            let mean = taus.iter().sum::<f64>() / taus.len() as f64;
            per_axis.push((k, mean, taus.len(), pairs.iter().sum()));
        }
    }
    let psi = if per_axis.is_empty() {
        f64::NAN
    } else {
        per_axis.iter().map(|p| p.1).sum::<f64>() / per_axis.len() as f64
    };
    (psi, per_axis)
}

/// Fraction of pairs in which the arm with the smaller gap also has the smaller metric,
/// i.e. sign(Δgap) = sign(Δmetric); pairs tied in either are left out. With a percentile
/// bootstrap interval (`resamples` draws from the `Sweep` stream of `seed`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Agreement {
    pub fraction: f64,
    pub pairs: usize,
    pub ci_low: f64,
    pub ci_high: f64,
}

pub fn pair_agreement(gap_deltas: &[f64], metric_deltas: &[f64], resamples: usize, seed: u64) -> Agreement {
    let agree: Vec<f64> = gap_deltas
        .iter()
        .zip(metric_deltas)
        .filter(|(g, m)| **g != 0.0 && **m != 0.0 && g.is_finite() && m.is_finite())
        .map(|(g, m)| (g.signum() == m.signum()) as u8 as f64)
        .collect();
    let n = agree.len();
    if n == 0 {
        return Agreement {
            fraction: f64::NAN,
            pairs: 0,
            ci_low: f64::NAN,
            ci_high: f64::NAN,
        };
    }
    let fraction = agree.iter().sum::<f64>() / n as f64;
    let mut rng = rng_for(seed, Stream::Sweep);
    let mut boots: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| agree[rng.random_range(0..n)]).sum::<f64>() / n as f64)
        .collect();
    boots.sort_by(f64::total_cmp);
    let q = |p: f64| boots[((p * (resamples - 1) as f64).round() as usize).min(resamples - 1)];
    Agreement {
        fraction,
        pairs: n,
        ci_low: q(0.025),
        ci_high: q(0.975),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[0.4, 0.1, 0.3, 0.2]), 0.25);
        assert_eq!(median(&[0.3, f64::NAN, 0.1, 0.2]), 0.2);
        assert!(median(&[]).is_nan());
    }

    use super::*;

    // Every expected value below was worked out by hand.

    #[test]
    fn ranks_average_ties() {
        assert_eq!(ranks(&[10.0, 30.0, 20.0, 20.0]), vec![1.0, 4.0, 2.5, 2.5]);
    }

    #[test]
    fn spearman_by_hand() {
        // x ranks 1..5, y ranks (2,1,4,3,5): d² = 1+1+1+1+0 = 4 → ρ = 1 − 6·4/(5·24) = 0.8.
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[20.0, 10.0, 40.0, 30.0, 50.0]);
        assert!((rho - 0.8).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
    }

    #[test]
    fn kendall_by_hand() {
        // Same data: 10 pairs, discordant (1,2) and (3,4): τ = (8 − 2)/10 = 0.6.
        let tau = kendall_tau(&[1.0, 2.0, 3.0, 4.0, 5.0], &[20.0, 10.0, 40.0, 30.0, 50.0]);
        assert!((tau - 0.6).abs() < 1e-12);
        // With a tie in x: x = (1,1,2), y = (1,2,3): pairs (0,1) tie in x; (0,2),(1,2)
        // concordant. τ-b = 2 / √((3−1)(3−0)) = 2/√6.
        let tau = kendall_tau(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]);
        assert!((tau - 2.0 / 6f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn granulated_kendall_by_hand() {
        // Two axes (width w ∈ {a,b}, seed s ∈ {1,2}). Metric follows gap when width varies
        // (τ = +1 in both seed groups) but not when the seed varies (τ = −1 in both width
        // groups). Ψ = (1 + (−1)) / 2 = 0.
        let width: Vec<String> = ["a", "b", "a", "b"].iter().map(|s| s.to_string()).collect();
        let seed: Vec<String> = ["1", "1", "2", "2"].iter().map(|s| s.to_string()).collect();
        let gap = [0.1, 0.2, 0.3, 0.4];
        let metric = [2.0, 3.0, 1.0, 2.5];
        let (psi, per) = granulated_kendall(&[width, seed], &gap, &metric);
        assert_eq!(per, vec![(0, 1.0, 2, 2), (1, -1.0, 2, 2)]);
        assert!(psi.abs() < 1e-12);
    }

    #[test]
    fn agreement_fraction_and_interval() {
        let gaps = [0.1, 0.2, -0.1, 0.3, 0.0];
        let metrics = [1.0, 2.0, 0.5, -1.0, 3.0];
        // Pair 5 has a zero gap difference and is left out; 2 of the other 4 agree.
        let a = pair_agreement(&gaps, &metrics, 2000, 1);
        assert_eq!(a.pairs, 4);
        assert!((a.fraction - 0.5).abs() < 1e-12);
        assert!(a.ci_low <= 0.5 && a.ci_high >= 0.5 && a.ci_low >= 0.0 && a.ci_high <= 1.0);
        let all = pair_agreement(&[1.0; 10], &[2.0; 10], 500, 1);
        assert_eq!((all.fraction, all.ci_low, all.ci_high), (1.0, 1.0, 1.0));
        assert_eq!(
            pair_agreement(&gaps, &metrics, 2000, 1),
            a,
            "seeded bootstrap is reproducible"
        );
    }
}
