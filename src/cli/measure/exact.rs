//! `occam measure regions --exact`: the exact partition of the plane into linear regions
//! (piecewise-linear activations), drawn as polygons, with its counts per layer and the
//! boundary length per unit area near the training points and over the whole map.

use super::regions::{RegionsArgs, Staged, region_points};
use crate::cli::inputs::Origin;
use anyhow::{Result, bail};
use clap::{Args, ValueEnum};
use occam::data::Dataset;
use occam::error::write_atomic;
use occam::measure::regions_exact::{
    self, BoundaryDensity, ExactRegionMap, ExactRequest, MAX_REGIONS_RANGE, PlaneCoordinates,
};
use occam::net::Mlp;
use occam::plot::{self, RegionMaps, RegionPanel, RegionShapes};
use serde_json::json;

/// Which plane the map lies in.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum PlaneChoice {
    /// Through three training examples (--points or --triplet).
    TrainingPoints,
    /// Through the origin along two random directions N(0, I) drawn from --seed (the
    /// random ellipse of index 0 of that seed is the map's unit circle); --exact only.
    Random,
}

/// The default radius of "near the training points", in plane units (the report's too).
pub const DEFAULT_NEAR_RADIUS: f64 = 0.1;
/// The smallest radius: a thousandth of the square's side. A smaller disc holds too
/// little boundary for its density to say anything about the training points.
const MIN_NEAR_RADIUS: f64 = 1e-3;
/// The largest radius: the discs around the three training points stay apart.
const MAX_NEAR_RADIUS: f64 = 0.6;
/// The region cap when --max-regions is not given.
const DEFAULT_MAX_REGIONS: usize = 1_000_000;

#[derive(Args, Debug)]
pub struct ExactArgs {
    /// Cut the plane exactly into the convex regions of hidden layers 1 to --layer
    /// (relu, relu6, hard_tanh, hard_sigmoid), instead of sampling codes on a --grid.
    #[arg(long)]
    pub exact: bool,
    /// The plane: through three training examples, or random (with --exact).
    #[arg(long, value_enum, default_value = "training-points")]
    pub plane: PlaneChoice,
    /// With --exact: the most regions the map may have, 1 to 50,000,000 (about 256 bytes
    /// each); a map with more is refused, never cut short [default: 1000000].
    #[arg(long)]
    pub max_regions: Option<usize>,
    /// With --exact and a plane through training points: the radius (plane units, 0.001 to
    /// 0.6) around each training point within which boundary length per unit area is
    /// reported [default: 0.1].
    #[arg(long)]
    pub near_radius: Option<f64>,
}

impl ExactArgs {
    pub fn random_plane(&self) -> bool {
        self.plane == PlaneChoice::Random
    }

    /// Options that only make sense together, and their ranges.
    pub fn check(&self, args: &RegionsArgs) -> Result<()> {
        if !self.exact {
            if self.random_plane() {
                bail!("--plane random draws an exact map: add --exact");
            }
            if let Some(r) = self.near_radius {
                bail!("--near-radius {r} applies to exact maps: add --exact");
            }
            if let Some(n) = self.max_regions {
                bail!("--max-regions {n} caps exact maps: add --exact (a grid map's size is set by --grid)");
            }
            return Ok(());
        }
        if self.random_plane() && args.points.is_some() {
            bail!("--plane random and --points: a random plane passes through no training points; give one of them");
        }
        if let (true, Some(r)) = (self.random_plane(), self.near_radius) {
            bail!(
                "--near-radius {r} and --plane random: a random plane passes through no training points, so \
                 nothing is near them; give one of them"
            );
        }
        let (lo, hi) = MAX_REGIONS_RANGE;
        occam::limits::in_range("--max-regions", self.max_regions(), lo, hi)?;
        if let Some(r) = self.near_radius {
            occam::limits::finite_in_range("--near-radius", r, MIN_NEAR_RADIUS, MAX_NEAR_RADIUS)?;
        }
        Ok(())
    }

    fn max_regions(&self) -> usize {
        self.max_regions.unwrap_or(DEFAULT_MAX_REGIONS)
    }
}

