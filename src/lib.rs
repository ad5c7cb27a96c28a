//! Occam: how sensitive a trained network is to its input, and how that predicts
//! generalization (Novak et al., ICLR 2018). The modules follow the pipeline:
//! [`data`] → [`net`] → [`train`]; [`compute`] is the one boundary to the hardware.

pub mod compute;
pub mod data;
pub mod error;
pub mod limits;
pub mod measure;
pub mod net;
pub mod plot;
pub mod progress;
pub mod report;
pub mod rng;
pub mod stats;
pub mod sweep;
pub mod train;

pub use error::{OccamError, Result};
