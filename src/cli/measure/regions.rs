//! `occam measure regions`: the options of a region map (sampled on a grid, or exact)
//! checked together so that none is silently ignored, the plane's three training points,
//! the grid map, and the outputs, which are staged and moved into --out together so a run
//! that fails leaves --out as it was.

use super::exact::{self, ExactArgs};
use super::{Common, print_summary};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use occam::compute::Compute;
use occam::data::Dataset;
use occam::measure::ranges;
use occam::measure::trajectory::{self, TrajectoryKind};
use occam::measure::{MeasureInputs, MeasureRequest, NonFinite, Plane, RegionRequest, measure};
use occam::net::Mlp;
use occam::plot::{self, RegionMaps, RegionPanel, RegionShapes};
use serde_json::json;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Grid points per side of a grid map when --grid is not given.
const DEFAULT_GRID: usize = 400;
/// The seed of the triplet choice (or of a random plane) when --seed is not given.
const DEFAULT_SEED: u64 = 1;

/// How the plane's three training examples are picked when --points does not name them.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Triplet {
    /// Three examples of one class.
    SameClassEllipse,
    /// Three examples of three different classes.
    DifferentClassEllipse,
}

impl Triplet {
    fn kind(self) -> TrajectoryKind {
        match self {
            Triplet::SameClassEllipse => TrajectoryKind::SameClassEllipse,
            Triplet::DifferentClassEllipse => TrajectoryKind::DifferentClassEllipse,
        }
    }
}

#[derive(Args, Debug)]
#[command(mut_arg("data", |a| a.help(
    "Dataset, as for `occam train`: its training split holds the plane's three points. Give \
     --data or --inputs, not both: with --inputs the inputs are the training points"
)))]
// One plane through training examples: no split is measured and no list of points cut.
#[command(mut_arg("split", |a| a.hide(true)), mut_arg("limit", |a| a.hide(true)))]
pub struct RegionsArgs {
    #[command(flatten)]
    pub(super) common: Common,
    /// The same network before training (e.g. model_init.safetensors from --save-init),
    /// drawn beside it.
    #[arg(long)]
    pub(super) initial: Option<PathBuf>,
    /// Hidden layer whose code is drawn, 1-based (default: the last hidden layer).
    #[arg(long)]
    pub(super) layer: Option<usize>,
    /// Grid points per side: 2 to 4096 [default: 400]. Not with --exact.
    #[arg(long)]
    pub(super) grid: Option<usize>,
    /// How the three training points are picked [default: different-class-ellipse]. Not
    /// with --points or --plane random.
    #[arg(long, value_enum)]
    pub(super) triplet: Option<Triplet>,
    /// Indices of three different training examples spanning a plane, as `A B C` or
    /// `A,B,C` (instead of --triplet and --seed).
    #[arg(long, value_delimiter = ',', num_args = 1..=3)]
    pub(super) points: Option<Vec<usize>>,
    /// Seed of the --triplet choice: the same as a sweep spec's `[measure] seed` (a sweep
    /// without one uses each trial's training seed); with --plane random, the seed of the
    /// plane [default: 1]. Not with --points, which involve no choice.
    #[arg(long)]
    pub(super) seed: Option<u64>,
    /// Output directory for regions.png and regions.svg (and regions.json with --exact).
    #[arg(long)]
    pub(super) out: PathBuf,
    #[command(flatten)]
    pub(super) exact: ExactArgs,
}

impl RegionsArgs {
    pub(super) fn seed(&self) -> u64 {
        self.seed.unwrap_or(DEFAULT_SEED)
    }

    /// The seed when it chose something (the triplet or a random plane); `None` with
    /// --points.
    pub(super) fn seed_used(&self) -> Option<u64> {
        self.points.is_none().then(|| self.seed())
    }

    fn triplet(&self) -> Triplet {
        self.triplet.unwrap_or(Triplet::DifferentClassEllipse)
    }

