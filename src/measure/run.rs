//! The one measurement entry point: a network, the points to measure it on and a
//! [`MeasureRequest`] in, typed per-point and per-network results ([`Measurements`]) out.
//! `occam measure`, the sweep runner and the Python binding all call [`measure`], so the
//! trajectory counts, the counting method, the seeds and the region-map planes are chosen
//! here once. Caller input (wrong input lengths, labels outside the classes, counts out of
//! range) is a `Result` error; non-finite arithmetic stops the affected measurement and is
//! reported in its result, never as a number.

use super::finite::{NonFinite, check_jacobians};
use super::jacobian::{JacobianPlan, PointJacobian};
use super::parallel::in_order_by_groups;
use super::profile::{Method, Trajectories, profile};
use super::regions::region_map;
use super::request::{
    JacobianRequest, MeasureInputs, MeasureProgress, MeasureRequest, Measurements, Plane, ProfileRequest,
    ProfilesResult, RegionRequest, RegionsResult, TrajectoryRequest, TransitionsResult,
};
use super::trajectory::{self, Trajectory, TrajectoryKind};
use super::transitions::{
    ExactWalk, TRAJECTORY_BUDGET, TransitionCount, exact_transitions, exact_transitions_by, sampled_transitions,
};
use crate::compute::{Backend, Compute, NetParams};
use crate::data::Dataset;
use crate::error::{OccamError, Result};
use crate::net::Mlp;
use std::ops::ControlFlow;

/// The seed of a network's trajectories when the caller names none: the seed the network
/// was trained with ([`crate::train::TrainConfig`]'s default is 1). Sweeps use it for every
/// trial without `[measure] seed`, and `occam measure --seed` defaults to 1 for the same
/// reason, so a model trained with default settings is measured on the same trajectories
/// by both.
pub fn measurement_seed(explicit: Option<u64>, training_seed: u64) -> u64 {
    explicit.unwrap_or(training_seed)
}

/// Points measured per call of the Jacobian kernel (and per progress report). Large, so
/// that the per-point measurements of every built-in study are one call, as sweeps have
/// always made them (a different split of the points could change the last bits). Every
/// device splits points so ([`measure_jacobian_on`]), and other callers that split points
/// (the Python binding, to check for Ctrl-C) use the same size.
pub const JACOBIAN_CHUNK: usize = 1 << 14;

/// Runs every measurement of `request` on `net` at `inputs`. `on_progress` is called after
/// every chunk of points and every trajectory; returning `Break` cancels the measurement
/// with [`OccamError::Cancelled`].
///
/// ```
/// use occam::compute::Compute;
/// use occam::data::Dataset;
/// use occam::measure::{JacobianRequest, MeasureInputs, MeasureRequest, TrajectoryKind, TrajectoryRequest};
/// use occam::net::{Activation, Mlp};
/// use std::ops::ControlFlow;
///
/// let net = Mlp::random([2, 2, 1], 8, 3, 2, Activation::Relu, 1.0, 7);
/// let points = Dataset {
///     inputs: vec![0.1, -0.4, 0.8, 0.3, -0.6, 0.2, 0.5, -0.9, 0.7, 0.1, -0.2, 0.4],
///     labels: vec![0, 1, 0],
///     shape: [2, 2, 1],
///     classes: 2,
/// };
/// let inputs = MeasureInputs { points: &points, labelled: true, train: &points };
/// let request = MeasureRequest {
///     jacobian: Some(JacobianRequest { points: None }),
///     transitions: Some(TrajectoryRequest {
///         kind: TrajectoryKind::RandomEllipse,
///         count: 4,
///         method: None, // exact for ReLU
///         samples: 1 << 10,
///         seed: 1,
///     }),
///     ..Default::default()
/// };
/// let out = occam::measure::measure(&net, &Compute::new(1), inputs, &request, &mut |_| ControlFlow::Continue(()))?;
/// assert_eq!(out.points.len(), 3);
/// assert!(out.points.iter().all(|p| p.loss.is_finite()));
/// assert_eq!(out.transitions.unwrap().counts.len(), 4);
/// # Ok::<(), occam::OccamError>(())
/// ```
pub fn measure(
    net: &Mlp,
    compute: &Compute,
    inputs: MeasureInputs,
    request: &MeasureRequest,
    on_progress: &mut dyn FnMut(MeasureProgress) -> ControlFlow<()>,
) -> Result<Measurements> {
    check_inputs(net.dims(), inputs)?;
    let plan = Plan::new(net, inputs, request)?;
    let mut tick = Ticker {
        done: 0,
        total: plan.total_units(),
        on_progress,
    };
    let mut out = Measurements::default();
    if let Some(n) = plan.jacobian_points {
        (out.points, out.jacobian_non_finite) = jacobian_part(compute, net, inputs, n, &mut tick)?;
    }
    if let Some((t, method, count)) = plan.transitions {
        out.transitions = Some(transitions_part(net, compute, inputs, t, method, count, &mut tick)?);
    }
    if let (Some(p), Some(method)) = (&request.profile, plan.profile_method) {
        out.profiles = Some(profiles_part(net, compute, inputs, p, method, &mut tick)?);
    }
    if let Some(r) = &request.regions {
        out.regions = regions_part(net, compute, inputs, r)?;
    }
    Ok(out)
}

