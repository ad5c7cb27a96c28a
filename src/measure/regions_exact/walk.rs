//! The layer-by-layer refinement behind [`super::exact_region_map`]: a depth-first walk
//! from the square down through the hidden layers, cutting each polygon by its layer's
//! breakpoint lines and handing each piece the next layer's affine coefficients
//! ([`super::coefficients`]).

use super::coefficients::{CoefficientPath, Layers};
use super::geometry::{self, Point, Split};
use super::{ExactRegion, ExactRequest, PlaneCoordinates, code_hash};
use crate::measure::finite::{NonFinite, Quantity};
use crate::net::Mlp;
use rayon::prelude::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What the walk found: the finished regions and the count after each layer.
pub(super) struct Walked {
    pub regions: Vec<ExactRegion>,
    pub per_layer: Vec<usize>,
    pub non_finite: Option<NonFinite>,
}

/// Where a walk over the cap stopped: the hidden layer (0-based) whose count first
/// passed the cap, and that count when it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct OverCap {
    pub layer: usize,
    pub reached: usize,
}

/// Why a walk stopped early.
enum Stop {
    /// More regions than the cap.
    TooMany,
    /// A coefficient overflowed.
    NonFinite(NonFinite),
}

/// The network in f64 and the walk's shared counters.
struct Walk {
    layers: Layers,
    path: CoefficientPath,
    last: usize,
    max_regions: usize,
    counts: Vec<AtomicUsize>,
    stopped: AtomicBool,
    over: Mutex<Option<OverCap>>,
}

/// Cuts the square of `plane` into the regions of hidden layers 0 to `request.layer`,
/// handing coefficients down by `path`; where it stopped when there are more than
/// `request.max_regions` after some layer.
pub(super) fn partition(
    net: &Mlp,
    plane: &PlaneCoordinates,
    request: ExactRequest,
    path: CoefficientPath,
) -> std::result::Result<Walked, OverCap> {
    let walk = Walk {
        layers: Layers::new(net, request.layer),
        path,
        last: request.layer,
        max_regions: request.max_regions,
        counts: (0..=request.layer).map(|_| AtomicUsize::new(0)).collect(),
        stopped: AtomicBool::new(false),
        over: Mutex::new(None),
    };
    let input = [plane.origin.clone(), plane.along_u.clone(), plane.along_v.clone()].concat();
    let result = walk
        .layers
        .product_by_rows(0, &input)
        .map_err(Stop::NonFinite)
        .and_then(|z| walk.descend(0, geometry::unit_square(), &z, &[]));
    let per_layer = walk.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    match result {
        Ok(regions) => Ok(Walked {
            regions,
            per_layer,
            non_finite: None,
        }),
        Err(Stop::NonFinite(bad)) => Ok(Walked {
            regions: Vec::new(),
            per_layer: Vec::new(),
            non_finite: Some(bad),
        }),
        Err(Stop::TooMany) => Err(walk
            .over
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(OverCap {
                layer: request.layer,
                reached: request.max_regions + 1,
            })),
    }
}

