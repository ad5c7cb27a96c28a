//! Argument parsing and dispatch. Each subcommand lives in its own file and only wires
//! options to library calls; errors surface with their context and a non-zero exit.

mod bench;
mod measure;
mod reproduce;
mod sweep;
mod train;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "occam", version, about = "Sensitivity and generalization of neural networks")]
struct Cli {
    /// Threads to use (0 = all cores; at most 1024).
    #[arg(long, global = true, default_value_t = 0, value_parser = thread_count)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train a bias-free MLP and write model.safetensors and metrics.json.
    Train(Box<train::TrainArgs>),
    /// Evaluate a saved network on a dataset's train and test splits.
    Evaluate(train::EvaluateArgs),
    /// Sensitivity metrics of a saved network.
    #[command(subcommand)]
    Measure(measure::MeasureCommand),
    /// Run, export, inspect and merge sweeps of many trials.
    #[command(subcommand)]
    Sweep(sweep::SweepCommand),
    /// Write the HTML report (figures, statistics, the paper's findings) of a store.
    Report(reproduce::ReportArgs),
    /// Run every study of the paper and write the report (--quick: reduced scale).
    Reproduce(reproduce::ReproduceArgs),
    /// Time Occam's kernels on the peers' benchmark workloads.
    Bench(bench::BenchArgs),
}

/// The most threads any option may ask for: far above any machine's cores, far below what
/// would exhaust the process's thread limit.
pub const MAX_THREADS: usize = 1024;

/// Parses a thread count, 0 (all cores) to [`MAX_THREADS`].
pub fn thread_count(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("'{text}' is not a thread count (0 = all cores, up to {MAX_THREADS})"))?;
    if n > MAX_THREADS {
        return Err(format!("{n} threads is out of range: valid values are 0 (all cores) to {MAX_THREADS}"));
    }
    Ok(n)
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.threads > 0
        && let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(cli.threads).build_global()
    {
        eprintln!("error: could not start {} threads: {e}", cli.threads);
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Train(args) => train::run_train(*args),
        Command::Evaluate(args) => train::run_evaluate(args),
        Command::Bench(args) => bench::run(args),
        Command::Measure(cmd) => measure::run(cmd),
        Command::Sweep(cmd) => sweep::dispatch(cmd),
        Command::Report(a) => reproduce::report(a),
        Command::Reproduce(a) => reproduce::reproduce(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
