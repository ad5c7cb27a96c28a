//! Neurons that sit exactly on a breakpoint, which rounded coefficients cannot show, for
//! both exact walks.
//!
//! Relu, relu6 and hard_sigmoid have a flat piece whose value is 0 (below their lowest
//! breakpoint). A neuron of layer l whose inputs (those with a non-zero weight) are all on
//! that piece over an arc is the constant `b_j` there (its bias; 0 without biases): it is
//! "dead" on the arc. When `b_j` is itself a breakpoint — 0 for bias-free relu and relu6,
//! the common case — the neuron is on its breakpoint along the whole arc, and at a cut
//! where it comes alive its value is exactly the breakpoint too. More generally a neuron is
//! "pinned" at a cut when every such input is on the zero piece on one side of the cut or
//! the other, or touches zero there: its value at the cut is exactly `b_j`. Read from the
//! coefficients of the arc after the cut, that value is `b_j` plus rounding residue of
//! either sign, and a side read from it can count a crossing that does not happen (a
//! neuron that comes alive going down from 0) or miss one.
//!
//! So the patterns decide: dead neurons get exactly the coefficients `(b_j, 0, 0)` (the
//! GEMM walk computes those exactly anyway; the rank-1 walk's chained updates do not), and
//! at a pinned cut each side of the neuron is its one-sided limit — the sign of its
//! derivative along the trajectory leaving the cut (at a zero derivative, the curvature of
//! an ellipse arc). A crossing happens at the cut when the limits on its two sides differ;
//! a neuron that only touches its breakpoint there (the same side on both) does not cross,
//! as no code changes on any stretch of the trajectory. One that touches from above with
//! `φ(b_j) = 0` passes the exact zero on to the layer above (`touching`).

use crate::net::{Activation, Mlp};

/// Which side of a cut a one-sided limit is taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Side {
    /// Just before the cut (the end of the arc on its left).
    Before,
    /// Just after the cut (the start of the arc on its right).
    After,
}

/// The neurons of one layer pinned at one cut: the cut is the start of arc `arc` (for the
/// first arc of a closed range, its closing point).
#[derive(Clone, Debug, Default)]
pub(super) struct PinnedCut {
    pub(super) arc: usize,
    pub(super) neurons: Vec<u32>,
}

/// Neurons that touch a zero-valued breakpoint from above at a cut, passing an exact zero
/// on to the layer above; sorted by arc.
pub(super) type Touching = Vec<PinnedCut>;

/// The entry of `cuts` (sorted by arc) for the cut at the start of arc `arc`.
pub(super) fn at(cuts: &[PinnedCut], arc: usize) -> Option<&PinnedCut> {
    cuts.binary_search_by_key(&arc, |c| c.arc).ok().map(|k| &cuts[k])
}

/// What can be pinned in one hidden layer (≥ 2nd) of a network, and how to find it from
/// the activation patterns of the layer below.
pub(super) struct PinRule<'a> {
    act: Activation,
    /// Per neuron: the value it is pinned at (its bias) when that is a breakpoint and φ has
    /// a zero piece; NaN otherwise.
    pin: Vec<f32>,
    /// The layer's weights, row-major `w_out × w_in`.
    weights: &'a [f32],
    w_in: usize,
    /// Per neuron: how many of its weights are exactly zero.
    zeros: Vec<u32>,
    /// The largest of `zeros` over neurons that can be pinned.
    max_zeros: usize,
    /// Whether any neuron can be pinned (else every question is answered at once).
    any: bool,
}

