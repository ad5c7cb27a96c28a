//! Charts of points and lines on linear or log axes, laid out in a grid under a title strip
//! with one legend strip below the panels, so that no legend ever covers data.

use super::ticks::{Tick, TickAxis, choose_ticks, label_width_px};
use super::{Figure, Series, err};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// One axis of a chart: its description and scale.
#[derive(Debug, Clone, PartialEq)]
pub struct AxisSpec {
    pub label: String,
    pub log: bool,
}

impl AxisSpec {
    pub fn linear(label: impl Into<String>) -> AxisSpec {
        AxisSpec {
            label: label.into(),
            log: false,
        }
    }
    pub fn log(label: impl Into<String>) -> AxisSpec {
        AxisSpec {
            label: label.into(),
            log: true,
        }
    }
}

/// One panel: point sets (dots), curves (lines), dashed vertical markers, and optionally
/// the y = x diagonal on a shared range.
#[derive(Debug, Clone)]
pub struct Chart {
    pub title: String,
    pub x: AxisSpec,
    pub y: AxisSpec,
    /// A fixed x range; otherwise the data's.
    pub x_range: Option<(f64, f64)>,
    pub dots: Vec<Series>,
    pub lines: Vec<Series>,
    /// Vertical dashed lines at these x values.
    pub markers: Vec<f64>,
    /// What the dashed markers mean, for the legend.
    pub markers_name: String,
    pub diagonal: bool,
    /// Whether a linear y axis starts at zero.
    pub y_from_zero: bool,
}

impl Chart {
    pub fn new(title: impl Into<String>, x: AxisSpec, y: AxisSpec) -> Chart {
        Chart {
            title: title.into(),
            x,
            y,
            x_range: None,
            dots: Vec::new(),
            lines: Vec::new(),
            markers: Vec::new(),
            markers_name: String::new(),
            diagonal: false,
            y_from_zero: false,
        }
    }

    /// Whether the chart has any point it can draw.
    pub fn has_data(&self) -> bool {
        let ok =
            |s: &Series, x_log: bool, y_log: bool| s.points.iter().any(|p| usable(p.0, x_log) && usable(p.1, y_log));
        self.dots
            .iter()
            .chain(&self.lines)
            .any(|s| ok(s, self.x.log, self.y.log))
    }
}

/// Whether `v` can be drawn on an axis (finite, and positive on a log axis).
fn usable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

/// How a legend entry is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Swatch {
    Dot,
    Line,
    Dashed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    pub name: String,
    pub color: RGBColor,
    pub swatch: Swatch,
}

const LEGEND_FONT: f64 = 14.0;
pub const LEGEND_ROW_PX: u32 = 24;

/// Legend entries in rows that fit `width` pixels.
pub fn legend_rows(entries: &[LegendEntry], width: f64) -> Vec<Vec<(f64, &LegendEntry)>> {
    let mut rows: Vec<Vec<(f64, &LegendEntry)>> = Vec::new();
    let mut x = f64::INFINITY;
    for e in entries {
        let w = 34.0 + label_width_px(&e.name, LEGEND_FONT) + 26.0;
        if x + w > width - 20.0 {
            rows.push(Vec::new());
            x = 20.0;
        }
        rows.last_mut().expect("a row was pushed").push((x, e));
        x += w;
    }
    rows
}

/// Draws a legend strip: entries left to right, wrapping into rows.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> std::result::Result<(), String> {
    let width = area.dim_in_pixel().0 as f64;
    let font = ("sans-serif", LEGEND_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (row, items) in legend_rows(entries, width).iter().enumerate() {
        let y = 6 + row as i32 * LEGEND_ROW_PX as i32 + LEGEND_ROW_PX as i32 / 2;
        for (x, e) in items {
            let x = *x as i32;
            match e.swatch {
                Swatch::Dot => area.draw(&Circle::new((x + 13, y), 5, e.color.filled())),
                Swatch::Line => area.draw(&PathElement::new(vec![(x, y), (x + 26, y)], e.color.stroke_width(3))),
                Swatch::Dashed => {
                    for k in 0..3 {
                        area.draw(&PathElement::new(
                            vec![(x + 10 * k, y), (x + 10 * k + 6, y)],
                            e.color.stroke_width(2),
                        ))
                        .map_err(err)?;
                    }
                    Ok(())
                }
            }
            .map_err(err)?;
            area.draw(&Text::new(e.name.clone(), (x + 34, y), font.clone()))
                .map_err(err)?;
        }
    }
    Ok(())
}

