//! Training: mini-batch loop with per-epoch shuffling, augmentation, learning rate decay,
//! early stop at 100% training accuracy, divergence as a result (or a fall-back to a kept
//! checkpoint), and the final evaluation on the whole train and test sets. Settings are
//! checked against their ranges first.

mod config;
mod lbfgs;
pub mod log;
pub mod observe;
mod optim;

pub(crate) use config::is_false;
pub use config::{TrainConfig, ranges};
pub use observe::{OnProgress, TrainProgress};
pub use optim::{
    AdamParams, MomentumParams, Optimizer, OptimizerKind, OptimizerState, RmsPropParams, build as optimizer,
    step_network,
};

use crate::compute::{Backend, Compute, DeviceNet};
use crate::data::{Dataset, Splits};
use crate::net::Mlp;
use crate::net::engine::BatchGradient;
use crate::net::engine::{self, Evaluation};
use crate::rng::{Stream, rng_for};
use rand::seq::SliceRandom;
use serde::Serialize;
use std::time::Instant;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The step budget was used up.
    Completed,
    /// Stopped early at 100% training accuracy (only with `stop_at_100`).
    #[serde(rename = "reached_100")]
    Reached100,
    /// The loss became NaN or infinite; the network is the last finite one.
    Diverged,
}

/// A run that diverged after its fallback step and ended with the weights kept there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fallback {
    /// The step the returned weights were copied after (the config's `fallback_at`).
    pub checkpoint_step: usize,
    /// The last step completed before the loss became non-finite.
    pub diverged_after_step: usize,
}

impl Fallback {
    /// What happened, in words, for a trial's `reason`.
    pub fn reason(&self) -> String {
        format!(
            "diverged after step {}; measured at the step-{} checkpoint",
            self.diverged_after_step, self.checkpoint_step
        )
    }
}

/// Everything a training run produced.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The trained network.
    pub net: Mlp,
    /// The network at step 0.
    pub initial: Mlp,
    /// How the run ended.
    pub status: Status,
    /// Steps the returned network was trained for (with a fallback: its checkpoint step).
    pub steps: usize,
    /// Passes over the training set begun.
    pub epochs: usize,
    /// The learning rate at the end, after decay.
    pub final_lr: f64,
    /// Set when the run diverged and `net` is the fallback checkpoint (status `Completed`).
    pub fallback: Option<Fallback>,
    /// Loss and accuracy on the training set (random labels included).
    pub train: Evaluation,
    /// Loss and accuracy on the test split.
    pub test: Evaluation,
    /// Seconds of training, without the time spent in an observer.
    pub wall_seconds: f64,
    /// Mean batch loss and accuracy per interval (empty unless asked for; mini-batch only).
    pub log: Vec<log::LogRow>,
}

impl TrainOutcome {
    /// Train accuracy minus test accuracy.
    pub fn generalization_gap(&self) -> f64 {
        self.train.accuracy - self.test.accuracy
    }
}

/// Prepares the training set a config asks for: the first `train_size` examples, labels
/// randomized when requested (seeded).
pub fn training_set(config: &TrainConfig, splits: &Splits) -> Dataset {
    let mut train = match config.train_size {
        Some(n) => splits.train.take(n),
        None => splits.train.clone(),
    };
    if config.random_labels {
        train.randomize_labels(config.seed);
    }
    train
}

/// Trains a network from scratch as `config` describes, silently. Train accuracy is
/// measured on the (possibly random-labelled) training set.
pub fn train(config: &TrainConfig, splits: &Splits, compute: &Compute) -> crate::error::Result<TrainOutcome> {
    train_with(config, splits, compute, TrainHooks::default())
}

/// What a caller can attach to a training run. None of it changes the run: the same
/// seed gives the same bits with or without any hook.
#[derive(Default)]
pub struct TrainHooks<'a, 'o> {
    /// Called at least once per step with the progress; `Break` cancels the run, which
    /// then returns [`crate::error::OccamError::Cancelled`] ("training cancelled after N
    /// of M steps").
    pub on_progress: Option<observe::OnProgress<'a>>,
    /// Log the mean batch loss and accuracy every this many steps into
    /// [`TrainOutcome::log`] (0 = no log; mini-batch optimizers only).
    pub log_every: usize,
    /// Called with the network at its chosen steps and at the end (see
    /// [`observe::Observer`]); its time is not in `wall_seconds`.
    pub observer: Option<&'a mut observe::Observer<'o>>,
}

