//! Sweeps: specs that expand into trials, a crash-safe SQLite store, a parallel,
//! resumable runner, and exports of what the store holds.

pub mod artifact;
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

pub use runner::{RunOptions, RunSummary, run_sweep};
pub use spec::{SweepSpec, TrialSpec};
pub use store::{Store, TrialRecord, TrialStatus};
