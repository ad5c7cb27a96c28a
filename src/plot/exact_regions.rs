//! Exact region maps: each convex region filled as one polygon in a soft colour that
//! differs from its neighbours', its boundary drawn as the exact polyline of its edges.
//! The PNG and the SVG come from the same drawing ([`super::render`]). A sweep renders
//! its maps once, at trial time, into a square PNG of the plane alone
//! ([`render_map_png`]); the report draws that bitmap into its figure ([`draw_image`]).

use super::chart::TickedRange;
use super::err;
use super::regions::{BOUNDARY, POINT, PlaneChart, REGION_PALETTE};
use crate::error::{OccamError, Result};
use plotters::prelude::*;

/// Pixels per side of the PNG a sweep stores for each exact map: 1000 × 1000 covers the
/// square [−1, 1]² at 500 pixels per plane unit, enough for a printed figure a page wide.
pub const MAP_IMAGE_SIDE: u32 = 1000;

/// The square [−1, 1]² of the plane, `side` pixels a side, as an RGB PNG: the polygons
/// filled one colour each (neighbours differ), their outlines as one-pixel boundary
/// lines, and a red dot on each anchor. Row 0 is v = 1, column 0 is u = −1.
pub fn render_map_png(polygons: &[Vec<(f64, f64)>], anchors: &[(f64, f64)], side: u32) -> Result<Vec<u8>> {
    let bad = |e: String| OccamError::config(format!("drawing an exact region map: {e}"));
    let mut rgb = vec![255u8; side as usize * side as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (side, side)).into_drawing_area();
        let plane = || TickedRange {
            lo: -1.0,
            hi: 1.0,
            keys: Vec::new(),
        };
        let mut chart = ChartBuilder::on(&root)
            .build_cartesian_2d(plane(), plane())
            .map_err(|e| bad(e.to_string()))?;
        draw_polygons(&mut chart, polygons).map_err(bad)?;
        let dot = (side / 170).max(3) as i32;
        chart
            .draw_series(anchors.iter().map(|&p| {
                EmptyElement::at(p)
                    + Circle::new((0, 0), dot + 1, WHITE.filled())
                    + Circle::new((0, 0), dot, POINT.filled())
            }))
            .map_err(|e| bad(e.to_string()))?;
        root.present().map_err(|e| bad(e.to_string()))?;
    }
    encode_png(side, side, &rgb).map_err(bad)
}

/// An RGB image as PNG bytes.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(rgb).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(bytes)
}

/// A decoded RGB image, row-major from the top-left pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct RgbImage {
    pub width: u32,
    pub height: u32,
    /// Three bytes per pixel.
    pub rgb: Vec<u8>,
}

/// Decodes an 8-bit RGB or RGBA PNG (alpha dropped); anything else is an error.
pub fn decode_png(bytes: &[u8]) -> std::result::Result<RgbImage, String> {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .map_err(err)?;
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).map_err(err)?;
    if frame.bit_depth != png::BitDepth::Eight {
        return Err(format!("a PNG of {:?}-bit samples (expected 8)", frame.bit_depth));
    }
    let pixels = frame.width as usize * frame.height as usize;
    let rgb = match frame.color_type {
        png::ColorType::Rgb => buf[..pixels * 3].to_vec(),
        png::ColorType::Rgba => buf[..pixels * 4]
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect(),
        other => return Err(format!("a {other:?} PNG (expected RGB)")),
    };
    Ok(RgbImage {
        width: frame.width,
        height: frame.height,
        rgb,
    })
}

/// `image` scaled to `width × height` by averaging the source pixels each target pixel
/// covers (so thin boundaries fade instead of vanishing when it shrinks).
pub fn resample(image: &RgbImage, width: u32, height: u32) -> Vec<u8> {
    let (sw, sh) = (image.width as usize, image.height as usize);
    let (tw, th) = (width as usize, height as usize);
    if (sw, sh) == (tw, th) {
        return image.rgb.clone();
    }
    let span = |t: usize, target: usize, source: usize| {
        let lo = t * source / target;
        let hi = ((t + 1) * source).div_ceil(target).clamp(lo + 1, source.max(1));
        lo..hi
    };
    let mut out = Vec::with_capacity(tw * th * 3);
    for ty in 0..th {
        let rows = span(ty, th, sh);
        for tx in 0..tw {
            let cols = span(tx, tw, sw);
            let mut sum = [0u32; 3];
            for y in rows.clone() {
                for x in cols.clone() {
                    let p = (y * sw + x) * 3;
                    for (total, &byte) in sum.iter_mut().zip(&image.rgb[p..p + 3]) {
                        *total += u32::from(byte);
                    }
                }
            }
            let n = (rows.len() * cols.len()).max(1) as u32;
            out.extend(sum.map(|s| ((s + n / 2) / n) as u8));
        }
    }
    out
}

/// Draws `image` (the square [−1, 1]²) over the chart's whole plotting area, scaled to
/// its pixels. In an SVG it is one embedded PNG.
pub(super) fn draw_image<DB: DrawingBackend>(
    chart: &mut PlaneChart<'_, DB>,
    image: &RgbImage,
) -> std::result::Result<(), String> {
    if image.width == 0 || image.height == 0 || image.rgb.len() != image.width as usize * image.height as usize * 3 {
        return Err(format!(
            "a {}×{} map image of {} bytes",
            image.width,
            image.height,
            image.rgb.len()
        ));
    }
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let (w, h) = ((xs.end - xs.start).max(1) as u32, (ys.end - ys.start).max(1) as u32);
    let pixels = resample(image, w, h);
    let element = plotters::element::BitMapElement::with_owned_buffer((-1.0, 1.0), (w, h), pixels)
        .ok_or_else(|| "a map image of the wrong size".to_string())?;
    chart.draw_series(std::iter::once(element)).map_err(err)?;
    Ok(())
}

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
    fn a_rendered_map_decodes_to_its_size_with_its_colours() {
        let left = vec![(-1.0, -1.0), (0.0, -1.0), (0.0, 1.0), (-1.0, 1.0)];
        let right = vec![(0.0, -1.0), (1.0, -1.0), (1.0, 1.0), (0.0, 1.0)];
        let png = render_map_png(&[left, right], &[(0.5, 0.5)], 200).unwrap();
        let image = decode_png(&png).unwrap();
        assert_eq!((image.width, image.height), (200, 200));
        let at = |x: usize, y: usize| &image.rgb[(y * 200 + x) * 3..(y * 200 + x) * 3 + 3];
        assert_ne!(at(50, 100), at(150, 30), "two regions, two colours");
        assert_eq!(
            at(100, 40),
            &[BOUNDARY.0, BOUNDARY.1, BOUNDARY.2],
            "the boundary at u = 0"
        );
        assert_eq!(at(150, 50), &[POINT.0, POINT.1, POINT.2], "the anchor at (0.5, 0.5)");
        let half = resample(&image, 100, 100);
        assert_eq!(&half[(50 * 100 + 25) * 3..(50 * 100 + 25) * 3 + 3], at(50, 100));
    }

    #[test]
    fn neighbours_across_an_edge_get_different_colours() {
        let left = vec![(-1.0, -1.0), (0.0, -1.0), (0.0, 1.0), (-1.0, 1.0)];
        let right = vec![(0.0, -1.0), (1.0, -1.0), (1.0, 1.0), (0.0, 1.0)];
        let c = colour_polygons(&[left, right], 8);
        assert_ne!(c[0], c[1]);
    }
}
