//! `occam measure jacobian|transitions|profile|regions`: options checked against their
//! ranges (docs/METRICS.md) before any work, and any non-finite result reported as an
//! error naming the model and the point, never as a number.

use super::inputs::{InputArgs, Origin};
use super::model_format::{ModelFormat, load_model_and_data};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use occam::compute::Compute;
use occam::data::Dataset;
use occam::error::write_atomic;
use occam::measure::profile::{Method, Profile};
use occam::measure::ranges;
use occam::measure::trajectory::TrajectoryKind;
use occam::measure::{
    JacobianRequest, MeasureInputs, MeasureProgress, MeasureRequest, Measurements, NonFinite, PointJacobian,
    ProfileRequest, TrajectoryRequest, measure, measure_jacobian_on, resolve_method,
};
use occam::net::Mlp;
use occam::plot::{self, LinePanel, PALETTE, Series, StackedLines};
use serde_json::json;
use std::fmt::Write as _;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

mod exact;
mod regions;

pub use regions::RegionsArgs;

#[derive(Subcommand)]
pub enum MeasureCommand {
    /// Jacobian norms (softmax, logit, target row), loss and prediction per point.
    Jacobian(JacobianArgs),
    /// Linear-region transitions along closed trajectories.
    Transitions(TransitionsArgs),
    /// Jacobian norm and transition density along trajectories (CSV and figure).
    Profile(ProfileArgs),
    /// Region boundaries in the plane of three training points (figure).
    Regions(RegionsArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum Split {
    Train,
    Test,
}

impl Split {
    fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

#[derive(Args, Debug)]
pub struct Common {
    /// A network in the safetensors format (README, "Loading models").
    #[arg(long)]
    model: PathBuf,
    #[command(flatten)]
    format: ModelFormat,
    /// Dataset, as for `occam train`. With --inputs it is optional and supplies only the
    /// training points (those data ellipses are drawn through); without it the inputs serve as the
    /// training points too.
    #[arg(long, required_unless_present = "inputs")]
    data: Option<String>,
    /// Which split supplies the points [default: test].
    #[arg(long, value_enum, conflicts_with = "inputs")]
    split: Option<Split>,
    #[command(flatten)]
    user: InputArgs,
    /// Use the first N points (or N trajectories), in file order: 1 to 1,000,000.
    #[arg(long)]
    limit: Option<usize>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

impl Common {
    /// Refuses a `--per-point` file that is the model itself.
    fn check_output(&self, per_point: Option<&Path>) -> Result<()> {
        if let Some(p) = per_point {
            occam::error::refuse_overwriting_input(p, &self.model, "--per-point")?;
        }
        Ok(())
    }

    /// The network, the training points and the points to measure, and their origin.
    fn load(&self) -> Result<(Mlp, Dataset, Dataset, Origin)> {
        if let Some(limit) = self.limit {
            ranges::count("--limit", limit)?;
        }
        let (net, splits) = match &self.data {
            Some(data) => load_model_and_data(&self.model, &self.format, data).map(|(net, s)| (net, Some(s)))?,
            None => (self.format.load(&self.model)?.net, None),
        };
        let limit = self.limit.unwrap_or(usize::MAX);
        let (train, points, origin) = self.user.measure_points(&net, splits, limit, |splits| {
            let points = match self.split() {
                Split::Train => &splits.train,
                Split::Test => &splits.test,
            };
            if points.is_empty() {
                bail!(
                    "{}: the {} split has no examples to measure",
                    self.data.as_deref().unwrap_or_default(),
                    self.split_name()
                );
            }
            let points = points.take(limit);
            Ok((splits.train, points))
        })?;
        Ok((net, train, points, origin))
    }
    fn split(&self) -> Split {
        self.split.unwrap_or(Split::Test)
    }
    fn split_name(&self) -> &'static str {
        self.split().name()
    }
    /// The error for a non-finite result: the model, the points and where it happened.
    fn non_finite(&self, what: &str, bad: NonFinite) -> anyhow::Error {
        let data = self.data.as_deref().unwrap_or_default();
        let points = match &self.user.inputs {
            Some(inputs) => format!("--inputs {inputs}"),
            None => format!("the {} split of {data}", self.split_name()),
        };
        anyhow::anyhow!("{}: non-finite result on {points}, {what}: {bad}", self.model.display())
    }
}

pub fn run(cmd: MeasureCommand) -> Result<()> {
    let device = super::device();
    if device.is_cuda() && !matches!(cmd, MeasureCommand::Jacobian(_)) {
        // Transitions, profiles and region maps are host algorithms (exact walks with
        // data-dependent control flow); only the Jacobian norms run on a GPU.
        super::device::open(device)?;
        eprintln!("note: --device {device}: this measurement runs on the CPU; only `measure jacobian` uses the GPU");
    }
    match cmd {
        MeasureCommand::Jacobian(a) => run_jacobian(a),
        MeasureCommand::Transitions(a) => run_transitions(a),
        MeasureCommand::Profile(a) => run_profile(a),
        MeasureCommand::Regions(a) => regions::run_regions(a),
    }
}

#[derive(Args, Debug)]
pub struct JacobianArgs {
    #[command(flatten)]
    common: Common,
    /// Write index,label,predicted,loss,jacobian_norm,logit_jacobian_norm,target_row_norm.
    #[arg(long)]
    per_point: Option<PathBuf>,
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// Runs one request through the library's measurement entry point with a progress bar
/// (`unit` names what it counts).
fn measure_with_bar(
    common: &Common,
    net: &Mlp,
    points: &Dataset,
    train: &Dataset,
    origin: &Origin,
    request: &MeasureRequest,
    unit: &'static str,
) -> Result<Measurements> {
    let inputs = MeasureInputs {
        points,
        labelled: origin.labelled(),
        train,
    };
    let compute = Compute::new(super::threads());
    let bar = occam::progress::bar(!common.quiet, 0, unit);
    let measured = measure(net, &compute, inputs, request, &mut show_on(&bar))?;
    bar.finish_and_clear();
    Ok(measured)
}

/// The library's progress callback, drawn on `bar`.
fn show_on(bar: &indicatif::ProgressBar) -> impl FnMut(MeasureProgress) -> ControlFlow<()> + '_ {
    |p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
        ControlFlow::Continue(())
    }
}

fn run_jacobian(args: JacobianArgs) -> Result<()> {
    args.common.check_output(args.per_point.as_deref())?;
    let (net, train, points, origin) = args.common.load()?;
    let labelled = origin.labelled();
    let request = MeasureRequest {
        jacobian: Some(JacobianRequest { points: None }),
        ..Default::default()
    };
    let (results, non_finite) = match super::device() {
        occam::compute::Device::Cpu => {
            let measured = measure_with_bar(&args.common, &net, &points, &train, &origin, &request, "points")?;
            (measured.points, measured.jacobian_non_finite)
        }
        device => {
            // The library's Jacobian part on the GPU: the CPU path's checks, messages,
            // chunks and non-finite stop, with the network uploaded once.
            let chosen = super::device::open(device)?;
            let inputs = MeasureInputs {
                points: &points,
                labelled,
                train: &train,
            };
            let bar = occam::progress::bar(!args.common.quiet, 0, "points");
            let measured = super::device::with_backend!(&chosen, b => {
                let device_net = occam::compute::DeviceNet::upload(b, &net);
                measure_jacobian_on(b, &device_net, inputs, JacobianRequest { points: None }, &mut show_on(&bar))
            });
            bar.finish_and_clear();
            super::device::check(&chosen)?;
            measured?
        }
    };
    if let Some(bad) = non_finite {
        return Err(args.common.non_finite(&format!("Jacobian at point {}", bad.point), bad));
    }
    if let Some(path) = &args.per_point {
        write_atomic(
            path,
            jacobian_csv(&results, labelled.then_some(&points.labels[..]))?.as_bytes(),
        )?;
    }
    let summary = json!({
        "model": args.common.model, "data": args.common.data, "split": args.common.split_name(),
        "points": results.len(),
        "mean_jacobian_norm": mean(results.iter().map(|r| r.jacobian_norm)),
        "mean_logit_jacobian_norm": mean(results.iter().map(|r| r.logit_jacobian_norm)),
        "mean_target_row_norm": mean(results.iter().map(|r| r.target_row_norm)),
        "mean_loss": mean(results.iter().map(|r| r.loss)),
        "accuracy": mean(results.iter().zip(&points.labels).map(|(r, &l)| (r.predicted == l as usize) as u8 as f64)),
    });
    print_summary(summary, &args.common, &origin);
    Ok(())
}

/// The per-point rows; without labels no label, loss or target-row column.
fn jacobian_csv(results: &[PointJacobian], labels: Option<&[u16]>) -> Result<String> {
    let mut csv = match labels {
        Some(_) => String::from("index,label,predicted,loss,jacobian_norm,logit_jacobian_norm,target_row_norm\n"),
        None => String::from("index,predicted,jacobian_norm,logit_jacobian_norm\n"),
    };
    for (i, r) in results.iter().enumerate() {
        match labels {
            Some(l) => writeln!(
                csv,
                "{i},{},{},{},{},{},{}",
                l[i], r.predicted, r.loss, r.jacobian_norm, r.logit_jacobian_norm, r.target_row_norm
            )?,
            None => writeln!(csv, "{i},{},{},{}", r.predicted, r.jacobian_norm, r.logit_jacobian_norm)?,
        }
    }
    Ok(csv)
}

/// Prints a summary, saying where the points came from.
fn print_summary(mut summary: serde_json::Value, common: &Common, origin: &Origin) {
    origin.annotate(&mut summary);
    if common.json {
        println!("{summary}");
    } else {
        for (k, v) in summary.as_object().unwrap() {
            println!("{k:>26}: {v}");
        }
    }
}

#[derive(Args, Debug)]
pub struct TrajectoryArgs {
    /// Seed of the random ellipses and of the training triplets of data ellipses. The rule
    /// is a sweep's: the measurement seed is `[measure] seed` when set, else the training
    /// seed; so pass the model's training seed (default 1, the default of `occam train`
    /// and of sweeps) to measure the trajectories its sweep trial measured.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// exact (piecewise-linear activations; the default for them) or sampled.
    #[arg(long, value_enum)]
    method: Option<Method>,
    /// Samples per trajectory for --method sampled (the paper's k = 2^20): 2 to 2^30.
    #[arg(long, default_value_t = 1 << 20)]
    points: usize,
}

impl TrajectoryArgs {
    /// The library's trajectory request for `count` trajectories of `kind`, after
    /// checking `--points` and `--method` (so that errors name the options).
    fn request(&self, net: &Mlp, kind: TrajectoryKind, count: usize) -> Result<TrajectoryRequest> {
        ranges::samples("--points", self.points)?;
        let method = resolve_method(net, self.method).map_err(|_| {
            anyhow::anyhow!(
                "--method exact needs a piecewise-linear activation; {} is counted with --method sampled",
                net.activation()
            )
        })?;
        Ok(TrajectoryRequest {
            kind,
            count,
            method: Some(method),
            samples: self.points,
            seed: self.seed,
        })
    }
}

#[derive(Args, Debug)]
pub struct TransitionsArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, value_enum)]
    trajectory: TrajectoryKind,
    #[command(flatten)]
    traj: TrajectoryArgs,
    /// Write index,transitions,layer_1,…,layer_{L−1}.
    #[arg(long)]
    per_point: Option<PathBuf>,
}

