//! One step of the rank-1 walk: hidden layer l's coefficients on every child arc, from the
//! coefficients and changes of layer l−1 on the parent arcs (see [`super::rank1`] for the
//! algorithm and the re-anchoring rule). Three passes:
//! 1. per child, its activation pattern (layer l−1's codes at its midpoint) and its change
//!    from the previous child as rank-1 terms — columns of W_l for the neurons of layer
//!    l−1 whose piece changed, and, where the child starts a new parent, one carried
//!    direction per term of the parent's own change;
//! 2. the anchors (where a block of children starts over from an exact product) and two
//!    products: the anchors' exact rows and the carried directions;
//! 3. the blocks, in parallel: each child's coefficients from the previous child's.

use super::chain::{Block, Changes, Direction, Term};
use super::codes::{Pieces, for_each_difference};
use super::pinned::{self, PinRule, PinnedCut};
use super::rank1::{Batch, BatchArc, Level};
use super::sides::{self, BlockSides, StartSides};
use super::{ARC_BLOCK, first_non_finite, scratch};
use crate::compute::{Compute, MatRef};
use crate::measure::finite::NonFinite;
use crate::net::Mlp;
use rayon::prelude::*;

/// Fewest children between two exact products in one block (the interval is
/// `max(REANCHOR_MIN, w_{l−1})`).
const REANCHOR_MIN: usize = 64;

/// Most carried-direction terms a block applies after its anchor (the rule's second half).
pub(super) const CARRIED_PER_ANCHOR: usize = 16;

/// Parents per parallel task in the first pass.
const PARENT_CHUNK: usize = 32;

/// Computing the coefficients of hidden layer `layer` (≥ 1) from those of the layer below.
pub(super) struct NextLayer<'a> {
    pub(super) net: &'a Mlp,
    pub(super) compute: &'a Compute,
    /// `W_layerᵀ`, row-major `w_in × w_out`.
    pub(super) transposed: &'a [f32],
    /// `W_{layer−1}ᵀ` (`w_{layer−2} × w_in`), whose rows are the directions of the layer
    /// below's column terms; empty for layer 1 (whose parent level has no terms).
    pub(super) lower_transposed: &'a [f32],
    pub(super) layer: usize,
    /// What can sit exactly on a breakpoint in this layer.
    pub(super) rule: &'a PinRule<'a>,
    /// The layer below's neurons touching a breakpoint from their sloped side at its cuts (with their exact φ values).
    pub(super) touching: &'a [PinnedCut],
    /// The activation's linear pieces by region code.
    pub(super) pieces: &'a Pieces,
}

/// The first pass's result for a run of children: per child its terms (carried rows
/// numbered over the whole level), and where the layer's neurons are pinned.
struct Plan {
    terms: Vec<Term>,
    /// Terms per child.
    counts: Vec<u32>,
    pins: Pins,
}

/// Where neurons of the layer sit exactly on a breakpoint, found from the patterns of the
/// layer below (see [`super::pinned`]): per cut (at the start of a child), and the neurons
/// dead on each child, in child order.
#[derive(Default)]
struct Pins {
    cuts: Vec<PinnedCut>,
    dead: Vec<PinnedCut>,
}

/// Where a run of children writes the input rows of its carried directions: `rows`
/// (`w_in` numbers each) are the level's rows `first_row..`.
struct CarriedRows<'a> {
    rows: &'a mut [f32],
    first_row: usize,
    written: usize,
}