/// Per-point Jacobian results in point order, up to the first non-finite point, and that
/// point when there is one (the points from it on are not returned).
pub type JacobianOutcome = (Vec<PointJacobian>, Option<NonFinite>);

/// The Jacobian part of [`measure`] on any backend: the points of `inputs` that `request`
/// asks for, with the inputs checked as [`measure`] checks them, measured in chunks of
/// [`JACOBIAN_CHUNK`] points (`on_progress` is called after each; `Break` cancels with
/// [`OccamError::Cancelled`]) and stopped at the first non-finite point. `net` is the
/// network in the backend's memory: an [`Mlp`] itself on the CPU, a
/// [`crate::compute::DeviceNet`] uploaded to a GPU. On the CPU this is, to the bit and to
/// the error message, `measure` with only a Jacobian request: `measure` runs the same code.
///
/// ```
/// use occam::compute::{Compute, DeviceNet};
/// use occam::data::Dataset;
/// use occam::measure::{JacobianRequest, MeasureInputs, measure_jacobian_on};
/// use occam::net::{Activation, Mlp};
/// use std::ops::ControlFlow;
///
/// let net = Mlp::random([2, 1, 1], 8, 2, 3, Activation::Relu, 1.0, 7);
/// let points = Dataset { inputs: vec![0.1, -0.4, 0.8, 0.3], labels: vec![0, 2], shape: [2, 1, 1], classes: 3 };
/// let inputs = MeasureInputs { points: &points, labelled: true, train: &points };
/// let request = JacobianRequest { points: None };
/// let mut go_on = |_| ControlFlow::Continue(());
/// let (on_host, stop) = measure_jacobian_on(&Compute::new(1), &net, inputs, request, &mut go_on)?;
/// assert!(stop.is_none() && on_host.len() == 2);
/// // The same function on a network copied into a backend's buffers (as a GPU needs it).
/// let uploaded = DeviceNet::upload(&Compute::new(1), &net);
/// let (copied, _) = measure_jacobian_on(&Compute::new(1), &uploaded, inputs, request, &mut go_on)?;
/// assert_eq!(on_host, copied);
/// # Ok::<(), occam::OccamError>(())
/// ```
pub fn measure_jacobian_on<B: Backend, P: NetParams<B> + Sync + ?Sized>(
    backend: &B,
    net: &P,
    inputs: MeasureInputs,
    request: JacobianRequest,
    on_progress: &mut dyn FnMut(MeasureProgress) -> ControlFlow<()>,
) -> Result<JacobianOutcome> {
    check_inputs(net.dims(), inputs)?;
    let n = jacobian_point_count(request, inputs)?;
    let mut tick = Ticker {
        done: 0,
        total: n,
        on_progress,
    };
    jacobian_part(backend, net, inputs, n, &mut tick)
}

