//! Runs a sweep: trials in parallel (one worker per core by default, each trial on one
//! thread; on a GPU, `gpu_jobs` workers, each with its own stream of the GPU), finished
//! trials skipped, each result written to the store as it completes. A sweep killed at any
//! moment resumes where it stopped: unfinished trials leave nothing in the store and are
//! run again.

use super::device::{DEFAULT_GPU_JOBS, SweepDevice, TrialBackend};
use super::spec::{SweepSpec, TrialSpec, canonical_json};
use super::store::{ClaimOutcome, HEARTBEAT_EVERY, Owner, Store, TrialRecord, TrialStatus};
use super::trial::run_trial;
use crate::data::{DataSource, Splits};
use crate::error::{OccamError, Result};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Cores the run may use (the CLI passes `--threads`, or the machine's cores): the
    /// defaults of `parallel` and `threads_per_trial` divide them. At least 1.
    pub cores: usize,
    /// Trials run at the same time on the CPU (0 = one per core). Not used on a GPU,
    /// where `gpu_jobs` says how many run at once.
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
    /// Where trials train and measure their Jacobian norms (opened by the caller, so that
    /// an unusable GPU stops the run before the store is touched).
    pub device: SweepDevice,
    /// Trials run at the same time on a GPU, each on its own stream (0 =
    /// [`DEFAULT_GPU_JOBS`]). Not used on the CPU.
    pub gpu_jobs: usize,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            cores: 1,
            parallel: 0,
            threads_per_trial: 1,
            shard: None,
            retry_failed: false,
            keep_models: None,
            progress: false,
            device: SweepDevice::Cpu,
            gpu_jobs: 0,
        }
    }
}

/// What a run did. `already_done + ran + done_by_others = in_this_shard`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunSummary {
    pub trials_in_spec: usize,
    pub in_this_shard: usize,
    /// Stored before this run started (failed ones included unless retried).
    pub already_done: usize,
    /// Trained by this run.
    pub ran: usize,
    /// Trained (or being trained) by another runner on the same store during this run.
    pub done_by_others: usize,
    /// Of `ran`: trials that stopped with an error (the reason is stored).
    pub failed: usize,
    /// Of `ran`: networks whose training loss became non-finite (a result).
    pub diverged: usize,
    /// Of `ran`: trials whose measurement gave non-finite numbers (a result; metrics NULL).
    pub non_finite: usize,
    /// Of `already_done`: failed trials stored by an earlier run and not retried.
    pub previously_failed: usize,
}

impl RunSummary {
    /// Failed trials of this shard in the store after the run: this run's and earlier ones.
    pub fn failed_in_store(&self) -> usize {
        self.failed + self.previously_failed
    }

    fn count(&mut self, status: TrialStatus) {
        self.ran += 1;
        match status {
            TrialStatus::Failed => self.failed += 1,
            TrialStatus::Diverged => self.diverged += 1,
            TrialStatus::NonFinite => self.non_finite += 1,
            TrialStatus::Completed | TrialStatus::Reached100 => {}
        }
    }
}

/// Whether trial `index` belongs to `shard` (k of n): index ≡ k (mod n).
pub fn in_shard(index: usize, shard: Option<(usize, usize)>) -> bool {
    shard.is_none_or(|(k, n)| index % n == k)
}

/// Loads every dataset the trials name, once.
fn load_datasets(trials: &[Todo]) -> Result<HashMap<String, Arc<Splits>>> {
    let mut out = HashMap::new();
    for t in trials {
        if !out.contains_key(&t.spec.train.data) {
            // Only as many training examples as the largest trial on this dataset uses.
            let sizes = trials.iter().filter(|u| u.spec.train.data == t.spec.train.data);
            let max_train = sizes
                .map(|u| u.spec.train.train_size)
                .try_fold(0, |m, n| n.map(|n| n.max(m)));
            let splits = DataSource::parse(&t.spec.train.data)?.load_with(max_train)?;
            out.insert(t.spec.train.data.clone(), Arc::new(splits));
        }
    }
    Ok(out)
}

/// A trial this run may have to train.
#[derive(Clone)]
struct Todo {
    index: usize,
    id: String,
    spec: TrialSpec,
}

