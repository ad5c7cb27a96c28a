//! The report's figures: one per study and section, each with a caption naming the study
//! and its network configuration (in the image's title strip and in the page), an alt
//! text saying what it shows, series named by the setting that differs between them, and
//! panels without data left out (the caption says which and why).

use super::analysis::{self, CorrelationAnalysis, NetworkPoint, PairedAnalysis, PerPointAnalysis};
use super::config::{StudySummary, caption_text, series_names, thousands};
use super::{ExactDensity, RegionDensity, Report};
use crate::data::DataSource;
use crate::error::Result;
use crate::measure::bounds::{full_norm_range, max_entropy_full_norm, target_row_range};
use crate::measure::regions::{ANCHOR_RADIUS, boundary_density_near};
use crate::measure::regions_exact::polygons_boundary_density;
use crate::plot::{self, AxisSpec, Chart, ChartGrid, PALETTE, RegionFigure, RegionPanel, RegionShapes, Series};
use crate::sweep::TrialRecord;
use crate::sweep::artifact::{ExactMapArtifact, ExactRegionsArtifact, ProfileArtifact, ProfileCurve, RegionsArtifact};
use crate::train::TrainConfig;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Distance (plane units) within which boundary pixels count as "near" a training point.
pub const NEAR_RADIUS: f64 = crate::measure::regions_exact::SWEEP_NEAR_RADIUS;

/// One figure file of the report.
#[derive(Debug, Clone, Serialize)]
pub struct FigureFile {
    /// The study it shows.
    pub sweep: String,
    /// PNG file name, relative to the report directory.
    pub png: String,
    pub svg: String,
    /// The full caption: what is plotted, the study and its configuration.
    pub caption: String,
    /// What the figure shows, for readers who cannot see it.
    pub alt: String,
}

/// Collects figures by page section while writing them into the report directory.
struct Writer<'a> {
    out: &'a Path,
    figures: BTreeMap<String, Vec<FigureFile>>,
}

impl Writer<'_> {
    fn emit(
        &mut self,
        section: &str,
        sweep: &str,
        fig: &impl plot::Figure,
        caption: String,
        alt: String,
    ) -> Result<()> {
        let stem = format!("{}-{}", stem_prefix(section), file_stem(sweep));
        let [png, svg] = plot::render(&self.out.join(stem), fig)?;
        let name = |p: &Path| p.file_name().unwrap_or_default().to_string_lossy().into_owned();
        self.figures.entry(section.to_string()).or_default().push(FigureFile {
            sweep: sweep.to_string(),
            png: name(&png),
            svg: name(&svg),
            caption,
            alt,
        });
        Ok(())
    }
}

/// File-name prefix of a section's figures.
fn stem_prefix(section: &str) -> &'static str {
    match section {
        "paired" => "pairs",
        "correlations" => "gap",
        "per_point" => "per-point",
        "profiles" => "profile",
        "training" => "training",
        _ => "regions",
    }
}

fn file_stem(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' })
        .collect()
}

