//! Linear-region transitions along closed trajectories: `t(x)` = the number of times any
//! hidden neuron crosses one of its breakpoints. A non-finite pre-activation (overflow)
//! stops the count and is reported in [`TransitionCount::non_finite`].
//!
//! **Exact** (piecewise-linear φ): on each piece of a trajectory the input is affine in a
//! basis — (1, t) for a segment, (1, cos θ, sin θ) for an ellipse — and inside a linear
//! region the network is affine, so every pre-activation there has the same form; a
//! layer's bias only adds to the coefficient of the constant basis function 1. Layer by
//! layer, the pieces are cut at every crossing of the layer's neurons (closed-form roots:
//! `t = (β − c)/u`, or `θ = φ ± arccos((β − c)/R)`), and each sub-piece carries the
//! coefficients of the layer's output, `slope·z + offset` of its linear piece. Nothing is
//! sampled and nothing is missed; the work is one small GEMM per layer over all pieces.
//!
//! **Sampled** (any φ): codes at k equidistant positions, counting the code differences
//! `Σ_j ‖c(z_j) − c(z_{j+1})‖₁` around the loop, as the paper did (k = 2^20).
//!
//! Floating-point ties: coefficients are f32 products, so a crossing within ~1e-6
//! (relative) of a cut made by another neuron, or a near-tangency of an ellipse, can be
//! placed on the wrong side of the cut. Crossing counts of a segment are decided from the
//! sides of shared cut points, so they are consistent across cuts; for ellipse arcs the
//! number of roots is made to agree with the side change between the arc's ends.

use super::finite::{NonFinite, Quantity};
use super::trajectory::{Piece, Trajectory};
use crate::compute::{Compute, MatRef};
use crate::net::Mlp;
use rayon::prelude::*;

/// Transitions along one trajectory.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransitionCount {
    /// Crossings of all hidden layers together.
    pub total: u64,
    /// Crossings per hidden layer.
    pub per_layer: Vec<u64>,
    /// Position in [0, 1) of every crossing (when asked for), unsorted.
    pub positions: Vec<f64>,
    /// Set when a pre-activation along the trajectory was NaN or infinite: the counts are
    /// then meaningless and must not be reported (the point index is 0; callers set it).
    pub non_finite: Option<NonFinite>,
}

/// The first NaN or infinite value of hidden layer `layer`'s (0-based) pre-activations.
fn first_non_finite(z: &[f32], layer: usize) -> Option<NonFinite> {
    z.iter().find(|v| !v.is_finite()).map(|&v| NonFinite {
        point: 0,
        quantity: Quantity::PreActivation { layer: layer + 1 },
        value: v as f64,
    })
}

/// Rows of coefficients processed per GEMM in the exact walk.
const ARC_BLOCK: usize = 4096;

/// Counts transitions exactly. Panics for tanh (not piecewise linear).
pub fn exact_transitions(net: &Mlp, compute: &Compute, traj: &Trajectory, keep_positions: bool) -> TransitionCount {
    exact_transitions_within(net, compute, traj, keep_positions, COEF_BUDGET)
}

/// [`exact_transitions`] with an explicit memory budget (floats of arc coefficients);
/// smaller budgets split the trajectory into more independent parts.
pub fn exact_transitions_within(
    net: &Mlp,
    compute: &Compute,
    traj: &Trajectory,
    keep_positions: bool,
    budget: usize,
) -> TransitionCount {
    assert!(
        net.activation().is_piecewise_linear(),
        "exact transitions need a piecewise-linear activation"
    );
    let hidden = net.depth() - 1;
    let mut out = TransitionCount {
        per_layer: vec![0; hidden],
        ..Default::default()
    };
    for (k, piece) in traj.pieces.iter().enumerate() {
        let crossings = match walk_range(net, compute, piece, 0.0, piece.span(), budget) {
            Ok(c) => c,
            Err(bad) => {
                out.non_finite = Some(bad);
                return out;
            }
        };
        for (layer, s) in crossings {
            out.per_layer[layer] += 1;
            if keep_positions {
                out.positions.push(traj.position(k, s));
            }
        }
    }
    out.total = out.per_layer.iter().sum();
    out
}