/// Checked per-point Jacobian norms of the row-major inputs `x` (`labels`, when given, one
/// per point and below the network's class count): the library's checked form of
/// [`super::jacobian::jacobian_norms`]. Non-finite results stay in the returned values;
/// [`super::finite::check_jacobians`] finds them.
pub fn jacobian_norms(net: &Mlp, compute: &Compute, x: &[f32], labels: Option<&[u16]>) -> Result<Vec<PointJacobian>> {
    let d = net.input_dim();
    if !x.len().is_multiple_of(d) {
        return Err(OccamError::config(format!(
            "inputs: {} values are not a whole number of points of {d} values (the network's input size)",
            x.len()
        )));
    }
    if let Some(labels) = labels {
        check_labels(labels, x.len() / d, net.classes())?;
    }
    Ok(super::jacobian::jacobian_norms(net, compute, x, labels))
}

/// Transitions along one trajectory the caller built (e.g. with
/// [`super::trajectory::translation`] or [`super::trajectory::data_ellipse`]), counted by
/// `method` (see [`resolve_method`]) with `samples` points per trajectory when sampled.
/// Errors: a trajectory without pieces or whose vectors do not have the network's input
/// size, exact counting for a smooth activation, samples out of range.
///
/// ```
/// use occam::compute::Compute;
/// use occam::measure::{Method, count_transitions, trajectory};
/// use occam::net::{Activation, Mlp};
///
/// let net = Mlp::random([3, 3, 1], 16, 3, 4, Activation::Relu, 1.0, 5);
/// let image: Vec<f32> = (0..9).map(|i| (i as f32 - 4.0) / 4.0).collect();
/// let shifted = trajectory::translation(&image, [3, 3, 1])?;
/// let exact = count_transitions(&net, &Compute::new(1), &shifted, None, 0)?;
/// let sampled = count_transitions(&net, &Compute::new(1), &shifted, Some(Method::Sampled), 1 << 12)?;
/// assert_eq!(exact.per_layer.len(), 2); // one count per hidden layer
/// assert!(sampled.total <= exact.total); // sampling can only miss crossings
/// # Ok::<(), occam::OccamError>(())
/// ```
pub fn count_transitions(
    net: &Mlp,
    compute: &Compute,
    trajectory: &Trajectory,
    method: Option<Method>,
    samples: usize,
) -> Result<TransitionCount> {
    check_trajectory(net, trajectory)?;
    let method = resolve_method(net, method)?;
    Ok(match method {
        Method::Exact => exact_transitions(net, compute, trajectory, false),
        Method::Sampled => {
            super::ranges::samples("samples per trajectory", samples)?;
            sampled_transitions(net, compute, trajectory, samples, false)
        }
    })
}

/// A trajectory has pieces, and every vector of every piece has the network's input size.
fn check_trajectory(net: &Mlp, trajectory: &Trajectory) -> Result<()> {
    if trajectory.pieces.is_empty() {
        return Err(OccamError::config("trajectory: it has no pieces"));
    }
    let d = net.input_dim();
    for (k, piece) in trajectory.pieces.iter().enumerate() {
        if let Some(bad) = piece.coefficients().iter().map(Vec::len).find(|&len| len != d) {
            return Err(OccamError::config(format!(
                "trajectory: piece {k} has vectors of {bad} values; the network takes {d} inputs"
            )));
        }
    }
    Ok(())
}

