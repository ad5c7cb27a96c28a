//! The affine coefficients the exact walk hands from one layer to the next: the network
//! in f64, the exact product of a piece's coefficients with a layer's weights, and the
//! cheaper incremental path, where the pieces of one polygon start from one exact product
//! (their reference piece's) and add the change of the few neurons whose linear piece
//! differs.
//!
//! Coefficients are stored as `3 × w` values: the constants, then the u and v slopes.

use crate::compute::simd::widest;
use crate::measure::finite::{NonFinite, Quantity};
use crate::net::Mlp;

/// How each piece gets the next layer's coefficients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoefficientPath {
    /// One exact product per polygon, for a reference piece; every other piece of the
    /// polygon adds, for each neuron whose linear piece differs from the reference's, that
    /// neuron's change times its column of the next weights (3·w_out multiply-adds per
    /// neuron). A piece that differs in more than a third of the layer's neurons gets an
    /// exact product instead.
    #[default]
    Incremental,
    /// An exact product for every piece: the plain walk, kept as the reference the tests
    /// compare the incremental path against.
    PerPiece,
}

/// The network up to the mapped layer, in f64.
pub(super) struct Layers {
    pub widths: Vec<usize>,
    /// Row-major `w_out × w_in` weights per layer (the network's layout).
    weights: Vec<Vec<f64>>,
    /// The same weights transposed (`w_in × w_out`): column i of a layer's weights is
    /// contiguous, for the column products and the incremental updates.
    columns: Vec<Vec<f64>>,
    biases: Option<Vec<Vec<f64>>>,
    pub breakpoints: Vec<f64>,
    /// (slope, offset) of φ's linear piece per code.
    slopes: Vec<(f64, f64)>,
}

/// The next layer's coefficients of one piece of a polygon, computed once and shared by
/// the polygon's other pieces.
pub(super) struct Reference {
    code: Vec<u8>,
    next: Vec<f64>,
}

impl Layers {
    /// Hidden layers 0 to `last` of `net`.
    pub fn new(net: &Mlp, last: usize) -> Layers {
        let act = net.activation();
        let wide = |v: &Vec<f32>| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
        let widths = net.dims().to_vec();
        let weights: Vec<Vec<f64>> = net.weights()[..=last].iter().map(wide).collect();
        let columns = weights
            .iter()
            .enumerate()
            .map(|(layer, w)| {
                let (w_in, w_out) = (widths[layer], widths[layer + 1]);
                (0..w_in * w_out).map(|t| w[(t % w_out) * w_in + t / w_out]).collect()
            })
            .collect();
        let breakpoints: Vec<f64> = act.breakpoints().iter().map(|&b| f64::from(b)).collect();
        Layers {
            weights,
            columns,
            biases: net.biases().map(|b| b[..=last].iter().map(wide).collect()),
            slopes: (0..=breakpoints.len() as u8)
                .map(|code| {
                    let (s, o) = act.linear_piece(code);
                    (f64::from(s), f64::from(o))
                })
                .collect(),
            breakpoints,
            widths,
        }
    }

    /// φ's code (linear piece) of each of the `w` neurons at plane point (u, v).
    pub fn pattern(&self, z: &[f64], w: usize, (u, v): (f64, f64)) -> Vec<u8> {
        (0..w)
            .map(|i| {
                let value = z[i] + u * z[w + i] + v * z[2 * w + i];
                self.breakpoints.iter().filter(|&&b| value > b).count() as u8
            })
            .collect()
    }

    /// The coefficients of layer `layer`'s output (the next layer's input) on a piece with
    /// pattern `code`, from its pre-activations `z`.
    fn activated(&self, z: &[f64], code: &[u8]) -> Vec<f64> {
        let w = code.len();
        let mut next = vec![0.0; 3 * w];
        for (i, &c) in code.iter().enumerate() {
            let (slope, offset) = self.slopes[c as usize];
            for k in 0..3 {
                next[k * w + i] = slope * z[k * w + i] + if k == 0 { offset } else { 0.0 };
            }
        }
        next
    }