    /// Refuses options this run would ignore, naming them and saying why.
    fn check_options(&self) -> Result<()> {
        if let Some(n) = self.common.limit {
            match self.points {
                Some(_) => bail!(
                    "--limit {n} and --points: measure regions measures no list of points, only the plane through \
                     the three training examples --points names: leave --limit out"
                ),
                None => bail!(
                    "--limit {n}: measure regions measures no list of points, only the plane through three training \
                     examples picked from the whole training split by --triplet and --seed: leave --limit out"
                ),
            }
        }
        if let Some(split) = self.common.split {
            bail!(
                "--split {}: measure regions measures no split; its plane passes through training examples \
                 (--data's training split, or --inputs): leave --split out",
                split.name()
            );
        }
        if self.points.is_some() {
            if let Some(seed) = self.seed {
                bail!(
                    "--seed {seed} and --points: the seed picks a --triplet, and --points leave nothing to pick; give one of them"
                );
            }
            if let Some(t) = self.triplet {
                bail!(
                    "--triplet {} and --points: --points name the three training points, so no triplet is picked; give one of them",
                    t.kind().name()
                );
            }
        }
        if self.exact.exact {
            if let Some(grid) = self.grid {
                bail!("--grid {grid} and --exact: an exact map is computed, not sampled on a grid; give one of them");
            }
        } else {
            ranges::grid("--grid", self.grid.unwrap_or(DEFAULT_GRID))?;
        }
        if self.exact.random_plane()
            && let Some(t) = self.triplet
        {
            bail!(
                "--triplet {} and --plane random: a random plane passes through no training points, so no triplet \
                 is picked; give one of them",
                t.kind().name()
            );
        }
        self.exact.check(self)
    }
}

/// `occam measure regions`.
pub fn run_regions(args: RegionsArgs) -> Result<()> {
    args.check_options()?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("--out: creating {}", args.out.display()))?;
    let outputs: &[&str] = if args.exact.exact {
        &["regions.png", "regions.svg", "regions.json"]
    } else {
        &["regions.png", "regions.svg"]
    };
    let staged = Staged::new(&args.out, outputs)?;
    let why = "regions draws the plane of three training points, from --inputs or from --data's training split";
    args.common.user.refuse_with_data(args.common.data.as_deref(), why)?;
    let (net, train, _, origin) = args.common.load()?;
    if args.points.is_none() && !args.exact.random_plane() {
        origin.check_classes("--triplet", &[args.triplet().kind()])?;
    }
    let hidden = net.depth() - 1;
    if hidden == 0 {
        bail!("{}: the network has no hidden layer", args.common.model.display());
    }
    let layer = args.layer.unwrap_or(hidden);
    if layer == 0 || layer > hidden {
        bail!("--layer {layer}: the network has hidden layers 1..{hidden}");
    }
    let initial = initial_network(&args, &net)?;
    if args.exact.exact {
        return exact::run(&args, &net, initial.as_ref(), &train, &origin, layer, staged);
    }
    let grid = args.grid.unwrap_or(DEFAULT_GRID);
    occam::measure::regions::check_grid("--grid", grid, &net)?;
    let idx = region_points(&args, &train)?;
    let names: &[&str] = match initial {
        Some(_) => &["before training", "after training"],
        None => &["network"],
    };
    let request = MeasureRequest {
        regions: Some(RegionRequest {
            plane: Plane::Points(idx),
            layer: Some(layer),
            grid,
            initial,
        }),
        ..Default::default()
    };
    let inputs = MeasureInputs {
        points: &train,
        labelled: false,
        train: &train,
    };
    let compute = Compute::new(crate::cli::threads());
    let measured = measure(&net, &compute, inputs, &request, &mut |_| ControlFlow::Continue(()))?;
    let maps = measured.regions.map(|r| r.maps).unwrap_or_default();
    let labels: Option<Vec<u16>> = origin
        .train_labelled()
        .then(|| idx.iter().map(|&i| train.labels[i]).collect());
    let mut panels = Vec::new();
    let mut counts = Vec::new();
    for (name, map) in names.iter().zip(maps) {
        if let Some(bad) = map.non_finite {
            return Err(non_finite(
                &args,
                &format!("region map {name}, grid pixel {}", bad.point),
                bad,
            ));
        }
        counts.push(json!({"network": name, "regions": map.regions, "boundary_fraction": map.boundary.iter().filter(|&&b| b).count() as f64 / map.boundary.len() as f64}));
        panels.push(RegionPanel {
            title: format!("{name}: layer {layer} regions ({} codes)", map.regions),
            shapes: RegionShapes::Raster {
                side: map.side,
                boundary: map.boundary,
            },
            anchors: map.anchors,
        });
    }
    plot::render(&staged.path("regions"), &RegionMaps { panels })?;
    let summary = json!({"model": args.common.model, "layer": layer, "training_points": idx, "labels": labels,
        "seed": args.seed_used(), "grid": grid, "maps": counts,
        "png": staged.destination("regions.png"), "svg": staged.destination("regions.svg")});
    staged.commit()?;
    print_summary(summary, &args.common, &origin);
    Ok(())
}