const TITLE_FONT: f64 = 15.0;
const TITLE_LINE_PX: u32 = 20;

/// The title's words in lines that fit `width` pixels.
pub fn title_lines(title: &str, width: f64) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in title.split(' ') {
        match lines.last_mut() {
            Some(line) if label_width_px(&format!("{line} {word}"), TITLE_FONT) <= width - 30.0 => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// Height of a title strip holding `title` at `width` pixels (0 for no title).
pub fn title_height(title: &str, width: f64) -> u32 {
    if title.is_empty() {
        0
    } else {
        title_lines(title, width).len() as u32 * TITLE_LINE_PX + 14
    }
}

/// Draws a title strip (the figure's short caption), centred, wrapped over lines.
pub fn draw_title<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, title: &str) -> std::result::Result<(), String> {
    let width = area.dim_in_pixel().0 as f64;
    let font = ("sans-serif", TITLE_FONT).into_font().color(&RGBColor(40, 40, 40));
    for (i, line) in title_lines(title, width).into_iter().enumerate() {
        let x = ((width - label_width_px(&line, TITLE_FONT)) / 2.0).max(10.0) as i32;
        area.draw(&Text::new(line, (x, 9 + i as i32 * TITLE_LINE_PX as i32), font.clone()))
            .map_err(err)?;
    }
    Ok(())
}

/// Charts in a grid under a title strip, with one legend strip below.
#[derive(Debug, Clone)]
pub struct ChartGrid {
    /// The figure's short caption (study and configuration); empty for none.
    pub title: String,
    pub charts: Vec<Chart>,
    pub columns: usize,
    pub panel_size: (u32, u32),
}

impl ChartGrid {
    /// The legend: every named series once (first colour wins), the diagonal and markers.
    pub fn legend(&self) -> Vec<LegendEntry> {
        let mut out: Vec<LegendEntry> = Vec::new();
        let mut add = |name: &str, color: RGBColor, swatch: Swatch| {
            if !name.is_empty() && !out.iter().any(|e| e.name == name) {
                out.push(LegendEntry {
                    name: name.to_string(),
                    color,
                    swatch,
                });
            }
        };
        for c in &self.charts {
            for s in &c.dots {
                add(&s.name, s.color, Swatch::Dot);
            }
            for s in &c.lines {
                add(&s.name, s.color, Swatch::Line);
            }
            if c.diagonal {
                add("y = x", RGBColor(110, 110, 110), Swatch::Line);
            }
            if !c.markers.is_empty() {
                add(&c.markers_name, RGBColor(110, 110, 110), Swatch::Dashed);
            }
        }
        out
    }

    fn rows(&self) -> usize {
        self.charts.len().div_ceil(self.columns.max(1))
    }

    fn legend_height(&self) -> u32 {
        let width = self.panel_size.0 as f64 * self.columns.min(self.charts.len()).max(1) as f64;
        let rows = legend_rows(&self.legend(), width).len() as u32;
        if rows == 0 { 0 } else { rows * LEGEND_ROW_PX + 12 }
    }

    fn title_height(&self) -> u32 {
        let width = self.panel_size.0 as f64 * self.columns.min(self.charts.len()).max(1) as f64;
        title_height(&self.title, width)
    }
}

impl Figure for ChartGrid {
    fn size(&self) -> (u32, u32) {
        let cols = self.columns.min(self.charts.len()).max(1) as u32;
        (
            self.panel_size.0 * cols,
            self.title_height() + self.panel_size.1 * self.rows() as u32 + self.legend_height(),
        )
    }

    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        let (title, rest) = area.split_vertically(self.title_height());
        if !self.title.is_empty() {
            draw_title(&title, &self.title)?;
        }
        let panels_px = self.panel_size.1 * self.rows() as u32;
        let (panels, legend) = rest.split_vertically(panels_px);
        let cols = self.columns.min(self.charts.len()).max(1);
        for (chart, sub) in self.charts.iter().zip(panels.split_evenly((self.rows(), cols))) {
            draw_chart(&sub, chart)?;
        }
        draw_legend(&legend, &self.legend())
    }
}