/// Trajectories of `kind` the CLI asks for: one per point for `translate` (the points are
/// already cut to `--limit`), else `--limit` or `default`.
fn trajectory_count(kind: TrajectoryKind, points: &Dataset, limit: Option<usize>, default: usize) -> usize {
    match kind {
        TrajectoryKind::Translate => points.len(),
        _ => limit.unwrap_or(default),
    }
}

fn run_transitions(args: TransitionsArgs) -> Result<()> {
    args.common.check_output(args.per_point.as_deref())?;
    let (net, train, points, origin) = args.common.load()?;
    origin.check_classes("--trajectory", &[args.trajectory])?;
    let count = trajectory_count(args.trajectory, &points, args.common.limit, 100);
    let request = MeasureRequest {
        transitions: Some(args.traj.request(&net, args.trajectory, count)?),
        ..Default::default()
    };
    let measured = measure_with_bar(&args.common, &net, &points, &train, &origin, &request, "trajectories")?;
    let result = measured.transitions.expect("transitions were requested");
    if let Some(bad) = result.non_finite {
        let what = format!("transitions along {} trajectory {}", args.trajectory.name(), bad.point);
        return Err(args.common.non_finite(&what, bad));
    }
    let method = result.method;
    let rows = result.counts;
    let hidden = net.depth() - 1;
    if let Some(path) = &args.per_point {
        let mut csv = String::from("index,transitions");
        (1..=hidden).for_each(|l| csv.push_str(&format!(",layer_{l}")));
        csv.push('\n');
        for (i, r) in rows.iter().enumerate() {
            write!(csv, "{i},{}", r.total)?;
            r.per_layer.iter().for_each(|c| csv.push_str(&format!(",{c}")));
            csv.push('\n');
        }
        write_atomic(path, csv.as_bytes())?;
    }
    let per_layer: Vec<f64> = (0..hidden)
        .map(|l| mean(rows.iter().map(|r| r.per_layer[l] as f64)))
        .collect();
    let summary = json!({
        "model": args.common.model, "data": args.common.data, "trajectory": args.trajectory.name(),
        "method": method, "samples_per_trajectory": (method == Method::Sampled).then_some(args.traj.points),
        "points": rows.len(), "seed": args.traj.seed,
        "mean_transitions": mean(rows.iter().map(|r| r.total as f64)),
        "mean_transitions_per_layer": per_layer,
    });
    print_summary(summary, &args.common, &origin);
    Ok(())
}

