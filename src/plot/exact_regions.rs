//! Exact region maps: each convex region filled as one polygon in a soft colour that
//! differs from its neighbours', its boundary drawn as the exact polyline of its edges.
//! The PNG and the SVG come from the same drawing ([`super::render`]).

use super::err;
use super::regions::{BOUNDARY, PlaneChart, REGION_PALETTE};
use plotters::prelude::*;

/// A colour index (into a palette of `colours`) per polygon: polygons that share an edge
/// get different colours wherever the palette allows; otherwise the least-used colour.
/// Neighbours are found by stepping off each edge's midpoint and locating the polygon
/// there.
pub fn colour_polygons(polygons: &[Vec<(f64, f64)>], colours: usize) -> Vec<usize> {
    let index = BucketIndex::new(polygons);
    let colours = colours.max(1);
    let mut colour = vec![usize::MAX; polygons.len()];
    let mut used = vec![0usize; colours];
    for (i, poly) in polygons.iter().enumerate() {
        let n = poly.len();
        let mut taken = Vec::new();
        for k in 0..n {
            let (a, b) = (poly[k], poly[(k + 1) % n]);
            let (dx, dy) = (b.0 - a.0, b.1 - a.1);
            let len = dx.hypot(dy);
            if len == 0.0 {
                continue;
            }
            // Counter-clockwise polygons: the outward normal is (dy, −dx).
            let step = 1e-9 / len;
            let probe = (0.5 * (a.0 + b.0) + dy * step, 0.5 * (a.1 + b.1) - dx * step);
            if let Some(j) = index.locate(polygons, probe, i)
                && colour[j] != usize::MAX
            {
                taken.push(colour[j]);
            }
        }
        let choice = (0..colours)
            .filter(|k| !taken.contains(k))
            .min_by_key(|&k| used[k])
            .unwrap_or_else(|| (0..colours).min_by_key(|&k| used[k]).unwrap_or(0));
        colour[i] = choice;
        used[choice] += 1;
    }
    colour
}

/// Polygons bucketed by bounding box on a uniform grid over [−1, 1]², for point location.
struct BucketIndex {
    side: usize,
    buckets: Vec<Vec<u32>>,
}

impl BucketIndex {
    fn new(polygons: &[Vec<(f64, f64)>]) -> BucketIndex {
        let side = ((polygons.len() as f64).sqrt().ceil() as usize).clamp(1, 1024);
        let mut buckets = vec![Vec::new(); side * side];
        for (i, p) in polygons.iter().enumerate() {
            let (u0, u1) = p
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), q| (lo.min(q.0), hi.max(q.0)));
            let (v0, v1) = p
                .iter()
                .fold((f64::MAX, f64::MIN), |(lo, hi), q| (lo.min(q.1), hi.max(q.1)));
            let cell = |x: f64| Self::cell_of(side, x);
            for r in cell(v0)..=cell(v1) {
                for c in cell(u0)..=cell(u1) {
                    buckets[r * side + c].push(i as u32);
                }
            }
        }
        BucketIndex { side, buckets }
    }
    fn cell_of(side: usize, x: f64) -> usize {
        (((x + 1.0) * 0.5 * side as f64).floor().max(0.0) as usize).min(side - 1)
    }
    /// The polygon other than `skip` that contains `p`, if any.
    fn locate(&self, polygons: &[Vec<(f64, f64)>], p: (f64, f64), skip: usize) -> Option<usize> {
        if p.0.abs() > 1.0 || p.1.abs() > 1.0 {
            return None;
        }
        let bucket = &self.buckets[Self::cell_of(self.side, p.1) * self.side + Self::cell_of(self.side, p.0)];
        bucket
            .iter()
            .map(|&j| j as usize)
            .find(|&j| j != skip && crate::measure::regions_exact::geometry::contains(&polygons[j], p, 0.0))
    }
}

/// Fills each polygon in its colour, then draws every polygon's outline (the region
/// boundaries, exactly where the activation pattern changes).
pub(super) fn draw_polygons<DB: DrawingBackend>(
    chart: &mut PlaneChart<'_, DB>,
    polygons: &[Vec<(f64, f64)>],
) -> std::result::Result<(), String> {
    let colour = colour_polygons(polygons, REGION_PALETTE.len());
    chart
        .draw_series(
            polygons
                .iter()
                .zip(&colour)
                .map(|(p, &c)| Polygon::new(p.clone(), REGION_PALETTE[c].filled())),
        )
        .map_err(err)?;
    chart
        .draw_series(polygons.iter().map(|p| {
            let mut closed = p.clone();
            closed.extend(p.first().copied());
            PathElement::new(closed, BOUNDARY.stroke_width(1))
        }))
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_across_an_edge_get_different_colours() {
        let left = vec![(-1.0, -1.0), (0.0, -1.0), (0.0, 1.0), (-1.0, 1.0)];
        let right = vec![(0.0, -1.0), (1.0, -1.0), (1.0, 1.0), (0.0, 1.0)];
        let c = colour_polygons(&[left, right], 8);
        assert_ne!(c[0], c[1]);
    }
}
