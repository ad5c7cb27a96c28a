//! Exact 2-D region maps for piecewise-linear activations: the square [−1, 1]² of a
//! plane's coordinates (the same square as the raster map of [`super::regions`]) cut,
//! layer by layer, into the convex polygons on which every hidden layer up to a chosen
//! one is affine.
//!
//! The input is affine in the plane coordinates (u, v): `x = o + u·e₁ + v·e₂`. On a convex
//! polygon where the layers below are affine, every pre-activation of the next layer is
//! `a + b·u + c·v`; each breakpoint β of φ gives the line `a + b·u + c·v = β`, which cuts
//! the polygon into at most two convex pieces. After all the layer's lines, each piece's
//! activation pattern fixes φ's linear piece per neuron, and so the next layer's affine
//! coefficients. All geometry and coefficients are f64; nothing is sampled.
//!
//! The walk is depth-first (one polygon's descendants at a time, in parallel over
//! polygons), so memory holds the finished polygons and one path of coefficients per
//! thread. The number of regions is capped ([`ExactRequest::max_regions`]): past it the
//! map is refused with an error, never cut short.

mod coefficients;
pub mod geometry;
mod walk;

pub use coefficients::CoefficientPath;

use super::finite::NonFinite;
use super::regions::ANCHOR_RADIUS;
use super::trajectory::{TRIANGLE_ANGLES, check_spans_plane, plane_through};
use crate::error::{OccamError, Result};
use crate::net::Mlp;
use geometry::Point;

/// The affine plane `x(u, v) = origin + u·along_u + v·along_v` through input space.
#[derive(Debug, Clone, PartialEq)]
pub struct PlaneCoordinates {
    /// The input at (0, 0).
    pub origin: Vec<f64>,
    /// The input direction of the u axis.
    pub along_u: Vec<f64>,
    /// The input direction of the v axis.
    pub along_v: Vec<f64>,
    /// Plane coordinates of the training points it was built through (empty for a
    /// random plane).
    pub anchors: Vec<Point>,
}

impl PlaneCoordinates {
    /// The plane of the raster map: through three points, which sit on the circle of
    /// radius 0.8 around the origin. An error when they span no plane.
    pub fn through(x: [&[f32]; 3]) -> Result<PlaneCoordinates> {
        check_spans_plane(x).map_err(OccamError::config)?;
        let (c, m1, m2) = plane_through(x, ANCHOR_RADIUS);
        let wide = |v: Vec<f32>| v.into_iter().map(f64::from).collect();
        Ok(PlaneCoordinates {
            origin: wide(c),
            along_u: wide(m1),
            along_v: wide(m2),
            anchors: TRIANGLE_ANGLES
                .iter()
                .map(|t| (ANCHOR_RADIUS * t.cos(), ANCHOR_RADIUS * t.sin()))
                .collect(),
        })
    }

    /// A random plane through the origin: its axes are the two vectors of the random
    /// ellipse of index 0 of `seed` (a, b ~ N(0, I)), so that ellipse is the unit circle
    /// of the map.
    pub fn random(dim: usize, seed: u64) -> Result<PlaneCoordinates> {
        let ellipse = super::trajectory::random_ellipse(dim, seed, 0)?;
        let super::trajectory::Piece::Ellipse { center, a, b } = &ellipse.pieces[0] else {
            unreachable!("a random ellipse is one ellipse piece")
        };
        let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect();
        Ok(PlaneCoordinates {
            origin: wide(center),
            along_u: wide(a),
            along_v: wide(b),
            anchors: Vec::new(),
        })
    }

    /// The input at plane coordinates `p`.
    pub fn point(&self, p: Point) -> Vec<f64> {
        (0..self.origin.len())
            .map(|j| self.origin[j] + p.0 * self.along_u[j] + p.1 * self.along_v[j])
            .collect()
    }
}

/// What to map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExactRequest {
    /// Hidden layer, 0-based: the map is the partition by the activation patterns of
    /// hidden layers 0 to `layer`.
    pub layer: usize,
    /// The most regions the map may have (at any layer); more is an error.
    pub max_regions: usize,
}

/// The smallest and largest region cap.
pub const MAX_REGIONS_RANGE: (usize, usize) = (1, 50_000_000);

/// Bytes one finished region takes, for the memory check (vertices, hashes, overhead).
const REGION_BYTES: f64 = 256.0;

