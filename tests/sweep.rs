//! Sweeps end to end: resume after a real kill -9, shards and merge, divergence as a
//! result, clear errors for malformed specs and corrupted or foreign stores.

mod common;

use common::{occam, ok};

use occam::sweep::{Store, SweepSpec, TrialStatus};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn fixture(dir: &Path, steps: usize, extra: &str) -> (String, String) {
    common::write_mnist_like(&dir.join("data"), 400, 80, 6, true);
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"t\"\n[axes]\ndata = [\"mnist:{}\"]\nwidth = [16, 32, 48]\ndepth = [2, 3]\nbatch = [32]\nsteps = [{steps}]\nseed = [1, 2]\n{extra}\n\
             [measure]\njacobian_points = 50\n[measure.transitions]\ntrajectory = \"translate\"\ncount = 3\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    (
        spec.display().to_string(),
        dir.join("store.sqlite").display().to_string(),
    )
}

#[test]
fn a_sweep_killed_mid_run_resumes_with_every_trial_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = fixture(tmp.path(), 1500, "");
    let expected = SweepSpec::from_toml_file(Path::new(&spec)).unwrap().trials().len();
    assert_eq!(expected, 12);
    let mut child = Command::new(env!("CARGO_BIN_EXE_occam"))
        .args(["sweep", "run", &spec, "--store", &store, "--parallel", "2", "--quiet"])
        .spawn()
        .unwrap();
    // Kill (SIGKILL) once some but not all trials are stored.
    let started = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let n = Store::open_existing(Path::new(&store))
            .ok()
            .and_then(|s| s.finished_ids(true).ok())
            .map_or(0, |s| s.len());
        if n >= 2 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "sweep made no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep finished before it could be killed: make trials slower"
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = common::stored_results(Path::new(&store));
    assert!(
        partial.len() >= 2 && partial.len() < expected,
        "killed with {} of {expected} stored",
        partial.len()
    );
    let out = ok(&["sweep", "run", &spec, "--store", &store, "--quiet"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["summary"]["already_done"], partial.len());
    assert_eq!(summary["summary"]["ran"], expected - partial.len());
    let resumed = common::stored_results(Path::new(&store));
    assert_eq!(resumed.len(), expected);
    // The same sweep run without interruption (one trial at a time) gives identical numbers.
    let clean = tmp.path().join("clean.sqlite").display().to_string();
    ok(&["sweep", "run", &spec, "--store", &clean, "--parallel", "1", "--quiet"]);
    assert_eq!(resumed, common::stored_results(Path::new(&clean)));
    // A third run does nothing.
    let out = ok(&["sweep", "run", &spec, "--store", &store, "--quiet"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"ran\":0"));
}

#[test]
fn shards_merge_into_the_store_a_single_run_produces() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = fixture(tmp.path(), 60, "");
    ok(&["sweep", "run", &spec, "--store", &store, "--quiet"]);
    let shards: Vec<String> = (0..3)
        .map(|i| tmp.path().join(format!("s{i}.sqlite")).display().to_string())
        .collect();
    for (i, s) in shards.iter().enumerate() {
        ok(&[
            "sweep",
            "run",
            &spec,
            "--store",
            s,
            "--shard",
            &format!("{i}/3"),
            "--quiet",
        ]);
        assert_eq!(common::stored_results(Path::new(s)).len(), 4);
    }
    let merged = tmp.path().join("merged.sqlite").display().to_string();
    let mut args = vec!["sweep", "collect", "--out", &merged];
    args.extend(shards.iter().map(String::as_str));
    ok(&args);
    assert_eq!(
        common::stored_results(Path::new(&merged)),
        common::stored_results(Path::new(&store))
    );
    // Collecting again adds nothing and duplicates nothing.
    let out = ok(&args);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"added\":0"));
    assert_eq!(common::stored_results(Path::new(&merged)).len(), 12);
    let status = ok(&["sweep", "status", &spec, &shards[0], &shards[1]]);
    let s: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!((s["done"].as_u64(), s["missing"].as_u64()), (Some(8), Some(4)));
}

