//! Occam: how sensitive a trained network is to its input, and how that predicts
//! generalization (Novak et al., ICLR 2018).
//!
//! # The library API
//!
//! The public modules follow the pipeline [`data`] → [`net`] → [`train`] → [`measure`]:
//!
//! - [`data`]: datasets ([`data::Dataset`], [`data::Splits`]) loaded by name
//!   ([`data::DataSource`]) or built from the caller's own arrays;
//! - [`net`]: the multilayer perceptron [`net::Mlp`] (random, from parts, or loaded from
//!   safetensors) and its [`net::Activation`];
//! - [`train`]: [`train::TrainConfig`] and [`train::train`] /
//!   [`train::train_with`], whose [`train::TrainHooks`] carry a progress callback that can
//!   cancel the run;
//! - [`measure`]: the one measurement entry point [`measure::measure`] (Jacobian norms,
//!   transitions along trajectories, profiles, region maps) and its checked shortcuts
//!   [`measure::jacobian_norms`] and [`measure::count_transitions`];
//! - [`store`]: a sweep store read as typed tables ([`store::read`]), the same tables
//!   `occam sweep export` writes;
//! - [`compute`]: the [`compute::Backend`] trait (the operations training and measurement
//!   run on, on buffers the backend owns; `docs/BACKEND.md`) and [`compute::Compute`], the
//!   CPU backend, given an explicit thread count;
//! - [`error`]: [`OccamError`], the one error type; caller input never panics through the
//!   entry points above.
//!
//! The building blocks under them — the backend's operations, `net::engine`
//! (`forward_on`, `BatchGradient`, `evaluate_on`), `train::OptimizerState` and
//! `compute::DeviceNet` — are for callers writing their own loops: they check shapes with
//! assertions, so a buffer of the wrong size is a programming error that panics with a
//! message rather than an error value.
//!
//! The library needs no global thread pool and draws nothing on the terminal. The other
//! modules (`sweep`, `report`, `plot`, `progress`, `limits`, `rng`, `stats`) serve the
//! `occam` command and its tests; they are hidden from the documentation and are not part
//! of the stable API ([`store`] is the stable way to read what a sweep wrote).
//!
//! ```
//! use occam::compute::Compute;
//! use occam::net::{Activation, Mlp};
//!
//! // A random network on 2x2 single-channel inputs: 2 hidden layers of 8, 3 classes.
//! let net = Mlp::random([2, 2, 1], 8, 3, 3, Activation::Relu, 1.0, 7);
//! let x = vec![0.5f32; 3 * 4]; // three points
//! let points = occam::measure::jacobian_norms(&net, &Compute::new(1), &x, None)?;
//! assert_eq!(points.len(), 3);
//! assert!(points.iter().all(|p| p.jacobian_norm.is_finite()));
//! # Ok::<(), occam::OccamError>(())
//! ```

#![deny(missing_docs)]

pub mod compute;
pub mod data;
pub mod error;
pub mod measure;
pub mod net;
pub mod store;
pub mod train;

// Modules the `occam` command and the tests use. They are public only for them: hidden
// from the documentation and NOT part of the stable API; they may change in any release.
#[doc(hidden)]
pub mod limits;
#[doc(hidden)]
pub mod plot;
#[doc(hidden)]
pub mod progress;
#[doc(hidden)]
pub mod report;
#[doc(hidden)]
pub mod rng;
#[doc(hidden)]
pub mod stats;
#[doc(hidden)]
pub mod sweep;

pub use error::{OccamError, Result};
