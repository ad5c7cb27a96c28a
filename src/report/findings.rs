//! The paper's four findings, judged from a report's numbers. Each verdict states its
//! rule, so a reader can check it against the tables.

use super::Report;
use crate::measure::trajectory::TrajectoryKind;
use crate::sweep::artifact::ProfileCurve;
use crate::sweep::metrics::{GENERALIZATION_GAP, JACOBIAN_NORM, TRANSITIONS};
use serde::Serialize;

/// The outcome of judging one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Reproduced,
    NotReproduced,
    /// The store holds no study that measures it.
    NotMeasured,
    /// A study measures it, but too little of it for the rule to be applied.
    NotValid,
}

impl Verdict {
    pub fn from_rule(holds: bool) -> Verdict {
        if holds {
            Verdict::Reproduced
        } else {
            Verdict::NotReproduced
        }
    }
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Reproduced => "reproduced",
            Verdict::NotReproduced => "not reproduced",
            Verdict::NotMeasured => "not measured",
            Verdict::NotValid => "not valid at this scale",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub number: usize,
    pub claim: String,
    pub verdict: Verdict,
    /// The rule applied and the numbers it was applied to (or why it could not be).
    pub evidence: String,
}

/// How many findings got each verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct VerdictCounts {
    pub reproduced: usize,
    pub not_reproduced: usize,
    pub not_measured: usize,
    pub not_valid: usize,
}

impl VerdictCounts {
    pub fn of(findings: &[Finding]) -> VerdictCounts {
        let mut c = VerdictCounts::default();
        for f in findings {
            match f.verdict {
                Verdict::Reproduced => c.reproduced += 1,
                Verdict::NotReproduced => c.not_reproduced += 1,
                Verdict::NotMeasured => c.not_measured += 1,
                Verdict::NotValid => c.not_valid += 1,
            }
        }
        c
    }

    /// "2 of 4 findings reproduced, 1 not reproduced, 1 not measured".
    pub fn sentence(&self) -> String {
        let total = self.reproduced + self.not_reproduced + self.not_measured + self.not_valid;
        let mut parts = vec![format!("{} of {total} findings reproduced", self.reproduced)];
        for (n, what) in [
            (self.not_reproduced, "not reproduced"),
            (self.not_measured, "not measured"),
            (
                self.not_valid,
                "not valid at this scale (a precondition failed, or too little data to apply the rule)",
            ),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
        }
        parts.join(", ")
    }
}

/// Mean of a profile curve's Jacobian norm near its anchors (within ±`half` of position),
/// or over the whole loop when it has no anchors.
fn near_anchor_mean(curve: &ProfileCurve, values: &[f64], half: f64) -> f64 {
    let (pos, anchors) = (&curve.position, &curve.anchors);
    let near = |p: f64| {
        anchors.is_empty()
            || anchors
                .iter()
                .any(|a| ((p - a + 0.5).rem_euclid(1.0) - 0.5).abs() <= half)
    };
    let sel: Vec<f64> = pos
        .iter()
        .zip(values)
        .filter(|(p, v)| near(**p) && v.is_finite())
        .map(|(_, v)| *v)
        .collect();
    if sel.is_empty() {
        return f64::NAN;
    }
    sel.iter().sum::<f64>() / sel.len() as f64
}

/// Judges the four findings from the report's analyses.
pub fn assess(r: &Report) -> Vec<Finding> {
    vec![finding_1(r), finding_2(r), finding_3(r), finding_4(r)]
}

fn finding_1(r: &Report) -> Finding {
    let claim = "Sensitivity is far lower near the training data than away from it: random ellipse ≫ different-class ellipse > same-class ellipse, near the anchor points.".to_string();
    let Some((_, prof)) = r.profiles.first() else {
        return Finding {
            number: 1,
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "no profile study in the store".into(),
        };
    };
    let get = |kind: TrajectoryKind, density: bool| {
        prof.curves.iter().find(|c| c.trajectory == kind).map(|c| {
            let values = if density {
                &c.transition_density
            } else {
                &c.jacobian_norm
            };
            near_anchor_mean(c, values, 0.03)
        })
    };
    use TrajectoryKind::{DifferentClassEllipse, RandomEllipse, SameClassEllipse};
    match (
        get(RandomEllipse, false),
        get(DifferentClassEllipse, false),
        get(SameClassEllipse, false),
    ) {
        (Some(rnd), Some(diff), Some(same)) => {
            if !(rnd.is_finite() && diff.is_finite() && same.is_finite()) {
                return Finding {
                    number: 1,
                    claim,
                    verdict: Verdict::NotValid,
                    evidence: "a profile curve has no finite Jacobian norm near its anchor points".into(),
                };
            }
            let density = |kind: TrajectoryKind| {
                let v = get(kind, true).unwrap_or(f64::NAN);
                if v.is_finite() {
                    format!("{v:.0}")
                } else {
                    "not available".into()
                }
            };
            let (tr, td, ts) = (
                density(RandomEllipse),
                density(DifferentClassEllipse),
                density(SameClassEllipse),
            );
            Finding {
                number: 1,
                claim,
                verdict: Verdict::from_rule(rnd > diff && diff > same),
                evidence: format!(
                    "rule: mean ‖J‖ within ±0.03 of the anchors ordered random > different-class > same-class. \
                     ‖J‖: random {rnd:.4} (whole loop), different-class {diff:.4}, same-class {same:.4} \
                     (random/same = {:.1}×). Transition density: {tr}, {td}, {ts} crossings per unit position.",
                    rnd / same
                ),
            }
        }
        _ => Finding {
            number: 1,
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "the profile study lacks one of the three ellipse kinds".into(),
        },
    }
}