/// A sub-interval of a piece's parameter on which every layer seen so far is affine.
#[derive(Clone, Copy, Debug)]
struct Arc {
    lo: f64,
    hi: f64,
}

/// Floats of arc coefficients the walk may hold at once (1 GiB); past it, the parameter
/// range is halved and each half walked on its own, so very wide networks with very many
/// crossings still fit in memory.
const COEF_BUDGET: usize = 1 << 28;

/// Every crossing on `[lo, hi)` of one piece, halving the range while the walk would exceed
/// `budget` floats of coefficients.
fn walk_range(
    net: &Mlp,
    compute: &Compute,
    piece: &Piece,
    lo: f64,
    hi: f64,
    budget: usize,
) -> Result<Vec<(usize, f64)>, NonFinite> {
    match walk_piece(net, compute, piece, lo, hi, budget)? {
        Some(c) => Ok(c),
        None => {
            let mid = 0.5 * (lo + hi);
            let mut c = walk_range(net, compute, piece, lo, mid, budget)?;
            c.extend(walk_range(net, compute, piece, mid, hi, budget)?);
            Ok(c)
        }
    }
}

/// Every crossing on `[lo, hi)` of one piece: (hidden layer, parameter value); `None` when
/// the coefficients would exceed `budget` floats (unless the range is already tiny); an
/// error when a pre-activation coefficient is NaN or infinite.
fn walk_piece(
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

/// Roots θ ∈ [lo, hi) of `c₀ + c₁ cos θ + c₂ sin θ = β`, pushed onto `out`. Their number
/// is forced to the parity of `changes` (whether the ends lie on different sides): an odd
/// excess drops the root nearest an end, a missing one is placed at the nearer end.
fn ellipse_roots(c: &[f64], beta: f64, lo: f64, hi: f64, changes: bool, out: &mut Vec<f64>) {
    let r = c[1].hypot(c[2]);
    let mut found: Vec<f64> = Vec::with_capacity(2);
    if r > 0.0 {
        let ratio = (beta - c[0]) / r;
        if ratio.abs() < 1.0 {
            let phase = c[2].atan2(c[1]);
            let alpha = ratio.acos();
            for th in [phase - alpha, phase + alpha] {
                let th = th.rem_euclid(std::f64::consts::TAU);
                if th >= lo && th < hi {
                    found.push(th);
                }
            }
        }
    }
    if (found.len() % 2 == 1) != changes {
        let dist = |t: f64| (t - lo).min(hi - t);
        if let Some((idx, _)) = found
            .iter()
            .enumerate()
            .min_by(|x, y| dist(*x.1).total_cmp(&dist(*y.1)))
        {
            found.remove(idx);
        } else {
            let at_lo = (c[0] + c[1] * lo.cos() + c[2] * lo.sin() - beta).abs();
            let at_hi = (c[0] + c[1] * hi.cos() + c[2] * hi.sin() - beta).abs();
            found.push(if at_lo <= at_hi { lo } else { hi });
        }
    }
    out.extend(found);
}

/// Points evaluated per forward pass when sampling.
const SAMPLE_CHUNK: usize = 2048;

/// Counts transitions by sampling codes at `k` equidistant positions j/k around the
/// loop (for every activation; for tanh the code is the sign). `k` must be at least 2
/// (callers check it against [`super::ranges::samples`]).
pub fn sampled_transitions(
    net: &Mlp,
    compute: &Compute,
    traj: &Trajectory,
    k: usize,
    keep_positions: bool,
) -> TransitionCount {
    assert!(k >= 2, "need at least two samples");
    let hidden = net.depth() - 1;
    let d = net.input_dim();
    let mut out = TransitionCount {
        per_layer: vec![0; hidden],
        ..Default::default()
    };
    let mut first_codes: Option<Vec<u8>> = None;
    let mut prev_last: Option<Vec<u8>> = None;
    let code_width: usize = net.hidden_dims().iter().sum();
    let mut x = vec![0.0f32; SAMPLE_CHUNK * d];
    for start in (0..k).step_by(SAMPLE_CHUNK) {
        let m = SAMPLE_CHUNK.min(k - start);
        x[..m * d].par_chunks_mut(d).enumerate().for_each(|(j, row)| {
            traj.write_point_at((start + j) as f64 / k as f64, row);
        });
        let codes = match codes_of(net, compute, &x[..m * d], m) {
            Ok(c) => c,
            Err(bad) => {
                out.non_finite = Some(bad);
                return out;
            }
        };
        let row = |j: usize| &codes[j * code_width..(j + 1) * code_width];
        if let Some(prev) = &prev_last {
            add_code_changes(
                &mut out,
                net,
                prev,
                row(0),
                (start as f64 - 0.5) / k as f64,
                keep_positions,
            );
        }
        for j in 0..m - 1 {
            let position = (start + j) as f64 / k as f64 + 0.5 / k as f64;
            add_code_changes(&mut out, net, row(j), row(j + 1), position, keep_positions);
        }
        if first_codes.is_none() {
            first_codes = Some(row(0).to_vec());
        }
        prev_last = Some(row(m - 1).to_vec());
    }
    // Close the loop: the last sample back to the first.
    let (last, first) = (prev_last.expect("k ≥ 2 samples"), first_codes.expect("k ≥ 2 samples"));
    add_code_changes(&mut out, net, &last, &first, 1.0 - 0.5 / k as f64, keep_positions);
    out.total = out.per_layer.iter().sum();
    out
}

/// Adds `‖c(a) − c(b)‖₁` per hidden layer to `out` (and the crossings' position).
fn add_code_changes(out: &mut TransitionCount, net: &Mlp, a: &[u8], b: &[u8], position: f64, keep_positions: bool) {
    let mut offset = 0;
    for (l, &w) in net.hidden_dims().iter().enumerate() {
        let diff: u64 = a[offset..offset + w]
            .iter()
            .zip(&b[offset..offset + w])
            .map(|(p, q)| p.abs_diff(*q) as u64)
            .sum();
        out.per_layer[l] += diff;
        if keep_positions {
            out.positions.extend(std::iter::repeat_n(position, diff as usize));
        }
        offset += w;
    }
}

/// The region code of every hidden neuron for `m` inputs: `m × Σ hidden widths` bytes,
/// layer after layer, computed from the pre-activations; an error naming the input (its
/// index among the `m`) whose pre-activation was NaN or infinite.
pub fn codes_of(net: &Mlp, compute: &Compute, x: &[f32], m: usize) -> Result<Vec<u8>, NonFinite> {
    let act = net.activation();
    let code_width: usize = net.hidden_dims().iter().sum();
    let mut codes = vec![0u8; m * code_width];
    let mut h = x.to_vec();
    let mut offset = 0;
    for l in 0..net.depth() - 1 {
        let (w_in, w_out) = (net.dims()[l], net.dims()[l + 1]);
        let mut z = vec![0.0f32; m * w_out];
        compute.matmul(
            &mut z,
            MatRef::rows(&h, m, w_in),
            MatRef::rows(&net.weights()[l], w_out, w_in).t(),
            false,
        );
        if let Some(bias) = net.bias(l) {
            for row in z.chunks_exact_mut(w_out) {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        if let Some(bad) = first_non_finite(&z, l) {
            let at = z.iter().position(|v| !v.is_finite()).unwrap_or(0) / w_out;
            return Err(bad.at(at));
        }
        for (j, row) in z.chunks_exact_mut(w_out).enumerate() {
            let dst = &mut codes[j * code_width + offset..j * code_width + offset + w_out];
            for (c, v) in dst.iter_mut().zip(row.iter_mut()) {
                *c = act.code(*v);
                *v = act.apply(*v);
            }
        }
        offset += w_out;
        h = z;
    }
    Ok(codes)
}
