//! Neurons that sit exactly on a breakpoint, which rounded coefficients cannot show, for
//! both exact walks.
//!
//! Every piecewise-linear φ has flat pieces (relu below 0; relu6, hard_tanh and
//! hard_sigmoid below and above their breakpoints). A neuron of layer l whose inputs (those
//! with a non-zero weight) are all on flat pieces over an arc is a constant there: `b_j +
//! Σ_i W_ji·offset_i`, computed here in float64 from the patterns ("flat"). When that
//! constant is itself a breakpoint — 0 for bias-free relu and relu6 whose inputs are all
//! switched off, the common case in narrow networks; or an exact sum of integer weights —
//! the neuron sits on its breakpoint along the arc, and at a cut where one of its inputs
//! leaves its flat piece its value is exactly the breakpoint too. More generally a neuron is
//! "pinned" at a cut when every such input is on a flat piece on one side of the cut or the
//! other, or touches a breakpoint there from its sloped side (its φ value is then known
//! exactly), and the value these give is a breakpoint. Read from the rounded coefficients
//! of the arc after the cut, that value is the breakpoint plus rounding residue of either
//! sign, and a side read from it can count a crossing that does not happen (a neuron that
//! comes alive going down from 0) or miss one.
//!
//! So the patterns decide: flat neurons on a breakpoint get exactly the coefficients
//! `(β, 0, 0)` (the GEMM walk computes them up to its rounding of the sum; the rank-1 walk's
//! chained updates do not), and at a pinned cut each side of the neuron is its one-sided
//! limit — the sign of its derivative along the trajectory leaving the cut (at a zero
//! derivative, the curvature of an ellipse arc). A crossing happens at the cut when the
//! limits on its two sides differ; a neuron that only touches its breakpoint there (the same
//! side on both) does not cross, as no code changes on any stretch of the trajectory. One
//! that touches from its sloped side passes its exact φ value on to the layer above
//! (`touching`).

use crate::net::{Activation, Mlp};
use std::sync::atomic::{AtomicU8, Ordering};

/// Which side of a cut a one-sided limit is taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// Just before the cut (the end of the arc on its left).
    Before,
    /// Just after the cut (the start of the arc on its right).
    After,
}

/// Neurons of one layer at one cut, each with a value: the cut is the start of arc `arc`
/// (for the first arc of a closed range, its closing point). For pinned neurons the value
/// is the breakpoint they sit on; for touching ones, φ of it.
#[derive(Clone, Debug, Default)]
pub(super) struct PinnedCut {
    pub(super) arc: usize,
    pub(super) neurons: Vec<u32>,
    pub(super) values: Vec<f32>,
}

impl PinnedCut {
    /// The cut placed at the start of arc `arc`, unless it lists no neuron.
    pub(super) fn nonempty_at(self, arc: usize) -> Option<PinnedCut> {
        (!self.neurons.is_empty()).then_some(PinnedCut { arc, ..self })
    }

    /// The value of neuron `i` if it is listed.
    pub(super) fn value_of(&self, i: usize) -> Option<f32> {
        self.neurons.binary_search(&(i as u32)).ok().map(|k| self.values[k])
    }
}

/// Neurons that touch a breakpoint from their sloped side at cuts, with their φ values
/// there, passed on to the layer above; sorted by arc.
pub(super) type Touching = Vec<PinnedCut>;

/// The entry of `cuts` (sorted by arc) for the cut at the start of arc `arc`.
pub(super) fn at(cuts: &[PinnedCut], arc: usize) -> Option<&PinnedCut> {
    cuts.binary_search_by_key(&arc, |c| c.arc).ok().map(|k| &cuts[k])
}

/// What can be pinned in one hidden layer (≥ 2nd) of a network, and how to find it from
/// the activation patterns of the layer below.
pub(super) struct PinRule<'a> {
    act: Activation,
    /// The layer's weights, row-major `w_out × w_in`, and its bias.
    weights: &'a [f32],
    bias: Option<&'a [f32]>,
    w_in: usize,
    w_out: usize,
    /// Per input, whether its column of weights holds an exact zero (0 = not looked at
    /// yet, 1 = no, 2 = yes): an input that is not known at a cut keeps every neuron with a
    /// non-zero weight from it off the pinned list, so a column without zeros ends the
    /// search. Filled on first use: a dense layer needs only the columns of the first
    /// inputs a search meets, not a pass over all its weights per walk.
    column_zero: Vec<AtomicU8>,
    /// Whether the layer has a layer of patterns below it (the first hidden layer has not).
    active: bool,
}

