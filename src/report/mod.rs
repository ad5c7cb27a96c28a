//! Reports: `occam report STORE --out DIR` reads a store and writes `index.html`, PNG and
//! SVG figures, and `report.json` with every number shown, including the verdict on each
//! of the paper's four findings (SPEC §5).

pub mod analysis;
mod findings;
mod html;

pub use findings::Finding;

use crate::error::{OccamError, Result, write_atomic};
use crate::measure::bounds::{full_norm_range, max_entropy_full_norm, target_row_range};
use crate::measure::regions::boundary_density_near;
use crate::plot::{self, LinePanel, PALETTE, RegionMaps, RegionPanel, Scatter, ScatterRow, Series, StackedLines};
use crate::sweep::trial::from_run_lengths;
use crate::sweep::{Store, TrialRecord};
use analysis::{CorrelationAnalysis, NetworkPoint, PairedAnalysis, PerPointAnalysis};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// Fraction of region-boundary pixels within 0.1 of the training points and overall.
#[derive(Debug, Clone, Serialize)]
pub struct RegionDensity {
    pub sweep: String,
    pub before_near: f64,
    pub before_overall: f64,
    pub after_near: f64,
    pub after_overall: f64,
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub store: String,
    pub trials: usize,
    pub by_status: BTreeMap<crate::sweep::TrialStatus, usize>,
    pub paired: Vec<PairedAnalysis>,
    pub correlations: Vec<CorrelationAnalysis>,
    pub per_point: Vec<PerPointAnalysis>,
    /// (sweep, profile artifact) of the first trial of each sweep that has one.
    pub profiles: Vec<(String, Value)>,
    /// (sweep, regions artifact).
    pub regions: Vec<(String, Value)>,
    /// Boundary density near the training points against the whole map.
    pub region_density: Vec<RegionDensity>,
    pub findings: Vec<Finding>,
    /// Figure files (relative to the report directory) by section.
    pub figures: BTreeMap<String, Vec<String>>,
}

/// Analyses the store and writes the report into `out`.
pub fn write_report(store_path: &Path, out: &Path) -> Result<Report> {
    let store = Store::open_existing(store_path)?;
    let trials = store.trials()?;
    if trials.is_empty() {
        return Err(OccamError::bad_file(store_path, "the store holds no trials yet"));
    }
    std::fs::create_dir_all(out).map_err(|e| OccamError::io(out, e))?;
    let mut by_sweep: BTreeMap<&str, Vec<&TrialRecord>> = BTreeMap::new();
    let mut by_status = BTreeMap::new();
    for r in &trials {
        by_sweep.entry(r.sweep.as_str()).or_default().push(r);
        *by_status.entry(r.status).or_insert(0) += 1;
    }
    let mut report = Report {
        store: store_path.display().to_string(),
        trials: trials.len(),
        by_status,
        paired: Vec::new(),
        correlations: Vec::new(),
        per_point: Vec::new(),
        profiles: Vec::new(),
        regions: Vec::new(),
        region_density: Vec::new(),
        findings: Vec::new(),
        figures: BTreeMap::new(),
    };
    for (sweep, ts) in &by_sweep {
        if let Some(p) = analysis::paired(sweep, ts) {
            report.paired.push(p);
        } else if let Some(c) = analysis::correlations(sweep, ts) {
            report.correlations.push(c);
        }
        let classes = ts
            .iter()
            .find_map(|r| r.points.first().map(|_| classes_of(r)))
            .unwrap_or(10);
        if let Some(p) = analysis::per_point(sweep, ts, classes) {
            report.per_point.push(p);
        }
        for (name, list) in [("profile", &mut report.profiles), ("regions", &mut report.regions)] {
            if let Some(body) = ts
                .iter()
                .find_map(|r| r.artifacts.iter().find(|a| a.0 == name).map(|a| a.1.clone()))
            {
                let v: Value = serde_json::from_str(&body)
                    .map_err(|e| OccamError::bad_file(store_path, format!("{name} artifact: {e}")))?;
                list.push((sweep.to_string(), v));
            }
        }
    }
    report.findings = findings::assess(&report);
    draw_figures(&mut report, out)?;
    write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(&report).expect("serializable").as_bytes(),
    )?;
    write_atomic(&out.join("index.html"), html::page(&report).as_bytes())?;
    Ok(report)
}

fn classes_of(r: &TrialRecord) -> usize {
    match r.spec.train.data.split(':').next() {
        Some("cifar100") => 100,
        _ => 10,
    }
}

