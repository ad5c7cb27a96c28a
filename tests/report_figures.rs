//! Reports a researcher can publish from: figures captioned with the study and network
//! configuration, readable ticks, region maps coloured per region, an honest header, and
//! a user's own small sweep getting the figures and statistics that apply to it.

mod common;

use common::{occam, ok};
use occam::plot::regions::{colour_regions, label_regions};
use occam::plot::ticks::{Tick, TickAxis, choose_ticks, label_width_px};
use occam::report::{Finding, Verdict, VerdictCounts};
use serde_json::Value;
use std::path::Path;

/// Writes a tiny MNIST-like dataset and a sweep spec over `widths` (and `depths`), runs it
/// into a store and writes the report. Returns (report.json, index.html, report dir).
fn report_on_sweep(dir: &Path, widths: &str, depths: &str, extra: &str) -> (Value, String, std::path::PathBuf) {
    common::write_mnist_like(&dir.join("data"), 300, 60, 6, true);
    let spec = dir.join("mine.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"mine\"\n[axes]\ndata = [\"mnist:{}\"]\nwidth = [{widths}]\ndepth = [{depths}]\nbatch = [32]\n\
             steps = [150]\nseed = [1]\n[fixed]\ntrain_size = 250\n\
             [measure]\njacobian_points = 40\n{extra}\n[measure.transitions]\ntrajectory = \"translate\"\ncount = 2\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let store = dir.join("store.sqlite");
    let out = dir.join("report");
    let (spec, store_s, out_s) = (
        spec.display().to_string(),
        store.display().to_string(),
        out.display().to_string(),
    );
    ok(&["sweep", "run", &spec, "--store", &store_s, "--parallel", "1", "--quiet"]);
    let run = occam(&["report", &store_s, "--out", &out_s]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "report failed: {stderr}");
    assert!(run.status.code().is_some(), "killed by a signal");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "{stderr}"
    );
    let json: Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    (json, html, out)
}

#[test]
fn a_users_small_sweep_gets_captioned_figures_and_correlations() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "per_point = true\n[measure.regions]\ngrid = 40";
    let (json, html, out) = report_on_sweep(tmp.path(), "8, 16", "2, 3", extra);
    assert!(!html.contains("no sweep of unpaired networks"));
    // Every figure's caption names the study and the network configuration.
    let sections = json["figures"].as_object().unwrap();
    for section in ["correlations", "per_point", "regions"] {
        assert!(sections.contains_key(section), "no {section} figure: {sections:?}");
    }
    for fig in sections.values().flat_map(|v| v.as_array().unwrap()) {
        let caption = fig["caption"].as_str().unwrap();
        assert!(
            caption.contains("study mine") && caption.contains("relu") && caption.contains("150 steps"),
            "{caption}"
        );
        assert!(!fig["alt"].as_str().unwrap().contains(".png"));
        assert!(html.contains(&esc(caption)), "caption not on the page: {caption}");
    }
    // The region map names its training points and gives the plane units.
    let regions = json["figures"]["regions"][0]["caption"].as_str().unwrap();
    assert!(
        regions.contains("A = training example #") && regions.contains("class "),
        "{regions}"
    );
    assert!(
        regions.contains("radius 0.8") && regions.contains("within 0.1"),
        "{regions}"
    );
    let figures = json["figures"]["correlations"]
        .as_array()
        .expect("a correlation figure");
    assert_eq!(figures.len(), 1);
    let fig = &figures[0];
    let caption = fig["caption"].as_str().unwrap();
    for part in [
        "study mine",
        "relu",
        "width 8 / 16",
        "depth 2 / 3",
        "momentum",
        "150 steps",
        "mnist",
        "250 training examples",
    ] {
        assert!(caption.contains(part), "caption lacks {part:?}: {caption}");
        assert!(html.contains(part), "page lacks {part:?}");
    }
    let alt = fig["alt"].as_str().unwrap();
    assert!(
        !alt.contains(".png") && alt.contains("4 networks"),
        "alt text should describe the figure: {alt}"
    );
    assert!(html.contains(&format!("alt=\"{alt}\"")));
    assert!(out.join(fig["png"].as_str().unwrap()).is_file());
    // Four networks: rank correlations are computed and shown, and so is each network.
    let corr = &json["correlations"][0];
    assert_eq!(corr["networks"], 4);
    assert!(
        corr["correlations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["metric"] == "jacobian_norm")
    );
    assert_eq!(json["scale"], "custom");
    assert!(html.contains("Scale: custom"));
    // The finding needs at least five networks: "not valid", with the reason.
    let f3 = &json["findings"][2];
    assert_eq!(f3["verdict"], "not_valid", "{f3}");
    assert!(f3["evidence"].as_str().unwrap().contains("4 usable networks"));
    let verdicts: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["verdict"].as_str().unwrap())
        .collect();
    let reproduced = verdicts.iter().filter(|v| **v == "reproduced").count();
    let header = format!("{reproduced} of 4 findings reproduced");
    assert!(html.contains(&header), "header must count verdicts: {verdicts:?}");
    assert!(html.contains("1 not valid"), "{verdicts:?}");
}

