//! Launch geometry of the CUDA kernels: every kernel of `kernels.cu` is a grid-stride loop
//! over 64-bit indices, so any grid covers any length; the grid is sized to cover short
//! lengths in one pass and capped for long ones.
#![cfg_attr(not(feature = "cuda"), allow(dead_code))]

/// Threads per block.
pub const BLOCK: u32 = 256;

/// The most blocks of one launch: enough to fill any current GPU many times over (a grid
/// may have up to 2³¹ − 1 blocks; the grid-stride loops cover the rest).
pub const MAX_BLOCKS: u32 = 1 << 16;

/// The number of blocks for `len` elements: enough for one element per thread up to
/// [`MAX_BLOCKS`], and at least one.
pub fn blocks_for(len: u64) -> u32 {
    len.div_ceil(BLOCK as u64).clamp(1, MAX_BLOCKS as u64) as u32
}

/// How many passes of the grid-stride loop the last thread makes for `len` elements.
pub fn passes(len: u64) -> u64 {
    len.div_ceil(blocks_for(len) as u64 * BLOCK as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_lengths_take_one_pass_and_long_ones_are_capped() {
        assert_eq!(blocks_for(0), 1);
        assert_eq!(blocks_for(1), 1);
        assert_eq!(blocks_for(256), 1);
        assert_eq!(blocks_for(257), 2);
        assert_eq!(passes(257), 1);
        let one_pass = MAX_BLOCKS as u64 * BLOCK as u64;
        assert_eq!((blocks_for(one_pass), passes(one_pass)), (MAX_BLOCKS, 1));
        assert_eq!((blocks_for(one_pass + 1), passes(one_pass + 1)), (MAX_BLOCKS, 2));
        // Lengths past u32 (a 2000-wide layer's Jacobian scratch can pass 2³²) still fit.
        let huge = 3u64 << 32;
        assert_eq!(blocks_for(huge), MAX_BLOCKS);
        assert!(passes(huge) * MAX_BLOCKS as u64 * BLOCK as u64 >= huge);
    }

    #[test]
    fn every_length_is_covered() {
        for len in [1u64, 2, 255, 256, 511, 1 << 20, (1 << 24) + 3, 1 << 40] {
            let threads = blocks_for(len) as u64 * BLOCK as u64;
            assert!(threads * passes(len) >= len, "{len}");
            assert!(threads * (passes(len) - 1) < len, "{len}: one pass too many");
        }
    }
}