    /// Layer `layer`'s pre-activation coefficients from its input's, one dot product per
    /// output row (the plain walk's product); an error at the first NaN or infinity.
    pub fn product_by_rows(&self, layer: usize, input: &[f64]) -> Result<Vec<f64>, NonFinite> {
        let (w_in, w_out) = (self.widths[layer], self.widths[layer + 1]);
        let weights = &self.weights[layer];
        let mut z = vec![0.0; 3 * w_out];
        for i in 0..w_out {
            let row = &weights[i * w_in..(i + 1) * w_in];
            let (mut c, mut u, mut v) = (0.0, 0.0, 0.0);
            for (j, &wij) in row.iter().enumerate() {
                c += wij * input[j];
                u += wij * input[w_in + j];
                v += wij * input[2 * w_in + j];
            }
            z[i] = c + self.bias(layer, i);
            z[w_out + i] = u;
            z[2 * w_out + i] = v;
        }
        finite(layer, z)
    }

    /// [`Self::product_by_rows`], bit for bit (each output sums its terms in the same
    /// order), but four columns at a time, so that the outputs are independent, the
    /// inner loop vectorizes and each output is loaded and stored once per four terms.
    pub fn product_by_columns(&self, layer: usize, input: &[f64]) -> Result<Vec<f64>, NonFinite> {
        let w_out = self.widths[layer + 1];
        let mut z = vec![0.0; 3 * w_out];
        let (zc, rest) = z.split_at_mut(w_out);
        let (zu, zv) = rest.split_at_mut(w_out);
        let columns = &self.columns[layer];
        widest(
            #[inline(always)]
            || add_columns(columns, input, [zc, zu, zv]),
        );
        for (k, c) in zc.iter_mut().enumerate() {
            *c += self.bias(layer, k);
        }
        finite(layer, z)
    }

    fn bias(&self, layer: usize, i: usize) -> f64 {
        self.biases.as_ref().map_or(0.0, |b| b[layer][i])
    }

    /// The reference of a polygon of layer `layer` (pre-activations `z`) cut into pieces
    /// with patterns `codes`: the piece closest to the per-neuron majority pattern (so the
    /// others differ from it in as few neurons as can be had cheaply), with the next
    /// layer's coefficients from an exact product.
    pub fn reference(&self, layer: usize, z: &[f64], codes: &[Vec<u8>]) -> Result<Reference, NonFinite> {
        let chosen = if codes.len() <= 2 {
            0
        } else {
            let w = codes[0].len();
            let majority: Vec<u8> = (0..w)
                .map(|i| {
                    let mut seen = [0usize; 4];
                    codes.iter().for_each(|c| seen[c[i] as usize] += 1);
                    (0..4u8).max_by_key(|&c| seen[c as usize]).unwrap_or(0)
                })
                .collect();
            let distance = |c: &Vec<u8>| c.iter().zip(&majority).filter(|(a, b)| a != b).count();
            (0..codes.len()).min_by_key(|&p| distance(&codes[p])).unwrap_or(0)
        };
        let code = codes[chosen].clone();
        let next = self.product_by_columns(layer + 1, &self.activated(z, &code))?;
        Ok(Reference { code, next })
    }

    /// The next layer's pre-activation coefficients on a piece of layer `layer` with
    /// pattern `code` (pre-activations `z`), by `path`: `reference` is the polygon's
    /// reference on the incremental path.
    pub fn next(
        &self,
        layer: usize,
        z: &[f64],
        code: &[u8],
        reference: Option<&Reference>,
    ) -> Result<Vec<f64>, NonFinite> {
        let Some(reference) = reference else {
            return self.product_by_rows(layer + 1, &self.activated(z, code));
        };
        let w = code.len();
        let differing: Vec<usize> = (0..w).filter(|&i| code[i] != reference.code[i]).collect();
        if 3 * differing.len() > w {
            return self.product_by_columns(layer + 1, &self.activated(z, code));
        }
        let w_out = self.widths[layer + 2];
        let columns = &self.columns[layer + 1];
        let mut next = reference.next.clone();
        for &i in &differing {
            let (s_piece, o_piece) = self.slopes[code[i] as usize];
            let (s_ref, o_ref) = self.slopes[reference.code[i] as usize];
            // The change of neuron i's output coefficients between the two pieces.
            let change = [
                (s_piece * z[i] + o_piece) - (s_ref * z[i] + o_ref),
                s_piece * z[w + i] - s_ref * z[w + i],
                s_piece * z[2 * w + i] - s_ref * z[2 * w + i],
            ];
            let column = &columns[i * w_out..(i + 1) * w_out];
            for (k, delta) in change.into_iter().enumerate() {
                for (out, &wki) in next[k * w_out..(k + 1) * w_out].iter_mut().zip(column) {
                    *out += wki * delta;
                }
            }
        }
        if next.iter().all(|x| x.is_finite()) {
            Ok(next)
        } else {
            // Let the exact product say whether (and where) it overflows.
            self.product_by_columns(layer + 1, &self.activated(z, code))
        }
    }
}