#[test]
fn a_two_trial_sweep_gets_a_table_of_values_and_says_why_there_is_no_correlation() {
    let tmp = tempfile::tempdir().unwrap();
    let (json, html, _) = report_on_sweep(tmp.path(), "8, 16", "2", "");
    assert!(!html.contains("no sweep of unpaired networks"));
    let corr = &json["correlations"][0];
    assert_eq!(corr["networks"], 2);
    let missing = corr["missing"].as_array().unwrap();
    assert!(
        missing
            .iter()
            .any(|m| m[0] == "jacobian_norm" && m[1].as_str().unwrap().contains("at least 3")),
        "{missing:?}"
    );
    assert_eq!(corr["transitions_vs_params"]["status"], "too_few");
    // Both networks listed with the setting that differs between them.
    assert!(html.contains("<th>width</th>"), "no per-network table");
    assert!(html.contains("a rank correlation needs at least 3"));
    assert!(!html.contains(">—<"), "a bare dash says nothing about why");
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Pixel extents of the labels, computed here from the label widths: no two may touch.
fn assert_readable(axis: &TickAxis, ticks: &[Tick]) {
    assert!(ticks.len() >= 3, "fewer than 3 labelled ticks on {axis:?}: {ticks:?}");
    let t = |v: f64| if axis.log { v.log10() } else { v };
    let pos = |v: f64| (t(v) - t(axis.lo)) / (t(axis.hi) - t(axis.lo)) * axis.length_px;
    for w in ticks.windows(2) {
        let gap = pos(w[1].value) - pos(w[0].value);
        let need = if axis.horizontal {
            (label_width_px(&w[0].label, axis.font_px) + label_width_px(&w[1].label, axis.font_px)) / 2.0
        } else {
            axis.font_px
        };
        assert!(gap > need, "labels {:?} and {:?} overlap on {axis:?}", w[0], w[1]);
    }
    for tick in ticks {
        assert!(
            tick.value >= axis.lo && tick.value <= axis.hi,
            "{tick:?} outside {axis:?}"
        );
        assert!(!tick.label.is_empty());
    }
    let distinct: std::collections::HashSet<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(distinct.len(), ticks.len(), "repeated labels: {ticks:?}");
}

#[test]
fn short_log_ranges_and_wide_linear_ranges_get_readable_ticks() {
    for (lo, hi, log) in [
        (1.0, 1.3, true),
        (0.33, 0.43, true),
        (1540.0, 2002.0, true),
        (4000.0, 9000.0, false),
        (4000.0, 10000.0, false),
        (1e-6, 1e2, true),
        (0.17, 0.22, false),
    ] {
        for (length_px, horizontal) in [(380.0, true), (250.0, true), (330.0, false)] {
            let axis = TickAxis {
                lo,
                hi,
                log,
                length_px,
                horizontal,
                font_px: 14.0,
            };
            assert_readable(&axis, &choose_ticks(&axis));
        }
    }
}

#[test]
fn regions_separated_by_a_boundary_get_distinct_labels_and_colours() {
    // 6×6: a boundary column at x = 2 and a boundary row at y = 3 on the right side.
    let side = 6;
    let mut mask = vec![false; side * side];
    for r in 0..side {
        mask[r * side + 2] = true;
    }
    for c in 3..side {
        mask[3 * side + c] = true;
    }
    let (labels, count) = label_regions(&mask, side);
    assert_eq!(count, 3);
    let (left, top_right, bottom_right) = (labels[0], labels[side + 4], labels[5 * side + 4]);
    assert!(left != 0 && top_right != 0 && bottom_right != 0);
    assert_ne!(left, top_right);
    assert_ne!(top_right, bottom_right);
    assert_ne!(left, bottom_right);
    assert_eq!(labels[2], 0, "boundary pixels have no region");
    let colours = colour_regions(&labels, side, count, 8);
    let c = |l: u32| colours[l as usize];
    assert_ne!(c(left), c(top_right));
    assert_ne!(c(top_right), c(bottom_right));
    assert_ne!(c(left), c(bottom_right));
}

#[test]
fn the_header_counts_each_verdict() {
    let finding = |n: usize, verdict: Verdict| Finding {
        number: n,
        claim: String::new(),
        verdict,
        evidence: String::new(),
    };
    let findings = [
        finding(1, Verdict::Reproduced),
        finding(2, Verdict::NotReproduced),
        finding(3, Verdict::Reproduced),
        finding(4, Verdict::NotMeasured),
    ];
    let counts = VerdictCounts::of(&findings);
    assert_eq!(
        (
            counts.reproduced,
            counts.not_reproduced,
            counts.not_measured,
            counts.not_valid
        ),
        (2, 1, 1, 0)
    );
    assert_eq!(
        counts.sentence(),
        "2 of 4 findings reproduced, 1 not reproduced, 1 not measured"
    );
    let none = VerdictCounts::of(&[finding(3, Verdict::NotValid)]);
    assert_eq!(
        none.sentence(),
        "0 of 1 findings reproduced, 1 not valid at this scale (a precondition failed, or too little data to apply the rule)"
    );
}
