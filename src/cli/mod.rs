//! Argument parsing and dispatch. Each subcommand lives in its own file and only wires
//! options to library calls; errors surface with their context and a non-zero exit.

mod bench;
mod data;
mod device;
mod inputs;
mod measure;
mod model_format;
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
    /// Where training and Jacobian norms run: cpu, cuda (the first GPU) or cuda:N (GPU N).
    /// Used by train, measure and bench (docs/CUDA.md); other commands refuse a GPU.
    #[arg(long, global = true, default_value = "cpu", value_parser = device_option)]
    device: occam::compute::Device,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train an MLP (bias-free unless --bias) and write model.safetensors and metrics.json.
    Train(Box<train::TrainArgs>),
    /// Evaluate a saved network on a dataset's train and test splits, or on your own
    /// points (--inputs).
    Evaluate(train::EvaluateArgs),
    /// Sensitivity metrics of a saved network.
    #[command(subcommand)]
    Measure(measure::MeasureCommand),
    /// Datasets as Occam sees them: `occam data export NAME --npz F`.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Run, export, inspect and merge sweeps of many trials.
    #[command(subcommand)]
    Sweep(sweep::SweepCommand),
    /// Write the HTML report (figures, statistics, the paper's findings) of a store.
    Report(reproduce::ReportArgs),
    /// Run every study of the paper and write the report (--quick: reduced scale).
    Reproduce(reproduce::ReproduceArgs),
    /// Time Occam's kernels on the peers' benchmark workloads.
    Bench(bench::BenchArgs),
    /// Print a shell completion script: `occam completions bash > /etc/bash_completion.d/occam`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
}

use occam::limits::MAX_THREADS;

/// Parses a thread count, 0 (all cores) to [`MAX_THREADS`].
pub fn thread_count(text: &str) -> Result<usize, String> {
    let n: usize = text
        .parse()
        .map_err(|_| format!("'{text}' is not a thread count (0 = all cores, up to {MAX_THREADS})"))?;
    if n > MAX_THREADS {
        return Err(format!(
            "{n} threads is out of range: valid values are 0 (all cores) to {MAX_THREADS}"
        ));
    }
    Ok(n)
}

/// Parses `--device` (see [`occam::compute::Device`]).
fn device_option(text: &str) -> Result<occam::compute::Device, String> {
    text.parse()
}

/// The `--device` of this run. Set once in [`main`] before any command runs.
static DEVICE: std::sync::OnceLock<occam::compute::Device> = std::sync::OnceLock::new();

/// The device `--device` names (the CPU when unset).
pub fn device() -> occam::compute::Device {
    DEVICE.get().copied().unwrap_or_default()
}

/// The thread count of this run: `--threads`, or every core when it is 0. Set once in
/// [`main`] before any command runs; the library receives it explicitly from here.
static THREADS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// The thread count every command hands to the library (`Compute::new`, sweep options).
pub fn threads() -> usize {
    THREADS.get().copied().unwrap_or(1)
}

/// Exit status of a process whose reader went away (128 + SIGPIPE), as Unix tools give.
const BROKEN_PIPE_EXIT: i32 = 141;

/// Stops quietly when standard output's reader has gone (`occam … | head`): Rust reports a
/// failed print as a panic, which would print a backtrace for a normal pipeline.
fn stop_quietly_on_broken_pipe() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let text = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if text.contains("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(BROKEN_PIPE_EXIT);
        }
        default_hook(info);
    }));
}

pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    stop_quietly_on_broken_pipe();
    let command = Cli::command().mut_subcommand("train", train::with_defaults);
    let cli = Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|e| e.exit());
    let threads = match cli.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(threads).build_global() {
        eprintln!("error: could not start {threads} threads: {e}");
        return ExitCode::FAILURE;
    }
    THREADS.set(threads).expect("the thread count is set once, at start-up");
    DEVICE.set(cli.device).expect("the device is set once, at start-up");
    let result = match cli.command {
        Command::Train(args) => train::run_train(*args),
        Command::Evaluate(args) => device::require_cpu(cli.device, "evaluate").and_then(|()| train::run_evaluate(args)),
        Command::Bench(args) => bench::run(args),
        Command::Measure(cmd) => measure::run(cmd),
        Command::Data(cmd) => device::require_cpu(cli.device, "data").and_then(|()| data::run(cmd)),
        Command::Sweep(cmd) => sweep::dispatch(cmd),
        Command::Report(a) => device::require_cpu(cli.device, "report").and_then(|()| reproduce::report(a)),
        Command::Reproduce(a) => reproduce::reproduce(a),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "occam", &mut std::io::stdout());
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
