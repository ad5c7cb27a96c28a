//! How one layer's coefficients change from one arc to the next in the rank-1 walk, as a
//! short list of rank-1 terms `δ ⊗ d` (δ: one number per basis function, d: one number per
//! neuron of the layer), and the walk along a block of arcs that applies them, starting from
//! an exact product (an "anchor").
//!
//! A term's direction is either a column of the layer's weights (a neuron of the layer just
//! below changed its linear piece: cheap) or a direction carried up from a lower layer (a
//! neuron of a lower layer changed its piece: the direction was multiplied through the
//! layers in between, one product row per term; see [`super::next_layer`]).

use super::first_non_finite;
use super::scratch::Buffer;
use super::sides::BlockSides;
use crate::compute::simd::widest;
use crate::measure::finite::NonFinite;

/// Where the direction `d` of a rank-1 term lives.
#[derive(Clone, Copy, Debug)]
pub(super) enum Direction {
    /// Column `i` of the layer's weights: row `i` of their transpose.
    Column(u32),
    /// Row `r` of the level's carried directions.
    Carried(u32),
}

/// One rank-1 term `δ ⊗ d` of a change of coefficients (δ in float64, exact: a difference
/// of slopes times a float32 coefficient, plus a difference of offsets).
#[derive(Clone, Copy, Debug)]
pub(super) struct Term {
    pub(super) delta: [f64; 3],
    pub(super) dir: Direction,
}

/// The changes of one level's coefficients between consecutive arcs of a range: arc a's
/// terms (the change from arc a−1 to arc a) are `terms[start[a]..start[a + 1]]`, none for
/// the first arc of a range.
#[derive(Default)]
pub(super) struct Changes {
    pub(super) terms: Vec<Term>,
    pub(super) start: Vec<u32>,
    /// The carried directions, one row of the level's width each.
    pub(super) carried: Buffer,
}

impl Changes {
    /// No change recorded on any of `arcs` arcs (each is the first of its range).
    pub(super) fn none(arcs: usize) -> Changes {
        Changes {
            terms: Vec::new(),
            start: vec![0; arcs + 1],
            carried: Buffer::default(),
        }
    }

    #[inline(always)]
    pub(super) fn of(&self, a: usize) -> &[Term] {
        &self.terms[self.start[a] as usize..self.start[a + 1] as usize]
    }

    /// The direction of `term`, `width` numbers: a row of `transposed` (the layer's
    /// weights, transposed) or of the carried directions.
    #[inline(always)]
    pub(super) fn direction<'a>(&'a self, term: &Term, transposed: &'a [f32], width: usize) -> &'a [f32] {
        let (rows, r) = match term.dir {
            Direction::Column(i) => (transposed, i as usize),
            Direction::Carried(r) => (&self.carried[..], r as usize),
        };
        &rows[r * width..(r + 1) * width]
    }
}

/// A block of consecutive arcs of one range: the first gets its exact coefficients
/// (`anchor`), each next one the previous one's plus its terms.
pub(super) struct Block<'a> {
    /// The first arc's index in the level.
    pub(super) first: usize,
    pub(super) anchor: &'a [f32],
    /// The level's changes from arc to arc.
    pub(super) changes: &'a Changes,
    /// The layer's weights transposed (`width` numbers per row, one row per input).
    pub(super) transposed: &'a [f32],
    /// The layer's width.
    pub(super) width: usize,
    /// The hidden layer (0-based), for errors.
    pub(super) layer: usize,
}

impl Block<'_> {
    /// Writes the block's arcs' coefficients into `out` (arc after arc, `nb × width` each),
    /// accumulating in float64 and rounding each arc's to float32 once, and each arc's
    /// start sides into `sides` when given; an error at the first NaN or infinite
    /// coefficient.
    pub(super) fn run(&self, out: &mut [f32], sides: Option<BlockSides>) -> Result<(), NonFinite> {
        #[cfg(target_arch = "x86_64")]
        if super::avx512::available() && (2..=3).contains(&(self.anchor.len() / self.width.max(1))) {
            // SAFETY: the CPU has AVX-512, checked just above (for both calls).
            let add = |acc: &mut [f64], delta, d: &[f32]| unsafe { super::avx512::add_term(acc, delta, d) };
            let round = |dst: &mut [f32], acc: &[f64]| unsafe { super::avx512::round_into(dst, acc) };
            return self.run_with(out, sides, add, round);
        }
        widest(
            #[inline(always)]
            || self.run_with(out, sides, add_term, round_into),
        )
    }

    /// [`Self::run`] with the update `add` and the rounding `round`.
    #[inline(always)]
    fn run_with(
        &self,
        out: &mut [f32],
        mut sides: Option<BlockSides>,
        add: impl Fn(&mut [f64], [f64; 3], &[f32]),
        round: impl Fn(&mut [f32], &[f64]) -> bool,
    ) -> Result<(), NonFinite> {
        let block = self.anchor.len();
        let mut acc: Vec<f64> = self.anchor.iter().map(|&v| v as f64).collect();
        for (j, dst) in out.chunks_exact_mut(block).enumerate() {
            if j > 0 {
                for term in self.changes.of(self.first + j) {
                    add(
                        &mut acc,
                        term.delta,
                        self.changes.direction(term, self.transposed, self.width),
                    );
                }
            }
            if !round(dst, &acc)
                && let Some(bad) = first_non_finite(dst, self.layer)
            {
                return Err(bad);
            }
            if let Some(sides) = sides.as_mut() {
                sides.write(j, dst);
            }
        }
        Ok(())
    }
}

/// `acc += δ ⊗ d` for the `acc.len() / d.len()` basis functions (2 or 3), one pass over
/// `d` for all of them (each `d[i]` read and widened once).
#[inline(always)]
pub(super) fn add_term(acc: &mut [f64], delta: [f64; 3], d: &[f32]) {
    let w = d.len();
    let (row0, rest) = acc.split_at_mut(w);
    let (row1, row2) = rest.split_at_mut(w);
    if row2.is_empty() {
        for ((a0, a1), &x) in row0.iter_mut().zip(row1.iter_mut()).zip(d) {
            let x = x as f64;
            *a0 += delta[0] * x;
            *a1 += delta[1] * x;
        }
    } else {
        for (((a0, a1), a2), &x) in row0.iter_mut().zip(row1.iter_mut()).zip(row2.iter_mut()).zip(d) {
            let x = x as f64;
            *a0 += delta[0] * x;
            *a1 += delta[1] * x;
            *a2 += delta[2] * x;
        }
    }
}

/// Rounds `acc` into `dst` (float32) and returns whether every value is finite (from the
/// exponent bits, in the same pass).
#[inline(always)]
pub(super) fn round_into(dst: &mut [f32], acc: &[f64]) -> bool {
    const EXPONENT: u32 = 0x7f80_0000;
    let mut all_ones = 0u32;
    for (d, &a) in dst.iter_mut().zip(acc) {
        let v = a as f32;
        all_ones |= ((v.to_bits() & EXPONENT) == EXPONENT) as u32;
        *d = v;
    }
    all_ones == 0
}
