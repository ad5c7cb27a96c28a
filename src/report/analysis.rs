//! Turns stored trials into the numbers of a report: paired comparisons, rank
//! correlations across many networks, per-point loss/Jacobian relations against the
//! analytic ranges, and the trajectory profiles and region maps stored as artifacts.

use crate::measure::bounds::{FullNormRanges, estimate_c, target_row_range};
use crate::stats::{Agreement, granulated_kendall, kendall_tau, pair_agreement, spearman};
use crate::sweep::TrialRecord;
use crate::sweep::metrics::{
    self, GENERALIZATION_GAP, JACOBIAN_NORM, Metric, POINT_JACOBIAN_NORM, POINT_LOGIT_JACOBIAN_NORM, POINT_LOSS,
    TARGET_ROW_NORM, TEST_ACCURACY, TRAIN_ACCURACY, TRANSITIONS,
};
use crate::sweep::spec::{Axes, Factor, MeasureSpec};
use crate::train::TrainConfig;
use serde::Serialize;
use std::collections::BTreeMap;

/// Networks a rank correlation is computed over, at least: with fewer, the report shows
/// the networks' values in a table instead.
pub const MIN_NETWORKS_FOR_CORRELATION: usize = 3;

/// A statistic, or why it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Stat {
    Value {
        value: f64,
    },
    /// The study does not measure what the statistic needs.
    NotMeasured {
        what: String,
    },
    /// Fewer values than the statistic needs.
    TooFew {
        have: usize,
        need: usize,
    },
    /// Computed but undefined, e.g. a rank correlation with a constant variable.
    Undefined {
        why: String,
    },
}

impl Stat {
    /// The number, or why there is none, as the page prints it.
    pub fn text(&self) -> String {
        match self {
            Stat::Value { value } => format!("{value:.3}"),
            Stat::NotMeasured { what } => what.clone(),
            Stat::TooFew { have, need } => format!("not computed ({have} values, at least {need} needed)"),
            Stat::Undefined { why } => format!("undefined ({why})"),
        }
    }
}

/// Why a metric has no values in a study: not measured (the registry says why), or
/// measured but never finite.
pub fn why_missing(metric: Metric, measure: &MeasureSpec) -> String {
    metrics::not_measured(metric, measure)
        .unwrap_or("no finite value: every network's measurement failed or diverged")
        .to_string()
}

/// Trials a report uses: finished (completed or reached 100%) with finite metrics.
pub fn usable(r: &TrialRecord) -> bool {
    r.status.is_measured() && r.metric(TRAIN_ACCURACY).is_finite() && r.metric(TEST_ACCURACY).is_finite()
}

/// Whether the network fits its training set (100% training accuracy).
pub fn fits(r: &TrialRecord) -> bool {
    r.metric(TRAIN_ACCURACY) >= 1.0
}