fn finding_2(r: &Report) -> Finding {
    let claim = "In each paired study, the configuration with the smaller generalization gap also has the smaller Jacobian norm (random labels ↑, no augmentation ↑, hard_sigmoid ↑, full batch ↑).".to_string();
    if r.paired.is_empty() {
        return Finding {
            number: 2,
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "no paired study in the store".into(),
        };
    }
    let mut ok = true;
    let mut parts = Vec::new();
    let mut invalid = Vec::new();
    for p in &r.paired {
        let (verdict, text) = paired_verdict(p);
        match verdict {
            Verdict::Reproduced | Verdict::NotReproduced => {
                ok &= verdict == Verdict::Reproduced;
                parts.push(text);
            }
            Verdict::NotValid | Verdict::NotMeasured => invalid.push(text),
        }
    }
    parts.extend(invalid.iter().cloned());
    Finding {
        number: 2,
        claim,
        // One study without pairs leaves "every paired study" unjudged.
        verdict: if invalid.is_empty() && !parts.is_empty() {
            Verdict::from_rule(ok)
        } else if !ok {
            Verdict::NotReproduced
        } else {
            Verdict::NotValid
        },
        evidence: format!(
            "rule: agreement fraction > 50% in every paired study. {}",
            parts.join("; ")
        ),
    }
}

/// One paired study's verdict and its evidence: "not valid at this scale" when a
/// precondition fails (too few pairs with both networks fitting, augmentation lowering
/// test accuracy) or no pair has both Jacobian norms; otherwise whether the arm with the
/// smaller gap has the smaller ‖J‖ in more than half of the pairs.
pub fn paired_verdict(p: &super::analysis::PairedAnalysis) -> (Verdict, String) {
    let arms = format!("{} vs {}", p.arms.0, p.arms.1);
    if !p.validity.valid() {
        return (
            Verdict::NotValid,
            format!("{arms}: not valid at this scale ({})", p.validity.failures()),
        );
    }
    let jac = p.metrics.iter().find(|m| m.metric == JACOBIAN_NORM.name);
    let gap = p.metrics.iter().find(|m| m.metric == GENERALIZATION_GAP.name);
    let (Some(jac), Some(gap)) = (jac, gap) else {
        return (Verdict::NotMeasured, format!("{arms}: no Jacobian norms measured"));
    };
    let a = jac.agreement;
    if a.pairs == 0 || !a.fraction.is_finite() {
        return (
            Verdict::NotValid,
            format!("{arms}: no complete pair with both Jacobian norms measured"),
        );
    }
    (
        Verdict::from_rule(a.fraction > 0.5),
        format!(
            "{arms} ({} pairs): gap larger for '{}' in {:.0}% of pairs; smaller-gap arm has smaller ‖J‖ in {:.0}% [95% CI {:.0}–{:.0}%]",
            p.pairs,
            p.arms.1,
            100.0 * gap.on_larger,
            100.0 * a.fraction,
            100.0 * a.ci_low,
            100.0 * a.ci_high
        ),
    )
}

/// Networks a rank correlation needs before finding 3 is judged on it.
pub const MIN_NETWORKS_FOR_FINDING_3: usize = 5;

/// "0.512", or why there is no number.
fn stat(v: f64, why: &str) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        format!("not available ({why})")
    }
}