#[derive(Args, Debug)]
pub struct ProfileArgs {
    #[command(flatten)]
    common: Common,
    /// One or more trajectory kinds, comma-separated (one curve each).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = vec![TrajectoryKind::RandomEllipse, TrajectoryKind::DifferentClassEllipse, TrajectoryKind::SameClassEllipse])]
    trajectory: Vec<TrajectoryKind>,
    #[command(flatten)]
    traj: TrajectoryArgs,
    /// Bins along the loop: 2 to 4096.
    #[arg(long, default_value_t = 256)]
    bins: usize,
    /// Output directory for profile.csv, profile.png and profile.svg.
    #[arg(long)]
    out: PathBuf,
}

fn run_profile(args: ProfileArgs) -> Result<()> {
    ranges::bins("--bins", args.bins)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("--out: creating {}", args.out.display()))?;
    let (net, train, points, origin) = args.common.load()?;
    origin.check_classes("--trajectory", &args.trajectory)?;
    let curves = args
        .trajectory
        .iter()
        .map(|&kind| {
            let count = trajectory_count(kind, &points, args.common.limit, 20);
            args.traj.request(&net, kind, count)
        })
        .collect::<Result<Vec<_>>>()?;
    let request = MeasureRequest {
        profile: Some(ProfileRequest {
            curves,
            bins: args.bins,
        }),
        ..Default::default()
    };
    let measured = measure_with_bar(&args.common, &net, &points, &train, &origin, &request, "trajectories")?;
    let result = measured.profiles.expect("profiles were requested");
    if let Some((kind, bad)) = result.non_finite {
        let what = format!("profile along {} trajectory {}", kind.name(), bad.point);
        return Err(args.common.non_finite(&what, bad));
    }
    let (method, profiles) = (result.method, result.curves);
    let mut csv = String::from("trajectory,position,jacobian_norm,transition_density\n");
    for (kind, p) in &profiles {
        for b in 0..p.position.len() {
            writeln!(
                csv,
                "{},{},{},{}",
                kind.name(),
                p.position[b],
                p.jacobian_norm[b],
                p.transition_density[b]
            )?;
        }
    }
    write_atomic(&args.out.join("profile.csv"), csv.as_bytes())?;
    let figure = profile_figure(&profiles, &net, method, args.traj.points);
    let [png, svg] = plot::render(&args.out.join("profile"), &figure)?;
    let summary = json!({
        "model": args.common.model, "data": args.common.data, "method": method,
        "profiles": profiles.iter().map(|(k, p)| json!({"trajectory": k.name(), "trajectories": p.trajectories, "mean_transitions": p.mean_transitions, "mean_jacobian_norm": mean(p.jacobian_norm.iter().copied())})).collect::<Vec<_>>(),
        "csv": args.out.join("profile.csv"), "png": png, "svg": svg,
    });
    print_summary(summary, &args.common, &origin);
    Ok(())
}

