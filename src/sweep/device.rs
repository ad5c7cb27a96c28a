//! Where a sweep's trials train and measure their Jacobian norms: the CPU (each trial on
//! its own [`Compute`]) or one GPU ([`SweepDevice::Cuda`]), where each of the trials that
//! run at once gets a stream and cuBLAS handle of its own on the GPU's one context. The
//! exact transition walks, profiles, region maps and tracked checkpoints run on the host
//! whatever the device (docs/CUDA.md says why).

use crate::compute::{Backend, Compute, Device, NetParams};
use crate::data::Splits;
use crate::error::Result;
use crate::measure::{JacobianOutcome, JacobianRequest, MeasureInputs, measure_jacobian_on};
use crate::net::Mlp;
use crate::train::{TrainConfig, TrainHooks, TrainOutcome};
use std::ops::ControlFlow;

/// Trials run at once on one GPU when the caller does not say (`--gpu-jobs`): enough to
/// overlap one trial's host work (batch preparation, read-backs) with the others' GPU work
/// for small networks, few enough that widths up to a few thousand fit any current GPU.
pub const DEFAULT_GPU_JOBS: usize = 4;

/// The most trials `--gpu-jobs` runs at once on one GPU (each holds a stream, a cuBLAS
/// handle with its workspace, and its network, optimizer state and batch in GPU memory).
pub const MAX_GPU_JOBS: usize = 64;

/// The device a sweep runs on, opened before the store is touched, so that a GPU that
/// cannot be used stops the run before any trial starts.
#[derive(Clone, Default)]
pub enum SweepDevice {
    /// The CPU backend (the default).
    #[default]
    Cpu,
    /// An opened GPU; each concurrent trial gets its own stream of it.
    #[cfg(feature = "cuda")]
    Cuda(crate::compute::cuda::CudaBackend),
}

impl std::fmt::Debug for SweepDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SweepDevice({})", self.device())
    }
}

impl SweepDevice {
    /// Opens `device`: the CPU always; a GPU fails with an error naming CUDA when this build
    /// lacks the `cuda` feature, or the libraries, the driver or the GPU are missing.
    pub fn open(device: Device) -> Result<Self> {
        match device {
            Device::Cpu => Ok(SweepDevice::Cpu),
            Device::Cuda { ordinal } => open_cuda(ordinal),
        }
    }

    /// Which device this is.
    pub fn device(&self) -> Device {
        match self {
            SweepDevice::Cpu => Device::Cpu,
            #[cfg(feature = "cuda")]
            SweepDevice::Cuda(gpu) => Device::Cuda { ordinal: gpu.ordinal() },
        }
    }

