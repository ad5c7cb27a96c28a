//! Sensitivity metrics (SPEC §4): input-Jacobian norms, linear-region transitions along
//! closed trajectories (exact for piecewise-linear φ, sampled for any φ), trajectory
//! profiles and 2-D region maps.

pub mod jacobian;
pub mod trajectory;
pub mod transitions;

pub use jacobian::{PointJacobian, jacobian_norms};
pub mod bounds;
pub mod profile;
pub mod regions;
