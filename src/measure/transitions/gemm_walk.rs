//! The reference exact walk: at every layer one GEMM gives the coefficients of every arc
//! (`rows = arcs × basis functions`, cost `arcs × w_in × w_out` per layer), then the arcs are
//! cut at the layer's roots. Kept as it was before the rank-1 walk ([`super::rank1`]) so the
//! tests can compare the two, and selectable in `occam bench transitions`.

use super::roots::ellipse_roots;
use super::{ARC_BLOCK, Arc, first_non_finite};
use crate::compute::{Compute, MatRef};
use crate::measure::finite::NonFinite;
use crate::measure::trajectory::Piece;
use crate::net::Mlp;
use rayon::prelude::*;

/// Every crossing on `[lo, hi)` of one piece: (hidden layer, parameter value); `None` when
/// the coefficients would exceed `budget` floats (unless the range is already tiny); an
/// error when a pre-activation coefficient is NaN or infinite.
pub(super) fn walk_piece(
    net: &Mlp,
    compute: &Compute,
    piece: &Piece,
    lo: f64,
    hi: f64,
    budget: usize,
) -> Result<Option<Vec<(usize, f64)>>, NonFinite> {
    let act = net.activation();
    // Only a whole ellipse closes on itself; a part of one ends where it ends.
    let closed = matches!(piece, Piece::Ellipse { .. }) && lo == 0.0 && hi == piece.span();
    let is_ellipse = matches!(piece, Piece::Ellipse { .. });
    let nb = piece.basis_len();
    let splittable = hi - lo > 1e-9 * piece.span();
    let mut arcs = vec![Arc { lo, hi }];
    // coef: (arcs·nb) × width, the current layer's input as Σ_k coef_k·basis_k(s).
    let mut coef: Vec<f32> = piece.coefficients().concat();
    let mut crossings = Vec::new();
    for layer in 0..net.depth() - 1 {
        let (w_in, w_out) = (net.dims()[layer], net.dims()[layer + 1]);
        let rows = arcs.len() * nb;
        if splittable && rows * w_out.max(w_in) > budget {
            return Ok(None);
        }
        let mut z = vec![0.0f32; rows * w_out];
        let w = MatRef::rows(&net.weights()[layer], w_out, w_in);
        for start in (0..rows).step_by(ARC_BLOCK) {
            let r = ARC_BLOCK.min(rows - start);
            compute.matmul(
                &mut z[start * w_out..(start + r) * w_out],
                MatRef::rows(&coef[start * w_in..(start + r) * w_in], r, w_in),
                w.t(),
                false,
            );
        }
        if let Some(bias) = net.bias(layer) {
            // The bias is constant along the piece: it joins the coefficient of basis
            // function 0, which is 1 for segments and ellipses alike.
            for arc in z.chunks_exact_mut(nb * w_out) {
                arc[..w_out].iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        if let Some(bad) = first_non_finite(&z, layer) {
            return Err(bad);
        }
        // Pre-activation of neuron i on arc a, given the basis values at the point.
        let value = |a: usize, i: usize, basis: &[f64; 3]| -> f64 {
            (0..nb).map(|k| z[(a * nb + k) * w_out + i] as f64 * basis[k]).sum()
        };
        // Each cut point's pre-activations are evaluated once, from the arc that starts
        // there (the closing point of an ellipse is its start), so neighbouring arcs agree
        // on which side of a breakpoint every neuron is at their shared end.
        let n_arcs = arcs.len();
        let boundary: Vec<Vec<f64>> = (0..=n_arcs)
            .into_par_iter()
            .map(|b| {
                let (a, s) = match b {
                    b if b < n_arcs => (b, arcs[b].lo),
                    _ if closed => (0, 0.0),
                    _ => (n_arcs - 1, arcs[n_arcs - 1].hi),
                };
                let basis = piece.basis(s);
                (0..w_out).map(|i| value(a, i, &basis)).collect()
            })
            .collect();
        let roots_per_arc: Vec<Vec<f64>> = (0..n_arcs)
            .into_par_iter()
            .map(|a| {
                let Arc { lo, hi } = arcs[a];
                let mut roots = Vec::new();
                for i in 0..w_out {
                    let c: Vec<f64> = (0..nb).map(|k| z[(a * nb + k) * w_out + i] as f64).collect();
                    for &beta in act.breakpoints() {
                        let beta = beta as f64;
                        let changes = (boundary[a][i] > beta) != (boundary[a + 1][i] > beta);
                        if is_ellipse {
                            ellipse_roots(&c, beta, lo, hi, changes, &mut roots);
                        } else if changes {
                            // Affine on the arc: exactly one crossing.
                            let t = if c[1] != 0.0 {
                                (beta - c[0]) / c[1]
                            } else {
                                0.5 * (lo + hi)
                            };
                            roots.push(t.clamp(lo, hi));
                        }
                    }
                }
                roots.sort_by(f64::total_cmp);
                roots
            })
            .collect();
        // Cut the arcs at the roots; each sub-arc carries φ's linear piece per neuron.
        let mut new_arcs = Vec::new();
        let mut parent = Vec::new();
        for (a, roots) in roots_per_arc.iter().enumerate() {
            crossings.extend(roots.iter().map(|&s| (layer, s)));
            let mut lo = arcs[a].lo;
            for &s in roots.iter().chain(std::iter::once(&arcs[a].hi)) {
                if s > lo {
                    new_arcs.push(Arc { lo, hi: s });
                    parent.push(a);
                    lo = s;
                }
            }
        }
        if layer + 1 == net.depth() - 1 {
            break;
        }
        let mut next = vec![0.0f32; new_arcs.len() * nb * w_out];
        next.par_chunks_mut(nb * w_out).enumerate().for_each(|(j, block)| {
            let a = parent[j];
            let basis = piece.basis(0.5 * (new_arcs[j].lo + new_arcs[j].hi));
            for i in 0..w_out {
                let (slope, offset) = act.linear_piece(act.code(value(a, i, &basis) as f32));
                for k in 0..nb {
                    let v = slope * z[(a * nb + k) * w_out + i];
                    block[k * w_out + i] = if k == 0 { v + offset } else { v };
                }
            }
        });
        arcs = new_arcs;
        coef = next;
    }
    Ok(Some(crossings))
}
