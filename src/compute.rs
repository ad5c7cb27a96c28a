//! The compute boundary: every dense product in Occam goes through [`Compute::matmul`].
//!
//! Training and metric code never call a BLAS directly; they hand matrices to this
//! module. A GPU backend (e.g. `cudarc` with runtime loading) replaces the body of this
//! module and the elementwise kernels of `net::engine`, and nothing above them changes.

use gemm::Parallelism;

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

/// Products below this many multiply-adds run on one thread: splitting a tiny GEMM costs
/// more in synchronisation than it saves (measured with `occam bench train`).
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// The CPU backend: the pure-Rust `gemm` crate on the current rayon pool.
#[derive(Clone, Copy, Debug)]
pub struct Compute {
    threads: usize,
}

impl Compute {
    /// A backend using up to `threads` threads inside each product (0 counts as 1). The
    /// caller chooses the number; nothing is read from a global thread pool. Products run
    /// on the current rayon pool (rayon's global one unless the caller installs another),
    /// and their results do not depend on `threads`.
    pub fn new(threads: usize) -> Self {
        Compute {
            threads: threads.max(1),
        }
    }
    /// A single-threaded backend, for work that is already parallel at a higher level.
    pub fn single() -> Self {
        Compute { threads: 1 }
    }
    /// The number of threads a product may use.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// `dst = a · b` (or `dst += a · b` when `accumulate`), where `dst` is dense row-major
    /// `a.rows × b.cols`. The result does not depend on the thread count: `gemm` splits
    /// the output into tiles, never the inner dimension.
    pub fn matmul(&self, dst: &mut [f32], a: MatRef, b: MatRef, accumulate: bool) {
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
        if k == 0 {
            if !accumulate {
                dst[..m * n].fill(0.0);
            }
            return;
        }
        assert!(a.last_index() < a.data.len() && b.last_index() < b.data.len());
        let parallelism = if self.threads > 1 && m * n * k >= PARALLEL_MIN_MACS {
            Parallelism::Rayon(self.threads)
        } else {
            Parallelism::None
        };
        // SAFETY: the asserts above bound every index the strided views can touch, and
        // `dst` is an exclusive borrow of at least m·n elements laid out row-major.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                accumulate,
                a.data.as_ptr(),
                a.col_stride as isize,
                a.row_stride as isize,
                b.data.as_ptr(),
                b.col_stride as isize,
                b.row_stride as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: MatRef, b: MatRef) -> Vec<f64> {
        let mut out = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                for p in 0..a.cols {
                    out[i * b.cols + j] += a.data[i * a.row_stride + p * a.col_stride] as f64
                        * b.data[p * b.row_stride + j * b.col_stride] as f64;
                }
            }
        }
        out
    }

    #[test]
    fn matmul_matches_naive_for_every_transpose_combination() {
        let (m, k, n) = (37, 53, 29);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0).collect();
        let b: Vec<f32> = (0..k * n).map(|i| ((i * 104729) % 97) as f32 / 48.0 - 1.0).collect();
        for threads in [1, 2] {
            let c = Compute::new(threads);
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let av = if ta {
                    MatRef::rows(&a, k, m).t()
                } else {
                    MatRef::rows(&a, m, k)
                };
                let bv = if tb {
                    MatRef::rows(&b, n, k).t()
                } else {
                    MatRef::rows(&b, k, n)
                };
                let want = naive(av, bv);
                let mut got = vec![1.0f32; m * n];
                c.matmul(&mut got, av, bv, false);
                for (g, w) in got.iter().zip(&want) {
                    assert!((*g as f64 - w).abs() < 1e-4, "{g} vs {w}");
                }
                c.matmul(&mut got, av, bv, true);
                for (g, w) in got.iter().zip(&want) {
                    assert!((*g as f64 - 2.0 * w).abs() < 2e-4);
                }
            }
        }
    }
}
