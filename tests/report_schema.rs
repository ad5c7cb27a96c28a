//! docs/schemas/report.json against real reports: a store with a paired study, an unpaired
//! study with per-point rows, transitions and region maps, and a profile study, so that
//! every section of `report.json` is filled; the validator must also reject an
//! undocumented key and a wrong type in that real report, and the schema's enums must
//! name every variant of the library's kinds and statuses.

mod common;
#[path = "support/json_schema.rs"]
mod json_schema;

use clap::ValueEnum;
use common::{occam, ok};
use occam::measure::profile::Method;
use occam::measure::trajectory::TrajectoryKind;
use occam::report::Verdict;
use occam::report::analysis::Stat;
use occam::report::config::Scale;
use occam::sweep::TrialStatus;
use occam::sweep::spec::Factor;
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The three studies: `mine` (4 unpaired networks: correlations, per-point rows,
/// transitions, region maps, tracked at 4 checkpoints), `pairs` (a random-labels paired design that counts no
/// transitions, so one paired metric has no values) and `prof` (one network's profiles).
fn specs(data: &Path) -> [(&'static str, String); 3] {
    let data = format!("data = [\"mnist:{}\"]", data.display());
    [
        (
            "mine",
            format!(
                "name = \"mine\"\n[axes]\n{data}\nwidth = [8, 16]\ndepth = [2, 3]\nbatch = [32]\nsteps = [150]\n\
                 seed = [1]\n[fixed]\ntrain_size = 250\n[measure]\njacobian_points = 40\nper_point = true\ntrack = 4\n\
                 [measure.transitions]\ntrajectory = \"translate\"\ncount = 2\n[measure.regions]\ngrid = 40\n"
            ),
        ),
        (
            "pairs",
            format!(
                "name = \"pairs\"\n[axes]\n{data}\nwidth = [8]\ndepth = [2]\nbatch = [32]\nsteps = [100]\n\
                 seed = [1, 2]\n[fixed]\ntrain_size = 200\n[pair]\nfactor = \"random_labels\"\n\
                 [measure]\njacobian_points = 20\n"
            ),
        ),
        (
            "prof",
            format!(
                "name = \"prof\"\n[axes]\n{data}\nwidth = [8]\ndepth = [2]\nbatch = [32]\nsteps = [100]\n\
                 seed = [1]\n[fixed]\ntrain_size = 200\n[measure]\njacobian_points = 0\n[measure.profile]\n\
                 trajectories = [\"random-ellipse\", \"different-class-ellipse\", \"same-class-ellipse\"]\n\
                 count = 2\nbins = 16\n"
            ),
        ),
    ]
}

/// Runs the three studies into one store (once per test binary) and writes its report;
/// returns the parsed report.json.
fn real_report() -> &'static Value {
    static REPORT: OnceLock<Value> = OnceLock::new();
    REPORT.get_or_init(|| {
        let dir: PathBuf = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-schema-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        common::write_mnist_like(&dir.join("data"), 300, 60, 6, true);
        let store = dir.join("store.sqlite");
        for (name, text) in specs(&dir.join("data")) {
            let spec = dir.join(format!("{name}.toml"));
            std::fs::write(&spec, text).unwrap();
            ok(&[
                "sweep",
                "run",
                s(&spec),
                "--store",
                s(&store),
                "--parallel",
                "1",
                "--quiet",
            ]);
        }
        let out = dir.join("report");
        let run = occam(&["report", s(&store), "--out", s(&out)]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.code().is_some(), "report killed by a signal: {stderr}");
        assert!(run.status.success(), "report failed: {stderr}");
        assert!(
            !stderr.contains("panicked") && !stderr.contains("internal error"),
            "{stderr}"
        );
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap()
    })
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn schema() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas/report.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The sub-schema at a path of property names (an array's elements are `items`, a
/// position of a fixed-length array is its index in `prefixItems`).
fn sub_schema<'a>(schema: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(schema, |at, step| match step.parse::<usize>() {
        Ok(i) => &at["prefixItems"][i],
        Err(_) if *step == "[]" => &at["items"],
        Err(_) => &at["properties"][*step],
    })
}

fn errors_of(value: &Value) -> Vec<String> {
    json_schema::validate(&schema(), value)
}

#[test]
fn a_real_report_with_every_section_matches_the_schema() {
    let report = real_report();
    let errors = errors_of(report);
    assert!(errors.is_empty(), "report.json does not match its schema: {errors:#?}");
    // Every part of the schema was exercised: no section is empty.
    for section in [
        "paired",
        "correlations",
        "per_point",
        "profiles",
        "regions",
        "region_density",
        "studies",
        "training",
    ] {
        let n = report[section].as_array().map_or(0, Vec::len);
        assert!(
            n > 0,
            "section {section} is empty: the test no longer covers its schema"
        );
    }
    let figures: Vec<&String> = report["figures"].as_object().unwrap().keys().collect();
    assert_eq!(
        figures,
        ["correlations", "paired", "per_point", "profiles", "regions", "training"],
        "every figure section should be drawn"
    );
    assert_eq!(report["studies"].as_array().unwrap().len(), 3);
    let trajectories: Vec<&Value> = report["profiles"][0][1]["curves"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["trajectory"])
        .collect();
    assert_eq!(trajectories.len(), 3, "{trajectories:?}");
}

