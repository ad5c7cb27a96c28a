//! The reference exact walk: at every layer one GEMM gives the coefficients of every arc
//! (`rows = arcs × basis functions`, cost `arcs × w_in × w_out` per layer), then the arcs are
//! cut at the layer's roots. Kept as it was before the rank-1 walk ([`super::rank1`]) so the
//! tests can compare the two, and selectable in `occam bench transitions`.

use super::pinned::{self, CutSides, PinRule, PinnedCut, Side, pinned_ellipse_roots};
use super::roots::{ArcPins, ellipse_roots};
use super::{Arc, layer_product};
use crate::compute::Compute;
use crate::measure::finite::NonFinite;
use crate::measure::trajectory::Piece;
use crate::net::{Activation, Mlp};
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
    let splittable = hi - lo > 1e-9 * piece.span();
    let mut walk = PieceWalk {
        piece,
        act: net.activation(),
        // Only a whole ellipse closes on itself; a part of one ends where it ends.
        closed: matches!(piece, Piece::Ellipse { .. }) && lo == 0.0 && hi == piece.span(),
        nb: piece.basis_len(),
        arcs: vec![Arc { lo, hi }],
        parent: vec![0],
        below_codes: Vec::new(),
        touching: Vec::new(),
    };
    // coef: (arcs·nb) × width, the current layer's input as Σ_k coef_k·basis_k(s).
    let mut coef: Vec<f32> = piece.coefficients().concat();
    let mut crossings = Vec::new();
    for layer in 0..net.depth() - 1 {
        let (w_in, w_out) = (net.dims()[layer], net.dims()[layer + 1]);
        if splittable && walk.arcs.len() * walk.nb * w_out.max(w_in) > budget {
            return Ok(None);
        }
        let mut z = pre_activations(net, compute, layer, &coef, walk.nb)?;
        let rule = PinRule::new(net, layer);
        walk.make_flat_exact(&rule, &mut z, w_out);
        let pinned = walk.pinned_cuts(&rule);
        let roots_per_arc = walk.roots(&z, w_out, &rule, &pinned);
        // Cut the arcs at the roots; each sub-arc carries φ's linear piece per neuron.
        let mut new_arcs = Vec::new();
        let mut parent = Vec::new();
        for (a, roots) in roots_per_arc.iter().enumerate() {
            crossings.extend(roots.iter().map(|&s| (layer, s)));
            let mut lo = walk.arcs[a].lo;
            for &s in roots.iter().chain(std::iter::once(&walk.arcs[a].hi)) {
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
        (coef, walk.below_codes) = walk.next_inputs(&z, w_out, &new_arcs, &parent);
        walk.arcs = new_arcs;
        walk.parent = parent;
    }
    Ok(Some(crossings))
}

/// One hidden layer's pre-activation coefficients on every arc: `coef · Wᵀ` plus the bias
/// on the constant basis function, or the first non-finite value.
fn pre_activations(net: &Mlp, compute: &Compute, layer: usize, coef: &[f32], nb: usize) -> Result<Vec<f32>, NonFinite> {
    let (w_in, w_out) = (net.dims()[layer], net.dims()[layer + 1]);
    let mut z = vec![0.0f32; coef.len() / w_in * w_out];
    layer_product(net, compute, layer, coef, nb, &mut z).map(|()| z)
}

/// The state of the walk along one piece between layers.
struct PieceWalk<'a> {
    piece: &'a Piece,
    act: Activation,
    closed: bool,
    nb: usize,
    /// The arcs of the current layer, in order.
    arcs: Vec<Arc>,
    /// Each arc's arc in the layer below.
    parent: Vec<usize>,
    /// The layer below's codes on each arc (`arcs × w_below`; empty for the first layer).
    below_codes: Vec<u8>,
    /// The layer below's neurons touching a breakpoint from their sloped side at its cuts (with their exact φ values).
    touching: Vec<PinnedCut>,
}

