//! The rank-1 exact walk (the default). Layer by layer, as the GEMM walk, each piece is cut
//! into arcs on which every layer so far is affine, but a layer's coefficients are not
//! recomputed by a product on every arc: consecutive arcs of a range differ only in the
//! linear pieces of the neurons that cross at the cut between them, so each arc's
//! coefficients are the previous arc's plus a few rank-1 terms `δ ⊗ d` (δ: one number per
//! basis function, d: one per neuron of the layer; see `chain`).
//!
//! At layer l, between two consecutive arcs ("children" of the arcs of layer l−1, their
//! "parents"), with `D` the slopes of layer l−1's pieces on the right child and `z` the
//! left child's parent's coefficients of layer l−1:
//! - a neuron i of layer l−1 that changes piece gives `δ = Δslope_i · z_i + Δoffset_i · e₀`
//!   and `d = W_l[:, i]` (a column: O(w_l) per basis function);
//! - if the two children have different parents (a crossing of a layer k ≤ l−2 separates
//!   them), the parents' coefficients differ by their own terms `δ ⊗ d'`, and each gives
//!   layer l the term `δ ⊗ W_l (D ⊙ d')`: the same δ, the direction carried up one layer,
//!   one product row per term, all of a layer's in one batched product. Using the right
//!   child's slopes D makes this exact also when a neuron of layer l−1 changes piece at the
//!   very point of the lower crossing (a tie across layers): that neuron's change is a
//!   column term with the left parent's z, and `D_R z_R − D_L z_L = (D_R − D_L) z_L +
//!   D_R (z_R − z_L)`.
//!
//! Re-anchoring rule: the children of a range are walked in blocks; each block starts with
//! an exact product (its first child's input row — its parent's coefficients through its
//! activation pattern — times W_l, as the GEMM walk computes every row) and ends before
//! (a) a new range, (b) `R = max(64, w_{l−1})` children, or (c) the child whose carried terms
//! would bring the block's count above `K = 16`. In between, terms are added in float64 and
//! each child's coefficients rounded to float32 once. Column terms are exact products of
//! float32 numbers, so their sums err by at most R·2⁻⁵³ of the terms (< 1e-12). A carried
//! direction is a float32 product row: it is rounded like one row of the exact product (and
//! carries the rounding of the rows below it, one per layer it went through), so a block's
//! coefficients differ from the exact product's by at most K such roundings — about ten
//! times the exact product's own rounding, which the GEMM walk has too — however many
//! parents the block spans. R grows with w_{l−1} so that anchors cost no more than the
//! updates between them; K bounds the drift and costs at most b anchor rows per K carried
//! rows (b = 2 or 3 basis functions).
//!
//! Each child's activation pattern is read at its midpoint (as the GEMM walk reads it), so
//! a cut where several neurons cross at once (a tie) changes all of them together.

use super::chain::Changes;
use super::codes::{self, Pieces};
use super::layer_product;
use super::next_layer::NextLayer;
use super::pinned::{PinRule, PinnedCut};
use super::roots::cut;
use super::scratch;
use super::sides::StartSides;
use crate::compute::Compute;
use crate::measure::finite::NonFinite;
use crate::measure::trajectory::{Piece, Trajectory};
use crate::net::{Activation, Mlp};

/// A parameter range `[lo, hi)` of one piece, walked as a unit.
#[derive(Clone, Copy, Debug)]
pub(super) struct Range {
    piece: usize,
    lo: f64,
    hi: f64,
    /// Whether its end is its start (a whole ellipse).
    pub(super) closed: bool,
}

/// A sub-interval of a range on which every layer seen so far is affine.
#[derive(Clone, Copy, Debug)]
pub(super) struct BatchArc {
    /// Index of its range in the batch.
    pub(super) range: u32,
    pub(super) lo: f64,
    pub(super) hi: f64,
}

impl BatchArc {
    /// The middle of the arc, where its activation pattern is read.
    pub(super) fn mid(&self) -> f64 {
        0.5 * (self.lo + self.hi)
    }
}

/// Ranges of pieces of one kind (one basis), walked together layer by layer so that each
/// layer's exact products are one batch of rows against one packing of the weights.
pub(super) struct Batch<'a> {
    pieces: &'a [Piece],
    pub(super) ranges: &'a [Range],
    pub(super) act: Activation,
    /// Basis functions: 2 for segments, 3 for ellipses.
    pub(super) nb: usize,
    pub(super) is_ellipse: bool,
}