impl<'a> PinRule<'a> {
    /// The rule for hidden layer `layer` (0-based; the first hidden layer has no pattern
    /// below it and gets an inactive rule).
    pub(super) fn new(net: &'a Mlp, layer: usize) -> PinRule<'a> {
        let (w_in, w_out) = (net.dims()[layer], net.dims()[layer + 1]);
        PinRule {
            act: net.activation(),
            weights: &net.weights()[layer][..],
            bias: net.bias(layer),
            w_in,
            w_out,
            column_zero: (0..if layer > 0 { w_in } else { 0 })
                .map(|_| AtomicU8::new(0))
                .collect(),
            active: layer > 0,
        }
    }

    /// Whether anything can be pinned in the layer.
    pub(super) fn any(&self) -> bool {
        self.active
    }

    /// Whether input `i`'s column of weights holds an exact zero.
    fn column_has_zero(&self, i: usize) -> bool {
        match self.column_zero[i].load(Ordering::Relaxed) {
            0 => {
                let zero = (0..self.w_out).any(|j| self.weights[j * self.w_in + i] == 0.0);
                self.column_zero[i].store(1 + zero as u8, Ordering::Relaxed);
                zero
            }
            state => state == 2,
        }
    }

    /// φ's value on a flat piece (`code`), if the piece is flat.
    fn flat(&self, code: u8) -> Option<f32> {
        let (slope, offset) = self.act.linear_piece(code);
        (slope == 0.0).then_some(offset)
    }

    /// The neurons pinned at a cut between an arc with the layer below's pattern `before`
    /// and one with `after`, where the layer below's `touching` neurons (if any) have known
    /// φ values, with the breakpoints they sit on.
    pub(super) fn pinned(&self, before: &[u8], after: &[u8], touching: Option<&PinnedCut>) -> PinnedCut {
        let mut out = PinnedCut::default();
        if !self.active {
            return out;
        }
        // Each input's exact φ value at the cut, where the patterns give one.
        let known = |i: usize| {
            (self.flat(before[i]).or_else(|| self.flat(after[i]))).or_else(|| touching.and_then(|t| t.value_of(i)))
        };
        // Most searches end at the first unknown input whose column has no zero: look for
        // it before collecting anything.
        if (0..self.w_in).any(|i| known(i).is_none() && !self.column_has_zero(i)) {
            return out;
        }
        let (mut alive, mut nonzero) = (Vec::new(), Vec::new());
        for i in 0..self.w_in {
            match known(i) {
                None => alive.push(i),
                Some(v) if v != 0.0 => nonzero.push((i, v as f64)),
                Some(_) => {}
            }
        }
        for j in 0..self.w_out {
            let row = &self.weights[j * self.w_in..(j + 1) * self.w_in];
            if alive.iter().any(|&i| row[i] != 0.0) {
                continue;
            }
            let bias = self.bias.map_or(0.0, |b| b[j] as f64);
            let value = bias + nonzero.iter().map(|&(i, v)| row[i] as f64 * v).sum::<f64>();
            if let Some(&beta) = self.act.breakpoints().iter().find(|&&b| b as f64 == value) {
                out.neurons.push(j as u32);
                out.values.push(beta);
            }
        }
        out
    }

    /// The flat neurons on a breakpoint on an arc where the layer below has the pattern
    /// `codes`.
    pub(super) fn dead(&self, codes: &[u8]) -> PinnedCut {
        self.pinned(codes, codes, None)
    }

    /// Sets the coefficients (`nb × w`, basis function after basis function) of the flat
    /// neurons on a breakpoint (`dead`) to exactly that constant.
    pub(super) fn make_constant(&self, dead: &PinnedCut, z: &mut [f32], nb: usize) {
        let w = self.w_out;
        for (&j, &v) in dead.neurons.iter().zip(&dead.values) {
            let j = j as usize;
            z[j] = v;
            (1..nb).for_each(|k| z[k * w + j] = 0.0);
        }
    }

    /// φ at breakpoint `beta` when a neuron stays on the same side `above` of it on both
    /// sides of a cut and that side is a sloped piece (it touches the breakpoint from its
    /// sloped side, and the layer above sees φ(β) exactly), else `None`.
    fn touch_value(&self, beta: f32, above: bool) -> Option<f32> {
        let below = self.act.breakpoints().iter().filter(|&&b| b < beta).count() as u8;
        let code = below + above as u8;
        self.flat(code).is_none().then(|| self.act.apply(beta))
    }
}

/// Whether neuron `j` (coefficients `z`, `nb × w`), exactly at breakpoint `beta` at
/// parameter `s`, is above it just before or just after `s`: the sign of its derivative
/// leaving `s` on that side (at a zero derivative, an ellipse arc's curvature `c₀ − β`; a
/// constant is not above).
fn above_near(z: &[f32], nb: usize, j: usize, s: f64, beta: f32, side: Side) -> bool {
    let w = z.len() / nb;
    let c = |k: usize| z[k * w + j] as f64;
    let derivative = match nb {
        2 => c(1),
        _ => -c(1) * s.sin() + c(2) * s.cos(),
    };
    let leaving = match side {
        Side::After => derivative,
        Side::Before => -derivative,
    };
    if leaving != 0.0 {
        return leaving > 0.0;
    }
    nb == 3 && c(0) > beta as f64
}

/// A stand-in for a pinned neuron's value at a cut for the side tests `v > β`: on the side
/// `above` says for the breakpoint it sits on, and equal to it for every other one.
fn side_value(value: f32, above: bool) -> f64 {
    let v = value as f64;
    if above { v.next_up() } else { v }
}

/// The sides of the pinned neurons at one cut: the arc before it ends at `s_before`, the
/// arc after it starts at `s_after` (the same point; for the closing point of an ellipse,
/// 2π and 0).
pub(super) struct CutSides<'a> {
    pub(super) rule: &'a PinRule<'a>,
    pub(super) nb: usize,
    pub(super) s_before: f64,
    pub(super) s_after: f64,
}

