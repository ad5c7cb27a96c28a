//! Compiling `kernels.cu` with NVRTC into a cubin, machine code for the exact GPU
//! (`sm_XY` from its compute capability), and the versions of NVRTC and the driver that
//! the error messages name. A cubin, not PTX: the driver must JIT-compile PTX and refuses
//! PTX of a newer ISA version than it knows (an NVRTC newer than the driver writes such PTX),
//! while a cubin for the GPU's own architecture loads on any driver of the same CUDA major
//! version.

use cudarc::nvrtc::{result as nvrtc, sys as nvrtc_sys};
use std::ffi::{CStr, CString};
use std::fmt;

/// The CUDA C source of the kernels, compiled when a backend opens.
pub(super) const KERNELS_SOURCE: &str = include_str!("kernels.cu");

/// A CUDA version (of NVRTC, or the newest CUDA the driver supports), e.g. 13.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct CudaVersion {
    pub major: i32,
    pub minor: i32,
}

impl fmt::Display for CudaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What NVRTC is asked to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// Machine code for one GPU architecture (`--gpu-architecture=sm_XY`): what the backend
    /// loads.
    Cubin,
    /// PTX for the virtual architecture (`compute_XY`): read by the unit tests, which check
    /// the arithmetic NVRTC emits.
    #[cfg(test)]
    Ptx,
}

/// The version of the NVRTC library that loads (None if its version cannot be read).
pub(super) fn nvrtc_version() -> Option<CudaVersion> {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: nvrtcVersion writes two ints; the caller has checked that libnvrtc loads.
    let status = unsafe { nvrtc_sys::nvrtcVersion(&mut major, &mut minor) };
    (status == nvrtc_sys::nvrtcResult::NVRTC_SUCCESS).then_some(CudaVersion { major, minor })
}

/// The newest CUDA version the driver supports (13.0 for driver 580), None if unknown.
pub(super) fn driver_version() -> Option<CudaVersion> {
    let mut version = 0;
    // SAFETY: cuDriverGetVersion writes one int and needs no cuInit; the caller has checked
    // that libcuda loads.
    let status = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) };
    (status == cudarc::driver::sys::CUresult::CUDA_SUCCESS && version > 0).then_some(CudaVersion {
        major: version / 1000,
        minor: version % 1000 / 10,
    })
}

/// The architectures NVRTC compiles for, as `major·10 + minor` (90 for sm_90); empty if it
/// cannot say.
pub(super) fn nvrtc_architectures() -> Vec<i32> {
    let mut count = 0;
    // SAFETY: the count is written first, then exactly that many ints.
    unsafe {
        if nvrtc_sys::nvrtcGetNumSupportedArchs(&mut count) != nvrtc_sys::nvrtcResult::NVRTC_SUCCESS || count <= 0 {
            return Vec::new();
        }
        let mut archs = vec![0; count as usize];
        if nvrtc_sys::nvrtcGetSupportedArchs(archs.as_mut_ptr()) != nvrtc_sys::nvrtcResult::NVRTC_SUCCESS {
            return Vec::new();
        }
        archs
    }
}

/// The compiler options of the kernels for a GPU of `capability` (major, minor). No fused
/// multiply-adds: the elementwise arithmetic rounds as the CPU backend's does. IEEE
/// division and square roots, no flush to zero.
pub(super) fn options(capability: (i32, i32), output: Output) -> Vec<String> {
    let arch = match output {
        Output::Cubin => "sm",
        #[cfg(test)]
        Output::Ptx => "compute",
    };
    vec![
        "--fmad=false".into(),
        "--ftz=false".into(),
        "--prec-div=true".into(),
        "--prec-sqrt=true".into(),
        format!("--gpu-architecture={arch}_{}{}", capability.0, capability.1),
    ]
}

/// Compiles `kernels.cu` for a GPU of `capability`: the cubin (or PTX) bytes, or why not
/// (NVRTC's status and its log).
pub(super) fn compile(capability: (i32, i32), output: Output) -> Result<Vec<u8>, String> {
    let source = CString::new(KERNELS_SOURCE).map_err(|_| "kernels.cu holds a NUL byte".to_string())?;
    let name = c"kernels.cu";
    let program = nvrtc::create_program(&source, Some(name)).map_err(|e| format!("{e}"))?;
    let options = options(capability, output);
    // SAFETY: `program` was created above and is destroyed once, at the end; `source` and
    // `name` outlive it.
    unsafe {
        let result = match nvrtc::compile_program(program, &options) {
            Err(e) => Err(format!("{e}: {}", program_log(program))),
            Ok(()) => match output {
                Output::Cubin => cubin(program),
                #[cfg(test)]
                Output::Ptx => nvrtc::get_ptx(program)
                    .map(|text| text.into_iter().map(|c| c as u8).collect())
                    .map_err(|e| format!("{e}")),
            },
        };
        let _ = nvrtc::destroy_program(program);
        result
    }
}

