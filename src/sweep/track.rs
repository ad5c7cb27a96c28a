//! Training a sweep trial, tracked when its spec says `[measure] track = K`: the trial's
//! own measurement settings (its Jacobian test points, its transition trajectories and
//! seed) applied at K log-spaced steps, stored as the `track` artifact. Without `track`
//! this is plain training. Training runs on the trial's device; the checkpoints are
//! measured on its host backend.

use super::artifact::{Artifact, TrackArtifact};
use super::device::TrialBackend;
use super::spec::TrialSpec;
use crate::data::Splits;
use crate::error::Result;
use crate::measure::track::{TrackRow, TrackSettings, TrackTransitions, measure_checkpoint};
use crate::train::observe::{Observer, log_spaced_steps};
use crate::train::{self, TrainOutcome};

/// The seed of a trial's trajectories: the same one its final transition count uses.
fn trajectory_seed(spec: &TrialSpec) -> u64 {
    spec.measure_seed()
}

/// What a trial measures at each checkpoint: what it measures at the end.
pub fn settings(spec: &TrialSpec) -> TrackSettings {
    TrackSettings {
        jacobian_points: spec.measure.jacobian_points,
        transitions: spec.measure.transitions.as_ref().map(|t| TrackTransitions {
            trajectory: t.trajectory,
            count: t.count,
            method: t.method,
            samples: t.samples,
            seed: trajectory_seed(spec),
        }),
    }
}

/// Trains the trial's network; with `track = K` also measures it at the K log-spaced
/// steps and returns the `track` artifact. An error is a failure of the trial.
pub fn train_trial(
    spec: &TrialSpec,
    splits: &Splits,
    backend: &dyn TrialBackend,
) -> Result<(TrainOutcome, Option<Artifact>)> {
    let Some(k) = spec.measure.track else {
        return Ok((backend.train(&spec.train, splits, Default::default())?, None));
    };
    let compute = backend.host();
    let settings = settings(spec);
    crate::measure::track::check_trajectories(splits, &settings)?;
    let mut rows: Vec<TrackRow> = Vec::new();
    let mut failure = None;
    let mut on_checkpoint = |c: train::observe::Checkpoint<'_>| {
        if failure.is_some() {
            return;
        }
        match measure_checkpoint(c.step, c.net, compute, c.train_set, splits, &settings) {
            Ok(row) => rows.push(row),
            Err(e) => failure = Some(e),
        }
    };
    let mut observer = Observer::new(log_spaced_steps(spec.train.steps, k), &mut on_checkpoint);
    let outcome = backend.train(
        &spec.train,
        splits,
        train::TrainHooks {
            observer: Some(&mut observer),
            ..Default::default()
        },
    )?;
    let seconds = observer.seconds();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((outcome, Some(Artifact::Track(TrackArtifact::from_rows(&rows, seconds)))))
}
