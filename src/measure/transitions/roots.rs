//! Where one layer's neurons cross their breakpoints: closed-form roots of one neuron on
//! one arc (a segment's pre-activation `c₀ + c₁ t` crosses β once where its ends lie on
//! different sides of β, an ellipse's `c₀ + c₁ cos θ + c₂ sin θ` at
//! `θ = φ ± arccos((β − c₀)/R)`), shared by both exact walks, and the rank-1 walk's pass
//! over every arc of a layer and its cutting of the arcs at the roots.

use super::codes::for_each_side_change;
use super::pinned::{self, CutSides, PinRule, PinnedCut, PinnedEnds, Side, Touching, pinned_ellipse_roots};
use super::rank1::{Batch, BatchArc, Level};
use super::sides::StartSides;
use crate::compute::simd::widest;
use rayon::prelude::*;

/// Arcs per parallel task when finding roots.
const ROOT_CHUNK: usize = 64;

/// The roots of one layer on every arc, each arc's sorted, arc after arc, and the neurons
/// touching a breakpoint from their sloped side at cuts (for the layer above's pinned
/// neurons).
#[derive(Default)]
pub(super) struct LayerRoots {
    pub(super) positions: Vec<f64>,
    pub(super) per_arc: Vec<u32>,
    pub(super) touching: Touching,
}

/// Cuts every arc at its roots: the children in order, and where each arc's children start
/// (one entry per arc, plus the total). Every arc has at least one child.
pub(super) fn cut(arcs: &[BatchArc], roots: &LayerRoots) -> (Vec<BatchArc>, Vec<usize>) {
    let mut children = Vec::with_capacity(arcs.len() + roots.positions.len());
    let mut first_child = Vec::with_capacity(arcs.len() + 1);
    let mut next_root = 0;
    for (arc, &count) in arcs.iter().zip(&roots.per_arc) {
        first_child.push(children.len());
        let own = &roots.positions[next_root..next_root + count as usize];
        next_root += count as usize;
        let mut lo = arc.lo;
        for &s in own.iter().chain(std::iter::once(&arc.hi)) {
            if s > lo {
                children.push(BatchArc { lo, hi: s, ..*arc });
                lo = s;
            }
        }
    }
    first_child.push(children.len());
    (children, first_child)
}

/// The neurons pinned at the two ends of one arc.
pub(super) struct ArcPins<'a> {
    pub(super) start: Option<&'a PinnedCut>,
    pub(super) end: Option<&'a PinnedCut>,
}

impl ArcPins<'_> {
    /// Where neuron `i` is pinned at breakpoint `beta` on the arc, if it is.
    pub(super) fn of(&self, i: usize, beta: f64) -> Option<PinnedEnds> {
        let on = |cut: Option<&PinnedCut>| (cut.and_then(|c| c.value_of(i))).is_some_and(|v| v as f64 == beta);
        let ends = PinnedEnds {
            start: on(self.start),
            end: on(self.end),
        };
        (ends.start || ends.end).then_some(ends)
    }
}

/// `out[i] = Σ_k z[k·w + i] · basis[k]` in float64, summed in the order of k.
pub(super) fn values_at(z: &[f32], nb: usize, basis: &[f64; 3], out: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if super::avx512::available() && (2..=3).contains(&nb) {
        // SAFETY: the CPU has AVX-512, checked just above.
        return unsafe { super::avx512::values_at(z, nb, basis, out) };
    }
    widest(
        #[inline(always)]
        || values_with(z, nb, basis, out),
    )
}

#[inline(always)]
pub(super) fn values_with(z: &[f32], nb: usize, basis: &[f64; 3], out: &mut [f64]) {
    let w = out.len();
    for (o, &c) in out.iter_mut().zip(&z[..w]) {
        *o = c as f64 * basis[0];
    }
    for (k, &b) in basis.iter().enumerate().take(nb).skip(1) {
        for (o, &c) in out.iter_mut().zip(&z[k * w..(k + 1) * w]) {
            *o += c as f64 * b;
        }
    }
}

