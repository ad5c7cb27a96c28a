//! Sensitivity metrics: input-Jacobian norms, linear-region transitions along closed
//! trajectories (exact for piecewise-linear φ, sampled for any φ), trajectory profiles,
//! 2-D region maps (sampled on a grid, or exact for piecewise-linear φ), the valid ranges
//! of their settings, and the detection of non-finite arithmetic, which is reported as
//! such and never as a number.

//!
//! The entry point is [`measure()`]: a network, a [`MeasureInputs`] and a
//! [`MeasureRequest`] in, [`Measurements`] out. [`measure_jacobian_on`] is its Jacobian
//! part on any backend (the GPU's too), and [`jacobian_norms`] its checked shortcut for
//! per-point Jacobian norms of raw inputs.

pub mod finite;
pub mod jacobian;
mod parallel;
pub mod profile;
pub mod regions;
pub mod regions_exact;
mod request;
mod run;
pub mod trajectory;
pub mod transitions;

// Used by the report and `occam train --track`: hidden, not part of the stable API.
#[doc(hidden)]
pub mod bounds;
#[doc(hidden)]
pub mod track;

pub use finite::{NonFinite, Quantity};
pub use jacobian::PointJacobian;
pub use profile::{Method, Profile};
pub use regions::RegionMap;
pub use request::{
    JacobianRequest, MeasureInputs, MeasureProgress, MeasureRequest, Measurements, Plane, ProfileRequest,
    ProfilesResult, RegionRequest, RegionsResult, TrajectoryRequest, TransitionsResult,
};
pub use run::{
    JACOBIAN_CHUNK, JacobianOutcome, count_transitions, jacobian_norms, measure, measure_jacobian_on, measurement_seed,
    resolve_method, trajectory_count,
};
pub use trajectory::{Trajectory, TrajectoryKind};
pub use transitions::TransitionCount;

/// The valid range of every measurement setting, shared by `occam measure` and sweep
/// specs (docs/METRICS.md lists them). Each check names the setting as `what`.
pub mod ranges {
    use crate::error::Result;
    use crate::limits::in_range;

    /// Most points or trajectories one measurement may use.
    pub const MAX_COUNT: usize = 1_000_000;
    /// Fewest and most samples per trajectory for sampled transitions (the paper: 2^20).
    pub const MIN_SAMPLES: usize = 2;
    /// Most samples per trajectory.
    pub const MAX_SAMPLES: usize = 1 << 30;
    /// Fewest and most bins of a profile, and grid points per side of a region map.
    pub const MIN_BINS: usize = 2;
    /// Most bins of a profile.
    pub const MAX_BINS: usize = 4096;
    /// Fewest grid points per side of a region map.
    pub const MIN_GRID: usize = 2;
    /// Most grid points per side of a region map.
    pub const MAX_GRID: usize = 4096;

    /// Points or trajectories: at least 1 (zero points would average to nothing).
    pub fn count(what: &str, v: usize) -> Result<()> {
        in_range(what, v, 1, MAX_COUNT)
    }
    /// Samples per trajectory: 2 to 2^30.
    pub fn samples(what: &str, v: usize) -> Result<()> {
        in_range(what, v, MIN_SAMPLES, MAX_SAMPLES)
    }
    /// Bins of a profile: 2 to 4096.
    pub fn bins(what: &str, v: usize) -> Result<()> {
        in_range(what, v, MIN_BINS, MAX_BINS)
    }
    /// Grid points per side of a region map (the memory check is
    /// `regions::check_grid`, which knows the network).
    pub fn grid(what: &str, side: usize) -> Result<()> {
        in_range(what, side, MIN_GRID, MAX_GRID)
    }
}