impl CutSides<'_> {
    /// Whether pinned neuron `j` (at breakpoint `beta`) is above it on `side` of the cut,
    /// from the coefficients of the arc on that side.
    fn above(&self, side: Side, coefficients: &[f32], j: u32, beta: f32) -> bool {
        let s = match side {
            Side::Before => self.s_before,
            Side::After => self.s_after,
        };
        above_near(coefficients, self.nb, j as usize, s, beta, side)
    }

    /// The stand-in values of the `pinned` neurons on `side` of the cut (from the
    /// coefficients of the arc on that side) into `out`.
    pub(super) fn write_side(&self, side: Side, pinned: &PinnedCut, coefficients: &[f32], out: &mut [f64]) {
        for (&j, &v) in pinned.neurons.iter().zip(&pinned.values) {
            out[j as usize] = side_value(v, self.above(side, coefficients, j, v));
        }
    }

    /// The crossings at the cut (one parameter value `s_after` each) and the neurons that
    /// touch their breakpoint from their sloped side there, with φ of it.
    pub(super) fn at_cut(
        &self,
        pinned: &PinnedCut,
        before: &[f32],
        after: &[f32],
        crossings: &mut Vec<f64>,
    ) -> PinnedCut {
        let mut touching = PinnedCut::default();
        for (&j, &v) in pinned.neurons.iter().zip(&pinned.values) {
            let left = self.above(Side::Before, before, j, v);
            let right = self.above(Side::After, after, j, v);
            if left != right {
                crossings.push(self.s_after);
            } else if let Some(phi) = self.rule.touch_value(v, left) {
                touching.neurons.push(j);
                touching.values.push(phi);
            }
        }
        touching
    }
}

/// Where a neuron is pinned on an ellipse arc: at its start, its end, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PinnedEnds {
    pub(super) start: bool,
    pub(super) end: bool,
}

/// The roots inside an ellipse arc `[lo, hi)` of `c₀ + c₁ cos θ + c₂ sin θ = β` for a
/// neuron pinned at β at one or both ends. One root of the sinusoid is that end itself, so
/// at most one lies inside, and it does exactly when the sides at the two ends differ
/// (`changes`): the other root, kept inside the arc. (Pinned at both ends, both roots are
/// the ends; sides that still differ are rounding, and one crossing at the middle keeps
/// the count consistent with them. A closed range of one arc has its two ends at one
/// point; a neuron pinned there is constant, with sides that never differ.)
pub(super) fn pinned_ellipse_roots(
    c: &[f64],
    beta: f64,
    lo: f64,
    hi: f64,
    ends: PinnedEnds,
    changes: bool,
    out: &mut Vec<f64>,
) {
    if !changes {
        return;
    }
    let mid = 0.5 * (lo + hi);
    let r = c[1].hypot(c[2]);
    let ratio = (beta - c[0]) / r;
    if ends.start == ends.end || !(r > 0.0 && ratio.abs() <= 1.0) {
        out.push(mid);
        return;
    }
    let circular = |t: f64, from: f64| {
        let d = (t - from).rem_euclid(std::f64::consts::TAU);
        d.min(std::f64::consts::TAU - d)
    };
    let pinned_at = if ends.start { lo } else { hi };
    let (phase, alpha) = (c[2].atan2(c[1]), ratio.acos());
    let [r1, r2] = [phase - alpha, phase + alpha].map(|t| t.rem_euclid(std::f64::consts::TAU) % std::f64::consts::TAU);
    let other = if circular(r1, pinned_at) >= circular(r2, pinned_at) {
        r1
    } else {
        r2
    };
    // Rounding can put it just outside the arc: then at the end it is nearer to.
    let inside = match other {
        t if (lo..=hi).contains(&t) => t,
        t if circular(t, lo) <= circular(t, hi) => lo,
        _ => hi,
    };
    out.push(inside);
}
