//! Progress when stderr is not a terminal: plain lines, at the interval asked for.

mod common;

#[test]
fn progress_is_printed_as_plain_lines_when_stderr_is_a_pipe() {
    let dir = tempfile::tempdir().unwrap();
    common::write_mnist_like(&dir.path().join("d"), 200, 40, 6, false);
    let data = format!("mnist:{}", dir.path().join("d").display());
    let run = |interval: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_occam"))
            .args([
                "train", "--data", &data, "--width", "16", "--depth", "2", "--steps", "400", "--batch", "20",
            ])
            .args(["--out", dir.path().join("o").to_str().unwrap()])
            .env("OCCAM_PROGRESS_SECONDS", interval)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stderr).unwrap()
    };
    let every = run("0");
    let lines: Vec<&str> = every.lines().filter(|l| l.starts_with("progress: ")).collect();
    assert!(lines.len() >= 10, "{every}");
    assert!(
        lines.iter().all(|l| l.contains("/400 steps") && !l.contains('\r')),
        "{every}"
    );
    assert!(lines.last().unwrap().contains("loss"), "{every}");
    // A long interval: the first line only.
    let sparse = run("3600");
    assert_eq!(
        sparse.lines().filter(|l| l.starts_with("progress: ")).count(),
        1,
        "{sparse}"
    );
}