/// The counting method: the requested one, or exact for piecewise-linear activations and
/// sampled otherwise; exact for a smooth activation is an error.
pub fn resolve_method(net: &Mlp, method: Option<Method>) -> Result<Method> {
    let piecewise = net.activation().is_piecewise_linear();
    match method {
        Some(Method::Exact) if !piecewise => Err(OccamError::config(format!(
            "exact transitions need a piecewise-linear activation; {} is counted with the sampled method",
            net.activation()
        ))),
        Some(m) => Ok(m),
        None if piecewise => Ok(Method::Exact),
        None => Ok(Method::Sampled),
    }
}

/// Trajectories of `kind` to build for `count` asked: `translate` has one per point.
pub fn trajectory_count(kind: TrajectoryKind, count: usize, points: &Dataset) -> usize {
    if kind == TrajectoryKind::Translate {
        count.min(points.len())
    } else {
        count
    }
}

fn check_labels(labels: &[u16], points: usize, classes: usize) -> Result<()> {
    if labels.len() != points {
        return Err(OccamError::config(format!(
            "labels: {} labels for {points} points; give one label per point",
            labels.len()
        )));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= classes) {
        return Err(OccamError::config(format!(
            "labels: label {l} of point {i} is not a class of the network (0 to {})",
            classes - 1
        )));
    }
    Ok(())
}

/// Both datasets must hold whole points of the network's input size, and labels (where
/// used) must be classes of the network (`dims`: its layer widths, input first).
fn check_inputs(dims: &[usize], inputs: MeasureInputs) -> Result<()> {
    let (input_dim, classes) = (dims[0], dims[dims.len() - 1]);
    for (what, data) in [("points", inputs.points), ("training points", inputs.train)] {
        if data.dim() != input_dim {
            let [h, w, c] = data.shape;
            return Err(OccamError::config(format!(
                "{what}: inputs of shape {h}x{w}x{c} ({} values) do not fit the network's {input_dim} inputs",
                data.dim(),
            )));
        }
        if data.inputs.len() != data.len() * data.dim() {
            return Err(OccamError::config(format!(
                "{what}: {} values for {} points of {} values",
                data.inputs.len(),
                data.len(),
                data.dim()
            )));
        }
    }
    if inputs.labelled {
        check_labels(&inputs.points.labels, inputs.points.len(), classes)?;
    }
    Ok(())
}

/// The points a Jacobian request measures: the first `request.points` (all when `None`),
/// at least one.
fn jacobian_point_count(request: JacobianRequest, inputs: MeasureInputs) -> Result<usize> {
    let n = request.points.unwrap_or(usize::MAX).min(inputs.points.len());
    if n == 0 {
        return Err(OccamError::config("Jacobian norms: there are no points to measure"));
    }
    Ok(n)
}

/// The request, checked and resolved: how many points and trajectories, and which method.
struct Plan {
    jacobian_points: Option<usize>,
    transitions: Option<(TrajectoryRequest, Method, usize)>,
    profile_method: Option<Method>,
    profile_units: usize,
}

impl Plan {
    fn new(net: &Mlp, inputs: MeasureInputs, request: &MeasureRequest) -> Result<Plan> {
        let jacobian_points = match request.jacobian {
            Some(j) => Some(jacobian_point_count(j, inputs)?),
            None => None,
        };
        let transitions = match request.transitions {
            Some(t) => {
                check_trajectories(&t, inputs)?;
                let count = trajectory_count(t.kind, t.count, inputs.points);
                Some((t, resolve_method(net, t.method)?, count))
            }
            None => None,
        };
        let (profile_method, profile_units) = match &request.profile {
            Some(p) => Self::profile(net, inputs, p)?,
            None => (None, 0),
        };
        Ok(Plan {
            jacobian_points,
            transitions,
            profile_method,
            profile_units,
        })
    }
    /// The profiles' one method and their number of trajectories.
    fn profile(net: &Mlp, inputs: MeasureInputs, p: &ProfileRequest) -> Result<(Option<Method>, usize)> {
        if p.curves.is_empty() {
            return Err(OccamError::config("profile: name at least one trajectory kind"));
        }
        super::ranges::bins("profile bins", p.bins)?;
        let mut methods = Vec::new();
        for t in &p.curves {
            check_trajectories(t, inputs)?;
            methods.push(resolve_method(net, t.method)?);
        }
        if methods.iter().any(|&m| m != methods[0]) {
            return Err(OccamError::config(
                "profile: every curve must be counted by the same method (exact or sampled)",
            ));
        }
        let units = p
            .curves
            .iter()
            .map(|t| trajectory_count(t.kind, t.count, inputs.points))
            .sum();
        Ok((Some(methods[0]), units))
    }
    fn total_units(&self) -> usize {
        self.jacobian_points.unwrap_or(0) + self.transitions.map_or(0, |t| t.2) + self.profile_units
    }
}

