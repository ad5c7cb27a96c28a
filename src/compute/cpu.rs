//! The CPU backend, [`Compute`]: products through the pure-Rust `gemm` crate, split by
//! Occam itself into one band of the output per thread (each thread packs its own panels
//! and runs its band single-threaded), with the elementwise work of a layer fused into the
//! band that produced the data. Host slices are its buffers.

use super::backend::{Backend, BatchLoss, Operand, UpdateRule};
use super::kernels;
use crate::net::Activation;
use gemm::Parallelism;
use std::ops::Range;

/// A read-only strided view of an `rows × cols` f32 matrix: element (i, j) is
/// `data[i·row_stride + j·col_stride]`. Transposing only swaps the strides.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    /// The elements.
    pub data: &'a [f32],
    /// Rows of the view.
    pub rows: usize,
    /// Columns of the view.
    pub cols: usize,
    /// Distance in `data` between rows.
    pub row_stride: usize,
    /// Distance in `data` between columns.
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// A dense row-major matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert!(data.len() >= rows * cols, "matrix view larger than its buffer");
        MatRef {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }
    /// The transpose, without copying.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
    fn last_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride
        }
    }
}

/// Products below this many multiply-adds run as one band: splitting a tiny GEMM costs
/// more in synchronisation than it saves (measured with `occam bench train`).
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// Band edges are multiples of this (the SIMD width of a row of the `gemm` kernels), so
/// no band ends in a partial vector except the last.
const BAND_ALIGN: usize = 16;

/// The CPU backend: the pure-Rust `gemm` crate, with products split across the current
/// rayon pool by Occam (see the module comment).
#[derive(Clone, Copy, Debug)]
pub struct Compute {
    threads: usize,
}

/// The part of a product's output one thread computes: rows × columns of `dst`.
#[derive(Clone, Debug)]
pub(super) struct Band {
    pub rows: Range<usize>,
    pub cols: Range<usize>,
}

/// Write access to one [`Band`] of an output matrix with row stride `ld`. Bands of one
/// product are disjoint, so each thread writes through its own `BandMut` alone.
pub(super) struct BandMut {
    ptr: *mut f32,
    ld: usize,
    band: Band,
}

impl BandMut {
    /// The band's part of output row `r` (`r` within the band's rows).
    pub fn row(&mut self, r: usize) -> &mut [f32] {
        assert!(self.band.rows.contains(&r));
        let cols = &self.band.cols;
        // SAFETY: the band lies inside the output buffer (checked by `product`), bands of
        // one product never overlap, and `&mut self` prevents two live rows of one band.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(r * self.ld + cols.start), cols.len()) }
    }
    /// The rows and columns this band covers.
    pub fn band(&self) -> &Band {
        &self.band
    }
}

/// A raw output pointer that may cross threads: every user writes a disjoint part.
#[derive(Clone, Copy)]
pub(super) struct SharedMut(pub *mut f32);
// SAFETY: only used to hand disjoint bands of one exclusive borrow to scoped threads.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

impl SharedMut {
    /// The pointer (a method, so closures capture the whole `Send` wrapper).
    pub fn ptr(self) -> *mut f32 {
        self.0
    }
}

/// Splits `0..len` into at most `parts` contiguous ranges whose inner edges are multiples
/// of `align`.
pub(super) fn split(len: usize, parts: usize, align: usize) -> Vec<Range<usize>> {
    let step = len.div_ceil(parts.max(1)).next_multiple_of(align).max(1);
    (0..len).step_by(step).map(|lo| lo..(lo + step).min(len)).collect()
}

/// Runs `work` on each item, the first on this thread and the rest as rayon tasks of the
/// current pool; returns when all are done.
pub(super) fn run_parallel<T: Send, F: Fn(T) + Sync>(items: Vec<T>, work: F) {
    if items.len() <= 1 {
        items.into_iter().for_each(work);
        return;
    }
    let work = &work;
    rayon::scope(|s| {
        let mut items = items.into_iter();
        let first = items.next();
        for item in items {
            s.spawn(move |_| work(item));
        }
        if let Some(item) = first {
            work(item);
        }
    });
}