/// The drawn range of one axis, in data units, from the values it must show.
fn data_range(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| usable(*v, log))
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    if !lo.is_finite() {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        let (a, b) = (lo.log10(), hi.log10());
        let span = (b - a).max(0.1);
        let mid = (a + b) / 2.0;
        let (a, b) = (mid - span / 2.0, mid + span / 2.0);
        (10f64.powf(a - 0.06 * span), 10f64.powf(b + 0.06 * span))
    } else {
        let lo = if from_zero { lo.min(0.0) } else { lo };
        let span = (hi - lo).max(1e-3 * hi.abs().max(1e-3));
        let pad = 0.06 * span;
        (if from_zero && lo == 0.0 { 0.0 } else { lo - pad }, hi + pad)
    }
}

/// A linear drawing coordinate whose labelled ticks are exactly the given positions.
#[derive(Debug, Clone)]
pub struct TickedRange {
    pub lo: f64,
    pub hi: f64,
    pub keys: Vec<f64>,
}

impl plotters::coord::ranged1d::Ranged for TickedRange {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;
    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.hi - self.lo;
        let t = if span == 0.0 { 0.5 } else { (value - self.lo) / span };
        limit.0 + (t * (limit.1 - limit.0) as f64).round() as i32
    }
    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Maps a data value to the chart's (linear) drawing coordinate.
fn to_plot(v: f64, log: bool) -> f64 {
    if log { v.log10() } else { v }
}

/// Label of the tick drawn at plot coordinate `v`.
fn label_at(ticks: &[Tick], log: bool, v: f64) -> String {
    ticks
        .iter()
        .find(|t| (to_plot(t.value, log) - v).abs() <= 1e-9 * v.abs().max(1.0))
        .map(|t| t.label.clone())
        .unwrap_or_default()
}

const AXIS_FONT: f64 = 14.0;

/// The drawn ranges (x0, x1, y0, y1) in data units: the dots' (or, without dots, the
/// lines'), padded; one shared range when the chart shows y = x.
fn chart_ranges(c: &Chart) -> (f64, f64, f64, f64) {
    let range_source = if c.dots.is_empty() { &c.lines } else { &c.dots };
    let xs = || range_source.iter().flat_map(|s| s.points.iter().map(|p| p.0));
    let ys = || range_source.iter().flat_map(|s| s.points.iter().map(|p| p.1));
    let shared = c.diagonal && c.x.log == c.y.log;
    if shared {
        // One range for both axes, so that y = x is the true diagonal.
        let (lo, hi) = data_range(xs().chain(ys()), c.x.log, false);
        (lo, hi, lo, hi)
    } else {
        let (x0, x1) = c.x_range.unwrap_or_else(|| data_range(xs(), c.x.log, false));
        let (y0, y1) = data_range(ys(), c.y.log, c.y_from_zero && !c.y.log);
        (x0, x1, y0, y1)
    }
}

