//! Store faults: a damaged store is refused untouched, a read-only store is readable (as
//! a user who cannot write it), two runners on one store split the work, a second spec
//! under a recorded name is refused (also when merging), failed trials make the exit
//! status non-zero, and failed writes leave no temporary files.

mod common;

use common::{occam, ok};

use occam::sweep::spec::{canonical_json, stable_hash};
use occam::sweep::{Store, SweepSpec, TrialStatus};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A tiny sweep on Fashion-MNIST: `seeds` × widths 12, 16.
fn write_spec(dir: &Path, file: &str, steps: usize, seeds: usize) -> String {
    let seeds: Vec<String> = (1..=seeds).map(|s| s.to_string()).collect();
    let p = dir.join(file);
    std::fs::write(
        &p,
        format!(
            "name = \"faults\"\n[axes]\ndata = [\"fashion-mnist\"]\nwidth = [12, 16]\nbatch = [32]\nsteps = [{steps}]\n\
             seed = [{}]\n[fixed]\ntrain_size = 300\nstop_at_100 = false\n[measure]\njacobian_points = 20\n",
            seeds.join(", ")
        ),
    )
    .unwrap();
    p.to_str().unwrap().to_string()
}

fn text(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn trial_count(store: &Path) -> usize {
    Store::open_existing(store).unwrap().trials().unwrap().len()
}

fn summary(out: &Output) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    v["summary"].clone()
}

#[test]
fn a_bit_flipped_store_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "spec.toml", 30, 3);
    let store = tmp.path().join("store.sqlite");
    ok(&["sweep", "run", &spec, "--store", text(&store), "--quiet"]);
    assert!(
        !tmp.path().join("store.sqlite-wal").exists(),
        "the WAL is checkpointed on close"
    );
    // Flip bits in the header of the trials table's root page.
    let (root, page_size): (i64, i64) = {
        let c = rusqlite::Connection::open(&store).unwrap();
        let root = c
            .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'trials'", [], |r| {
                r.get(0)
            })
            .unwrap();
        (root, c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap())
    };
    let mut bytes = std::fs::read(&store).unwrap();
    let page = ((root - 1) * page_size) as usize;
    for b in &mut bytes[page + 3..page + 12] {
        *b ^= 0xff;
    }
    std::fs::write(&store, &bytes).unwrap();
    let s = text(&store);
    let out = occam(&["sweep", "run", &spec, "--store", s, "--quiet"]);
    common::refused(&out, &[s, "damaged", "not modified", ".recover"]);
    assert!(
        std::fs::read(&store).unwrap() == bytes,
        "a refused store must be left byte for byte"
    );
    let csv = tmp.path().join("t.csv");
    let report = tmp.path().join("report");
    let merged = tmp.path().join("merged.sqlite");
    for args in [
        vec!["sweep", "export", s, "--csv", text(&csv)],
        vec!["sweep", "status", &spec, s],
        vec!["report", s, "--out", text(&report)],
        vec!["sweep", "collect", "--out", text(&merged), s],
    ] {
        common::refused(&occam(&args), &[s, "damaged"]);
    }
    assert!(std::fs::read(&store).unwrap() == bytes);
    assert!(!csv.exists() && !report.exists());
}