impl Compute {
    /// A backend using up to `threads` threads inside each operation (0 counts as 1). The
    /// caller chooses the number; nothing is read from a global thread pool. Operations run
    /// on the current rayon pool (rayon's global one unless the caller installs another).
    pub fn new(threads: usize) -> Self {
        Compute {
            threads: threads.max(1),
        }
    }
    /// A single-threaded backend, for work that is already parallel at a higher level.
    pub fn single() -> Self {
        Compute { threads: 1 }
    }
    /// The number of threads an operation may use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// `dst = a · b` (or `dst += a · b` when `accumulate`), where `dst` is dense row-major
    /// `a.rows × b.cols`. Each output element is summed over the inner dimension in the
    /// same order whatever the thread count (the inner blocking depends on that dimension
    /// alone), so the result does not depend on `threads`.
    pub fn matmul(&self, dst: &mut [f32], a: MatRef, b: MatRef, accumulate: bool) {
        self.product(dst, a, b, accumulate, |_| {});
    }

    /// [`Self::matmul`], then `epilogue` on each band of the output by the thread that
    /// computed it, while the band is still in its cache.
    pub(super) fn product<E: Fn(&mut BandMut) + Sync>(
        &self,
        dst: &mut [f32],
        a: MatRef,
        b: MatRef,
        accumulate: bool,
        epilogue: E,
    ) {
        let (m, k, n) = (a.rows, a.cols, b.cols);
        assert_eq!(
            k, b.rows,
            "inner dimensions differ: {}×{} · {}×{}",
            a.rows, a.cols, b.rows, b.cols
        );
        assert!(dst.len() >= m * n, "output buffer too small");
        if m == 0 || n == 0 {
            return;
        }
        assert!(a.last_index() < a.data.len().max(1) && b.last_index() < b.data.len().max(1));
        let parts = if self.threads > 1 && m * n * k >= PARALLEL_MIN_MACS {
            self.threads
        } else {
            1
        };
        let bands: Vec<Band> = if n >= m {
            split(n, parts, BAND_ALIGN)
                .into_iter()
                .map(|cols| Band { rows: 0..m, cols })
                .collect()
        } else {
            split(m, parts, BAND_ALIGN)
                .into_iter()
                .map(|rows| Band { rows, cols: 0..n })
                .collect()
        };
        let out = SharedMut(dst.as_mut_ptr());
        run_parallel(bands, |band| {
            let mut view = BandMut {
                ptr: out.ptr(),
                ld: n,
                band,
            };
            // SAFETY: `view` is one band of `dst` (asserted large enough above), disjoint
            // from every other band of this product.
            unsafe { gemm_band(&mut view, a, b, k, accumulate) };
            epilogue(&mut view);
        });
    }
}

