//! Runs a sweep: trials in parallel (one worker per core by default, each trial on one
//! thread), finished trials skipped, each result written to the store as it completes.
//! A sweep killed at any moment resumes where it stopped: unfinished trials leave nothing
//! in the store and are run again.

use super::spec::{SweepSpec, TrialSpec, canonical_json};
use super::store::{Store, TrialRecord, TrialStatus};
use super::trial::run_trial;
use crate::compute::Compute;
use crate::data::{DataSource, Splits};
use crate::error::{OccamError, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Trials run at the same time (0 = one per core).
    pub parallel: usize,
    /// Threads inside each trial (0 = the cores divided among the trials of this shard:
    /// a study of one network gets every core, a sweep of many gets one each). The choice
    /// depends only on the spec, the shard and the machine, so a resumed sweep computes
    /// with the same thread count as an uninterrupted one.
    pub threads_per_trial: usize,
    /// Run only trials whose index ≡ i (mod n).
    pub shard: Option<(usize, usize)>,
    /// Run failed trials again.
    pub retry_failed: bool,
    /// Save every trained network here as `<trial id>.safetensors`.
    pub keep_models: Option<PathBuf>,
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            parallel: 0,
            threads_per_trial: 1,
            shard: None,
            retry_failed: false,
            keep_models: None,
            progress: false,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunSummary {
    pub trials_in_spec: usize,
    pub in_this_shard: usize,
    pub already_done: usize,
    pub ran: usize,
    pub failed: usize,
    pub diverged: usize,
}

/// Whether trial `index` belongs to `shard` (k of n): index ≡ k (mod n).
pub fn in_shard(index: usize, shard: Option<(usize, usize)>) -> bool {
    shard.is_none_or(|(k, n)| index % n == k)
}

/// Loads every dataset the trials name, once.
fn load_datasets(trials: &[(usize, TrialSpec)]) -> Result<HashMap<String, Arc<Splits>>> {
    let mut out = HashMap::new();
    for (_, t) in trials {
        if !out.contains_key(&t.train.data) {
            // Only as many training examples as the largest trial on this dataset uses.
            let sizes = trials.iter().filter(|(_, u)| u.train.data == t.train.data);
            let max_train = sizes
                .map(|(_, u)| u.train.train_size)
                .try_fold(0, |m, n| n.map(|n| n.max(m)));
            let splits = DataSource::parse(&t.train.data)?.load_with(max_train)?;
            out.insert(t.train.data.clone(), Arc::new(splits));
        }
    }
    Ok(out)
}

/// Runs the sweep into `store`.
pub fn run_sweep(spec: &SweepSpec, store: &mut Store, opts: &RunOptions) -> Result<RunSummary> {
    if let Some((k, n)) = opts.shard
        && (n == 0 || k >= n)
    {
        return Err(OccamError::config(format!("shard {k}/{n}: need 0 ≤ index < count")));
    }
    store.record_sweep(&spec.name, &canonical_json(spec))?;
    let trials = spec.trials();
    let all = trials.len();
    let mine: Vec<(usize, TrialSpec)> = trials
        .into_iter()
        .enumerate()
        .filter(|(i, _)| in_shard(*i, opts.shard))
        .collect();
    let done = store.finished_ids(!opts.retry_failed)?;
    let todo: Vec<(usize, TrialSpec)> = mine.iter().filter(|(_, t)| !done.contains(&t.id())).cloned().collect();
    let mut summary = RunSummary {
        trials_in_spec: all,
        in_this_shard: mine.len(),
        already_done: mine.len() - todo.len(),
        ..Default::default()
    };
    if todo.is_empty() {
        return Ok(summary);
    }
    if let Some(dir) = &opts.keep_models {
        std::fs::create_dir_all(dir).map_err(|e| OccamError::io(dir, e))?;
    }
    let datasets = load_datasets(&todo)?;
    let cores = rayon::current_num_threads();
    let threads = if opts.threads_per_trial == 0 {
        (cores / mine.len().clamp(1, cores)).max(1)
    } else {
        opts.threads_per_trial
    };
    let workers = if opts.parallel == 0 {
        (cores / threads).max(1)
    } else {
        opts.parallel
    }
    .clamp(1, todo.len());
    let bar = crate::progress::bar(opts.progress, todo.len() as u64, "trials");
    let next = AtomicUsize::new(0);
    let running = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<TrialRecord>();
    let sweep_name = spec.name.as_str();
    let mut write_error = None;
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let (todo, datasets, next, running) = (&todo, &datasets, &next, &running);
            let compute = Compute::new(threads);
            let keep = opts.keep_models.as_deref();
            scope.spawn(move || {
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some((index, trial)) = todo.get(k) else { break };
                    running.fetch_add(1, Ordering::SeqCst);
                    let record = run_trial(sweep_name, *index, trial, &datasets[&trial.train.data], &compute, keep);
                    running.fetch_sub(1, Ordering::SeqCst);
                    if tx.send(record).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for record in rx {
            if write_error.is_none()
                && let Err(e) = store.insert(&record)
            {
                write_error = Some(e);
                // Stop handing out work; workers finish their current trial.
                next.store(usize::MAX / 2, Ordering::SeqCst);
            }
            summary.ran += 1;
            summary.failed += (record.status == TrialStatus::Failed) as usize;
            summary.diverged += (record.status == TrialStatus::Diverged) as usize;
            bar.inc(1);
            bar.set_message(format!(
                "failed {}  diverged {}  running {}",
                summary.failed,
                summary.diverged,
                running.load(Ordering::SeqCst)
            ));
        }
    });
    bar.finish_and_clear();
    match write_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}
