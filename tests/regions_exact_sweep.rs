//! Exact region maps in sweeps and reports, through the real binary: what a trial stores
//! (counts, boundary densities, the map rendered as a PNG) equals `occam measure regions
//! --exact` on the same network and plane; the report draws the stored images and says
//! "exact" with the counts, and draws the grid maps, saying why, for a map over the cap
//! or a tanh network; stores written before the images were kept (polygons) still report.

mod common;

use common::{occam, ok, ok_json, refused};
use occam::plot::exact_regions::decode_png;
use occam::sweep::artifact::{Artifact, RegionsArtifact};
use occam::sweep::{Store, TrialRecord};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A one-network region-map study: its store, report directory, report.json and data.
struct Study {
    store: PathBuf,
    report: PathBuf,
    json: Value,
    data: String,
}

/// Runs a (8, 3) network with `activation` on fixture data (`regions_extra` added to its
/// `[measure.regions]`), keeping the trained model, and writes the report.
fn study(dir: &Path, activation: &str, regions_extra: &str) -> Study {
    common::write_mnist_like(&dir.join("data"), 200, 40, 6, false);
    let data = format!("mnist:{}", dir.join("data").display());
    let spec = dir.join("maps.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"maps\"\n[axes]\ndata = [\"{data}\"]\nwidth = [8]\ndepth = [3]\nactivation = [\"{activation}\"]\n\
             batch = [32]\nsteps = [60]\nseed = [1]\n[measure]\njacobian_points = 20\n[measure.regions]\ngrid = 60\n\
             {regions_extra}"
        ),
    )
    .unwrap();
    let (store, report) = (dir.join("s.sqlite"), dir.join("report"));
    let text = |p: &Path| p.display().to_string();
    ok(&[
        "sweep",
        "run",
        &text(&spec),
        "--store",
        &text(&store),
        "--parallel",
        "1",
        "--quiet",
        "--keep-models",
        &text(&dir.join("models")),
    ]);
    let json = write_report(&store, &report);
    Study {
        store,
        report,
        json,
        data,
    }
}

fn write_report(store: &Path, report: &Path) -> Value {
    ok(&[
        "report",
        &store.display().to_string(),
        "--out",
        &report.display().to_string(),
    ]);
    serde_json::from_slice(&std::fs::read(report.join("report.json")).unwrap()).unwrap()
}

fn trial(store: &Path) -> TrialRecord {
    let mut trials = Store::open_existing(store).unwrap().trials().unwrap();
    assert_eq!(trials.len(), 1);
    trials.remove(0)
}

fn regions_of(t: &TrialRecord) -> RegionsArtifact {
    t.artifacts
        .iter()
        .find_map(|a| match a {
            Artifact::Regions(r) => Some(r.clone()),
            _ => None,
        })
        .expect("a regions artifact")
}

/// The report's Fig 3 entry: (caption, SVG text).
fn figure(s: &Study) -> (String, String) {
    let fig = &s.json["figures"]["regions"][0];
    let svg = std::fs::read_to_string(s.report.join(fig["svg"].as_str().unwrap())).unwrap();
    (fig["caption"].as_str().unwrap().to_string(), svg)
}

/// The PNGs embedded in an SVG (`data:image/png;base64,…`).
fn embedded_pngs(svg: &str) -> Vec<Vec<u8>> {
    use base64::Engine;
    svg.split("data:image/png;base64,")
        .skip(1)
        .map(|rest| {
            let end = rest.find('"').unwrap();
            base64::engine::general_purpose::STANDARD.decode(&rest[..end]).unwrap()
        })
        .collect()
}

fn distinct_colours(rgb: &[u8]) -> usize {
    rgb.chunks_exact(3)
        .map(|p| (p[0], p[1], p[2]))
        .collect::<HashSet<_>>()
        .len()
}

