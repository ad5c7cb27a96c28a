//! Closed trajectories through input space: the horizontal-translation loop of an image,
//! random zero-centred ellipses, and ellipses through three data points (which must span
//! a plane).

use crate::data::Dataset;
use crate::error::{OccamError, Result};
use crate::rng::{Stream, rng_for_item};
use rand::RngExt;
use rand_distr::StandardNormal;
use std::f64::consts::TAU;

/// One smooth piece of a trajectory, affine in its basis functions.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// `z(t) = start + t·(end − start)`, t ∈ [0, 1].
    Segment {
        /// The point at t = 0.
        start: Vec<f32>,
        /// The point at t = 1.
        end: Vec<f32>,
    },
    /// `z(θ) = center + a·cos θ + b·sin θ`, θ ∈ [0, 2π).
    Ellipse {
        /// The centre.
        center: Vec<f32>,
        /// The axis multiplied by cos θ.
        a: Vec<f32>,
        /// The axis multiplied by sin θ.
        b: Vec<f32>,
    },
}

impl Piece {
    /// The parameter range of the piece.
    pub fn span(&self) -> f64 {
        match self {
            Piece::Segment { .. } => 1.0,
            Piece::Ellipse { .. } => TAU,
        }
    }
    /// Coefficient vectors of the basis: segment (1, t), ellipse (1, cos θ, sin θ).
    pub fn coefficients(&self) -> Vec<Vec<f32>> {
        match self {
            Piece::Segment { start, end } => vec![start.clone(), end.iter().zip(start).map(|(e, s)| e - s).collect()],
            Piece::Ellipse { center, a, b } => vec![center.clone(), a.clone(), b.clone()],
        }
    }
    /// The basis functions' values at parameter `s`: segment (1, t, 0), ellipse
    /// (1, cos θ, sin θ); only the first [`Self::basis_len`] entries are meaningful.
    pub fn basis(&self, s: f64) -> [f64; 3] {
        match self {
            Piece::Segment { .. } => [1.0, s, 0.0],
            Piece::Ellipse { .. } => [1.0, s.cos(), s.sin()],
        }
    }
    /// The number of basis functions (and coefficient vectors).
    pub fn basis_len(&self) -> usize {
        match self {
            Piece::Segment { .. } => 2,
            Piece::Ellipse { .. } => 3,
        }
    }
    /// The point at parameter `s`.
    pub fn point(&self, s: f64) -> Vec<f32> {
        let mut out = vec![0.0; self.dim()];
        self.write_point(s, &mut out);
        out
    }
    /// The dimension of the input space it lies in.
    pub fn dim(&self) -> usize {
        match self {
            Piece::Segment { start, .. } => start.len(),
            Piece::Ellipse { center, .. } => center.len(),
        }
    }
    /// Writes the point at parameter `s` into `out` (no allocation: dense sampling calls
    /// this a million times per trajectory).
    pub fn write_point(&self, s: f64, out: &mut [f32]) {
        match self {
            Piece::Segment { start, end } => {
                for ((o, &a), &b) in out.iter_mut().zip(start).zip(end) {
                    *o = (a as f64 + s * (b as f64 - a as f64)) as f32;
                }
            }
            Piece::Ellipse { center, a, b } => {
                let (c, sn) = (s.cos(), s.sin());
                for (((o, &m), &u), &v) in out.iter_mut().zip(center).zip(a).zip(b) {
                    *o = (m as f64 + u as f64 * c + v as f64 * sn) as f32;
                }
            }
        }
    }
}

/// A closed path, made of pieces traversed in order; position ∈ [0, 1) runs along it with
/// each piece taking an equal share. `anchors` are positions of the data points it passes
/// through (empty for random ellipses).
#[derive(Debug, Clone, PartialEq)]
pub struct Trajectory {
    /// The pieces, in order around the loop.
    pub pieces: Vec<Piece>,
    /// Positions in [0, 1) of the data points it passes through.
    pub anchors: Vec<f64>,
}

impl Trajectory {
    /// The position in [0, 1) of parameter `s` on piece `k`.
    pub fn position(&self, k: usize, s: f64) -> f64 {
        (k as f64 + s / self.pieces[k].span()) / self.pieces.len() as f64
    }
    /// The point at `position` ∈ [0, 1).
    pub fn point_at(&self, position: f64) -> Vec<f32> {
        let mut out = vec![0.0; self.pieces[0].dim()];
        self.write_point_at(position, &mut out);
        out
    }
    /// Writes the point at `position` ∈ [0, 1) into `out`.
    pub fn write_point_at(&self, position: f64, out: &mut [f32]) {
        let scaled = position.rem_euclid(1.0) * self.pieces.len() as f64;
        let k = (scaled.floor() as usize).min(self.pieces.len() - 1);
        let piece = &self.pieces[k];
        piece.write_point((scaled - k as f64) * piece.span(), out);
    }
}