/// Runs `occam` as the unprivileged user `nobody` (tests run as root, for whom
/// permission bits do not stop writes).
fn occam_as_nobody(args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_occam"),
        ])
        .args(args)
        .output()
        .expect("setpriv")
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_store_in_a_read_only_directory_can_be_exported_statused_reported_and_collected() {
    let tmp = tempfile::tempdir().unwrap();
    chmod(tmp.path(), 0o755);
    let spec = write_spec(tmp.path(), "spec.toml", 30, 3);
    let ro = tmp.path().join("ro");
    let store = ro.join("store.sqlite");
    ok(&["sweep", "run", &spec, "--store", text(&store), "--quiet"]);
    let before = std::fs::read(&store).unwrap();
    chmod(&store, 0o444);
    chmod(&ro, 0o555);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    chmod(&out_dir, 0o777);
    let s = text(&store);
    let csv = out_dir.join("t.csv");
    let merged = out_dir.join("merged.sqlite");
    let report = out_dir.join("report");
    let runs = [
        vec!["sweep", "export", s, "--csv", text(&csv)],
        vec!["sweep", "status", &spec, s],
        vec!["report", s, "--out", text(&report)],
        vec!["sweep", "collect", "--out", text(&merged), s],
    ];
    for args in &runs {
        let out = occam_as_nobody(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?} as nobody: {err}");
        assert!(!err.contains("readonly database"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 7);
    assert!(out_dir.join("report/index.html").is_file());
    assert_eq!(trial_count(&merged), 6);
    let status: serde_json::Value =
        serde_json::from_slice(&occam_as_nobody(&["sweep", "status", &spec, s]).stdout).unwrap();
    assert_eq!(status["done"], 6);
    // Nothing was written into the read-only directory.
    assert_eq!(std::fs::read(&store).unwrap(), before);
    let names: Vec<_> = std::fs::read_dir(&ro)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["store.sqlite"]);
    chmod(&ro, 0o755);
}

/// Starts `sweep run` without waiting for it.
fn spawn_run(spec: &str, store: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_occam"))
        .args([
            "sweep",
            "run",
            spec,
            "--store",
            text(store),
            "--parallel",
            "1",
            "--quiet",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// Two concurrent runners on `store`; returns the sum of what they trained.
fn two_runners(spec: &str, store: &Path) -> u64 {
    let (a, b) = (spawn_run(spec, store), spawn_run(spec, store));
    let mut ran = 0;
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let s = summary(&out);
        assert_eq!(
            s["already_done"].as_u64().unwrap() + s["ran"].as_u64().unwrap() + s["done_by_others"].as_u64().unwrap(),
            s["in_this_shard"].as_u64().unwrap(),
            "{s}"
        );
        ran += s["ran"].as_u64().unwrap();
    }
    ran
}

#[test]
fn two_runners_on_one_store_split_the_trials_and_match_a_single_runner() {
    let tmp = tempfile::tempdir().unwrap();
    // Trials long enough (8 × 1500 steps) that the two runners overlap.
    let spec = write_spec(tmp.path(), "spec.toml", 1500, 4);
    // A new store: both create the schema at once.
    let store = tmp.path().join("new.sqlite");
    assert_eq!(two_runners(&spec, &store), 8, "every trial trained exactly once");
    assert_eq!(trial_count(&store), 8);
    // An existing store with one trial done.
    let existing = tmp.path().join("existing.sqlite");
    ok(&[
        "sweep",
        "run",
        &spec,
        "--store",
        text(&existing),
        "--shard",
        "0/8",
        "--quiet",
    ]);
    assert_eq!(
        two_runners(&spec, &existing),
        7,
        "every missing trial trained exactly once"
    );
    let single = tmp.path().join("single.sqlite");
    ok(&[
        "sweep",
        "run",
        &spec,
        "--store",
        text(&single),
        "--parallel",
        "1",
        "--quiet",
    ]);
    assert_eq!(
        common::stored_results(&store),
        common::stored_results(&single),
        "bit-identical to one runner"
    );
    assert_eq!(common::stored_results(&existing), common::stored_results(&single));
    let claims: i64 = rusqlite::Connection::open(&store)
        .unwrap()
        .query_row("SELECT count(*) FROM claims", [], |r| r.get(0))
        .unwrap();
    assert_eq!(claims, 0, "claims are removed when their trials are stored");
}

#[test]
fn a_second_spec_under_a_recorded_name_is_refused_and_so_is_merging_it() {
    let tmp = tempfile::tempdir().unwrap();
    let spec_a = write_spec(tmp.path(), "a.toml", 30, 2);
    let spec_b = write_spec(tmp.path(), "b.toml", 40, 2);
    let fingerprint = |p: &str| stable_hash(&canonical_json(&SweepSpec::from_toml_file(Path::new(p)).unwrap()));
    let (fa, fb) = (fingerprint(&spec_a), fingerprint(&spec_b));
    assert_ne!(fa, fb);
    let store_a = tmp.path().join("a.sqlite");
    let sa = text(&store_a);
    ok(&["sweep", "run", &spec_a, "--store", sa, "--quiet"]);
    let before = common::stored_results(&store_a);
    let out = occam(&["sweep", "run", &spec_b, "--store", sa, "--quiet"]);
    common::refused(&out, &[sa, "faults", &fa, &fb, "axes.steps", "new `name`", "new store"]);
    assert!(out.stdout.is_empty(), "refused before any trial ran");
    assert_eq!(common::stored_results(&store_a), before);
    // The same spec resumes as before.
    let resumed = ok(&["sweep", "run", &spec_a, "--store", sa, "--quiet"]);
    assert_eq!(summary(&resumed)["ran"], 0);
    // Merging a store of the other spec is refused too, and adds nothing.
    let store_b = tmp.path().join("b.sqlite");
    ok(&["sweep", "run", &spec_b, "--store", text(&store_b), "--quiet"]);
    let out = occam(&["sweep", "collect", "--out", sa, text(&store_b)]);
    common::refused(&out, &[sa, text(&store_b), &fa, &fb, "axes.steps"]);
    assert_eq!(common::stored_results(&store_a), before);
}

#[test]
fn a_failed_trial_makes_sweep_run_exit_non_zero_after_storing_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "spec.toml", 30, 2);
    let store = tmp.path().join("store.sqlite");
    // Saving one trial's network fails: a directory sits where its file goes.
    let models = tmp.path().join("models");
    let first = SweepSpec::from_toml_file(Path::new(&spec)).unwrap().trials()[0].id();
    let blocker: PathBuf = models.join(format!("{first}.safetensors"));
    std::fs::create_dir_all(&blocker).unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "sweep",
            "run",
            &spec,
            "--store",
            text(&store),
            "--keep-models",
            text(&models),
            "--quiet",
        ];
        args.extend_from_slice(extra);
        occam(&args)
    };
    let out = run(&[]);
    common::refused(&out, &["1 trial(s) failed", "sweep export", "--jsonl"]);
    let s = summary(&out);
    assert_eq!((s["ran"].as_u64(), s["failed"].as_u64()), (Some(4), Some(1)), "{s}");
    let trials = Store::open_existing(&store).unwrap().trials().unwrap();
    assert_eq!(trials.len(), 4, "every trial is stored before the exit");
    let failed: Vec<_> = trials.iter().filter(|t| t.status == TrialStatus::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].reason.as_deref().unwrap_or("").contains(".safetensors"));
    // A resume that skips the failed trial still reports it.
    common::refused(&run(&[]), &["1 trial(s) failed"]);
    // Retried with the obstacle gone, the sweep succeeds.
    std::fs::remove_dir(&blocker).unwrap();
    let out = run(&["--retry-failed"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&out)["ran"], 1);
}

