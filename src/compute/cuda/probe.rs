//! Whether the CUDA libraries the backend loads at run time can be found, asked before any
//! CUDA call: `cudarc` panics when it first touches a library it cannot load, so the
//! backend asks here first and turns an absent library into an error that says which.

use crate::error::{OccamError, Result};

/// A shared library the CUDA backend needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Library {
    /// The driver (`libcuda.so.1`, or a plain `libcuda.so`, which cudarc tries first),
    /// installed with the NVIDIA kernel driver.
    Driver,
    /// The run-time compiler (`libnvrtc.so.13`; cudarc also loads `libnvrtc.so` and older
    /// major versions) that compiles `kernels.cu`.
    Nvrtc,
    /// cuBLAS (`libcublas.so.13`), for the products.
    Cublas,
}

impl Library {
    /// Every library, in the order they are needed.
    pub const ALL: [Library; 3] = [Library::Driver, Library::Nvrtc, Library::Cublas];

    /// Whether the dynamic loader finds it under one of the names `cudarc` tries.
    pub fn is_present(self) -> bool {
        // SAFETY: each only tries to open the library by name (dlopen) and closes it again.
        unsafe {
            match self {
                Library::Driver => cudarc::driver::sys::is_culib_present(),
                Library::Nvrtc => cudarc::nvrtc::sys::is_culib_present(),
                Library::Cublas => cudarc::cublas::sys::is_culib_present(),
            }
        }
    }

    /// The names the dynamic loader is asked for, in cudarc's order (the first that loads
    /// is used): the plain `.so` first, then versioned names, CUDA 13's among them.
    #[cfg(test)]
    pub fn candidates(self) -> Vec<String> {
        cudarc::get_lib_name_candidates(match self {
            Library::Driver => "cuda",
            Library::Nvrtc => "nvrtc",
            Library::Cublas => "cublas",
        })
    }

    /// Why the backend cannot start without it, and how to get it.
    pub fn absence(self) -> String {
        let tried = "none of the names cudarc tries loads";
        match self {
            Library::Driver => format!(
                "the NVIDIA driver library libcuda.so.1 was not found ({tried}: libcuda.so, libcuda.so.1, …): this \
                 machine has no NVIDIA driver (no GPU), or the driver's directory is not on LD_LIBRARY_PATH"
            ),
            Library::Nvrtc => format!(
                "the CUDA run-time compiler library NVRTC, libnvrtc.so.13 (from the CUDA 13 toolkit or the pip \
                 package nvidia-cuda-nvrtc), was not found ({tried}: libnvrtc.so, libnvrtc.so.13, older majors \
                 such as libnvrtc.so.12, …): add its directory to LD_LIBRARY_PATH"
            ),
            Library::Cublas => format!(
                "the cuBLAS library libcublas.so.13 (from the CUDA 13 toolkit or the pip package nvidia-cublas) was \
                 not found ({tried}: libcublas.so, libcublas.so.13, older majors such as libcublas.so.12, …): add \
                 its directory to LD_LIBRARY_PATH"
            ),
        }
    }
}

/// Fails, naming the first missing library, unless every library the backend needs loads.
pub(super) fn check_libraries() -> Result<()> {
    match Library::ALL.into_iter().find(|l| !l.is_present()) {
        Some(missing) => Err(OccamError::config(format!(
            "CUDA is not available: {}",
            missing.absence()
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_answers_without_touching_the_driver() {
        // On a machine without CUDA this must be an error naming CUDA and the driver library,
        // never a panic; with CUDA it passes. Either way it returns.
        match check_libraries() {
            Ok(()) => assert!(Library::ALL.iter().all(|l| l.is_present())),
            Err(e) => {
                let text = e.to_string();
                assert!(text.starts_with("CUDA is not available: "), "{text}");
                assert!(text.contains(".so"), "{text}");
            }
        }
    }

    #[test]
    fn every_absence_names_its_library_and_the_fix() {
        for (lib, name) in Library::ALL
            .into_iter()
            .zip(["libcuda.so.1", "libnvrtc.so.13", "libcublas.so.13"])
        {
            let text = lib.absence();
            assert!(text.contains(name) && text.contains("LD_LIBRARY_PATH"), "{text}");
            // The message names the plain .so that cudarc tries first, as well as CUDA 13's name.
            let candidates = lib.candidates();
            let plain = &candidates[0];
            assert!(
                plain.ends_with(".so") && text.contains(plain.as_str()),
                "{plain}: {text}"
            );
            assert!(candidates.iter().any(|c| c == name), "{name} not among {candidates:?}");
        }
    }
}
