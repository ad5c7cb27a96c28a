//! `occam measure …` end to end on a network trained on a real-format fixture dataset.

mod common;

use common::{occam, ok_json};

use std::path::{Path, PathBuf};

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    data: String,
}

impl Fixture {
    fn new(activation: &str) -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        common::write_mnist_like(&dir.join("data"), 300, 60, 6, false);
        let data = format!("fashion-mnist:{}", dir.join("data").display());
        let out = occam(&[
            "train",
            "--data",
            &data,
            "--width",
            "24",
            "--depth",
            "3",
            "--activation",
            activation,
            "--steps",
            "150",
            "--batch",
            "32",
            "--save-init",
            "--quiet",
            "--out",
            dir.join("run").to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        Fixture { _tmp: tmp, dir, data }
    }
    fn model(&self) -> String {
        self.dir.join("run/model.safetensors").display().to_string()
    }
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn csv(path: &str) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn jacobian_summary_and_per_point_csv_agree() {
    let f = Fixture::new("relu");
    let j = ok_json(&[
        "measure",
        "jacobian",
        "--model",
        &f.model(),
        "--data",
        &f.data,
        "--limit",
        "25",
        "--per-point",
        &f.path("j.csv"),
        "--json",
    ]);
    assert_eq!(j["points"], 25);
    let rows = csv(&f.path("j.csv"));
    assert_eq!(
        rows[0],
        [
            "index",
            "label",
            "predicted",
            "loss",
            "jacobian_norm",
            "logit_jacobian_norm",
            "target_row_norm"
        ]
    );
    assert_eq!(rows.len(), 26);
    let mean_j: f64 = rows[1..].iter().map(|r| r[4].parse::<f64>().unwrap()).sum::<f64>() / 25.0;
    let mean_g: f64 = rows[1..].iter().map(|r| r[5].parse::<f64>().unwrap()).sum::<f64>() / 25.0;
    assert!((mean_j - j["mean_jacobian_norm"].as_f64().unwrap()).abs() < 1e-9);
    assert!((mean_g - j["mean_logit_jacobian_norm"].as_f64().unwrap()).abs() < 1e-9);
    for r in &rows[1..] {
        let (jn, gn, yn): (f64, f64, f64) = (r[4].parse().unwrap(), r[5].parse().unwrap(), r[6].parse().unwrap());
        assert!(
            yn <= jn + 1e-12 && jn <= 0.5 * gn + 1e-12,
            "‖J_y‖ ≤ ‖J‖ ≤ ‖G‖/2 violated: {r:?}"
        );
    }
}

#[test]
fn transitions_for_every_trajectory_kind_with_exact_at_least_sampled() {
    let f = Fixture::new("relu6");
    for kind in [
        "translate",
        "random-ellipse",
        "same-class-ellipse",
        "different-class-ellipse",
    ] {
        let base = [
            "measure",
            "transitions",
            "--model",
            &f.model(),
            "--data",
            &f.data,
            "--trajectory",
            kind,
            "--limit",
            "4",
            "--json",
        ];
        let exact = ok_json(&[&base[..], &["--per-point", &f.path("t.csv")]].concat());
        let sampled = ok_json(&[&base[..], &["--method", "sampled", "--points", "4096"]].concat());
        assert_eq!(exact["points"], 4);
        assert_eq!(exact["method"], "exact");
        assert_eq!(sampled["method"], "sampled");
        let (e, s) = (
            exact["mean_transitions"].as_f64().unwrap(),
            sampled["mean_transitions"].as_f64().unwrap(),
        );
        assert!(e > 0.0 && s <= e, "{kind}: exact {e}, sampled {s}");
        let rows = csv(&f.path("t.csv"));
        assert_eq!(rows[0], ["index", "transitions", "layer_1", "layer_2"]);
        assert_eq!(rows.len(), 5);
        for r in &rows[1..] {
            let total: u64 = r[1].parse().unwrap();
            assert_eq!(total, r[2].parse::<u64>().unwrap() + r[3].parse::<u64>().unwrap());
        }
    }
}

#[test]
fn tanh_networks_default_to_sampling_and_refuse_exact() {
    let f = Fixture::new("tanh");
    let s = ok_json(&[
        "measure",
        "transitions",
        "--model",
        &f.model(),
        "--data",
        &f.data,
        "--trajectory",
        "translate",
        "--limit",
        "2",
        "--points",
        "2048",
        "--json",
    ]);
    assert_eq!(s["method"], "sampled");
    assert_eq!(s["samples_per_trajectory"], 2048);
    let out = occam(&[
        "measure",
        "transitions",
        "--model",
        &f.model(),
        "--data",
        &f.data,
        "--trajectory",
        "translate",
        "--method",
        "exact",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a piecewise-linear activation"));
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5000,
        "{} is not a real PNG",
        path.display()
    );
}

#[test]
fn profile_and_regions_write_figures() {
    let f = Fixture::new("relu");
    let p = ok_json(&[
        "measure",
        "profile",
        "--model",
        &f.model(),
        "--data",
        &f.data,
        "--limit",
        "3",
        "--bins",
        "32",
        "--out",
        &f.path("prof"),
        "--json",
    ]);
    assert_eq!(p["profiles"].as_array().unwrap().len(), 3);
    assert_png(&f.dir.join("prof/profile.png"));
    assert!(
        std::fs::read_to_string(f.dir.join("prof/profile.svg"))
            .unwrap()
            .contains("<svg")
    );
    let rows = csv(&f.path("prof/profile.csv"));
    assert_eq!(rows.len(), 1 + 3 * 32);
    let r = ok_json(&[
        "measure",
        "regions",
        "--model",
        &f.model(),
        "--initial",
        &f.path("run/model_init.safetensors"),
        "--data",
        &f.data,
        "--grid",
        "64",
        "--out",
        &f.path("reg"),
        "--json",
    ]);
    assert_eq!(r["maps"].as_array().unwrap().len(), 2);
    assert!(r["maps"][0]["regions"].as_u64().unwrap() > 1);
    assert_png(&f.dir.join("reg/regions.png"));
}

#[test]
fn mismatched_model_and_data_are_reported() {
    let f = Fixture::new("relu");
    let tmp = tempfile::tempdir().unwrap();
    common::write_mnist_like(tmp.path(), 20, 5, 5, false);
    let other = format!("mnist:{}", tmp.path().display());
    let out = occam(&["measure", "jacobian", "--model", &f.model(), "--data", &other]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("model.safetensors") && err.contains("shape"),
        "{err}"
    );
    let out = occam(&[
        "measure",
        "regions",
        "--model",
        &f.model(),
        "--data",
        &f.data,
        "--layer",
        "7",
        "--out",
        &f.path("x"),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--layer 7"));
}

/// `--threads` is resolved once by the command and handed to the library: training
/// records the count it was given, and measurements do not depend on it (products split
/// their output, never a sum).
#[test]
fn the_thread_count_is_passed_down_and_does_not_change_measurements() {
    let f = Fixture::new("relu");
    let measured = |threads: &str| {
        ok_json(&[
            "--threads",
            threads,
            "measure",
            "jacobian",
            "--model",
            &f.model(),
            "--data",
            &f.data,
            "--json",
            "--quiet",
        ])
    };
    let (one, two) = (measured("1"), measured("2"));
    assert_eq!(one["mean_jacobian_norm"], two["mean_jacobian_norm"]);
    assert_eq!(one["mean_loss"], two["mean_loss"]);
    let out = f.path("threads3");
    let trained = occam(&[
        "--threads",
        "3",
        "train",
        "--data",
        &f.data,
        "--width",
        "8",
        "--steps",
        "5",
        "--quiet",
        "--out",
        &out,
    ]);
    assert!(trained.status.success(), "{}", String::from_utf8_lossy(&trained.stderr));
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{out}/metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["threads"], 3, "{metrics}");
}