impl Batch<'_> {
    /// The pre-activations at the start of arc `a`, from arc a's coefficients.
    fn start_values(&self, level: &Level, a: usize, out: &mut [f64]) {
        let arc = level.arcs[a];
        values_at(
            level.arc_coefficients(a, self.nb),
            self.nb,
            &self.basis(arc, arc.lo),
            out,
        );
    }

    /// The pre-activations at the end of arc `a`: the next arc's start when it continues
    /// the same range (so that the two arcs share one value), else the range's start again
    /// when the range closes on itself (a whole ellipse), else arc a's own end. Returns
    /// whether they are the next arc's start values.
    fn end_values(&self, level: &Level, a: usize, out: &mut [f64]) -> bool {
        let arc = level.arcs[a];
        if level.arcs.get(a + 1).is_some_and(|next| next.range == arc.range) {
            self.start_values(level, a + 1, out);
            return true;
        }
        if self.ranges[arc.range as usize].closed {
            let first = level.range_start[arc.range as usize];
            self.start_values(level, first, out);
        } else {
            values_at(
                level.arc_coefficients(a, self.nb),
                self.nb,
                &self.basis(arc, arc.hi),
                out,
            );
        }
        false
    }

    /// Every root of the level's layer on every arc, in parallel over blocks of arcs, with
    /// the sides of its pinned neurons (`rule`) at the cuts decided by their patterns.
    pub(super) fn layer_roots(&self, level: &Level, rule: &PinRule) -> LayerRoots {
        let n = level.arcs.len();
        let blocks: Vec<LayerRoots> = (0..n.div_ceil(ROOT_CHUNK))
            .into_par_iter()
            .map(|block| {
                let (a0, a1) = (block * ROOT_CHUNK, ((block + 1) * ROOT_CHUNK).min(n));
                let mut start = vec![0.0f64; level.width];
                let mut end = vec![0.0f64; level.width];
                // Whether `start` holds arc a's start values (else they are computed when
                // needed: arcs with start sides skip them).
                let mut start_ready = false;
                let mut out = LayerRoots::default();
                for a in a0..a1 {
                    let before = out.positions.len();
                    if let Some(sides) = self.usable_sides(level, a) {
                        self.roots_from_sides(level, a, sides, &mut out.positions);
                        start_ready = false;
                    } else {
                        if !start_ready {
                            self.start_values(level, a, &mut start);
                            self.pinned_after(level, rule, a, &mut start);
                        }
                        let continues = self.end_values(level, a, &mut end);
                        if let Some(b) = self.arc_after(level, a) {
                            self.pinned_before(level, rule, a, b, &mut end);
                        }
                        self.pinned_crossings(level, rule, a, &mut out);
                        self.arc_roots(level, a, &start, &end, &mut out.positions);
                        start_ready = continues;
                        if continues {
                            std::mem::swap(&mut start, &mut end);
                            self.pinned_after(level, rule, a + 1, &mut start);
                        }
                    }
                    out.positions[before..].sort_by(f64::total_cmp);
                    out.per_arc.push((out.positions.len() - before) as u32);
                }
                out
            })
            .collect();
        let mut all = LayerRoots {
            per_arc: Vec::with_capacity(n),
            ..Default::default()
        };
        for block in blocks {
            all.positions.extend(block.positions);
            all.per_arc.extend(block.per_arc);
            all.touching.extend(block.touching);
        }
        all
    }

    /// The level's start sides, when arc `a`'s roots can be read from them: the next arc
    /// continues its range (its start is arc a's end) and no neuron is pinned at either
    /// end (those ends' sides are decided by the pinned rule, not by values).
    fn usable_sides<'l>(&self, level: &'l Level, a: usize) -> Option<&'l StartSides> {
        let sides = level.start_sides.as_ref()?;
        let next = level.arcs.get(a + 1)?;
        let plain = next.range == level.arcs[a].range
            && pinned::at(&level.pinned, a).is_none()
            && pinned::at(&level.pinned, a + 1).is_none();
        plain.then_some(sides)
    }

    /// The roots on segment arc `a` of the neurons whose start sides differ from those of
    /// the next arc (see [`Self::usable_sides`]).
    fn roots_from_sides(&self, level: &Level, a: usize, sides: &StartSides, out: &mut Vec<f64>) {
        let BatchArc { lo, hi, .. } = level.arcs[a];
        let (w, z) = (level.width, level.arc_coefficients(a, self.nb));
        let breakpoints = self.act.breakpoints();
        sides.for_each_change(a, a + 1, |i, b| {
            out.push(segment_root(z, w, i, breakpoints[b] as f64, lo, hi))
        });
    }

    /// The arc whose start is arc `a`'s end: the next one of its range, or the range's
    /// first when the range closes on itself; `None` at the end of an open range.
    fn arc_after(&self, level: &Level, a: usize) -> Option<usize> {
        let range = level.arcs[a].range;
        match level.arcs.get(a + 1) {
            Some(next) if next.range == range => Some(a + 1),
            _ => self.ranges[range as usize]
                .closed
                .then(|| level.range_start[range as usize]),
        }
    }

    /// The arc whose end is arc `b`'s start (see [`Self::arc_after`]).
    fn arc_before(&self, level: &Level, b: usize) -> Option<usize> {
        let range = level.arcs[b].range;
        match b.checked_sub(1) {
            Some(prev) if level.arcs[prev].range == range => Some(prev),
            _ if self.ranges[range as usize].closed => {
                let next_range = level.range_start.get(range as usize + 1);
                Some(next_range.map_or(level.arcs.len(), |&r| r) - 1)
            }
            _ => None,
        }
    }

    fn cut_sides<'r>(&self, level: &Level, rule: &'r PinRule<'r>, a: usize, b: usize) -> CutSides<'r> {
        CutSides {
            rule,
            nb: self.nb,
            s_before: level.arcs[a].hi,
            s_after: level.arcs[b].lo,
        }
    }

    /// Replaces the start values of arc `b`'s pinned neurons by their sides just after it.
    fn pinned_after(&self, level: &Level, rule: &PinRule, b: usize, start: &mut [f64]) {
        if let (Some(cut), Some(a)) = (pinned::at(&level.pinned, b), self.arc_before(level, b)) {
            let after = level.arc_coefficients(b, self.nb);
            self.cut_sides(level, rule, a, b)
                .write_side(Side::After, cut, after, start);
        }
    }

    /// Replaces the end values of arc `a` (followed by arc `b`) of the neurons pinned at
    /// their cut by their sides just before it.
    fn pinned_before(&self, level: &Level, rule: &PinRule, a: usize, b: usize, end: &mut [f64]) {
        if let Some(cut) = pinned::at(&level.pinned, b) {
            let before = level.arc_coefficients(a, self.nb);
            self.cut_sides(level, rule, a, b)
                .write_side(Side::Before, cut, before, end);
        }
    }

    /// The neurons pinned at the start and at the end of arc `a`, if any.
    fn pinned_ends<'l>(&self, level: &'l Level, a: usize) -> Option<ArcPins<'l>> {
        let start = pinned::at(&level.pinned, a);
        let end = (self.arc_after(level, a)).and_then(|b| pinned::at(&level.pinned, b));
        (start.is_some() || end.is_some()).then_some(ArcPins { start, end })
    }

    /// The crossings of pinned neurons at the start of arc `b` (its own roots), and the
    /// neurons touching zero from above there.
    fn pinned_crossings(&self, level: &Level, rule: &PinRule, b: usize, out: &mut LayerRoots) {
        if let (Some(cut), Some(a)) = (pinned::at(&level.pinned, b), self.arc_before(level, b)) {
            let (before, after) = (level.arc_coefficients(a, self.nb), level.arc_coefficients(b, self.nb));
            let touching = (self.cut_sides(level, rule, a, b)).at_cut(cut, before, after, &mut out.positions);
            out.touching.extend(touching.nonempty_at(b));
        }
    }

    /// The roots on arc `a` of every neuron, given the pre-activations at its two ends.
    fn arc_roots(&self, level: &Level, a: usize, start: &[f64], end: &[f64], out: &mut Vec<f64>) {
        let BatchArc { lo, hi, .. } = level.arcs[a];
        let (w, z) = (level.width, level.arc_coefficients(a, self.nb));
        if !self.is_ellipse {
            for &beta in self.act.breakpoints() {
                let beta = beta as f64;
                // Affine on the arc: exactly one crossing where the ends' sides differ.
                for_each_side_change(start, end, beta, |i| out.push(segment_root(z, w, i, beta, lo, hi)));
            }
            return;
        }
        let pinned_ends = self.pinned_ends(level, a);
        for &beta in self.act.breakpoints() {
            let beta = beta as f64;
            for i in 0..w {
                let changes = (start[i] > beta) != (end[i] > beta);
                let c = [z[i] as f64, z[w + i] as f64, z[2 * w + i] as f64];
                if let Some(ends) = pinned_ends.as_ref().and_then(|p| p.of(i, beta)) {
                    pinned_ellipse_roots(&c, beta, lo, hi, ends, changes, out);
                    continue;
                }
                // No root can exist when β is farther from c₀ than the amplitude (with a
                // margin for rounding): skip the trigonometry.
                let gap = beta - c[0];
                if !changes && gap * gap > (c[1] * c[1] + c[2] * c[2]) * (1.0 + 1e-6) {
                    continue;
                }
                ellipse_roots(&c, beta, lo, hi, changes, out);
            }
        }
    }
}

