//! Reports: `occam report STORE --out DIR` reads a store and writes `index.html`, PNG and
//! SVG figures, and `report.json` with every number shown, including the verdict on each
//! of the paper's four findings. The analyses live in [`analysis`], the study
//! configurations and scale in [`config`], the figures in `figures`, the page in `html`.

pub mod analysis;
pub mod config;
mod figures;
mod findings;
mod html;
pub mod training;
pub mod validity;

pub use figures::FigureFile;
pub use findings::{Finding, Verdict, VerdictCounts};

use crate::error::{OccamError, Result, write_atomic};
use crate::sweep::artifact::{Artifact, ProfileArtifact, RegionsArtifact};
use crate::sweep::{Store, SweepSpec, TrialRecord};
use analysis::{CorrelationAnalysis, PairedAnalysis, PerPointAnalysis};
use config::{Scale, StudySummary};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Fraction of region-boundary pixels within 0.1 (plane units) of the training points and
/// overall, and, where the exact maps were drawn, their boundary length per unit area.
#[derive(Debug, Clone, Serialize)]
pub struct RegionDensity {
    pub sweep: String,
    pub before_near: f64,
    pub before_overall: f64,
    pub after_near: f64,
    pub after_overall: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exact: Option<ExactDensity>,
}

/// Region-boundary length per unit area (plane units) of the exact maps, within 0.1 of
/// the training points and over the whole map, and their region counts.
#[derive(Debug, Clone, Serialize)]
pub struct ExactDensity {
    pub before_near: f64,
    pub before_overall: f64,
    pub after_near: f64,
    pub after_overall: f64,
    pub before_regions: usize,
    pub after_regions: usize,
}

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub store: String,
    pub trials: usize,
    pub by_status: BTreeMap<crate::sweep::TrialStatus, usize>,
    /// Quick or paper when every study is that built-in one; custom otherwise.
    pub scale: Scale,
    /// The datasets trained on.
    pub datasets: Vec<String>,
    /// Sum over trials of training and measurement seconds.
    pub wall_seconds: f64,
    /// Each study's configuration, scale and outcome counts.
    pub studies: Vec<StudySummary>,
    pub verdicts: VerdictCounts,
    pub paired: Vec<PairedAnalysis>,
    pub correlations: Vec<CorrelationAnalysis>,
    pub per_point: Vec<PerPointAnalysis>,
    /// Studies that tracked their networks during training.
    pub training: Vec<training::TrainingAnalysis>,
    /// (sweep, profile artifact) of the first trial of each sweep that has one.
    pub profiles: Vec<(String, ProfileArtifact)>,
    /// (sweep, regions artifact).
    pub regions: Vec<(String, RegionsArtifact)>,
    /// Boundary density near the training points against the whole map.
    pub region_density: Vec<RegionDensity>,
    pub findings: Vec<Finding>,
    /// Figures (files, captions, alt texts) by page section.
    pub figures: BTreeMap<String, Vec<FigureFile>>,
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
    let specs: BTreeMap<String, SweepSpec> = store
        .sweeps()?
        .into_iter()
        .filter_map(|(name, json)| Some((name, serde_json::from_str(&json).ok()?)))
        .collect();
    let studies: BTreeMap<String, StudySummary> = by_sweep
        .iter()
        .map(|(sweep, ts)| (sweep.to_string(), config::summarize(sweep, ts, specs.get(*sweep))))
        .collect();
    let mut datasets: Vec<String> = Vec::new();
    for r in &trials {
        let d = config::dataset_name(&r.spec.train.data);
        if !datasets.contains(&d) {
            datasets.push(d);
        }
    }
    let mut report = Report {
        store: store_path.display().to_string(),
        trials: trials.len(),
        by_status,
        scale: overall_scale(studies.values()),
        datasets,
        wall_seconds: studies.values().map(|s| s.wall_seconds).sum(),
        studies: studies.values().cloned().collect(),
        verdicts: VerdictCounts::default(),
        paired: Vec::new(),
        correlations: Vec::new(),
        per_point: Vec::new(),
        training: Vec::new(),
        profiles: Vec::new(),
        regions: Vec::new(),
        region_density: Vec::new(),
        findings: Vec::new(),
        figures: BTreeMap::new(),
    };
    for (sweep, ts) in &by_sweep {
        if let Some(p) = analysis::paired(sweep, ts) {
            report.paired.push(p);
        } else if !is_figure_study(ts)
            && let Some(c) = analysis::correlations(sweep, ts)
        {
            report.correlations.push(c);
        }
        let classes = ts
            .iter()
            .find_map(|r| r.points.first().map(|_| classes_of(r)))
            .unwrap_or(10);
        if let Some(p) = analysis::per_point(sweep, ts, classes) {
            report.per_point.push(p);
        }
        if let Some(t) = training::analyse(sweep, ts) {
            report.training.push(t);
        }
        let artifacts = || ts.iter().flat_map(|r| r.artifacts.iter());
        if let Some(p) = artifacts().find_map(|a| match a {
            Artifact::Profile(p) => Some(p.clone()),
            _ => None,
        }) {
            report.profiles.push((sweep.to_string(), p));
        }
        if let Some(r) = artifacts().find_map(|a| match a {
            Artifact::Regions(r) => Some(r.clone()),
            _ => None,
        }) {
            report.regions.push((sweep.to_string(), r));
        }
    }
    report.findings = findings::assess(&report);
    report.verdicts = VerdictCounts::of(&report.findings);
    figures::draw_all(&mut report, out, &studies, &by_sweep)?;
    drop_image_bytes(&mut report.regions);
    write_atomic(
        &out.join("report.json"),
        serde_json::to_string_pretty(&report).expect("serializable").as_bytes(),
    )?;
    write_atomic(&out.join("index.html"), html::page(&report).as_bytes())?;
    Ok(report)
}

/// Empties the rendered exact maps' PNG bytes once the figures are drawn: they are in
/// the store and in the figure files, and report.json keeps their size only.
fn drop_image_bytes(regions: &mut [(String, RegionsArtifact)]) {
    for (_, r) in regions {
        for map in r.exact.iter_mut().flat_map(|e| [&mut e.before, &mut e.after]) {
            if let Some(image) = &mut map.image {
                image.png_base64.clear();
            }
        }
    }
}

/// The class count of a trial's dataset (specs are validated, so the name is known).
fn classes_of(r: &TrialRecord) -> usize {
    crate::data::DatasetKind::of_spec(&r.spec.train.data).map_or(10, |d| d.classes())
}

/// Whether a sweep is one network trained for a profile or region-map figure (its figure
/// section and the configuration table say everything about it).
fn is_figure_study(trials: &[&TrialRecord]) -> bool {
    trials.len() == 1
        && trials
            .iter()
            .all(|r| r.spec.measure.profile.is_some() || r.spec.measure.regions.is_some())
}

/// Quick or paper when every study is the built-in one at that scale; custom otherwise.
fn overall_scale<'a>(studies: impl Iterator<Item = &'a StudySummary>) -> Scale {
    let scales: Vec<Scale> = studies.map(|s| s.scale).collect();
    match scales.first() {
        Some(&first) if scales.iter().all(|&s| s == first) => first,
        _ => Scale::Custom,
    }
}