fn file_stem(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect()
}

fn dataset_series(points: &[(String, f64, f64)]) -> Vec<Series> {
    let mut by: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for (d, x, y) in points {
        by.entry(d.split(':').next().unwrap_or(d)).or_default().push((*x, *y));
    }
    by.into_iter()
        .enumerate()
        .map(|(i, (name, pts))| Series {
            name: name.to_string(),
            points: pts,
            color: PALETTE[i % PALETTE.len()],
        })
        .collect()
}

fn draw_figures(report: &mut Report, out: &Path) -> Result<()> {
    let mut figures: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut emit =
        |section: &str, stem: String, fig: &dyn Fn(&Path) -> Result<[std::path::PathBuf; 2]>| -> Result<()> {
            let paths = fig(&out.join(&stem))?;
            figures
                .entry(section.to_string())
                .or_default()
                .push(paths[0].file_name().unwrap().to_string_lossy().into_owned());
            Ok(())
        };
    for p in &report.paired {
        let (off, on) = (&p.arms.0, &p.arms.1);
        let panel = |title: &str, log: bool, get: &dyn Fn(&analysis::PairValues) -> (f64, f64)| Scatter {
            title: title.to_string(),
            x_label: off.clone(),
            y_label: on.clone(),
            log_x: log,
            log_y: log,
            series: dataset_series(
                &p.values
                    .iter()
                    .map(|v| (v.dataset.clone(), get(v).0, get(v).1))
                    .collect::<Vec<_>>(),
            ),
            curves: vec![],
            diagonal: true,
        };
        let row = ScatterRow {
            panel_size: (520, 500),
            panels: vec![
                panel("generalization gap", false, &|v| v.gap),
                panel("Jacobian norm ‖J‖_F", true, &|v| v.jacobian_norm),
                panel("transitions", true, &|v| v.transitions),
            ],
        };
        emit("paired", format!("pairs-{}", file_stem(&p.sweep)), &|stem| {
            plot::render(stem, &row)
        })?;
    }
    for c in &report.correlations {
        let series_by = |f: &dyn Fn(&NetworkPoint) -> f64| {
            dataset_series(
                &c.points
                    .iter()
                    .map(|p| (format!("{} depth {}", p.dataset, p.depth), f(p), p.gap))
                    .collect::<Vec<_>>(),
            )
        };
        let sc = |title: &str, x: &str, f: &dyn Fn(&NetworkPoint) -> f64| Scatter {
            title: title.into(),
            x_label: x.into(),
            y_label: "generalization gap (train − test accuracy)".into(),
            log_x: true,
            log_y: false,
            series: series_by(f),
            curves: vec![],
            diagonal: false,
        };
        let row = ScatterRow {
            panel_size: (560, 500),
            panels: vec![
                sc("gap vs Jacobian norm", "mean test ‖J‖_F (log)", &|p| {
                    p.jacobian_norm
                }),
                sc("gap vs transitions", "mean transitions per trajectory (log)", &|p| {
                    p.transitions
                }),
                sc("gap vs parameter count", "parameters (log)", &|p| p.params as f64),
            ],
        };
        emit("correlations", format!("gap-{}", file_stem(&c.sweep)), &|stem| {
            plot::render(stem, &row)
        })?;
    }
    for pp in &report.per_point {
        let losses: Vec<f64> = (0..200).map(|i| 10f64.powf(-6.0 + 8.0 * i as f64 / 199.0)).collect();
        let curve = |name: &str, color: usize, f: &dyn Fn(f64) -> f64| Series {
            name: name.into(),
            points: losses.iter().map(|&l| (l, f(l))).collect(),
            color: PALETTE[color],
        };
        let n = pp.classes;
        let fig = ScatterRow {
            panel_size: (620, 540),
            panels: vec![
                Scatter {
                    title: "per test point: ‖J‖_F / C against cross-entropy".into(),
                    x_label: "cross-entropy loss (log)".into(),
                    y_label: "‖J(x)‖_F / C (log)".into(),
                    log_x: true,
                    log_y: true,
                    series: vec![Series {
                        name: format!("{} points", pp.points),
                        points: pp.scaled.iter().map(|p| (p.0, p.1)).collect(),
                        color: RGBA_GRAY,
                    }],
                    curves: vec![
                        curve("range, lower", 0, &|l| full_norm_range(l, n).0),
                        curve("range, upper", 1, &|l| full_norm_range(l, n).1),
                        curve("maximum entropy", 2, &|l| max_entropy_full_norm(l, n)),
                    ],
                    diagonal: false,
                },
                Scatter {
                    title: "per test point: target row ‖J_y‖ / C".into(),
                    x_label: "cross-entropy loss (log)".into(),
                    y_label: "‖J_y(x)‖ / C (log)".into(),
                    log_x: true,
                    log_y: true,
                    series: vec![Series {
                        name: format!("{} points", pp.points),
                        points: pp.scaled.iter().map(|p| (p.0, p.2)).collect(),
                        color: RGBA_GRAY,
                    }],
                    curves: vec![
                        curve("range, lower", 0, &|l| target_row_range(l, n).0),
                        curve("range, upper", 1, &|l| target_row_range(l, n).1),
                    ],
                    diagonal: false,
                },
            ],
        };
        emit("per_point", format!("per-point-{}", file_stem(&pp.sweep)), &|stem| {
            plot::render(stem, &fig)
        })?;
    }
    for (sweep, prof) in &report.profiles {
        let curves = prof["curves"].as_array().cloned().unwrap_or_default();
        let series = |key: &str| -> Vec<Series> {
            curves
                .iter()
                .enumerate()
                .map(|(i, c)| Series {
                    name: format!(
                        "{} (n = {})",
                        c["trajectory"].as_str().unwrap_or("?"),
                        c["trajectories"]
                    ),
                    points: c["position"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .zip(c[key].as_array().into_iter().flatten())
                        .map(|(x, y)| (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN)))
                        .collect(),
                    color: PALETTE[i % PALETTE.len()],
                })
                .collect()
        };
        let anchors: Vec<f64> = curves
            .iter()
            .find_map(|c| {
                c["anchors"]
                    .as_array()
                    .filter(|a| !a.is_empty())
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
            })
            .unwrap_or_default();
        let fig = StackedLines {
            width: 1000,
            panel_height: 360,
            panels: vec![
                LinePanel {
                    title: "Jacobian norm along closed trajectories (anchor points dashed)".into(),
                    x_label: "position along the trajectory".into(),
                    y_label: "mean ‖J(x)‖_F".into(),
                    x_range: (0.0, 1.0),
                    series: series("jacobian_norm"),
                    markers: anchors.clone(),
                    log_y: false,
                },
                LinePanel {
                    title: "Transition density".into(),
                    x_label: "position along the trajectory".into(),
                    y_label: "crossings per unit position".into(),
                    x_range: (0.0, 1.0),
                    series: series("transition_density"),
                    markers: anchors,
                    log_y: false,
                },
            ],
        };
        emit("profiles", format!("profile-{}", file_stem(sweep)), &|stem| {
            plot::render(stem, &fig)
        })?;
    }
    for (sweep, reg) in &report.regions {
        let side = reg["grid"].as_u64().unwrap_or(0) as usize;
        let anchors: Vec<(f64, f64)> = reg["anchors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| (a[0].as_f64().unwrap_or(0.0), a[1].as_f64().unwrap_or(0.0)))
            .collect();
        let mask = |key: &str| -> Vec<bool> {
            let runs: Vec<usize> = reg[key]["boundary"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_u64().map(|x| x as usize))
                .collect();
            from_run_lengths(&runs)
        };
        let (before, after) = (mask("before"), mask("after"));
        if side == 0 || before.len() != side * side || after.len() != side * side {
            continue;
        }
        let layer = reg["layer"].as_u64().unwrap_or(0);
        let (before_near, before_overall) = boundary_density_near(&before, side, &anchors, 0.1);
        let (after_near, after_overall) = boundary_density_near(&after, side, &anchors, 0.1);
        report.region_density.push(RegionDensity {
            sweep: sweep.clone(),
            before_near,
            before_overall,
            after_near,
            after_overall,
        });
        let fig = RegionMaps {
            panels: vec![
                RegionPanel {
                    title: format!("before training: layer {layer} ({} regions)", reg["before"]["regions"]),
                    side,
                    boundary: before,
                    anchors: anchors.clone(),
                },
                RegionPanel {
                    title: format!("after training: layer {layer} ({} regions)", reg["after"]["regions"]),
                    side,
                    boundary: after,
                    anchors,
                },
            ],
        };
        emit("regions", format!("regions-{}", file_stem(sweep)), &|stem| {
            plot::render(stem, &fig)
        })?;
    }
    report.figures = figures;
    Ok(())
}

const RGBA_GRAY: plotters::style::RGBColor = plotters::style::RGBColor(90, 90, 90);