/// One hidden layer's pre-activation coefficients on every arc of a batch: arc after arc,
/// within an arc basis function after basis function, within those neuron after neuron.
pub(super) struct Level {
    pub(super) arcs: Vec<BatchArc>,
    /// The first arc of every range.
    pub(super) range_start: Vec<usize>,
    z: scratch::Buffer,
    pub(super) width: usize,
    /// The coefficients' change from each arc to the next.
    pub(super) changes: Changes,
    /// The cuts where neurons of the layer sit exactly on a breakpoint, sorted by arc.
    pub(super) pinned: Vec<PinnedCut>,
    /// Every arc's start sides, when the block pass wrote them (segment levels above the
    /// first).
    pub(super) start_sides: Option<StartSides>,
}

impl Level {
    pub(super) fn arc_coefficients(&self, a: usize, nb: usize) -> &[f32] {
        &self.z[a * nb * self.width..(a + 1) * nb * self.width]
    }

    pub(super) fn new(
        arcs: Vec<BatchArc>,
        z: scratch::Buffer,
        width: usize,
        changes: Changes,
        pinned: Vec<PinnedCut>,
        start_sides: Option<StartSides>,
    ) -> Level {
        let mut range_start = Vec::new();
        for (a, arc) in arcs.iter().enumerate() {
            if a == 0 || arcs[a - 1].range != arc.range {
                range_start.push(a);
            }
        }
        Level {
            arcs,
            range_start,
            z,
            width,
            changes,
            pinned,
            start_sides,
        }
    }
}

/// Crossings of one piece: (hidden layer, parameter value).
type Crossings = Vec<(usize, f64)>;

/// Crossings of a batch: (range, hidden layer, parameter value).
type BatchCrossings = Vec<(u32, usize, f64)>;

/// Every crossing of every piece of `traj`, piece by piece; pieces of one kind are walked
/// together while their coefficients fit in `budget` floats (else the batch is split, down
/// to halves of one piece's range); an error when a pre-activation coefficient is NaN or
/// infinite.
pub(super) fn walk_trajectory(
    net: &Mlp,
    compute: &Compute,
    traj: &Trajectory,
    budget: usize,
) -> Result<Vec<Crossings>, NonFinite> {
    // `W_lᵀ` (row-major `w_{l−1} × w_l`) for every hidden layer l ≥ 1, so that a rank-1
    // step reads the column `W_l[:, i]` as one contiguous row (kept with the network).
    let transposed: Vec<&[f32]> = (1..net.depth() - 1).map(|l| net.weights_transposed(l)).collect();
    let rules: Vec<PinRule> = (0..net.depth() - 1).map(|l| PinRule::new(net, l)).collect();
    let layers = Layers {
        transposed: &transposed,
        rules: &rules,
        pieces: Pieces::of(net.activation()),
    };
    walk_batches(net, compute, traj, &layers, budget)
}

/// What the walk prepares once per trajectory for every hidden layer.
struct Layers<'a> {
    /// `W_lᵀ` for every hidden layer l ≥ 1 (index l − 1).
    transposed: &'a [&'a [f32]],
    /// What can sit exactly on a breakpoint, per hidden layer.
    rules: &'a [PinRule<'a>],
    /// The activation's linear pieces by region code.
    pieces: Pieces,
}

/// [`walk_trajectory`] with what it prepared per layer.
fn walk_batches(
    net: &Mlp,
    compute: &Compute,
    traj: &Trajectory,
    layers: &Layers,
    budget: usize,
) -> Result<Vec<Crossings>, NonFinite> {
    let mut per_piece = vec![Vec::new(); traj.pieces.len()];
    for is_ellipse in [false, true] {
        let ranges: Vec<Range> = (traj.pieces.iter().enumerate())
            .filter(|(_, piece)| matches!(piece, Piece::Ellipse { .. }) == is_ellipse)
            .map(|(k, piece)| Range {
                piece: k,
                lo: 0.0,
                hi: piece.span(),
                closed: is_ellipse,
            })
            .collect();
        let Some(first) = ranges.first() else { continue };
        let batch = Batch {
            pieces: &traj.pieces,
            ranges: &ranges,
            act: net.activation(),
            nb: traj.pieces[first.piece].basis_len(),
            is_ellipse,
        };
        batch.walk_ranges(net, compute, layers, budget, &mut per_piece)?;
    }
    Ok(per_piece)
}