#[test]
fn a_paired_metric_without_values_has_null_means_not_zero() {
    // `pairs` counts no transitions: their means and "on larger" fraction do not exist.
    let report = real_report();
    let metrics = report["paired"][0]["metrics"].as_array().unwrap();
    let transitions = metrics.iter().find(|m| m["metric"] == "transitions").unwrap();
    assert!(
        transitions["missing"].as_str().unwrap().contains("not measured"),
        "{transitions}"
    );
    for key in ["mean_off", "mean_on", "on_larger"] {
        assert!(transitions[key].is_null(), "{key} should be null: {transitions}");
    }
    assert!(transitions["agreement"]["fraction"].is_null(), "{transitions}");
    assert_eq!(transitions["agreement"]["pairs"], 0);
    // The measured ones keep their numbers.
    let jacobian = metrics.iter().find(|m| m["metric"] == "jacobian_norm").unwrap();
    assert!(jacobian["mean_off"].as_f64().is_some_and(|v| v > 0.0), "{jacobian}");
    assert!(jacobian["missing"].is_null());
    assert!(report["paired"][0]["values"][0]["transitions"] == json!([null, null]));
}

#[test]
fn the_validator_rejects_undocumented_keys_and_wrong_types_in_a_real_report() {
    let mut bad = real_report().clone();
    bad["undocumented_top_level"] = json!(1);
    bad["paired"][0]["values"][0]["seed"] = json!(1);
    bad["trials"] = json!("9");
    bad["findings"][0]["verdict"] = json!("passed");
    bad["correlations"][0]["transitions_vs_params"] = json!({"status": "value", "why": "no"});
    bad["profiles"][0][1]["curves"][0]["trajectory"] = json!("circle");
    bad["regions"][0][1]["training_points"] = json!([1, 2]);
    bad["per_point"][0]["target_row_within"] = json!(1.5);
    bad["studies"][0]["by_status"]["finished"] = json!(3);
    bad["figures"]["histograms"] = json!([]);
    bad.as_object_mut().unwrap().remove("verdicts");
    let errors = errors_of(&bad).join("\n");
    for want in [
        "property 'undocumented_top_level' is not in the schema",
        "$.paired[0].values[0]: property 'seed' is not in the schema",
        "$.trials: \"9\" is not of type",
        "\"passed\" is not one of",
        "$.correlations[0].transitions_vs_params: ",
        "\"circle\" is not one of",
        "$.regions[0][1].training_points: an array of 2 elements",
        "$.per_point[0].target_row_within: 1.5 is above the maximum 1",
        "property 'finished' is not in the schema",
        "property 'histograms' is not in the schema",
        "required property 'verdicts' is missing",
    ] {
        assert!(errors.contains(want), "the validator missed {want:?}:\n{errors}");
    }
    // A number where a null stands for "not measured" is fine; a string is not.
    let mut wrong = real_report().clone();
    wrong["paired"][0]["values"][0]["transitions"] = json!([1.0, "n/a"]);
    let errors = errors_of(&wrong).join("\n");
    assert!(
        errors.contains("$.paired[0].values[0].transitions[1]") && !errors.contains("transitions[0]"),
        "{errors}"
    );
}

fn name_of(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

fn enum_of<'a>(schema: &'a Value, path: &[&str]) -> &'a Vec<Value> {
    sub_schema(schema, path)["enum"]
        .as_array()
        .unwrap_or_else(|| panic!("no enum at {path:?}"))
}

#[test]
fn the_schema_names_every_kind_and_status_the_library_has() {
    let schema = schema();
    let verdicts = enum_of(&schema, &["findings", "[]", "verdict"]);
    for v in [
        Verdict::Reproduced,
        Verdict::NotReproduced,
        Verdict::NotMeasured,
        Verdict::NotValid,
    ] {
        assert!(verdicts.contains(&name_of(v)), "{v:?}");
        let counted = &sub_schema(&schema, &["verdicts"])["properties"];
        assert!(counted.get(name_of(v).as_str().unwrap()).is_some(), "{v:?}");
    }
    for status in TrialStatus::ALL {
        for at in [&["by_status"][..], &["studies", "[]", "by_status"]] {
            let keys = &sub_schema(&schema, at)["properties"];
            assert!(keys.get(status.name()).is_some(), "{status:?} at {at:?}");
        }
    }
    for scale in [Scale::Quick, Scale::Paper, Scale::Custom] {
        assert!(enum_of(&schema, &["scale"]).contains(&name_of(scale)));
        assert!(enum_of(&schema, &["studies", "[]", "scale"]).contains(&name_of(scale)));
    }
    let factors = enum_of(&schema, &["paired", "[]", "factor"]);
    for f in [
        Factor::RandomLabels,
        Factor::NoAugmentation,
        Factor::HardSigmoid,
        Factor::FullBatch,
    ] {
        assert!(factors.contains(&name_of(f)), "{f:?}");
    }
    let profile = ["profiles", "[]", "1"];
    let kinds = enum_of(&schema, &[&profile[..], &["curves", "[]", "trajectory"]].concat());
    for k in TrajectoryKind::value_variants() {
        assert!(kinds.contains(&name_of(k)), "{k:?}");
    }
    let methods = enum_of(&schema, &[&profile[..], &["method"]].concat());
    for m in Method::value_variants() {
        assert!(methods.contains(&name_of(m)), "{m:?}");
    }
    // Every form of a statistic, as the library writes it, matches exactly one option.
    let stat = sub_schema(&schema, &["correlations", "[]", "transitions_vs_params"]);
    for value in [
        Stat::Value { value: 0.25 },
        Stat::NotMeasured {
            what: "not measured: this study counts no transitions".into(),
        },
        Stat::TooFew { have: 2, need: 3 },
        Stat::Undefined { why: "constant".into() },
    ] {
        let errors = json_schema::validate(stat, &name_of(&value));
        assert!(errors.is_empty(), "{value:?}: {errors:#?}");
    }
}
