//! 2-D region maps (the paper's Figure 3): the plane through three training points, with
//! the triangle's vertices at distance 0.8 from the centre, sampled on a grid over
//! [−1, 1]²; a pixel is a boundary where a chosen layer's code differs from the pixel to
//! its right or below. The grid side, the layer and the plane are checked first.

use super::finite::NonFinite;
use super::trajectory::{TRIANGLE_ANGLES, check_spans_plane, plane_through};
use super::transitions::codes_on;
use crate::compute::{Compute, NetParams};
use crate::error::{OccamError, Result};
use crate::net::Activation;
use crate::net::Mlp;

/// Radius at which the three anchor points sit in the [−1, 1]² square.
pub const ANCHOR_RADIUS: f64 = 0.8;

#[derive(Debug, Clone, PartialEq)]
/// The region boundaries of one hidden layer on a square grid over a plane.
pub struct RegionMap {
    /// Grid side: the map has `side × side` pixels.
    pub side: usize,
    /// Row-major `side × side`, row 0 at the top (y = +1).
    pub boundary: Vec<bool>,
    /// The anchor points' plane coordinates.
    pub anchors: Vec<(f64, f64)>,
    /// Hidden layer (0-based) whose code is drawn.
    pub layer: usize,
    /// Number of distinct codes seen on the grid.
    pub regions: usize,
    /// Set when a pre-activation at a grid pixel was NaN or infinite (its `point` is the
    /// pixel's row-major index); the map is then incomplete and must not be reported.
    pub non_finite: Option<NonFinite>,
}

/// Checks a grid side against its range (`what` names it) and the memory a map of `net`
/// needs: the boundary mask and the distinct-code set grow as side², one row of codes and
/// pre-activations as side.
pub fn check_grid(what: &str, side: usize, net: &Mlp) -> Result<()> {
    super::ranges::grid(what, side)?;
    let code_width: f64 = net.hidden_dims().iter().sum::<usize>() as f64;
    let widest = net.dims().iter().copied().max().unwrap_or(0) as f64;
    let pixels = side as f64 * side as f64;
    let bytes = pixels * 25.0 + side as f64 * (code_width + 8.0 * widest) * 2.0;
    crate::limits::check_memory(&format!("a region map with {what} = {side}"), bytes)
}

/// Maps the regions of hidden layer `layer` (0-based) on the plane through `x`, on a
/// `side × side` grid. Only hidden layers 0 to `layer` are computed, so a layer above it
/// that overflows does not stop the map. Errors: `layer` not a hidden layer, `side` out
/// of range (or the map too large for memory), or points that span no plane.
pub fn region_map(net: &Mlp, compute: &Compute, x: [&[f32]; 3], layer: usize, side: usize) -> Result<RegionMap> {
    if layer + 1 >= net.depth() {
        return Err(OccamError::config(format!(
            "layer {} is not a hidden layer: the network has hidden layers 1 to {}",
            layer + 1,
            net.depth() - 1
        )));
    }
    check_grid("grid", side, net)?;
    check_spans_plane(x).map_err(OccamError::config)?;
    let (c, m1, m2) = plane_through(x, ANCHOR_RADIUS);
    let d = net.input_dim();
    let below = LayersUpTo::new(net, layer);
    let code_width: usize = net.hidden_dims()[..=layer].iter().sum();
    let offset: usize = net.hidden_dims()[..layer].iter().sum();
    let width = net.hidden_dims()[layer];
    let coord = |k: usize| -1.0 + 2.0 * (k as f64 + 0.5) / side as f64;
    // The chosen layer's codes along grid row r (row 0 at the top, y = +1).
    let row_codes = |r: usize| -> std::result::Result<Vec<u8>, NonFinite> {
        let y = -coord(r);
        let mut pts = vec![0.0f32; side * d];
        for (col, p) in pts.chunks_exact_mut(d).enumerate() {
            let xv = coord(col);
            for j in 0..d {
                p[j] = (c[j] as f64 + m1[j] as f64 * xv + m2[j] as f64 * y) as f32;
            }
        }
        let codes = codes_on(compute, &below, &pts, side).map_err(|bad| bad.at(r * side + bad.point))?;
        Ok(codes
            .chunks_exact(code_width)
            .flat_map(|row| row[offset..offset + width].to_vec())
            .collect())
    };
    let mut boundary = vec![false; side * side];
    let mut distinct = std::collections::HashSet::new();
    let mut previous: Option<Vec<u8>> = None;
    for r in 0..side {
        let row = match row_codes(r) {
            Ok(row) => row,
            Err(bad) => return Ok(RegionMap::unfinished(side, layer, bad)),
        };
        let code = |col: usize| &row[col * width..(col + 1) * width];
        for col in 0..side {
            distinct.insert(code_hash(code(col)));
            boundary[r * side + col] = col + 1 < side && code(col) != code(col + 1);
            if let Some(above) = &previous
                && &above[col * width..(col + 1) * width] != code(col)
            {
                boundary[(r - 1) * side + col] = true;
            }
        }
        previous = Some(row);
    }
    Ok(RegionMap {
        side,
        boundary,
        anchors: anchors(),
        layer,
        regions: distinct.len(),
        non_finite: None,
    })
}

/// Hidden layers 0 to `last` of a network (weights borrowed): all a map of layer `last`
/// computes, so layers above it can neither cost time nor overflow. Its last weight layer
/// stands in for the output layer, which codes never use.
struct LayersUpTo<'a> {
    net: &'a Mlp,
    dims: &'a [usize],
}

impl<'a> LayersUpTo<'a> {
    fn new(net: &'a Mlp, last: usize) -> LayersUpTo<'a> {
        LayersUpTo {
            net,
            dims: &net.dims()[..last + 3],
        }
    }
}

impl NetParams<Compute> for LayersUpTo<'_> {
    fn dims(&self) -> &[usize] {
        self.dims
    }
    fn activation(&self) -> Activation {
        self.net.activation()
    }
    fn weight(&self, l: usize) -> &[f32] {
        &self.net.weights()[l]
    }
    fn bias(&self, l: usize) -> Option<&[f32]> {
        self.net.bias(l)
    }
}

/// A 64-bit hash of a region code: distinct codes are counted by hash, so the set stays
/// at 8 bytes per pixel whatever the layer's width.
fn code_hash(code: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    code.hash(&mut h);
    h.finish()
}

fn anchors() -> Vec<(f64, f64)> {
    TRIANGLE_ANGLES
        .iter()
        .map(|t| (ANCHOR_RADIUS * t.cos(), ANCHOR_RADIUS * t.sin()))
        .collect()
}

impl RegionMap {
    /// A map abandoned at a non-finite pre-activation: no boundaries, no regions.
    fn unfinished(side: usize, layer: usize, bad: NonFinite) -> RegionMap {
        RegionMap {
            side,
            boundary: Vec::new(),
            anchors: anchors(),
            layer,
            regions: 0,
            non_finite: Some(bad),
        }
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
