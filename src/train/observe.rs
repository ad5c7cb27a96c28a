//! Looking at a run while it trains: the caller's progress callback (which can also cancel
//! the run), the log-spaced checkpoint rule and the observer a training run calls at those
//! steps (used to track sensitivity over training). Neither changes the run: with or
//! without them the same seed ends with the same weights.

use crate::data::Dataset;
use crate::error::Result;
use crate::limits::in_range;
use crate::net::Mlp;
use std::ops::ControlFlow;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a progress callback is told, at least once per step (for L-BFGS: once per
/// objective evaluation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainProgress {
    /// Steps taken (L-BFGS: objective evaluations).
    pub step: usize,
    /// The most steps the run can take.
    pub total: usize,
    /// Time since the run started.
    pub elapsed: Duration,
    /// The latest mean loss: a running mean of batch losses, or the full-batch loss;
    /// `None` before the first one.
    pub loss: Option<f64>,
}

/// A progress callback: `Break` cancels the run, which then returns
/// [`crate::error::OccamError::Cancelled`].
pub type OnProgress<'a> = &'a mut (dyn FnMut(TrainProgress) -> ControlFlow<()> + Send);

/// Calls the caller's progress callback and remembers a request to stop. Shared by the
/// mini-batch loop and the L-BFGS objective (hence the lock).
pub(crate) struct Reporter<'a> {
    on_progress: Mutex<Option<OnProgress<'a>>>,
    started: Instant,
    total: usize,
    stopped_at: Mutex<Option<usize>>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(on_progress: Option<OnProgress<'a>>, total: usize) -> Self {
        Reporter {
            on_progress: Mutex::new(on_progress),
            started: Instant::now(),
            total,
            stopped_at: Mutex::new(None),
        }
    }

    /// Reports `step`; `Break` when the caller asked to stop (now or before).
    pub(crate) fn report(&self, step: usize, loss: f64) -> ControlFlow<()> {
        if self.cancelled_at().is_some() {
            return ControlFlow::Break(());
        }
        let mut guard = self.on_progress.lock().unwrap_or_else(|p| p.into_inner());
        let Some(callback) = guard.as_mut() else {
            return ControlFlow::Continue(());
        };
        let progress = TrainProgress {
            step,
            total: self.total,
            elapsed: self.started.elapsed(),
            loss: (!loss.is_nan()).then_some(loss),
        };
        let flow = callback(progress);
        if flow.is_break() {
            *self.stopped_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(step);
        }
        flow
    }

    /// The step at which the caller cancelled, if it did.
    pub(crate) fn cancelled_at(&self) -> Option<usize> {
        *self.stopped_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The most steps the run can take.
    pub(crate) fn total(&self) -> usize {
        self.total
    }
}

/// Fewest and most checkpoints a run may be tracked at.
pub const MIN_CHECKPOINTS: usize = 2;
/// Most checkpoints a run may be tracked at.
pub const MAX_CHECKPOINTS: usize = 1000;

/// Checks a number of checkpoints (`what` names the option or key).
pub fn check_checkpoints(what: &str, k: usize) -> Result<()> {
    in_range(what, k, MIN_CHECKPOINTS, MAX_CHECKPOINTS)
}

/// `k` log-spaced steps in 1..=`budget`: `round(exp(ln(budget) · i / (k − 1)))` for
/// i = 0 … k − 1 (rounded half away from zero), duplicates removed, the last step always
/// `budget`. Fewer than `k` steps come back when the budget is short (k > budget or steps
/// crowding near 1). `budget` 0 gives no steps; `k` below 2 gives `[budget]`.
pub fn log_spaced_steps(budget: usize, k: usize) -> Vec<usize> {
    if budget == 0 {
        return Vec::new();
    }
    let ln = (budget as f64).ln();
    let mut steps: Vec<usize> = (0..k.saturating_sub(1))
        .map(|i| ((ln * i as f64 / (k - 1) as f64).exp().round() as usize).clamp(1, budget))
        .collect();
    steps.push(budget);
    steps.dedup();
    steps
}

