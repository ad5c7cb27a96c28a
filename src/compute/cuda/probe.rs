//! Whether the CUDA libraries the backend loads at run time can be found, asked before any
//! CUDA call: `cudarc` panics when it first touches a library it cannot load, so the
//! backend asks here first and turns an absent library into an error that says which.

use crate::error::{OccamError, Result};

/// A shared library the CUDA backend needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Library {
    /// The driver (`libcuda.so.1`), installed with the NVIDIA kernel driver.
    Driver,
    /// The run-time compiler (`libnvrtc.so.13`) that compiles `kernels.cu`.
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

    /// Why the backend cannot start without it, and how to get it.
    pub fn absence(self) -> String {
        match self {
            Library::Driver => "the NVIDIA driver library libcuda.so.1 was not found: this machine has no NVIDIA \
                                driver (no GPU), or the driver's directory is not on LD_LIBRARY_PATH"
                .into(),
            Library::Nvrtc => "the CUDA run-time compiler library libnvrtc.so.13 (NVRTC, from the CUDA 13 toolkit or \
                               the pip package nvidia-cuda-nvrtc) was not found: add its directory to LD_LIBRARY_PATH"
                .into(),
            Library::Cublas => "the cuBLAS library libcublas.so.13 (from the CUDA 13 toolkit or the pip package \
                                nvidia-cublas) was not found: add its directory to LD_LIBRARY_PATH"
                .into(),
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
        }
    }
}
