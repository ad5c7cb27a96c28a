//! 2-D region maps (the paper's Figure 3): the plane through three training points, with
//! the triangle's vertices at distance 0.8 from the centre, sampled on a grid over
//! [−1, 1]²; a pixel is a boundary where a chosen layer's code differs from the pixel to
//! its right or below.

use super::trajectory::{TRIANGLE_ANGLES, plane_through};
use super::transitions::codes_of;
use crate::compute::Compute;
use crate::net::Mlp;

/// Radius at which the three anchor points sit in the [−1, 1]² square.
pub const ANCHOR_RADIUS: f64 = 0.8;

#[derive(Debug, Clone, PartialEq)]
pub struct RegionMap {
    pub side: usize,
    /// Row-major `side × side`, row 0 at the top (y = +1).
    pub boundary: Vec<bool>,
    /// The anchor points' plane coordinates.
    pub anchors: Vec<(f64, f64)>,
    /// Hidden layer (0-based) whose code is drawn.
    pub layer: usize,
    /// Number of distinct codes seen on the grid.
    pub regions: usize,
}

/// Maps the regions of hidden layer `layer` (0-based) on the plane through `x`.
pub fn region_map(net: &Mlp, compute: &Compute, x: [&[f32]; 3], layer: usize, side: usize) -> RegionMap {
    assert!(layer + 1 < net.depth(), "layer {layer} is not a hidden layer");
    assert!(side >= 2);
    let (c, m1, m2) = plane_through(x, ANCHOR_RADIUS);
    let d = net.input_dim();
    let code_width: usize = net.hidden_dims().iter().sum();
    let offset: usize = net.hidden_dims()[..layer].iter().sum();
    let width = net.hidden_dims()[layer];
    let coord = |k: usize| -1.0 + 2.0 * (k as f64 + 0.5) / side as f64;
    let mut rows: Vec<Vec<u8>> = Vec::with_capacity(side);
    for r in 0..side {
        let y = -coord(r);
        let mut pts = vec![0.0f32; side * d];
        for (col, p) in pts.chunks_exact_mut(d).enumerate() {
            let xv = coord(col);
            for j in 0..d {
                p[j] = (c[j] as f64 + m1[j] as f64 * xv + m2[j] as f64 * y) as f32;
            }
        }
        let codes = codes_of(net, compute, &pts, side);
        rows.push(
            codes
                .chunks_exact(code_width)
                .flat_map(|row| row[offset..offset + width].to_vec())
                .collect(),
        );
    }
    let mut boundary = vec![false; side * side];
    let mut distinct = std::collections::HashSet::new();
    for r in 0..side {
        for col in 0..side {
            let here = &rows[r][col * width..(col + 1) * width];
            distinct.insert(here.to_vec());
            let right = col + 1 < side && here != &rows[r][(col + 1) * width..(col + 2) * width];
            let below = r + 1 < side && here != &rows[r + 1][col * width..(col + 1) * width];
            boundary[r * side + col] = right || below;
        }
    }
    RegionMap {
        side,
        boundary,
        anchors: TRIANGLE_ANGLES
            .iter()
            .map(|t| (ANCHOR_RADIUS * t.cos(), ANCHOR_RADIUS * t.sin()))
            .collect(),
        layer,
        regions: distinct.len(),
    }
}

/// The fraction of boundary pixels within `radius` (plane units) of any anchor, and over
/// the whole map: how densely region boundaries pack around the training points.
pub fn boundary_density_near(boundary: &[bool], side: usize, anchors: &[(f64, f64)], radius: f64) -> (f64, f64) {
    let coord = |k: usize| -1.0 + 2.0 * (k as f64 + 0.5) / side as f64;
    let (mut near, mut near_b) = (0usize, 0usize);
    for r in 0..side {
        for c in 0..side {
            let (x, y) = (coord(c), -coord(r));
            if anchors.iter().any(|&(ax, ay)| (x - ax).hypot(y - ay) <= radius) {
                near += 1;
                near_b += boundary[r * side + c] as usize;
            }
        }
    }
    let all = boundary.iter().filter(|&&b| b).count() as f64 / boundary.len().max(1) as f64;
    (near_b as f64 / near.max(1) as f64, all)
}
