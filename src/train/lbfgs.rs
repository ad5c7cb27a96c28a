//! Full-batch L-BFGS training (the paper's "full batch" arm): argmin's L-BFGS with a
//! Moré–Thuente line search on the mean cross-entropy over the whole training set.
//! Both at argmin's default tolerances (docs/MODEL.md, Training, lists them).

use super::observe::{Observer, Reporter};
use super::{RunState, Status, TrainConfig};
use crate::compute::Compute;
use crate::data::Dataset;
use crate::net::engine;
use crate::net::{Mlp, Workspace};
use argmin::core::observers::{Observe, ObserverMode};
use argmin::core::{CostFunction, Error, Executor, Gradient, KV, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use std::sync::{Arc, Mutex};

/// History length of the L-BFGS approximation (SciPy's and TF-1's default, m = 10).
const MEMORY: usize = 10;
const CHUNK: usize = 1000;

/// (parameters, cost, gradient) of the last objective evaluation.
type Evaluated = (Vec<f32>, f32, Vec<f32>);

/// The full-batch objective over flattened weights. Cost and gradient come from one
/// pass; the last evaluation is cached because argmin asks for them separately.
struct FullBatch<'a, 'p> {
    template: Mlp,
    data: &'a Dataset,
    compute: &'a Compute,
    progress: &'a Reporter<'p>,
    cache: Mutex<Option<Evaluated>>,
    /// Lowest finite cost seen and its parameters, kept in case the solver aborts.
    best: &'a Mutex<Option<(f32, Vec<f32>)>>,
    evaluations: &'a Mutex<usize>,
}

impl FullBatch<'_, '_> {
    fn evaluate(&self, flat: &[f32]) -> (f32, Vec<f32>) {
        let mut cache = self.cache.lock().unwrap();
        if let Some((p, c, g)) = cache.as_ref()
            && p.as_slice() == flat
        {
            return (*c, g.clone());
        }
        let mut net = self.template.clone();
        unflatten(flat, net.params_mut());
        let n = self.data.len();
        let d = self.data.dim();
        let mut ws = Workspace::new(&net, CHUNK.min(n));
        let mut chunk_grads: Vec<Vec<f32>> = net.zero_params();
        let mut total = vec![0.0f64; flat.len()];
        let mut loss_sum = 0.0f64;
        for start in (0..n).step_by(CHUNK) {
            let m = CHUNK.min(n - start);
            let x = &self.data.inputs[start * d..(start + m) * d];
            let stats = engine::loss_and_gradients(
                &net,
                self.compute,
                x,
                &self.data.labels[start..start + m],
                &mut ws,
                &mut chunk_grads,
            );
            loss_sum += stats.loss_sum;
            // Chunk gradients are means over the chunk; weight them to the full mean.
            let weight = m as f64 / n as f64;
            for (t, g) in total.iter_mut().zip(chunk_grads.iter().flatten()) {
                *t += weight * *g as f64;
            }
        }
        let cost = (loss_sum / n as f64) as f32;
        let grad: Vec<f32> = total.iter().map(|&v| v as f32).collect();
        *cache = Some((flat.to_vec(), cost, grad.clone()));
        let evaluations = {
            let mut count = self.evaluations.lock().unwrap();
            *count += 1;
            *count
        };
        // A cancelled run is stopped by the next `cost` or `gradient` call (below).
        let _ = self.progress.report(evaluations, cost as f64);
        let mut best = self.best.lock().unwrap();
        if cost.is_finite() && best.as_ref().is_none_or(|(c, _)| cost < *c) {
            *best = Some((cost, flat.to_vec()));
        }
        (cost, grad)
    }
}

impl FullBatch<'_, '_> {
    /// Ends the solver's run (as an error, which the caller turns into a cancellation).
    fn stop_if_cancelled(&self) -> Result<(), Error> {
        match self.progress.cancelled_at() {
            Some(_) => Err(Error::msg("training cancelled")),
            None => Ok(()),
        }
    }
}

impl CostFunction for FullBatch<'_, '_> {
    type Param = Vec<f32>;
    type Output = f32;
    fn cost(&self, p: &Vec<f32>) -> Result<f32, Error> {
        self.stop_if_cancelled()?;
        Ok(self.evaluate(p).0)
    }
}

impl Gradient for FullBatch<'_, '_> {
    type Param = Vec<f32>;
    type Gradient = Vec<f32>;
    fn gradient(&self, p: &Vec<f32>) -> Result<Vec<f32>, Error> {
        self.stop_if_cancelled()?;
        Ok(self.evaluate(p).1)
    }
}

fn flatten(weights: &[Vec<f32>]) -> Vec<f32> {
    weights.iter().flatten().copied().collect()
}

fn unflatten(flat: &[f32], weights: &mut [Vec<f32>]) {
    let mut offset = 0;
    for w in weights {
        let len = w.len();
        w.copy_from_slice(&flat[offset..offset + len]);
        offset += len;
    }
}

/// (iteration, parameters) of the iterates kept so far, shared with the solver's observer.
type KeptIterates = Arc<Mutex<Vec<(usize, Vec<f32>)>>>;

/// The iterates at chosen iterations (1-based), kept while the solver runs and handed to
/// an [`Observer`] afterwards (argmin's observers must own what they hold).
struct KeepIterates {
    wanted: Vec<usize>,
    kept: KeptIterates,
}

impl<I: State<Param = Vec<f32>>> Observe<I> for KeepIterates {
    fn observe_iter(&mut self, state: &I, _kv: &KV) -> Result<(), Error> {
        // Called before the iteration counter moves on: this is iteration get_iter() + 1.
        let iteration = state.get_iter() as usize + 1;
        if self.wanted.binary_search(&iteration).is_ok()
            && let Some(param) = state.get_param()
        {
            self.kept.lock().unwrap().push((iteration, param.clone()));
        }
        Ok(())
    }
}

/// Refuses tracking an L-BFGS run whose kept iterates (one copy of the parameters per
/// checkpoint) would not fit in memory.
pub(super) fn check_iterate_memory(net: &Mlp, checkpoints: usize) -> crate::error::Result<()> {
    crate::limits::check_memory(
        &format!(
            "tracking full-batch L-BFGS at {checkpoints} checkpoints ({} parameters each)",
            net.param_count()
        ),
        checkpoints as f64 * net.param_count() as f64 * 4.0,
    )
}

/// Runs at most `config.step_budget()` L-BFGS iterations from `net` (`lbfgs_steps`, else
/// `steps`). argmin's convergence
/// tolerances end it as `Completed`. If the solver aborts (its line search meets NaN/inf
/// or cannot make progress), the run keeps the lowest-cost finite weights it evaluated,
/// as `Completed`, and `steps` is then the number of objective evaluations; with no
/// finite cost at all it is `Diverged`. An `observer` sees the iterates at its chosen
/// iterations before the final step (the final network is the lowest-cost one, which the
/// caller hands it).
pub(super) fn train_full_batch(
    net: Mlp,
    config: &TrainConfig,
    data: &Dataset,
    compute: &Compute,
    progress: &Reporter<'_>,
    observer: Option<&mut Observer<'_>>,
) -> RunState {
    let init = flatten(net.params());
    let best = Mutex::new(None);
    let evaluations = Mutex::new(0);
    let problem = FullBatch {
        template: net.clone(),
        data,
        compute,
        progress,
        cache: Mutex::new(None),
        best: &best,
        evaluations: &evaluations,
    };
    let max_iters = config.step_budget();
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), MEMORY);
    let kept: KeptIterates = Arc::new(Mutex::new(Vec::new()));
    let mut executor =
        Executor::new(problem, solver).configure(|state| state.param(init.clone()).max_iters(max_iters as u64));
    if let Some(obs) = &observer {
        let keep = KeepIterates {
            wanted: obs.steps().to_vec(),
            kept: Arc::clone(&kept),
        };
        executor = executor.add_observer(keep, ObserverMode::Always);
    }
    let result = executor.run();
    let mut out = net;
    let (status, steps) = match result {
        Ok(res) => {
            let state = res.state();
            let best = state.get_best_param().cloned().unwrap_or(init);
            unflatten(&best, out.params_mut());
            let finite = state.get_best_cost().is_finite();
            (
                if finite { Status::Completed } else { Status::Diverged },
                state.get_iter() as usize,
            )
        }
        Err(_) => match best.lock().unwrap().take() {
            Some((_, best)) => {
                unflatten(&best, out.params_mut());
                (Status::Completed, *evaluations.lock().unwrap())
            }
            None => (Status::Diverged, 0),
        },
    };
    if let Some(obs) = observer {
        let mut at = out.clone();
        for (iteration, param) in kept.lock().unwrap().drain(..).filter(|(i, _)| *i < steps) {
            unflatten(&param, at.params_mut());
            obs.maybe_observe(iteration, &at, data);
        }
    }
    RunState {
        net: out,
        status,
        steps,
        epochs: steps,
        final_lr: config.lr,
        log: Vec::new(),
        checkpoint: None,
    }
}