/// What a worker hands the writer.
enum Outcome {
    Trained(Box<TrialRecord>),
    /// Another runner stored or holds the trial.
    Elsewhere,
    /// The store refused a claim.
    Error(crate::error::OccamError),
}

/// Runs the sweep into `store`. Other runners may work on the same store at the same
/// time: each trial is claimed before it is trained, so none is trained twice.
pub fn run_sweep(spec: &SweepSpec, store: &mut Store, opts: &RunOptions) -> Result<RunSummary> {
    if let Some((k, n)) = opts.shard
        && (n == 0 || k >= n)
    {
        return Err(OccamError::config(format!("shard {k}/{n}: need 0 ≤ index < count")));
    }
    // Refuses a different spec recorded under this name before any trial runs.
    store.record_sweep(&spec.name, &canonical_json(spec))?;
    let trials = spec.trials();
    let all = trials.len();
    let mine: Vec<Todo> = trials
        .into_iter()
        .enumerate()
        .filter(|(i, _)| in_shard(*i, opts.shard))
        .map(|(index, spec)| Todo {
            index,
            id: spec.id(),
            spec,
        })
        .collect();
    let stored = store.finished_ids(true)?;
    let succeeded = store.finished_ids(false)?;
    let done = if opts.retry_failed { &succeeded } else { &stored };
    let todo: Vec<Todo> = mine.iter().filter(|t| !done.contains(&t.id)).cloned().collect();
    let mut summary = RunSummary {
        trials_in_spec: all,
        in_this_shard: mine.len(),
        already_done: mine.len() - todo.len(),
        previously_failed: if opts.retry_failed {
            0
        } else {
            mine.iter()
                .filter(|t| stored.contains(&t.id) && !succeeded.contains(&t.id))
                .count()
        },
        ..Default::default()
    };
    if todo.is_empty() {
        return Ok(summary);
    }
    if let Some(dir) = &opts.keep_models {
        std::fs::create_dir_all(dir).map_err(|e| OccamError::io(dir, e))?;
    }
    let datasets = load_datasets(&todo)?;
    let (workers, threads) = concurrency(opts, mine.len(), todo.len());
    // Every trial's backend before any trial starts: a GPU stream that cannot be made
    // stops the run here, with nothing claimed.
    let lanes = opts.device.lanes(workers, threads)?;
    let owner = Owner::this_process();
    let shared = Shared {
        store: Mutex::new(store),
        owner: &owner,
        todo: &todo,
        datasets: &datasets,
        next: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
        stopped: AtomicBool::new(false),
        retry_failed: opts.retry_failed,
        sweep_name: &spec.name,
    };
    let result = drive(&shared, &mut summary, lanes, opts);
    let store = shared.store.into_inner().unwrap_or_else(|p| p.into_inner());
    // Claims of trials never finished (a write error stopped the run) are given back.
    let released = store.release_claims(&owner);
    result?;
    released?;
    Ok(summary)
}

/// (trials at once, threads per trial) of a run of `todo` trials out of the shard's `mine`.
/// Threads per trial are derived from the shard, not from what is left, so a resumed sweep
/// computes with the same thread count as an uninterrupted one.
fn concurrency(opts: &RunOptions, mine: usize, todo: usize) -> (usize, usize) {
    let cores = opts.cores.max(1);
    let on_gpu = opts.device.device().is_cuda();
    let gpu_jobs = if opts.gpu_jobs == 0 {
        DEFAULT_GPU_JOBS
    } else {
        opts.gpu_jobs
    };
    let threads = match (opts.threads_per_trial, on_gpu) {
        (0, false) => (cores / mine.clamp(1, cores)).max(1),
        // On a GPU the host threads (exact walks, profiles) are shared by the jobs.
        (0, true) => (cores / gpu_jobs.min(mine).clamp(1, cores)).max(1),
        (n, _) => n,
    };
    let workers = match (on_gpu, opts.parallel) {
        (true, _) => gpu_jobs,
        (false, 0) => (cores / threads).max(1),
        (false, n) => n,
    };
    (workers.clamp(1, todo.max(1)), threads)
}

