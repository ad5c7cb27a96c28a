//! [`CudaBackend`]: the [`Backend`] operations on one GPU. Buffers are device allocations
//! ([`CudaBuf`]); products go to cuBLAS (row-major through the transpose identity
//! `C = A·B ⇔ Cᵀ = Bᵀ·Aᵀ`), the fused elementwise work to the kernels of `kernels.cu`, all
//! on one stream in call order. Only losses, Gram matrices, region codes and what the
//! caller reads come back to the host.
//!
//! The trait's operations cannot return errors, so a device failure (out of memory, a
//! lost GPU) is kept: later operations are skipped, reads return NaN, and
//! [`CudaBackend::check`] reports it. Callers check after a run.

use super::context::{self, Gpu};
use super::launch::{BLOCK, blocks_for};
use crate::compute::{Backend, BatchLoss, Compute, Operand, UpdateRule};
use crate::error::{OccamError, Result};
use crate::net::Activation;
use cudarc::cublas::{result as blas, sys as blas_sys};
use cudarc::driver::{CudaFunction, CudaSlice, DevicePtr, LaunchConfig, PushKernelArg};
use std::sync::Arc;

/// `f32` values in GPU memory; empty buffers hold no allocation.
pub struct CudaBuf {
    data: Option<CudaSlice<f32>>,
    len: usize,
}

impl CudaBuf {
    /// The number of values.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the buffer holds no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The CUDA backend: one GPU, one stream. Clones (and [`Backend::worker`]s) share it;
/// [`CudaBackend::with_own_stream`] gives another stream of the same GPU.
#[derive(Clone)]
pub struct CudaBackend {
    gpu: Arc<Gpu>,
    host_threads: usize,
}

/// The code of an activation in `kernels.cu` (-1: none).
fn activation_code(act: Option<Activation>) -> i32 {
    match act {
        None => -1,
        Some(Activation::Relu) => 0,
        Some(Activation::Relu6) => 1,
        Some(Activation::HardTanh) => 2,
        Some(Activation::HardSigmoid) => 3,
        Some(Activation::Tanh) => 4,
    }
}

/// A kernel argument, as its C type in kernels.cu: a device address (`float*`, …), a
/// length or index (`u64`), a `float` or an `int`.
#[derive(Clone, Copy)]
enum Arg {
    Ptr(u64),
    Len(u64),
    F32(f32),
    I32(i32),
}

fn config(len: u64) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks_for(len), 1, 1),
        block_dim: (BLOCK, 1, 1),
        shared_mem_bytes: 0,
    }
}

impl CudaBackend {
    /// Opens GPU `ordinal`; host-side algorithms (see [`Backend::host`]) use `host_threads`
    /// CPU threads. Fails with an error naming CUDA when the libraries, the driver or the
    /// GPU are missing, or the kernels do not compile.
    pub fn new(ordinal: usize, host_threads: usize) -> Result<Self> {
        Ok(CudaBackend {
            gpu: Arc::new(context::open(ordinal)?),
            host_threads: host_threads.max(1),
        })
    }

    /// The same GPU with a stream and cuBLAS handle of its own (the context and the compiled
    /// kernels are shared): work queued on it runs concurrently with the other streams'.
    /// Its device failures are its own ([`CudaBackend::check`] reports this stream's).
    /// Buffers it allocates belong to it (and its [`Backend::worker`]s) alone: using them
    /// with another stream's backend is not ordered.
    pub fn with_own_stream(&self) -> Result<Self> {
        Ok(CudaBackend {
            gpu: Arc::new(context::another_stream(&self.gpu)?),
            host_threads: self.host_threads,
        })
    }

    /// The same backend with `threads` CPU threads for its host-side algorithms.
    pub fn with_host_threads(&self, threads: usize) -> Self {
        CudaBackend {
            gpu: self.gpu.clone(),
            host_threads: threads.max(1),
        }
    }

    /// The GPU's number (as `cuda:N` names it).
    pub fn ordinal(&self) -> usize {
        self.gpu.ordinal
    }