/// Which family of trajectories to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum TrajectoryKind {
    /// The image shifted horizontally by s ∈ [0, W) pixels with wrap-around.
    Translate,
    /// `a cos θ + b sin θ` with a, b ~ N(0, I).
    RandomEllipse,
    /// Through three training points of one class.
    SameClassEllipse,
    /// Through three training points of three different classes.
    DifferentClassEllipse,
}

impl TrajectoryKind {
    /// The kind's name, as on the command line and in sweep specs.
    pub fn name(self) -> &'static str {
        match self {
            TrajectoryKind::Translate => "translate",
            TrajectoryKind::RandomEllipse => "random-ellipse",
            TrajectoryKind::SameClassEllipse => "same-class-ellipse",
            TrajectoryKind::DifferentClassEllipse => "different-class-ellipse",
        }
    }
}

/// The closed translation loop of an `[h, w, c]` image: W vertices (shift 0 … W−1 pixels
/// to the right, wrapping around) joined by straight segments, the last back to the first.
///
/// An error when the shape has a zero, does not hold exactly `image.len()` values, or is
/// less than 2 pixels wide (nothing to translate).
pub fn translation(image: &[f32], shape: [usize; 3]) -> Result<Trajectory> {
    let [h, w, c] = shape;
    let holds = h.saturating_mul(w).saturating_mul(c);
    if shape.contains(&0) || holds != image.len() {
        return Err(OccamError::config(format!(
            "a translation loop: input shape {h},{w},{c} holds {holds} values but the image has {}: \
             height × width × channels must equal the image's size, each at least 1",
            image.len()
        )));
    }
    if w < 2 {
        return Err(OccamError::config(format!(
            "a translation loop: input shape {h},{w},{c} is {w} pixel wide, which leaves nothing \
             to translate: the width must be at least 2"
        )));
    }
    let shifted = |s: usize| -> Vec<f32> {
        let mut out = vec![0.0; image.len()];
        for y in 0..h {
            for x in 0..w {
                let src = (y * w + (x + w - s) % w) * c;
                out[(y * w + x) * c..(y * w + x + 1) * c].copy_from_slice(&image[src..src + c]);
            }
        }
        out
    };
    let vertices: Vec<Vec<f32>> = (0..w).map(shifted).collect();
    let pieces = (0..w)
        .map(|s| Piece::Segment {
            start: vertices[s].clone(),
            end: vertices[(s + 1) % w].clone(),
        })
        .collect();
    Ok(Trajectory {
        pieces,
        anchors: vec![0.0],
    })
}

/// A zero-centred ellipse with a, b ~ N(0, I_d), drawn from `(seed, index)`.
/// An error for a dimension of 0 or one whose vectors do not fit in memory.
pub fn random_ellipse(dim: usize, seed: u64, index: u64) -> Result<Trajectory> {
    crate::limits::in_range("a random ellipse's dimension", dim, 1, 1 << 40)?;
    crate::limits::check_memory(&format!("a random ellipse in {dim} dimensions"), 12.0 * dim as f64)?;
    let mut rng = rng_for_item(seed, Stream::Trajectory, 2 * index);
    let mut draw = || {
        (0..dim)
            .map(|_| rng.sample::<f64, _>(StandardNormal) as f32)
            .collect::<Vec<f32>>()
    };
    let (a, b) = (draw(), draw());
    Ok(Trajectory {
        pieces: vec![Piece::Ellipse {
            center: vec![0.0; dim],
            a,
            b,
        }],
        anchors: vec![],
    })
}

/// Angles of the equilateral triangle's vertices on the unit circle.
pub const TRIANGLE_ANGLES: [f64; 3] = [TAU / 4.0, TAU / 4.0 + TAU / 3.0, TAU / 4.0 + 2.0 * TAU / 3.0];