/// Series of points, one per value of the setting that differs between them (or one
/// series named `single` when nothing suitable differs).
fn grouped_series(configs: &[&TrainConfig], points: &[(f64, f64)], single: &str) -> Vec<Series> {
    let names = series_names(configs).unwrap_or_else(|| vec![single.to_string(); points.len()]);
    let mut order: Vec<String> = Vec::new();
    let mut by: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (name, p) in names.into_iter().zip(points) {
        if !order.contains(&name) {
            order.push(name.clone());
        }
        by.entry(name).or_default().push(*p);
    }
    order.sort_by(|a, b| {
        natural_key(a)
            .partial_cmp(&natural_key(b))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    order
        .into_iter()
        .enumerate()
        .map(|(i, name)| Series {
            points: by.remove(&name).unwrap_or_default(),
            name,
            color: PALETTE[i % PALETTE.len()],
        })
        .collect()
}

/// Sorts "depth 10" after "depth 2": (text before the number, the number).
fn natural_key(s: &str) -> (String, f64) {
    match s.rsplit_once(' ') {
        Some((head, tail)) => match tail.replace(',', "").parse::<f64>() {
            Ok(v) => (head.to_string(), v),
            Err(_) => (s.to_string(), 0.0),
        },
        None => (s.to_string(), 0.0),
    }
}

/// Writes every figure of `report` into `out`; region densities are computed on the way.
pub fn draw_all(
    report: &mut Report,
    out: &Path,
    studies: &BTreeMap<String, StudySummary>,
    trials: &BTreeMap<&str, Vec<&TrialRecord>>,
) -> Result<()> {
    let mut w = Writer {
        out,
        figures: BTreeMap::new(),
    };
    let caption_of = |sweep: &str| {
        studies
            .get(sweep)
            .map(|s| format!("study {sweep}: {}", s.caption))
            .unwrap_or_else(|| format!("study {sweep}"))
    };
    for p in &report.paired {
        paired_figure(&mut w, p, &caption_of(&p.sweep))?;
    }
    for c in &report.correlations {
        if c.points.len() >= 2 {
            correlation_figure(&mut w, c, &caption_of(&c.sweep))?;
        }
    }
    for pp in &report.per_point {
        per_point_figure(&mut w, pp, &caption_of(&pp.sweep))?;
    }
    for t in &report.training {
        let caption = caption_of(&t.sweep);
        let (full, alt) = super::training::caption_and_alt(t, &caption);
        w.emit("training", &t.sweep, &super::training::figure(t, &caption), full, alt)?;
    }
    // Profiles and region maps come from one network: the first trial with the artifact.
    let drawn_from = |sweep: &str, artifact: &str| {
        trials.get(sweep).and_then(|ts| {
            ts.iter()
                .find(|r| r.artifacts.iter().any(|a| a.kind() == artifact))
                .copied()
        })
    };
    let one_network = |sweep: &str, trial: Option<&TrialRecord>| match trial {
        Some(t) if trials.get(sweep).is_some_and(|ts| ts.len() > 1) => {
            format!("study {sweep}, trial {}: {}", t.index, caption_text(&[&t.spec.train]))
        }
        _ => caption_of(sweep),
    };
    for (sweep, prof) in &report.profiles {
        let caption = one_network(sweep, drawn_from(sweep, "profile"));
        profile_figure(&mut w, sweep, prof, &caption)?;
    }
    let mut densities = Vec::new();
    for (sweep, reg) in &report.regions {
        let trial = drawn_from(sweep, "regions");
        if let Some(d) = region_figure(&mut w, sweep, reg, trial, &one_network(sweep, trial))? {
            densities.push(d);
        }
    }
    report.region_density = densities;
    report.figures = w.figures;
    Ok(())
}

fn paired_figure(w: &mut Writer, p: &PairedAnalysis, caption: &str) -> Result<()> {
    let (off, on) = (&p.arms.0, &p.arms.1);
    let configs: Vec<&TrainConfig> = p.values.iter().map(|v| &v.config).collect();
    let single = format!("{} pairs", p.pairs);
    let panel = |title: &str, log: bool, get: &dyn Fn(&analysis::PairValues) -> (f64, f64)| Chart {
        dots: grouped_series(&configs, &p.values.iter().map(get).collect::<Vec<_>>(), &single),
        diagonal: true,
        ..Chart::new(
            title,
            AxisSpec {
                label: format!("{off}{}", if log { " (log)" } else { "" }),
                log,
            },
            AxisSpec {
                label: format!("{on}{}", if log { " (log)" } else { "" }),
                log,
            },
        )
    };
    let all = [
        panel("generalization gap (train − test accuracy)", false, &|v| v.gap),
        panel("Jacobian norm ‖J‖_F", true, &|v| v.jacobian_norm),
        panel("transitions per trajectory", true, &|v| v.transitions),
    ];
    let (charts, left_out) = keep_with_data(all);
    let shown: Vec<&str> = charts.iter().map(|c| c.title.as_str()).collect();
    let fig = ChartGrid {
        title: format!("{off} vs {on} — {caption}"),
        panel_size: (500, 480),
        columns: 3,
        charts: charts.clone(),
    };
    let caption = format!(
        "Paired networks, {off} (x) against {on} (y), one point per pair; points above the diagonal: the {on} \
         network has the larger value. {caption}.{}",
        left_out
    );
    let alt = format!(
        "Scatter plots of {} for {} pairs of networks that differ only in {off} versus {on}, with the y = x line.",
        shown.join(", "),
        p.pairs
    );
    w.emit("paired", &p.sweep, &fig, caption, alt)
}

/// Keeps the charts that have data; the text names those left out.
fn keep_with_data<const N: usize>(charts: [Chart; N]) -> (Vec<Chart>, String) {
    let (keep, drop): (Vec<Chart>, Vec<Chart>) = charts.into_iter().partition(Chart::has_data);
    let text = if drop.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = drop.iter().map(|c| c.title.clone()).collect();
        format!(" Not drawn, not measured in this study: {}.", names.join(", "))
    };
    (keep, text)
}

fn correlation_figure(w: &mut Writer, c: &CorrelationAnalysis, caption: &str) -> Result<()> {
    let configs: Vec<&TrainConfig> = c.points.iter().map(|p| &p.config).collect();
    let single = format!("{} networks", c.points.len());
    let sc = |title: &str, x: &str, f: &dyn Fn(&NetworkPoint) -> f64| Chart {
        dots: grouped_series(
            &configs,
            &c.points.iter().map(|p| (f(p), p.gap)).collect::<Vec<_>>(),
            &single,
        ),
        ..Chart::new(
            title,
            AxisSpec::log(x),
            AxisSpec::linear("generalization gap (train − test accuracy)"),
        )
    };
    let (charts, left_out) = keep_with_data([
        sc("gap vs Jacobian norm", "mean test ‖J‖_F (log)", &|p| {
            p.jacobian_norm
        }),
        sc("gap vs transitions", "mean transitions per trajectory (log)", &|p| {
            p.transitions
        }),
        sc("gap vs parameter count", "parameters (log)", &|p| p.params as f64),
    ]);
    let shown: Vec<String> = charts.iter().map(|c| c.title.replace("gap vs ", "")).collect();
    let fig = ChartGrid {
        title: caption.to_string(),
        panel_size: (540, 480),
        columns: 3,
        charts,
    };
    let caption = format!(
        "Generalization gap against each metric, one point per network ({} networks{}). {caption}.{left_out}",
        c.networks,
        if c.filtered_to_100 {
            ", all at 100% training accuracy"
        } else {
            ""
        }
    );
    let alt = format!(
        "Scatter plots of the generalization gap of {} networks against {}.",
        c.networks,
        shown.join(", ")
    );
    w.emit("correlations", &c.sweep, &fig, caption, alt)
}

fn per_point_figure(w: &mut Writer, pp: &PerPointAnalysis, caption: &str) -> Result<()> {
    // The analytic curves span the points' losses (and at least 1e-6 to 100).
    let (lo, hi) = pp
        .scaled
        .iter()
        .map(|p| p.0)
        .filter(|l| l.is_finite() && *l > 0.0)
        .fold((1e-6f64, 100f64), |(a, b), l| (a.min(l), b.max(l)));
    let (lo, hi) = (lo.max(1e-300).log10(), hi.log10());
    let losses: Vec<f64> = (0..300)
        .map(|i| 10f64.powf(lo + (hi - lo) * i as f64 / 299.0))
        .collect();
    let curve_from = |from: f64, name: &str, color: usize, f: &dyn Fn(f64) -> f64| Series {
        name: name.into(),
        points: losses.iter().filter(|&&l| l >= from).map(|&l| (l, f(l))).collect(),
        color: PALETTE[color],
    };
    // The full-norm range is found numerically and loses precision below losses of 1e-6;
    // the target-row range is in closed form.
    let curve = |name: &str, color: usize, f: &dyn Fn(f64) -> f64| curve_from(1e-6, name, color, f);
    let exact = |name: &str, color: usize, f: &dyn Fn(f64) -> f64| curve_from(0.0, name, color, f);
    let n = pp.classes;
    let dots = |get: &dyn Fn(&(f64, f64, f64)) -> f64| Series {
        name: format!(
            "test points ({} of {} networks)",
            thousands(pp.scaled.len()),
            pp.networks
        ),
        points: pp.scaled.iter().map(|p| (p.0, get(p))).collect(),
        color: GRAY,
    };
    let full = Chart {
        dots: vec![dots(&|p| p.1)],
        lines: vec![
            curve("analytic range, lower end", 0, &|l| full_norm_range(l, n).0),
            curve("analytic range, upper end", 1, &|l| full_norm_range(l, n).1),
            curve("maximum-entropy estimate", 2, &|l| max_entropy_full_norm(l, n)),
        ],
        ..Chart::new(
            "‖J(x)‖_F / C against cross-entropy",
            AxisSpec::log("cross-entropy loss (log)"),
            AxisSpec::log("‖J(x)‖_F / C (log)"),
        )
    };
    let row = Chart {
        dots: vec![dots(&|p| p.2)],
        lines: vec![
            exact("analytic range, lower end", 0, &|l| target_row_range(l, n).0),
            exact("analytic range, upper end", 1, &|l| target_row_range(l, n).1),
        ],
        ..Chart::new(
            "target row ‖J_y(x)‖ / C against cross-entropy",
            AxisSpec::log("cross-entropy loss (log)"),
            AxisSpec::log("‖J_y(x)‖ / C (log)"),
        )
    };
    let fig = ChartGrid {
        title: caption.to_string(),
        panel_size: (600, 520),
        columns: 2,
        charts: vec![full, row],
    };
    let caption = format!(
        "Per test point: input-Jacobian norm (scaled by each network's C) against cross-entropy loss, with the \
         analytic ranges for {n} classes; {} of {} points drawn. {caption}.",
        thousands(pp.scaled.len()),
        thousands(pp.points)
    );
    let alt = format!(
        "Two log-log scatter plots of {} test points: the full Jacobian norm and its target row, each divided by \
         the network's C, rise with the cross-entropy loss, between analytic lower and upper curves.",
        thousands(pp.scaled.len())
    );
    w.emit("per_point", &pp.sweep, &fig, caption, alt)
}

const GRAY: plotters::style::RGBColor = plotters::style::RGBColor(90, 90, 90);

fn profile_figure(w: &mut Writer, sweep: &str, prof: &ProfileArtifact, caption: &str) -> Result<()> {
    let curves = &prof.curves;
    let series = |values: fn(&ProfileCurve) -> &Vec<f64>| -> Vec<Series> {
        curves
            .iter()
            .enumerate()
            .map(|(i, c)| Series {
                name: format!("{} (mean of {})", c.trajectory.name(), c.trajectories),
                points: c.position.iter().copied().zip(values(c).iter().copied()).collect(),
                color: PALETTE[i % PALETTE.len()],
            })
            .collect()
    };
    let anchors: Vec<f64> = curves
        .iter()
        .find(|c| !c.anchors.is_empty())
        .map(|c| c.anchors.clone())
        .unwrap_or_default();
    let panel = |title: &str, y: &str, values: fn(&ProfileCurve) -> &Vec<f64>| Chart {
        x_range: Some((0.0, 1.0)),
        lines: series(values),
        markers: anchors.clone(),
        markers_name: "where the data ellipses pass through their training points".into(),
        y_from_zero: true,
        ..Chart::new(
            title,
            AxisSpec::linear("position along the closed trajectory (0 to 1)"),
            AxisSpec::linear(y),
        )
    };
    let fig = ChartGrid {
        title: caption.to_string(),
        panel_size: (1000, 380),
        columns: 1,
        charts: vec![
            panel("Jacobian norm along closed trajectories", "mean ‖J(x)‖_F", |c| {
                &c.jacobian_norm
            }),
            panel("Transition density", "crossings per unit position", |c| {
                &c.transition_density
            }),
        ],
    };
    let kinds: Vec<&str> = curves.iter().map(|c| c.trajectory.name()).collect();
    let caption = format!(
        "Mean input-Jacobian norm and linear-region transition density along closed trajectories ({}); dashed \
         lines: where the data ellipses pass through their training points. {caption}.",
        kinds.join(", ")
    );
    let alt = format!(
        "Two line charts over the position along closed trajectories, one line per trajectory kind ({}): the \
         mean Jacobian norm and the density of region transitions.",
        kinds.join(", ")
    );
    w.emit("profiles", sweep, &fig, caption, alt)
}

/// Names of the region map's training points: "A = training example #12 (class 7, sneaker)".
fn point_names(reg: &RegionsArtifact, trial: Option<&TrialRecord>, count: usize) -> Vec<String> {
    let indices = reg.training_points;
    let labels = trial.and_then(|t| {
        let splits = DataSource::parse(&t.spec.train.data).and_then(|d| d.load_raw()).ok()?;
        Some((t.spec.train.data.clone(), splits.train.labels))
    });
    (0..count)
        .map(|i| {
            let letter = plot::regions::point_letter(i);
            match (indices.get(i), &labels) {
                (Some(&k), Some((data, l))) if k < l.len() => {
                    format!("{letter} = training example #{k} ({})", class_name(data, l[k]))
                }
                (Some(&k), _) => format!("{letter} = training example #{k}"),
                (None, _) => format!("{letter} = training point {}", i + 1),
            }
        })
        .collect()
}

/// "class 7, sneaker" for the datasets whose class names are known; "class 7" otherwise.
fn class_name(data: &str, label: u16) -> String {
    const FASHION: [&str; 10] = [
        "T-shirt/top",
        "trouser",
        "pullover",
        "dress",
        "coat",
        "sandal",
        "shirt",
        "sneaker",
        "bag",
        "ankle boot",
    ];
    const CIFAR10: [&str; 10] = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ];
    let names: &[&str] = match crate::data::DatasetKind::of_spec(data) {
        Some(crate::data::DatasetKind::FashionMnist) => &FASHION,
        Some(crate::data::DatasetKind::Cifar10) => &CIFAR10,
        _ => &[],
    };
    match names.get(label as usize) {
        Some(n) => format!("class {label}, {n}"),
        None => format!("class {label}"),
    }
}