impl<'a> PinRule<'a> {
    /// The rule for hidden layer `layer` (0-based; the first hidden layer has no pattern
    /// below it and gets an empty rule).
    pub(super) fn new(net: &'a Mlp, layer: usize) -> PinRule<'a> {
        let act = net.activation();
        let (w_in, w_out) = (net.dims()[layer], net.dims()[layer + 1]);
        let has_zero_piece = (0..=act.breakpoints().len() as u8).any(|c| act.linear_piece(c) == (0.0, 0.0));
        let breakpoint = |b: f32| act.breakpoints().contains(&b);
        let pin: Vec<f32> = (0..w_out)
            .map(|j| {
                let b = net.bias(layer).map_or(0.0, |b| b[j]);
                if layer > 0 && has_zero_piece && breakpoint(b) {
                    b
                } else {
                    f32::NAN
                }
            })
            .collect();
        let weights = &net.weights()[layer][..];
        let zeros: Vec<u32> = (weights.chunks_exact(w_in))
            .map(|row| row.iter().filter(|&&w| w == 0.0).count() as u32)
            .collect();
        let max_zeros = (zeros.iter().zip(&pin))
            .filter(|(_, p)| !p.is_nan())
            .map(|(&z, _)| z as usize)
            .max();
        PinRule {
            act,
            any: max_zeros.is_some(),
            max_zeros: max_zeros.unwrap_or(0),
            pin,
            weights,
            w_in,
            zeros,
        }
    }

    /// Whether any neuron of the layer can be pinned at all.
    pub(super) fn any(&self) -> bool {
        self.any
    }

    /// The value neuron `j` is pinned at (its bias).
    pub(super) fn value(&self, j: usize) -> f32 {
        self.pin[j]
    }

    fn zero_piece(&self, code: u8) -> bool {
        self.act.linear_piece(code) == (0.0, 0.0)
    }

    /// The neurons pinned at a cut between an arc with the layer below's pattern `before`
    /// and one with `after`, where the layer below's neurons `touching` (sorted) touch zero.
    pub(super) fn pinned(&self, before: &[u8], after: &[u8], touching: &[u32]) -> Vec<u32> {
        if !self.any {
            return Vec::new();
        }
        // The inputs whose value at the cut is not structurally zero.
        let live = |i: usize| {
            !self.zero_piece(before[i]) && !self.zero_piece(after[i]) && touching.binary_search(&(i as u32)).is_err()
        };
        let mut alive = Vec::new();
        for i in (0..self.w_in).filter(|&i| live(i)) {
            if alive.len() == self.max_zeros {
                return Vec::new();
            }
            alive.push(i);
        }
        (0..self.pin.len())
            .filter(|&j| !self.pin[j].is_nan() && self.zeros[j] as usize >= alive.len())
            .filter(|&j| alive.iter().all(|&i| self.weights[j * self.w_in + i] == 0.0))
            .map(|j| j as u32)
            .collect()
    }

    /// The neurons dead on an arc where the layer below has the pattern `codes`.
    pub(super) fn dead(&self, codes: &[u8]) -> Vec<u32> {
        self.pinned(codes, codes, &[])
    }

    /// Sets the coefficients (`nb × w`, basis function after basis function) of the
    /// `dead` neurons to exactly their constant value.
    pub(super) fn make_constant(&self, dead: &[u32], z: &mut [f32], nb: usize) {
        let w = self.pin.len();
        for &j in dead {
            let j = j as usize;
            z[j] = self.pin[j];
            (1..nb).for_each(|k| z[k * w + j] = 0.0);
        }
    }

    /// Whether φ maps the pinned value of neuron `j` to 0 (so that touching it from above
    /// passes an exact zero to the layer above).
    pub(super) fn passes_zero(&self, j: usize) -> bool {
        self.act.apply(self.pin[j]) == 0.0
    }
}

/// Whether neuron `j` (coefficients `z`, `nb × w`) is above breakpoint `beta` just before or
/// just after parameter `s`, where its value is exactly `value`: its value's side when
/// that is not `beta`, else the sign of its derivative leaving `s` on that side (at a zero
/// derivative, an ellipse arc's curvature `c₀ − β`; a constant is not above).
pub(super) fn above_near(z: &[f32], nb: usize, j: usize, s: f64, value: f32, beta: f32, side: Side) -> bool {
    if value != beta {
        return value > beta;
    }
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
pub(super) fn side_value(value: f32, above: bool) -> f64 {
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
    /// The stand-in values of the pinned `neurons` just before the cut (from the arc
    /// before it, at its parameter `s_before`) into `out`.
    pub(super) fn write_before(&self, neurons: &[u32], before: &[f32], out: &mut [f64]) {
        for &j in neurons {
            let v = self.rule.value(j as usize);
            out[j as usize] = side_value(
                v,
                above_near(before, self.nb, j as usize, self.s_before, v, v, Side::Before),
            );
        }
    }

    /// The stand-in values of the pinned `neurons` just after the cut into `out`.
    pub(super) fn write_after(&self, neurons: &[u32], after: &[f32], out: &mut [f64]) {
        for &j in neurons {
            let v = self.rule.value(j as usize);
            out[j as usize] = side_value(
                v,
                above_near(after, self.nb, j as usize, self.s_after, v, v, Side::After),
            );
        }
    }

    /// The crossings at the cut (one parameter value `s_after` each) and the neurons that
    /// touch zero from above there.
    pub(super) fn at_cut(&self, neurons: &[u32], before: &[f32], after: &[f32], crossings: &mut Vec<f64>) -> Vec<u32> {
        let mut touching = Vec::new();
        for &j in neurons {
            let (ju, v) = (j as usize, self.rule.value(j as usize));
            let left = above_near(before, self.nb, ju, self.s_before, v, v, Side::Before);
            let right = above_near(after, self.nb, ju, self.s_after, v, v, Side::After);
            if left != right {
                crossings.push(self.s_after);
            } else if left && self.rule.passes_zero(ju) {
                touching.push(j);
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
/// the count consistent with them.)
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
    let [r1, r2] = [phase - alpha, phase + alpha].map(|t| t.rem_euclid(std::f64::consts::TAU));
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