impl Walk {
    /// The regions inside `poly`, on which hidden layer `layer`'s pre-activations are
    /// `z[0..w] + u·z[w..2w] + v·z[2w..3w]` and the layers below have the pattern `code`.
    fn descend(
        &self,
        layer: usize,
        poly: Vec<Point>,
        z: &[f64],
        code: &[u8],
    ) -> std::result::Result<Vec<ExactRegion>, Stop> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err(Stop::TooMany);
        }
        let w = self.layers.widths[layer + 1];
        let slopes = SlopeRanges::of(&poly, z, w);
        check_f32_range(layer, &poly, z, w, &slopes)?;
        let pieces = self.cut(poly, z, w, &slopes);
        let total = self.counts[layer].fetch_add(pieces.len(), Ordering::Relaxed) + pieces.len();
        if total > self.max_regions {
            if !self.stopped.swap(true, Ordering::Relaxed) {
                let mut over = self.over.lock().unwrap_or_else(|e| e.into_inner());
                *over = Some(OverCap { layer, reached: total });
            }
            return Err(Stop::TooMany);
        }
        let codes: Vec<Vec<u8>> = pieces
            .iter()
            .map(|piece| self.layers.pattern(z, w, geometry::vertex_mean(piece)))
            .collect();
        let reference = match self.path {
            CoefficientPath::Incremental if layer < self.last => {
                Some(self.layers.reference(layer, z, &codes).map_err(Stop::NonFinite)?)
            }
            _ => None,
        };
        let finish = |(piece, own): (Vec<Point>, Vec<u8>)| -> std::result::Result<Vec<ExactRegion>, Stop> {
            let mut full = code.to_vec();
            full.extend_from_slice(&own);
            if layer == self.last {
                return Ok(vec![ExactRegion {
                    vertices: piece,
                    code_hash: code_hash(&full),
                    layer_code_hash: code_hash(&own),
                }]);
            }
            let next = self
                .layers
                .next(layer, z, &own, reference.as_ref())
                .map_err(Stop::NonFinite)?;
            self.descend(layer + 1, piece, &next, &full)
        };
        let nested: Vec<Vec<ExactRegion>> = if pieces.len() > 1 {
            pieces
                .into_par_iter()
                .zip(codes)
                .map(finish)
                .collect::<std::result::Result<_, Stop>>()?
        } else {
            pieces
                .into_iter()
                .zip(codes)
                .map(finish)
                .collect::<std::result::Result<_, Stop>>()?
        };
        Ok(nested.into_iter().flatten().collect())
    }

    /// `poly` cut by every breakpoint line of the layer's `w` neurons. A line that keeps
    /// clear of `poly` keeps clear of every piece of it and is skipped without visiting
    /// the pieces: every vertex is farther from it than the split's tolerance plus a
    /// margin of 1e-9 (relative, like the tolerance), far more than the rounding of the
    /// vertices later cuts make and of summing `a + (b·u + c·v)` instead of the split's
    /// `(a + b·u) + c·v`.
    fn cut(&self, poly: Vec<Point>, z: &[f64], w: usize, slopes: &SlopeRanges) -> Vec<Vec<Point>> {
        let mut pieces = vec![poly];
        for i in 0..w {
            for &beta in &self.layers.breakpoints {
                let line = [z[i] - beta, z[w + i], z[2 * w + i]];
                // The tolerance (1e-12 relative) plus the margin (1e-9 relative).
                let clearance = geometry::tolerance(line) * (1.0 + 1e3);
                if line[0] + slopes.lowest[i] > clearance || line[0] + slopes.highest[i] < -clearance {
                    continue;
                }
                let mut next = Vec::with_capacity(pieces.len() + 1);
                for piece in pieces {
                    match geometry::split(&piece, line) {
                        Split::Both(below, above) => {
                            next.push(below);
                            next.push(above);
                        }
                        Split::Above | Split::Below => next.push(piece),
                    }
                }
                pieces = next;
            }
        }
        pieces
    }
}

/// Per neuron i of a layer with coefficients `z` (`3 × w`), the lowest and highest of its
/// slope part `b_i·u + c_i·v` over a polygon's vertices: with the constant `a_i`, the range
/// of the neuron's pre-activation over the polygon (an affine function's extremes on a
/// convex polygon are at vertices).
struct SlopeRanges {
    lowest: Vec<f64>,
    highest: Vec<f64>,
}

impl SlopeRanges {
    fn of(poly: &[Point], z: &[f64], w: usize) -> SlopeRanges {
        let (b, c) = (&z[w..2 * w], &z[2 * w..3 * w]);
        let mut lowest = vec![f64::INFINITY; w];
        let mut highest = vec![f64::NEG_INFINITY; w];
        // Vertices outside, neurons inside: the inner loop vectorizes.
        for &(u, v) in poly {
            for i in 0..w {
                let s = b[i] * u + c[i] * v;
                lowest[i] = if s < lowest[i] { s } else { lowest[i] };
                highest[i] = if s > highest[i] { s } else { highest[i] };
            }
        }
        SlopeRanges { lowest, highest }
    }
}

/// Refuses a polygon on which some pre-activation of hidden layer `layer` (0-based; `z`
/// its coefficients, `3 × w`) leaves float32's range. The walk is in f64, but the network
/// it maps computes in f32, where such a value is infinite: the map of that f32 function
/// does not exist, and the raster map refuses it in the same words. An affine function on a
/// convex polygon is largest in magnitude at a vertex, so the vertices settle it.
/// `slopes` settle almost every polygon at once; only one that comes within a millionth
/// of the limit has its vertices checked one by one.
fn check_f32_range(
    layer: usize,
    poly: &[Point],
    z: &[f64],
    w: usize,
    slopes: &SlopeRanges,
) -> std::result::Result<(), Stop> {
    let limit = f64::from(f32::MAX);
    let near = limit * (1.0 - 1e-6);
    if (0..w).all(|i| (z[i] + slopes.highest[i]).abs() < near && (z[i] + slopes.lowest[i]).abs() < near) {
        return Ok(());
    }
    for i in 0..w {
        for &(u, v) in poly {
            let value = z[i] + u * z[w + i] + v * z[2 * w + i];
            if value.abs() > limit {
                return Err(Stop::NonFinite(NonFinite {
                    point: 0,
                    quantity: Quantity::PreActivation { layer: layer + 1 },
                    // What the f32 forward pass would hold there.
                    value: f64::INFINITY.copysign(value),
                }));
            }
        }
    }
    Ok(())
}
