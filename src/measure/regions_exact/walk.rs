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
        check_f32_range(layer, &poly, z, w)?;
        let pieces = self.cut(poly, z, w);
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
    /// clear of `poly` (every vertex farther from it than the split's tolerance, with a
    /// margin of 1e-9 relative for the rounding of the vertices cuts will make) keeps
    /// clear of every piece of it, so it is skipped without visiting the pieces.
    fn cut(&self, poly: Vec<Point>, z: &[f64], w: usize) -> Vec<Vec<Point>> {
        let outline = poly.clone();
        let mut pieces = vec![poly];
        for i in 0..w {
            for &beta in &self.layers.breakpoints {
                let line = [z[i] - beta, z[w + i], z[2 * w + i]];
                if geometry::clear_of(&outline, line, 1e-9) {
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

/// Refuses a polygon on which some pre-activation of hidden layer `layer` (0-based; `z`
/// its coefficients, `3 × w`) leaves float32's range. The walk is in f64, but the network
/// it maps computes in f32, where such a value is infinite: the map of that f32 function
/// does not exist, and the raster map refuses it in the same words. An affine function on a
/// convex polygon is largest in magnitude at a vertex, so the vertices settle it.
fn check_f32_range(layer: usize, poly: &[Point], z: &[f64], w: usize) -> std::result::Result<(), Stop> {
    let limit = f64::from(f32::MAX);
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
