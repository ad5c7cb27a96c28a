//! Region maps (the paper's Figure 3): each linear region — a connected patch of pixels
//! between boundary pixels, or an exact polygon ([`super::exact_regions`]) — gets its own
//! soft colour, distinct from its neighbours'; boundaries are dark; the training points
//! are marked and named.

use super::chart::{
    LEGEND_ROW_PX, LegendEntry, Swatch, TickedRange, draw_legend, draw_title, legend_rows, title_height,
};
use super::ticks::{Tick, TickAxis, choose_ticks};
use super::{Figure, err};
use plotters::coord::Shift;
use plotters::prelude::Cartesian2d;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Soft colours for regions: light enough that the dark boundaries and markers stand out.
pub const REGION_PALETTE: [RGBColor; 8] = [
    RGBColor(179, 205, 227),
    RGBColor(251, 180, 174),
    RGBColor(204, 235, 197),
    RGBColor(222, 203, 228),
    RGBColor(254, 217, 166),
    RGBColor(255, 255, 204),
    RGBColor(229, 216, 189),
    RGBColor(253, 218, 236),
];
pub(super) const BOUNDARY: RGBColor = RGBColor(45, 45, 45);
pub(super) const POINT: RGBColor = RGBColor(200, 20, 20);

/// Connected components (4-neighbour) of the non-boundary pixels of a row-major
/// `side × side` mask. Returns a label per pixel (0 = boundary, 1.. = region) and the
/// number of regions.
pub fn label_regions(boundary: &[bool], side: usize) -> (Vec<u32>, usize) {
    let mut labels = vec![0u32; boundary.len()];
    let mut count = 0u32;
    let mut stack = Vec::new();
    for start in 0..boundary.len().min(side * side) {
        if boundary[start] || labels[start] != 0 {
            continue;
        }
        count += 1;
        labels[start] = count;
        stack.push(start);
        while let Some(p) = stack.pop() {
            let (r, c) = (p / side, p % side);
            let neighbours = [
                (r > 0).then(|| p - side),
                (r + 1 < side).then(|| p + side),
                (c > 0).then(|| p - 1),
                (c + 1 < side).then(|| p + 1),
            ];
            for q in neighbours.into_iter().flatten() {
                if !boundary[q] && labels[q] == 0 {
                    labels[q] = count;
                    stack.push(q);
                }
            }
        }
    }
    (labels, count as usize)
}

/// A colour index (into a palette of `colours`) per region label (index 0, the boundary,
/// unused): regions that touch the same boundary stretch (within two pixels) get different
/// colours wherever the palette allows; otherwise the least-used colour.
pub fn colour_regions(labels: &[u32], side: usize, regions: usize, colours: usize) -> Vec<usize> {
    let mut neighbours: Vec<Vec<u32>> = vec![Vec::new(); regions + 1];
    for p in (0..labels.len()).filter(|&p| labels[p] == 0) {
        let (r, c) = ((p / side) as i64, (p % side) as i64);
        let mut near: Vec<u32> = Vec::with_capacity(25);
        for dr in -2..=2i64 {
            for dc in -2..=2i64 {
                let (rr, cc) = (r + dr, c + dc);
                if rr >= 0 && cc >= 0 && (rr as usize) < side && (cc as usize) < side {
                    let l = labels[rr as usize * side + cc as usize];
                    if l != 0 && !near.contains(&l) {
                        near.push(l);
                    }
                }
            }
        }
        for &a in &near {
            for &b in near.iter().filter(|&&b| b != a) {
                if !neighbours[a as usize].contains(&b) {
                    neighbours[a as usize].push(b);
                }
            }
        }
    }
    let colours = colours.max(1);
    let mut colour = vec![usize::MAX; regions + 1];
    let mut used = vec![0usize; colours];
    for region in 1..=regions {
        let taken: Vec<usize> = neighbours[region].iter().map(|&n| colour[n as usize]).collect();
        let choice = (0..colours)
            .filter(|k| !taken.contains(k))
            .min_by_key(|&k| used[k])
            .unwrap_or_else(|| (0..colours).min_by_key(|&k| used[k]).unwrap_or(0));
        colour[region] = choice;
        used[choice] += 1;
    }
    colour
}

/// What a region map is drawn from.
#[derive(Debug, Clone)]
pub enum RegionShapes {
    /// A `side × side` boundary mask (true = boundary, row-major, row 0 at the top).
    Raster {
        /// Grid side in pixels.
        side: usize,
        /// Row-major `side × side` mask, true at a region boundary.
        boundary: Vec<bool>,
    },
    /// Exact convex regions: each a counter-clockwise vertex list in plane coordinates.
    Exact {
        /// The regions' polygons.
        polygons: Vec<Vec<(f64, f64)>>,
    },
    /// An exact map rendered before (a sweep's, at trial time): the square [−1, 1]² as
    /// an image, drawn over the whole plotting area.
    ExactImage(super::exact_regions::RgbImage),
}

/// One region map.
#[derive(Debug, Clone)]
pub struct RegionPanel {
    /// The panel's caption.
    pub title: String,
    /// The regions.
    pub shapes: RegionShapes,
    /// The training points' plane coordinates.
    pub anchors: Vec<(f64, f64)>,
}