/// Every file under `dir` whose name holds ".tmp".
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            found.extend(temporary_files(&p));
        } else if p.file_name().unwrap().to_string_lossy().contains(".tmp") {
            found.push(p);
        }
    }
    found
}

#[test]
fn failed_exports_and_reports_leave_no_temporary_files() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), "spec.toml", 30, 3);
    let store = tmp.path().join("store.sqlite");
    let s = text(&store);
    ok(&["sweep", "run", &spec, "--store", s, "--quiet"]);
    // The export target is a directory; the report target is a file; a report figure's
    // target is a directory (its PNG and SVG are drawn before the rename fails).
    let dir_target = tmp.path().join("exports");
    std::fs::create_dir(&dir_target).unwrap();
    let file_target = tmp.path().join("report-file");
    std::fs::write(&file_target, "x").unwrap();
    let report = tmp.path().join("report");
    let figure = report.join("gap-faults.png");
    std::fs::create_dir_all(&figure).unwrap();
    let export = |flag| vec!["sweep", "export", s, flag, text(&dir_target)];
    for (args, names) in [
        (export("--csv"), text(&dir_target)),
        (export("--jsonl"), text(&dir_target)),
        (vec!["report", s, "--out", text(&file_target)], text(&file_target)),
        (vec!["report", s, "--out", text(&report)], text(&figure)),
    ] {
        common::refused(&occam(&args), &[names]);
        assert_eq!(temporary_files(tmp.path()), Vec::<PathBuf>::new(), "{args:?}");
    }
    assert_eq!(std::fs::read_to_string(&file_target).unwrap(), "x");
}