/// The two stacked panels of a profile: Jacobian norm and transition density.
fn profile_figure(profiles: &[(TrajectoryKind, Profile)], net: &Mlp, method: Method, k: usize) -> StackedLines {
    let series = |f: &dyn Fn(&Profile) -> &Vec<f64>| -> Vec<Series> {
        profiles
            .iter()
            .enumerate()
            .map(|(i, (kind, p))| Series {
                name: format!("{} (n = {})", kind.name(), p.trajectories),
                points: p.position.iter().copied().zip(f(p).iter().copied()).collect(),
                color: PALETTE[i % PALETTE.len()],
            })
            .collect()
    };
    let anchors = profiles
        .iter()
        .find(|(_, p)| !p.anchors.is_empty())
        .map(|(_, p)| p.anchors.clone())
        .unwrap_or_default();
    let title = format!(
        "{}, depth {}, width {}, {} transitions",
        net.activation(),
        net.depth(),
        net.dims().get(1).copied().unwrap_or(0),
        match method {
            Method::Exact => "exact".to_string(),
            Method::Sampled => format!("k = {}", k),
        }
    );
    StackedLines {
        width: 1000,
        panel_height: 380,
        panels: vec![
            LinePanel {
                title: format!("Jacobian norm along closed trajectories ({title})"),
                x_label: "position along the closed trajectory (anchors dashed)".into(),
                y_label: "mean ‖J(x)‖_F".into(),
                x_range: (0.0, 1.0),
                series: series(&|p| &p.jacobian_norm),
                markers: anchors.clone(),
                log_y: false,
            },
            LinePanel {
                title: "Transition density".into(),
                x_label: "position along the closed trajectory (anchors dashed)".into(),
                y_label: "crossings per unit position".into(),
                x_range: (0.0, 1.0),
                series: series(&|p| &p.transition_density),
                markers: anchors,
                log_y: false,
            },
        ],
    }
}