/// The panel width an exact map is drawn at (a raster map gets about one screen pixel
/// per grid cell).
const EXACT_PANEL_SIDE: usize = 560;

/// Region maps side by side, with the training points named "A", "B", "C".
pub struct RegionMaps {
    /// The maps, left to right.
    pub panels: Vec<RegionPanel>,
}

impl Figure for RegionMaps {
    fn size(&self) -> (u32, u32) {
        self.as_figure().size()
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        self.as_figure().draw(area)
    }
}

impl RegionMaps {
    fn as_figure(&self) -> RegionFigure {
        let count = self.panels.iter().map(|p| p.anchors.len()).max().unwrap_or(0);
        RegionFigure {
            title: String::new(),
            panels: self.panels.clone(),
            point_names: (0..count)
                .map(|i| format!("training point {}", point_letter(i)))
                .collect(),
            near_radius: None,
        }
    }
}

/// "A", "B", "C", …: the short names printed beside the training points.
pub fn point_letter(i: usize) -> char {
    (b'A' + (i % 26) as u8) as char
}

/// Region maps with a title strip, named training points and a legend strip.
pub struct RegionFigure {
    /// The figure's short caption; empty for none.
    pub title: String,
    /// The maps, left to right.
    pub panels: Vec<RegionPanel>,
    /// Legend text per training point, e.g. "A = training example #12 (class 3)".
    pub point_names: Vec<String>,
    /// Draw a dashed circle of this radius (plane units) around each training point.
    pub near_radius: Option<f64>,
}

impl RegionFigure {
    fn width(&self) -> u32 {
        // About one screen pixel per grid cell, so boundaries stay legible.
        let side = self
            .panels
            .iter()
            .map(|p| match &p.shapes {
                RegionShapes::Raster { side, .. } => *side,
                RegionShapes::Exact { .. } => EXACT_PANEL_SIDE,
                RegionShapes::ExactImage(image) => image.width as usize,
            })
            .max()
            .unwrap_or(0) as u32;
        (side + 130).max(620) * self.panels.len().max(1) as u32
    }
    fn title_px(&self) -> u32 {
        title_height(&self.title, self.width() as f64)
    }
    fn legend_px(&self) -> u32 {
        legend_rows(&self.legend(), self.width() as f64).len() as u32 * LEGEND_ROW_PX + 12
    }
    fn legend(&self) -> Vec<LegendEntry> {
        let mut out: Vec<LegendEntry> = self
            .point_names
            .iter()
            .map(|n| LegendEntry {
                name: n.clone(),
                color: POINT,
                swatch: Swatch::Dot,
            })
            .collect();
        let exact = self
            .panels
            .iter()
            .any(|p| matches!(p.shapes, RegionShapes::Exact { .. } | RegionShapes::ExactImage(_)));
        out.push(LegendEntry {
            name: if exact {
                "region boundary, exact (the activation pattern of a hidden layer up to the mapped one changes)".into()
            } else {
                "region boundary (the layer's activation pattern changes)".into()
            },
            color: BOUNDARY,
            swatch: Swatch::Line,
        });
        if let Some(r) = self.near_radius {
            out.push(LegendEntry {
                name: format!("within {r} of a training point"),
                color: POINT,
                swatch: Swatch::Dashed,
            });
        }
        out
    }
}

impl Figure for RegionFigure {
    fn size(&self) -> (u32, u32) {
        let panel = self.width() / self.panels.len().max(1) as u32;
        (self.width(), self.title_px() + panel + 10 + self.legend_px())
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        let (title, rest) = area.split_vertically(self.title_px());
        if !self.title.is_empty() {
            draw_title(&title, &self.title)?;
        }
        let height = rest.dim_in_pixel().1;
        let (maps, legend) = rest.split_vertically(height.saturating_sub(self.legend_px()));
        for (p, sub) in self.panels.iter().zip(maps.split_evenly((1, self.panels.len().max(1)))) {
            draw_region_panel(&sub, p, self.near_radius)?;
        }
        draw_legend(&legend, &self.legend())
    }
}

/// Ticks over [−1, 1] for an axis of `length_px`.
fn plane_ticks(length_px: f64, horizontal: bool) -> Vec<Tick> {
    choose_ticks(&TickAxis {
        lo: -1.0,
        hi: 1.0,
        log: false,
        length_px,
        horizontal,
        font_px: 13.0,
    })
}