    /// The backends of `jobs` trials that run at once, each with `host_threads` CPU threads
    /// for its host-side work: on a GPU, one new stream each (made here, before any trial
    /// starts, so that a failure stops nothing half-way).
    pub(super) fn lanes(&self, jobs: usize, host_threads: usize) -> Result<Vec<Box<dyn TrialBackend>>> {
        let host = Compute::new(host_threads);
        match self {
            SweepDevice::Cpu => Ok((0..jobs).map(|_| Box::new(host) as Box<dyn TrialBackend>).collect()),
            #[cfg(feature = "cuda")]
            SweepDevice::Cuda(gpu) => (0..jobs)
                .map(|_| {
                    let lane = gpu.with_own_stream()?.with_host_threads(host_threads);
                    Ok(Box::new(GpuLane { gpu: lane, host }) as Box<dyn TrialBackend>)
                })
                .collect(),
        }
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<SweepDevice> {
    crate::compute::cuda::CudaBackend::new(ordinal, 1).map(SweepDevice::Cuda)
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_ordinal: usize) -> Result<SweepDevice> {
    Err(crate::error::OccamError::config(
        "CUDA is not available: this occam was built without the `cuda` feature (build it with \
         `cargo build --release --features cuda`); use --device cpu"
            .to_string(),
    ))
}

/// What one trial runs on: training and the Jacobian norms on the device, everything else
/// on [`TrialBackend::host`].
pub trait TrialBackend: Send + Sync {
    /// The device, as the store records it.
    fn device(&self) -> Device;
    /// The CPU backend of the host-side measurements (transitions, profiles, region maps,
    /// tracked checkpoints).
    fn host(&self) -> &Compute;
    /// Trains as [`crate::train::train_with`] does, on this device.
    fn train(&self, config: &TrainConfig, splits: &Splits, hooks: TrainHooks<'_, '_>) -> Result<TrainOutcome>;
    /// The Jacobian norms of the first `n` points of `inputs` (at most all of them), stopping
    /// at the first non-finite one: [`crate::measure::measure_jacobian_on`] on this device.
    fn jacobian_norms(&self, net: &Mlp, inputs: MeasureInputs, n: usize) -> Result<JacobianOutcome>;
    /// Fails when the device failed since the backend opened (its results are not to be
    /// used); nothing on the CPU.
    fn check(&self) -> Result<()>;
}

impl TrialBackend for Compute {
    fn device(&self) -> Device {
        Device::Cpu
    }
    fn host(&self) -> &Compute {
        self
    }
    fn train(&self, config: &TrainConfig, splits: &Splits, hooks: TrainHooks<'_, '_>) -> Result<TrainOutcome> {
        crate::train::train_with(config, splits, self, hooks)
    }
    fn jacobian_norms(&self, net: &Mlp, inputs: MeasureInputs, n: usize) -> Result<JacobianOutcome> {
        first_points_jacobian(self, net, inputs, n)
    }
    fn check(&self) -> Result<()> {
        Ok(())
    }
}

/// One trial's stream of a GPU, with the CPU threads of its host-side work.
#[cfg(feature = "cuda")]
struct GpuLane {
    gpu: crate::compute::cuda::CudaBackend,
    host: Compute,
}

#[cfg(feature = "cuda")]
impl TrialBackend for GpuLane {
    fn device(&self) -> Device {
        Device::Cuda {
            ordinal: self.gpu.ordinal(),
        }
    }
    fn host(&self) -> &Compute {
        &self.host
    }
    fn train(&self, config: &TrainConfig, splits: &Splits, hooks: TrainHooks<'_, '_>) -> Result<TrainOutcome> {
        crate::train::train_with(config, splits, &self.gpu, hooks)
    }
    fn jacobian_norms(&self, net: &Mlp, inputs: MeasureInputs, n: usize) -> Result<JacobianOutcome> {
        let device_net = crate::compute::DeviceNet::upload(&self.gpu, net);
        first_points_jacobian(&self.gpu, &device_net, inputs, n)
    }
    fn check(&self) -> Result<()> {
        self.gpu.check()
    }
}

/// The Jacobian norms of the first `n` points on `backend` (`net` in its memory), through
/// the library's one Jacobian path, so that a trial measures the same points with the same
/// input checks, error messages, chunks and non-finite stop on every device. No progress is
/// reported: a trial's progress is counted in trials.
fn first_points_jacobian<B: Backend, P: NetParams<B> + Sync + ?Sized>(
    backend: &B,
    net: &P,
    inputs: MeasureInputs,
    n: usize,
) -> Result<JacobianOutcome> {
    let request = JacobianRequest { points: Some(n) };
    measure_jacobian_on(backend, net, inputs, request, &mut |_| ControlFlow::Continue(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_opens_everywhere_and_prints_as_its_device() {
        let cpu = SweepDevice::open(Device::Cpu).unwrap();
        assert_eq!(cpu.device(), Device::Cpu);
        assert_eq!(format!("{cpu:?}"), "SweepDevice(cpu)");
        let lanes = cpu.lanes(3, 2).unwrap();
        assert_eq!(lanes.len(), 3);
        assert!(
            lanes
                .iter()
                .all(|l| l.device() == Device::Cpu && l.host().threads() == 2)
        );
    }

    #[test]
    fn a_gpu_that_cannot_open_is_an_error_naming_cuda_not_a_panic() {
        // Without the feature, or on a machine without a GPU, this is an error; with a GPU
        // it opens.
        match SweepDevice::open(Device::Cuda { ordinal: 0 }) {
            Ok(gpu) => assert_eq!(gpu.device(), Device::Cuda { ordinal: 0 }),
            Err(e) => assert!(e.to_string().contains("CUDA"), "{e}"),
        }
    }
}