/// [`train`] with progress, cancellation, a loss log or an observer (see [`TrainHooks`]).
///
/// ```
/// use occam::compute::Compute;
/// use occam::data::{Dataset, Splits};
/// use occam::train::{TrainConfig, TrainHooks, TrainProgress};
/// use std::ops::ControlFlow;
///
/// // 40 points of 2x2 inputs in 2 classes: the sign of the first value.
/// let inputs: Vec<f32> = (0..160).map(|i| ((i * 37 % 17) as f32 - 8.0) / 8.0).collect();
/// let labels = (0..40).map(|p| (inputs[4 * p] > 0.0) as u16).collect();
/// let data = Dataset { inputs, labels, shape: [2, 2, 1], classes: 2 };
/// let splits = Splits { name: "toy".into(), train: data.clone(), validation: None, test: data };
/// let config = TrainConfig { width: 8, depth: 2, batch: 8, steps: 5, ..Default::default() };
///
/// let mut seen = 0;
/// let mut on_progress = |p: TrainProgress| {
///     seen = p.step;
///     ControlFlow::Continue(()) // Break would cancel the run
/// };
/// let hooks = TrainHooks { on_progress: Some(&mut on_progress), ..Default::default() };
/// let outcome = occam::train::train_with(&config, &splits, &Compute::new(1), hooks)?;
/// assert_eq!((outcome.steps, seen), (5, 5));
/// # Ok::<(), occam::OccamError>(())
/// ```
pub fn train_with<B: Backend>(
    config: &TrainConfig,
    splits: &Splits,
    backend: &B,
    hooks: TrainHooks<'_, '_>,
) -> crate::error::Result<TrainOutcome> {
    let TrainHooks {
        on_progress,
        log_every,
        mut observer,
    } = hooks;
    config.validate()?;
    let started = Instant::now();
    let train_set = training_set(config, splits);
    check_fits_data(config, &train_set, splits)?;
    check_training_memory(config, &train_set)?;
    let net = Mlp::try_random(
        train_set.shape,
        config.width,
        config.depth,
        train_set.classes,
        config.activation,
        config.init_scale,
        config.seed,
    )?;
    let net = if config.bias { net.with_zero_biases() } else { net };
    let initial = net.clone();
    if let Some(obs) = &observer
        && config.optimizer == OptimizerKind::Lbfgs
    {
        lbfgs::check_iterate_memory(&net, obs.steps().len())?;
    }
    let lbfgs = config.optimizer == OptimizerKind::Lbfgs;
    // L-BFGS reports objective evaluations, about two per iteration.
    let total = config.step_budget() * if lbfgs { 2 } else { 1 };
    let progress = observe::Reporter::new(on_progress, total);
    let mut run = if lbfgs {
        lbfgs::train_full_batch(
            net,
            config,
            &train_set,
            &backend.host(),
            &progress,
            observer.as_deref_mut(),
        )
    } else {
        train_minibatch(
            net,
            config,
            &train_set,
            backend,
            &progress,
            log_every,
            observer.as_deref_mut(),
        )
    };
    if let Some(step) = progress.cancelled_at() {
        return Err(crate::error::OccamError::Cancelled {
            task: "training",
            done: step,
            total: progress.total(),
            unit: if lbfgs { "objective evaluations" } else { "steps" },
        });
    }
    let evaluate = |net: &Mlp, data: &Dataset| engine::evaluate_on(backend, &DeviceNet::upload(backend, net), data);
    let mut train_eval = evaluate(&run.net, &train_set);
    let mut test_eval = evaluate(&run.net, &splits.test);
    let finite = |a: &Evaluation, b: &Evaluation| a.loss.is_finite() && b.loss.is_finite();
    if !finite(&train_eval, &test_eval) {
        run.status = Status::Diverged;
    }
    let mut fallback = None;
    if let (Status::Diverged, Some(checkpoint)) = (run.status, run.checkpoint.take()) {
        let train_at = evaluate(&checkpoint.net, &train_set);
        let test_at = evaluate(&checkpoint.net, &splits.test);
        if finite(&train_at, &test_at) {
            fallback = Some(Fallback {
                checkpoint_step: checkpoint.steps,
                diverged_after_step: run.steps,
            });
            (train_eval, test_eval) = (train_at, test_at);
            run.status = Status::Completed;
            run.net = checkpoint.net;
            run.steps = checkpoint.steps;
            run.epochs = checkpoint.epochs;
            run.final_lr = decayed_lr(config, checkpoint.epochs);
        }
    }
    let observing_seconds = match observer {
        Some(obs) => {
            obs.observe_final(run.steps, &run.net, &train_set);
            obs.seconds()
        }
        None => 0.0,
    };
    Ok(TrainOutcome {
        status: run.status,
        net: run.net,
        initial,
        steps: run.steps,
        epochs: run.epochs,
        final_lr: run.final_lr,
        fallback,
        train: train_eval,
        test: test_eval,
        wall_seconds: started.elapsed().as_secs_f64() - observing_seconds,
        log: run.log,
    })
}

