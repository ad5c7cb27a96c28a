//! `occam sweep plan`: its counts are the expanded trial list's, for every built-in study;
//! the paper's random sweep keeps every width and depth between 1% and 25% of its trials;
//! granulated designs have a group for every axis; bad specs are refused cleanly.

mod common;
use common::{ok, ok_json, refused};
use occam::sweep::SweepSpec;
use occam::sweep::spec::Axes;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn built_in_studies() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for scale in ["quick", "paper"] {
        for file in std::fs::read_dir(Path::new("studies").join(scale)).unwrap() {
            out.push(file.unwrap().path());
        }
    }
    out.sort();
    assert!(out.len() >= 16, "found only {} studies", out.len());
    out
}

/// Per axis, the trial counts of its values, counted here on the expanded list (sorted,
/// since the plan labels values as the spec writes them).
fn counted_by_axis(spec: &SweepSpec) -> BTreeMap<&'static str, Vec<u64>> {
    let trials = spec.trials();
    let mut out = BTreeMap::new();
    for (axis, name) in Axes::NAMES.iter().enumerate() {
        let mut by_value: BTreeMap<String, u64> = BTreeMap::new();
        for t in &trials {
            *by_value.entry(Axes::value_text(axis, &t.train)).or_default() += 1;
        }
        let mut counts: Vec<u64> = by_value.into_values().collect();
        counts.sort();
        out.insert(*name, counts);
    }
    out
}

fn planned_by_axis(plan: &serde_json::Value) -> BTreeMap<String, Vec<u64>> {
    plan["axes"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(axis, values)| {
            let mut counts: Vec<u64> = values
                .as_object()
                .unwrap()
                .values()
                .map(|v| v.as_u64().unwrap())
                .collect();
            counts.sort();
            (axis.clone(), counts)
        })
        .collect()
}

#[test]
fn the_plan_counts_the_expanded_trials_of_every_built_in_study() {
    for path in built_in_studies() {
        let file = path.to_str().unwrap();
        let spec = SweepSpec::from_toml_file(&path).unwrap();
        let plan = ok_json(&["sweep", "plan", file, "--json"]);
        let trials = spec.trials().len() as u64;
        assert_eq!(plan["trials"].as_u64(), Some(trials), "{file}");
        let counted = counted_by_axis(&spec);
        let planned = planned_by_axis(&plan);
        assert_eq!(planned.len(), Axes::NAMES.len(), "{file}: every axis is listed");
        for (axis, counts) in &counted {
            assert_eq!(planned[*axis], *counts, "{file}: axis {axis}");
            assert_eq!(counts.iter().sum::<u64>(), trials, "{file}: axis {axis}");
        }
        // Numeric axes are labelled by their number: the counts match value by value.
        let width = &plan["axes"]["width"];
        for w in &spec.axes.width {
            let here = spec.trials().iter().filter(|t| t.train.width == *w).count() as u64;
            assert_eq!(width[w.to_string()].as_u64().unwrap_or(0), here, "{file}: width {w}");
        }
        let flops = plan["estimated_flops"].as_f64().unwrap();
        assert!(flops.is_finite() && flops > 0.0, "{file}: {flops}");
    }
}

#[test]
fn the_paper_random_sweep_keeps_every_width_and_depth_between_1_and_25_percent() {
    let plan = ok_json(&["sweep", "plan", "studies/paper/fig5-random-sweep.toml", "--json"]);
    let trials = plan["trials"].as_f64().unwrap();
    for axis in ["width", "depth"] {
        let values = plan["axes"][axis].as_object().unwrap();
        let shares: Vec<(u64, f64)> = values
            .iter()
            .map(|(v, n)| (v.parse().unwrap(), n.as_f64().unwrap() / trials))
            .collect();
        for (v, share) in &shares {
            assert!((0.01..=0.25).contains(share), "{axis} {v}: {share}");
        }
        // Smaller values are drawn more often.
        let mut sorted = shares.clone();
        sorted.sort_by_key(|s| s.0);
        assert!(sorted.windows(2).all(|w| w[0].1 > w[1].1), "{axis}: {sorted:?}");
    }
    assert_eq!(plan["axes"]["width"].as_object().unwrap().len(), 17);
}

