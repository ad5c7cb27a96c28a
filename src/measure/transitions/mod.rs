//! Linear-region transitions along closed trajectories: `t(x)` = the number of times any
//! hidden neuron crosses one of its breakpoints. A non-finite pre-activation (overflow)
//! stops the count and is reported in [`TransitionCount::non_finite`].
//!
//! **Exact** (piecewise-linear φ): on each piece of a trajectory the input is affine in a
//! basis — (1, t) for a segment, (1, cos θ, sin θ) for an ellipse — and inside a linear
//! region the network is affine, so every pre-activation there has the same form; a
//! layer's bias only adds to the coefficient of the constant basis function 1. Layer by
//! layer, the pieces are cut at every crossing of the layer's neurons (closed-form roots:
//! `t = (β − c)/u`, or `θ = φ ± arccos((β − c)/R)`), and each sub-piece ("arc") carries the
//! coefficients of the layer's pre-activations. Nothing is sampled and nothing is missed.
//!
//! Two walks compute the coefficients, with the same cuts and roots:
//! - `rank1` (the default, [`exact_transitions`]): consecutive arcs of a layer differ by a
//!   few rank-1 terms `δ ⊗ d` (one per neuron whose linear piece changes at the cut
//!   between them), so each arc's coefficients are the previous arc's plus those terms.
//!   A crossing of layer l−1 gives layer l a column of W_l as d (O(w) per arc); a crossing
//!   of a lower layer k gives every layer m ≥ k+2 a direction carried up through the
//!   layers, `d_m = W_m (slopes_{m−1} ⊙ d_{m−1})` (one product row per layer, batched).
//!   Re-anchoring rule (details in `rank1`): an exact product starts every block of at most
//!   `max(64, w_{l−1})` consecutive arcs of a range, and a block ends early before its
//!   carried terms would exceed 16, so the drift of the chained updates (float64 sums of
//!   exact column terms, and at most 16 carried directions each rounded like one row of the
//!   exact product) stays within about ten times the exact product's own float32 rounding,
//!   across parent arcs as within them.
//! - `gemm_walk` ([`exact_transitions_gemm`], the reference): one GEMM over all arcs
//!   per layer.
//!
//! **Sampled** (any φ, [`sampled_transitions`]): codes at k equidistant positions,
//! counting the code differences `Σ_j ‖c(z_j) − c(z_{j+1})‖₁` around the loop, as the
//! paper did (k = 2^20).
//!
//! Floating-point ties: coefficients are f32, so a crossing within ~1e-6 (relative) of a
//! cut made by another neuron, or a near-tangency of an ellipse, can be placed on the wrong
//! side of the cut. Crossing counts of a segment are decided from the sides of shared cut
//! points, so they are consistent across cuts; for ellipse arcs the number of roots is made
//! to agree with the side change between the arc's ends. Several neurons crossing at the
//! same point make one cut, and the arc after it carries all of their new linear pieces.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod chain;
mod codes;
mod gemm_walk;
mod next_layer;
mod pinned;
mod rank1;
mod roots;
mod sampled;
mod scratch;
mod sides;

pub use sampled::{codes_of, codes_on, sampled_transitions};

use super::finite::{NonFinite, Quantity};
use super::trajectory::Trajectory;
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

/// How the exact walk computes each layer's coefficients on each arc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExactWalk {
    /// Exact products on the first arc of each lower arc, rank-1 updates between them.
    Rank1,
    /// One GEMM over all arcs per layer (the reference).
    Gemm,
}

impl ExactWalk {
    /// The walk's name, as `occam bench transitions` prints it.
    pub fn name(self) -> &'static str {
        match self {
            ExactWalk::Rank1 => "rank1",
            ExactWalk::Gemm => "gemm",
        }
    }
}

/// The first NaN or infinite value of hidden layer `layer`'s (0-based) pre-activations.
fn first_non_finite(z: &[f32], layer: usize) -> Option<NonFinite> {
    // A branch-free test of every value first (the usual answer is "none").
    const EXPONENT: u32 = 0x7f80_0000;
    let any = (z.iter()).fold(0u32, |any, v| any | ((v.to_bits() & EXPONENT) == EXPONENT) as u32);
    if any == 0 {
        return None;
    }
    z.iter().find(|v| !v.is_finite()).map(|&v| NonFinite {
        point: 0,
        quantity: Quantity::PreActivation { layer: layer + 1 },
        value: v as f64,
    })
}