/// What the workers, the writer and the heartbeat share.
struct Shared<'a> {
    store: Mutex<&'a mut Store>,
    owner: &'a Owner,
    todo: &'a [Todo],
    datasets: &'a HashMap<String, Arc<Splits>>,
    next: AtomicUsize,
    running: AtomicUsize,
    stopped: AtomicBool,
    retry_failed: bool,
    sweep_name: &'a str,
}

impl<'a> Shared<'a> {
    fn store(&self) -> std::sync::MutexGuard<'_, &'a mut Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One worker: claims the next trial nobody holds, trains it on `backend`, hands the
    /// record over. A device failure is not the trial's result: the trial is not stored
    /// (it runs again on resume), the run stops, and this worker's stream is given up.
    fn work(&self, backend: &dyn TrialBackend, keep: Option<&std::path::Path>, tx: mpsc::Sender<Outcome>) {
        while !self.stopped.load(Ordering::SeqCst) {
            let k = self.next.fetch_add(1, Ordering::SeqCst);
            let Some(t) = self.todo.get(k) else { break };
            let claim = self.store().claim(&t.id, self.owner, self.retry_failed);
            let outcome = match claim {
                Ok(ClaimOutcome::Claimed) => {
                    self.running.fetch_add(1, Ordering::SeqCst);
                    let data = &self.datasets[&t.spec.train.data];
                    let record = run_trial(self.sweep_name, t.index, &t.spec, data, backend, keep);
                    self.running.fetch_sub(1, Ordering::SeqCst);
                    match backend.check() {
                        Ok(()) => Outcome::Trained(Box::new(record)),
                        Err(e) => {
                            let failed = OccamError::config(format!(
                                "trial {} (index {}): {e}; it was not stored and runs again when the sweep is resumed",
                                t.id, t.index
                            ));
                            let _ = tx.send(Outcome::Error(failed));
                            break;
                        }
                    }
                }
                Ok(ClaimOutcome::Finished | ClaimOutcome::HeldBy(_)) => Outcome::Elsewhere,
                Err(e) => Outcome::Error(e),
            };
            if tx.send(outcome).is_err() {
                break;
            }
        }
    }

    /// Refreshes this runner's claims every [`HEARTBEAT_EVERY`] until the run ends.
    fn heartbeat(&self, done: &AtomicBool) {
        let tick = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(tick);
            waited += tick;
            if waited >= HEARTBEAT_EVERY {
                waited = Duration::ZERO;
                // A failed refresh only shortens how long the claims count as fresh.
                let _ = self.store().heartbeat(self.owner);
            }
        }
    }
}

/// Runs the workers and writes each record as it arrives; the first error stops the
/// handing out of work (workers finish their current trial) and is returned.
fn drive(
    shared: &Shared,
    summary: &mut RunSummary,
    lanes: Vec<Box<dyn TrialBackend>>,
    opts: &RunOptions,
) -> Result<()> {
    let bar = crate::progress::bar(opts.progress, shared.todo.len() as u64, "trials");
    let (tx, rx) = mpsc::channel::<Outcome>();
    let done = AtomicBool::new(false);
    let mut first_error = None;
    std::thread::scope(|scope| {
        for lane in lanes {
            let tx = tx.clone();
            let keep = opts.keep_models.as_deref();
            scope.spawn(move || shared.work(lane.as_ref(), keep, tx));
        }
        drop(tx);
        scope.spawn(|| shared.heartbeat(&done));
        for outcome in rx {
            let written = match outcome {
                Outcome::Trained(record) => {
                    summary.count(record.status);
                    shared.store().insert(&record)
                }
                Outcome::Elsewhere => {
                    summary.done_by_others += 1;
                    Ok(())
                }
                Outcome::Error(e) => Err(e),
            };
            if let Err(e) = written {
                shared.stopped.store(true, Ordering::SeqCst);
                first_error.get_or_insert(e);
            }
            bar.inc(1);
            bar.set_message(format!(
                "failed {}  diverged {}  non-finite {}  elsewhere {}  running {}",
                summary.failed,
                summary.diverged,
                summary.non_finite,
                summary.done_by_others,
                shared.running.load(Ordering::SeqCst)
            ));
        }
        done.store(true, Ordering::SeqCst);
    });
    bar.finish_and_clear();
    first_error.map_or(Ok(()), Err)
}