/// Runs the product for one band of the output with `gemm` on this thread alone.
///
/// # Safety
/// `view` must address `band.rows × band.cols` elements of an output of row stride
/// `view.ld` that nothing else accesses meanwhile; `a` and `b` must be valid views.
unsafe fn gemm_band(view: &mut BandMut, a: MatRef, b: MatRef, k: usize, accumulate: bool) {
    if k == 0 {
        if !accumulate {
            view.band.rows.clone().for_each(|r| view.row(r).fill(0.0));
        }
        return;
    }
    let Band { rows, cols } = &view.band;
    // SAFETY: the offsets stay inside the views (band ⊆ output, asserted by `product`).
    unsafe {
        gemm::gemm(
            rows.len(),
            cols.len(),
            k,
            view.ptr.add(rows.start * view.ld + cols.start),
            1,
            view.ld as isize,
            accumulate,
            a.data.as_ptr().add(rows.start * a.row_stride),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr().add(cols.start * b.col_stride),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// A host matrix view of a backend operand.
fn view<'a>(op: Operand<'a, Compute>) -> MatRef<'a> {
    if op.transposed {
        MatRef::rows(op.buf, op.cols, op.rows).t()
    } else {
        MatRef::rows(op.buf, op.rows, op.cols)
    }
}

impl Backend for Compute {
    type Buf = [f32];

    fn describe(&self) -> String {
        format!(
            "cpu, {} thread{}",
            self.threads,
            if self.threads == 1 { "" } else { "s" }
        )
    }
    fn workers(&self) -> usize {
        self.threads
    }
    fn worker(&self) -> Self {
        Compute::single()
    }
    fn host(&self) -> Compute {
        *self
    }
    fn alloc(&self, len: usize) -> Box<[f32]> {
        vec![0.0; len].into_boxed_slice()
    }
    fn upload(&self, host: &[f32]) -> Box<[f32]> {
        host.into()
    }
    fn stage(&self, dst: &mut [f32], len: usize, fill: &mut dyn FnMut(&mut [f32])) {
        fill(&mut dst[..len]);
    }
    fn write(&self, dst: &mut [f32], host: &[f32]) {
        dst[..host.len()].copy_from_slice(host);
    }
    fn read(&self, src: &[f32], host: &mut [f32]) {
        host.copy_from_slice(&src[..host.len()]);
    }
    fn fill(&self, dst: &mut [f32], len: usize, value: f32) {
        dst[..len].fill(value);
    }
    fn scale_add(&self, dst: &mut [f32], src: &[f32], len: usize, weight: f32) {
        dst[..len]
            .iter_mut()
            .zip(&src[..len])
            .for_each(|(d, s)| *d += weight * s);
    }
    fn gemm(&self, dst: &mut [f32], a: Operand<'_, Self>, b: Operand<'_, Self>, accumulate: bool) {
        self.matmul(dst, view(a), view(b), accumulate);
    }
    fn layer_forward(
        &self,
        out: &mut [f32],
        input: &[f32],
        weight: &[f32],
        bias: Option<&[f32]>,
        n: usize,
        (inputs, outputs): (usize, usize),
        activation: Option<Activation>,
    ) {
        let x = MatRef::rows(input, n, inputs);
        let w = MatRef::rows(weight, outputs, inputs);
        self.product(out, x, w.t(), false, |band| {
            kernels::bias_and_activation(band, bias, activation)
        });
    }
    fn softmax_cross_entropy(&self, logits: &[f32], labels: &[u16], classes: usize, grad: &mut [f32]) -> BatchLoss {
        kernels::softmax_cross_entropy_batch(logits, labels, classes, grad)
    }
    fn weight_gradient(
        &self,
        dw: &mut [f32],
        db: Option<&mut [f32]>,
        g: &[f32],
        input: &[f32],
        n: usize,
        (inputs, outputs): (usize, usize),
    ) {
        // The workspace's gradient buffers are sized for the widest layer and the largest
        // batch: only the first `n × outputs` values are this batch's.
        let g = &g[..n * outputs];
        let gv = MatRef::rows(g, n, outputs);
        let db = db.map(|d| {
            assert!(d.len() >= outputs);
            SharedMut(d.as_mut_ptr())
        });
        self.product(dw, gv.t(), MatRef::rows(input, n, inputs), false, |band| {
            if let Some(db) = db {
                // SAFETY: each output row's bias entry is written by the one band that
                // holds that row and starts at column 0.
                unsafe { kernels::bias_gradient(band, db, g, outputs) };
            }
        });
    }
    fn input_gradient(
        &self,
        dst: &mut [f32],
        g: &[f32],
        weight: &[f32],
        acts: &[f32],
        n: usize,
        (inputs, outputs): (usize, usize),
        activation: Activation,
    ) {
        let gv = MatRef::rows(g, n, outputs);
        let w = MatRef::rows(weight, outputs, inputs);
        self.product(dst, gv, w, false, |band| {
            kernels::mask_by_derivative(band, acts, inputs, 1, activation)
        });
    }
    fn update(&self, rule: UpdateRule, param: &mut [f32], grad: &[f32], state: &mut [Box<[f32]>], len: usize) {
        kernels::update(self.threads, rule, &mut param[..len], &grad[..len], state, len);
    }
    fn cotangent_start(
        &self,
        h: &mut [f32],
        w_last: &[f32],
        acts: &[f32],
        points: usize,
        classes: usize,
        width: usize,
        activation: Activation,
    ) {
        kernels::cotangent_start(h, w_last, acts, points, classes, width, activation);
    }
    fn cotangent_backward(
        &self,
        dst: &mut [f32],
        src: &[f32],
        weight: &[f32],
        acts: &[f32],
        points: usize,
        classes: usize,
        (inputs, outputs): (usize, usize),
        activation: Activation,
    ) {
        let s = MatRef::rows(src, points * classes, outputs);
        let w = MatRef::rows(weight, outputs, inputs);
        self.product(dst, s, w, false, |band| {
            kernels::mask_by_derivative(band, acts, inputs, classes, activation)
        });
    }
    fn point_grams(&self, y: &[f32], right: &[f32], points: usize, classes: usize, cols: usize) -> Vec<f64> {
        kernels::point_grams(y, right, points, classes, cols)
    }
    fn region_codes(&self, z: &mut [f32], len: usize, activation: Activation) -> Result<Vec<u8>, (usize, f32)> {
        kernels::region_codes(&mut z[..len], activation)
    }
}
