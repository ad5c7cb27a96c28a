//! The choice of compute device (`--device cpu|cuda[:N]`, [`Device`]) and the CUDA backend
//! behind the cargo feature `cuda`: [`CudaBackend`] implements [`super::Backend`] with
//! cuBLAS for the products and the kernels of `kernels.cu` (compiled by NVRTC into a cubin
//! for the GPU when the backend opens) for the elementwise work. The CUDA libraries are
//! loaded at run time, so a binary built with the feature runs everywhere and `--device
//! cuda` on a machine without a GPU is an error, not a crash. docs/CUDA.md says what runs on
//! the GPU and what stays on the host.

mod device;
pub mod launch;

#[cfg(feature = "cuda")]
mod backend;
#[cfg(feature = "cuda")]
mod compile;
#[cfg(feature = "cuda")]
mod context;
#[cfg(feature = "cuda")]
mod probe;

#[cfg(feature = "cuda")]
pub use backend::{CudaBackend, CudaBuf};
pub use device::{Device, MAX_CUDA_ORDINAL};

/// Whether this build has the CUDA backend (the cargo feature `cuda`).
pub const BUILT_WITH_CUDA: bool = cfg!(feature = "cuda");