/// One metric's paired comparison.
#[derive(Debug, Clone, Serialize)]
pub struct PairedMetric {
    pub metric: String,
    /// Means over the pairs with both values finite; NaN when there are none.
    pub mean_off: f64,
    pub mean_on: f64,
    /// Fraction of pairs where the arm with the smaller gap also has the smaller metric.
    pub agreement: Agreement,
    /// Fraction of pairs where the "on" arm has the larger value; NaN when there are none.
    pub on_larger: f64,
    /// Why the metric has no values, when it has none.
    pub missing: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairedAnalysis {
    pub sweep: String,
    pub factor: Factor,
    pub arms: (String, String),
    pub pairs: usize,
    /// Whether only pairs with both networks at 100% training accuracy are kept.
    pub filtered_to_100: bool,
    /// The study's preconditions (fitted pairs, the augmentation check).
    pub validity: super::validity::PairValidity,
    /// (off, on) values per pair for gap, jacobian_norm, transitions, and dataset name.
    pub values: Vec<PairValues>,
    pub metrics: Vec<PairedMetric>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairValues {
    pub dataset: String,
    /// The "off" arm's training configuration (names the figure's series).
    #[serde(skip)]
    pub config: TrainConfig,
    pub gap: (f64, f64),
    pub jacobian_norm: (f64, f64),
    pub transitions: (f64, f64),
}

/// Matches the two arms of every pair of a paired sweep.
pub fn paired(sweep: &str, trials: &[&TrialRecord]) -> Option<PairedAnalysis> {
    let factor = trials.iter().find_map(|r| r.spec.pair.as_ref().map(|p| p.factor))?;
    let mut groups: BTreeMap<&str, [Option<&TrialRecord>; 2]> = BTreeMap::new();
    for r in trials.iter().filter(|r| usable(r)) {
        if let Some(p) = &r.spec.pair {
            groups.entry(p.group.as_str()).or_default()[p.on as usize] = Some(r);
        }
    }
    // The paper's filter: pairs whose two networks both fit their training set, when at
    // least 5 such pairs exist; otherwise every complete pair.
    let complete: Vec<[&TrialRecord; 2]> = groups.values().filter_map(|a| Some([a[0]?, a[1]?])).collect();
    let fitted: Vec<[&TrialRecord; 2]> = complete.iter().copied().filter(|[a, b]| fits(a) && fits(b)).collect();
    let filtered_to_100 = fitted.len() >= 5;
    let chosen = if filtered_to_100 { fitted } else { complete.clone() };
    let validity = super::validity::check(factor, &complete, &chosen);
    let values: Vec<PairValues> = chosen
        .iter()
        .map(|[off, on]| PairValues {
            dataset: off.spec.train.data.clone(),
            config: off.spec.train.clone(),
            gap: (off.generalization_gap(), on.generalization_gap()),
            jacobian_norm: (off.metric(JACOBIAN_NORM), on.metric(JACOBIAN_NORM)),
            transitions: (off.metric(TRANSITIONS), on.metric(TRANSITIONS)),
        })
        .collect();
    let measure = trials.first().map(|r| r.spec.measure.clone()).unwrap_or_default();
    // The gap, then every registered metric that ranks generalization.
    let metric = |m: Metric| {
        let arms: Vec<(f64, (f64, f64))> = chosen
            .iter()
            .map(|[off, on]| {
                (
                    on.generalization_gap() - off.generalization_gap(),
                    (off.metric(m), on.metric(m)),
                )
            })
            .filter(|(_, (a, b))| a.is_finite() && b.is_finite())
            .collect();
        // Over no pairs there is no mean and no fraction: NaN (null in report.json), not 0.
        let per_pair = |total: f64| {
            if arms.is_empty() {
                f64::NAN
            } else {
                total / arms.len() as f64
            }
        };
        let mean = |f: &dyn Fn(&(f64, f64)) -> f64| per_pair(arms.iter().map(|(_, v)| f(v)).sum::<f64>());
        let gaps: Vec<f64> = arms.iter().map(|(g, _)| *g).collect();
        let deltas: Vec<f64> = arms.iter().map(|(_, (a, b))| b - a).collect();
        PairedMetric {
            metric: m.name.to_string(),
            mean_off: mean(&|p| p.0),
            mean_on: mean(&|p| p.1),
            agreement: pair_agreement(&gaps, &deltas, 2000, 1),
            on_larger: per_pair(arms.iter().filter(|(_, (a, b))| b > a).count() as f64),
            missing: arms.is_empty().then(|| why_missing(m, &measure)),
        }
    };
    let metrics: Vec<PairedMetric> = std::iter::once(GENERALIZATION_GAP)
        .chain(
            metrics::TRIAL_METRICS
                .iter()
                .copied()
                .filter(|m| m.ranks_generalization),
        )
        .map(metric)
        .collect();
    let (a, b) = factor.arms();
    Some(PairedAnalysis {
        sweep: sweep.into(),
        factor,
        arms: (a.into(), b.into()),
        pairs: values.len(),
        filtered_to_100,
        validity,
        values,
        metrics,
    })
}

/// Rank correlations of one metric with the generalization gap.
#[derive(Debug, Clone, Serialize)]
pub struct Correlation {
    pub metric: String,
    pub spearman: f64,
    pub kendall: f64,
    /// Ψ, the mean of the per-axis ψ; NaN (null) when the groups hold fewer than
    /// [`MIN_GRANULATED_PAIRS`] pairs of networks in all, where τ = ±1 per group of two
    /// would make it meaningless.
    pub granulated_kendall: f64,
    /// ψ per hyper-parameter axis that varies: (axis, ψ, groups, pairs of networks in them).
    pub per_axis: Vec<(String, f64, usize, usize)>,
    /// Conditional mutual information score (Jiang et al. 2019), or why it has none.
    pub cmi: Stat,
    /// The hyper-parameters of the conditioning set that gave the score (may be empty).
    pub cmi_given: Vec<String>,
}

/// Fewest pairs of networks, summed over the groups of every axis, for a granulated τ to be
/// reported: with fewer (e.g. two groups of two networks, each τ = ±1) it would read 1.000
/// or −1.000 whatever the metric.
pub const MIN_GRANULATED_PAIRS: usize = 10;

impl Correlation {
    /// Pairs of networks the granulated τ rests on.
    pub fn granulated_pairs(&self) -> usize {
        self.per_axis.iter().map(|a| a.3).sum()
    }

    /// Why the granulated τ is not reported, when it is not.
    pub fn granulated_missing(&self) -> String {
        match self.granulated_pairs() {
            0 => "no group of networks differing in one hyper-parameter only".to_string(),
            n => format!(
                "not valid: its groups hold {n} pairs of networks (at least {MIN_GRANULATED_PAIRS} needed; \
                 a group of two gives only ±1)"
            ),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CorrelationAnalysis {
    pub sweep: String,
    pub networks: usize,
    /// Whether the analysis is restricted to networks at 100% training accuracy (the paper's filter).
    pub filtered_to_100: bool,
    pub correlations: Vec<Correlation>,
    /// Metrics without correlations, and why (not measured, too few networks).
    pub missing: Vec<(String, String)>,
    /// Spearman ρ between transitions and parameter count (the size confound).
    pub transitions_vs_params: Stat,
    pub points: Vec<NetworkPoint>,
}

/// One network of a correlation analysis.
#[derive(Debug, Clone, Serialize)]
pub struct NetworkPoint {
    pub trial: usize,
    pub dataset: String,
    pub depth: usize,
    pub params: usize,
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub gap: f64,
    pub jacobian_norm: f64,
    pub transitions: f64,
    /// The network's training configuration (names the figure's series and table rows).
    #[serde(skip)]
    pub config: TrainConfig,
}

/// The hyper-parameter axes of a sweep, as text, for granulated τ: every sweep axis but
/// the seed, which replicates a configuration rather than changing it (networks that
/// differ only in their seed fall in one group).
fn axes_of(trials: &[&TrialRecord]) -> (Vec<String>, Vec<Vec<String>>) {
    let axes: Vec<usize> = (0..Axes::NAMES.len()).filter(|&k| Axes::NAMES[k] != "seed").collect();
    let names = axes.iter().map(|&k| Axes::NAMES[k].to_string()).collect();
    let values = axes
        .iter()
        .map(|&k| trials.iter().map(|r| Axes::value_text(k, &r.spec.train)).collect())
        .collect();
    (names, values)
}

/// Spearman ρ(x, y) as a statistic: too few values below
/// [`MIN_NETWORKS_FOR_CORRELATION`], undefined (saying `constant`) when it has no value.
pub fn spearman_stat(x: &[f64], y: &[f64], constant: &str) -> Stat {
    if x.len() < MIN_NETWORKS_FOR_CORRELATION {
        return Stat::TooFew {
            have: x.len(),
            need: MIN_NETWORKS_FOR_CORRELATION,
        };
    }
    let rho = spearman(x, y);
    if rho.is_finite() {
        Stat::Value { value: rho }
    } else {
        Stat::Undefined { why: constant.into() }
    }
}

/// Most networks the CMI score is computed for: it counts every ordered pair of networks
/// for each of up to 1 + k + k(k−1)/2 conditioning sets of the k varying hyper-parameters.
pub const MAX_NETWORKS_FOR_CMI: usize = 3000;

/// The CMI score of a metric over the networks, conditioned on the hyper-parameters that
/// vary among them (every axis but the seed), with the conditioning set of the minimum.
fn cmi_score(metric: &[f64], gap: &[f64], axes: &[Vec<String>], names: &[String]) -> (Stat, Vec<String>) {
    use crate::stats::cmi::{CmiNetwork, CmiUndefined, CmiValue, conditional_mutual_information};
    if metric.len() > MAX_NETWORKS_FOR_CMI {
        return (
            Stat::Undefined {
                why: format!(
                    "not computed for {} networks (at most {MAX_NETWORKS_FOR_CMI}: it counts every pair)",
                    metric.len()
                ),
            },
            Vec::new(),
        );
    }
    let varying: Vec<usize> = (0..axes.len())
        .filter(|&k| axes[k].iter().any(|v| v != &axes[k][0]))
        .collect();
    let networks: Vec<CmiNetwork> = (0..metric.len())
        .map(|i| CmiNetwork {
            measure: metric[i],
            gap: gap[i],
            hyperparameters: varying.iter().map(|&k| axes[k][i].clone()).collect(),
        })
        .collect();
    let Ok(cmi) = conditional_mutual_information(&networks) else {
        return (
            Stat::Undefined {
                why: "inconsistent hyper-parameters".into(),
            },
            Vec::new(),
        );
    };
    let given = cmi
        .minimizer
        .iter()
        .flatten()
        .map(|&k| names[varying[k]].clone())
        .collect();
    match cmi.score {
        CmiValue::Defined(value) => (Stat::Value { value }, given),
        CmiValue::Undefined(why) => {
            let why = match why {
                CmiUndefined::TooFewNetworks { networks } => format!("{networks} networks: no pair to compare"),
                CmiUndefined::NotFinite { network } => format!("network {network} has a non-finite value"),
                CmiUndefined::GapDetermined => {
                    "the hyper-parameters decide the order of the gaps in every pair (or all gaps are equal)".into()
                }
            };
            (Stat::Undefined { why }, Vec::new())
        }
    }
}

/// Rank correlations between gap and each metric across the networks of a sweep (when it
/// has at least [`MIN_NETWORKS_FOR_CORRELATION`]), and every network's values. None when
/// the sweep has no usable network.
pub fn correlations(sweep: &str, trials: &[&TrialRecord]) -> Option<CorrelationAnalysis> {
    let finished: Vec<&TrialRecord> = trials.iter().copied().filter(|r| usable(r)).collect();
    let at_100: Vec<&TrialRecord> = finished.iter().copied().filter(|r| fits(r)).collect();
    let filtered_to_100 = at_100.len() >= 10;
    let nets = if filtered_to_100 { at_100 } else { finished };
    if nets.is_empty() {
        return None;
    }
    let measure = nets[0].spec.measure.clone();
    let gap: Vec<f64> = nets.iter().map(|r| r.generalization_gap()).collect();
    let (axis_names, axis_values) = axes_of(&nets);
    let mut missing = Vec::new();
    let mut metric = |name: &str, get: &dyn Fn(&TrialRecord) -> f64, why: &dyn Fn() -> String| -> Option<Correlation> {
        let keep: Vec<usize> = (0..nets.len()).filter(|&i| get(nets[i]).is_finite()).collect();
        if keep.is_empty() {
            missing.push((name.to_string(), why()));
            return None;
        }
        if keep.len() < MIN_NETWORKS_FOR_CORRELATION {
            missing.push((
                name.to_string(),
                format!(
                    "not computed: {} networks, a rank correlation needs at least {MIN_NETWORKS_FOR_CORRELATION}",
                    keep.len()
                ),
            ));
            return None;
        }
        let m: Vec<f64> = keep.iter().map(|&i| get(nets[i])).collect();
        let g: Vec<f64> = keep.iter().map(|&i| gap[i]).collect();
        let axes: Vec<Vec<String>> = axis_values
            .iter()
            .map(|a| keep.iter().map(|&i| a[i].clone()).collect())
            .collect();
        let (psi, per) = granulated_kendall(&axes, &g, &m);
        let per_axis: Vec<(String, f64, usize, usize)> = per
            .into_iter()
            .map(|(k, v, groups, pairs)| (axis_names[k].clone(), v, groups, pairs))
            .collect();
        let pairs: usize = per_axis.iter().map(|a| a.3).sum();
        let (cmi, cmi_given) = cmi_score(&m, &g, &axes, &axis_names);
        Some(Correlation {
            metric: name.to_string(),
            spearman: spearman(&m, &g),
            kendall: kendall_tau(&m, &g),
            granulated_kendall: if pairs >= MIN_GRANULATED_PAIRS { psi } else { f64::NAN },
            per_axis,
            cmi,
            cmi_given,
        })
    };
    // Every registered metric that ranks generalization, then the parameter count (the
    // size confound every sensitivity metric is compared with).
    let mut correlations: Vec<Correlation> = metrics::TRIAL_METRICS
        .iter()
        .filter(|m| m.ranks_generalization)
        .filter_map(|&m| metric(m.name, &|r| r.metric(m), &|| why_missing(m, &measure)))
        .collect();
    correlations.extend(metric("param_count", &|r| r.param_count as f64, &|| {
        "no parameter count: no network finished training".to_string()
    }));
    let (t, p): (Vec<f64>, Vec<f64>) = nets
        .iter()
        .filter(|r| r.metric(TRANSITIONS).is_finite())
        .map(|r| (r.metric(TRANSITIONS), r.param_count as f64))
        .unzip();
    let transitions_vs_params = if t.is_empty() {
        Stat::NotMeasured {
            what: why_missing(TRANSITIONS, &measure),
        }
    } else {
        spearman_stat(
            &t,
            &p,
            "the transitions or the parameter counts are the same for every network",
        )
    };
    Some(CorrelationAnalysis {
        sweep: sweep.into(),
        networks: nets.len(),
        filtered_to_100,
        correlations,
        missing,
        transitions_vs_params,
        points: nets
            .iter()
            .map(|r| NetworkPoint {
                trial: r.index,
                dataset: r.spec.train.data.clone(),
                depth: r.spec.train.depth,
                params: r.param_count,
                train_accuracy: r.metric(TRAIN_ACCURACY),
                test_accuracy: r.metric(TEST_ACCURACY),
                gap: r.generalization_gap(),
                jacobian_norm: r.metric(JACOBIAN_NORM),
                transitions: r.metric(TRANSITIONS),
                config: r.spec.train.clone(),
            })
            .collect(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct PerPointAnalysis {
    pub sweep: String,
    pub networks: usize,
    pub points: usize,
    pub classes: usize,
    /// Median over networks of the per-network Spearman ρ(loss, ‖J‖).
    pub median_spearman: f64,
    /// Spearman ρ(loss, ‖J‖/C) pooled over all points.
    pub pooled_spearman: f64,
    /// Fraction of points with ‖J_y‖/C inside its analytic range.
    pub target_row_within: f64,
    /// Fraction of points with ‖J‖/C inside its analytic range.
    pub full_norm_within: f64,
    /// Fraction of points with ‖J_y‖/C within a factor 2 of its range (C is an estimate).
    pub target_row_within_2x: f64,
    /// Fraction of points with ‖J‖/C within a factor 2 of its range.
    pub full_norm_within_2x: f64,
    /// (loss, ‖J‖/C, ‖J_y‖/C) per point (subsampled for figures).
    pub scaled: Vec<(f64, f64, f64)>,
}

/// Per-point loss against Jacobian norm, scaled by each network's C.
pub fn per_point(sweep: &str, trials: &[&TrialRecord], classes: usize) -> Option<PerPointAnalysis> {
    let nets: Vec<&TrialRecord> = trials
        .iter()
        .copied()
        .filter(|r| usable(r) && !r.points.is_empty())
        .collect();
    if nets.is_empty() {
        return None;
    }
    let table = FullNormRanges::new(classes);
    let (mut all, mut rhos) = (Vec::new(), Vec::new());
    let (mut in_row, mut in_full, mut in_row2, mut in_full2) = (0usize, 0usize, 0usize, 0usize);
    for r in &nets {
        let c = estimate_c(
            &r.points
                .iter()
                .map(|p| p.values.get(POINT_LOGIT_JACOBIAN_NORM))
                .collect::<Vec<_>>(),
            classes,
        );
        let pts: Vec<_> = r
            .points
            .iter()
            .map(|p| {
                let v = &p.values;
                (v.get(POINT_LOSS), v.get(POINT_JACOBIAN_NORM), v.get(TARGET_ROW_NORM))
            })
            .filter(|(loss, norm, _)| loss.is_finite() && norm.is_finite())
            .collect();
        let (l, j): (Vec<f64>, Vec<f64>) = pts.iter().map(|p| (p.0, p.1)).unzip();
        let rho = spearman(&l, &j);
        if rho.is_finite() {
            rhos.push(rho);
        }
        for (loss, norm, row_norm) in pts {
            let (jn, rn) = (norm / c, row_norm / c);
            let (flo, fhi) = table.at(loss);
            let (rlo, rhi) = target_row_range(loss, classes);
            in_full += (jn >= flo && jn <= fhi) as usize;
            in_full2 += (jn >= flo / 2.0 && jn <= fhi * 2.0) as usize;
            in_row2 += (rn >= rlo / 2.0 && rn <= rhi * 2.0) as usize;
            in_row += (rn >= rlo && rn <= rhi) as usize;
            all.push((loss, jn, rn));
        }
    }
    // Fractions of no points are undefined (NaN, written as null), not 0.
    let fraction = |k: usize| {
        if all.is_empty() {
            f64::NAN
        } else {
            k as f64 / all.len() as f64
        }
    };
    let (l, j): (Vec<f64>, Vec<f64>) = all.iter().map(|p| (p.0, p.1)).unzip();
    let stride = (all.len() / 4000).max(1);
    Some(PerPointAnalysis {
        sweep: sweep.into(),
        networks: nets.len(),
        points: all.len(),
        classes,
        median_spearman: crate::stats::median(&rhos),
        pooled_spearman: spearman(&l, &j),
        target_row_within: fraction(in_row),
        full_norm_within: fraction(in_full),
        target_row_within_2x: fraction(in_row2),
        full_norm_within_2x: fraction(in_full2),
        scaled: all.into_iter().step_by(stride).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::TrialSpec;

    /// A finished network at 100% training accuracy with the given width, seed, gap and ‖J‖.
    fn net(width: usize, seed: u64, gap: f64, jacobian_norm: f64) -> TrialRecord {
        let mut spec = TrialSpec {
            train: TrainConfig::default(),
            measure: MeasureSpec::default(),
            pair: None,
        };
        (spec.train.width, spec.train.seed) = (width, seed);
        let mut values = crate::sweep::metrics::MetricValues::default();
        for (m, v) in [
            (TRAIN_ACCURACY, 1.0),
            (TEST_ACCURACY, 1.0 - gap),
            (GENERALIZATION_GAP, gap),
            (metrics::TRAIN_LOSS, 0.0),
            (metrics::TEST_LOSS, gap),
            (JACOBIAN_NORM, jacobian_norm),
            (metrics::LOGIT_JACOBIAN_NORM, jacobian_norm),
        ] {
            values.set(m, v);
        }
        TrialRecord::completed_for_test(format!("{width}-{seed}"), 0, spec, values)
    }

    fn jacobian(nets: &[TrialRecord]) -> Correlation {
        let refs: Vec<&TrialRecord> = nets.iter().collect();
        let c = correlations("s", &refs).unwrap();
        c.correlations
            .into_iter()
            .find(|m| m.metric == "jacobian_norm")
            .unwrap()
    }

    #[test]
    fn granulated_tau_is_not_reported_on_groups_of_two_and_ignores_the_seed() {
        // Two widths × five seeds: seeds replicate, so the width axis has one group of ten
        // networks (45 pairs), and ‖J‖ follows the gap exactly.
        let many: Vec<TrialRecord> = (0..10)
            .map(|i| net(if i % 2 == 0 { 8 } else { 16 }, i as u64 / 2, 0.01 * i as f64, i as f64))
            .collect();
        let c = jacobian(&many);
        assert_eq!(c.per_axis, vec![("width".to_string(), 1.0, 1, 45)]);
        assert_eq!(c.granulated_kendall, 1.0);
        // Five networks over width × depth, one seed: groups of two or three networks, 6
        // pairs in all (width: 1 + 3, depth: 1 + 1), fewer than 10, so Ψ is not reported.
        let mut few: Vec<TrialRecord> = (0..4)
            .map(|i| net(8 + 8 * (i % 2), 1, 0.1 * i as f64, i as f64))
            .collect();
        few.iter_mut()
            .enumerate()
            .for_each(|(i, r)| r.spec.train.depth = 2 + i / 2);
        few.push(net(32, 1, 0.9, 9.0));
        let c = jacobian(&few);
        assert!(c.granulated_kendall.is_nan(), "{c:?}");
        assert_eq!(c.granulated_pairs(), 6);
        assert!(c.granulated_missing().contains("6 pairs"), "{}", c.granulated_missing());
    }

    #[test]
    fn cmi_is_reported_with_its_conditioning_and_undefined_when_the_setting_decides() {
        // ‖J‖ orders the gaps exactly within and across widths: the metric's sign decides
        // the gap's sign in every pair, whatever is conditioned on, so CMI = 1.
        let nets: Vec<TrialRecord> = (0..6)
            .map(|i| net(if i < 3 { 8 } else { 16 }, i as u64, 0.01 * i as f64, i as f64))
            .collect();
        let c = jacobian(&nets);
        assert_eq!(c.cmi, Stat::Value { value: 1.0 }, "{c:?}");
        // With every gap equal there is no order to predict: undefined, saying why.
        let flat: Vec<TrialRecord> = (0..6).map(|i| net(8 + 8 * (i % 2), i as u64, 0.05, i as f64)).collect();
        match jacobian(&flat).cmi {
            Stat::Undefined { why } => assert!(why.contains("all gaps are equal"), "{why}"),
            other => panic!("expected undefined, got {other:?}"),
        }
    }
}