/// The network at a checkpoint, with the training set it is being trained on (random
/// labels included), so that an observer evaluates on exactly what the run reports.
pub struct Checkpoint<'a> {
    /// Steps taken (for L-BFGS: iterations; see [`Observer`] for the last checkpoint).
    pub step: usize,
    /// The network at that step.
    pub net: &'a Mlp,
    /// The set it is trained on.
    pub train_set: &'a Dataset,
}

/// Calls a closure with the network at chosen steps of a run. The run calls it at every
/// chosen step it reaches, and once more with the network it returns at the step it
/// stopped at (an early stop, a divergence, or an L-BFGS run that ended before its cap),
/// unless that step was just observed with the same network; so the last checkpoint is
/// always the final network. Time spent in the closure is not counted as training time.
pub struct Observer<'a> {
    steps: Vec<usize>,
    next: usize,
    last_observed: Option<usize>,
    seconds: f64,
    on_checkpoint: &'a mut dyn FnMut(Checkpoint<'_>),
}

impl<'a> Observer<'a> {
    /// Observes at `steps` (taken in increasing order, each once; steps past the run's
    /// end are never reached, step 0 never).
    pub fn new(mut steps: Vec<usize>, on_checkpoint: &'a mut dyn FnMut(Checkpoint<'_>)) -> Self {
        steps.sort_unstable();
        steps.dedup();
        Observer {
            steps,
            next: 0,
            last_observed: None,
            seconds: 0.0,
            on_checkpoint,
        }
    }

    /// The steps asked for.
    pub fn steps(&self) -> &[usize] {
        &self.steps
    }

    /// Whether `step` is a chosen step not yet observed.
    pub(crate) fn wants(&self, step: usize) -> bool {
        self.steps.get(self.next) == Some(&step)
    }

    /// Calls the closure if `step` is the next chosen step.
    pub(crate) fn maybe_observe(&mut self, step: usize, net: &Mlp, train_set: &Dataset) {
        if self.wants(step) {
            self.next += 1;
            self.observe(step, net, train_set);
        }
    }

    /// The final network: observed unless `step` was the last one observed.
    pub(crate) fn observe_final(&mut self, step: usize, net: &Mlp, train_set: &Dataset) {
        if self.last_observed != Some(step) {
            self.observe(step, net, train_set);
        }
    }

    fn observe(&mut self, step: usize, net: &Mlp, train_set: &Dataset) {
        let started = Instant::now();
        (self.on_checkpoint)(Checkpoint { step, net, train_set });
        self.last_observed = Some(step);
        self.seconds += started.elapsed().as_secs_f64();
    }

    /// Seconds spent observing.
    pub(crate) fn seconds(&self) -> f64 {
        self.seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_spaced_steps_follow_the_stated_rule() {
        assert_eq!(log_spaced_steps(1000, 4), vec![1, 10, 100, 1000]);
        // 100^(i/4) = 1, 3.16, 10, 31.6, 100.
        assert_eq!(log_spaced_steps(100, 5), vec![1, 3, 10, 32, 100]);
        assert_eq!(log_spaced_steps(3000, 2), vec![1, 3000]);
        // 10^(i/5) = 1, 1.58, 2.51, 3.98, 6.31, 10: 1.58 rounds to 2, duplicates go.
        assert_eq!(log_spaced_steps(10, 6), vec![1, 2, 3, 4, 6, 10]);
        assert_eq!(log_spaced_steps(5, 50), vec![1, 2, 3, 4, 5]);
        assert_eq!(log_spaced_steps(1, 10), vec![1]);
        assert!(log_spaced_steps(0, 10).is_empty());
        let many = log_spaced_steps(1 << 18, 1000);
        assert_eq!(many.last(), Some(&(1 << 18)));
        assert!(many.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn checkpoint_counts_outside_2_to_1000_are_refused() {
        for k in [0, 1, 1001] {
            let e = check_checkpoints("--track", k).unwrap_err().to_string();
            assert!(
                e.contains("--track") && e.contains(&k.to_string()) && e.contains("1000"),
                "{e}"
            );
        }
        assert!(check_checkpoints("--track", 2).is_ok() && check_checkpoints("--track", 1000).is_ok());
    }
}
