//! How a spec's axes become base configurations (as one value index per axis): every
//! combination (grid), distinct random draws (random), or random bases each varied along
//! one axis at a time (granulated); and the bounded rule by which `prefer_small` draws
//! small widths and depths more often.

use super::{AXIS_COUNT, Axes, Mode, SweepSpec};
use crate::rng::{Stream, rng_for};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use std::collections::HashSet;

/// One value index per axis, in [`Axes::NAMES`] order.
pub type AxisIndices = [usize; AXIS_COUNT];

/// Smallest share of the draws any width (or depth) gets under `prefer_small`.
pub const MIN_SHARE: f64 = 0.01;
/// Largest share of the draws any width (or depth) gets under `prefer_small`.
pub const MAX_SHARE: f64 = 0.25;

/// Failed attempts at a new configuration with a planned width and depth before they are
/// drawn freely too (only a spec asking for nearly every combination gets there).
const PLANNED_TRIES: usize = 100;

/// The share of draws each value gets under `prefer_small`: p_i ∝ v_i^(−α) with α the
/// largest exponent in [0, 1] for which every share lies in [[`MIN_SHARE`],
/// [`MAX_SHARE`]]. With α = 1 this is the old ∝ 1/value rule; α = 0 is equal shares, used
/// when no exponent keeps the bounds (fewer than 4 or more than 100 values).
pub fn small_first_shares(values: &[usize]) -> Vec<f64> {
    let shares = |alpha: f64| -> Vec<f64> {
        let w: Vec<f64> = values.iter().map(|&v| (v.max(1) as f64).powf(-alpha)).collect();
        let total: f64 = w.iter().sum();
        w.iter().map(|x| x / total).collect()
    };
    let within = |p: &[f64]| p.iter().all(|&x| (MIN_SHARE..=MAX_SHARE).contains(&x));
    if within(&shares(1.0)) || !within(&shares(0.0)) {
        return shares(if within(&shares(1.0)) { 1.0 } else { 0.0 });
    }
    // The largest share grows and the smallest shrinks with α, so the feasible exponents
    // form an interval [0, α*]; bisect for α*, keeping the feasible end.
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if within(&shares(mid)) { lo = mid } else { hi = mid }
    }
    shares(lo)
}