impl PieceWalk<'_> {
    /// The arc before the cut at the start of arc `b` (the last one for the closing point
    /// of a whole ellipse), if there is a cut there.
    fn arc_before(&self, b: usize) -> Option<usize> {
        match b {
            0 if self.closed => Some(self.arcs.len() - 1),
            0 => None,
            b => Some(b - 1),
        }
    }

    /// The cuts where neurons of the layer sit exactly on a breakpoint, by arc.
    fn pinned_cuts(&self, rule: &PinRule) -> Vec<PinnedCut> {
        if !rule.any() {
            return Vec::new();
        }
        let w_below = self.below_codes.len() / self.arcs.len();
        let codes = |a: usize| &self.below_codes[a * w_below..(a + 1) * w_below];
        (0..self.arcs.len())
            .filter_map(|b| {
                let a = self.arc_before(b)?;
                // A cut of the layer below too: its touching neurons pass a zero.
                let shared = self.parent[a] != self.parent[b] || a >= b;
                let touching = shared.then(|| pinned::at(&self.touching, self.parent[b])).flatten();
                rule.pinned(codes(a), codes(b), touching).nonempty_at(b)
            })
            .collect()
    }

    /// Sets the coefficients of the neurons that are flat on a breakpoint on an arc (all
    /// their inputs on flat pieces) to exactly that constant.
    fn make_flat_exact(&self, rule: &PinRule, z: &mut [f32], w: usize) {
        if !rule.any() {
            return;
        }
        let w_below = self.below_codes.len() / self.arcs.len();
        for (a, arc) in z.chunks_exact_mut(self.nb * w).enumerate() {
            rule.make_constant(
                &rule.dead(&self.below_codes[a * w_below..(a + 1) * w_below]),
                arc,
                self.nb,
            );
        }
    }

    /// Pre-activation of neuron i on arc a (coefficients `z`, `w` neurons), given the
    /// basis values at the point.
    fn value(&self, z: &[f32], w: usize, a: usize, i: usize, basis: &[f64; 3]) -> f64 {
        (0..self.nb)
            .map(|k| z[(a * self.nb + k) * w + i] as f64 * basis[k])
            .sum()
    }

    /// Every arc's roots, sorted, from the sides of every neuron at the arcs' ends. Each
    /// cut point's pre-activations are evaluated once, from the arc that starts there (the
    /// closing point of an ellipse is its start), so neighbouring arcs agree on which side
    /// of a breakpoint every neuron is at their shared end; pinned neurons take their
    /// one-sided sides instead and cross at the cut where those differ.
    fn roots(&mut self, z: &[f32], w: usize, rule: &PinRule, pinned: &[PinnedCut]) -> Vec<Vec<f64>> {
        let (n, nb) = (self.arcs.len(), self.nb);
        let boundary: Vec<Vec<f64>> = (0..=n)
            .into_par_iter()
            .map(|b| {
                let (a, s) = match b {
                    b if b < n => (b, self.arcs[b].lo),
                    _ if self.closed => (0, 0.0),
                    _ => (n - 1, self.arcs[n - 1].hi),
                };
                let basis = self.piece.basis(s);
                (0..w).map(|i| self.value(z, w, a, i, &basis)).collect()
            })
            .collect();
        let (mut starts, mut ends) = (boundary[..n].to_vec(), boundary[1..].to_vec());
        let mut at_cuts: Vec<Vec<f64>> = vec![Vec::new(); n];
        let mut touching = Vec::new();
        let coefs = |a: usize| &z[a * nb * w..(a + 1) * nb * w];
        for cut in pinned {
            let (b, a) = (cut.arc, self.arc_before(cut.arc).unwrap_or(cut.arc));
            let sides = CutSides {
                rule,
                nb,
                s_before: self.arcs[a].hi,
                s_after: self.arcs[b].lo,
            };
            sides.write_side(Side::After, cut, coefs(b), &mut starts[b]);
            sides.write_side(Side::Before, cut, coefs(a), &mut ends[a]);
            let touch = sides.at_cut(cut, coefs(a), coefs(b), &mut at_cuts[b]);
            touching.extend(touch.nonempty_at(b));
        }
        self.touching = touching;
        (at_cuts.into_par_iter().enumerate())
            .map(|(a, mut roots)| {
                let Arc { lo, hi } = self.arcs[a];
                let after = if a + 1 < n {
                    Some(a + 1)
                } else {
                    self.closed.then_some(0)
                };
                let pins = ArcPins {
                    start: pinned::at(pinned, a),
                    end: after.and_then(|b| pinned::at(pinned, b)),
                };
                for i in 0..w {
                    let c: Vec<f64> = (0..nb).map(|k| z[(a * nb + k) * w + i] as f64).collect();
                    for &beta in self.act.breakpoints() {
                        let beta = beta as f64;
                        let changes = (starts[a][i] > beta) != (ends[a][i] > beta);
                        if nb == 3
                            && let Some(at) = pins.of(i, beta)
                        {
                            pinned_ellipse_roots(&c, beta, lo, hi, at, changes, &mut roots);
                        } else if nb == 3 {
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
            .collect()
    }

    /// The next layer's input coefficients on the new arcs (φ's linear piece of every
    /// neuron, read at each new arc's midpoint from its parent's coefficients `z`), and
    /// the codes read.
    fn next_inputs(&self, z: &[f32], w: usize, new_arcs: &[Arc], parent: &[usize]) -> (Vec<f32>, Vec<u8>) {
        let nb = self.nb;
        let mut next = vec![0.0f32; new_arcs.len() * nb * w];
        let mut codes = vec![0u8; new_arcs.len() * w];
        (next.par_chunks_mut(nb * w).zip(codes.par_chunks_mut(w)).enumerate()).for_each(|(j, (block, code))| {
            let a = parent[j];
            let basis = self.piece.basis(0.5 * (new_arcs[j].lo + new_arcs[j].hi));
            for i in 0..w {
                code[i] = self.act.code(self.value(z, w, a, i, &basis) as f32);
                let (slope, offset) = self.act.linear_piece(code[i]);
                for k in 0..nb {
                    let v = slope * z[(a * nb + k) * w + i];
                    block[k * w + i] = if k == 0 { v + offset } else { v };
                }
            }
        });
        (next, codes)
    }
}
