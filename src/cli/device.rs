//! `--device cpu|cuda[:N]`: which backend a command's training and Jacobian norms run on.
//! Opening a GPU that cannot be used (no CUDA in this build, no driver, no GPU, a GPU
//! number past the last) is an error naming `--device`, the value and the reason.

use anyhow::{Result, anyhow};
use occam::compute::{Compute, Device};

#[cfg(feature = "cuda")]
pub use occam::compute::cuda::CudaBackend;

/// The backend a command runs on.
pub enum Chosen {
    /// The CPU with `--threads` threads.
    Cpu(Compute),
    /// A GPU (host-side algorithms use `--threads` CPU threads).
    #[cfg(feature = "cuda")]
    Cuda(CudaBackend),
}

/// Opens the backend of `device`.
pub fn open(device: Device) -> Result<Chosen> {
    match device {
        Device::Cpu => Ok(Chosen::Cpu(Compute::new(super::threads()))),
        Device::Cuda { ordinal } => open_cuda(device, ordinal),
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(device: Device, ordinal: usize) -> Result<Chosen> {
    CudaBackend::new(ordinal, super::threads())
        .map(Chosen::Cuda)
        .map_err(|e| anyhow!("--device {device}: {e}"))
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(device: Device, _ordinal: usize) -> Result<Chosen> {
    Err(anyhow!(
        "--device {device}: CUDA is not available: this occam was built without the `cuda` feature \
         (build it with `cargo build --release --features cuda`); use --device cpu"
    ))
}

/// Fails for a GPU device when `command` runs on the CPU only, so that `--device cuda` is
/// never silently ignored.
pub fn require_cpu(device: Device, command: &str) -> Result<()> {
    if device.is_cuda() {
        return Err(anyhow!(
            "--device {device}: `occam {command}` runs on the CPU only (docs/CUDA.md lists what runs on a GPU: \
             train, measure jacobian, bench, sweep run, sweep submit and reproduce); leave --device out or use --device cpu"
        ));
    }
    Ok(())
}

/// The device failure a GPU kept during a run, if any (nothing on the CPU).
pub fn check(chosen: &Chosen) -> Result<()> {
    match chosen {
        Chosen::Cpu(_) => Ok(()),
        #[cfg(feature = "cuda")]
        Chosen::Cuda(gpu) => gpu.check().map_err(|e| anyhow!("--device {}: {e}", device_of(gpu))),
    }
}

#[cfg(feature = "cuda")]
fn device_of(gpu: &CudaBackend) -> String {
    use occam::compute::Backend;
    gpu.describe()
}

/// Runs `$body` with `$b` bound to the chosen backend (a `&Compute` or a `&CudaBackend`),
/// so generic library calls are written once.
macro_rules! with_backend {
    ($chosen:expr, $b:ident => $body:expr) => {
        match $chosen {
            $crate::cli::device::Chosen::Cpu($b) => $body,
            #[cfg(feature = "cuda")]
            $crate::cli::device::Chosen::Cuda($b) => $body,
        }
    };
}
pub(crate) use with_backend;
