//! Sensitivity over training: the per-network curves of a study that tracked its networks
//! (`[measure] track = K`), and at each checkpoint step the rank correlation of the gap
//! with ‖J‖ across the networks — when during training the relation forms. The figure
//! has three panels: ‖J‖ and the gap against the step for every network, and ρ against
//! the step.

use super::analysis::{Stat, spearman_stat, usable};
use crate::plot::{AxisSpec, Chart, ChartGrid, PALETTE, Series};
use crate::sweep::TrialRecord;
use crate::sweep::artifact::{Artifact, TrackArtifact};
use serde::Serialize;
use std::collections::BTreeMap;

/// One tracked network: its trial and its checkpoints.
#[derive(Debug, Clone, Serialize)]
pub struct TrackedNetwork {
    pub trial: usize,
    /// The settings that tell it apart from the study's other networks.
    pub label: String,
    pub track: TrackArtifact,
}

/// Spearman ρ(gap, ‖J‖) across the networks at one checkpoint step.
#[derive(Debug, Clone, Serialize)]
pub struct StepCorrelation {
    pub step: usize,
    /// Networks with both values finite at this step.
    pub networks: usize,
    pub spearman: Stat,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrainingAnalysis {
    pub sweep: String,
    pub networks: Vec<TrackedNetwork>,
    /// By step, over the steps at which at least two networks were measured.
    pub correlations: Vec<StepCorrelation>,
}

/// The training analysis of a study whose trials carry a `track` artifact; None otherwise.
pub fn analyse(sweep: &str, trials: &[&TrialRecord]) -> Option<TrainingAnalysis> {
    let tracked: Vec<(&TrialRecord, &TrackArtifact)> = trials
        .iter()
        .filter(|r| usable(r))
        .filter_map(|r| {
            r.artifacts.iter().find_map(|a| match a {
                Artifact::Track(t) => Some((*r, t)),
                _ => None,
            })
        })
        .collect();
    if tracked.is_empty() {
        return None;
    }
    let configs: Vec<&crate::train::TrainConfig> = tracked.iter().map(|(r, _)| &r.spec.train).collect();
    let labels = super::config::network_labels(&configs);
    let mut at_step: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
    for (_, t) in &tracked {
        for (i, &step) in t.steps.iter().enumerate() {
            let (g, j) = (t.gap[i], t.jacobian_norm[i]);
            let values = at_step.entry(step).or_default();
            if g.is_finite() && j.is_finite() {
                values.push((g, j));
            }
        }
    }
    let correlations = at_step
        .into_iter()
        .filter(|(_, v)| v.len() >= 2)
        .map(|(step, v)| {
            let (g, j): (Vec<f64>, Vec<f64>) = v.iter().copied().unzip();
            let spearman = spearman_stat(&g, &j, "the gap or ‖J‖ is the same for every network at this step");
            StepCorrelation {
                step,
                networks: v.len(),
                spearman,
            }
        })
        .collect();
    Some(TrainingAnalysis {
        sweep: sweep.to_string(),
        networks: tracked
            .iter()
            .zip(labels)
            .map(|((r, t), label)| TrackedNetwork {
                trial: r.index,
                label,
                track: (*t).clone(),
            })
            .collect(),
        correlations,
    })
}

/// The three panels: ‖J‖ and gap per network against the step, ρ against the step.
pub fn figure(t: &TrainingAnalysis, caption: &str) -> ChartGrid {
    let curve = |f: &dyn Fn(&TrackArtifact, usize) -> f64| -> Vec<Series> {
        t.networks
            .iter()
            .enumerate()
            .map(|(k, n)| Series {
                name: n.label.clone(),
                points: (0..n.track.steps.len())
                    .map(|i| (n.track.steps[i] as f64, f(&n.track, i)))
                    .collect(),
                color: PALETTE[k % PALETTE.len()],
            })
            .collect()
    };
    let rho: Vec<(f64, f64)> = t
        .correlations
        .iter()
        .filter_map(|c| match c.spearman {
            Stat::Value { value } => Some((c.step as f64, value)),
            _ => None,
        })
        .collect();
    let charts = vec![
        Chart {
            lines: curve(&|a, i| a.jacobian_norm[i]),
            ..Chart::new(
                "Jacobian norm during training",
                AxisSpec::log("training step (log)"),
                AxisSpec::log("mean test ‖J‖_F (log)"),
            )
        },
        Chart {
            lines: curve(&|a, i| a.gap[i]),
            ..Chart::new(
                "generalization gap during training",
                AxisSpec::log("training step (log)"),
                AxisSpec::linear("gap (train − test accuracy)"),
            )
        },
        Chart {
            lines: vec![Series {
                name: "Spearman ρ(gap, ‖J‖) across networks".into(),
                points: rho,
                color: plotters::style::RGBColor(0, 0, 0),
            }],
            ..Chart::new(
                "rank correlation of gap and ‖J‖ at each step",
                AxisSpec::log("training step (log)"),
                AxisSpec::linear("Spearman ρ"),
            )
        },
    ];
    ChartGrid {
        title: caption.to_string(),
        charts: charts.into_iter().filter(Chart::has_data).collect(),
        columns: 3,
        panel_size: (520, 440),
    }
}

/// The figure's caption and alt text.
pub fn caption_and_alt(t: &TrainingAnalysis, caption: &str) -> (String, String) {
    let steps = t.correlations.len();
    let last = t
        .correlations
        .last()
        .map_or("no value".to_string(), |c| c.spearman.text());
    (
        format!(
            "Sensitivity over training: the mean test Jacobian norm and the generalization gap of each of {} \
             networks at log-spaced training steps, and the Spearman rank correlation of gap and ‖J‖ across the \
             networks at each step. {caption}.",
            t.networks.len()
        ),
        format!(
            "Three line charts against the training step on a log axis: the Jacobian norm of {} networks, their \
             generalization gaps, and the rank correlation of the two across networks at {steps} steps, ending at {last}.",
            t.networks.len()
        ),
    )
}
