//! The report's Fig 3: linear-region maps in the plane of three training points, before
//! and after training — the exact maps a trial stored (image or polygons) or the grid maps
//! — with the training points named by example and class, and their boundary densities.

use super::{NEAR_RADIUS, Writer};
use crate::data::DataSource;
use crate::error::Result;
use crate::measure::regions::ANCHOR_RADIUS;
use crate::measure::regions::boundary_density_near;
use crate::measure::regions_exact::polygons_boundary_density;
use crate::plot::{self, RegionFigure, RegionPanel, RegionShapes};
use crate::report::config::thousands;
use crate::report::{ExactDensity, RegionDensity};
use crate::sweep::TrialRecord;
use crate::sweep::artifact::{ExactMapArtifact, ExactRegionsArtifact, RegionsArtifact};
use std::path::Path;

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

pub(super) fn region_figure(
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