/// Where neuron i's pre-activation `c₀ + c₁ t` (coefficients `z`, `2 × w`) crosses `beta`
/// on the segment arc `[lo, hi]` whose ends lie on different sides of it: clamped to the
/// arc (rounding), its middle when the neuron is flat.
fn segment_root(z: &[f32], w: usize, i: usize, beta: f64, lo: f64, hi: f64) -> f64 {
    let (c0, c1) = (z[i] as f64, z[w + i] as f64);
    let t = if c1 != 0.0 { (beta - c0) / c1 } else { 0.5 * (lo + hi) };
    t.clamp(lo, hi)
}

/// Roots θ ∈ [lo, hi) of `c₀ + c₁ cos θ + c₂ sin θ = β`, pushed onto `out`. Their number
/// is forced to the parity of `changes` (whether the ends lie on different sides): an odd
/// excess drops the root nearest an end, a missing one is placed at the nearer end.
pub(super) fn ellipse_roots(c: &[f64], beta: f64, lo: f64, hi: f64, changes: bool, out: &mut Vec<f64>) {
    let r = c[1].hypot(c[2]);
    let mut found: Vec<f64> = Vec::with_capacity(2);
    if r > 0.0 {
        let ratio = (beta - c[0]) / r;
        if ratio.abs() < 1.0 {
            let phase = c[2].atan2(c[1]);
            let alpha = ratio.acos();
            for th in [phase - alpha, phase + alpha] {
                // A root just below 0 wraps to 2π − ε, which can round to 2π itself: that
                // is the closing point, θ = 0.
                let th = match th.rem_euclid(std::f64::consts::TAU) {
                    t if t >= std::f64::consts::TAU => 0.0,
                    t => t,
                };
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
