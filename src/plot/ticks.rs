//! Axis ticks: which values get a labelled tick, and how their labels read. Log axes over a
//! short range get intermediate ticks (1-2-5 per decade, or plain steps inside one decade);
//! every choice is checked against the axis length so that no two labels overlap.

/// One labelled tick: its value in data units and the text printed at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    pub value: f64,
    pub label: String,
}

/// An axis to put ticks on: its data range, scale and drawn size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickAxis {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    /// Length of the axis on screen, in pixels.
    pub length_px: f64,
    /// Horizontal axes place labels side by side; vertical ones stack them.
    pub horizontal: bool,
    pub font_px: f64,
}

/// Space kept free between two neighbouring labels, in pixels.
const LABEL_GAP_PX: f64 = 8.0;
/// More labelled ticks than this make an axis hard to read, even where they would fit.
const MAX_TICKS: usize = 10;

/// Estimated width of `label` drawn at `font_px` (DejaVu Sans digits are 0.64 em wide).
pub fn label_width_px(label: &str, font_px: f64) -> f64 {
    label
        .chars()
        .map(|c| match c {
            '.' | ',' | ':' | ' ' => 0.33,
            '-' | '−' => 0.42,
            _ => 0.64,
        })
        .sum::<f64>()
        * font_px
}

impl TickAxis {
    /// Where `value` falls along the axis, in pixels from the low end.
    pub fn position_px(&self, value: f64) -> f64 {
        let t = |v: f64| if self.log { v.log10() } else { v };
        let span = t(self.hi) - t(self.lo);
        if span <= 0.0 {
            return 0.0;
        }
        (t(value) - t(self.lo)) / span * self.length_px
    }

    /// Extent of a label along the axis, in pixels.
    fn extent_px(&self, label: &str) -> f64 {
        if self.horizontal {
            label_width_px(label, self.font_px)
        } else {
            self.font_px * 1.2
        }
    }

    /// Whether the first or last label of a horizontal axis reaches more than a margin past
    /// the axis ends (where it would be cut off at the figure's edge).
    pub fn labels_overhang(&self, ticks: &[Tick]) -> bool {
        const MARGIN_PX: f64 = 10.0;
        self.horizontal
            && ticks.iter().any(|t| {
                let (p, half) = (self.position_px(t.value), label_width_px(&t.label, self.font_px) / 2.0);
                p - half < -MARGIN_PX - 40.0 || p + half > self.length_px + MARGIN_PX
            })
    }

    /// Whether any two neighbouring labels of `ticks` overlap on this axis.
    pub fn labels_overlap(&self, ticks: &[Tick]) -> bool {
        ticks.windows(2).any(|w| {
            let gap = (self.position_px(w[1].value) - self.position_px(w[0].value)).abs();
            gap < (self.extent_px(&w[0].label) + self.extent_px(&w[1].label)) / 2.0 + LABEL_GAP_PX
        })
    }
}

/// The densest readable set of labelled ticks for `axis`: at least three where the axis is
/// long enough, never two labels overlapping, never more than ten.
pub fn choose_ticks(axis: &TickAxis) -> Vec<Tick> {
    let (lo, hi) = (axis.lo.min(axis.hi), axis.lo.max(axis.hi));
    if !(lo.is_finite() && hi.is_finite()) || (axis.log && lo <= 0.0) {
        return Vec::new();
    }
    let candidates = if axis.log {
        let mut c = log_candidates(lo, hi);
        c.extend(linear_candidates(lo, hi));
        c
    } else {
        linear_candidates(lo, hi)
    };
    let fits = |t: &Vec<Tick>| t.len() <= MAX_TICKS && !axis.labels_overlap(t) && !axis.labels_overhang(t);
    let pick = |min: usize| candidates.iter().find(|t| t.len() >= min && fits(t)).cloned();
    pick(3)
        .or_else(|| thinned(axis, &candidates))
        .or_else(|| pick(2))
        .or_else(|| pick(1))
        .or_else(|| {
            candidates
                .iter()
                .filter(|t| !t.is_empty())
                .min_by_key(|t| t.len())
                .cloned()
        })
        .unwrap_or_default()
}

/// On a log axis, evenly stepped labels crowd at the high end: the candidate that keeps the
/// largest share of its ticks (at least three) once crowded ones are dropped, low end first.
fn thinned(axis: &TickAxis, candidates: &[Vec<Tick>]) -> Option<Vec<Tick>> {
    let mut best: Option<(f64, Vec<Tick>)> = None;
    for c in candidates.iter().filter(|c| c.len() >= 3) {
        let mut kept: Vec<Tick> = Vec::new();
        for t in c {
            let mut trial = kept.last().cloned().into_iter().collect::<Vec<_>>();
            trial.push(t.clone());
            if !axis.labels_overlap(&trial) && !axis.labels_overhang(&trial) {
                kept.push(t.clone());
            }
        }
        let share = kept.len() as f64 / c.len() as f64;
        if kept.len() >= 3 && kept.len() <= MAX_TICKS && best.as_ref().is_none_or(|b| share > b.0) {
            best = Some((share, kept));
        }
    }
    best.map(|b| b.1)
}