/// Rows of coefficients processed per GEMM in the exact walks.
const ARC_BLOCK: usize = 4096;

/// Hidden layer `layer`'s pre-activation coefficients into `z` from its input coefficients
/// `coef` (rows of `w_in`, `nb` rows per arc): `coef · Wᵀ`, in blocks of rows, plus the
/// bias on the constant basis function; the first non-finite value is an error.
fn layer_product(
    net: &Mlp,
    compute: &Compute,
    layer: usize,
    coef: &[f32],
    nb: usize,
    z: &mut [f32],
) -> Result<(), NonFinite> {
    let (w_in, w_out) = (net.dims()[layer], net.dims()[layer + 1]);
    let rows = coef.len() / w_in;
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
    match first_non_finite(z, layer) {
        Some(bad) => Err(bad),
        None => Ok(()),
    }
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
pub const COEF_BUDGET: usize = 1 << 28;

/// The budget of one trajectory's walk when several are walked at once, one per thread
/// (256 MiB each). It is the same at every thread count: where a walk splits its range
/// depends on the budget, and a near-tie at a split point can move a crossing, so a budget
/// shared out among threads would make counts depend on `--threads`.
pub const TRAJECTORY_BUDGET: usize = 1 << 26;

/// Counts transitions exactly with the rank-1 walk. Panics for tanh (not piecewise
/// linear).
pub fn exact_transitions(net: &Mlp, compute: &Compute, traj: &Trajectory, keep_positions: bool) -> TransitionCount {
    exact_transitions_by(net, compute, traj, keep_positions, ExactWalk::Rank1, COEF_BUDGET)
}

/// Counts transitions exactly with the reference GEMM walk (same counts as
/// [`exact_transitions`], more arithmetic). Panics for tanh.
pub fn exact_transitions_gemm(
    net: &Mlp,
    compute: &Compute,
    traj: &Trajectory,
    keep_positions: bool,
) -> TransitionCount {
    exact_transitions_by(net, compute, traj, keep_positions, ExactWalk::Gemm, COEF_BUDGET)
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
    exact_transitions_by(net, compute, traj, keep_positions, ExactWalk::Rank1, budget)
}

/// Crossings of one piece: (hidden layer, parameter value), or the first non-finite value.
type PieceCrossings = Result<Vec<(usize, f64)>, NonFinite>;

/// Counts transitions exactly with the chosen walk and memory budget (floats of arc
/// coefficients). The pieces are walked in parallel; the result does not depend on the
/// number of threads. Panics for tanh (not piecewise linear).
pub fn exact_transitions_by(
    net: &Mlp,
    compute: &Compute,
    traj: &Trajectory,
    keep_positions: bool,
    walk: ExactWalk,
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
    let per_piece: Vec<PieceCrossings> = match walk {
        // The whole walk on one worker of the pool: its many short parallel passes then
        // start there instead of each waking a worker from this thread and waiting.
        ExactWalk::Rank1 => match rayon::scope(|_| rank1::walk_trajectory(net, compute, traj, budget)) {
            Ok(per_piece) => per_piece.into_iter().map(Ok).collect(),
            Err(bad) => vec![Err(bad)],
        },
        ExactWalk::Gemm => (traj.pieces.par_iter())
            .map(|piece| {
                let walk_part = |lo: f64, hi: f64| gemm_walk::walk_piece(net, compute, piece, lo, hi, budget);
                walk_range(&walk_part, 0.0, piece.span())
            })
            .collect(),
    };
    for (k, crossings) in per_piece.into_iter().enumerate() {
        let crossings = match crossings {
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

/// The walk of one part `[lo, hi)` of a piece: its crossings, or `None` past the budget.
type PartWalk<'a> = dyn Fn(f64, f64) -> Result<Option<Vec<(usize, f64)>>, NonFinite> + Sync + 'a;

/// Every crossing on `[lo, hi)` of one piece, halving the range while `walk_part` says it
/// would exceed its memory budget (returns `None`).
fn walk_range(walk_part: &PartWalk, lo: f64, hi: f64) -> PieceCrossings {
    match walk_part(lo, hi)? {
        Some(c) => Ok(c),
        None => {
            let mid = 0.5 * (lo + hi);
            let mut c = walk_range(walk_part, lo, mid)?;
            c.extend(walk_range(walk_part, mid, hi)?);
            Ok(c)
        }
    }
}
