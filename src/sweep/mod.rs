//! Sweeps: specs that expand into trials, a crash-safe SQLite store, a parallel,
//! resumable runner (on the CPU or one GPU), and exports of what the store holds.

pub mod artifact;
pub mod device;
pub mod export;
pub mod metrics;
pub mod plan;
pub mod runner;
pub mod slurm;
pub mod spec;
pub mod store;
pub mod studies;
pub mod track;
pub mod trial;

pub use device::{DEFAULT_GPU_JOBS, MAX_GPU_JOBS, SweepDevice};
pub use runner::{RunOptions, RunSummary, run_sweep};
pub use spec::{SweepSpec, TrialSpec};
pub use store::{Store, TrialRecord, TrialStatus};