fn check_trajectories(t: &TrajectoryRequest, inputs: MeasureInputs) -> Result<()> {
    super::ranges::count("trajectory count", t.count)?;
    if t.method != Some(Method::Exact) {
        super::ranges::samples("samples per trajectory", t.samples)?;
    }
    if t.kind == TrajectoryKind::Translate && inputs.points.is_empty() {
        return Err(OccamError::config(
            "translate trajectories: there are no points to shift",
        ));
    }
    Ok(())
}

/// Counts finished units and reports them; a `Break` becomes [`OccamError::Cancelled`].
struct Ticker<'a> {
    done: usize,
    total: usize,
    on_progress: &'a mut dyn FnMut(MeasureProgress) -> ControlFlow<()>,
}

impl Ticker<'_> {
    fn advance(&mut self, units: usize) -> Result<()> {
        self.done += units;
        let progress = MeasureProgress {
            done: self.done,
            total: self.total,
        };
        match (self.on_progress)(progress) {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(OccamError::Cancelled {
                task: "measurement",
                done: self.done,
                total: self.total,
                unit: "points and trajectories",
            }),
        }
    }
}

/// The first `n` points' Jacobian norms (inputs checked), chunk by chunk, stopping at the
/// first non-finite point. What depends on the network alone is prepared once.
fn jacobian_part<B: Backend, P: NetParams<B> + Sync + ?Sized>(
    backend: &B,
    net: &P,
    inputs: MeasureInputs,
    n: usize,
    tick: &mut Ticker,
) -> Result<JacobianOutcome> {
    let points = inputs.points;
    let d = points.dim();
    let plan = JacobianPlan::new(backend, net);
    let mut results = Vec::with_capacity(n);
    for start in (0..n).step_by(JACOBIAN_CHUNK) {
        let end = (start + JACOBIAN_CHUNK).min(n);
        let labels = inputs.labelled.then(|| &points.labels[start..end]);
        let chunk = plan.norms(backend, &points.inputs[start * d..end * d], labels);
        if let Err(bad) = check_jacobians(&chunk, start, inputs.labelled) {
            results.extend(chunk.into_iter().take(bad.point - start));
            return Ok((results, Some(bad)));
        }
        results.extend(chunk);
        tick.advance(end - start)?;
    }
    Ok((results, None))
}

