//! Seeded randomness: one integer seed fixes every random choice, each purpose on its own stream.

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

/// The independent random streams derived from one seed. Each purpose gets its own ChaCha8
/// stream, so changing how many numbers one purpose draws never shifts another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Init = 1,
    Shuffle = 2,
    Augment = 3,
    RandomLabels = 4,
    Trajectory = 5,
    Sweep = 6,
}

/// A portable, reproducible generator for `(seed, stream)`; ChaCha8's output is fixed by
/// its specification, so the same seed gives the same numbers on every machine.
pub fn rng_for(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// A generator for item `index` of a purpose (the i-th trajectory, the i-th trial, …):
/// its own ChaCha8 stream, so items never share or overlap random numbers.
pub fn rng_for_item(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    assert!(index < 1 << 48, "item index too large");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((stream as u64) << 48) | index);
    rng
}