/// Maps `net` (and `initial`, first, when given) exactly up to hidden layer `layer`
/// (1-based), writes regions.png, regions.svg and regions.json into --out and prints the
/// summary.
pub fn run(
    args: &RegionsArgs,
    net: &Mlp,
    initial: Option<&Mlp>,
    train: &Dataset,
    origin: &Origin,
    layer: usize,
    staged: Staged,
) -> Result<()> {
    let (plane, idx) = match args.exact.plane {
        PlaneChoice::Random => (PlaneCoordinates::random(net.input_dim(), args.seed())?, None),
        PlaneChoice::TrainingPoints => {
            let idx = region_points(args, train)?;
            (PlaneCoordinates::through(idx.map(|i| train.input(i)))?, Some(idx))
        }
    };
    let radius = args.exact.near_radius.unwrap_or(DEFAULT_NEAR_RADIUS);
    let request = ExactRequest {
        layer: layer - 1,
        max_regions: args.exact.max_regions(),
    };
    let networks: Vec<(&str, &Mlp)> = match initial {
        Some(before) => vec![("before training", before), ("after training", net)],
        None => vec![("network", net)],
    };
    let mut panels = Vec::new();
    let mut counts = Vec::new();
    for (name, n) in networks {
        let map = regions_exact::exact_region_map(n, &plane, request)?;
        if let Some(bad) = map.non_finite {
            return Err(super::regions::non_finite(
                args,
                &format!("exact region map {name}"),
                bad,
            ));
        }
        let density = regions_exact::boundary_density(&map, radius);
        counts.push(map_summary(name, &map, density));
        panels.push(RegionPanel {
            title: format!("{name}: {}, {} regions (exact)", layers_up_to(layer), map.regions.len()),
            anchors: map.anchors.clone(),
            shapes: RegionShapes::Exact {
                polygons: map.regions.into_iter().map(|r| r.vertices).collect(),
            },
        });
    }
    plot::render(&staged.path("regions"), &RegionMaps { panels })?;
    let labels: Option<Vec<u16>> = idx
        .filter(|_| origin.train_labelled())
        .map(|idx| idx.iter().map(|&i| train.labels[i]).collect());
    let (png, svg, json_path) = (
        staged.destination("regions.png"),
        staged.destination("regions.svg"),
        staged.destination("regions.json"),
    );
    let plane_name = match args.exact.plane {
        PlaneChoice::Random => "random",
        PlaneChoice::TrainingPoints => "training-points",
    };
    let summary = json!({
        "model": args.common.model, "exact": true, "layer": layer, "plane": plane_name,
        "seed": args.seed_used(),
        "training_points": idx, "labels": labels, "near_radius": radius, "maps": counts,
        "png": png, "svg": svg, "json": json_path,
    });
    let mut written = summary.clone();
    origin.annotate(&mut written);
    write_atomic(&staged.path("regions.json"), format!("{written:#}\n").as_bytes())?;
    staged.commit()?;
    super::print_summary(summary, &args.common, origin);
    Ok(())
}

/// "hidden layer 1" or "hidden layers 1–k": the layers an exact map of layer `layer`
/// (1-based) cuts by.
fn layers_up_to(layer: usize) -> String {
    if layer == 1 {
        "hidden layer 1".to_string()
    } else {
        format!("hidden layers 1–{layer}")
    }
}

/// One map's numbers: regions per layer and in total, the layer's own patterns, and the
/// boundary length per unit area (near the training points: null on a random plane).
fn map_summary(name: &str, map: &ExactRegionMap, density: BoundaryDensity) -> serde_json::Value {
    let finite = |x: f64| x.is_finite().then_some(x);
    json!({
        "network": name,
        "regions": map.regions.len(),
        "regions_per_layer": map.per_layer,
        "layer_codes": map.layer_codes,
        "boundary_length_per_area_near": finite(density.near),
        "boundary_length_per_area": density.overall,
        "near_to_overall": finite(density.near / density.overall),
    })
}