/// Tick sets at 1-2-5, 1-3 and 1 per decade, then every 2nd, 5th, 10th decade (densest first).
fn log_candidates(lo: f64, hi: f64) -> Vec<Vec<Tick>> {
    let (d0, d1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let mut out = Vec::new();
    for mantissas in [&[1.0, 2.0, 5.0][..], &[1.0, 3.0][..], &[1.0][..]] {
        let values: Vec<f64> = (d0..=d1)
            .flat_map(|d| mantissas.iter().map(move |m| m * 10f64.powi(d)))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect();
        out.push(label_values(&values, None));
    }
    for every in [2, 5, 10, 20, 50] {
        let values: Vec<f64> = (d0..=d1)
            .filter(|d| d.rem_euclid(every) == 0)
            .map(|d| 10f64.powi(d))
            .filter(|v| *v >= lo * (1.0 - 1e-9) && *v <= hi * (1.0 + 1e-9))
            .collect();
        out.push(label_values(&values, None));
    }
    out
}

/// Evenly spaced tick sets with steps 1, 2 and 5 × 10^k, densest first.
fn linear_candidates(lo: f64, hi: f64) -> Vec<Vec<Tick>> {
    let span = hi - lo;
    if span <= 0.0 {
        return vec![label_values(&[lo], None)];
    }
    let top = span.log10().ceil() as i32;
    let mut out = Vec::new();
    for exponent in (top - 3)..=(top + 1) {
        for m in [1.0, 2.0, 5.0] {
            let step = m * 10f64.powi(exponent);
            let first = (lo / step - 1e-9).ceil() as i64;
            let last = (hi / step + 1e-9).floor() as i64;
            if last - first > 50 {
                continue;
            }
            let values: Vec<f64> = (first..=last).map(|k| k as f64 * step).collect();
            out.push(label_values(&values, Some(step)));
        }
    }
    out
}

/// Labels for `values`, all in one format: plain decimals with as many places as `step`
/// needs (or as the values need), and scientific notation for very large or small values.
fn label_values(values: &[f64], step: Option<f64>) -> Vec<Tick> {
    // A stepped tick within rounding of zero is zero (log ticks are never zero).
    let is_zero = |v: f64| step.is_some_and(|s| v.abs() < s * 1e-9);
    let largest = values.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let smallest = values
        .iter()
        .filter(|v| !is_zero(**v))
        .fold(f64::INFINITY, |m, v| m.min(v.abs()));
    let scientific = largest >= 1e5 || smallest < 1e-3;
    values
        .iter()
        .map(|&v| {
            let v = if is_zero(v) { 0.0 } else { v };
            let label = if scientific {
                scientific_label(v, step)
            } else {
                let places = match step {
                    Some(s) => decimals_for(s),
                    None => decimals_for(v),
                };
                format!("{v:.places$}")
            };
            Tick { value: v, label }
        })
        .collect()
}

/// Decimal places needed to write `v` (up to 6), e.g. 0.25 → 2, 300 → 0.
fn decimals_for(v: f64) -> usize {
    (0..=6)
        .find(|&p| {
            let scaled = v.abs() * 10f64.powi(p as i32);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(6)
}

/// `2e5`, `2.5e-4`: the mantissa with the places the step needs at this value's exponent.
fn scientific_label(v: f64, step: Option<f64>) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exponent = v.abs().log10().floor() as i32;
    let mantissa = v / 10f64.powi(exponent);
    let places = match step {
        Some(s) => decimals_for(s / 10f64.powi(exponent)).min(3),
        None => decimals_for(mantissa).min(3),
    };
    format!("{mantissa:.places$}e{exponent}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(lo: f64, hi: f64, log: bool) -> TickAxis {
        TickAxis {
            lo,
            hi,
            log,
            length_px: 400.0,
            horizontal: true,
            font_px: 13.0,
        }
    }

    #[test]
    fn wide_log_axes_use_decades_and_labels_stay_distinct() {
        let t = choose_ticks(&axis(1e-6, 1e2, true));
        assert!(t.len() >= 3, "{t:?}");
        let labels: std::collections::HashSet<_> = t.iter().map(|t| &t.label).collect();
        assert_eq!(labels.len(), t.len());
    }

    #[test]
    fn log_ticks_many_decades_below_the_top_keep_their_values() {
        let t = label_values(&[1e-14, 1e-12, 1.0], None);
        let labels: Vec<&str> = t.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["1e-14", "1e-12", "1e0"]);
        assert!(t.iter().all(|t| t.value > 0.0));
    }

    #[test]
    fn small_fractions_get_enough_places() {
        let t = choose_ticks(&axis(0.0, 0.3, false));
        assert!(t.iter().any(|t| t.label == "0.10" || t.label == "0.1"), "{t:?}");
    }

    #[test]
    fn scientific_labels_read_short() {
        assert_eq!(scientific_label(2e5, Some(1e5)), "2e5");
        assert_eq!(scientific_label(2.5e-4, Some(5e-5)), "2.5e-4");
    }
}
