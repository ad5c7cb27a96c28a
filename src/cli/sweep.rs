//! `occam sweep run|export|status|collect`.

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use occam::error::write_atomic;
use occam::sweep::{RunOptions, Store, SweepSpec, run_sweep};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum SweepCommand {
    /// Run (or resume) a sweep into a store; finished trials are skipped.
    Run(RunArgs),
    /// Write a store's trials as CSV and/or JSON lines.
    Export(ExportArgs),
    /// Progress of a sweep from its store(s).
    Status(StatusArgs),
    /// Merge shard stores into one store.
    Collect(CollectArgs),
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The sweep spec (TOML).
    spec: PathBuf,
    /// The SQLite store (created if missing).
    #[arg(long)]
    store: PathBuf,
    /// Trials at the same time (0 = one per core).
    #[arg(long, default_value_t = 0)]
    parallel: usize,
    /// Threads inside each trial (0 = cores divided among the shard's trials).
    #[arg(long, default_value_t = 0)]
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
    #[arg(long, short)]
    quiet: bool,
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
    let mut store = Store::open(&args.store)?;
    let opts = RunOptions {
        parallel: args.parallel,
        threads_per_trial: args.threads_per_trial,
        shard: args.shard,
        retry_failed: args.retry_failed,
        keep_models: args.keep_models,
        progress: !args.quiet,
    };
    let summary = run_sweep(&spec, &mut store, &opts)?;
    println!(
        "{}",
        json!({"sweep": spec.name, "store": args.store, "summary": summary})
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    store: PathBuf,
    /// CSV file (one row per trial).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// JSON-lines file (one object per trial, with the full configuration).
    #[arg(long)]
    jsonl: Option<PathBuf>,
}

/// The flat columns of an exported trial.
pub const COLUMNS: [&str; 27] = [
    "id",
    "sweep",
    "trial_index",
    "status",
    "reason",
    "dataset",
    "width",
    "depth",
    "activation",
    "optimizer",
    "lr",
    "batch",
    "steps_budget",
    "init_scale",
    "augment",
    "random_labels",
    "seed",
    "param_count",
    "steps",
    "train_accuracy",
    "test_accuracy",
    "train_loss",
    "test_loss",
    "generalization_gap",
    "jacobian_norm",
    "logit_jacobian_norm",
    "transitions",
];

fn export(args: ExportArgs) -> Result<()> {
    if args.csv.is_none() && args.jsonl.is_none() {
        bail!("nothing to export: give --csv FILE and/or --jsonl FILE");
    }
    let store = Store::open_existing(&args.store)?;
    let trials = store.trials()?;
    let rows: Vec<serde_json::Value> = trials
        .iter()
        .map(|r| {
            let t = &r.spec.train;
            let num = |v: f64| if v.is_finite() { json!(v) } else { json!(null) };
            json!({
                "id": r.id, "sweep": r.sweep, "trial_index": r.index, "status": r.status, "reason": r.reason,
                "dataset": t.data, "width": t.width, "depth": t.depth, "activation": t.activation.name(),
                "optimizer": t.optimizer.name(), "lr": t.lr, "batch": t.batch, "steps_budget": t.steps, "init_scale": t.init_scale,
                "augment": !t.augment.is_identity(), "random_labels": t.random_labels, "seed": t.seed,
                "param_count": r.param_count, "steps": r.steps, "train_accuracy": num(r.train_accuracy),
                "test_accuracy": num(r.test_accuracy), "train_loss": num(r.train_loss), "test_loss": num(r.test_loss),
                "generalization_gap": num(r.generalization_gap()), "jacobian_norm": num(r.jacobian_norm),
                "logit_jacobian_norm": num(r.logit_jacobian_norm), "transitions": num(r.transitions),
                "pair_group": r.spec.pair.as_ref().map(|p| p.group.clone()),
                "pair_factor": r.spec.pair.as_ref().map(|p| p.factor.name()),
                "pair_on": r.spec.pair.as_ref().map(|p| p.on),
                "train_seconds": num(r.train_seconds), "measure_seconds": num(r.measure_seconds),
                "config": r.spec,
            })
        })
        .collect();
    if let Some(path) = &args.csv {
        let mut cols: Vec<&str> = COLUMNS.to_vec();
        cols.extend([
            "pair_group",
            "pair_factor",
            "pair_on",
            "train_seconds",
            "measure_seconds",
        ]);
        let mut out = cols.join(",") + "\n";
        for row in &rows {
            let cells: Vec<String> = cols
                .iter()
                .map(|c| match &row[*c] {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => csv_quote(s),
                    v => v.to_string(),
                })
                .collect();
            out += &(cells.join(",") + "\n");
        }
        write_atomic(path, out.as_bytes())?;
    }
    if let Some(path) = &args.jsonl {
        let text: String = rows.iter().map(|r| r.to_string() + "\n").collect();
        write_atomic(path, text.as_bytes())?;
    }
    println!(
        "{}",
        json!({"trials": rows.len(), "csv": args.csv, "jsonl": args.jsonl})
    );
    Ok(())
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The sweep spec.
    spec: PathBuf,
    /// Stores holding its results (shards allowed).
    #[arg(required = true)]
    stores: Vec<PathBuf>,
}

fn status(args: StatusArgs) -> Result<()> {
    let spec = SweepSpec::from_toml_file(&args.spec)?;
    let ids: std::collections::HashSet<String> = spec.trials().iter().map(|t| t.id()).collect();
    let mut by_status: std::collections::BTreeMap<String, usize> = Default::default();
    let mut seen = std::collections::HashSet::new();
    for path in &args.stores {
        if !path.exists() {
            continue;
        }
        for r in Store::open_existing(path)?.trials()? {
            if ids.contains(&r.id) && seen.insert(r.id.clone()) {
                *by_status.entry(r.status).or_default() += 1;
            }
        }
    }
    let done: usize = by_status.values().sum();
    println!(
        "{}",
        json!({"sweep": spec.name, "trials": ids.len(), "done": done, "missing": ids.len() - done, "by_status": by_status})
    );
    Ok(())
}

#[derive(Args, Debug)]
pub struct CollectArgs {
    /// The merged store (created if missing; existing trials are kept).
    #[arg(long)]
    out: PathBuf,
    /// Shard stores to merge.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
}

fn collect(args: CollectArgs) -> Result<()> {
    let mut store = Store::open(&args.out)?;
    let (mut added, mut skipped) = (0, 0);
    for shard in &args.shards {
        let (a, s) = store.merge_from(shard)?;
        added += a;
        skipped += s;
    }
    println!(
        "{}",
        json!({"out": args.out, "added": added, "already_present": skipped, "shards": args.shards.len()})
    );
    Ok(())
}

pub fn dispatch(cmd: SweepCommand) -> Result<()> {
    match cmd {
        SweepCommand::Run(a) => run(a),
        SweepCommand::Export(a) => export(a),
        SweepCommand::Status(a) => status(a),
        SweepCommand::Collect(a) => collect(a),
    }
}
