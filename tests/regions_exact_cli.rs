//! `occam measure regions` (grid and `--exact`) through the real binary: outputs and
//! their counts, refusals of bad and of silently ignored option
//! combinations, overflow reported as the grid map reports it, and outputs that appear
//! all together or not at all. Exact maps in sweeps and reports: tests/regions_exact_sweep.rs.

mod common;

use common::{occam, ok_json, refused};
use occam::net::{Activation, Mlp};

/// A network on 6×6 fixture images saved as `model.safetensors`, and the fixture data.
struct CliFixture {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    data: String,
}

impl CliFixture {
    fn new(act: Activation) -> CliFixture {
        CliFixture::with_net(fixture_net(act))
    }
    fn with_net(net: Mlp) -> CliFixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        common::write_mnist_like(&dir.join("data"), 60, 10, 6, false);
        net.save(&dir.join("model.safetensors")).unwrap();
        let data = format!("fashion-mnist:{}", dir.join("data").display());
        CliFixture { _tmp: tmp, dir, data }
    }
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
    fn regions(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "measure",
            "regions",
            "--model",
            &self.path("model.safetensors"),
            "--data",
        ]
        .map(String::from)
        .to_vec();
        args.push(self.data.clone());
        args.extend(["--points", "0,1,2", "--quiet", "--json"].map(String::from));
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }
    /// [`CliFixture::regions`] without `--points`: the triplet is picked, or the plane random.
    fn regions_picked(&self, extra: &[&str]) -> Vec<String> {
        let mut args = self.regions(extra);
        let at = args.iter().position(|a| a == "--points").unwrap();
        args.drain(at..at + 2);
        args
    }
}