#[test]
fn stored_maps_equal_the_command_on_the_same_network_and_plane_and_the_report_embeds_them() {
    let tmp = tempfile::tempdir().unwrap();
    let s = study(tmp.path(), "relu6", "");
    let t = trial(&s.store);
    let r = regions_of(&t);
    let exact = r.exact.as_ref().expect("exact maps of a relu6 network");
    assert!(r.exact_skipped.is_none());
    // The same network and plane through the command.
    let [a, b, c] = r.training_points.map(|i| i.to_string());
    let model = tmp.path().join("models").join(format!("{}.safetensors", t.id));
    let out = tmp.path().join("cmd").display().to_string();
    let cmd = ok_json(&[
        "measure",
        "regions",
        "--model",
        &model.display().to_string(),
        "--data",
        &s.data,
        "--points",
        &a,
        &b,
        &c,
        "--exact",
        "--out",
        &out,
        "--quiet",
        "--json",
    ]);
    let m = &cmd["maps"][0];
    let after = &exact.after;
    assert_eq!(cmd["layer"].as_u64(), Some(r.layer as u64));
    assert_eq!(
        serde_json::to_value(&after.regions_per_layer).unwrap(),
        m["regions_per_layer"],
        "{m}"
    );
    assert_eq!(after.layer_codes as u64, m["layer_codes"].as_u64().unwrap());
    let density = after.density.expect("a stored density");
    assert_eq!(density.radius, 0.1);
    assert_eq!(density.near, m["boundary_length_per_area_near"].as_f64().unwrap());
    assert_eq!(density.overall, m["boundary_length_per_area"].as_f64().unwrap());
    assert!(
        after.regions() > 1 && after.polygons.is_empty(),
        "counts and an image, not polygons"
    );

    // The stored images: 1000 × 1000 PNGs with the regions' colours, the boundaries and
    // the training points.
    for map in [&exact.before, &exact.after] {
        let image = map.image.as_ref().expect("a stored image");
        assert_eq!(image.side, 1000);
        let decoded = decode_png(&image.png().unwrap()).unwrap();
        assert_eq!((decoded.width, decoded.height), (1000, 1000));
        assert!(distinct_colours(&decoded.rgb) >= 5, "regions, boundaries and points");
        let dark = decoded.rgb.chunks_exact(3).filter(|p| p == &[45, 45, 45]).count();
        assert!(dark > 1000 && dark < 500_000, "boundary pixels: {dark}");
    }

    // The report: an exact figure with the counts, the images embedded in the SVG, the
    // densities in the table, and report.json without the image bytes.
    let (caption, svg) = figure(&s);
    assert!(caption.starts_with("Exact linear regions"), "{caption}");
    let counts = format!(
        "Exact: {} regions before training and {} after",
        exact.before.regions(),
        exact.after.regions()
    );
    assert!(caption.contains(&counts), "{caption}");
    let embedded = embedded_pngs(&svg);
    assert_eq!(embedded.len(), 2, "one image per panel");
    for png in embedded {
        let decoded = decode_png(&png).unwrap();
        assert!(decoded.width > 900 && distinct_colours(&decoded.rgb) >= 5);
    }
    let table = &s.json["region_density"][0]["exact"];
    assert_eq!(table["after_overall"].as_f64(), Some(density.overall));
    assert_eq!(table["after_regions"].as_u64(), Some(after.regions() as u64));
    let stored = &s.json["regions"][0][1]["exact"]["after"];
    assert_eq!(stored["image"], serde_json::json!({"side": 1000}), "{stored}");
    let html = std::fs::read_to_string(s.report.join("index.html")).unwrap();
    assert!(html.contains("boundary length per unit area") && html.contains(&counts));
}

