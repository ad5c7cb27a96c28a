//! Figures as PNG and SVG (plotters): trajectory profiles, region maps, and the charts the
//! reports reuse. Every figure is drawn once per backend from one drawing function.

use crate::error::{OccamError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Font files tried in order (`$OCCAM_FONT` first); Debian's fonts-dejavu-core ships the first.
const FONT_CANDIDATES: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

/// Registers a TrueType font for text in PNGs (once per process).
fn ensure_font() -> Result<()> {
    static FONT: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    FONT.get_or_init(|| {
        let env = std::env::var("OCCAM_FONT").ok();
        let path = env
            .iter()
            .map(String::as_str)
            .chain(FONT_CANDIDATES)
            .find(|p| Path::new(p).is_file())
            .ok_or_else(|| {
                "no font for figure text: install fonts-dejavu-core or set OCCAM_FONT to a .ttf file".to_string()
            })?;
        let bytes: &'static [u8] = Box::leak(
            std::fs::read(path)
                .map_err(|e| format!("{path}: {e}"))?
                .into_boxed_slice(),
        );
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
            .map_err(|_| format!("{path}: not a usable TrueType font"))
    })
    .clone()
    .map_err(OccamError::config)
}

/// Something that can draw itself on any plotters backend.
pub trait Figure {
    /// Pixel size of the figure.
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String>;
}

/// Writes `figure` to `<stem>.png` and `<stem>.svg` (each drawn under a temporary name and
/// renamed into place). Returns the two paths.
pub fn render(stem: &Path, figure: &impl Figure) -> Result<[PathBuf; 2]> {
    ensure_font()?;
    if let Some(dir) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| OccamError::io(dir, e))?;
    }
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let tmp = |p: &Path| {
        p.with_extension(format!(
            "tmp{}.{}",
            std::process::id(),
            p.extension().unwrap().to_string_lossy()
        ))
    };
    let (png_tmp, svg_tmp) = (tmp(&png), tmp(&svg));
    let drawn = draw_and_rename(figure, (&png_tmp, &png), (&svg_tmp, &svg));
    if drawn.is_err() {
        // No temporary file outlives a failure.
        let _ = std::fs::remove_file(&png_tmp);
        let _ = std::fs::remove_file(&svg_tmp);
    }
    drawn.map(|()| [png, svg])
}

/// Draws `figure` into the two temporary files (PNG, SVG) and renames each over its target.
fn draw_and_rename(figure: &impl Figure, (png_tmp, png): (&Path, &Path), (svg_tmp, svg): (&Path, &Path)) -> Result<()> {
    let fail = |p: &Path, e: String| OccamError::bad_file(p, format!("drawing figure: {e}"));
    {
        let root = BitMapBackend::new(png_tmp, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(png, e.to_string()))?;
        figure.draw(&root).map_err(|e| fail(png, e))?;
        root.present().map_err(|e| fail(png, e.to_string()))?;
    }
    {
        let root = SVGBackend::new(svg_tmp, figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(svg, e.to_string()))?;
        figure.draw(&root).map_err(|e| fail(svg, e))?;
        root.present().map_err(|e| fail(svg, e.to_string()))?;
    }
    for (t, p) in [(png_tmp, png), (svg_tmp, svg)] {
        std::fs::rename(t, p).map_err(|e| OccamError::io(p, e))?;
    }
    Ok(())
}

/// A named curve or point set.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
}

/// A palette that stays distinguishable in print.
pub const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// One panel of line series over x ∈ [x0, x1], with dashed vertical markers.
#[derive(Debug, Clone)]
pub struct LinePanel {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_range: (f64, f64),
    pub series: Vec<Series>,
    pub markers: Vec<f64>,
    pub log_y: bool,
}

/// Line panels stacked vertically.
pub struct StackedLines {
    pub panels: Vec<LinePanel>,
    pub width: u32,
    pub panel_height: u32,
}

impl Figure for StackedLines {
    fn size(&self) -> (u32, u32) {
        (self.width, self.panel_height * self.panels.len() as u32)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        for (panel, sub) in self.panels.iter().zip(area.split_evenly((self.panels.len(), 1))) {
            draw_lines(&sub, panel)?;
        }
        Ok(())
    }
}

/// One region-boundary map: a `side × side` mask (true = boundary) and anchor points.
pub struct RegionPanel {
    pub title: String,
    pub side: usize,
    pub boundary: Vec<bool>,
    pub anchors: Vec<(f64, f64)>,
}