impl NextLayer<'_> {
    /// The layer's coefficients and changes on every child of every arc of `parent` (the
    /// layer below).
    pub(super) fn level(
        &self,
        walk: &Batch,
        parent: &Level,
        children: Vec<BatchArc>,
        first_child: &[usize],
    ) -> Result<Level, NonFinite> {
        let (nb, w_in, w_out) = (walk.nb, parent.width, self.net.dims()[self.layer + 1]);
        let (changes, pins) = self.changes(walk, parent, &children, first_child);
        let anchors = anchors(&children, &changes, first_child, REANCHOR_MIN.max(w_in));
        let anchor_z = self.exact_rows(walk, parent, &children, &anchors)?;
        let mut changes = changes;
        // The carried directions' input rows, replaced by their products with W_l.
        changes.carried = self.product(&changes.carried, w_in);
        let block = nb * w_out;
        let mut z = scratch::take(children.len() * block);
        let breakpoints = walk.act.breakpoints();
        let mut sides = (!walk.is_ellipse).then(|| StartSides::new(children.len(), w_out, breakpoints.len()));
        let per_arc = sides.as_ref().map_or(0, StartSides::per_arc);
        // Each block: its anchor's index, its children, and where it writes.
        let mut parts = Vec::with_capacity(anchors.len());
        let (mut rest, mut bits) = (&mut z[..], sides.as_mut().map_or(&mut [][..], StartSides::all_mut));
        for (k, &(first, _)) in anchors.iter().enumerate() {
            let end = anchors.get(k + 1).map_or(children.len(), |a| a.0);
            let (head, tail) = rest.split_at_mut((end - first) * block);
            let (bits_head, bits_tail) = bits.split_at_mut((end - first) * per_arc);
            parts.push((k, first..end, head, bits_head));
            (rest, bits) = (tail, bits_tail);
        }
        let filled = parts.into_par_iter().try_for_each(|(k, arcs, out, bits)| {
            let first = arcs.start;
            let run = Block {
                first,
                anchor: &anchor_z[k * block..(k + 1) * block],
                changes: &changes,
                transposed: self.transposed,
                width: w_out,
                layer: self.layer,
            };
            let sides = (per_arc > 0).then_some(BlockSides {
                arcs: &children[arcs],
                breakpoints,
                bits,
            });
            run.run(out, sides)
        });
        drop(anchor_z);
        for dead in &pins.dead {
            let arc = &mut z[dead.arc * block..(dead.arc + 1) * block];
            self.rule.make_constant(dead, arc, nb);
            // The constants are exactly on a breakpoint: their sides change.
            if let Some(sides) = sides.as_mut() {
                sides::write(arc, children[dead.arc].lo, breakpoints, sides.of_mut(dead.arc));
            }
        }
        let cuts = self.closing_cuts(walk, parent, &children, first_child, pins.cuts);
        let level = Level::new(children, z, w_out, changes, cuts, sides);
        filled.map(|()| level)
    }

    /// The first pass over every child, in parallel over runs of parents; the carried
    /// directions are returned as their input rows (not yet multiplied by W_l).
    fn changes(&self, walk: &Batch, parent: &Level, children: &[BatchArc], first_child: &[usize]) -> (Changes, Pins) {
        let (parents, w_in) = (parent.arcs.len(), parent.width);
        let runs: Vec<std::ops::Range<usize>> = (0..parents.div_ceil(PARENT_CHUNK))
            .map(|k| k * PARENT_CHUNK..((k + 1) * PARENT_CHUNK).min(parents))
            .collect();
        // Each new parent (not the first of its range) carries its own change's terms.
        let carried_rows = |run: &std::ops::Range<usize>| -> usize {
            (run.clone())
                .filter(|&p| p > 0 && parent.arcs[p - 1].range == parent.arcs[p].range)
                .map(|p| parent.changes.of(p).len())
                .sum()
        };
        let per_run: Vec<usize> = runs.iter().map(carried_rows).collect();
        let mut carried = scratch::take(per_run.iter().sum::<usize>() * w_in);
        let mut slots = Vec::with_capacity(runs.len());
        let (mut rest, mut first_row) = (&mut carried[..], 0);
        for &rows in &per_run {
            let (head, tail) = rest.split_at_mut(rows * w_in);
            slots.push(CarriedRows {
                rows: head,
                first_row,
                written: 0,
            });
            (rest, first_row) = (tail, first_row + rows);
        }
        let plans: Vec<Plan> = (runs.into_par_iter().zip(slots))
            .map(|(run, mut slot)| self.plan(walk, parent, children, first_child, run, &mut slot))
            .collect();
        let mut out = Changes {
            start: Vec::with_capacity(children.len() + 1),
            terms: Vec::with_capacity(plans.iter().map(|p| p.terms.len()).sum()),
            carried,
        };
        out.start.push(0);
        let mut pins = Pins::default();
        for plan in plans {
            out.terms.extend(plan.terms);
            for count in plan.counts {
                let last = *out.start.last().unwrap_or(&0);
                out.start.push(last + count);
            }
            pins.cuts.extend(plan.pins.cuts);
            pins.dead.extend(plan.pins.dead);
        }
        (out, pins)
    }

    /// `cuts` with the closing points of closed ranges added (between a range's last child
    /// and its first), sorted by child.
    fn closing_cuts(
        &self,
        walk: &Batch,
        parent: &Level,
        children: &[BatchArc],
        first_child: &[usize],
        mut cuts: Vec<PinnedCut>,
    ) -> Vec<PinnedCut> {
        if !self.rule.any() {
            return cuts;
        }
        let w_in = parent.width;
        let (mut first, mut last) = (vec![0u8; w_in], vec![0u8; w_in]);
        let mut closing = Vec::new();
        for (range, &p0) in parent.range_start.iter().enumerate() {
            if !walk.ranges[range].closed {
                continue;
            }
            let p1 = parent.range_start.get(range + 1).map_or(parent.arcs.len(), |&p| p) - 1;
            let (c0, c1) = (first_child[p0], first_child[p1 + 1] - 1);
            walk.codes_at(
                parent.arc_coefficients(p0, walk.nb),
                children[c0],
                children[c0].mid(),
                &mut first,
            );
            walk.codes_at(
                parent.arc_coefficients(p1, walk.nb),
                children[c1],
                children[c1].mid(),
                &mut last,
            );
            let touching = pinned::at(self.touching, p0);
            closing.extend(self.rule.pinned(&last, &first, touching).nonempty_at(c0));
        }
        if !closing.is_empty() {
            cuts.extend(closing);
            cuts.sort_by_key(|c| c.arc);
        }
        cuts
    }

    /// The first pass over the children of parents `parents`.
    fn plan(
        &self,
        walk: &Batch,
        parent: &Level,
        children: &[BatchArc],
        first_child: &[usize],
        parents: std::ops::Range<usize>,
        carried: &mut CarriedRows,
    ) -> Plan {
        let (nb, w_in) = (walk.nb, parent.width);
        let (c0, c1) = (first_child[parents.start], first_child[parents.end]);
        let mut plan = Plan {
            terms: Vec::new(),
            counts: Vec::with_capacity(c1 - c0),
            pins: Pins::default(),
        };
        let mut codes = vec![0u8; w_in];
        let mut previous = vec![0u8; w_in];
        for p in parents {
            let parent_z = parent.arc_coefficients(p, nb);
            for c in first_child[p]..first_child[p + 1] {
                let child = children[c];
                walk.codes_at(parent_z, child, child.mid(), &mut codes);
                if self.rule.any() {
                    plan.pins.dead.extend(self.rule.dead(&codes).nonempty_at(c));
                }
                let starts_range = c == 0 || children[c - 1].range != child.range;
                if starts_range {
                    plan.counts.push(0);
                    std::mem::swap(&mut codes, &mut previous);
                    continue;
                }
                let left = if c == first_child[p] { p - 1 } else { p };
                let left_z = parent.arc_coefficients(left, nb);
                if c == c0 {
                    // The run's first child: its predecessor's pattern is not known yet.
                    let before = children[c - 1];
                    walk.codes_at(left_z, before, before.mid(), &mut previous);
                }
                if self.rule.any() {
                    // A new parent: the cut is the layer below's, with its touching neurons.
                    let touching = (left != p).then(|| pinned::at(self.touching, p)).flatten();
                    plan.pins
                        .cuts
                        .extend(self.rule.pinned(&previous, &codes, touching).nonempty_at(c));
                }
                let before = plan.terms.len();
                column_terms(walk, left_z, &previous, &codes, &mut plan.terms);
                if left != p {
                    self.carry(parent, p, &codes, carried, &mut plan.terms);
                }
                plan.counts.push((plan.terms.len() - before) as u32);
                std::mem::swap(&mut codes, &mut previous);
            }
        }
        plan
    }

    /// Carries the terms of parent `p`'s change (from parent p−1) up one layer: per term,
    /// the input row `slopes ⊙ d` (the slopes of the child's pattern `codes`, d the term's
    /// direction in the layer below), to be multiplied by W_l.
    fn carry(&self, parent: &Level, p: usize, codes: &[u8], carried: &mut CarriedRows, terms: &mut Vec<Term>) {
        let w_in = parent.width;
        for term in parent.changes.of(p) {
            let d = parent.changes.direction(term, self.lower_transposed, w_in);
            let row = &mut carried.rows[carried.written * w_in..(carried.written + 1) * w_in];
            self.pieces.apply(codes, d, false, row);
            terms.push(Term {
                delta: term.delta,
                dir: Direction::Carried((carried.first_row + carried.written) as u32),
            });
            carried.written += 1;
        }
    }

    /// `rows · W_lᵀ` for `rows` of `w_in` numbers each.
    fn product(&self, rows: &[f32], w_in: usize) -> scratch::Buffer {
        let w_out = self.net.dims()[self.layer + 1];
        let n = rows.len() / w_in;
        let mut out = scratch::take(n * w_out);
        let w = MatRef::rows(&self.net.weights()[self.layer], w_out, w_in);
        for start in (0..n).step_by(ARC_BLOCK) {
            let r = ARC_BLOCK.min(n - start);
            self.compute.matmul(
                &mut out[start * w_out..(start + r) * w_out],
                MatRef::rows(&rows[start * w_in..(start + r) * w_in], r, w_in),
                w.t(),
                false,
            );
        }
        out
    }

    /// The exact coefficients of the anchor children (child, parent): their input rows (the
    /// parent's coefficients through the activation pattern at the child's midpoint) times
    /// Wᵀ, plus the bias on the constant basis function.
    fn exact_rows(
        &self,
        walk: &Batch,
        parent: &Level,
        children: &[BatchArc],
        anchors: &[(usize, usize)],
    ) -> Result<scratch::Buffer, NonFinite> {
        let (nb, w_in, w_out) = (walk.nb, parent.width, self.net.dims()[self.layer + 1]);
        let mut input = scratch::take(anchors.len() * nb * w_in);
        input.par_chunks_mut(nb * w_in).zip(anchors).for_each_init(
            || vec![0u8; w_in],
            |codes, (block, &(c, p))| {
                let parent_z = parent.arc_coefficients(p, nb);
                walk.codes_at(parent_z, children[c], children[c].mid(), codes);
                for (k, (row, z)) in block
                    .chunks_exact_mut(w_in)
                    .zip(parent_z.chunks_exact(w_in))
                    .enumerate()
                {
                    self.pieces.apply(codes, z, k == 0, row);
                }
            },
        );
        let mut z = self.product(&input, w_in);
        drop(input);
        if let Some(bias) = self.net.bias(self.layer) {
            for arc in z.chunks_exact_mut(nb * w_out) {
                arc[..w_out].iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        match first_non_finite(&z, self.layer) {
            Some(bad) => Err(bad),
            None => Ok(z),
        }
    }
}

/// Pushes one column term per neuron of the layer below whose linear piece differs
/// between `from` and `to` (patterns of two consecutive children): `δ = Δslope · z_i +
/// Δoffset · e₀` with `z_i` neuron i's coefficients on the left child's parent (`left_z`),
/// direction `W_l[:, i]`.
fn column_terms(walk: &Batch, left_z: &[f32], from: &[u8], to: &[u8], terms: &mut Vec<Term>) {
    let w_in = from.len();
    for_each_difference(from, to, |i| {
        let ((s0, o0), (s1, o1)) = (walk.act.linear_piece(from[i]), walk.act.linear_piece(to[i]));
        let mut delta = [0.0f64; 3];
        for (k, d) in delta.iter_mut().enumerate().take(walk.nb) {
            *d = (s1 as f64 - s0 as f64) * left_z[k * w_in + i] as f64;
        }
        delta[0] += o1 as f64 - o0 as f64;
        terms.push(Term {
            delta,
            dir: Direction::Column(i as u32),
        });
    });
}

/// The anchors (child, its parent), child after child: the first child of every range,
/// and the child after which a block would exceed `every` children or
/// [`CARRIED_PER_ANCHOR`] carried terms.
fn anchors(children: &[BatchArc], changes: &Changes, first_child: &[usize], every: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let (mut parent, mut since, mut carried) = (0, 0, 0);
    for (c, child) in children.iter().enumerate() {
        while first_child[parent + 1] <= c {
            parent += 1;
        }
        let starts_range = c == 0 || children[c - 1].range != child.range;
        let here = (changes.of(c).iter())
            .filter(|t| matches!(t.dir, Direction::Carried(_)))
            .count();
        if starts_range || since >= every || carried + here > CARRIED_PER_ANCHOR {
            out.push((c, parent));
            (since, carried) = (0, 0);
        } else {
            carried += here;
        }
        since += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arc(range: u32, lo: f64) -> BatchArc {
        BatchArc {
            range,
            lo,
            hi: lo + 1.0,
        }
    }

    #[test]
    fn blocks_restart_at_ranges_after_the_interval_and_past_the_carried_limit() {
        // Range 0: 10 children, one parent; range 1: 30 children over three parents; each
        // child but a range's first has 2 column terms and 3 carried ones.
        let children: Vec<BatchArc> = (0..10)
            .map(|k| arc(0, k as f64))
            .chain((0..30).map(|k| arc(1, k as f64)))
            .collect();
        let first_child = [0, 10, 20, 30, 40];
        let mut changes = Changes::none(0);
        changes.start.clear();
        changes.start.push(0);
        for c in 0..children.len() {
            if c != 0 && c != 10 {
                for k in 0..5 {
                    let dir = if k < 2 {
                        Direction::Column(k)
                    } else {
                        Direction::Carried(k)
                    };
                    changes.terms.push(Term { delta: [1.0; 3], dir });
                }
            }
            changes.start.push(changes.terms.len() as u32);
        }
        let got = anchors(&children, &changes, &first_child, 4);
        // Every 4 children (3 carried terms per child would allow 5 after an anchor:
        // 15 ≤ 16), across parents, restarting at range 1.
        let want: Vec<(usize, usize)> = vec![
            (0, 0),
            (4, 0),
            (8, 0),
            (10, 1),
            (14, 1),
            (18, 1),
            (22, 2),
            (26, 2),
            (30, 3),
            (34, 3),
            (38, 3),
        ];
        assert_eq!(got, want);
        // With a long interval the carried limit decides: 5 children after each anchor.
        let got = anchors(&children, &changes, &first_child, 1000);
        let want: Vec<(usize, usize)> = vec![(0, 0), (6, 0), (10, 1), (16, 1), (22, 2), (28, 2), (34, 3)];
        assert_eq!(got, want);
    }
}
