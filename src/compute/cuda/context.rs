//! Opening one GPU for the backend: the library probe, the driver context and its one
//! stream, a cuBLAS handle on that stream and the kernels of `kernels.cu` compiled by NVRTC
//! into a cubin for this GPU (`compile.rs`); and further streams of that context, each with
//! its own cuBLAS handle ([`another_stream`]), for work that runs concurrently. Every
//! failure is an error that names CUDA and the reason.

use super::compile::{self, CudaVersion, Output};
use super::probe;
use crate::error::{OccamError, Result};
use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaFunction, CudaStream};
use cudarc::nvrtc::Ptx;
use std::cell::Cell;
use std::sync::{Arc, Mutex, Once};

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
    pub blas: Mutex<CudaBlas>,
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
/// reports no GPU, the GPU does not exist, or the kernels do not compile or load.
pub(super) fn open(ordinal: usize) -> Result<Gpu> {
    probe::check_libraries()?;
    // The probe found every library; a panic now is cudarc not finding a function it looks
    // up in one of them (a driver older than CUDA 13, or an NVRTC or cuBLAS of another
    // major version). Turn it into an error rather than a crash, without the panic message.
    match quietly(|| open_checked(ordinal)) {
        Ok(result) => result,
        Err(why) => Err(OccamError::config(format!(
            "CUDA device {ordinal}: a CUDA library lacks a function of CUDA 13 ({why}): the backend needs an \
             NVIDIA driver 580 or later and the CUDA 13 NVRTC and cuBLAS"
        ))),
    }
}

thread_local! {
    /// Whether a panic on this thread is caught by [`quietly`] (and so not printed).
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic as its message, without the panic hook printing it (as it
/// would, "thread … panicked at …", before our own error). Panics of other threads, and of
/// this one outside `f`, are printed as before.
fn quietly<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info)
            }
        }));
    });
    let was_quiet = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was_quiet));
    result.map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "no message".into())
    })
}

fn open_checked(ordinal: usize) -> Result<Gpu> {
    let count = match CudaContext::device_count() {
        Ok(n) => n.max(0) as usize,
        Err(e) if e.to_string().contains("NO_DEVICE") => 0,
        Err(e) if e.to_string().contains("STUB_LIBRARY") => {
            return Err(OccamError::config(
                "CUDA is not available: the libcuda.so found is the CUDA toolkit's stub, not the NVIDIA driver's \
                 library: remove the toolkit's lib64/stubs directory from LD_LIBRARY_PATH (and install the driver)"
                    .to_string(),
            ));
        }
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
        blas: Mutex::new(blas),
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
        blas: Mutex::new(blas),
        kernels: gpu.kernels.clone(),
        ordinal,
        name: gpu.name.clone(),
        failure: Mutex::new(None),
        staging: Mutex::new(Vec::new()),
    })
}

fn compile_kernels(ctx: &Arc<CudaContext>, ordinal: usize, capability: (i32, i32)) -> Result<Kernels> {
    let nvrtc = describe(compile::nvrtc_version());
    let arch = format!("sm_{}{}", capability.0, capability.1);
    let known = compile::nvrtc_architectures();
    if !known.is_empty() && !known.contains(&(capability.0 * 10 + capability.1)) {
        return Err(OccamError::config(format!(
            "CUDA device {ordinal}: NVRTC {nvrtc} cannot compile for this GPU's architecture {arch} (it knows \
             sm_{} to sm_{}): put a newer CUDA 13 NVRTC on LD_LIBRARY_PATH",
            known[0],
            known[known.len() - 1]
        )));
    }
    let cubin = compile::compile(capability, Output::Cubin).map_err(|e| {
        cuda_error(
            &format!("NVRTC {nvrtc} could not compile the kernels (src/compute/cuda/kernels.cu) for {arch}"),
            ordinal,
            e,
        )
    })?;
    let module = ctx.load_module(Ptx::from_binary(cubin)).map_err(|e| {
        let driver = describe(compile::driver_version());
        cuda_error(
            &format!(
                "the driver (CUDA {driver}) could not load the kernels NVRTC {nvrtc} compiled for {arch}; an NVRTC \
                 newer than the driver can write code the driver cannot load: put an NVRTC \
                 no newer than CUDA {driver} first on LD_LIBRARY_PATH"
            ),
            ordinal,
            e,
        )
    })?;
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

fn describe(version: Option<CudaVersion>) -> String {
    version.map_or_else(|| "of unknown version".into(), |v| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside `quietly` is its error, not printed by the panic hook; the hook still
    /// prints (here: counts) panics outside it.
    #[test]
    fn a_caught_panic_is_an_error_and_not_printed() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEEN: AtomicUsize = AtomicUsize::new(0);
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.to_string().contains("quietly-marker") {
                SEEN.fetch_add(1, Ordering::SeqCst);
            }
            default(info)
        }));
        let caught = quietly(|| -> u8 { panic!("quietly-marker {}", 1) });
        assert_eq!(caught, Err("quietly-marker 1".to_string()));
        assert_eq!(quietly(|| 7), Ok(7));
        assert_eq!(SEEN.load(Ordering::SeqCst), 0, "the hook printed a caught panic");
        let outside = std::panic::catch_unwind(|| panic!("quietly-marker outside"));
        assert!(outside.is_err());
        assert_eq!(
            SEEN.load(Ordering::SeqCst),
            1,
            "a panic outside quietly() went unreported"
        );
    }
}
