//! The products of the CUDA backend: cuBLAS `sgemm` in full FP32, row-major through the
//! transpose identity `C = A·B ⇔ Cᵀ = Bᵀ·Aᵀ`, and the layer operations built on it (a
//! layer's forward pass with its bias and φ, the weight, bias and input gradients, the
//! Jacobian's cotangents through a layer), each followed by its elementwise kernel.

use super::{Arg, CudaBackend, CudaBuf, activation_code};
use crate::compute::Operand;
use crate::net::Activation;
use cudarc::cublas::{result as blas, sys as blas_sys};

impl CudaBackend {
    /// `dst = op(a)·op(b)` (`+=` when `accumulate`) through cuBLAS.
    pub(super) fn sgemm(&self, dst: &mut CudaBuf, a: Operand<'_, Self>, b: Operand<'_, Self>, accumulate: bool) {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        assert_eq!(
            k, b.rows,
            "inner dimensions differ: {}×{} · {}×{}",
            a.rows, a.cols, b.rows, b.cols
        );
        if m == 0 || n == 0 || self.failed() {
            return;
        }
        // Row-major C (m × n) is column-major Cᵀ (n × m): Cᵀ = op(b)ᵀ · op(a)ᵀ. A stored
        // row-major matrix read column-major is its transpose, so each operand is passed
        // untransposed (N) when it is used as stored and transposed (T) when it is a view.
        let operand = |op: &Operand<'_, Self>| {
            let stored_cols = if op.transposed { op.rows } else { op.cols };
            let flag = if op.transposed {
                blas_sys::cublasOperation_t::CUBLAS_OP_T
            } else {
                blas_sys::cublasOperation_t::CUBLAS_OP_N
            };
            (self.ptr(op.buf, op.rows * op.cols), flag, stored_cols.max(1) as i32)
        };
        let ((pa, op_a, lda), (pb, op_b, ldb)) = (operand(&a), operand(&b));
        let pc = self.ptr(dst, m * n);
        let (alpha, beta) = (1.0f32, if accumulate { 1.0f32 } else { 0.0 });
        let dims_fit = [m, n, k].iter().all(|&v| v <= i32::MAX as usize);
        if !dims_fit {
            self.record::<(), _>(
                "a product",
                Err(format!("{m}×{k}·{k}×{n} exceeds cuBLAS's 32-bit sizes")),
            );
            return;
        }
        let bound = self.gpu.ctx.bind_to_thread();
        if self.record("binding the GPU to this thread", bound).is_none() {
            return;
        }
        let handle = self.gpu.blas.lock().expect("cuBLAS lock");
        // SAFETY: the pointers address buffers of at least the operands' sizes (checked by
        // `ptr`), the leading dimensions are the stored row lengths, and the handle runs
        // on the backend's one stream.
        let result = unsafe {
            blas::sgemm(
                *handle.handle(),
                op_b,
                op_a,
                n as i32,
                m as i32,
                k as i32,
                &alpha,
                pb as *const f32,
                ldb,
                pa as *const f32,
                lda,
                &beta,
                pc as *mut f32,
                n as i32,
            )
        };
        drop(handle);
        self.record("cuBLAS sgemm", result);
    }

    /// `dst (rows × width) *= φ'(acts[(r / group)·width + c])`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mask(
        &self,
        dst: &mut CudaBuf,
        acts: &CudaBuf,
        rows: usize,
        width: usize,
        group: usize,
        act: Activation,
    ) {
        let (pd, pa) = (
            self.ptr(dst, rows * width),
            self.ptr(acts, rows.div_ceil(group) * width),
        );
        let (rows, width, group, code) = (rows as u64, width as u64, group as u64, activation_code(Some(act)));
        self.launch(
            "mask_by_derivative",
            &self.gpu.kernels.mask_by_derivative,
            (rows * width) as usize,
            &[
                Arg::Ptr(pd),
                Arg::Ptr(pa),
                Arg::Len(rows),
                Arg::Len(width),
                Arg::Len(group),
                Arg::I32(code),
            ],
        );
    }

    /// `out = φ(input·weightᵀ + bias)` (φ and the bias optional), NaN kept through φ.
    #[allow(clippy::too_many_arguments)] // the arguments of the Backend operation it implements
    pub(super) fn forward_layer(
        &self,
        out: &mut CudaBuf,
        input: &CudaBuf,
        weight: &CudaBuf,
        bias: Option<&CudaBuf>,
        n: usize,
        (inputs, outputs): (usize, usize),
        activation: Option<Activation>,
    ) {
        let x = Operand::new(input, n, inputs);
        let w = Operand::new(weight, outputs, inputs);
        self.sgemm(out, x, w.t(), false);
        if bias.is_none() && activation.is_none() {
            return;
        }
        let po = self.ptr(out, n * outputs);
        let pb = bias.map_or(0, |b| self.ptr(b, outputs));
        let (rows, cols, code) = (n as u64, outputs as u64, activation_code(activation));
        self.launch(
            "bias_and_activation",
            &self.gpu.kernels.bias_and_activation,
            n * outputs,
            &[
                Arg::Ptr(po),
                Arg::Ptr(pb),
                Arg::Len(rows),
                Arg::Len(cols),
                Arg::I32(code),
            ],
        );
    }

    /// `dw = gᵀ·input`, and `db` = the column sums of `g` when the layer has a bias.
    pub(super) fn backward_weights(
        &self,
        dw: &mut CudaBuf,
        db: Option<&mut CudaBuf>,
        g: &CudaBuf,
        input: &CudaBuf,
        n: usize,
        (inputs, outputs): (usize, usize),
    ) {
        let gv = Operand::new(g, n, outputs);
        self.sgemm(dw, gv.t(), Operand::new(input, n, inputs), false);
        if let Some(db) = db {
            let (pdb, pg) = (self.ptr(db, outputs), self.ptr(g, n * outputs));
            let (rows, outs) = (n as u64, outputs as u64);
            self.launch(
                "bias_gradient",
                &self.gpu.kernels.bias_gradient,
                outputs,
                &[Arg::Ptr(pdb), Arg::Ptr(pg), Arg::Len(rows), Arg::Len(outs)],
            );
        }
    }

    /// `dst = (g·weight) ⊙ φ'(acts)`: the gradient passed to the layer below.
    #[allow(clippy::too_many_arguments)] // the arguments of the Backend operation it implements
    pub(super) fn backward_input(
        &self,
        dst: &mut CudaBuf,
        g: &CudaBuf,
        weight: &CudaBuf,
        acts: &CudaBuf,
        n: usize,
        (inputs, outputs): (usize, usize),
        activation: Activation,
    ) {
        self.sgemm(
            dst,
            Operand::new(g, n, outputs),
            Operand::new(weight, outputs, inputs),
            false,
        );
        self.mask(dst, acts, n, inputs, 1, activation);
    }

    /// The Jacobian's cotangents one layer down: `dst = (src·weight) ⊙ φ'(acts)`, one
    /// row of `acts` per point shared by its `classes` rows.
    #[allow(clippy::too_many_arguments)] // the arguments of the Backend operation it implements
    pub(super) fn backward_cotangent(
        &self,
        dst: &mut CudaBuf,
        src: &CudaBuf,
        weight: &CudaBuf,
        acts: &CudaBuf,
        points: usize,
        classes: usize,
        (inputs, outputs): (usize, usize),
        activation: Activation,
    ) {
        let s = Operand::new(src, points * classes, outputs);
        self.sgemm(dst, s, Operand::new(weight, outputs, inputs), false);
        self.mask(dst, acts, points * classes, inputs, classes, activation);
    }
}