#[test]
fn the_report_draws_the_grid_and_says_why_over_the_cap_and_for_tanh() {
    let tmp = tempfile::tempdir().unwrap();
    let s = study(&tmp.path().join("cap"), "relu6", "max_regions = 3\n");
    let r = regions_of(&trial(&s.store));
    assert!(r.exact.is_none());
    let skipped = serde_json::to_value(r.exact_skipped.as_ref().unwrap()).unwrap();
    assert_eq!(skipped["reason"], "over_cap", "{skipped}");
    assert_eq!(
        (skipped["map"].as_str(), skipped["cap"].as_u64()),
        (Some("before"), Some(3))
    );
    assert!(skipped["reached"].as_u64().unwrap() > 3 && skipped["layer"].as_u64() == Some(1));
    let (caption, svg) = figure(&s);
    assert!(caption.starts_with("Linear regions of hidden layer 2"), "{caption}");
    let why = format!(
        "Drawn on the grid, not exactly: the map before training has more than 3 regions, the cap (the walk \
         stopped at hidden layer 1 with {} regions)",
        skipped["reached"]
    );
    assert!(caption.contains(&why), "{caption}");
    assert!(
        embedded_pngs(&svg).is_empty() && !svg.contains("<image"),
        "no exact image"
    );
    assert!(s.json["region_density"][0].get("exact").is_none());

    let s = study(&tmp.path().join("tanh"), "tanh", "");
    let (caption, svg) = figure(&s);
    assert!(
        caption.contains("Drawn on the grid, not exactly: the activation, tanh, is not piecewise linear"),
        "{caption}"
    );
    assert!(!svg.contains("<image"));
}

#[test]
fn a_region_cap_out_of_range_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("bad.toml");
    std::fs::write(
        &spec,
        "name = \"bad\"\n[axes]\nwidth = [8]\n[measure.regions]\nmax_regions = 0\n",
    )
    .unwrap();
    let store = tmp.path().join("s.sqlite").display().to_string();
    refused(
        &occam(&[
            "sweep",
            "run",
            &spec.display().to_string(),
            "--store",
            &store,
            "--quiet",
        ]),
        &["measure.regions.max_regions = 0", "1 to 50000000"],
    );
}

/// A store written before the images were kept: the exact maps as polygons only.
#[test]
fn an_old_store_with_polygons_still_reads_and_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let s = study(&tmp.path().join("new"), "relu", "");
    let mut t = trial(&s.store);
    // Two halves of the square, split at u = 0, as the old artifact stored them.
    let old_map = r#"{"regions_per_layer":[2,2],"layer_codes":2,"polygons":[[[-1,-1],[0,-1],[0,1],[-1,1]],[[0,-1],[1,-1],[1,1],[0,1]]]}"#;
    for a in &mut t.artifacts {
        if let Artifact::Regions(r) = a {
            let mut body = serde_json::to_value(&*r).unwrap();
            body["exact"] = serde_json::from_str(&format!(r#"{{"before":{old_map},"after":{old_map}}}"#)).unwrap();
            body.as_object_mut().unwrap().remove("exact_skipped");
            *a = Artifact::from_stored("regions", &body.to_string()).expect("an old regions artifact reads");
        }
    }
    let old = tmp.path().join("old.sqlite");
    let mut store = Store::open(&old).unwrap();
    for (name, spec) in Store::open_existing(&s.store).unwrap().sweeps().unwrap() {
        store.record_sweep(&name, &spec).unwrap();
    }
    store.insert(&t).unwrap();
    drop(store);
    let report = tmp.path().join("old-report");
    let json = write_report(&old, &report);
    let fig = &json["figures"]["regions"][0];
    assert!(
        fig["caption"]
            .as_str()
            .unwrap()
            .contains("Exact: 2 regions before training and 2 after")
    );
    let svg = std::fs::read_to_string(report.join(fig["svg"].as_str().unwrap())).unwrap();
    assert!(
        svg.matches("<polygon").count() >= 4 && !svg.contains("<image"),
        "polygons drawn"
    );
    // The boundary u = 0 has length 2 in the square of area 4.
    assert_eq!(json["region_density"][0]["exact"]["after_overall"].as_f64(), Some(0.5));
}
