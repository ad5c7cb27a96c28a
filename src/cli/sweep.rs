//! `occam sweep run|plan|export|status|collect|submit`.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use occam::sweep::export::{self, Destination, Format, Output, RowKind, check_outputs};
use occam::sweep::{RunOptions, Store, SweepDevice, SweepSpec, run_sweep, slurm};
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SweepCommand {
    /// Run (or resume) a sweep into a store; finished trials are skipped.
    Run(RunArgs),
    /// Before anything runs: the number of trials, the trials per value of every axis and
    /// an estimate of the floating-point operations.
    Plan(PlanArgs),
    /// Write a store's trials (or per-point rows) as CSV, JSON lines and/or Parquet.
    Export(ExportArgs),
    /// Progress of a sweep from its store(s).
    Status(StatusArgs),
    /// Merge shard stores into one store.
    Collect(CollectArgs),
    /// Submit the sweep to Slurm as a job array of shards (re-submitting runs what is missing).
    Submit(SubmitArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The sweep spec (TOML).
    spec: PathBuf,
    /// The SQLite store (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// Trials at the same time on the CPU (0 = one per core; at most 1024). With --device
    /// cuda, --gpu-jobs sets it instead.
    #[arg(long, default_value_t = 0, value_parser = super::thread_count)]
    parallel: usize,
    #[command(flatten)]
    gpu: GpuJobsArg,
    /// Threads inside each trial (0 = cores divided among the shard's trials; at most 1024).
    /// On a GPU: the CPU threads of each trial's host-side measurements.
    #[arg(long, default_value_t = 0, value_parser = super::thread_count)]
    threads_per_trial: usize,
    /// Only trials with index ≡ I (mod N), written as I/N.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Run failed trials again.
    #[arg(long)]
    retry_failed: bool,
    /// Save every trained network in this directory.
    #[arg(long)]
    keep_models: Option<PathBuf>,
    /// No progress bar (or progress lines) on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// `--gpu-jobs K`: how many trials of a sweep run at once on one GPU.
#[derive(Args, Debug, Clone, Copy)]
pub struct GpuJobsArg {
    /// With --device cuda: trials at the same time on the GPU, each on its own stream and
    /// cuBLAS handle (default 4; 1 to 64). Refused on the CPU, where --parallel applies.
    #[arg(long, value_parser = gpu_jobs)]
    gpu_jobs: Option<usize>,
}

/// Parses `--gpu-jobs`: 1 to [`occam::sweep::MAX_GPU_JOBS`].
fn gpu_jobs(text: &str) -> Result<usize, String> {
    let max = occam::sweep::MAX_GPU_JOBS;
    let n: usize = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number: valid values are 1 to {max}"))?;
    occam::limits::in_range("--gpu-jobs", n, 1, max).map_err(|e| e.to_string())?;
    Ok(n)
}

impl GpuJobsArg {
    /// The device of this run (`--device`), opened, and the trials at once on it (0 = the
    /// default), checked against `--parallel`: before any store is opened, so a GPU that
    /// cannot be used changes nothing on disk.
    pub fn open(self, parallel: usize) -> Result<(SweepDevice, usize)> {
        let device = super::device();
        match (device.is_cuda(), self.gpu_jobs) {
            (false, Some(k)) => bail!(
                "--gpu-jobs {k}: applies to --device cuda only; on the CPU --parallel sets the trials run at once \
                 (leave --gpu-jobs out, or add --device cuda)"
            ),
            (true, _) if parallel != 0 => bail!(
                "--parallel {parallel}: with --device {device} the trials run at once are set by --gpu-jobs \
                 (default {}); use --gpu-jobs {parallel} instead",
                occam::sweep::DEFAULT_GPU_JOBS
            ),
            _ => {}
        }
        let opened = SweepDevice::open(device).map_err(|e| anyhow::anyhow!("--device {device}: {e}"))?;
        Ok((opened, self.gpu_jobs.unwrap_or(0)))
    }
}

pub fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let (i, n) = s.split_once('/').ok_or_else(|| format!("shard '{s}' is not I/N"))?;
    let (i, n): (usize, usize) = (
        i.parse().map_err(|_| format!("shard '{s}': bad index"))?,
        n.parse().map_err(|_| format!("shard '{s}': bad count"))?,
    );
    if n == 0 || i >= n {
        return Err(format!("shard '{s}': need 0 ≤ I < N"));
    }
    Ok((i, n))
}

fn run(args: RunArgs) -> Result<()> {
    let spec = SweepSpec::from_toml_file(&args.spec)?;
    if let Some(dir) = &args.keep_models {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--keep-models: creating the directory {}", dir.display()))?;
    }
    let (device, gpu_jobs) = args.gpu.open(args.parallel)?;
    let mut store = Store::open(&args.store)?;
    let opts = RunOptions {
        cores: super::threads(),
        parallel: args.parallel,
        threads_per_trial: args.threads_per_trial,
        shard: args.shard,
        retry_failed: args.retry_failed,
        keep_models: args.keep_models,
        progress: !args.quiet,
        device,
        gpu_jobs,
    };
    let summary = run_sweep(&spec, &mut store, &opts)?;
    println!(
        "{}",
        json!({"sweep": spec.name, "store": args.store, "summary": summary})
    );
    report_results(&spec.name, &args.store, &summary)
}

/// Prints the diverged and non-finite counts (results, not errors) and fails when any
/// trial of the sweep failed, saying where the reasons are.
pub fn report_results(sweep: &str, store: &std::path::Path, summary: &occam::sweep::RunSummary) -> Result<()> {
    if summary.diverged + summary.non_finite > 0 {
        eprintln!(
            "sweep '{sweep}': {} diverged and {} non-finite trial(s) recorded as results",
            summary.diverged, summary.non_finite
        );
    }
    let failed = summary.failed_in_store();
    if failed > 0 {
        bail!(
            "sweep '{sweep}': {failed} trial(s) failed ({} in this run, {} earlier); the reasons are in the \
             `reason` field of `occam sweep export {} --jsonl FILE`, and `occam sweep run … --retry-failed` runs them again",
            summary.failed,
            summary.previously_failed,
            store.display()
        );
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// The sweep spec (TOML).
    spec: PathBuf,
    /// One JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

fn plan(args: PlanArgs) -> Result<()> {
    let spec = SweepSpec::from_toml_file(&args.spec)?;
    let plan = occam::sweep::plan::plan(&spec, &args.spec.display().to_string())?;
    let text = if args.json {
        format!("{}\n", serde_json::to_string(&plan)?)
    } else {
        plan_table(&plan)
    };
    // Written rather than printed, so that a closed pipe is an error, not a panic.
    std::io::Write::write_all(&mut std::io::stdout().lock(), text.as_bytes()).context("writing the plan")
}

/// The plan as a readable table: the totals, then one line per value of every axis with
/// its trial count and share.
fn plan_table(plan: &occam::sweep::plan::Plan) -> String {
    use std::fmt::Write;
    let f = &plan.flops;
    let mut out = format!(
        "sweep {}: {} trials, about {:.3e} floating-point operations\n  training {:.3e}, evaluation {:.3e}, \
         jacobian {:.3e}, transitions {:.3e}, profiles {:.3e}, regions {:.3e}\n",
        plan.sweep,
        plan.trials,
        plan.estimated_flops,
        f.training,
        f.evaluation,
        f.jacobian,
        f.transitions,
        f.profiles,
        f.regions
    );
    for (axis, counts) in &plan.axes {
        let _ = writeln!(out, "{axis}");
        let wide = counts.keys().map(|k| k.chars().count()).max().unwrap_or(0);
        for (value, n) in sorted_values(counts) {
            let share = 100.0 * *n as f64 / plan.trials.max(1) as f64;
            let _ = writeln!(out, "  {value:<wide$}  {n:>9}  {share:6.2}%");
        }
    }
    out
}

/// An axis's values in numeric order when they are all numbers, else as text.
fn sorted_values(counts: &std::collections::BTreeMap<String, usize>) -> Vec<(&String, &usize)> {
    let mut values: Vec<(&String, &usize)> = counts.iter().collect();
    if values.iter().all(|(k, _)| k.parse::<f64>().is_ok()) {
        values.sort_by(|a, b| a.0.parse::<f64>().unwrap().total_cmp(&b.0.parse::<f64>().unwrap()));
    }
    values
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The store to read (opened read-only).
    store: PathBuf,
    /// CSV file; `-` writes to standard output. Missing values are empty cells.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// JSON-lines file (one flat object per row, null for missing values); `-` writes to
    /// standard output.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<PathBuf>,
    /// Parquet file with typed, nullable columns; `-` writes to standard output when it
    /// is not a terminal.
    #[arg(long, value_name = "FILE")]
    parquet: Option<PathBuf>,
    /// One row per stored point (trials whose sweep set `[measure] per_point = true`),
    /// with its trial's id and configuration, instead of one row per trial.
    #[arg(long)]
    points: bool,
}

fn export(args: ExportArgs) -> Result<()> {
    let outputs: Vec<Output> = [
        (Format::Csv, &args.csv),
        (Format::JsonLines, &args.jsonl),
        (Format::Parquet, &args.parquet),
    ]
    .into_iter()
    .filter_map(|(format, path)| {
        path.as_deref().map(|p| Output {
            format,
            destination: Destination::from_arg(p),
        })
    })
    .collect();
    check_outputs(&outputs, std::io::stdout().is_terminal())?;
    let store = Store::open_existing(&args.store)?;
    let rows = if args.points { RowKind::Points } else { RowKind::Trials };
    let summary = export::export(&store, rows, &outputs)?;
    let named = |p: &Option<PathBuf>| p.as_deref().map(|p| Destination::from_arg(p).to_string());
    let line = json!({
        "trials": summary.trials, "rows": summary.rows, "row": if args.points { "point" } else { "trial" },
        "columns": summary.columns, "csv": named(&args.csv), "jsonl": named(&args.jsonl),
        "parquet": named(&args.parquet),
    });
    // The data owns standard output when it goes there.
    if outputs.iter().any(|o| o.destination == Destination::Stdout) {
        eprintln!("{line}");
    } else {
        println!("{line}");
    }
    Ok(())
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The sweep spec.
    spec: PathBuf,
    /// Stores holding its results (shards allowed).
    stores: Vec<PathBuf>,
    /// A Slurm submission directory: its shard stores, and the queue from squeue.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn status(args: StatusArgs) -> Result<()> {
    let spec = SweepSpec::from_toml_file(&args.spec)?;
    let ids: std::collections::HashSet<String> = spec.trials().iter().map(|t| t.id()).collect();
    let mut by_status: std::collections::BTreeMap<occam::sweep::TrialStatus, usize> = Default::default();
    let mut seen = std::collections::HashSet::new();
    let mut stores = args.stores.clone();
    if let Some(dir) = &args.dir {
        if !dir.is_dir() {
            bail!("--dir {}: no such Slurm submission directory", dir.display());
        }
        stores.extend(slurm::shard_stores(dir));
    }
    if stores.is_empty() && args.dir.is_none() {
        bail!("no stores: name store files or a Slurm submission directory with --dir");
    }
    // A store not written yet holds no trials; it is listed so that a mistyped path shows.
    let mut not_found = Vec::new();
    for path in &stores {
        if !path.exists() {
            not_found.push(path.clone());
            continue;
        }
        for r in Store::open_existing(path)?.trials()? {
            if ids.contains(&r.id) && seen.insert(r.id.clone()) {
                *by_status.entry(r.status).or_default() += 1;
            }
        }
    }
    let done: usize = by_status.values().sum();
    let mut out = json!({"sweep": spec.name, "trials": ids.len(), "done": done, "missing": ids.len() - done,
        "by_status": by_status, "stores_not_found": not_found});
    if let Some(dir) = &args.dir {
        let queue = slurm::queue_states(&spec);
        let queued: Vec<String> = queue.iter().flat_map(|q| q.values().flatten().cloned()).collect();
        // A shard that misses trials and has no task in the queue failed, was killed, or
        // was never submitted: re-submitting runs exactly those.
        let stalled: Vec<usize> = match last_shard_count(dir) {
            Some(n) => slurm::incomplete_shards(&spec, dir, n)?
                .into_iter()
                .filter(|k| !queued.iter().any(|id| id.ends_with(&format!("_{k}"))))
                .collect(),
            None => Vec::new(),
        };
        let counts = queue.map(|q| {
            q.into_iter()
                .map(|(k, v)| (k, v.len()))
                .collect::<std::collections::BTreeMap<_, _>>()
        });
        out["slurm"] =
            json!({"job_name": slurm::job_name(&spec), "queue": counts, "incomplete_shards_not_queued": stalled});
    }
    println!("{out}");
    Ok(())
}

/// The shard count of the latest submission recorded in a Slurm directory.
fn last_shard_count(dir: &std::path::Path) -> Option<usize> {
    let text = std::fs::read_to_string(dir.join("submissions.jsonl")).ok()?;
    let last: serde_json::Value = serde_json::from_str(text.lines().last()?).ok()?;
    last["shards"].as_u64().map(|n| n as usize)
}

#[derive(Args, Debug)]
pub struct SubmitArgs {
    /// The sweep spec.
    spec: PathBuf,
    /// Submit to Slurm (the only scheduler supported).
    #[arg(long, required = true)]
    slurm: bool,
    /// Directory on the shared file system for shard stores, logs and the script
    /// (default runs/<sweep name>-slurm).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Number of shards = array tasks.
    #[arg(long, default_value_t = 8)]
    shards: usize,
    /// CPUs per task (the task runs that many trials at a time).
    #[arg(long, default_value_t = 1)]
    cpus: usize,
    /// Slurm partition to submit to (default: the cluster's default partition).
    #[arg(long)]
    partition: Option<String>,
    /// At most N tasks running at once (`--array=…%N`).
    #[arg(long)]
    array_throttle: Option<usize>,
    /// Time limit per task, in Slurm's format (e.g. 02:00:00).
    #[arg(long)]
    time: Option<String>,
    /// Memory per task, in Slurm's format (e.g. 4G).
    #[arg(long)]
    mem: Option<String>,
    /// Extra #SBATCH option (repeatable), e.g. --extra-sbatch '--account=lab'.
    #[arg(long, allow_hyphen_values = true)]
    extra_sbatch: Vec<String>,
    /// Print the script instead of submitting it; writes nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    gpu: GpuJobsArg,
}

fn submit(args: SubmitArgs) -> Result<()> {
    let spec = SweepSpec::from_toml_file(&args.spec)?;
    // The default directory is made of the name: check it before joining it into a path.
    slurm::check_sweep_name(&spec.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-slurm", spec.name)));
    let dir = std::path::absolute(&dir).map_err(|e| anyhow::anyhow!("--dir {}: {e}", dir.display()))?;
    let binary = std::env::current_exe()?.canonicalize()?;
    let mut opts = slurm::SlurmOptions {
        dir,
        shards: args.shards,
        cpus: args.cpus,
        partition: args.partition,
        array_throttle: args.array_throttle,
        time: args.time,
        mem: args.mem,
        extra_sbatch: args.extra_sbatch,
        binary,
        device: super::device(),
        gpu_jobs: args.gpu.gpu_jobs,
    };
    slurm::check_options(&spec, &opts)?;
    note_submit_device(&opts);
    if !args.dry_run {
        // Tasks run on other nodes: name the directory without symbolic links.
        std::fs::create_dir_all(&opts.dir).map_err(|e| anyhow::anyhow!("creating {}: {e}", opts.dir.display()))?;
        opts.dir = opts.dir.canonicalize()?;
    }
    let (submission, script) = slurm::submit(&args.spec, &opts, args.dry_run)?;
    if args.dry_run {
        print!("{script}");
    } else {
        println!(
            "{}",
            json!({"sweep": spec.name, "dir": opts.dir, "submission": submission})
        );
    }
    Ok(())
}

/// `--device` and `--gpu-jobs` of a submission are passed to every task's `sweep run` (the
/// GPU is opened there, on the compute node; the library refuses `--gpu-jobs` without a
/// GPU). A GPU device without a GPU request in `--extra-sbatch` gets a note.
fn note_submit_device(opts: &slurm::SlurmOptions) {
    let asks_for_gpu = opts
        .extra_sbatch
        .iter()
        .any(|e| e.contains("--gres") || e.contains("--gpus") || e.trim_start().starts_with("-G"));
    if opts.device.is_cuda() && !asks_for_gpu {
        eprintln!(
            "note: --device {}: the tasks need a GPU from Slurm; add e.g. --extra-sbatch '--gres=gpu:1' \
             (or your cluster's GPU partition with --partition)",
            opts.device
        );
    }
}

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// The merged store (created if missing; existing trials are kept).
    #[arg(long)]
    out: PathBuf,
    /// Shard stores to merge.
    shards: Vec<PathBuf>,
    /// Also merge every shard store of this Slurm submission directory.
    #[arg(long)]
    dir: Option<PathBuf>,
}

fn collect(args: CollectArgs) -> Result<()> {
    let mut shards = args.shards.clone();
    if let Some(dir) = &args.dir {
        shards.extend(slurm::shard_stores(dir));
    }
    if shards.is_empty() {
        bail!("nothing to collect: name shard stores or a Slurm directory with --dir");
    }
    let mut store = Store::open(&args.out)?;
    let (mut added, mut skipped) = (0, 0);
    for shard in &shards {
        let (a, s) = store.merge_from(shard)?;
        added += a;
        skipped += s;
    }
    println!(
        "{}",
        json!({"out": args.out, "added": added, "already_present": skipped, "shards": shards.len()})
    );
    Ok(())
}

pub fn dispatch(cmd: SweepCommand) -> Result<()> {
    let device = super::device();
    let cpu_only = |name: &str| super::device::require_cpu(device, &format!("sweep {name}"));
    match cmd {
        SweepCommand::Run(a) => run(a),
        SweepCommand::Plan(a) => cpu_only("plan").and_then(|()| plan(a)),
        SweepCommand::Export(a) => cpu_only("export").and_then(|()| export(a)),
        SweepCommand::Status(a) => cpu_only("status").and_then(|()| status(a)),
        SweepCommand::Collect(a) => cpu_only("collect").and_then(|()| collect(a)),
        SweepCommand::Submit(a) => submit(a),
    }
}