/// Draws one map: coloured regions, dark boundaries, the named training points.
fn draw_region_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &RegionPanel,
    near_radius: Option<f64>,
) -> std::result::Result<(), String> {
    let (w, h) = area.dim_in_pixel();
    let x_ticks = plane_ticks(w as f64 - 100.0, true);
    let y_ticks = plane_ticks(h as f64 - 100.0, false);
    let keys = |t: &[Tick]| t.iter().map(|t| t.value).collect::<Vec<f64>>();
    let find = |t: &[Tick], v: f64| {
        t.iter()
            .find(|t| (t.value - v).abs() < 1e-9)
            .map(|t| t.label.clone())
            .unwrap_or_default()
    };
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(44)
        .y_label_area_size(52)
        .build_cartesian_2d(
            TickedRange {
                lo: -1.0,
                hi: 1.0,
                keys: keys(&x_ticks),
            },
            TickedRange {
                lo: -1.0,
                hi: 1.0,
                keys: keys(&y_ticks),
            },
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(if p.anchors.is_empty() {
            "u (a plane through input space)"
        } else {
            "u (plane of the three training points; they sit at radius 0.8)"
        })
        .y_desc("v (same plane units)")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 13))
        .x_label_formatter(&|v| find(&x_ticks, *v))
        .y_label_formatter(&|v| find(&y_ticks, *v))
        .draw()
        .map_err(err)?;
    match &p.shapes {
        RegionShapes::Raster { side, boundary } => draw_raster(&mut chart, *side, boundary)?,
        RegionShapes::Exact { polygons } => super::exact_regions::draw_polygons(&mut chart, polygons)?,
        RegionShapes::ExactImage(image) => super::exact_regions::draw_image(&mut chart, image)?,
    }
    if let Some(r) = near_radius {
        for &(ax, ay) in &p.anchors {
            let circle: Vec<(f64, f64)> = (0..=64)
                .map(|k| {
                    let t = k as f64 / 64.0 * std::f64::consts::TAU;
                    (ax + r * t.cos(), ay + r * t.sin())
                })
                .collect();
            chart
                .draw_series(LineSeries::new(circle.clone(), WHITE.stroke_width(4)))
                .map_err(err)?;
            chart
                .draw_series(DashedLineSeries::new(circle, 5, 3, POINT.stroke_width(2)))
                .map_err(err)?;
        }
    }
    let font = ("sans-serif", 17)
        .into_font()
        .color(&POINT)
        .pos(Pos::new(HPos::Center, VPos::Center));
    for (i, &(x, y)) in p.anchors.iter().enumerate() {
        // The name sits in a white box outside the triangle, away from the centre.
        let norm = x.hypot(y);
        let (dx, dy) = if norm > 0.0 { (x / norm, -y / norm) } else { (0.0, -1.0) };
        let (ox, oy) = ((dx * 30.0) as i32, (dy * 30.0) as i32);
        let label = EmptyElement::at((x, y))
            + Circle::new((0, 0), 6, POINT.filled())
            + Circle::new((0, 0), 7, WHITE.stroke_width(2))
            + Rectangle::new([(ox - 11, oy - 11), (ox + 11, oy + 11)], WHITE.mix(0.9).filled())
            + Rectangle::new([(ox - 11, oy - 11), (ox + 11, oy + 11)], POINT.stroke_width(1))
            + Text::new(point_letter(i).to_string(), (ox, oy), font.clone());
        chart.draw_series(std::iter::once(label)).map_err(err)?;
    }
    Ok(())
}

/// The axes of one region map: [−1, 1]² in plane coordinates.
pub(super) type PlaneChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<TickedRange, TickedRange>>;

/// Fills the square with a raster map: one rectangle per horizontal run of one colour.
fn draw_raster<DB: DrawingBackend>(
    chart: &mut PlaneChart<'_, DB>,
    side: usize,
    boundary: &[bool],
) -> std::result::Result<(), String> {
    if side == 0 || boundary.len() != side * side {
        return Ok(());
    }
    let (labels, regions) = label_regions(boundary, side);
    let colour = colour_regions(&labels, side, regions, REGION_PALETTE.len());
    let pixel_colour = |i: usize| match labels[i] {
        0 => BOUNDARY,
        l => REGION_PALETTE[colour[l as usize]],
    };
    // The square is filled with the boundary colour, then one rectangle per horizontal run
    // of one region colour: about as many rectangles as regions cross rows, which keeps
    // the SVG small.
    let cell = 2.0 / side as f64;
    let mut runs = Vec::new();
    for row in 0..side {
        let mut col = 0;
        while col < side {
            let (start, here) = (col, pixel_colour(row * side + col));
            while col < side && pixel_colour(row * side + col) == here {
                col += 1;
            }
            if here != BOUNDARY {
                runs.push((row, start, col, here));
            }
        }
    }
    chart
        .draw_series(std::iter::once(Rectangle::new(
            [(-1.0, -1.0), (1.0, 1.0)],
            BOUNDARY.filled(),
        )))
        .map_err(err)?;
    chart
        .draw_series(runs.into_iter().map(|(row, c0, c1, color)| {
            // Edges from the same expressions in neighbouring runs, so no seam opens.
            let (top, bottom) = (1.0 - row as f64 * cell, 1.0 - (row + 1) as f64 * cell);
            Rectangle::new(
                [(-1.0 + c0 as f64 * cell, bottom), (-1.0 + c1 as f64 * cell, top)],
                color.filled(),
            )
        }))
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_mask_is_one_region() {
        let (labels, n) = label_regions(&[false; 9], 3);
        assert_eq!(n, 1);
        assert!(labels.iter().all(|&l| l == 1));
    }
}