fn region_figure(
    w: &mut Writer,
    sweep: &str,
    reg: &RegionsArtifact,
    trial: Option<&TrialRecord>,
    caption: &str,
) -> Result<Option<RegionDensity>> {
    let side = reg.grid;
    let anchors: Vec<(f64, f64)> = reg.anchors.iter().map(|a| (a[0], a[1])).collect();
    let (before, after) = (reg.before.mask(), reg.after.mask());
    if side == 0 || before.len() != side * side || after.len() != side * side {
        return Ok(None);
    }
    let layer = reg.layer;
    let (before_near, before_overall) = boundary_density_near(&before, side, &anchors, NEAR_RADIUS);
    let (after_near, after_overall) = boundary_density_near(&after, side, &anchors, NEAR_RADIUS);
    let names = point_names(reg, trial, anchors.len());
    let (panels, exact) = match &reg.exact {
        Some(exact) => exact_panels(exact, layer, &anchors, sweep)?,
        None => {
            let panel = |when: &str, regions: usize, boundary: Vec<bool>| RegionPanel {
                title: format!(
                    "{when}: hidden layer {layer}, {} activation patterns",
                    thousands(regions)
                ),
                shapes: RegionShapes::Raster { side, boundary },
                anchors: anchors.clone(),
            };
            let panels = vec![
                panel("before training", reg.before.regions, before),
                panel("after training", reg.after.regions, after),
            ];
            (panels, None)
        }
    };
    let fig = RegionFigure {
        title: caption.to_string(),
        panels,
        point_names: names.clone(),
        near_radius: Some(NEAR_RADIUS),
    };
    let (what, shown) = match &exact {
        Some(d) => (
            format!(
                "Exact linear regions of hidden layers 1 to {layer} in the plane through three training points ({}), \
                 before and after training: the plane cut into the convex polygons on which every neuron of those \
                 layers keeps its linear piece, computed from the weights, not sampled. Each polygon is one region \
                 (neighbouring regions get different colours; colours repeat); dark lines: the exact boundaries. \
                 Exact: {} regions before training and {} after.",
                names.join("; "),
                thousands(d.before_regions),
                thousands(d.after_regions)
            ),
            "exactly, as polygons",
        ),
        None => (
            format!(
                "Linear regions of hidden layer {layer} in the plane through three training points ({}), before and \
                 after training. Each colour patch is one connected linear region (neighbouring regions get \
                 different colours; colours repeat); dark pixels: boundaries, where the layer's activation pattern \
                 changes.{}",
                names.join("; "),
                reg.exact_skipped
                    .as_ref()
                    .map(|why| format!(" Drawn on the grid, not exactly: {why}."))
                    .unwrap_or_default()
            ),
            "on a grid",
        ),
    };
    let caption = format!(
        "{what} Plane coordinates: the training points sit on a circle of radius {ANCHOR_RADIUS} around the origin; \
         dashed circles: within {NEAR_RADIUS} of a training point in these units. {caption}."
    );
    let alt = match &exact {
        Some(d) => format!(
            "Two maps of linear regions drawn {shown}, before ({} regions) and after training ({} regions), one \
             colour per region with dark boundaries; three red dots mark the training points. After training the \
             boundary length per unit area is {:.2} within {NEAR_RADIUS} of the training points and {:.2} over the \
             whole map.",
            thousands(d.before_regions),
            thousands(d.after_regions),
            d.after_near,
            d.after_overall
        ),
        None => format!(
            "Two {side}×{side} maps of linear regions drawn {shown}, before and after training, coloured one colour \
             per region with dark boundaries; three red dots mark the training points. After training, boundaries \
             cover {:.1}% of the map and {:.1}% of the area within {NEAR_RADIUS} of the training points.",
            100.0 * after_overall,
            100.0 * after_near
        ),
    };
    w.emit("regions", sweep, &fig, caption, alt)?;
    if exact.is_some()
        && let Some(file) = w.figures.get("regions").and_then(|f| f.last())
    {
        name_embedded_png_type(&w.out.join(&file.svg))?;
    }
    Ok(Some(RegionDensity {
        sweep: sweep.to_string(),
        before_near,
        before_overall,
        after_near,
        after_overall,
        exact,
    }))
}