/// Refuses what only the loaded data can rule out: an empty training or test split (its
/// accuracy would read 0.0) and a translation wider than the image.
fn check_fits_data(config: &TrainConfig, train_set: &Dataset, splits: &Splits) -> crate::error::Result<()> {
    use crate::error::OccamError;
    for (split, set) in [("training", train_set), ("test", &splits.test)] {
        if set.is_empty() {
            return Err(OccamError::config(format!(
                "{}: the {split} split has no examples; training and evaluation need at least one",
                config.data
            )));
        }
    }
    let [h, w, _] = train_set.shape;
    let translate = config.augment.translate;
    if translate > h.min(w) {
        return Err(OccamError::config(format!(
            "translate = {translate} (--translate, or augment.translate in a config) is out of range: \
             valid values are 0 to {}, the side of the images of {}",
            h.min(w),
            config.data
        )));
    }
    Ok(())
}

pub(crate) struct RunState {
    pub net: Mlp,
    pub status: Status,
    pub steps: usize,
    pub epochs: usize,
    pub final_lr: f64,
    pub log: Vec<log::LogRow>,
    /// The weights kept after the config's fallback step, if the run got that far.
    pub checkpoint: Option<Checkpoint>,
}

/// A copy of the weights after `steps` steps (`epochs` epochs completed).
pub(crate) struct Checkpoint {
    pub net: Mlp,
    pub steps: usize,
    pub epochs: usize,
}

/// The learning rate after `epochs` completed epochs: `lr · factor^⌊epochs / every⌋`.
pub fn decayed_lr(config: &TrainConfig, epochs: usize) -> f64 {
    config.lr * config.lr_decay_factor.powi((epochs / config.lr_decay_epochs) as i32)
}