/// The cubin of a compiled program.
///
/// # Safety
/// `program` is a live NVRTC program that compiled for an `sm_XY` architecture.
unsafe fn cubin(program: nvrtc_sys::nvrtcProgram) -> Result<Vec<u8>, String> {
    let mut size = 0usize;
    let status = unsafe { nvrtc_sys::nvrtcGetCUBINSize(program, &mut size) };
    if status != nvrtc_sys::nvrtcResult::NVRTC_SUCCESS || size == 0 {
        return Err(format!("nvrtcGetCUBINSize: {status:?} (size {size})"));
    }
    let mut bytes = vec![0u8; size];
    let status = unsafe { nvrtc_sys::nvrtcGetCUBIN(program, bytes.as_mut_ptr().cast()) };
    if status != nvrtc_sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("nvrtcGetCUBIN: {status:?}"));
    }
    Ok(bytes)
}

/// NVRTC's log of a program, trimmed (empty if there is none).
///
/// # Safety
/// `program` is a live NVRTC program.
unsafe fn program_log(program: nvrtc_sys::nvrtcProgram) -> String {
    match unsafe { nvrtc::get_program_log(program) } {
        Ok(log) if !log.is_empty() => {
            // SAFETY: NVRTC writes a NUL-terminated log of the size it reported.
            let text = unsafe { CStr::from_ptr(log.as_ptr()) };
            text.to_string_lossy().trim().to_string()
        }
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::probe;
    use super::*;

    fn nvrtc_present() -> bool {
        if probe::Library::Nvrtc.is_present() {
            return true;
        }
        eprintln!(
            "skipped: NVRTC not found (set LD_LIBRARY_PATH to a CUDA 13 NVRTC, e.g. the pip package \
             nvidia-cuda-nvrtc's nvidia/cu13/lib, to run this test)"
        );
        false
    }

    /// The backend loads a cubin for the GPU's exact architecture: for an A100 (sm_80) and
    /// an H100/H200 (sm_90) NVRTC must produce an ELF image, not PTX text. No GPU needed.
    #[test]
    fn the_kernels_compile_to_a_cubin_for_sm_80_and_sm_90() {
        if !nvrtc_present() {
            return;
        }
        let version = nvrtc_version().expect("NVRTC reports its version");
        assert!(version.major >= 12, "NVRTC {version}");
        let archs = nvrtc_architectures();
        for capability in [(8, 0), (9, 0)] {
            assert!(archs.contains(&(capability.0 * 10 + capability.1)), "{archs:?}");
            let image = compile(capability, Output::Cubin)
                .unwrap_or_else(|e| panic!("kernels.cu does not compile for {capability:?}: {e}"));
            assert_eq!(&image[..4], b"\x7fELF", "a cubin for {capability:?} is an ELF image");
            assert!(!image.windows(8).any(|w| w == b".version"), "PTX text in the cubin");
        }
        assert!(options((9, 0), Output::Cubin).contains(&"--gpu-architecture=sm_90".to_string()));
    }

    /// A syntax or type error in kernels.cu, or a fused multiply-add in a kernel that must
    /// round as the CPU does, fails here, not first on a GPU machine.
    #[test]
    fn the_kernels_mirroring_the_cpus_arithmetic_fuse_no_multiply_add() {
        if !nvrtc_present() {
            return;
        }
        for capability in [(7, 5), (8, 0), (9, 0)] {
            let ptx = compile(capability, Output::Ptx)
                .unwrap_or_else(|e| panic!("kernels.cu does not compile for {capability:?}: {e}"));
            let text = String::from_utf8_lossy(&ptx);
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

    #[test]
    fn an_architecture_nvrtc_does_not_know_is_an_error_with_its_log() {
        if !nvrtc_present() {
            return;
        }
        let e = compile((1, 0), Output::Cubin).unwrap_err();
        assert!(e.contains("NVRTC_ERROR"), "{e}");
    }
}