/// One convex linear region.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactRegion {
    /// The vertices, counter-clockwise, in plane coordinates.
    pub vertices: Vec<Point>,
    /// [`code_hash`] of the activation pattern of hidden layers 0 to `layer` (the
    /// bytes [`super::transitions::codes_of`] gives, layer after layer).
    pub code_hash: u64,
    /// [`code_hash`] of hidden layer `layer`'s own pattern (what the raster map compares).
    pub layer_code_hash: u64,
}

/// The exact partition of the square [−1, 1]² of a plane.
#[derive(Debug, Clone, PartialEq)]
pub struct ExactRegionMap {
    /// Hidden layer (0-based) the partition goes up to.
    pub layer: usize,
    /// The regions of the partition after hidden layers 0 to `layer`.
    pub regions: Vec<ExactRegion>,
    /// Entry k: the number of regions after hidden layers 0 to k (k = 0 … `layer`).
    pub per_layer: Vec<usize>,
    /// Distinct activation patterns of hidden layer `layer` alone (the raster map's
    /// count): regions with the same pattern of that layer but different patterns below
    /// count once.
    pub layer_codes: usize,
    /// The plane coordinates of the training points, if any.
    pub anchors: Vec<Point>,
    /// Set when a pre-activation somewhere in the square is beyond float32's range (the
    /// network computes in f32, where it is infinite) or a coefficient overflowed to NaN
    /// or infinity (`point` is 0); the map is then empty and must not be reported.
    pub non_finite: Option<NonFinite>,
}

/// A 64-bit hash of an activation pattern (one byte per neuron); the raster map counts
/// distinct codes with the same hash.
pub fn code_hash(code: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    code.hash(&mut h);
    h.finish()
}

/// Checks what an exact map needs: a piecewise-linear activation, a hidden `layer`, a
/// plane of the network's input size, a region cap in range and within memory.
fn check_request(net: &Mlp, plane: &PlaneCoordinates, request: ExactRequest) -> Result<()> {
    let act = net.activation();
    if !act.is_piecewise_linear() {
        return Err(OccamError::config(format!(
            "exact region maps need a piecewise-linear activation (relu, relu6, hard_tanh or hard_sigmoid); \
             this network's activation is {act}: draw its map on a grid instead (without --exact)"
        )));
    }
    let hidden = net.depth() - 1;
    if request.layer >= hidden {
        return Err(OccamError::config(format!(
            "layer {} is not a hidden layer: the network has hidden layers 1 to {hidden}",
            request.layer + 1
        )));
    }
    let d = net.input_dim();
    if [&plane.origin, &plane.along_u, &plane.along_v]
        .iter()
        .any(|v| v.len() != d)
    {
        return Err(OccamError::config(format!(
            "an exact region map: the plane has {} coordinates but the network takes {d} inputs",
            plane.origin.len()
        )));
    }
    let (lo, hi) = MAX_REGIONS_RANGE;
    crate::limits::in_range("the region cap (--max-regions)", request.max_regions, lo, hi)?;
    crate::limits::check_memory(
        &format!("an exact region map of up to {} regions", request.max_regions),
        request.max_regions as f64 * REGION_BYTES,
    )
}

/// The exact region map of `net` on `plane` up to hidden layer `request.layer`. Errors:
/// tanh (not piecewise linear), a layer that is not hidden, a plane of the wrong size, a
/// cap out of range or beyond memory, or more regions than the cap.
pub fn exact_region_map(net: &Mlp, plane: &PlaneCoordinates, request: ExactRequest) -> Result<ExactRegionMap> {
    exact_region_map_within(net, plane, request)?.ok_or_else(|| {
        OccamError::config(format!(
            "the exact region map has more than {} regions (the cap, --max-regions): raise the cap (up to {}, \
             about 256 bytes per region), map a lower --layer, or draw the map on a grid (without --exact)",
            request.max_regions, MAX_REGIONS_RANGE.1
        ))
    })
}

/// [`exact_region_map`], with `None` instead of an error when the map has more regions
/// than the cap (the walk stops as soon as it knows).
pub fn exact_region_map_within(
    net: &Mlp,
    plane: &PlaneCoordinates,
    request: ExactRequest,
) -> Result<Option<ExactRegionMap>> {
    Ok(match exact_region_map_capped(net, plane, request)? {
        Capped::Map(map) => Some(map),
        Capped::OverCap { .. } => None,
    })
}

