//! The compute boundary. Training and measurement code do their arithmetic through the
//! [`Backend`] trait: it owns its buffers (explicit upload and read-back) and offers the
//! operations the MLP engine, the optimizers and the Jacobian need — GEMM with transposes,
//! the fused layer kernels, the optimizer updates, the per-point Gram matrices and the
//! region codes. [`Compute`] is the CPU backend; a device backend (CUDA) implements the
//! same trait in its own module. `docs/BACKEND.md` lists every operation and why it is
//! there, and how the CPU backend spreads each one over its threads.
//!
//! Host-only algorithms with data-dependent control flow (the exact transition walk,
//! L-BFGS's line search) keep working on host slices through [`Compute::matmul`].

mod backend;
mod cpu;
pub mod cuda;
mod kernels;
pub mod simd;

pub use backend::{Backend, BatchLoss, DeviceNet, NetParams, Operand, UpdateRule};
pub use cpu::{Compute, MatRef};
pub use cuda::Device;
pub use kernels::{apply_keeping_nan, softmax_cross_entropy};