#[test]
fn claims_of_dead_or_silent_runners_are_taken_over_and_live_ones_respected() {
    use occam::sweep::store::{ClaimOutcome, Owner};
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("claims.sqlite");
    let mut store = Store::open(&path).unwrap();
    let me = Owner::this_process();
    // A process of this host that has exited (its pid is gone).
    let mut child = Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let dead = Owner {
        host: me.host.clone(),
        pid: dead_pid,
    };
    let elsewhere = Owner {
        host: "another-host".into(),
        pid: 1,
    };
    assert_eq!(store.claim("a", &dead, false).unwrap(), ClaimOutcome::Claimed);
    assert_eq!(
        store.claim("a", &me, false).unwrap(),
        ClaimOutcome::Claimed,
        "a dead process's claim is taken over at once"
    );
    assert_eq!(store.claim("b", &elsewhere, false).unwrap(), ClaimOutcome::Claimed);
    assert_eq!(
        store.claim("b", &me, false).unwrap(),
        ClaimOutcome::HeldBy("another-host:1".into()),
        "a claim from another host with a fresh heartbeat is respected"
    );
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE claims SET heartbeat = datetime('now', '-11 minutes') WHERE trial_id = 'b'",
            [],
        )
        .unwrap();
    assert_eq!(
        store.claim("b", &me, false).unwrap(),
        ClaimOutcome::Claimed,
        "a claim whose heartbeat is older than the timeout is taken over"
    );
    // This process's own claim, seen by another live owner of this host (the test runner's parent).
    let parent = Owner {
        host: me.host.clone(),
        pid: std::os::unix::process::parent_id(),
    };
    assert_eq!(
        store.claim("a", &parent, false).unwrap(),
        ClaimOutcome::HeldBy(me.label())
    );
    store.release_claims(&me).unwrap();
    assert_eq!(store.claim("a", &parent, false).unwrap(), ClaimOutcome::Claimed);
}

#[test]
fn a_store_from_before_fingerprints_and_claims_is_migrated_and_protected() {
    let tmp = tempfile::tempdir().unwrap();
    let spec_a = write_spec(tmp.path(), "a.toml", 30, 1);
    let spec_b = write_spec(tmp.path(), "b.toml", 40, 1);
    let store = tmp.path().join("old.sqlite");
    let s = text(&store);
    ok(&["sweep", "run", &spec_a, "--store", s, "--quiet"]);
    // Make it look like a store written before this version.
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute_batch("ALTER TABLE sweeps DROP COLUMN fingerprint; DROP TABLE claims;")
        .unwrap();
    let out = ok(&["sweep", "run", &spec_a, "--store", s, "--quiet"]);
    assert_eq!(summary(&out)["already_done"], 2, "the old store resumes");
    let recorded: String = rusqlite::Connection::open(&store)
        .unwrap()
        .query_row("SELECT fingerprint FROM sweeps WHERE name = 'faults'", [], |r| r.get(0))
        .unwrap();
    let spec = SweepSpec::from_toml_file(Path::new(&spec_a)).unwrap();
    assert_eq!(recorded, stable_hash(&canonical_json(&spec)));
    common::refused(
        &occam(&["sweep", "run", &spec_b, "--store", s, "--quiet"]),
        &[s, &recorded, "axes.steps"],
    );
}