    /// The GPU's name, as the driver reports it.
    pub fn name(&self) -> &str {
        &self.gpu.name
    }

    /// Bytes of GPU memory free now.
    pub fn free_memory(&self) -> Result<u64> {
        self.gpu
            .ctx
            .mem_get_info()
            .map(|(free, _)| free as u64)
            .map_err(|e| self.error(&format!("reading free memory: {e}")))
    }

    /// Fails unless `bytes` fit in the GPU's free memory ("WHAT needs N GB, CUDA device 0
    /// has M GB free").
    pub fn check_memory(&self, what: &str, bytes: f64) -> Result<()> {
        let free = self.free_memory()? as f64;
        if bytes > free {
            return Err(OccamError::config(format!(
                "{what} needs {:.1} GB, CUDA device {} ({}) has {:.1} GB free",
                bytes / 1e9,
                self.gpu.ordinal,
                self.gpu.name,
                free / 1e9
            )));
        }
        Ok(())
    }

    /// Waits for the GPU's queued work, then fails if any operation since the backend
    /// opened failed on the device (the results since then are not to be used).
    pub fn check(&self) -> Result<()> {
        let synced = self.gpu.stream.synchronize();
        self.record("synchronizing", synced);
        match self.gpu.failure.lock().expect("failure lock").clone() {
            Some(what) => Err(self.error(&what)),
            None => Ok(()),
        }
    }

    fn error(&self, what: &str) -> OccamError {
        OccamError::config(format!("CUDA device {} ({}): {what}", self.gpu.ordinal, self.gpu.name))
    }

    fn failed(&self) -> bool {
        self.gpu.failure.lock().expect("failure lock").is_some()
    }

