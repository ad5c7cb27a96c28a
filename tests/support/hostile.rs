//! Hostile-input helpers: running the `occam` binary with a time limit (a FIFO or an
//! endless read must fail the test, not hang it) and optionally a virtual-memory limit,
//! checking that a failure is a clean one, wrong kinds of path, and large gzipped IDX
//! files written without holding them in memory.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
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

/// A wrong kind of thing where a regular file should be.
#[derive(Debug, Clone, Copy)]
pub enum WrongKind {
    Directory,
    Fifo,
    SymlinkLoop,
    DanglingSymlink,
}

impl WrongKind {
    pub const ALL: [WrongKind; 4] = [
        WrongKind::Directory,
        WrongKind::Fifo,
        WrongKind::SymlinkLoop,
        WrongKind::DanglingSymlink,
    ];

    /// Puts this kind of thing at `path` (which must not exist).
    pub fn make(self, path: &Path) {
        match self {
            WrongKind::Directory => std::fs::create_dir(path).unwrap(),
            WrongKind::Fifo => {
                let status = std::process::Command::new("mkfifo").arg(path).status().unwrap();
                assert!(status.success(), "mkfifo");
            }
            WrongKind::SymlinkLoop => {
                let other = path.with_extension("loop");
                std::os::unix::fs::symlink(&other, path).unwrap();
                std::os::unix::fs::symlink(path, &other).unwrap();
            }
            WrongKind::DanglingSymlink => std::os::unix::fs::symlink("/nonexistent/occam-target", path).unwrap(),
        }
    }

    /// What the error must say.
    pub fn message(self) -> &'static str {
        match self {
            WrongKind::Directory => "is a directory, expected",
            WrongKind::Fifo => "is a FIFO, not a regular file",
            WrongKind::SymlinkLoop => "symlink loop",
            WrongKind::DanglingSymlink => "dangling symlink to /nonexistent/occam-target",
        }
    }
}

/// Writes a gzipped IDX file of `count` zero records of `record` bytes, streaming, so that
/// a large declared size costs the test little memory.
pub fn write_gz_zeros(path: &Path, dims: &[u32], records: usize, record: usize) {
    let file = std::fs::File::create(path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    gz.write_all(&super::common::idx_bytes(dims, &[])).unwrap();
    let chunk = vec![0u8; record * 1000];
    let mut left = records;
    while left > 0 {
        let n = left.min(1000);
        gz.write_all(&chunk[..n * record]).unwrap();
        left -= n;
    }
    gz.finish().unwrap().flush().unwrap();
}
