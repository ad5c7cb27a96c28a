//! Opening one GPU for the backend: the library probe, the driver context and its one
//! stream, a cuBLAS handle on that stream and the kernels of `kernels.cu` compiled by NVRTC
//! for this GPU; and further streams of that context, each with its own cuBLAS handle
//! ([`another_stream`]), for work that runs concurrently. Every failure is an error that
//! names CUDA and the reason.

use super::probe;
use crate::error::{OccamError, Result};
use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream};
use cudarc::nvrtc::{CompileOptions, compile_ptx_with_opts};
use std::sync::{Arc, Mutex};

/// The CUDA C source of the kernels, compiled when a backend opens.
const KERNELS_SOURCE: &str = include_str!("kernels.cu");

/// The compiler options of the kernels. No fused multiply-adds: the elementwise arithmetic
/// rounds as the CPU backend's does. IEEE division and square roots, no flush to zero.
pub(super) fn compile_options(compute_capability: (i32, i32)) -> CompileOptions {
    CompileOptions {
        fmad: Some(false),
        ftz: Some(false),
        prec_div: Some(true),
        prec_sqrt: Some(true),
        options: vec![format!(
            "--gpu-architecture=compute_{}{}",
            compute_capability.0, compute_capability.1
        )],
        name: Some("kernels.cu".into()),
        ..Default::default()
    }
}

/// A cuBLAS handle; used by one thread at a time (behind the [`Gpu`]'s mutex).
pub(super) struct Blas(pub CudaBlas);
// SAFETY: a cuBLAS handle may be used from any thread, one at a time; the mutex in `Gpu`
// serialises every use.
unsafe impl Send for Blas {}

/// The kernels of `kernels.cu`, by name (loaded once per context; every stream of the
/// context launches them).
#[derive(Clone)]
pub(super) struct Kernels {
    pub fill: CudaFunction,
    pub scale_add: CudaFunction,
    pub bias_and_activation: CudaFunction,
    pub mask_by_derivative: CudaFunction,
    pub bias_gradient: CudaFunction,
    pub softmax_cross_entropy: CudaFunction,
    pub update_sgd: CudaFunction,
    pub update_momentum: CudaFunction,
    pub update_adam: CudaFunction,
    pub update_rmsprop: CudaFunction,
    pub cotangent_start: CudaFunction,
    pub point_grams: CudaFunction,
    pub first_non_finite: CudaFunction,
    pub region_codes: CudaFunction,
}

/// One opened GPU, shared by a backend and its workers.
pub(super) struct Gpu {
    pub ctx: Arc<CudaContext>,
    pub stream: Arc<CudaStream>,
    pub blas: Mutex<Blas>,
    pub kernels: Kernels,
    pub ordinal: usize,
    pub name: String,
    /// The first device failure (an operation cannot return it: the backend's operations
    /// are infallible); later operations are skipped and [`super::CudaBackend::check`]
    /// reports it.
    pub failure: Mutex<Option<String>>,
    /// Host memory a batch is written into before it is copied to the device.
    pub staging: Mutex<Vec<f32>>,
}

fn cuda_error(what: &str, ordinal: usize, e: impl std::fmt::Display) -> OccamError {
    OccamError::config(format!("CUDA device {ordinal}: {what}: {e}"))
}

/// Opens GPU `ordinal`: fails with a clear error when a library is missing, the driver
/// reports no GPU, the GPU does not exist, or the kernels do not compile.
pub(super) fn open(ordinal: usize) -> Result<Gpu> {
    probe::check_libraries()?;
    // The probe found every library; a panic now would be a driver older than the CUDA 13
    // names cudarc looks up. Turn it into an error rather than a crash.
    match std::panic::catch_unwind(|| open_checked(ordinal)) {
        Ok(result) => result,
        Err(_) => Err(OccamError::config(format!(
            "CUDA device {ordinal}: the CUDA driver library lacks a function of CUDA 13 (driver 580 or later is needed)"
        ))),
    }
}

fn open_checked(ordinal: usize) -> Result<Gpu> {
    let count = match CudaContext::device_count() {
        Ok(n) => n.max(0) as usize,
        Err(e) if e.to_string().contains("NO_DEVICE") => 0,
        Err(e) => return Err(cuda_error("the driver did not start", ordinal, e)),
    };
    if count == 0 {
        return Err(OccamError::config(
            "CUDA is not available: the NVIDIA driver is installed but reports no GPU".to_string(),
        ));
    }
    if ordinal >= count {
        return Err(OccamError::config(format!(
            "CUDA device {ordinal} does not exist: this machine has {count} GPU{}, numbered 0 to {}",
            if count == 1 { "" } else { "s" },
            count - 1
        )));
    }
    let ctx = CudaContext::new(ordinal).map_err(|e| cuda_error("creating a context", ordinal, e))?;
    // One stream: every operation is ordered after the previous one, so no buffer needs
    // cudarc's events.
    // SAFETY: called before any allocation; the backend uses this one stream only.
    unsafe { ctx.disable_event_tracking() };
    let stream = ctx.default_stream();
    let name = ctx.name().unwrap_or_else(|_| "unnamed GPU".into());
    let capability = ctx
        .compute_capability()
        .map_err(|e| cuda_error("reading the compute capability", ordinal, e))?;
    let blas = CudaBlas::new(stream.clone()).map_err(|e| cuda_error("starting cuBLAS", ordinal, e))?;
    let kernels = compile_kernels(&ctx, ordinal, capability)?;
    Ok(Gpu {
        ctx,
        stream,
        blas: Mutex::new(Blas(blas)),
        kernels,
        ordinal,
        name,
        failure: Mutex::new(None),
        staging: Mutex::new(Vec::new()),
    })
}