/// Draws one [`Chart`] into `area`.
pub fn draw_chart<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, c: &Chart) -> std::result::Result<(), String> {
    let (x0, x1, y0, y1) = chart_ranges(c);
    let (w, h) = area.dim_in_pixel();
    let x_ticks = choose_ticks(&TickAxis {
        lo: x0,
        hi: x1,
        log: c.x.log,
        length_px: w as f64 - 110.0,
        horizontal: true,
        font_px: AXIS_FONT,
    });
    let y_ticks = choose_ticks(&TickAxis {
        lo: y0,
        hi: y1,
        log: c.y.log,
        length_px: h as f64 - 110.0,
        horizontal: false,
        font_px: AXIS_FONT,
    });
    let y_label_px = y_ticks
        .iter()
        .map(|t| label_width_px(&t.label, AXIS_FONT))
        .fold(0.0, f64::max);
    let (px0, px1, py0, py1) = (
        to_plot(x0, c.x.log),
        to_plot(x1, c.x.log),
        to_plot(y0, c.y.log),
        to_plot(y1, c.y.log),
    );
    let x_keys: Vec<f64> = x_ticks.iter().map(|t| to_plot(t.value, c.x.log)).collect();
    let y_keys: Vec<f64> = y_ticks.iter().map(|t| to_plot(t.value, c.y.log)).collect();
    let mut chart = ChartBuilder::on(area)
        .caption(&c.title, ("sans-serif", 17))
        .margin(12)
        .x_label_area_size(46)
        .y_label_area_size((y_label_px + 34.0) as u32)
        .build_cartesian_2d(
            TickedRange {
                lo: px0,
                hi: px1,
                keys: x_keys,
            },
            TickedRange {
                lo: py0,
                hi: py1,
                keys: y_keys,
            },
        )
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&c.x.label)
        .y_desc(&c.y.label)
        .label_style(("sans-serif", AXIS_FONT as u32))
        .axis_desc_style(("sans-serif", 14))
        .x_label_formatter(&|v| label_at(&x_ticks, c.x.log, *v))
        .y_label_formatter(&|v| label_at(&y_ticks, c.y.log, *v))
        .bold_line_style(RGBColor(228, 228, 228))
        .draw()
        .map_err(err)?;
    let inside = |p: &(f64, f64)| {
        usable(p.0, c.x.log) && usable(p.1, c.y.log) && p.0 >= x0 && p.0 <= x1 && p.1 >= y0 && p.1 <= y1
    };
    let plot = |p: (f64, f64)| (to_plot(p.0, c.x.log), to_plot(p.1, c.y.log));
    if !c.has_data() {
        let (cx, cy) = ((px0 + px1) / 2.0, (py0 + py1) / 2.0);
        chart
            .draw_series(std::iter::once(Text::new(
                "no data: not measured".to_string(),
                (cx, cy),
                ("sans-serif", 16).into_font().color(&RGBColor(120, 120, 120)),
            )))
            .map_err(err)?;
        return Ok(());
    }
    if c.diagonal {
        chart
            .draw_series(LineSeries::new(
                vec![(px0, px0), (px1, px1)],
                RGBColor(110, 110, 110).stroke_width(1),
            ))
            .map_err(err)?;
    }
    for &m in &c.markers {
        chart
            .draw_series(DashedLineSeries::new(
                vec![(to_plot(m, c.x.log), py0), (to_plot(m, c.x.log), py1)],
                6,
                4,
                RGBColor(110, 110, 110).stroke_width(1),
            ))
            .map_err(err)?;
    }
    // Dots first, so that reference curves stay visible on top of dense point clouds.
    for s in &c.dots {
        let (color, radius) = if s.points.len() > 300 {
            (s.color.mix(0.45), 2)
        } else {
            (s.color.mix(0.8), 3)
        };
        chart
            .draw_series(
                s.points
                    .iter()
                    .copied()
                    .filter(inside)
                    .map(|p| Circle::new(plot(p), radius, color.filled())),
            )
            .map_err(err)?;
    }
    for s in &c.lines {
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied().filter(inside).map(plot),
                s.color.stroke_width(2),
            ))
            .map_err(err)?;
    }
    Ok(())
}