/// Mini-batch training. Each epoch visits a fresh permutation of the training set in
/// batches of `batch`; the remainder that does not fill a batch is dropped for that epoch
/// (it is part of the next permutation). Weights are only updated by finite gradients:
/// on a non-finite loss the run ends as `Diverged` with the previous weights. After the
/// config's fallback step a copy of the weights is kept (see [`TrainConfig::fallback_at`]).
fn train_minibatch<B: Backend>(
    mut net: Mlp,
    config: &TrainConfig,
    data: &Dataset,
    backend: &B,
    progress: &observe::Reporter<'_>,
    log_every: usize,
    mut observer: Option<&mut observe::Observer<'_>>,
) -> RunState {
    let n = data.len();
    let batch = config.batch.min(n);
    let d = data.dim();
    let lens: Vec<usize> = net.params().iter().map(Vec::len).collect();
    let mut device = DeviceNet::upload(backend, &net);
    let mut optimizer = OptimizerState::on(backend, config.optimizer, &lens).expect("step-wise optimizer");
    let mut grads: Vec<Box<B::Buf>> = lens.iter().map(|&len| backend.alloc(len)).collect();
    // One shard: the same bits at every thread count (docs/BACKEND.md, Determinism).
    let mut gradient = BatchGradient::on(backend, &net, batch, 1);
    let mut shuffle_rng = rng_for(config.seed, Stream::Shuffle);
    let mut augment_rng = rng_for(config.seed, Stream::Augment);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut shuffle_rng);
    // Host copies of the batch, needed only to augment it before it goes to the backend.
    let scratch = if config.augment.is_identity() { 0 } else { batch * d };
    let (mut x, mut x_aug) = (vec![0.0f32; scratch], vec![0.0f32; scratch]);
    let mut labels = vec![0u16; batch];
    let (mut pos, mut epochs) = (0usize, 0usize);
    let (mut epoch_correct, mut epoch_seen, mut recent_loss) = (0usize, 0usize, f64::NAN);
    let mut status = Status::Completed;
    let mut steps = 0;
    let mut train_log = log::TrainLog::new(log_every);
    let fallback_step = config.fallback_step();
    let mut checkpoint = None;
    while steps < config.steps {
        if pos + batch > n {
            // End of an epoch: maybe stop at 100%, then reshuffle.
            epochs += 1;
            if config.stop_at_100
                && epoch_correct as f64 >= 0.99 * epoch_seen as f64
                && engine::evaluate_on(backend, &device, data).correct == n
            {
                status = Status::Reached100;
                break;
            }
            order.shuffle(&mut shuffle_rng);
            pos = 0;
            (epoch_correct, epoch_seen) = (0, 0);
        }
        let rows = &order[pos..pos + batch];
        for (j, &i) in rows.iter().enumerate() {
            labels[j] = data.labels[i];
        }
        if config.augment.is_identity() {
            // Straight from the dataset into the backend's batch buffer(s).
            gradient.load(backend, batch, &mut |range, dst| {
                for (j, out) in range.zip(dst.chunks_exact_mut(d)) {
                    out.copy_from_slice(data.input(rows[j]));
                }
            });
        } else {
            for (j, &i) in rows.iter().enumerate() {
                x[j * d..(j + 1) * d].copy_from_slice(data.input(i));
            }
            config.augment.apply(data.shape, &x, &mut x_aug, &mut augment_rng);
            gradient.load(backend, batch, &mut |range, dst| {
                dst.copy_from_slice(&x_aug[range.start * d..range.end * d])
            });
        }
        pos += batch;
        let stats = gradient.compute_loaded(backend, &device, &labels, &mut grads);
        if !stats.loss_sum.is_finite() {
            status = Status::Diverged;
            break;
        }
        let lr = decayed_lr(config, epochs);
        optimizer.step_on(backend, device.params_mut(), &grads, lr as f32);
        steps += 1;
        if Some(steps) == fallback_step {
            device.read_into(backend, &mut net);
            checkpoint = Some(Checkpoint {
                net: net.clone(),
                steps,
                epochs,
            });
        }
        if let Some(obs) = &mut observer
            && obs.wants(steps)
        {
            device.read_into(backend, &mut net);
            obs.maybe_observe(steps, &net, data);
        }
        train_log.step(steps, epochs, lr, (stats.loss_sum, stats.correct, stats.n));
        epoch_correct += stats.correct;
        epoch_seen += stats.n;
        recent_loss = if recent_loss.is_nan() {
            stats.loss_sum / stats.n as f64
        } else {
            0.95 * recent_loss + 0.05 * stats.loss_sum / stats.n as f64
        };
        if progress.report(steps, recent_loss).is_break() {
            break;
        }
    }
    device.read_into(backend, &mut net);
    RunState {
        net,
        status,
        steps,
        epochs,
        final_lr: decayed_lr(config, epochs),
        log: train_log.finish(steps, epochs, decayed_lr(config, epochs)),
        checkpoint,
    }
}

/// Stops a run whose estimated memory (weights, optimizer state, gradients and one batch
/// of activations) exceeds what this machine has, before anything is allocated.
fn check_training_memory(config: &TrainConfig, train_set: &Dataset) -> crate::error::Result<()> {
    // Weight-shaped buffers of optimizer state; L-BFGS keeps 10 (s, y) pairs and about
    // ten more copies of the parameters and gradient, and evaluates 1,000 examples at once.
    let (slots, batch) = match config.optimizer {
        OptimizerKind::Sgd => (0, config.batch),
        OptimizerKind::Momentum | OptimizerKind::Rmsprop => (1, config.batch),
        OptimizerKind::Adam => (2, config.batch),
        OptimizerKind::Lbfgs => (30, 1000),
    };
    // The fallback copy of the weights is one more weight-shaped buffer.
    let slots = slots + usize::from(config.fallback_step().is_some());
    let bytes = crate::net::estimated_training_bytes(
        train_set.dim(),
        config.width,
        config.depth,
        train_set.classes,
        batch.min(train_set.len()),
        slots,
    );
    crate::limits::check_memory(
        &format!(
            "training a network of width {} and depth {} with batch {}",
            config.width, config.depth, config.batch
        ),
        bytes,
    )
}