/// The same GPU (context and compiled kernels) with a new stream of its own, a cuBLAS handle
/// on that stream, and its own failure record and staging memory: what one of several
/// concurrent sweep trials runs on. The stream does not synchronize with the others
/// (`CU_STREAM_NON_BLOCKING`); buffers allocated on it are used on it only, so no events
/// are needed (event tracking stays off, as [`open`] set it).
pub(super) fn another_stream(gpu: &Gpu) -> Result<Gpu> {
    let ordinal = gpu.ordinal;
    let stream = gpu
        .ctx
        .new_stream()
        .map_err(|e| cuda_error("creating a stream", ordinal, e))?;
    let blas = CudaBlas::new(stream.clone()).map_err(|e| cuda_error("starting cuBLAS", ordinal, e))?;
    Ok(Gpu {
        ctx: gpu.ctx.clone(),
        stream,
        blas: Mutex::new(Blas(blas)),
        kernels: gpu.kernels.clone(),
        ordinal,
        name: gpu.name.clone(),
        failure: Mutex::new(None),
        staging: Mutex::new(Vec::new()),
    })
}

fn compile_kernels(ctx: &Arc<CudaContext>, ordinal: usize, capability: (i32, i32)) -> Result<Kernels> {
    let ptx = compile_ptx_with_opts(KERNELS_SOURCE, compile_options(capability)).map_err(|e| {
        cuda_error(
            "NVRTC could not compile the kernels (src/compute/cuda/kernels.cu)",
            ordinal,
            e,
        )
    })?;
    let module = ctx
        .load_module(ptx)
        .map_err(|e| cuda_error("loading the compiled kernels", ordinal, e))?;
    let f = |name: &str| {
        module
            .load_function(name)
            .map_err(|e| cuda_error(&format!("finding kernel {name}"), ordinal, e))
    };
    Ok(Kernels {
        fill: f("fill")?,
        scale_add: f("scale_add")?,
        bias_and_activation: f("bias_and_activation")?,
        mask_by_derivative: f("mask_by_derivative")?,
        bias_gradient: f("bias_gradient")?,
        softmax_cross_entropy: f("softmax_cross_entropy")?,
        update_sgd: f("update_sgd")?,
        update_momentum: f("update_momentum")?,
        update_adam: f("update_adam")?,
        update_rmsprop: f("update_rmsprop")?,
        cotangent_start: f("cotangent_start")?,
        point_grams: f("point_grams")?,
        first_non_finite: f("first_non_finite")?,
        region_codes: f("region_codes")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernels compile with NVRTC wherever libnvrtc loads (no GPU needed): a syntax or
    /// type error in kernels.cu fails here, not first on a GPU machine.
    #[test]
    fn the_kernels_compile_with_nvrtc_when_it_is_present() {
        if !probe::Library::Nvrtc.is_present() {
            eprintln!("skipped: libnvrtc.so.13 not found (set LD_LIBRARY_PATH to a CUDA 13 NVRTC to run this test)");
            return;
        }
        for capability in [(7, 5), (8, 0), (9, 0)] {
            let ptx = compile_ptx_with_opts(KERNELS_SOURCE, compile_options(capability))
                .unwrap_or_else(|e| panic!("kernels.cu does not compile for {capability:?}: {e}"));
            let text = ptx.to_src();
            // Only tanhf (a library routine, in the kernels that apply φ) may fuse; the
            // kernels that mirror the CPU's f32 arithmetic must not.
            for name in [
                "scale_add",
                "mask_by_derivative",
                "bias_gradient",
                "update_sgd",
                "update_momentum",
                "update_adam",
                "update_rmsprop",
                "cotangent_start",
                "point_grams",
            ] {
                let start = text
                    .find(&format!(".entry {name}("))
                    .unwrap_or_else(|| panic!("{name} missing from the PTX"));
                let body = &text[start + 7..];
                let body = &body[..body.find(".entry ").unwrap_or(body.len())];
                assert!(!body.contains("fma.rn.f32"), "a fused f32 multiply-add in {name}");
            }
        }
    }
}
