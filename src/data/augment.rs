//! Data augmentation: random wrap-around translation, flips and ±90° rotations,
//! drawn afresh for every example of every batch.

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Which augmentations to apply. The paper's small experiment uses `translate = 4` and
/// `hflip`; its 2-D boundary network adds `vflip` and `rotate90`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Augmentation {
    /// Maximum shift in pixels, horizontally and vertically, with wrap-around.
    pub translate: usize,
    /// Mirror left-right with probability 1/2.
    pub hflip: bool,
    /// Mirror top-bottom with probability 1/2.
    pub vflip: bool,
    /// Rotate by +90°, −90° or not at all, each with probability 1/3 (square images only).
    pub rotate90: bool,
}

impl Augmentation {
    /// Whether it leaves every example unchanged (no augmentation).
    pub fn is_identity(&self) -> bool {
        *self == Augmentation::default()
    }

    /// The paper's standard augmentation: translation by up to 4 pixels and horizontal flips.
    pub fn standard() -> Self {
        Augmentation {
            translate: 4,
            hflip: true,
            ..Default::default()
        }
    }

    /// Writes an augmented copy of each `dim`-long row of `src` into `dst`. Images are
    /// `[h, w, c]` row-major. Pixel moves commute with per-example normalization, so this
    /// may run on normalized inputs.
    pub fn apply<R: rand::Rng>(&self, shape: [usize; 3], src: &[f32], dst: &mut [f32], rng: &mut R) {
        let [h, w, c] = shape;
        let dim = h * w * c;
        assert_eq!(src.len(), dst.len());
        for (s, d) in src.chunks_exact(dim).zip(dst.chunks_exact_mut(dim)) {
            let t = self.translate as i64;
            let (dy, dx) = if t > 0 {
                (rng.random_range(-t..=t), rng.random_range(-t..=t))
            } else {
                (0, 0)
            };
            let hflip = self.hflip && rng.random_bool(0.5);
            let vflip = self.vflip && rng.random_bool(0.5);
            let rot = if self.rotate90 && h == w {
                rng.random_range(0..3u8)
            } else {
                0
            };
            for y in 0..h {
                for x in 0..w {
                    // Undo, in reverse order, rotation, flips, then translation.
                    let (mut sy, mut sx) = match rot {
                        1 => (x, w - 1 - y), // output is the source rotated +90° (counter-clockwise)
                        2 => (h - 1 - x, y), // −90°
                        _ => (y, x),
                    };
                    if vflip {
                        sy = h - 1 - sy;
                    }
                    if hflip {
                        sx = w - 1 - sx;
                    }
                    let sy = (sy as i64 - dy).rem_euclid(h as i64) as usize;
                    let sx = (sx as i64 - dx).rem_euclid(w as i64) as usize;
                    let (o, i) = ((y * w + x) * c, (sy * w + sx) * c);
                    d[o..o + c].copy_from_slice(&s[i..i + c]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, rng_for};

    fn image(h: usize, w: usize) -> Vec<f32> {
        (0..h * w).map(|i| i as f32).collect()
    }

    #[test]
    fn translation_wraps_around_and_is_a_permutation() {
        let aug = Augmentation {
            translate: 2,
            ..Default::default()
        };
        let src = image(5, 4);
        let mut dst = vec![0.0; 20];
        let mut rng = rng_for(3, Stream::Augment);
        let mut shifts_seen = std::collections::HashSet::new();
        for _ in 0..200 {
            aug.apply([5, 4, 1], &src, &mut dst, &mut rng);
            let mut sorted = dst.clone();
            sorted.sort_by(f32::total_cmp);
            assert_eq!(sorted, src, "augmentation must permute pixels");
            // The pixel now at (0,0) came from (-dy mod 5, -dx mod 4); every other pixel
            // must follow the same cyclic shift.
            let origin = dst[0] as usize;
            let (oy, ox) = (origin / 4, origin % 4);
            for y in 0..5 {
                for x in 0..4 {
                    assert_eq!(dst[y * 4 + x] as usize, ((oy + y) % 5) * 4 + (ox + x) % 4);
                }
            }
            shifts_seen.insert((oy, ox));
        }
        // dy, dx each in -2..=2: all 5×4 wrapped offsets reachable for the 5-row axis,
        // and 4 for the 4-column axis (−2 ≡ +2).
        assert_eq!(shifts_seen.len(), 5 * 4);
    }

    #[test]
    fn flips_and_rotations_match_their_definitions() {
        let src = image(3, 3);
        let mut rng = rng_for(1, Stream::Augment);
        let mut seen = std::collections::HashSet::new();
        let aug = Augmentation {
            rotate90: true,
            hflip: true,
            vflip: true,
            translate: 0,
        };
        let rot_ccw = |v: &[f32]| -> Vec<f32> {
            let mut o = vec![0.0; 9];
            for y in 0..3 {
                for x in 0..3 {
                    o[y * 3 + x] = v[x * 3 + (2 - y)];
                }
            }
            o
        };
        let identity = src.clone();
        let r1 = rot_ccw(&identity);
        let r2 = rot_ccw(&rot_ccw(&r1));
        let mut dst = vec![0.0; 9];
        for _ in 0..400 {
            aug.apply([3, 3, 1], &src, &mut dst, &mut rng);
            seen.insert(dst.iter().map(|v| *v as u8).collect::<Vec<_>>());
        }
        // Rotations by 0, +90 and −90 combined with both flips give all 8 symmetries of
        // the square (the dihedral group), and nothing else.
        assert_eq!(seen.len(), 8);
        for img in [&identity, &r1, &r2] {
            assert!(seen.contains(&img.iter().map(|v| *v as u8).collect::<Vec<_>>()));
        }
        let hflipped: Vec<u8> = (0..9).map(|i| ((i / 3) * 3 + 2 - i % 3) as u8).collect();
        assert!(seen.contains(&hflipped));
    }

    #[test]
    fn channels_move_together() {
        let aug = Augmentation {
            translate: 1,
            hflip: true,
            ..Default::default()
        };
        let src: Vec<f32> = (0..2 * 2 * 3).map(|i| i as f32).collect();
        let mut dst = vec![0.0; 12];
        let mut rng = rng_for(9, Stream::Augment);
        for _ in 0..50 {
            aug.apply([2, 2, 3], &src, &mut dst, &mut rng);
            for px in dst.chunks_exact(3) {
                assert_eq!(px[0] as usize % 3, 0);
                assert_eq!(px[1], px[0] + 1.0);
                assert_eq!(px[2], px[0] + 2.0);
            }
        }
    }
}
