//! The measurement operations of the CUDA backend: the Jacobian's starting cotangents, the
//! per-point Gram sums (in the CPU's order, in f64) and the region codes of a layer's
//! pre-activations (with the first non-finite value found on the GPU).

use super::{Arg, CudaBackend, CudaBuf, activation_code};
use crate::net::Activation;
use cudarc::driver::DevicePtr;

impl CudaBackend {
    /// The starting cotangents of the Jacobian: row `c` of point `p` is `w_last[c] ⊙
    /// φ'(acts[p])`.
    #[allow(clippy::too_many_arguments)] // the arguments of the Backend operation it implements
    pub(super) fn start_cotangents(
        &self,
        h: &mut CudaBuf,
        w_last: &CudaBuf,
        acts: &CudaBuf,
        points: usize,
        classes: usize,
        width: usize,
        activation: Activation,
    ) {
        let ph = self.ptr(h, points * classes * width);
        let (pw, pa) = (self.ptr(w_last, classes * width), self.ptr(acts, points * width));
        let (p, c, w, code) = (
            points as u64,
            classes as u64,
            width as u64,
            activation_code(Some(activation)),
        );
        self.launch(
            "cotangent_start",
            &self.gpu.kernels.cotangent_start,
            points * classes * width,
            &[
                Arg::Ptr(ph),
                Arg::Ptr(pw),
                Arg::Ptr(pa),
                Arg::Len(p),
                Arg::Len(c),
                Arg::Len(w),
                Arg::I32(code),
            ],
        );
    }

    /// The `classes × classes` Gram matrix of each point, `y·rightᵀ` summed in f64 in
    /// the CPU's order.
    pub(super) fn grams_kernel(
        &self,
        y: &CudaBuf,
        right: &CudaBuf,
        points: usize,
        classes: usize,
        cols: usize,
    ) -> Vec<f64> {
        let len = points * classes * classes;
        if len == 0 {
            return Vec::new();
        }
        let (py, pr) = (
            self.ptr(y, points * classes * cols),
            self.ptr(right, points * classes * cols),
        );
        let Some(grams) = self.scratch::<f64>(len) else {
            return vec![f64::NAN; len];
        };
        let pgr = grams.device_ptr(&self.gpu.stream).0;
        let (p, c, k) = (points as u64, classes as u64, cols as u64);
        self.launch(
            "point_grams",
            &self.gpu.kernels.point_grams,
            len,
            &[
                Arg::Ptr(py),
                Arg::Ptr(pr),
                Arg::Len(p),
                Arg::Len(c),
                Arg::Len(k),
                Arg::Ptr(pgr),
            ],
        );
        if self.failed() {
            return vec![f64::NAN; len];
        }
        self.download(&grams, len)
    }

    /// φ applied in place and the region code of every value, or the first non-finite
    /// value (index, value).
    pub(super) fn codes_kernel(
        &self,
        z: &mut CudaBuf,
        len: usize,
        activation: Activation,
    ) -> std::result::Result<Vec<u8>, (usize, f32)> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let pz = self.ptr(z, len);
        let n = len as u64;
        let first = self.record("copying to the GPU", self.gpu.stream.clone_htod(&[n]));
        let (Some(first), Some(codes)) = (first, self.scratch::<u8>(len)) else {
            return Err((0, f32::NAN));
        };
        let pfirst = first.device_ptr(&self.gpu.stream).0;
        self.launch(
            "first_non_finite",
            &self.gpu.kernels.first_non_finite,
            len,
            &[Arg::Ptr(pz), Arg::Len(n), Arg::Ptr(pfirst)],
        );
        let index = self.download(&first, 1)[0];
        if self.failed() {
            return Err((0, f32::NAN));
        }
        if index < n {
            let at = index as usize;
            let mut value = [f32::NAN];
            if let Some(slice) = &z.data {
                let copied = self.gpu.stream.memcpy_dtoh(&slice.slice(at..at + 1), &mut value[..]);
                self.record("copying to the host", copied);
            }
            return Err((at, value[0]));
        }
        let (pc, code) = (codes.device_ptr(&self.gpu.stream).0, activation_code(Some(activation)));
        self.launch(
            "region_codes",
            &self.gpu.kernels.region_codes,
            len,
            &[Arg::Ptr(pz), Arg::Ptr(pc), Arg::Len(n), Arg::I32(code)],
        );
        Ok(self.download(&codes, len))
    }
}