/// The affine plane `A(u) = c + M u` with `A(p_i) = x_i`, where p_i are the vertices of an
/// equilateral triangle of circumradius `radius` centred at the origin. Returns (c, m₁, m₂)
/// (M's columns). Since Σp_i = 0 and c is the centroid, two vertices determine M.
pub fn plane_through(x: [&[f32]; 3], radius: f64) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let d = x[0].len();
    let c: Vec<f64> = (0..d)
        .map(|j| (x[0][j] as f64 + x[1][j] as f64 + x[2][j] as f64) / 3.0)
        .collect();
    let p: Vec<(f64, f64)> = TRIANGLE_ANGLES
        .iter()
        .map(|t| (radius * t.cos(), radius * t.sin()))
        .collect();
    // Solve M [p0 p1] = [x0 − c, x1 − c] with the 2×2 inverse.
    let det = p[0].0 * p[1].1 - p[1].0 * p[0].1;
    let inv = [[p[1].1 / det, -p[1].0 / det], [-p[0].1 / det, p[0].0 / det]];
    let mut m1 = vec![0.0f32; d];
    let mut m2 = vec![0.0f32; d];
    for j in 0..d {
        let (r0, r1) = (x[0][j] as f64 - c[j], x[1][j] as f64 - c[j]);
        m1[j] = (r0 * inv[0][0] + r1 * inv[1][0]) as f32;
        m2[j] = (r0 * inv[0][1] + r1 * inv[1][1]) as f32;
    }
    (c.iter().map(|&v| v as f32).collect(), m1, m2)
}

/// Fails unless the three points span a plane: no two identical and not all on one line
/// (the plane through them, and the ellipse, would be degenerate).
pub fn check_spans_plane(x: [&[f32]; 3]) -> std::result::Result<(), String> {
    let diff = |a: &[f32], b: &[f32]| -> Vec<f64> { a.iter().zip(b).map(|(p, q)| *p as f64 - *q as f64).collect() };
    let (u, v) = (diff(x[1], x[0]), diff(x[2], x[0]));
    let dot = |a: &[f64], b: &[f64]| -> f64 { a.iter().zip(b).map(|(p, q)| p * q).sum() };
    let (uu, vv, uv) = (dot(&u, &u), dot(&v, &v), dot(&u, &v));
    let w = diff(x[2], x[1]);
    if uu == 0.0 || vv == 0.0 || dot(&w, &w) == 0.0 {
        return Err("two of the three points are identical, so they span no plane".into());
    }
    // Gram determinant relative to its scale: 0 when u and v are parallel.
    if uu * vv - uv * uv <= 1e-9 * uu * vv {
        return Err("the three points lie on one line, so they span no plane".into());
    }
    Ok(())
}

/// The ellipse through three data points: the image of the triangle's circumcircle.
/// Anchor positions are where it passes through x₁, x₂, x₃.
///
/// An error when the three points differ in size. Points that do not span a plane give a
/// flat ellipse (sweeps draw their triples at random and keep counting along it); see
/// [`check_spans_plane`] to refuse them.
pub fn data_ellipse(x: [&[f32]; 3]) -> Result<Trajectory> {
    let sizes = x.map(<[f32]>::len);
    if sizes[1] != sizes[0] || sizes[2] != sizes[0] {
        return Err(OccamError::config(format!(
            "an ellipse through three points: their sizes {}, {} and {} differ; the three points must have the same size",
            sizes[0], sizes[1], sizes[2]
        )));
    }
    let (center, a, b) = plane_through(x, 1.0);
    Ok(Trajectory {
        pieces: vec![Piece::Ellipse { center, a, b }],
        anchors: TRIANGLE_ANGLES.iter().map(|t| t / TAU).collect(),
    })
}

/// Picks three training points for the `index`-th data ellipse, seeded: one class for
/// all three, or three different classes. Returns their indices in `data`; an error when
/// `data` has no class with three examples (same class) or fewer than three classes.
pub fn pick_triplet(data: &Dataset, same_class: bool, seed: u64, index: u64) -> Result<[usize; 3]> {
    let mut rng = rng_for_item(seed, Stream::Trajectory, 2 * index + 1);
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); data.classes];
    for (i, &l) in data.labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let usable: Vec<usize> = (0..data.classes)
        .filter(|&c| by_class[c].len() >= if same_class { 3 } else { 1 })
        .collect();
    let enough = if same_class {
        !usable.is_empty()
    } else {
        usable.len() >= 3
    };
    if !enough {
        return Err(OccamError::config(format!(
            "the training split ({} examples) has {}, so no triplet of {} can be picked",
            data.len(),
            if same_class {
                "no class with three examples"
            } else {
                "examples of fewer than three classes"
            },
            if same_class {
                "one class"
            } else {
                "three different classes"
            }
        )));
    }
    let pick_from = |rng: &mut rand_chacha::ChaCha8Rng, class: usize, taken: &[usize]| loop {
        let i = by_class[class][rng.random_range(0..by_class[class].len())];
        if !taken.contains(&i) {
            return i;
        }
    };
    if same_class {
        let c = usable[rng.random_range(0..usable.len())];
        let a = pick_from(&mut rng, c, &[]);
        let b = pick_from(&mut rng, c, &[a]);
        let d = pick_from(&mut rng, c, &[a, b]);
        Ok([a, b, d])
    } else {
        let mut classes = Vec::new();
        while classes.len() < 3 {
            let c = usable[rng.random_range(0..usable.len())];
            if !classes.contains(&c) {
                classes.push(c);
            }
        }
        Ok([
            pick_from(&mut rng, classes[0], &[]),
            pick_from(&mut rng, classes[1], &[]),
            pick_from(&mut rng, classes[2], &[]),
        ])
    }
}

