//! The weight matrices transposed, for readers that need a column of W as one contiguous
//! row (the exact transition walk's rank-1 updates): each computed on first use and kept
//! with the network until its parameters may change.

use std::sync::OnceLock;

/// One slot per weight matrix, filled on first use. A clone starts empty, and two
/// networks compare equal whatever their caches hold: it is a copy of the weights, not
/// part of the network.
#[derive(Default)]
pub(super) struct TransposedWeights(OnceLock<Box<[OnceLock<Vec<f32>>]>>);

impl TransposedWeights {
    /// `weights` (row-major `rows × cols`, matrix `l` of `layers`) transposed: row-major
    /// `cols × rows`.
    pub(super) fn get(&self, l: usize, layers: usize, weights: &[f32], rows: usize, cols: usize) -> &[f32] {
        let slots = self.0.get_or_init(|| (0..layers).map(|_| OnceLock::new()).collect());
        slots[l].get_or_init(|| transpose(weights, rows, cols))
    }
}

impl Clone for TransposedWeights {
    fn clone(&self) -> Self {
        TransposedWeights::default()
    }
}

impl PartialEq for TransposedWeights {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for TransposedWeights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TransposedWeights")
    }
}

/// `w` (row-major `rows × cols`) transposed, in tiles that stay in cache.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut t = vec![0.0; rows * cols];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    t[c * rows + r] = w[r * cols + c];
                }
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_every_entry_and_keeps_the_result() {
        let (rows, cols) = (37, 70);
        let w: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let cache = TransposedWeights::default();
        let t = cache.get(1, 2, &w, rows, cols);
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(t[c * rows + r], w[r * cols + c], "({r}, {c})");
            }
        }
        let again = cache.get(1, 2, &w, rows, cols);
        assert_eq!(again.as_ptr(), t.as_ptr(), "computed once");
        assert_eq!(cache.clone().0.get(), None, "a clone starts empty");
    }

    #[test]
    fn a_network_recomputes_its_transpose_after_its_weights_change() {
        use crate::net::{Activation, Mlp};
        let mut net = Mlp::random([2, 3, 1], 5, 3, 4, Activation::Relu, 1.0, 7);
        let before = net.weights_transposed(1).to_vec();
        // W_1 is 5 × 5: its entry (0, 2) is the third number, and row 2 of W_1ᵀ holds column 2.
        assert_eq!(before[2 * 5], net.weights()[1][2], "W_1ᵀ(2, 0) = W_1(0, 2)");
        assert_ne!(before[2 * 5], 42.0);
        net.params_mut()[1][2] = 42.0;
        assert_eq!(
            net.weights_transposed(1)[2 * 5],
            42.0,
            "the new weight, not the kept copy"
        );
        assert_eq!(net.clone(), net, "the cache takes no part in equality");
    }
}