/// The fixture's network: 36 inputs, two hidden layers of 10.
fn fixture_net(act: Activation) -> Mlp {
    Mlp::random([6, 6, 1], 10, 3, 10, act, 1.0, 7).with_zero_biases()
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn exact_regions_write_svg_png_and_json_with_counts_above_the_raster() {
    let f = CliFixture::new(Activation::Relu);
    let out = f.path("exact");
    let r = ok_json(&strs(&f.regions(&["--exact", "--out", &out])));
    let m = &r["maps"][0];
    let regions = m["regions"].as_u64().unwrap();
    assert!(regions > 3, "{r}");
    assert_eq!(
        m["regions_per_layer"].as_array().unwrap().last().unwrap().as_u64(),
        Some(regions)
    );
    assert!(m["boundary_length_per_area"].as_f64().unwrap() > 0.0);
    assert!(m["boundary_length_per_area_near"].is_number(), "{r}");
    let png = std::fs::read(f.dir.join("exact/regions.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    let svg = std::fs::read_to_string(f.dir.join("exact/regions.svg")).unwrap();
    assert!(
        svg.contains("<svg") && svg.matches("<polygon").count() as u64 >= regions,
        "one polygon per region"
    );
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(f.dir.join("exact/regions.json")).unwrap()).unwrap();
    assert_eq!(written["maps"], r["maps"]);
    // The raster's distinct codes of the same layer, on the same plane, are no more.
    let raster = ok_json(&strs(&f.regions(&["--grid", "300", "--out", &f.path("raster")])));
    let codes = raster["maps"][0]["regions"].as_u64().unwrap();
    assert!(codes <= m["layer_codes"].as_u64().unwrap(), "{codes} vs {m}");
    // A random plane has no training points, so nothing is "near" them.
    let args = f.regions_picked(&["--exact", "--plane", "random", "--out", &out]);
    let random = ok_json(&strs(&args)).to_string();
    assert!(random.contains("\"boundary_length_per_area_near\":null"), "{random}");
}

#[test]
fn exact_regions_refuse_tanh_and_bad_options_by_name() {
    let f = CliFixture::new(Activation::Tanh);
    let out = f.path("x");
    refused(
        &occam(&strs(&f.regions(&["--exact", "--out", &out]))),
        &["tanh", "piecewise-linear", "relu, relu6, hard_tanh or hard_sigmoid"],
    );
    let f = CliFixture::new(Activation::HardTanh);
    let bad: [(&[&str], &[&str]); 5] = [
        (&["--exact", "--max-regions", "0"], &["--max-regions", "0"]),
        (
            &["--exact", "--max-regions", "3"],
            &["more than 3 regions", "--max-regions"],
        ),
        (
            &["--exact", "--near-radius", "0.9"],
            &["--near-radius = 0.9", "0.001 to 0.6"],
        ),
        (&["--plane", "random"], &["--plane random", "--exact"]),
        (&["--near-radius", "0.2"], &["--near-radius 0.2", "--exact"]),
    ];
    for (extra, wanted) in bad {
        let mut args = extra.to_vec();
        args.extend(["--out", &out]);
        refused(&occam(&strs(&f.regions(&args))), wanted);
    }
}

/// The fixture's network with every weight times 1e20: hidden layer 1's pre-activations
/// (about 1e20) fit float32, hidden layer 2's (about 1e40) do not.
fn overflowing_net() -> Mlp {
    let net = fixture_net(Activation::Relu);
    let weights = net
        .weights()
        .iter()
        .map(|w| w.iter().map(|x| x * 1e20).collect())
        .collect();
    Mlp::from_parts(Activation::Relu, [6, 6, 1], net.dims().to_vec(), weights, None).unwrap()
}

#[test]
fn a_float32_overflow_is_refused_by_the_exact_map_in_the_grid_maps_words() {
    let f = CliFixture::with_net(overflowing_net());
    let out = f.path("o");
    let said = "a pre-activation of hidden layer 2 is";
    let grid = refused(&occam(&strs(&f.regions(&["--grid", "50", "--out", &out]))), &[said]);
    let exact = refused(&occam(&strs(&f.regions(&["--exact", "--out", &out]))), &[said]);
    for err in [&grid, &exact] {
        assert!(err.contains("inf") && err.contains("model.safetensors"), "{err}");
    }
    assert!(exact.contains("exact region map"), "{exact}");
    // Layer 1 alone fits float32: both maps draw it, whatever layer 2 does.
    let grid = ok_json(&strs(&f.regions(&["--grid", "50", "--layer", "1", "--out", &out])));
    assert!(grid["maps"][0]["regions"].as_u64().unwrap() > 1, "{grid}");
    let exact = ok_json(&strs(&f.regions(&["--exact", "--layer", "1", "--out", &out])));
    assert!(exact["maps"][0]["regions"].as_u64().unwrap() > 1, "{exact}");
    // The title names the one layer as such.
    let svg = std::fs::read_to_string(f.dir.join("o/regions.svg")).unwrap();
    assert!(svg.contains("network: hidden layer 1, "), "the title");
    assert!(!svg.contains("1–1"));
}

#[test]
fn options_a_map_would_ignore_are_refused_naming_both() {
    let f = CliFixture::new(Activation::Relu);
    let out = f.path("x");
    let with_points: [(&[&str], &[&str]); 7] = [
        (&["--exact", "--grid", "300"], &["--grid 300", "--exact"]),
        (&["--max-regions", "10"], &["--max-regions 10", "--exact"]),
        (&["--limit", "5"], &["--limit 5", "--points"]),
        (&["--seed", "3"], &["--seed 3", "--points"]),
        (
            &["--triplet", "same-class-ellipse"],
            &["--triplet same-class-ellipse", "--points"],
        ),
        (&["--split", "train"], &["--split train", "training examples"]),
        (
            &["--exact", "--near-radius", "1e-4"],
            &["--near-radius = 0.0001", "0.001 to 0.6"],
        ),
    ];
    let picked: [(&[&str], &[&str]); 3] = [
        (
            &["--exact", "--plane", "random", "--triplet", "same-class-ellipse"],
            &["--triplet same-class-ellipse", "--plane random"],
        ),
        (
            &["--exact", "--plane", "random", "--near-radius", "0.2"],
            &["--near-radius 0.2", "--plane random"],
        ),
        (&["--limit", "5"], &["--limit 5"]),
    ];
    let cases = with_points
        .iter()
        .map(|c| (f.regions(c.0), c.1))
        .chain(picked.iter().map(|c| (f.regions_picked(c.0), c.1)));
    for (mut args, wanted) in cases {
        args.extend(["--out".to_string(), out.clone()]);
        refused(&occam(&strs(&args)), wanted);
    }
    assert!(!f.dir.join("x/regions.png").exists(), "nothing drawn");
    // The lower bound itself is a radius with a density.
    let r = ok_json(&strs(&f.regions(&["--exact", "--near-radius", "0.001", "--out", &out])));
    assert!(r["maps"][0]["boundary_length_per_area_near"].is_number(), "{r}");
}

#[test]
fn the_seed_that_picked_the_plane_is_recorded() {
    let f = CliFixture::new(Activation::Relu);
    let out = f.path("s");
    let written = || -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(f.dir.join("s/regions.json")).unwrap()).unwrap()
    };
    let picked = ok_json(&strs(&f.regions_picked(&["--exact", "--seed", "4", "--out", &out])));
    assert_eq!(picked["seed"], 4, "{picked}");
    assert_eq!(written()["seed"], 4);
    let picked_by_default = ok_json(&strs(&f.regions_picked(&["--exact", "--out", &out])));
    assert_eq!(picked_by_default["seed"], 1, "{picked_by_default}");
    let given = ok_json(&strs(&f.regions(&["--exact", "--out", &out])));
    assert!(given["seed"].is_null(), "--points involve no seed: {given}");
    assert!(written()["seed"].is_null());
    let random =
        ok_json(&strs(&f.regions_picked(&[
            "--exact", "--plane", "random", "--seed", "5", "--out", &out,
        ])));
    assert_eq!(random["seed"], 5);
    let grid = ok_json(&strs(
        &f.regions_picked(&["--grid", "20", "--seed", "4", "--out", &out]),
    ));
    assert_eq!(grid["seed"], 4, "{grid}");
}

#[test]
fn regions_help_says_what_it_takes() {
    let out = common::ok(&["measure", "regions", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("Give --data or --inputs, not both"), "{help}");
    assert!(!help.contains("region triplets"));
    // --triplet lists the kinds it accepts, and only those.
    let triplet = &help[help.find("--triplet <TRIPLET>").unwrap()..help.find("--points <POINTS>").unwrap()];
    assert!(triplet.contains("same-class-ellipse") && triplet.contains("different-class-ellipse"));
    assert!(
        !triplet.contains("translate") && !triplet.contains("random-ellipse"),
        "{triplet}"
    );
}

#[test]
fn a_run_that_fails_writes_none_of_its_outputs() {
    let f = CliFixture::new(Activation::Relu);
    for (blocked, extra) in [("regions.json", &["--exact"][..]), ("regions.svg", &[][..])] {
        let dir = f.dir.join(format!("out-{blocked}"));
        std::fs::create_dir_all(dir.join(blocked)).unwrap();
        let mut args = f.regions(extra);
        args.extend(["--out".to_string(), dir.display().to_string()]);
        refused(&occam(&strs(&args)), &[blocked, "is a directory", "--out"]);
        let left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, vec![blocked.to_string()], "only what was there before");
    }
}