    /// Keeps the first failure.
    fn record<T, E: std::fmt::Display>(&self, what: &str, result: std::result::Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                let mut failure = self.gpu.failure.lock().expect("failure lock");
                failure.get_or_insert_with(|| format!("{what} failed: {e}"));
                None
            }
        }
    }

    /// The device address of a buffer (0 for an empty one), checked to hold `len` values.
    fn ptr(&self, buf: &CudaBuf, len: usize) -> u64 {
        assert!(buf.len >= len, "buffer of {} values used for {len}", buf.len);
        match &buf.data {
            Some(slice) => slice.device_ptr(&self.gpu.stream).0,
            None => 0,
        }
    }

    /// Launches `kernel` over `len` elements with `args`, in the order of its signature.
    fn launch(&self, name: &str, kernel: &CudaFunction, len: usize, args: &[Arg]) {
        if len == 0 || self.failed() {
            return;
        }
        let mut builder = self.gpu.stream.launch_builder(kernel);
        for arg in args {
            match arg {
                Arg::Ptr(v) | Arg::Len(v) => builder.arg(v),
                Arg::F32(v) => builder.arg(v),
                Arg::I32(v) => builder.arg(v),
            };
        }
        // SAFETY: every caller passes the arguments in the order and C types of the
        // kernel's signature in kernels.cu, with buffers checked (by `ptr`) to hold what
        // the kernel touches.
        let launched = unsafe { builder.launch(config(len as u64)) };
        self.record(name, launched);
    }

    /// A temporary device buffer of `len` values of `T` (not zeroed).
    fn scratch<T: cudarc::driver::DeviceRepr + cudarc::driver::ValidAsZeroBits>(
        &self,
        len: usize,
    ) -> Option<CudaSlice<T>> {
        self.record("allocating GPU memory", self.gpu.stream.alloc_zeros::<T>(len.max(1)))
    }

    /// Copies a device buffer of `T` to the host (empty on failure).
    fn download<T: cudarc::driver::DeviceRepr + Clone + Default>(&self, src: &CudaSlice<T>, len: usize) -> Vec<T> {
        if self.failed() {
            return vec![T::default(); len];
        }
        let mut host = vec![T::default(); len];
        let copied = self.gpu.stream.memcpy_dtoh(&src.slice(..len), &mut host);
        self.record("copying to the host", copied);
        host
    }

    /// `dst = op(a)·op(b)` (`+=` when `accumulate`) through cuBLAS.
    fn sgemm(&self, dst: &mut CudaBuf, a: Operand<'_, Self>, b: Operand<'_, Self>, accumulate: bool) {
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
                *handle.0.handle(),
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
    fn mask(&self, dst: &mut CudaBuf, acts: &CudaBuf, rows: usize, width: usize, group: usize, act: Activation) {
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
}

impl Backend for CudaBackend {
    type Buf = CudaBuf;

    fn describe(&self) -> String {
        format!("cuda:{} ({})", self.gpu.ordinal, self.gpu.name)
    }
    fn workers(&self) -> usize {
        1
    }
    fn worker(&self) -> Self {
        self.clone()
    }
    fn host(&self) -> Compute {
        Compute::new(self.host_threads)
    }

    fn alloc(&self, len: usize) -> Box<CudaBuf> {
        let data = if len == 0 || self.failed() {
            None
        } else {
            self.record("allocating GPU memory", self.gpu.stream.alloc_zeros::<f32>(len))
        };
        Box::new(CudaBuf { data, len })
    }
    fn upload(&self, host: &[f32]) -> Box<CudaBuf> {
        let mut buf = self.alloc(host.len());
        self.write(&mut buf, host);
        buf
    }
    fn stage(&self, dst: &mut CudaBuf, len: usize, fill: &mut dyn FnMut(&mut [f32])) {
        let mut staging = self.gpu.staging.lock().expect("staging lock");
        staging.resize(len, 0.0);
        fill(&mut staging[..len]);
        self.write(dst, &staging[..len]);
    }
    fn write(&self, dst: &mut CudaBuf, host: &[f32]) {
        assert!(
            dst.len >= host.len(),
            "writing {} values into a buffer of {}",
            host.len(),
            dst.len
        );
        if host.is_empty() || self.failed() {
            return;
        }
        if let Some(slice) = &mut dst.data {
            let copied = self.gpu.stream.memcpy_htod(host, &mut slice.slice_mut(..host.len()));
            self.record("copying to the GPU", copied);
        }
    }
    fn read(&self, src: &CudaBuf, host: &mut [f32]) {
        assert!(
            src.len >= host.len(),
            "reading {} values from a buffer of {}",
            host.len(),
            src.len
        );
        if host.is_empty() {
            return;
        }
        match &src.data {
            Some(slice) if !self.failed() => {
                let copied = self.gpu.stream.memcpy_dtoh(&slice.slice(..host.len()), host);
                if self.record("copying to the host", copied).is_none() {
                    host.fill(f32::NAN);
                }
            }
            _ => host.fill(f32::NAN),
        }
    }
    fn fill(&self, dst: &mut CudaBuf, len: usize, value: f32) {
        let (p, n) = (self.ptr(dst, len), len as u64);
        self.launch(
            "fill",
            &self.gpu.kernels.fill,
            len,
            &[Arg::Ptr(p), Arg::Len(n), Arg::F32(value)],
        );
    }
    fn scale_add(&self, dst: &mut CudaBuf, src: &CudaBuf, len: usize, weight: f32) {
        let (pd, ps, n) = (self.ptr(dst, len), self.ptr(src, len), len as u64);
        self.launch(
            "scale_add",
            &self.gpu.kernels.scale_add,
            len,
            &[Arg::Ptr(pd), Arg::Ptr(ps), Arg::Len(n), Arg::F32(weight)],
        );
    }

    fn gemm(&self, dst: &mut CudaBuf, a: Operand<'_, Self>, b: Operand<'_, Self>, accumulate: bool) {
        self.sgemm(dst, a, b, accumulate);
    }

    fn layer_forward(
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

    fn softmax_cross_entropy(&self, logits: &CudaBuf, labels: &[u16], classes: usize, grad: &mut CudaBuf) -> BatchLoss {
        let n = labels.len();
        if n == 0 {
            return BatchLoss::default();
        }
        let (pl, pg) = (self.ptr(logits, n * classes), self.ptr(grad, n * classes));
        let host_labels: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let uploaded = self.record("copying labels to the GPU", self.gpu.stream.clone_htod(&host_labels));
        let (Some(dev_labels), Some(loss), Some(correct)) = (uploaded, self.scratch::<f64>(n), self.scratch::<i32>(n))
        else {
            return BatchLoss {
                loss_sum: f64::NAN,
                correct: 0,
            };
        };
        let plab = dev_labels.device_ptr(&self.gpu.stream).0;
        let ploss = loss.device_ptr(&self.gpu.stream).0;
        let pcorrect = correct.device_ptr(&self.gpu.stream).0;
        let (rows, cls) = (n as u64, classes as u64);
        self.launch(
            "softmax_cross_entropy",
            &self.gpu.kernels.softmax_cross_entropy,
            n,
            &[
                Arg::Ptr(pl),
                Arg::Ptr(plab),
                Arg::Len(rows),
                Arg::Len(cls),
                Arg::Ptr(pg),
                Arg::Ptr(ploss),
                Arg::Ptr(pcorrect),
            ],
        );
        if self.failed() {
            return BatchLoss {
                loss_sum: f64::NAN,
                correct: 0,
            };
        }
        // Summed on the host in example order, as the CPU backend sums.
        let losses = self.download(&loss, n);
        let hits = self.download(&correct, n);
        if self.failed() {
            return BatchLoss {
                loss_sum: f64::NAN,
                correct: 0,
            };
        }
        BatchLoss {
            loss_sum: losses.iter().fold(0.0, |s, l| s + l),
            correct: hits.iter().filter(|&&c| c != 0).count(),
        }
    }

    fn weight_gradient(
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

    fn input_gradient(
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

    fn update(&self, rule: UpdateRule, param: &mut CudaBuf, grad: &CudaBuf, state: &mut [Box<CudaBuf>], len: usize) {
        assert_eq!(state.len(), rule.state_buffers(), "optimizer state buffers");
        let (pw, pg, n) = (self.ptr(param, len), self.ptr(grad, len), len as u64);
        let s0 = state.first().map_or(0, |s| self.ptr(s, len));
        let s1 = state.get(1).map_or(0, |s| self.ptr(s, len));
        let k = &self.gpu.kernels;
        match rule {
            UpdateRule::Sgd { lr } => self.launch(
                "update_sgd",
                &k.update_sgd,
                len,
                &[Arg::Ptr(pw), Arg::Ptr(pg), Arg::Len(n), Arg::F32(lr)],
            ),
            UpdateRule::Momentum { lr, momentum } => self.launch(
                "update_momentum",
                &k.update_momentum,
                len,
                &[
                    Arg::Ptr(pw),
                    Arg::Ptr(pg),
                    Arg::Ptr(s0),
                    Arg::Len(n),
                    Arg::F32(lr),
                    Arg::F32(momentum),
                ],
            ),
            UpdateRule::Adam {
                lr_t,
                beta1,
                beta2,
                epsilon,
            } => self.launch(
                "update_adam",
                &k.update_adam,
                len,
                &[
                    Arg::Ptr(pw),
                    Arg::Ptr(pg),
                    Arg::Ptr(s0),
                    Arg::Ptr(s1),
                    Arg::Len(n),
                    Arg::F32(lr_t),
                    Arg::F32(beta1),
                    Arg::F32(beta2),
                    Arg::F32(epsilon),
                ],
            ),
            UpdateRule::RmsProp { lr, decay, epsilon } => self.launch(
                "update_rmsprop",
                &k.update_rmsprop,
                len,
                &[
                    Arg::Ptr(pw),
                    Arg::Ptr(pg),
                    Arg::Ptr(s0),
                    Arg::Len(n),
                    Arg::F32(lr),
                    Arg::F32(decay),
                    Arg::F32(epsilon),
                ],
            ),
        }
    }

    fn cotangent_start(
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

    fn cotangent_backward(
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

    fn point_grams(&self, y: &CudaBuf, right: &CudaBuf, points: usize, classes: usize, cols: usize) -> Vec<f64> {
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

    fn region_codes(
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
