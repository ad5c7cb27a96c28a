//! What the measurement entry point [`super::measure()`] takes and gives: the points
//! ([`MeasureInputs`]), the request ([`MeasureRequest`] and its parts) and the typed
//! results ([`Measurements`] and its parts). Plain owned data, so that other languages'
//! bindings can hold them.

use super::finite::NonFinite;
use super::jacobian::PointJacobian;
use super::profile::{Method, Profile};
use super::regions::RegionMap;
use super::trajectory::TrajectoryKind;
use super::transitions::TransitionCount;
use crate::data::Dataset;
use crate::net::Mlp;

/// The points a network is measured on.
#[derive(Clone, Copy, Debug)]
pub struct MeasureInputs<'a> {
    /// The measured points, row-major `len × dim`; their shape is the image shape that
    /// `translate` trajectories shift. Labels are read only when `labelled`.
    pub points: &'a Dataset,
    /// Whether `points.labels` are real labels (losses, target rows, accuracy).
    pub labelled: bool,
    /// Training points: the three anchors of data ellipses and region maps come from here.
    pub train: &'a Dataset,
}

/// Which measurements to run. Each part is optional; an empty request measures nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MeasureRequest {
    /// Jacobian norms, loss and prediction of each point.
    pub jacobian: Option<JacobianRequest>,
    /// Transition counts along trajectories of one kind.
    pub transitions: Option<TrajectoryRequest>,
    /// Profiles along trajectories of several kinds.
    pub profile: Option<ProfileRequest>,
    /// Region maps in the plane of three training points.
    pub regions: Option<RegionRequest>,
}

/// Per-point Jacobian norms of the first `points` inputs (all of them when `None`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct JacobianRequest {
    /// How many of the first points to measure; `None` measures every point.
    pub points: Option<usize>,
}

/// Trajectories of one kind and how to count transitions along them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrajectoryRequest {
    /// The family of trajectories.
    pub kind: TrajectoryKind,
    /// How many trajectories: 1 to 1,000,000 (`translate` has one per point, so at most
    /// as many as there are points).
    pub count: usize,
    /// `None`: exact for piecewise-linear activations, sampled otherwise.
    pub method: Option<Method>,
    /// Samples per trajectory when sampled: 2 to 2^30.
    pub samples: usize,
    /// Seed of random ellipses and of the training triplets of data ellipses (see
    /// [`super::measurement_seed`]).
    pub seed: u64,
}

/// Profiles along trajectories of several kinds, one curve each.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRequest {
    /// One curve per entry, in order; all must resolve to the same counting method.
    pub curves: Vec<TrajectoryRequest>,
    /// Bins along the loop: 2 to 4096.
    pub bins: usize,
}

/// Which three training points span a region map's plane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plane {
    /// These training examples (distinct, spanning a plane).
    Points([usize; 3]),
    /// The first triplet of a `same-class-ellipse` or `different-class-ellipse`, drawn by
    /// the seed as that trajectory's first anchors are.
    Triplet {
        /// `SameClassEllipse` or `DifferentClassEllipse`.
        kind: TrajectoryKind,
        /// The measurement seed.
        seed: u64,
    },
}

/// Region maps of one hidden layer on the plane of three training points.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionRequest {
    /// The plane.
    pub plane: Plane,
    /// Hidden layer, 1-based; `None` is the last hidden layer.
    pub layer: Option<usize>,
    /// Grid points per side: 2 to 4096 (and within memory).
    pub grid: usize,
    /// Another network of the same architecture (e.g. the one before training) mapped on
    /// the same plane, first.
    pub initial: Option<Mlp>,
}

/// Progress of a measurement: `done` of `total` units (points, then trajectories).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MeasureProgress {
    /// Units finished.
    pub done: usize,
    /// Units in all.
    pub total: usize,
}

/// Transition counts along each trajectory of one kind.
#[derive(Clone, Debug, PartialEq)]
pub struct TransitionsResult {
    /// The trajectories' family.
    pub kind: TrajectoryKind,
    /// How they were counted.
    pub method: Method,
    /// One count per trajectory, in order (up to the first non-finite one).
    pub counts: Vec<TransitionCount>,
    /// The first trajectory whose arithmetic overflowed (`point` is its index).
    pub non_finite: Option<NonFinite>,
}

impl TransitionsResult {
    /// The mean number of transitions per trajectory (NaN when none was counted).
    pub fn mean(&self) -> f64 {
        if self.counts.is_empty() {
            return f64::NAN;
        }
        self.counts.iter().map(|c| c.total as f64).sum::<f64>() / self.counts.len() as f64
    }
}

/// One profile curve per requested kind.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfilesResult {
    /// How transitions were counted.
    pub method: Method,
    /// The curves, in the requested order (up to the first non-finite one).
    pub curves: Vec<(TrajectoryKind, Profile)>,
    /// The kind and trajectory whose arithmetic overflowed.
    pub non_finite: Option<(TrajectoryKind, NonFinite)>,
}

/// Region maps on one plane.
#[derive(Clone, Debug, PartialEq)]
pub struct RegionsResult {
    /// The hidden layer drawn, 1-based.
    pub layer: usize,
    /// The three training examples spanning the plane.
    pub training_points: [usize; 3],
    /// The initial network's map (when asked for), then the network's.
    pub maps: Vec<RegionMap>,
}

/// What [`super::measure()`] found: each part is present when it was requested.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measurements {
    /// Per-point Jacobian results (up to the first non-finite point).
    pub points: Vec<PointJacobian>,
    /// The first point whose Jacobian quantities overflowed.
    pub jacobian_non_finite: Option<NonFinite>,
    /// Transition counts.
    pub transitions: Option<TransitionsResult>,
    /// Profiles.
    pub profiles: Option<ProfilesResult>,
    /// Region maps (`None` also for a network without a hidden layer).
    pub regions: Option<RegionsResult>,
}
