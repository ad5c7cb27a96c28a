//! The layer-by-layer refinement behind [`super::exact_region_map`]: a depth-first walk
//! from the square down through the hidden layers, cutting each polygon by its layer's
//! breakpoint lines and handing each piece the next layer's affine coefficients.

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
    widths: Vec<usize>,
    weights: Vec<Vec<f64>>,
    biases: Option<Vec<Vec<f64>>>,
    breakpoints: Vec<f64>,
    slopes: Vec<(f64, f64)>,
    last: usize,
    max_regions: usize,
    counts: Vec<AtomicUsize>,
    stopped: AtomicBool,
    over: Mutex<Option<OverCap>>,
}

/// Cuts the square of `plane` into the regions of hidden layers 0 to `request.layer`;
/// where it stopped when there are more than `request.max_regions` after some layer.
pub(super) fn partition(
    net: &Mlp,
    plane: &PlaneCoordinates,
    request: ExactRequest,
) -> std::result::Result<Walked, OverCap> {
    let act = net.activation();
    let wide = |v: &Vec<f32>| v.iter().map(|&x| f64::from(x)).collect::<Vec<f64>>();
    let breakpoints: Vec<f64> = act.breakpoints().iter().map(|&b| f64::from(b)).collect();
    let walk = Walk {
        widths: net.dims().to_vec(),
        weights: net.weights()[..=request.layer].iter().map(wide).collect(),
        biases: net.biases().map(|b| b[..=request.layer].iter().map(wide).collect()),
        slopes: (0..=breakpoints.len() as u8)
            .map(|code| {
                let (s, o) = act.linear_piece(code);
                (f64::from(s), f64::from(o))
            })
            .collect(),
        breakpoints,
        last: request.layer,
        max_regions: request.max_regions,
        counts: (0..=request.layer).map(|_| AtomicUsize::new(0)).collect(),
        stopped: AtomicBool::new(false),
        over: Mutex::new(None),
    };
    let input = [plane.origin.clone(), plane.along_u.clone(), plane.along_v.clone()].concat();
    let result = walk.descend(0, geometry::unit_square(), &input, &[]);
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
    /// The regions inside `poly`, on which hidden layer `layer`'s input is
    /// `input[0..w] + u·input[w..2w] + v·input[2w..3w]` and the layers below have the
    /// pattern `code`.
    fn descend(
        &self,
        layer: usize,
        poly: Vec<Point>,
        input: &[f64],
        code: &[u8],
    ) -> std::result::Result<Vec<ExactRegion>, Stop> {
        if self.stopped.load(Ordering::Relaxed) {
            return Err(Stop::TooMany);
        }
        let z = self.pre_activations(layer, input)?;
        let w = self.widths[layer + 1];
        check_f32_range(layer, &poly, &z, w)?;
        let pieces = self.cut(poly, &z, w);
        let total = self.counts[layer].fetch_add(pieces.len(), Ordering::Relaxed) + pieces.len();
        if total > self.max_regions {
            if !self.stopped.swap(true, Ordering::Relaxed) {
                let mut over = self.over.lock().unwrap_or_else(|e| e.into_inner());
                *over = Some(OverCap { layer, reached: total });
            }
            return Err(Stop::TooMany);
        }
        let finish = |piece: Vec<Point>| -> std::result::Result<Vec<ExactRegion>, Stop> {
            let (u, v) = geometry::vertex_mean(&piece);
            let mut full = code.to_vec();
            full.extend((0..w).map(|i| {
                let value = z[i] + u * z[w + i] + v * z[2 * w + i];
                self.breakpoints.iter().filter(|&&b| value > b).count() as u8
            }));
            let own = &full[code.len()..];
            if layer == self.last {
                return Ok(vec![ExactRegion {
                    vertices: piece,
                    code_hash: code_hash(&full),
                    layer_code_hash: code_hash(own),
                }]);
            }
            let mut next = vec![0.0; 3 * w];
            for (i, &c) in own.iter().enumerate() {
                let (slope, offset) = self.slopes[c as usize];
                for k in 0..3 {
                    next[k * w + i] = slope * z[k * w + i] + if k == 0 { offset } else { 0.0 };
                }
            }
            self.descend(layer + 1, piece, &next, &full)
        };
        let nested: Vec<Vec<ExactRegion>> = if pieces.len() > 1 {
            pieces
                .into_par_iter()
                .map(finish)
                .collect::<std::result::Result<_, Stop>>()?
        } else {
            pieces
                .into_iter()
                .map(finish)
                .collect::<std::result::Result<_, Stop>>()?
        };
        Ok(nested.into_iter().flatten().collect())
    }

    /// Layer `layer`'s pre-activation coefficients (constant, u, v; `3 × width`) from its
    /// input's; an error at the first NaN or infinite one.
    fn pre_activations(&self, layer: usize, input: &[f64]) -> std::result::Result<Vec<f64>, Stop> {
        let (w_in, w_out) = (self.widths[layer], self.widths[layer + 1]);
        let weights = &self.weights[layer];
        let mut z = vec![0.0; 3 * w_out];
        for i in 0..w_out {
            let row = &weights[i * w_in..(i + 1) * w_in];
            let (mut c, mut u, mut v) = (0.0, 0.0, 0.0);
            for (j, &wij) in row.iter().enumerate() {
                c += wij * input[j];
                u += wij * input[w_in + j];
                v += wij * input[2 * w_in + j];
            }
            let bias = self.biases.as_ref().map_or(0.0, |b| b[layer][i]);
            z[i] = c + bias;
            z[w_out + i] = u;
            z[2 * w_out + i] = v;
        }
        match z.iter().find(|x| !x.is_finite()) {
            Some(&value) => Err(Stop::NonFinite(NonFinite {
                point: 0,
                quantity: Quantity::PreActivation { layer: layer + 1 },
                value,
            })),
            None => Ok(z),
        }
    }

    /// `poly` cut by every breakpoint line of the layer's `w` neurons.
    fn cut(&self, poly: Vec<Point>, z: &[f64], w: usize) -> Vec<Vec<Point>> {
        let mut pieces = vec![poly];
        for i in 0..w {
            for &beta in &self.breakpoints {
                let line = [z[i] - beta, z[w + i], z[2 * w + i]];
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
