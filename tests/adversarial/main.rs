//! The adversarial suite. Half of it is seeded mutation fuzzing of every file format Occam
//! reads — IDX (plain and gzipped), CIFAR binaries, safetensors models, training configs and
//! sweep specs, a few hundred mutants each — and half is a table of hostile command lines,
//! one test per class of the hardening issue (`classes.rs`). Every run must end cleanly:
//! success, or exit status 1 with an `error:` line that names the file or option at fault.
//! Never a panic, an abort, a signal, a hang, or "internal error".
//!
//! Each child runs under `timeout` and an address-space limit, so a hang or a runaway
//! allocation is a reported failure, not a stuck or swapping machine.

mod classes;
#[path = "../common/mod.rs"]
mod common;
mod mutate;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Seconds a single run may take before it counts as a hang.
const TIMEOUT_S: u64 = 60;
/// Address-space limit of each child, in KiB (16 GiB): an allocation beyond it aborts the
/// child, which the verdict reports, instead of exhausting the machine.
const MEMORY_LIMIT_KIB: u64 = 16 * 1024 * 1024;

/// Runs `occam` with `args` under the time and memory limits.
pub fn run(args: &[String]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {MEMORY_LIMIT_KIB}; exec timeout -s KILL {TIMEOUT_S} \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_occam"))
        .args(args)
        .output()
        .expect("run sh")
}

/// Why a finished run is not a clean ending, or `None` when it is: exit 0, or exit 1 with
/// an `error:` line that contains one of `names` (the file or option at fault).
pub fn verdict(out: &Output, names: &[String]) -> Option<String> {
    let err = String::from_utf8_lossy(&out.stderr);
    for bad in ["panicked", "internal error", "RUST_BACKTRACE", "memory allocation"] {
        if err.contains(bad) {
            return Some(format!("stderr contains '{bad}': {}", err.trim()));
        }
    }
    match out.status.code() {
        Some(0) => None,
        Some(1) if !err.contains("error:") => Some(format!("exit 1 without an error line: {}", err.trim())),
        Some(1) if names.iter().any(|n| err.contains(n.as_str())) => None,
        Some(1) => Some(format!("the message names none of {names:?}: {}", err.trim())),
        Some(137) => Some(format!("killed: a hang past {TIMEOUT_S} s or a signal: {}", err.trim())),
        Some(c) => Some(format!("exit status {c} (101 = panic, 134 = abort): {}", err.trim())),
        None => Some("killed by a signal".into()),
    }
}

/// One fuzz case: a label that says how to rebuild the mutant (format, seed, mutation),
/// the command line, and what its error must name.
pub struct Case {
    pub label: String,
    pub args: Vec<String>,
    pub names: Vec<String>,
}

/// What a batch of cases gave.
pub struct Outcomes {
    /// Runs that did not end cleanly, labelled.
    pub problems: Vec<String>,
    /// Runs refused cleanly (exit 1 naming the file or option).
    pub refused: usize,
}

/// Runs every case on two threads.
pub fn run_cases(cases: &[Case]) -> Outcomes {
    let next = AtomicUsize::new(0);
    let refused = AtomicUsize::new(0);
    let problems = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                while let Some(case) = cases.get(next.fetch_add(1, Ordering::SeqCst)) {
                    let out = run(&case.args);
                    match verdict(&out, &case.names) {
                        Some(p) => problems.lock().unwrap().push(format!("{}: {p}", case.label)),
                        None if !out.status.success() => _ = refused.fetch_add(1, Ordering::SeqCst),
                        None => {}
                    }
                }
            });
        }
    });
    let mut problems = problems.into_inner().unwrap();
    problems.sort();
    Outcomes {
        problems,
        refused: refused.into_inner(),
    }
}

/// Fails the test listing up to 15 problems. A batch in which (almost) no mutant was
/// refused means the mutator does not reach the checks: that fails too.
pub fn assert_clean(format: &str, total: usize, o: &Outcomes) {
    assert!(
        o.problems.is_empty(),
        "{format}: {} of {total} mutants did not end cleanly:\n{}",
        o.problems.len(),
        o.problems.iter().take(15).cloned().collect::<Vec<_>>().join("\n")
    );
    assert!(
        o.refused * 5 >= total,
        "{format}: only {} of {total} mutants were refused",
        o.refused
    );
    eprintln!(
        "{format}: {total} mutants, {} refused cleanly, the rest accepted",
        o.refused
    );
}

pub fn s(v: &str) -> String {
    v.to_string()
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// A 4×4 MNIST-like dataset (24 training, 12 test images) and a network trained on it.
pub struct Tiny {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub model: PathBuf,
}

pub fn tiny() -> Tiny {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("idx");
    common::write_mnist_like(&data, 24, 12, 4, false);
    let out = dir.path().join("net");
    common::ok(&[
        "train",
        "--data",
        &format!("fashion-mnist:{}", data.display()),
        "--width",
        "8",
        "--depth",
        "2",
        "--steps",
        "3",
        "--batch",
        "8",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    Tiny {
        model: out.join("model.safetensors"),
        data,
        dir,
    }
}

mod fuzz;