/// The `index`-th trajectory of `kind`: the translation loop of `points`' example `index`,
/// the `index`-th random ellipse, or an ellipse through three examples of `train` (seeded).
/// Callers keep `index < points.len()` for `translate`.
pub fn build(kind: TrajectoryKind, points: &Dataset, train: &Dataset, index: usize, seed: u64) -> Result<Trajectory> {
    match kind {
        TrajectoryKind::Translate => translation(points.input(index), points.shape),
        TrajectoryKind::RandomEllipse => random_ellipse(points.dim(), seed, index as u64),
        TrajectoryKind::SameClassEllipse | TrajectoryKind::DifferentClassEllipse => {
            let same = kind == TrajectoryKind::SameClassEllipse;
            let [a, b, c] = pick_triplet(train, same, seed, index as u64)?;
            data_ellipse([train.input(a), train.input(b), train.input(c)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_ellipse_passes_through_its_three_points() {
        let x0 = [1.0f32, 0.0, 2.0, -1.0];
        let x1 = [0.0f32, 3.0, 1.0, 1.0];
        let x2 = [-2.0f32, 1.0, 0.5, 4.0];
        let t = data_ellipse([&x0, &x1, &x2]).unwrap();
        for (anchor, want) in t.anchors.iter().zip([x0, x1, x2]) {
            let got = t.point_at(*anchor);
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-5, "{got:?} vs {want:?}");
            }
        }
    }

    #[test]
    fn translation_loop_is_closed_and_shifts_by_one_pixel_per_piece() {
        let img: Vec<f32> = (0..2 * 3).map(|i| i as f32).collect();
        let t = translation(&img, [2, 3, 1]).unwrap();
        assert_eq!(t.pieces.len(), 3);
        assert_eq!(t.point_at(0.0), img);
        assert_eq!(t.point_at(1.0 / 3.0), vec![2.0, 0.0, 1.0, 5.0, 3.0, 4.0]);
        let Piece::Segment { end, .. } = &t.pieces[2] else {
            panic!()
        };
        assert_eq!(end, &img, "the last segment returns to the start");
    }

    #[test]
    fn degenerate_planes_are_refused() {
        let (a, b) = ([1.0f32, 0.0, 0.0], [0.0f32, 1.0, 0.0]);
        assert!(check_spans_plane([&a, &b, &[0.0, 0.0, 1.0]]).is_ok());
        assert!(check_spans_plane([&a, &a, &b]).unwrap_err().contains("identical"));
        assert!(check_spans_plane([&a, &b, &a]).unwrap_err().contains("identical"));
        assert!(
            check_spans_plane([&a, &b, &[2.0, -1.0, 0.0]])
                .unwrap_err()
                .contains("one line")
        );
    }

    #[test]
    fn a_triplet_that_cannot_be_picked_is_an_error() {
        let data = Dataset {
            inputs: vec![0.0, 1.0, 2.0, 3.0],
            labels: vec![0, 1, 1, 0],
            shape: [1, 1, 1],
            classes: 2,
        };
        let e = pick_triplet(&data, false, 1, 0).unwrap_err().to_string();
        assert!(e.contains("fewer than three classes"), "{e}");
        let e = pick_triplet(&data, true, 1, 0).unwrap_err().to_string();
        assert!(e.contains("no class with three examples"), "{e}");
    }

    #[test]
    fn random_ellipses_are_seeded_per_index() {
        assert_eq!(random_ellipse(5, 1, 3).unwrap(), random_ellipse(5, 1, 3).unwrap());
        assert_ne!(random_ellipse(5, 1, 3).unwrap(), random_ellipse(5, 1, 4).unwrap());
        assert_ne!(random_ellipse(5, 2, 3).unwrap(), random_ellipse(5, 1, 3).unwrap());
    }
}