fn transitions_part(
    net: &Mlp,
    compute: &Compute,
    inputs: MeasureInputs,
    t: TrajectoryRequest,
    method: Method,
    count: usize,
    tick: &mut Ticker,
) -> Result<TransitionsResult> {
    let mut result = TransitionsResult {
        kind: t.kind,
        method,
        counts: Vec::with_capacity(count),
        non_finite: None,
    };
    // One trajectory per thread at a time, each walked on one thread (the counts do not
    // depend on the thread count: each exact walk has the same memory budget at any count).
    let group = compute.threads();
    let single = Compute::single();
    let count_one = |i: usize| -> Result<TransitionCount> {
        let traj = trajectory::build(t.kind, inputs.points, inputs.train, i, t.seed)?;
        Ok(match method {
            Method::Exact => exact_transitions_by(net, &single, &traj, false, ExactWalk::Rank1, TRAJECTORY_BUDGET),
            Method::Sampled => sampled_transitions(net, &single, &traj, t.samples, false),
        })
    };
    in_order_by_groups(count, group, count_one, |i, counted| {
        let counted = counted?;
        if let Some(bad) = counted.non_finite {
            result.non_finite = Some(bad.at(i));
            return Ok(ControlFlow::Break(()));
        }
        result.counts.push(counted);
        tick.advance(1)?;
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(result)
}

fn profiles_part(
    net: &Mlp,
    compute: &Compute,
    inputs: MeasureInputs,
    p: &ProfileRequest,
    method: Method,
    tick: &mut Ticker,
) -> Result<ProfilesResult> {
    let mut result = ProfilesResult {
        method,
        curves: Vec::new(),
        non_finite: None,
    };
    for t in &p.curves {
        let kind = t.kind;
        let build = |i: usize| trajectory::build(kind, inputs.points, inputs.train, i, t.seed);
        let trajectories = Trajectories {
            count: trajectory_count(kind, t.count, inputs.points),
            build: &build,
        };
        let mut cancelled = None;
        let curve = profile(net, compute, trajectories, p.bins, method, t.samples, || {
            if cancelled.is_none() {
                cancelled = tick.advance(1).err();
            }
        })?;
        if let Some(e) = cancelled {
            return Err(e);
        }
        if let Some(bad) = curve.non_finite {
            result.non_finite = Some((kind, bad));
            break;
        }
        result.curves.push((kind, curve));
    }
    Ok(result)
}

/// The plane's three training examples, checked to exist, differ and span a plane.
fn plane_points(plane: Plane, train: &Dataset) -> Result<[usize; 3]> {
    let idx = match plane {
        Plane::Points(idx) => idx,
        Plane::Triplet { kind, seed } => match kind {
            TrajectoryKind::SameClassEllipse => trajectory::pick_triplet(train, true, seed, 0)?,
            TrajectoryKind::DifferentClassEllipse => trajectory::pick_triplet(train, false, seed, 0)?,
            other => {
                return Err(OccamError::config(format!(
                    "region plane: {} is not a triplet kind (same-class-ellipse or different-class-ellipse)",
                    other.name()
                )));
            }
        },
    };
    let [a, b, c] = idx;
    if let Some(&bad) = idx.iter().find(|&&i| i >= train.len()) {
        return Err(OccamError::config(format!(
            "region plane: training example {bad} does not exist ({} examples)",
            train.len()
        )));
    }
    if a == b || b == c || a == c {
        return Err(OccamError::config(format!(
            "region plane {a} {b} {c}: the three training examples must be different"
        )));
    }
    trajectory::check_spans_plane(idx.map(|i| train.input(i)))
        .map_err(|why| OccamError::config(format!("region plane {a} {b} {c}: {why}")))?;
    Ok(idx)
}

fn regions_part(
    net: &Mlp,
    compute: &Compute,
    inputs: MeasureInputs,
    r: &RegionRequest,
) -> Result<Option<RegionsResult>> {
    let hidden = net.depth() - 1;
    if hidden == 0 {
        return Ok(None);
    }
    let layer = r.layer.unwrap_or(hidden);
    if layer == 0 || layer > hidden {
        return Err(OccamError::config(format!(
            "region layer {layer}: the network has hidden layers 1 to {hidden}"
        )));
    }
    if let Some(initial) = &r.initial
        && (initial.dims() != net.dims() || initial.activation() != net.activation())
    {
        return Err(OccamError::config(
            "region maps: the initial network does not have the network's architecture",
        ));
    }
    super::regions::check_grid("region grid", r.grid, net)?;
    let idx = plane_points(r.plane, inputs.train)?;
    let x = idx.map(|i| inputs.train.input(i));
    let maps = r
        .initial
        .iter()
        .chain(std::iter::once(net))
        .map(|n| region_map(n, compute, x, layer - 1, r.grid))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(RegionsResult {
        layer,
        training_points: idx,
        maps,
    }))
}
