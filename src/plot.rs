//! Figures as PNG and SVG (plotters): trajectory profiles, region maps, and the charts the
//! reports reuse. Every figure is drawn once per backend from one drawing function.
//! Axis ticks live in [`ticks`], charts and legends in [`chart`], region maps in [`regions`]
//! (exact polygon maps in [`exact_regions`]).

pub mod chart;
pub mod exact_regions;
pub mod regions;
pub mod ticks;

pub use chart::{AxisSpec, Chart, ChartGrid, LegendEntry, Swatch};
pub use regions::{RegionFigure, RegionMaps, RegionPanel, RegionShapes};

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
    let drawn = draw_both(figure, [&png_tmp, &svg_tmp], [&png, &svg]).and_then(|()| {
        for (t, p) in [(&png_tmp, &png), (&svg_tmp, &svg)] {
            std::fs::rename(t, p).map_err(|e| OccamError::io(p, e))?;
        }
        Ok(())
    });
    if drawn.is_err() {
        let _ = std::fs::remove_file(&png_tmp);
        let _ = std::fs::remove_file(&svg_tmp);
    }
    drawn?;
    Ok([png, svg])
}

/// Draws `figure` into the temporary PNG and SVG files `tmp`; errors name `dest`.
fn draw_both(figure: &impl Figure, tmp: [&Path; 2], dest: [&Path; 2]) -> Result<()> {
    let fail = |p: &Path, e: String| OccamError::bad_file(p, format!("drawing figure: {e}"));
    {
        let root = BitMapBackend::new(tmp[0], figure.size()).into_drawing_area();
        root.fill(&WHITE).map_err(|e| fail(dest[0], e.to_string()))?;
        figure.draw(&root).map_err(|e| fail(dest[0], e))?;
        root.present().map_err(|e| fail(dest[0], e.to_string()))?;
    }
    let root = SVGBackend::new(tmp[1], figure.size()).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(dest[1], e.to_string()))?;
    figure.draw(&root).map_err(|e| fail(dest[1], e))?;
    root.present().map_err(|e| fail(dest[1], e.to_string()))
}

/// A named curve or point set.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    pub color: RGBColor,
}

/// A palette that stays distinguishable in print (the ten "tab10" colours, most distinct first).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
];

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

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

impl LinePanel {
    /// The same panel as a [`Chart`]; the dashed markers are named `markers_name`.
    pub fn to_chart(&self, markers_name: &str) -> Chart {
        Chart {
            x_range: Some(self.x_range),
            lines: self.series.clone(),
            markers: self.markers.clone(),
            markers_name: markers_name.to_string(),
            y_from_zero: !self.log_y,
            ..Chart::new(
                self.title.clone(),
                AxisSpec::linear(self.x_label.clone()),
                AxisSpec {
                    label: self.y_label.clone(),
                    log: self.log_y,
                },
            )
        }
    }
}

/// Line panels stacked vertically, with one legend strip below them.
pub struct StackedLines {
    pub panels: Vec<LinePanel>,
    pub width: u32,
    pub panel_height: u32,
}

impl StackedLines {
    fn as_grid(&self) -> ChartGrid {
        ChartGrid {
            title: String::new(),
            charts: self.panels.iter().map(|p| p.to_chart("anchor points")).collect(),
            columns: 1,
            panel_size: (self.width, self.panel_height),
        }
    }
}

impl Figure for StackedLines {
    fn size(&self) -> (u32, u32) {
        self.as_grid().size()
    }
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        self.as_grid().draw(area)
    }
}
