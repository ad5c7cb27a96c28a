//! Sweeps as Slurm job arrays on a real single-node cluster (started by scripts/test.sh
//! through scripts/slurm-local.sh): results equal the local runner's, and a task killed
//! half-way is completed by re-submitting, with nothing duplicated or lost, and a
//! directory full of shell and Slurm metacharacters is taken literally.

mod common;

use common::ok;

use occam::sweep::Store;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// True when a Slurm cluster answers; panics (the test fails) when it does not, unless
/// OCCAM_SKIP_SLURM=1 says to skip on a machine without one.
fn cluster_available() -> bool {
    let up = std::env::var_os("SLURM_CONF").is_some()
        && Command::new("sinfo")
            .arg("-h")
            .output()
            .is_ok_and(|o| o.status.success());
    if !up && std::env::var("OCCAM_SKIP_SLURM").as_deref() == Ok("1") {
        eprintln!("skipping: no Slurm cluster and OCCAM_SKIP_SLURM=1");
        return false;
    }
    assert!(
        up,
        "no Slurm cluster: run the tests through scripts/test.sh (it starts one), or set OCCAM_SKIP_SLURM=1"
    );
    true
}

fn queued(job_name: &str) -> usize {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-n", job_name])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

fn wait_for_queue_to_drain(job_name: &str) {
    let started = Instant::now();
    while queued(job_name) > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "{job_name} still queued after 300 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn write_spec(dir: &Path, name: &str, steps: usize) -> String {
    let spec = dir.join(format!("{name}.toml"));
    std::fs::write(
        &spec,
        format!(
            "name = \"{name}\"\n[axes]\ndata = [\"fashion-mnist:{}\"]\nwidth = [16, 32, 48]\ndepth = [2, 3]\nbatch = [32]\nsteps = [{steps}]\nseed = [1]\n\
             [measure]\njacobian_points = 50\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    spec.display().to_string()
}

/// `occam sweep submit … --slurm`; returns the array tasks it submitted.
fn submit(spec: &str, dir: &Path, shards: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "sweep",
        "submit",
        spec,
        "--slurm",
        "--dir",
        dir.to_str().unwrap(),
        "--shards",
        shards,
        "--cpus",
        "1",
    ];
    args.extend_from_slice(extra);
    let sub: serde_json::Value = serde_json::from_slice(&ok(&args).stdout).unwrap();
    sub["submission"]["tasks"].clone()
}

/// Collects the shards of `dir`, runs the same sweep locally on one thread, and checks
/// the two stores hold the same six trials with the same numbers.
fn collect_and_compare_with_local(spec: &str, dir: &Path, root: &Path, tag: &str) {
    let merged = root.join(format!("merged-{tag}.sqlite"));
    ok(&[
        "sweep",
        "collect",
        "--out",
        merged.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    let local = root.join(format!("local-{tag}.sqlite"));
    ok(&[
        "--threads",
        "1",
        "sweep",
        "run",
        spec,
        "--store",
        local.to_str().unwrap(),
        "--quiet",
    ]);
    let (m, l) = (common::stored_results(&merged), common::stored_results(&local));
    assert_eq!(m.len(), 6, "every trial exactly once");
    assert_eq!(
        m, l,
        "the Slurm sweep and the local sweep must hold the same trials with the same metrics"
    );
}

#[test]
fn slurm_array_matches_the_local_runner_and_recovers_from_a_killed_task() {
    if !cluster_available() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    common::write_mnist_like(&root.join("data"), 400, 80, 6, true);

    // 1. A small sweep as a 3-task array, collected, equals the local runner's store.
    let spec = write_spec(root, "slurm-equal", 80);
    let dir = root.join("equal");
    assert_eq!(
        submit(&spec, &dir, "3", &["--array-throttle", "2"]),
        serde_json::json!([0, 1, 2])
    );
    wait_for_queue_to_drain("occam-slurm-equal");
    collect_and_compare_with_local(&spec, &dir, root, "equal");
    // Nothing is missing, so re-submitting submits nothing.
    assert_eq!(submit(&spec, &dir, "3", &[]), serde_json::json!([]));

    // 2. Kill one task's process half-way, re-submit, and check nothing is lost or doubled.
    let spec = write_spec(root, "slurm-kill", 6000);
    let dir = root.join("kill");
    submit(&spec, &dir, "2", &[]);
    let shard0 = dir.join("shards/shard-00000-of-00002.sqlite");
    let started = Instant::now();
    loop {
        let stored = if shard0.exists() {
            Store::open_existing(&shard0)
                .ok()
                .and_then(|s| s.finished_ids(true).ok())
                .map_or(0, |s| s.len())
        } else {
            0
        };
        if stored >= 1 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "task 0 stored nothing");
        assert!(
            queued("occam-slurm-kill") > 0,
            "the array finished before a task could be killed: make trials slower"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("pkill")
        .args(["-KILL", "-f", "shard-00000-of-00002"])
        .status()
        .unwrap();
    assert!(kill.success(), "no task process to kill");
    wait_for_queue_to_drain("occam-slurm-kill");
    let partial = common::stored_results(&shard0);
    assert!(
        !partial.is_empty() && partial.len() < 3,
        "shard 0 should hold some but not all of its 3 trials: {}",
        partial.len()
    );
    let status: serde_json::Value =
        serde_json::from_slice(&ok(&["sweep", "status", &spec, "--dir", dir.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(
        status["slurm"]["incomplete_shards_not_queued"],
        serde_json::json!([0]),
        "{status}"
    );
    assert_eq!(
        submit(&spec, &dir, "2", &[]),
        serde_json::json!([0]),
        "only the killed shard is re-submitted"
    );
    wait_for_queue_to_drain("occam-slurm-kill");
    collect_and_compare_with_local(&spec, &dir, root, "kill");
    let status: serde_json::Value =
        serde_json::from_slice(&ok(&["sweep", "status", &spec, "--dir", dir.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(
        (status["done"].as_u64(), status["missing"].as_u64()),
        (Some(6), Some(0))
    );

    // 3. A directory full of shell and Slurm metacharacters: sbatch and bash take it
    // literally (logs and shard stores land in it), and nothing in it runs.
    let spec = write_spec(root, "slurm-hostile", 40);
    let dir = root.join("a b'c\"d%x$(touch PWNED)`touch PWNED` #e %%z %A");
    assert_eq!(submit(&spec, &dir, "2", &[]), serde_json::json!([0, 1]));
    wait_for_queue_to_drain("occam-slurm-hostile");
    let logs = std::fs::read_dir(dir.join("logs")).unwrap().count();
    assert_eq!(logs, 2, "each task's log in the literal directory");
    let status: serde_json::Value =
        serde_json::from_slice(&ok(&["sweep", "status", &spec, "--dir", dir.to_str().unwrap()]).stdout).unwrap();
    assert_eq!(status["done"].as_u64(), Some(6), "{status}");
    assert!(!root.join("PWNED").exists() && !Path::new("PWNED").exists());
}