/// A granulated τ with what it rests on, or why it is not reported.
fn granulated(c: &super::analysis::Correlation) -> String {
    if c.granulated_kendall.is_finite() {
        let groups: usize = c.per_axis.iter().map(|a| a.2).sum();
        format!(
            "{:.3} (over {} pairs of networks in {groups} groups)",
            c.granulated_kendall,
            c.granulated_pairs()
        )
    } else {
        format!("not available ({})", c.granulated_missing())
    }
}

fn finding_3(r: &Report) -> Finding {
    let claim = "Across many networks, generalization gap and Jacobian norm are strongly related (high rank correlation); transitions alone are confounded by network size.".to_string();
    let Some(c) = r.correlations.iter().max_by_key(|c| c.networks) else {
        return Finding {
            number: 3,
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "no unpaired study with a finished network in the store".into(),
        };
    };
    if c.networks < MIN_NETWORKS_FOR_FINDING_3 {
        return Finding {
            number: 3,
            claim,
            verdict: Verdict::NotValid,
            evidence: format!(
                "the largest sweep of unpaired networks, {}, has {} usable networks; the rule needs rank \
                 correlations over at least {MIN_NETWORKS_FOR_FINDING_3}",
                c.sweep, c.networks
            ),
        };
    }
    let get = |m: &str| c.correlations.iter().find(|x| x.metric == m);
    let (Some(j), t) = (get(JACOBIAN_NORM.name), get(TRANSITIONS.name)) else {
        return Finding {
            number: 3,
            claim,
            verdict: Verdict::NotMeasured,
            evidence: format!("sweep {} measured no Jacobian norms", c.sweep),
        };
    };
    let t_rho = t.map_or(f64::NAN, |t| t.spearman);
    let ok = j.spearman >= 0.5 && (t_rho.is_nan() || j.spearman > t_rho.abs());
    let no_transitions = "this sweep counts no transitions";
    Finding {
        number: 3,
        claim,
        verdict: Verdict::from_rule(ok),
        evidence: format!(
            "rule: Spearman ρ(gap, ‖J‖) ≥ 0.5 and larger than |ρ(gap, transitions)| where transitions are counted. \
             Sweep {}, {} networks{}: ρ(gap, ‖J‖) = {}, Kendall τ = {}, granulated τ = {}, CMI = {}; \
             ρ(gap, transitions) = {}, granulated τ = {}; ρ(transitions, parameter count) = {}.",
            c.sweep,
            c.networks,
            if c.filtered_to_100 {
                " at 100% training accuracy"
            } else {
                " (too few at 100% training accuracy: all finished networks)"
            },
            stat(j.spearman, "undefined for these values"),
            stat(j.kendall, "undefined for these values"),
            granulated(j),
            j.cmi.text(),
            stat(
                t_rho,
                if t.is_none() {
                    no_transitions
                } else {
                    "undefined for these values"
                }
            ),
            t.map_or(format!("not available ({no_transitions})"), granulated),
            c.transitions_vs_params.text()
        ),
    }
}

fn finding_4(r: &Report) -> Finding {
    let claim =
        "Per test point, the Jacobian norm tracks the cross-entropy loss within the analytic bounds.".to_string();
    let Some(p) = r.per_point.iter().max_by_key(|p| p.points) else {
        return Finding {
            number: 4,
            claim,
            verdict: Verdict::NotMeasured,
            evidence: "no per-point study in the store".into(),
        };
    };
    if !(p.median_spearman.is_finite() && p.target_row_within_2x.is_finite()) {
        return Finding {
            number: 4,
            claim,
            verdict: Verdict::NotValid,
            evidence: format!(
                "sweep {}: no network has per-point losses and Jacobian norms that vary, so no rank correlation \
                 can be computed ({} networks, {} points)",
                p.sweep, p.networks, p.points
            ),
        };
    }
    let ok = p.median_spearman >= 0.5 && p.target_row_within_2x >= 0.8;
    Finding {
        number: 4,
        claim,
        verdict: Verdict::from_rule(ok),
        evidence: format!(
            "rule: median per-network Spearman ρ(loss, ‖J‖) ≥ 0.5 and ≥ 80% of points' ‖J_y‖/C within a factor 2 of \
             its analytic range (C is estimated). {} networks, {} points: median ρ = {:.3}, pooled ρ(loss, ‖J‖/C) = {:.3}; \
             ‖J_y‖/C inside its range {:.0}% (within 2×: {:.0}%), ‖J‖/C inside its range {:.0}% (within 2×: {:.0}%).",
            p.networks,
            p.points,
            p.median_spearman,
            p.pooled_spearman,
            100.0 * p.target_row_within,
            100.0 * p.target_row_within_2x,
            100.0 * p.full_norm_within,
            100.0 * p.full_norm_within_2x
        ),
    }
}