/// Region-boundary maps side by side (see [`draw_boundaries`]).
pub struct RegionMaps {
    pub panels: Vec<RegionPanel>,
}

impl Figure for RegionMaps {
    fn size(&self) -> (u32, u32) {
        // About one screen pixel per grid cell, so boundaries stay legible.
        let side = self.panels.iter().map(|p| p.side).max().unwrap_or(0) as u32;
        let panel = (side + 120).max(620);
        (panel * self.panels.len() as u32, panel + 20)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        for (p, sub) in self.panels.iter().zip(area.split_evenly((1, self.panels.len()))) {
            draw_boundaries(&sub, &p.title, p.side, &p.boundary, &p.anchors)?;
        }
        Ok(())
    }
}

/// Compact tick labels: 0.02, 1.5, 300, 2e4, 5e-4.
fn tick(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 {
        "0".into()
    } else if !(1e-3..1e4).contains(&a) {
        let e = a.log10().floor() as i32;
        let m = v / 10f64.powi(e);
        if (m.round() - m).abs() < 0.05 {
            format!("{:.0}e{e}", m)
        } else {
            format!("{m:.1}e{e}")
        }
    } else {
        let t = format!("{v:.3}");
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws a [`LinePanel`] into `area`.
pub fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    panel: &LinePanel,
) -> std::result::Result<(), String> {
    let ys = panel
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite() && (!panel.log_y || *v > 0.0));
    let (mut lo, mut hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        (lo, hi) = (if panel.log_y { 1e-3 } else { 0.0 }, 1.0);
    }
    if !panel.log_y {
        lo = lo.min(0.0);
    }
    let pad = if panel.log_y { 1.5 } else { 0.05 * (hi - lo).max(1e-12) };
    let mut builder = ChartBuilder::on(area);
    let chart = builder
        .caption(&panel.title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70);
    let (x0, x1) = panel.x_range;
    macro_rules! finish {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(&panel.x_label)
                .y_desc(&panel.y_label)
                .label_style(("sans-serif", 14))
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            for &m in &panel.markers {
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![
                            (m, lo_y(panel.log_y, lo)),
                            (
                                m,
                                hi * if panel.log_y { pad } else { 1.0 } + if panel.log_y { 0.0 } else { pad },
                            ),
                        ],
                        6,
                        4,
                        BLACK.mix(0.5).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            for s in &panel.series {
                chart
                    .draw_series(LineSeries::new(
                        s.points.iter().copied().filter(|p| p.1.is_finite()),
                        s.color.stroke_width(2),
                    ))
                    .map_err(err)?
                    .label(&s.name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], s.color.stroke_width(2)));
            }
            if panel.series.len() > 1 {
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.85))
                    .border_style(BLACK)
                    .label_font(("sans-serif", 14))
                    .draw()
                    .map_err(err)?;
            }
        }};
    }
    if panel.log_y {
        finish!(
            chart
                .build_cartesian_2d(x0..x1, ((lo / pad).max(1e-300)..hi * pad).log_scale())
                .map_err(err)?
        );
    } else {
        finish!(chart.build_cartesian_2d(x0..x1, lo..hi + pad).map_err(err)?);
    }
    Ok(())
}

fn lo_y(log: bool, lo: f64) -> f64 {
    if log { lo / 1.5 } else { lo }
}

/// A boolean image (row-major, `side × side`, true = boundary) drawn over [−1, 1]², with
/// anchor points as red dots.
pub fn draw_boundaries<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    side: usize,
    boundary: &[bool],
    anchors: &[(f64, f64)],
) -> std::result::Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(-1.0f64..1.0, -1.0f64..1.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .label_style(("sans-serif", 12))
        .draw()
        .map_err(err)?;
    let cell = 2.0 / side as f64;
    // One rectangle per horizontal run of boundary pixels keeps the SVG small.
    let mut runs = Vec::new();
    for row in 0..side {
        let mut col = 0;
        while col < side {
            if boundary[row * side + col] {
                let start = col;
                while col < side && boundary[row * side + col] {
                    col += 1;
                }
                runs.push((row, start, col));
            } else {
                col += 1;
            }
        }
    }
    chart
        .draw_series(runs.into_iter().map(|(row, c0, c1)| {
            let y = 1.0 - (row + 1) as f64 * cell;
            Rectangle::new(
                [(-1.0 + c0 as f64 * cell, y), (-1.0 + c1 as f64 * cell, y + cell)],
                BLACK.filled(),
            )
        }))
        .map_err(err)?;
    chart
        .draw_series(
            anchors
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 6, RGBColor(214, 39, 40).filled())),
        )
        .map_err(err)?;
    Ok(())
}