impl Batch<'_> {
    /// The basis functions' values at parameter `s` of `arc`'s piece.
    pub(super) fn basis(&self, arc: BatchArc, s: f64) -> [f64; 3] {
        self.pieces[self.ranges[arc.range as usize].piece].basis(s)
    }

    /// Walks the batch's ranges, splitting the batch (then a lone range, in halves) while
    /// it does not fit in `budget`; appends every crossing to its piece's list.
    fn walk_ranges(
        &self,
        net: &Mlp,
        compute: &Compute,
        layers: &Layers,
        budget: usize,
        per_piece: &mut [Crossings],
    ) -> Result<(), NonFinite> {
        if let Some(crossings) = self.walk(net, compute, layers, budget)? {
            for (range, layer, s) in crossings {
                per_piece[self.ranges[range as usize].piece].push((layer, s));
            }
            return Ok(());
        }
        let halves: Vec<Vec<Range>> = match self.ranges {
            [lone] => {
                let mid = 0.5 * (lone.lo + lone.hi);
                let part = |lo, hi| Range {
                    lo,
                    hi,
                    closed: false,
                    ..*lone
                };
                vec![vec![part(lone.lo, mid)], vec![part(mid, lone.hi)]]
            }
            many => many.chunks(many.len().div_ceil(2)).map(<[Range]>::to_vec).collect(),
        };
        for ranges in &halves {
            let part = Batch { ranges, ..*self };
            part.walk_ranges(net, compute, layers, budget, per_piece)?;
        }
        Ok(())
    }

    /// Every crossing of the batch: (range, hidden layer, parameter value), layer after
    /// layer; `None` when the coefficients would exceed `budget` floats (unless the batch
    /// is a single range that is already tiny).
    fn walk(
        &self,
        net: &Mlp,
        compute: &Compute,
        layers: &Layers,
        budget: usize,
    ) -> Result<Option<BatchCrossings>, NonFinite> {
        let splittable = match self.ranges {
            [lone] => lone.hi - lone.lo > 1e-9 * self.pieces[lone.piece].span(),
            _ => true,
        };
        let hidden = net.depth() - 1;
        let mut level = self.first_level(net, compute)?;
        let mut crossings = Vec::new();
        for layer in 0..hidden {
            let roots = self.layer_roots(&level, &layers.rules[layer]);
            let mut next_root = 0;
            for (arc, &count) in level.arcs.iter().zip(&roots.per_arc) {
                let own = &roots.positions[next_root..next_root + count as usize];
                crossings.extend(own.iter().map(|&s| (arc.range, layer, s)));
                next_root += count as usize;
            }
            // The last hidden layer has no layer above it to compute.
            let Some(transposed) = layers.transposed.get(layer) else {
                break;
            };
            let (children, first_child) = cut(&level.arcs, &roots);
            let (w_in, w_out) = (net.dims()[layer + 1], net.dims()[layer + 2]);
            if splittable && children.len() * self.nb * w_out.max(w_in) > budget {
                return Ok(None);
            }
            let step = NextLayer {
                net,
                compute,
                transposed,
                lower_transposed: layer.checked_sub(1).map_or(&[][..], |l| layers.transposed[l]),
                layer: layer + 1,
                rule: &layers.rules[layer + 1],
                touching: &roots.touching,
                pieces: &layers.pieces,
            };
            level = step.level(self, &level, children, &first_child)?;
        }
        Ok(Some(crossings))
    }

    /// The first hidden layer's coefficients on every range: one exact product of the
    /// pieces' basis coefficients with W₁ (plus the bias on the constant basis function).
    fn first_level(&self, net: &Mlp, compute: &Compute) -> Result<Level, NonFinite> {
        let (d, width) = (net.dims()[0], net.dims()[1]);
        let rows = self.ranges.len() * self.nb;
        let mut coef = scratch::take(rows * d);
        let basis_rows = self.ranges.iter().flat_map(|r| self.pieces[r.piece].coefficients());
        for (row, c) in coef.chunks_exact_mut(d).zip(basis_rows) {
            row.copy_from_slice(&c);
        }
        let mut z = scratch::take(rows * width);
        layer_product(net, compute, 0, &coef, self.nb, &mut z)?;
        let arcs: Vec<BatchArc> = (self.ranges.iter().enumerate())
            .map(|(k, r)| BatchArc {
                range: k as u32,
                lo: r.lo,
                hi: r.hi,
            })
            .collect();
        let changes = Changes::none(arcs.len());
        Ok(Level::new(arcs, z, width, changes, Vec::new(), None))
    }

    /// The region code of every neuron of `parent_z`'s layer at parameter `s` of `arc`.
    pub(super) fn codes_at(&self, parent_z: &[f32], arc: BatchArc, s: f64, codes: &mut [u8]) {
        let basis = self.basis(arc, s);
        codes::codes_at(parent_z, self.nb, &basis, self.act.breakpoints(), codes);
    }
}