/// Adds `columns` (`w_in` columns of `w_out` weights) times the three parts of `input`
/// (`3 × w_in`) to `z`'s three parts, each output summing its terms in column order.
#[inline(always)]
fn add_columns(columns: &[f64], input: &[f64], z: [&mut [f64]; 3]) {
    let [zc, zu, zv] = z;
    let w_out = zc.len();
    let w_in = input.len() / 3;
    let (xc, xu, xv) = (&input[..w_in], &input[w_in..2 * w_in], &input[2 * w_in..3 * w_in]);
    let blocked = w_in / 4 * 4;
    for j in (0..blocked).step_by(4) {
        let column = |t: usize| &columns[(j + t) * w_out..(j + t + 1) * w_out];
        let (c0, c1, c2, c3) = (column(0), column(1), column(2), column(3));
        let (a, b, c) = (&xc[j..j + 4], &xu[j..j + 4], &xv[j..j + 4]);
        for k in 0..w_out {
            let w = [c0[k], c1[k], c2[k], c3[k]];
            zc[k] = (((zc[k] + w[0] * a[0]) + w[1] * a[1]) + w[2] * a[2]) + w[3] * a[3];
            zu[k] = (((zu[k] + w[0] * b[0]) + w[1] * b[1]) + w[2] * b[2]) + w[3] * b[3];
            zv[k] = (((zv[k] + w[0] * c[0]) + w[1] * c[1]) + w[2] * c[2]) + w[3] * c[3];
        }
    }
    for j in blocked..w_in {
        for (k, &wkj) in columns[j * w_out..(j + 1) * w_out].iter().enumerate() {
            zc[k] += wkj * xc[j];
            zu[k] += wkj * xu[j];
            zv[k] += wkj * xv[j];
        }
    }
}

/// `z` (layer `layer`'s pre-activations), or the first NaN or infinity in it.
fn finite(layer: usize, z: Vec<f64>) -> Result<Vec<f64>, NonFinite> {
    match z.iter().find(|x| !x.is_finite()) {
        Some(&value) => Err(NonFinite {
            point: 0,
            quantity: Quantity::PreActivation { layer: layer + 1 },
            value,
        }),
        None => Ok(z),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;

    #[test]
    fn column_products_equal_row_products_bit_for_bit() {
        for bias in [false, true] {
            let mut net = Mlp::random([1, 7, 1], 13, 3, 3, Activation::Relu, 1.0, 5);
            if bias {
                net = net.with_zero_biases();
                let depth = net.depth();
                for (l, b) in net.params_mut()[depth..].iter_mut().enumerate() {
                    b.iter_mut()
                        .enumerate()
                        .for_each(|(i, x)| *x = (i + l) as f32 * 0.37 - 1.0);
                }
            }
            let layers = Layers::new(&net, 1);
            let input: Vec<f64> = (0..3 * 13).map(|k| ((k * 37 % 11) as f64 - 5.0) / 3.0).collect();
            let rows = layers.product_by_rows(1, &input).unwrap();
            let cols = layers.product_by_columns(1, &input).unwrap();
            assert_eq!(
                rows.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                cols.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
            );
        }
    }
}