/// A scatter plot with optional y = x diagonal and reference curves.
#[derive(Debug, Clone)]
pub struct Scatter {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
    /// Point sets (drawn as dots).
    pub series: Vec<Series>,
    /// Curves (drawn as lines).
    pub curves: Vec<Series>,
    pub diagonal: bool,
}

/// Scatter panels side by side.
pub struct ScatterRow {
    pub panels: Vec<Scatter>,
    pub panel_size: (u32, u32),
}

impl Figure for ScatterRow {
    fn size(&self) -> (u32, u32) {
        (self.panel_size.0 * self.panels.len() as u32, self.panel_size.1)
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        for (panel, sub) in self.panels.iter().zip(area.split_evenly((1, self.panels.len()))) {
            draw_scatter(&sub, panel)?;
        }
        Ok(())
    }
}

fn axis_range(values: impl Iterator<Item = f64> + Clone, log: bool) -> (f64, f64) {
    let vals = values.filter(|v| v.is_finite() && (!log || *v > 0.0));
    let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (lo, hi) = if hi / lo < 1.5 { (lo / 1.5, hi * 1.5) } else { (lo, hi) };
        (lo / 1.2, hi * 1.2)
    } else {
        let pad = ((hi - lo) * 0.06).max(1e-3 * hi.abs().max(1e-3));
        (lo - pad, hi + pad)
    }
}

/// Draws one [`Scatter`] panel.
pub fn draw_scatter<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, s: &Scatter) -> std::result::Result<(), String> {
    let pts = || s.series.iter().flat_map(|x| x.points.iter().copied());
    let (mut x0, mut x1) = axis_range(pts().map(|p| p.0), s.log_x);
    let (mut y0, mut y1) = axis_range(pts().map(|p| p.1), s.log_y);
    if s.diagonal {
        // A shared range makes y = x the true diagonal.
        (x0, x1, y0, y1) = (x0.min(y0), x1.max(y1), x0.min(y0), x1.max(y1));
    }
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(&s.title, ("sans-serif", 18))
        .margin(14)
        .x_label_area_size(45)
        .y_label_area_size(65);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .x_desc(&s.x_label)
                .y_desc(&s.y_label)
                .label_style(("sans-serif", 13))
                .x_label_formatter(&|v| tick(*v))
                .y_label_formatter(&|v| tick(*v))
                .light_line_style(RGBColor(235, 235, 235))
                .draw()
                .map_err(err)?;
            if s.diagonal {
                chart
                    .draw_series(LineSeries::new(
                        vec![(x0, x0), (x1, x1)],
                        BLACK.mix(0.6).stroke_width(1),
                    ))
                    .map_err(err)?
                    .label("y = x")
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.6)));
            }
            for c in &s.curves {
                let in_range = c
                    .points
                    .iter()
                    .copied()
                    .filter(|p| p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1 && p.1.is_finite());
                chart
                    .draw_series(LineSeries::new(in_range, c.color.stroke_width(2)))
                    .map_err(err)?
                    .label(&c.name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.color.stroke_width(2)));
            }
            for p in &s.series {
                let color = p.color;
                chart
                    .draw_series(
                        p.points
                            .iter()
                            .copied()
                            .filter(|q| {
                                q.0.is_finite() && q.1.is_finite() && (!s.log_x || q.0 > 0.0) && (!s.log_y || q.1 > 0.0)
                            })
                            .map(move |q| Circle::new(q, 3, color.mix(0.7).filled())),
                    )
                    .map_err(err)?
                    .label(&p.name)
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .label_font(("sans-serif", 13))
                .draw()
                .map_err(err)?;
        }};
    }
    match (s.log_x, s.log_y) {
        (true, true) => body!(
            builder
                .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())
                .map_err(err)?
        ),
        (true, false) => body!(builder.build_cartesian_2d((x0..x1).log_scale(), y0..y1).map_err(err)?),
        (false, true) => body!(builder.build_cartesian_2d(x0..x1, (y0..y1).log_scale()).map_err(err)?),
        (false, false) => body!(builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?),
    }
    Ok(())
}
