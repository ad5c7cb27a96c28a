//! The preconditions of a paired study, checked before its finding is judged: enough pairs
//! whose two networks both fit their training set (the paper compares only those), and
//! for the augmentation study, that augmentation does not lower test accuracy (otherwise a
//! smaller gap could come from a worse fit alone). A study failing a check is "not valid at
//! this scale", never reproduced or not reproduced.

use super::analysis::fits;
use crate::sweep::TrialRecord;
use crate::sweep::metrics::TEST_ACCURACY;
use crate::sweep::spec::Factor;
use serde::Serialize;

/// Fewest pairs with both networks at 100% training accuracy for a paired study to be judged.
pub const MIN_FITTED_PAIRS: usize = 5;

/// One precondition and whether it holds, with the numbers.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub holds: bool,
    pub detail: String,
}

/// The preconditions of one paired study.
#[derive(Debug, Clone, Serialize)]
pub struct PairValidity {
    /// Pairs with both networks trained and measured.
    pub complete_pairs: usize,
    /// Of those, pairs with both networks at 100% training accuracy.
    pub fitted_pairs: usize,
    pub checks: Vec<Check>,
}

impl PairValidity {
    pub fn valid(&self) -> bool {
        self.checks.iter().all(|c| c.holds)
    }

    /// The failed checks' details, joined.
    pub fn failures(&self) -> String {
        self.checks
            .iter()
            .filter(|c| !c.holds)
            .map(|c| c.detail.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Checks a paired study: `complete` are its pairs ([off, on] arms) with both networks
/// measured, `used` the pairs its statistics are computed over.
pub fn check(factor: Factor, complete: &[[&TrialRecord; 2]], used: &[[&TrialRecord; 2]]) -> PairValidity {
    let (off_name, on_name) = factor.arms();
    let fitted = complete.iter().filter(|[a, b]| fits(a) && fits(b)).count();
    let off_fit = complete.iter().filter(|[a, _]| fits(a)).count();
    let on_fit = complete.iter().filter(|[_, b]| fits(b)).count();
    let n = complete.len();
    let mut checks = vec![Check {
        name: "both networks fit",
        holds: fitted >= MIN_FITTED_PAIRS,
        detail: format!(
            "{fitted} of {n} pairs have both networks at 100% training accuracy (at least {MIN_FITTED_PAIRS} \
             needed: the paper compares only such pairs); '{off_name}' fits in {off_fit}, '{on_name}' in {on_fit}"
        ),
    }];
    if factor == Factor::NoAugmentation {
        // The "off" arm is the augmented one.
        let mean = |arm: usize| {
            let v: Vec<f64> = used.iter().map(|p| p[arm].metric(TEST_ACCURACY)).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let lower = used
            .iter()
            .filter(|[a, b]| a.metric(TEST_ACCURACY) < b.metric(TEST_ACCURACY))
            .count();
        let (with, without) = (mean(0), mean(1));
        checks.push(Check {
            name: "augmentation does not lower test accuracy",
            holds: !used.is_empty() && with >= without,
            detail: format!(
                "mean test accuracy {with:.4} with augmentation vs {without:.4} without over {} pairs (augmented \
                 lower in {lower}); a smaller gap from a lower test accuracy would say nothing about sensitivity",
                used.len()
            ),
        });
    }
    PairValidity {
        complete_pairs: n,
        fitted_pairs: fitted,
        checks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::analysis::paired;
    use crate::report::findings::Verdict;
    use crate::report::findings::paired_verdict;
    use crate::sweep::TrialSpec;
    use crate::sweep::metrics::{GENERALIZATION_GAP, JACOBIAN_NORM, MetricValues, TRAIN_ACCURACY};
    use crate::sweep::spec::{MeasureSpec, PairSlot};

    /// One arm of pair `group`: its training and test accuracy and Jacobian norm.
    fn arm(factor: Factor, group: usize, on: bool, train: f64, test: f64, jacobian: f64) -> TrialRecord {
        let mut values = MetricValues::default();
        for (m, v) in [
            (TRAIN_ACCURACY, train),
            (TEST_ACCURACY, test),
            (GENERALIZATION_GAP, train - test),
            (JACOBIAN_NORM, jacobian),
        ] {
            values.set(m, v);
        }
        let mut spec = TrialSpec {
            train: Default::default(),
            measure: MeasureSpec::default(),
            pair: Some(PairSlot {
                group: format!("g{group}"),
                factor,
                on,
            }),
        };
        spec.train.seed = group as u64;
        TrialRecord::completed_for_test(format!("{group}-{on}"), 2 * group + on as usize, spec, values)
    }

    /// Eight pairs: the "on" arm has the larger gap and the larger ‖J‖ in every one.
    fn study(factor: Factor, on_train: f64, off_test: f64, on_test: f64) -> Vec<TrialRecord> {
        (0..8)
            .flat_map(|g| {
                [
                    arm(factor, g, false, 1.0, off_test, 1.0),
                    arm(factor, g, true, on_train, on_test, 2.0),
                ]
            })
            .collect()
    }

    fn verdict(trials: &[TrialRecord]) -> (Verdict, String) {
        let refs: Vec<&TrialRecord> = trials.iter().collect();
        paired_verdict(&paired("s", &refs).expect("a paired study"))
    }

    #[test]
    fn a_study_whose_arms_fit_is_judged() {
        let (v, text) = verdict(&study(Factor::RandomLabels, 1.0, 0.9, 0.1));
        assert_eq!(v, Verdict::Reproduced, "{text}");
    }

    #[test]
    fn a_study_whose_arms_do_not_fit_is_not_valid_at_this_scale() {
        // The random-label arm reaches only 60% training accuracy: no pair fits, so the
        // agreement (which would read 100%) must not be judged.
        let (v, text) = verdict(&study(Factor::RandomLabels, 0.6, 0.9, 0.1));
        assert_eq!(v, Verdict::NotValid);
        assert_eq!(v.text(), "not valid at this scale");
        assert!(text.contains("0 of 8 pairs have both networks at 100%"), "{text}");
    }

    #[test]
    fn augmentation_that_lowers_test_accuracy_makes_the_study_not_valid() {
        // Off = augmented: test accuracy 0.80 against 0.85 without augmentation.
        let (v, text) = verdict(&study(Factor::NoAugmentation, 1.0, 0.80, 0.85));
        assert_eq!(v, Verdict::NotValid);
        assert!(text.contains("0.8000 with augmentation vs 0.8500 without"), "{text}");
        let (v, _) = verdict(&study(Factor::NoAugmentation, 1.0, 0.85, 0.80));
        assert_eq!(v, Verdict::Reproduced);
    }
}