#[test]
fn a_diverging_trial_is_recorded_and_the_sweep_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = fixture(tmp.path(), 50, "init_scale = [1.0, 1e25]");
    ok(&["sweep", "run", &spec, "--store", &store, "--quiet"]);
    let trials = Store::open_existing(Path::new(&store)).unwrap().trials().unwrap();
    assert_eq!(trials.len(), 24);
    let diverged = trials.iter().filter(|t| t.status == TrialStatus::Diverged).count();
    let completed = trials.iter().filter(|t| t.status == TrialStatus::Completed).count();
    assert_eq!((diverged, completed), (12, 12));
    assert!(
        trials
            .iter()
            .filter(|t| t.status == TrialStatus::Diverged)
            .all(|t| t.metric(occam::sweep::metrics::JACOBIAN_NORM).is_nan())
    );
    let csv = tmp.path().join("t.csv");
    ok(&[
        "sweep",
        "export",
        &store,
        "--csv",
        csv.to_str().unwrap(),
        "--jsonl",
        tmp.path().join("t.jsonl").to_str().unwrap(),
    ]);
    let text = std::fs::read_to_string(&csv).unwrap();
    let header: Vec<&str> = text.lines().next().unwrap().split(',').collect();
    assert!(header.starts_with(&["id", "sweep", "trial_index", "status"]));
    assert_eq!(text.lines().count(), 25);
    for line in std::fs::read_to_string(tmp.path().join("t.jsonl")).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        assert!(v["train.width"].is_u64());
    }
}

#[test]
fn malformed_specs_are_rejected_naming_the_file_and_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("name = \"x\"\n[axes]\nwidht = [3]\n", "unknown field `widht`"),
        ("name = \"x\"\n[axes]\nwidth = []\n", "axis 'width' lists no values"),
        ("name = \"x\"\n[axes]\nactivation = [\"swish\"]\n", "swish"),
        ("name = \"x\"\nmode = \"random\"\n", "samples > 0"),
        ("[axes]\nwidth = [3]\n", "missing field `name`"),
        ("name = \"x\"\n[axes]\ndepth = [0]\n", "axes.depth = 0 is out of range"),
        (
            "name = \"x\"\n[axes]\nactivation = [\"tanh\"]\n[measure.transitions]\ntrajectory = \"translate\"\ncount = 2\n",
            "piecewise-linear",
        ),
        ("name = \"x\"\n[pair]\nfactor = \"colour\"\n", "colour"),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let p = tmp.path().join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let out = occam(&[
            "sweep",
            "run",
            p.to_str().unwrap(),
            "--store",
            tmp.path().join("s.sqlite").to_str().unwrap(),
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{text} should fail");
        assert!(
            err.contains(&format!("bad{i}.toml")) && err.contains(want),
            "case {i}: '{err}' should name the file and say '{want}'"
        );
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn corrupted_and_foreign_stores_get_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let junk = tmp.path().join("junk.sqlite");
    std::fs::write(&junk, vec![0x5au8; 8192]).unwrap();
    let foreign = tmp.path().join("foreign.sqlite");
    {
        let c = rusqlite::Connection::open(&foreign).unwrap();
        c.execute_batch("CREATE TABLE results (a INTEGER); INSERT INTO results VALUES (1);")
            .unwrap();
    }
    let (spec, _) = fixture(tmp.path(), 10, "");
    for (path, want) in [(&junk, "not an SQLite database"), (&foreign, "no occam_meta")] {
        let p = path.to_str().unwrap();
        for args in [
            vec!["report", p, "--out", tmp.path().join("r").to_str().unwrap()],
            vec!["sweep", "run", &spec, "--store", p],
            vec!["sweep", "export", p, "--csv", "/dev/null"],
        ] {
            let out = occam(&args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{args:?} should fail");
            assert!(err.contains(p) && err.contains(want), "{args:?}: '{err}'");
        }
    }
    // The foreign database is left untouched.
    let c = rusqlite::Connection::open(&foreign).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let out = occam(&[
        "report",
        tmp.path().join("missing.sqlite").to_str().unwrap(),
        "--out",
        "/tmp/x",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such store"));
}

#[test]
fn a_random_sweep_is_seeded_and_prefers_small_networks() {
    let text = "name = \"r\"\nmode = \"random\"\nsamples = 100\nprefer_small = true\n[axes]\nwidth = [10, 20, 40, 80, 160]\ndepth = [2, 20]\nlr = [0.1, 0.01, 0.001]\nseed = [SEEDS]\n";
    let seeds: Vec<String> = (1..=30).map(|s| s.to_string()).collect();
    let text = text.replace("SEEDS", &seeds.join(", "));
    let text = text.as_str();
    let a: SweepSpec = toml::from_str(text).unwrap();
    let b: SweepSpec = toml::from_str(text).unwrap();
    let (ta, tb) = (a.trials(), b.trials());
    assert_eq!(ta.len(), 100);
    assert_eq!(ta, tb);
    let ids: std::collections::HashSet<String> = ta.iter().map(|t| t.id()).collect();
    assert_eq!(ids.len(), 100, "random samples are distinct");
    // Each width gets its quota of the bounded small-first shares (at most 25% each):
    // strictly fewer networks at every larger width.
    let counts: Vec<usize> = [10, 20, 40, 80, 160]
        .iter()
        .map(|&w| ta.iter().filter(|t| t.train.width == w).count())
        .collect();
    assert!(counts.windows(2).all(|c| c[0] > c[1]) && counts[0] <= 25, "{counts:?}");
}
