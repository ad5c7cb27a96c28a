//! Running the `occam` binary as a hostile user would: with a time limit (a FIFO or an
//! endless read must fail the test, not hang it), optionally a virtual-memory limit, and
//! checks that a failure is a clean one.
#![allow(dead_code)]

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of `occam` did.
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `occam args…`, killing it and failing the test after `limit`. With `vmem_kb`, the
/// child runs under `ulimit -v` of that many KiB (so an attempt to allocate more fails).
pub fn occam_bounded(args: &[&str], limit: Duration, vmem_kb: Option<u64>) -> Run {
    let bin = env!("CARGO_BIN_EXE_occam");
    let mut cmd = match vmem_kb {
        Some(kb) => {
            let mut c = Command::new("sh");
            // Few malloc arenas: each reserves 64 MB of address space per thread.
            c.env("MALLOC_ARENA_MAX", "2")
                .arg("-c")
                .arg(format!("ulimit -v {kb} && exec \"$0\" \"$@\""))
                .arg(bin)
                .args(args);
            c
        }
        None => {
            let mut c = Command::new(bin);
            c.args(args);
            c
        }
    };
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start occam");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = r.read_to_string(&mut s);
            s
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for occam") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("occam {args:?} still running after {limit:?}: it must fail fast");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code(),
        signal: status.signal(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
        elapsed: started.elapsed(),
    }
}

/// Asserts a clean failure: exit status 1 (not a signal, not an abort), no panic and no
/// "internal error", and stderr containing every one of `wanted`. Returns stderr.
pub fn assert_clean_failure(run: &Run, wanted: &[&str]) -> String {
    let e = &run.stderr;
    assert_eq!(run.signal, None, "killed by a signal; stderr: {e}");
    assert_eq!(run.code, Some(1), "exit status; stderr: {e}");
    assert!(!e.contains("panicked"), "panic: {e}");
    assert!(!e.contains("internal error"), "internal error: {e}");
    for w in wanted {
        assert!(e.contains(w), "stderr should contain '{w}': {e}");
    }
    e.clone()
}