/// An exact map, or where its walk passed the region cap.
#[derive(Debug, Clone, PartialEq)]
pub enum Capped {
    /// The whole map.
    Map(ExactRegionMap),
    /// More regions than the cap.
    OverCap {
        /// The hidden layer (0-based) whose count passed the cap.
        layer: usize,
        /// Its count when the walk stopped: more than the cap (with several threads the
        /// exact number depends on their timing).
        reached: usize,
    },
}

/// [`exact_region_map`], saying where the walk stopped instead of an error when the map
/// has more regions than the cap.
pub fn exact_region_map_capped(net: &Mlp, plane: &PlaneCoordinates, request: ExactRequest) -> Result<Capped> {
    exact_region_map_by(net, plane, request, CoefficientPath::default())
}

/// [`exact_region_map_capped`] with the coefficients handed down by `path`: both paths
/// give the same regions (up to rounding in the last bits of the vertices); the plain
/// [`CoefficientPath::PerPiece`] is there for tests to compare with.
pub fn exact_region_map_by(
    net: &Mlp,
    plane: &PlaneCoordinates,
    request: ExactRequest,
    path: CoefficientPath,
) -> Result<Capped> {
    check_request(net, plane, request)?;
    let walked = match walk::partition(net, plane, request, path) {
        Ok(walked) => walked,
        Err(over) => {
            return Ok(Capped::OverCap {
                layer: over.layer,
                reached: over.reached,
            });
        }
    };
    let mut map = ExactRegionMap {
        layer: request.layer,
        regions: Vec::new(),
        per_layer: walked.per_layer,
        layer_codes: 0,
        anchors: plane.anchors.clone(),
        non_finite: walked.non_finite,
    };
    if map.non_finite.is_none() {
        let distinct: std::collections::HashSet<u64> = walked.regions.iter().map(|r| r.layer_code_hash).collect();
        map.layer_codes = distinct.len();
        map.regions = walked.regions;
    }
    Ok(Capped::Map(map))
}

/// The region cap of a sweep's exact maps when its spec sets none (`occam measure regions
/// --exact`'s default too): about 256 MB of regions per map.
pub const SWEEP_MAX_REGIONS: usize = 1_000_000;

/// The radius (plane units) of "near the training points" for a sweep's exact maps and
/// the report's boundary densities.
pub const SWEEP_NEAR_RADIUS: f64 = 0.1;

/// Region-boundary length per unit area near the training points and over the whole map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundaryDensity {
    /// Boundary length inside the discs of `radius` around the anchors per unit of their
    /// area (within the square); NaN without anchors.
    pub near: f64,
    /// Boundary length over the whole square per unit area (the square's area is 4).
    pub overall: f64,
    /// The radius of the discs, in plane units.
    pub radius: f64,
}

/// Boundary length per unit area within `radius` of the anchors and overall. Each edge
/// between two regions is an edge of both, so the polygons' interior edges are summed
/// and halved; the square's border is not a boundary.
pub fn boundary_density(map: &ExactRegionMap, radius: f64) -> BoundaryDensity {
    polygons_boundary_density(map.regions.iter().map(|r| &r.vertices[..]), &map.anchors, radius)
}

/// [`boundary_density`] of counter-clockwise polygons that tile the square.
pub fn polygons_boundary_density<'a>(
    polygons: impl Iterator<Item = &'a [Point]>,
    anchors: &[Point],
    radius: f64,
) -> BoundaryDensity {
    let (mut near, mut all) = (0.0, 0.0);
    for vertices in polygons {
        let n = vertices.len();
        for i in 0..n {
            let (a, b) = (vertices[i], vertices[(i + 1) % n]);
            if geometry::on_border(a, b) {
                continue;
            }
            all += (b.0 - a.0).hypot(b.1 - a.1);
            near += anchors
                .iter()
                .map(|&c| geometry::length_in_disc(a, b, c, radius))
                .sum::<f64>();
        }
    }
    let near_area: f64 = anchors.iter().map(|&c| geometry::disc_area_in_square(c, radius)).sum();
    BoundaryDensity {
        near: if near_area > 0.0 {
            0.5 * near / near_area
        } else {
            f64::NAN
        },
        overall: 0.5 * all / 4.0,
        radius,
    }
}

/// The region containing plane point `p` (a linear search; tests and probes only).
pub fn region_at(map: &ExactRegionMap, p: Point) -> Option<&ExactRegion> {
    map.regions.iter().find(|r| geometry::contains(&r.vertices, p, 1e-12))
}