/// The error for a non-finite map: the model, the plane's points and where it happened.
pub(super) fn non_finite(args: &RegionsArgs, what: &str, bad: NonFinite) -> anyhow::Error {
    let plane = if args.exact.random_plane() {
        format!("a random plane (seed {})", args.seed())
    } else {
        match (&args.common.user.inputs, &args.common.data) {
            (Some(inputs), _) => format!("the plane through points of --inputs {inputs}"),
            (None, data) => format!(
                "the plane through training examples of {}",
                data.as_deref().unwrap_or_default()
            ),
        }
    };
    anyhow::anyhow!(
        "{}: non-finite result on {plane}, {what}: {bad}",
        args.common.model.display()
    )
}

/// The network before training (`--initial`), checked to have the same architecture.
fn initial_network(args: &RegionsArgs, net: &Mlp) -> Result<Option<Mlp>> {
    let Some(init) = &args.initial else {
        return Ok(None);
    };
    let before = args.common.format.load(init)?.for_inputs_of_shape(net.input_shape());
    if before.dims() != net.dims() || before.activation() != net.activation() {
        bail!(
            "{}: not the same architecture as {}",
            init.display(),
            args.common.model.display()
        );
    }
    Ok(Some(before))
}

/// The three training examples spanning the plane: `--points`, or a triplet picked by
/// `--triplet` and `--seed`; checked to exist, to differ and to span a plane.
pub(super) fn region_points(args: &RegionsArgs, train: &Dataset) -> Result<[usize; 3]> {
    let idx: [usize; 3] = match &args.points {
        Some(p) => match p[..] {
            [a, b, c] => [a, b, c],
            _ => bail!(
                "--points takes three training-example indices (e.g. --points 0 1 2 or --points 0,1,2), got {}",
                p.len()
            ),
        },
        None => {
            let same_class = args.triplet() == Triplet::SameClassEllipse;
            trajectory::pick_triplet(train, same_class, args.seed(), 0)?
        }
    };
    if let Some(&bad) = idx.iter().find(|&&i| i >= train.len()) {
        bail!(
            "--points: training example {bad} does not exist ({} examples)",
            train.len()
        );
    }
    let what = if args.points.is_some() {
        "--points"
    } else {
        "training examples picked by --triplet"
    };
    if idx[0] == idx[1] || idx[1] == idx[2] || idx[0] == idx[2] {
        bail!(
            "{what} {} {} {}: the three training examples must be different",
            idx[0],
            idx[1],
            idx[2]
        );
    }
    let x = idx.map(|i| train.input(i));
    trajectory::check_spans_plane(x)
        .map_err(|why| anyhow::anyhow!("{what} {} {} {}: {why}", idx[0], idx[1], idx[2]))?;
    Ok(idx)
}

/// A run's output files, written into a hidden folder inside --out and moved into place
/// together once all are written, so that a run that fails leaves --out as it was. The
/// folder is removed when this is dropped, whatever happened.
pub(super) struct Staged {
    out: PathBuf,
    folder: PathBuf,
    names: Vec<&'static str>,
}

impl Staged {
    /// Checks the destinations before any work (none may be a directory) and makes the
    /// staging folder.
    pub(super) fn new(out: &Path, names: &[&'static str]) -> Result<Staged> {
        check_destinations(out, names)?;
        let folder = out.join(format!(".regions.tmp{}", std::process::id()));
        std::fs::create_dir_all(&folder).with_context(|| format!("--out: creating {}", folder.display()))?;
        Ok(Staged {
            out: out.to_path_buf(),
            folder,
            names: names.to_vec(),
        })
    }

    /// Where output `name` is written before it is moved into place.
    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.folder.join(name)
    }

    /// Where output `name` ends up.
    pub(super) fn destination(&self, name: &str) -> PathBuf {
        self.out.join(name)
    }

    /// Moves every output into place, after checking the destinations again.
    pub(super) fn commit(self) -> Result<()> {
        check_destinations(&self.out, &self.names)?;
        for name in &self.names {
            let to = self.destination(name);
            std::fs::rename(self.path(name), &to).with_context(|| format!("--out: writing {}", to.display()))?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// Refuses to start when a destination is a directory: the files could not replace it.
fn check_destinations(out: &Path, names: &[&str]) -> Result<()> {
    if let Some(dir) = names.iter().map(|n| out.join(n)).find(|p| p.is_dir()) {
        bail!(
            "--out {}: {} is a directory, and measure regions writes {} there: move it away or choose another --out",
            out.display(),
            dir.display(),
            names.join(", ")
        );
    }
    Ok(())
}
