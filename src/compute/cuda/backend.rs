//! [`CudaBackend`]: the [`Backend`] operations on one GPU. Buffers are device allocations
//! ([`CudaBuf`]); products go to cuBLAS (row-major through the transpose identity
//! `C = A·B ⇔ Cᵀ = Bᵀ·Aᵀ`), the fused elementwise work to the kernels of `kernels.cu`, all
//! on one stream in call order. Only losses, Gram matrices, region codes and what the
//! caller reads come back to the host.
//!
//! The trait's operations cannot return errors, so a device failure (out of memory, a
//! lost GPU) is kept: later operations are skipped, reads return NaN, and
//! [`CudaBackend::check`] reports it. Callers check after a run.
//!
//! This file holds the backend, its buffers, the device bookkeeping every operation shares
//! (failure record, launches, scratch memory, read-backs) and the [`Backend`] trait's
//! entry points; the operations themselves are in `backend/products.rs` (cuBLAS and the
//! layer operations), `backend/training.rs` (elementwise training work) and
//! `backend/measure.rs` (Jacobian and region-code work).

mod measure;
mod products;
mod training;

use super::context::{self, Gpu};
use super::launch::{BLOCK, blocks_for};
use crate::compute::{Backend, BatchLoss, Compute, Operand, UpdateRule};
use crate::error::{OccamError, Result};
use crate::net::Activation;
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
        self.fill_kernel(dst, len, value);
    }
    fn scale_add(&self, dst: &mut CudaBuf, src: &CudaBuf, len: usize, weight: f32) {
        self.scale_add_kernel(dst, src, len, weight);
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
        dims: (usize, usize),
        activation: Option<Activation>,
    ) {
        self.forward_layer(out, input, weight, bias, n, dims, activation);
    }
    fn softmax_cross_entropy(&self, logits: &CudaBuf, labels: &[u16], classes: usize, grad: &mut CudaBuf) -> BatchLoss {
        self.loss_kernel(logits, labels, classes, grad)
    }
    fn weight_gradient(
        &self,
        dw: &mut CudaBuf,
        db: Option<&mut CudaBuf>,
        g: &CudaBuf,
        input: &CudaBuf,
        n: usize,
        dims: (usize, usize),
    ) {
        self.backward_weights(dw, db, g, input, n, dims);
    }
    fn input_gradient(
        &self,
        dst: &mut CudaBuf,
        g: &CudaBuf,
        weight: &CudaBuf,
        acts: &CudaBuf,
        n: usize,
        dims: (usize, usize),
        activation: Activation,
    ) {
        self.backward_input(dst, g, weight, acts, n, dims, activation);
    }
    fn update(&self, rule: UpdateRule, param: &mut CudaBuf, grad: &CudaBuf, state: &mut [Box<CudaBuf>], len: usize) {
        self.update_kernel(rule, param, grad, state, len);
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
        self.start_cotangents(h, w_last, acts, points, classes, width, activation);
    }
    fn cotangent_backward(
        &self,
        dst: &mut CudaBuf,
        src: &CudaBuf,
        weight: &CudaBuf,
        acts: &CudaBuf,
        points: usize,
        classes: usize,
        dims: (usize, usize),
        activation: Activation,
    ) {
        self.backward_cotangent(dst, src, weight, acts, points, classes, dims, activation);
    }
    fn point_grams(&self, y: &CudaBuf, right: &CudaBuf, points: usize, classes: usize, cols: usize) -> Vec<f64> {
        self.grams_kernel(y, right, points, classes, cols)
    }
    fn region_codes(
        &self,
        z: &mut CudaBuf,
        len: usize,
        activation: Activation,
    ) -> std::result::Result<Vec<u8>, (usize, f32)> {
        self.codes_kernel(z, len, activation)
    }
}