#[test]
fn the_table_lists_totals_and_every_value_with_its_share() {
    let out = ok(&["sweep", "plan", "studies/quick/fig4-random_labels.toml"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("sweep fig4-random_labels: 16 trials, about "),
        "{text}"
    );
    assert!(
        text.contains("\nrandom_labels\n") && text.contains("  8   50.00%"),
        "{text}"
    );
}

fn write_spec(dir: &Path, body: &str) -> String {
    let path = dir.join("spec.toml");
    std::fs::write(&path, body).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn a_granulated_design_varies_each_axis_but_the_seed_around_its_base() {
    let dir = tempfile::tempdir().unwrap();
    // One base; width varies over 3 values, depth over 2, the seed stays the base's:
    // the base, 2 other widths and 1 other depth = 4 trials.
    let spec = write_spec(
        dir.path(),
        "name = \"g\"\nmode = \"granulated\"\nsamples = 1\nseed = 3\n\
         [axes]\nwidth = [4, 8, 16]\ndepth = [2, 3]\nseed = [1, 2, 3]\n",
    );
    let plan = ok_json(&["sweep", "plan", &spec, "--json"]);
    assert_eq!(plan["trials"], 4, "{plan}");
    assert_eq!(plan["axes"]["seed"].as_object().unwrap().len(), 1, "{plan}");
    assert_eq!(plan["axes"]["width"].as_object().unwrap().len(), 3, "{plan}");
    assert_eq!(plan["axes"]["depth"].as_object().unwrap().len(), 2, "{plan}");
    // With many bases, every width appears with every base's other settings: a group of
    // networks that differ only in width exists for each base.
    let spec = write_spec(
        dir.path(),
        "name = \"g\"\nmode = \"granulated\"\nsamples = 5\n\
         [axes]\nwidth = [4, 8, 16]\ndepth = [2, 3, 4]\nlr = [0.01, 0.1]\nseed = [1, 2]\n",
    );
    let parsed = SweepSpec::from_toml_file(Path::new(&spec)).unwrap();
    let trials = parsed.trials();
    assert!(trials.len() <= 5 * (1 + 2 + 2 + 1), "{}", trials.len());
    let mut groups: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for t in &trials {
        let key = format!("{} {} {}", t.train.depth, t.train.lr, t.train.seed);
        groups.entry(key).or_default().push(t.train.width);
    }
    assert!(groups.values().any(|w| w.len() == 3), "{groups:?}");
    assert_eq!(ok_json(&["sweep", "plan", &spec, "--json"])["trials"], trials.len());
    // Pairs: every configuration of the design, twice.
    let spec = write_spec(
        dir.path(),
        "name = \"g\"\nmode = \"granulated\"\nsamples = 1\n[axes]\nwidth = [4, 8]\n\
         [pair]\nfactor = \"random_labels\"\n",
    );
    let plan = ok_json(&["sweep", "plan", &spec, "--json"]);
    assert_eq!(plan["trials"], 4, "{plan}");
    assert_eq!(plan["axes"]["random_labels"]["true"], 2, "{plan}");
}

#[test]
fn bad_granulated_specs_and_plans_are_refused_with_the_file_and_value() {
    let dir = tempfile::tempdir().unwrap();
    let thousand = (1..=1000).map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
    let many = format!(
        "name = \"g\"\nmode = \"granulated\"\nsamples = 1000000\n[axes]\nwidth = [{thousand}]\n\
         batch = [{thousand}]\ndepth = [2, 3]\n"
    );
    let cases: [(&str, &[&str]); 4] = [
        (
            "name = \"g\"\nmode = \"granulated\"\n[axes]\nwidth = [4, 8]\n",
            &[
                "spec.toml: samples = 0",
                "mode = \"granulated\" needs samples > 0",
                "1 to 1000000",
            ],
        ),
        (
            "name = \"g\"\nmode = \"granulated\"\nsamples = 2\n[axes]\nseed = [1, 2, 3]\n",
            &["spec.toml: mode = \"granulated\"", "no axis other than seed"],
        ),
        (
            // 1000 widths × 1000 batches × 2 depths = 2,000,000 combinations; a million
            // bases with 1 + 999 + 999 + 1 variations each could reach all of them.
            &many,
            &[
                "spec.toml: mode = \"granulated\" with samples = 1000000",
                "up to 2000000 trials",
                "at most 1000000",
            ],
        ),
        (
            "name = \"g\"\n[axes]\ndata = [\"imagenet\"]\n",
            &["spec.toml: axes.data = \"imagenet\" is not a known dataset", "cifar100"],
        ),
    ];
    for (body, wanted) in cases {
        let spec = write_spec(dir.path(), body);
        refused(&common::occam(&["sweep", "plan", &spec, "--json"]), wanted);
    }
    refused(
        &common::occam(&["sweep", "plan", "no/such/spec.toml"]),
        &["no/such/spec.toml"],
    );
}
