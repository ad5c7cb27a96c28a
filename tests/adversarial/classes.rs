//! Hostile command lines, one test per class of the hardening issue: shell values in the
//! Slurm script, non-finite numbers, mixed specs in one store, panics on typed values,
//! unbounded memory or time, store faults, and accepted nonsense. Each case must be
//! refused with exit status 1 and a message naming the option or file and the value.

use super::{path_str, run, tiny, verdict};
use std::path::Path;

/// Asserts that `args` is refused (exit 1, clean) with a message containing every one of
/// `must_name`; returns the message.
fn refused(args: &[String], must_name: &[&str]) -> String {
    let out = run(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{args:?} should be refused, got {:?}: {err}",
        out.status
    );
    let names: Vec<String> = must_name.iter().map(|n| n.to_string()).collect();
    if let Some(p) = verdict(&out, &names) {
        panic!("{args:?}: {p}");
    }
    for n in must_name {
        assert!(err.contains(n), "{args:?}: the message should name '{n}': {err}");
    }
    err
}

fn args(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

/// A tiny sweep spec over the `tiny()` dataset, with `extra` appended.
fn spec(dir: &Path, file: &str, name: &str, data: &Path, steps: usize, extra: &str) -> String {
    let p = dir.join(file);
    std::fs::write(
        &p,
        format!(
            "name = \"{name}\"\n[axes]\ndata = [\"fashion-mnist:{}\"]\nwidth = [4]\ndepth = [2]\nbatch = [8]\n\
             steps = [{steps}]\nseed = [1, 2]\n[fixed]\ntrain_size = 20\n[measure]\njacobian_points = 5\n{extra}",
            data.display()
        ),
    )
    .unwrap();
    path_str(&p)
}

/// A weight value for each index of a model's weights.
type WeightPattern = fn(usize) -> f32;

/// Model bytes with every f32 weight replaced by `f(index)`.
fn with_weights(model: &Path, f: impl Fn(usize) -> f32) -> Vec<u8> {
    let mut bytes = std::fs::read(model).unwrap();
    let start = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for (i, w) in bytes[start..].chunks_exact_mut(4).enumerate() {
        w.copy_from_slice(&f(i).to_le_bytes());
    }
    bytes
}

#[test]
fn class_1_slurm_values_never_reach_a_shell() {
    let t = tiny();
    let sp = spec(t.dir.path(), "s.toml", "slurmy", &t.data, 2, "");
    let hostile = t.dir.path().join("runs/x'$(touch PWNED)'");
    let submit = |extra: &[&str]| {
        let mut a = args(&["sweep", "submit", &sp, "--slurm", "--dry-run"]);
        a.extend(extra.iter().map(|e| e.to_string()));
        a
    };
    for (opt, value) in [
        ("--mem", "4G\n#SBATCH --wrap=touch PWNED"),
        ("--time", "01:00:00\ntouch PWNED"),
        ("--partition", "debug\rtouch"),
        ("--extra-sbatch", "--account=lab\ntouch PWNED"),
    ] {
        refused(&submit(&[opt, value]), &[opt]);
    }
    refused(&submit(&["--dir", "runs/a\nb"]), &["--dir"]);
    // Each task runs `occam --threads CPUS`: a count the binary itself would refuse is
    // refused at submission, not on the cluster.
    refused(&submit(&["--cpus", "100000"]), &["--cpus", "100000"]);
    // The README's form of --extra-sbatch works; a dry run prints the script and writes nothing.
    let dir = t.dir.path().join("dry");
    let out = run(&submit(&[
        "--extra-sbatch",
        "--account=lab",
        "--dir",
        dir.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("#SBATCH --account=lab"));
    assert!(!dir.exists(), "--dry-run must not write {}", dir.display());
    // An apostrophe and $(…) in --dir: refused or quoted, and nothing runs either way.
    let out = run(&submit(&["--dir", hostile.to_str().unwrap()]));
    assert!(verdict(&out, &["--dir".to_string()]).is_none());
    assert!(!t.dir.path().join("PWNED").exists() && !Path::new("PWNED").exists());
    let escape = spec(t.dir.path(), "escape.toml", "../../../x", &t.data, 2, "");
    refused(
        &args(&["sweep", "submit", &escape, "--slurm", "--dry-run"]),
        &["escape.toml", "name"],
    );
}

#[test]
fn class_2_non_finite_numbers_are_never_reported() {
    let t = tiny();
    let data = format!("fashion-mnist:{}", t.data.display());
    let cases: [(&str, WeightPattern); 3] = [
        ("one-nan", |i| if i == 5 { f32::NAN } else { 0.1 }),
        ("all-nan", |_| f32::NAN),
        ("all-inf", |_| f32::INFINITY),
    ];
    for (name, f) in cases {
        let model = t.dir.path().join(format!("{name}.safetensors"));
        std::fs::write(&model, with_weights(&t.model, f)).unwrap();
        for cmd in [&["evaluate"][..], &["measure", "jacobian", "--json"][..]] {
            let mut a = args(cmd);
            a.extend(args(&["--model", model.to_str().unwrap(), "--data", &data]));
            refused(&a, &[&format!("{name}.safetensors")]);
        }
    }
    // Finite weights whose logits overflow: a measurement error, not a norm of 0.0.
    let huge = t.dir.path().join("huge.safetensors");
    std::fs::write(&huge, with_weights(&t.model, |i| if i % 2 == 0 { 3e37 } else { -3e37 })).unwrap();
    refused(
        &args(&[
            "measure",
            "jacobian",
            "--model",
            huge.to_str().unwrap(),
            "--data",
            &data,
            "--json",
        ]),
        &["huge.safetensors", "non-finite"],
    );
    let m = t.model.to_str().unwrap();
    refused(
        &args(&["measure", "jacobian", "--model", m, "--data", &data, "--limit", "0"]),
        &["--limit"],
    );
    refused(
        &args(&[
            "measure", "profile", "--model", m, "--data", &data, "--limit", "0", "--out", "/tmp/p",
        ]),
        &["--limit"],
    );
    let zero = spec(
        t.dir.path(),
        "zero.toml",
        "zero",
        &t.data,
        2,
        "[measure.transitions]\ntrajectory = \"translate\"\ncount = 0\n",
    );
    refused(
        &args(&["sweep", "status", &zero, "/nonexistent.sqlite"]),
        &["zero.toml", "count"],
    );
    // An empty split is an error, not accuracy 0.0.
    let empty = t.dir.path().join("empty");
    super::common::write_mnist_like(&empty, 24, 12, 4, false);
    std::fs::write(
        empty.join("t10k-images-idx3-ubyte"),
        super::common::idx_bytes(&[0, 4, 4], &[]),
    )
    .unwrap();
    std::fs::write(
        empty.join("t10k-labels-idx1-ubyte"),
        super::common::idx_bytes(&[0], &[]),
    )
    .unwrap();
    refused(
        &args(&[
            "evaluate",
            "--model",
            m,
            "--data",
            &format!("fashion-mnist:{}", empty.display()),
        ]),
        &["t10k-"],
    );
}

#[test]
fn class_3_one_name_never_holds_two_specs() {
    let t = tiny();
    let store = path_str(&t.dir.path().join("store.sqlite"));
    let a = spec(t.dir.path(), "a.toml", "same", &t.data, 2, "");
    let b = spec(t.dir.path(), "b.toml", "same", &t.data, 3, "");
    super::common::ok(&["sweep", "run", &a, "--store", &store, "--quiet"]);
    let err = refused(&args(&["sweep", "run", &b, "--store", &store, "--quiet"]), &["same"]);
    assert!(err.contains("fingerprint"), "{err}");
}

#[test]
fn class_4_typed_values_never_panic() {
    let t = tiny();
    let data = format!("fashion-mnist:{}", t.data.display());
    let m = t.model.to_str().unwrap();
    let measure = |kind: &str, extra: &[&str]| {
        let mut a = args(&["measure", kind, "--model", m, "--data", &data, "--quiet"]);
        a.extend(args(extra));
        a
    };
    let out = t.dir.path().join("o");
    let o = out.to_str().unwrap();
    for p in ["0", "1"] {
        refused(
            &measure(
                "transitions",
                &["--trajectory", "random-ellipse", "--method", "sampled", "--points", p],
            ),
            &["--points"],
        );
        refused(
            &measure("profile", &["--method", "sampled", "--points", p, "--out", o]),
            &["--points"],
        );
    }
    for g in ["0", "1"] {
        refused(&measure("regions", &["--grid", g, "--out", o]), &["--grid"]);
    }
    refused(
        &args(&["train", "--data", &data, "--width", "4611686018427387904", "--out", o]),
        &["width"],
    );
    // A model with a zero-width layer.
    let zero = t.dir.path().join("zero-width.safetensors");
    let header = r#"{"layers.0.weight":{"dtype":"F32","shape":[0,16],"data_offsets":[0,0]},"layers.1.weight":{"dtype":"F32","shape":[10,0],"data_offsets":[0,0]},"__metadata__":{"activation":"relu","input_shape":"4,4,1"}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    std::fs::write(&zero, bytes).unwrap();
    for cmd in ["evaluate", "jacobian"] {
        let mut a = if cmd == "evaluate" {
            args(&["evaluate"])
        } else {
            args(&["measure", "jacobian"])
        };
        a.extend(args(&["--model", zero.to_str().unwrap(), "--data", &data]));
        refused(&a, &["zero-width.safetensors"]);
    }
    let store = path_str(&t.dir.path().join("s.sqlite"));
    for (file, extra, key) in [
        (
            "samples.toml",
            "[measure.transitions]\ntrajectory = \"random-ellipse\"\ncount = 2\nmethod = \"sampled\"\nsamples = 1\n",
            "samples",
        ),
        ("grid.toml", "[measure.regions]\ngrid = 0\n", "grid"),
    ] {
        let sp = spec(t.dir.path(), file, "p", &t.data, 2, extra);
        refused(
            &args(&["sweep", "run", &sp, "--store", &store, "--quiet"]),
            &[file, key],
        );
    }
    assert!(!Path::new(&store).exists(), "a refused spec must not create a store");
}

#[test]
fn class_5_no_size_a_user_types_exhausts_the_machine() {
    let t = tiny();
    let data = format!("fashion-mnist:{}", t.data.display());
    let m = t.model.to_str().unwrap();
    let o = path_str(&t.dir.path().join("o"));
    refused(
        &args(&["train", "--data", &data, "--width", "1000000000", "--out", &o]),
        &["--width", "1000000000"],
    );
    // Within the width range but beyond any machine: refused before allocating.
    let err = refused(
        &args(&[
            "train", "--data", &data, "--width", "1048576", "--depth", "3", "--out", &o,
        ]),
        &["needs"],
    );
    assert!(err.contains("GB, this machine has"), "{err}");
    let grid = spec(t.dir.path(), "big.toml", "big", &t.data, 2, "");
    let text = std::fs::read_to_string(&grid).unwrap();
    let many: Vec<String> = (1..=1000).map(|i| i.to_string()).collect();
    let text = text
        .replace("width = [4]", &format!("width = [{}]", many.join(",")))
        .replace("depth = [2]", &format!("depth = [{}]", many.join(",")))
        .replace("seed = [1, 2]", &format!("seed = [{}]", many.join(",")));
    std::fs::write(&grid, text).unwrap();
    refused(
        &args(&["sweep", "status", &grid, "/nonexistent.sqlite"]),
        &["big.toml", "trials"],
    );
    let measure = |extra: &[&str]| {
        let mut a = args(&["measure"]);
        a.extend(args(extra));
        a.extend(args(&["--model", m, "--data", &data, "--quiet"]));
        a
    };
    refused(
        &measure(&[
            "profile",
            "--trajectory",
            "random-ellipse",
            "--limit",
            "100000000",
            "--out",
            &o,
        ]),
        &["--limit"],
    );
    refused(&measure(&["regions", "--grid", "1000000", "--out", &o]), &["--grid"]);
    refused(
        &measure(&[
            "transitions",
            "--trajectory",
            "random-ellipse",
            "--method",
            "sampled",
            "--points",
            "18446744073709551615",
        ]),
        &["--points"],
    );
    // Endless or blocking "files" where a config or spec belongs are refused unopened.
    refused(
        &args(&["train", "--config", "/dev/zero", "--out", &o]),
        &["/dev/zero", "character device"],
    );
    refused(
        &args(&["sweep", "status", "/dev/zero", "/nonexistent.sqlite"]),
        &["/dev/zero"],
    );
    let fifo = t.dir.path().join("spec.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    refused(
        &args(&["sweep", "run", &path_str(&fifo), "--store", &o]),
        &["spec.fifo", "FIFO"],
    );
    // A small gzip file that declares 200,000 images but holds a few.
    let bomb = t.dir.path().join("bomb");
    super::common::write_mnist_like(&bomb, 24, 12, 4, true);
    let raw = super::common::gunzip(&std::fs::read(bomb.join("train-images-idx3-ubyte.gz")).unwrap());
    let mut lying = raw.clone();
    lying[4..8].copy_from_slice(&200_000u32.to_be_bytes());
    std::fs::write(bomb.join("train-images-idx3-ubyte.gz"), super::common::gzip(&lying)).unwrap();
    refused(
        &args(&[
            "train",
            "--data",
            &format!("fashion-mnist:{}", bomb.display()),
            "--train-size",
            "10",
            "--steps",
            "1",
            "--out",
            &o,
        ]),
        &["train-images-idx3-ubyte.gz", "200000"],
    );
}

#[test]
fn class_6_a_damaged_store_is_never_written() {
    let t = tiny();
    let store = t.dir.path().join("store.sqlite");
    let st = path_str(&store);
    let sp = spec(t.dir.path(), "s.toml", "six", &t.data, 2, "");
    super::common::ok(&["sweep", "run", &sp, "--store", &st, "--quiet"]);
    // Damage the b-tree header of the trials table's root page.
    let (page_size, root): (i64, i64) = {
        let c = rusqlite::Connection::open(&store).unwrap();
        let size = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root = c
            .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'trials'", [], |r| {
                r.get(0)
            })
            .unwrap();
        (size, root)
    };
    let mut bytes = std::fs::read(&store).unwrap();
    let start = ((root - 1) * page_size) as usize;
    for b in &mut bytes[start..start + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(&store, &bytes).unwrap();
    let sp2 = spec(t.dir.path(), "s2.toml", "six-b", &t.data, 2, "");
    refused(
        &args(&["sweep", "run", &sp2, "--store", &st, "--quiet"]),
        &["store.sqlite"],
    );
    assert_eq!(
        std::fs::read(&store).unwrap(),
        bytes,
        "a damaged store must be left untouched"
    );
    // An output directory that cannot exist is refused before any training, not after.
    let started = std::time::Instant::now();
    let err = refused(
        &args(&[
            "train",
            "--data",
            &format!("fashion-mnist:{}", t.data.display()),
            "--steps",
            "1000000000",
            "--out",
            "/dev/null/x",
        ]),
        &["--out", "/dev/null/x"],
    );
    assert!(started.elapsed().as_secs() < 20 && !err.contains("progress"), "{err}");
    // An export or per-point file that names its own input is refused, the input intact.
    let fresh_store = t.dir.path().join("own.sqlite");
    super::common::ok(&["sweep", "run", &sp, "--store", fresh_store.to_str().unwrap(), "--quiet"]);
    let stored = std::fs::read(&fresh_store).unwrap();
    let own = fresh_store.to_str().unwrap();
    refused(&args(&["sweep", "export", own, "--csv", own]), &["--csv", "own.sqlite"]);
    assert_eq!(std::fs::read(&fresh_store).unwrap(), stored);
    let model = t.model.to_str().unwrap();
    let weights = std::fs::read(&t.model).unwrap();
    let data = format!("fashion-mnist:{}", t.data.display());
    refused(
        &args(&[
            "measure",
            "jacobian",
            "--model",
            model,
            "--data",
            &data,
            "--per-point",
            model,
        ]),
        &["--per-point"],
    );
    assert_eq!(std::fs::read(&t.model).unwrap(), weights);
    // A failed export leaves no temporary file behind.
    let blocked = t.dir.path().join("blocked");
    std::fs::write(&blocked, "a file, not a directory").unwrap();
    let fresh = t.dir.path().join("fresh.sqlite");
    super::common::ok(&["sweep", "run", &sp, "--store", fresh.to_str().unwrap(), "--quiet"]);
    refused(
        &args(&[
            "sweep",
            "export",
            fresh.to_str().unwrap(),
            "--csv",
            &format!("{}/x.csv", blocked.display()),
        ]),
        &["blocked"],
    );
    let leftovers: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn class_7_nonsense_is_refused_by_name() {
    let t = tiny();
    let data = format!("fashion-mnist:{}", t.data.display());
    let o = path_str(&t.dir.path().join("o"));
    for bad in ["-1", "NaN", "inf"] {
        refused(
            &args(&[
                "train",
                "--data",
                &data,
                "--steps",
                "1",
                "--lr-decay-factor",
                bad,
                "--out",
                &o,
            ]),
            &["--lr-decay-factor", bad],
        );
    }
    let m = t.model.to_str().unwrap();
    refused(
        &args(&[
            "measure", "regions", "--model", m, "--data", &data, "--points", "0,0,0", "--out", &o,
        ]),
        &["--points"],
    );
    let empty = spec(t.dir.path(), "noname.toml", "", &t.data, 2, "");
    refused(
        &args(&["sweep", "status", &empty, "/nonexistent.sqlite"]),
        &["noname.toml", "name"],
    );
    // Things that are not regular files where a dataset file should be.
    let odd = t.dir.path().join("odd");
    super::common::write_mnist_like(&odd, 24, 12, 4, false);
    let target = odd.join("train-labels-idx1-ubyte");
    std::fs::remove_file(&target).unwrap();
    std::fs::create_dir(&target).unwrap();
    let odd_data = format!("fashion-mnist:{}", odd.display());
    let err = refused(
        &args(&["evaluate", "--model", m, "--data", &odd_data]),
        &["train-labels-idx1-ubyte"],
    );
    assert!(err.contains("directory"), "{err}");
    std::fs::remove_dir(&target).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&target)
            .status()
            .unwrap()
            .success()
    );
    let err = refused(
        &args(&["evaluate", "--model", m, "--data", &odd_data]),
        &["train-labels-idx1-ubyte"],
    );
    assert!(err.to_lowercase().contains("fifo"), "{err}");
    std::fs::remove_file(&target).unwrap();
    std::os::unix::fs::symlink(&target, &target).unwrap();
    let err = refused(
        &args(&["evaluate", "--model", m, "--data", &odd_data]),
        &["train-labels-idx1-ubyte"],
    );
    assert!(err.contains("symlink") || err.contains("symbolic link"), "{err}");
    // A directory where a store belongs, a file where a directory belongs.
    let dir = path_str(t.dir.path());
    let sp = spec(t.dir.path(), "seven.toml", "seven", &t.data, 2, "");
    for a in [
        args(&["sweep", "run", &sp, "--store", &dir]),
        args(&["sweep", "export", &dir, "--csv", &format!("{o}.csv")]),
        args(&["sweep", "status", &sp, &dir]),
        args(&["report", &dir, "--out", &format!("{o}-report")]),
    ] {
        let err = refused(&a, &[&dir]);
        assert!(err.contains("is a directory"), "{err}");
    }
    let file = path_str(&t.model);
    let store = path_str(&t.dir.path().join("never.sqlite"));
    refused(
        &args(&["sweep", "run", &sp, "--store", &store, "--keep-models", &file]),
        &["--keep-models"],
    );
    assert!(!Path::new(&store).exists(), "a refused run must not create its store");
    // A mistyped Slurm directory is an error; a store not written yet is listed as such.
    refused(
        &args(&["sweep", "status", &sp, "--dir", "/nonexistent/slurm-dir"]),
        &["--dir", "/nonexistent/slurm-dir"],
    );
    let out = run(&args(&["sweep", "status", &sp, "/nonexistent/typo.sqlite"]));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["stores_not_found"][0], "/nonexistent/typo.sqlite", "{status}");
    // A missing model: one line, the OS error once.
    let missing = t.dir.path().join("missing.safetensors");
    let err = refused(
        &args(&["evaluate", "--model", missing.to_str().unwrap(), "--data", &data]),
        &["missing.safetensors"],
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.to_lowercase().matches("no such file").count(), 1, "{err}");
}