/// Gives the bitmaps plotters embeds in an SVG their MIME type: it writes
/// `data:png;base64,`, which is no media type, so a strict SVG reader shows nothing.
fn name_embedded_png_type(svg: &Path) -> Result<()> {
    let text = std::fs::read_to_string(svg).map_err(|e| crate::error::OccamError::io(svg, e))?;
    if text.contains("\"data:png;base64,") {
        let fixed = text.replace("\"data:png;base64,", "\"data:image/png;base64,");
        crate::error::write_atomic(svg, fixed.as_bytes())?;
    }
    Ok(())
}

/// The two exact maps as panels (their stored images, or the polygons of older stores),
/// and their boundary length per unit area (stored, or measured on the polygons).
fn exact_panels(
    exact: &ExactRegionsArtifact,
    layer: usize,
    anchors: &[(f64, f64)],
    sweep: &str,
) -> Result<(Vec<RegionPanel>, Option<ExactDensity>)> {
    let map = |when: &str, m: &ExactMapArtifact| -> Result<(RegionPanel, (f64, f64))> {
        let shapes = match &m.image {
            Some(image) => {
                let decoded = image
                    .png()
                    .and_then(|png| crate::plot::exact_regions::decode_png(&png))
                    .map_err(|e| {
                        crate::error::OccamError::config(format!(
                            "study {sweep}: the exact region map {when} in the store: {e}"
                        ))
                    })?;
                RegionShapes::ExactImage(decoded)
            }
            None => RegionShapes::Exact {
                polygons: m.polygons_f64(),
            },
        };
        let density = match (&m.density, &shapes) {
            (Some(d), _) => (d.near, d.overall),
            (None, RegionShapes::Exact { polygons }) => {
                let d = polygons_boundary_density(polygons.iter().map(|p| &p[..]), anchors, NEAR_RADIUS);
                (d.near, d.overall)
            }
            (None, _) => (f64::NAN, f64::NAN),
        };
        let panel = RegionPanel {
            title: format!(
                "{when}: hidden layers 1–{layer}, {} linear regions (exact)",
                thousands(m.regions())
            ),
            shapes,
            anchors: anchors.to_vec(),
        };
        Ok((panel, density))
    };
    let (before, (before_near, before_overall)) = map("before training", &exact.before)?;
    let (after, (after_near, after_overall)) = map("after training", &exact.after)?;
    let numbers = ExactDensity {
        before_near,
        before_overall,
        after_near,
        after_overall,
        before_regions: exact.before.regions(),
        after_regions: exact.after.regions(),
    };
    Ok((vec![before, after], Some(numbers)))
}