/// How many of `n` draws each value gets: ⌊n·p_i⌋, the remainder to the largest fractions.
fn quotas(shares: &[f64], n: usize) -> Vec<usize> {
    let exact: Vec<f64> = shares.iter().map(|p| p * n as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
    let missing = n.saturating_sub(counts.iter().sum());
    for &i in order.iter().cycle().take(missing) {
        counts[i] += 1;
    }
    counts
}

/// `n` value indices with the exact quotas of `shares`, in a seeded random order.
fn planned_values(shares: &[f64], n: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut out: Vec<usize> = quotas(shares, n)
        .iter()
        .enumerate()
        .flat_map(|(i, &c)| std::iter::repeat_n(i, c))
        .collect();
    for i in (1..out.len()).rev() {
        out.swap(i, rng.random_range(0..=i));
    }
    out
}

/// One index drawn with the given shares.
fn draw_weighted(shares: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let mut u = rng.random::<f64>();
    for (i, p) in shares.iter().enumerate() {
        if u < *p {
            return i;
        }
        u -= p;
    }
    shares.len() - 1
}

fn axis_position(name: &str) -> usize {
    Axes::NAMES.iter().position(|n| *n == name).expect("a known axis")
}

impl SweepSpec {
    /// The value indices of every base configuration (before pairing), in a fixed order.
    pub(super) fn design(&self) -> Vec<AxisIndices> {
        match self.mode {
            Mode::Grid => self.grid_indices(),
            Mode::Random => self.random_indices(),
            Mode::Granulated => self.granulated_indices(),
        }
    }

    fn lengths(&self) -> [usize; AXIS_COUNT] {
        self.axes.lengths().map(|(_, len)| len)
    }

    fn grid_indices(&self) -> Vec<AxisIndices> {
        let lens = self.lengths();
        let total = self.combinations().unwrap_or(usize::MAX);
        (0..total)
            .map(|mut k| {
                let mut ix = [0usize; AXIS_COUNT];
                for (slot, &len) in ix.iter_mut().zip(&lens).rev() {
                    *slot = k % len;
                    k /= len;
                }
                ix
            })
            .collect()
    }

    /// `samples` distinct combinations (all of them when there are fewer), seeded by
    /// `seed`. Uniform per axis; with `prefer_small`, the widths and depths follow
    /// [`small_first_shares`] exactly: each value gets its quota of the draws.
    fn random_indices(&self) -> Vec<AxisIndices> {
        let lens = self.lengths();
        let want = self.samples.min(self.combinations().unwrap_or(usize::MAX));
        let mut rng = rng_for(self.seed, Stream::Sweep);
        let mut seen = HashSet::new();
        let mut out = Vec::with_capacity(want);
        if !self.prefer_small {
            while out.len() < want {
                let ix: AxisIndices = std::array::from_fn(|i| rng.random_range(0..lens[i]));
                if seen.insert(ix) {
                    out.push(ix);
                }
            }
            return out;
        }
        let (w_axis, d_axis) = (axis_position("width"), axis_position("depth"));
        let w_shares = small_first_shares(&self.axes.width);
        let d_shares = small_first_shares(&self.axes.depth);
        let w_plan = planned_values(&w_shares, want, &mut rng);
        let d_plan = planned_values(&d_shares, want, &mut rng);
        for j in 0..want {
            for attempt in 0.. {
                let free = attempt >= PLANNED_TRIES;
                let ix: AxisIndices = std::array::from_fn(|i| match i {
                    _ if i == w_axis && !free => w_plan[j],
                    _ if i == d_axis && !free => d_plan[j],
                    _ if i == w_axis => draw_weighted(&w_shares, &mut rng),
                    _ if i == d_axis => draw_weighted(&d_shares, &mut rng),
                    _ => rng.random_range(0..lens[i]),
                });
                if seen.insert(ix) {
                    out.push(ix);
                    break;
                }
            }
        }
        out
    }

    /// `samples` random bases (drawn as in random mode), each followed by its variations
    /// along one axis at a time over all of that axis's values; the seed axis is not
    /// varied (each base keeps its seed). Configurations already listed are not repeated.
    fn granulated_indices(&self) -> Vec<AxisIndices> {
        let lens = self.lengths();
        let seed_axis = axis_position("seed");
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        for base in self.random_indices() {
            if seen.insert(base) {
                out.push(base);
            }
            for axis in (0..AXIS_COUNT).filter(|&a| a != seed_axis) {
                for value in 0..lens[axis] {
                    let mut ix = base;
                    ix[axis] = value;
                    if seen.insert(ix) {
                        out.push(ix);
                    }
                }
            }
        }
        out
    }

    /// Base configurations a granulated design can have at most: each base and its
    /// variations (`1 + Σ (values − 1)` over the axes other than seed); `None` on overflow.
    pub(super) fn granulated_count(&self) -> Option<usize> {
        let seed_axis = axis_position("seed");
        let per_base = self
            .lengths()
            .iter()
            .enumerate()
            .filter(|(a, _)| *a != seed_axis)
            .try_fold(1usize, |n, (_, len)| n.checked_add(len - 1))?;
        let combos = self.combinations()?;
        Some(self.samples.min(combos).checked_mul(per_base)?.min(combos))
    }

    /// Whether some axis other than seed lists two or more values (a granulated design
    /// needs one to vary).
    pub(super) fn has_varied_axis(&self) -> bool {
        let seed_axis = axis_position("seed");
        self.lengths()
            .iter()
            .enumerate()
            .any(|(a, &len)| a != seed_axis && len > 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAPER_WIDTHS: [usize; 17] = [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536,
    ];

    #[test]
    fn shares_stay_within_the_bounds_and_favour_small_values() {
        for values in [&PAPER_WIDTHS[..], &[2, 3, 5, 9, 17, 33, 65], &[10, 20, 30, 40, 50, 60]] {
            let p = small_first_shares(values);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            assert!(
                p.iter().all(|x| (MIN_SHARE..=MAX_SHARE).contains(x)),
                "{values:?}: {p:?}"
            );
            assert!(p.windows(2).all(|w| w[0] > w[1]), "{values:?}: {p:?}");
        }
        // The old 1/width rule gave width 1 about half the draws; the bound is binding.
        let p = small_first_shares(&PAPER_WIDTHS);
        assert!(
            (p[16] - MIN_SHARE).abs() < 1e-9 || (p[0] - MAX_SHARE).abs() < 1e-9,
            "{p:?}"
        );
    }

    #[test]
    fn shares_keep_one_over_value_when_it_fits_and_are_equal_when_nothing_fits() {
        // Over the 10 values 10..19, 1/v gives shares from 0.139 down to 0.073: within the
        // bounds, so the shares are ∝ 1/v exactly.
        let values: Vec<usize> = (10..20).collect();
        let p = small_first_shares(&values);
        let total: f64 = values.iter().map(|&v| 1.0 / v as f64).sum();
        assert!((p[0] - 0.1 / total).abs() < 1e-12);
        // Three values cannot all be at most 25%: equal shares.
        assert_eq!(small_first_shares(&[1, 2, 4]), vec![1.0 / 3.0; 3]);
        assert_eq!(small_first_shares(&[7]), vec![1.0]);
    }

    #[test]
    fn quotas_sum_to_the_draws() {
        assert_eq!(quotas(&[0.5, 0.25, 0.25], 4), vec![2, 1, 1]);
        // 10·(0.45, 0.35, 0.2) = 4.5, 3.5, 2: floors 4, 3, 2 and one left for a largest
        // fraction (0.5 each; the first of them).
        assert_eq!(quotas(&[0.45, 0.35, 0.2], 10).iter().sum::<usize>(), 10);
    }
}
