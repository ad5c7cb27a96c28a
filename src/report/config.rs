//! What was run: each study's training and measurement settings (read from the trials'
//! stored specs and the store's sweeps table), its scale (one of the built-in quick or
//! paper-scale studies, or custom), the short configuration texts that caption every
//! figure, and which setting tells a figure's series apart.

use crate::data::Augmentation;
use crate::sweep::spec::MeasureSpec;
use crate::sweep::{SweepSpec, TrialRecord, TrialStatus};
use crate::train::TrainConfig;
use serde::Serialize;
use std::collections::BTreeMap;

/// Whether a study is one of the built-in ones, and at which scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// The built-in reduced-scale study (`occam reproduce --quick`).
    Quick,
    /// The built-in paper-scale study (`occam reproduce`).
    Paper,
    /// Any other study (a user's own sweep, or a built-in one with changed settings).
    Custom,
}

impl Scale {
    pub fn name(self) -> &'static str {
        match self {
            Scale::Quick => "quick",
            Scale::Paper => "paper",
            Scale::Custom => "custom",
        }
    }
}

/// The scale of a stored sweep spec: equal to a built-in study (the datasets aside, which
/// `reproduce --data` replaces) at quick or paper scale, or custom.
pub fn scale_of(spec: Option<&SweepSpec>) -> Scale {
    let Some(spec) = spec else { return Scale::Custom };
    let same = |text: &str| {
        toml::from_str::<SweepSpec>(text).is_ok_and(|mut built| {
            built.axes.data.clone_from(&spec.axes.data);
            built == *spec
        })
    };
    crate::sweep::studies::BUILT_IN
        .iter()
        .find(|s| s.0 == spec.name)
        .and_then(|(_, quick, paper)| {
            if same(quick) {
                Some(Scale::Quick)
            } else if same(paper) {
                Some(Scale::Paper)
            } else {
                None
            }
        })
        .unwrap_or(Scale::Custom)
}

/// A training setting and how to read it from a configuration, as text.
type SettingReader = (&'static str, fn(&TrainConfig) -> String);

/// The training settings a report shows, in the order it shows them.
const SETTINGS: [SettingReader; 15] = [
    ("data", |t| dataset_name(&t.data)),
    ("activation", |t| t.activation.name().into()),
    ("width", |t| t.width.to_string()),
    ("depth", |t| t.depth.to_string()),
    ("optimizer", |t| t.optimizer.name().into()),
    ("learning rate", |t| t.lr.to_string()),
    ("batch", |t| t.batch.to_string()),
    ("steps", |t| thousands(t.steps)),
    ("training-set size", |t| match t.train_size {
        Some(n) => thousands(n),
        None => "all (up to 50,000)".into(),
    }),
    ("learning-rate decay", |t| {
        format!("×{} every {} epochs", t.lr_decay_factor, t.lr_decay_epochs)
    }),
    ("augmentation", |t| augmentation_text(&t.augment)),
    ("labels", |t| if t.random_labels { "random" } else { "true" }.into()),
    ("init scale", |t| t.init_scale.to_string()),
    ("stop at 100% training accuracy", |t| {
        if t.stop_at_100 { "yes" } else { "no" }.into()
    }),
    ("seed", |t| t.seed.to_string()),
];

/// The dataset's name without its directory (`mnist:/data/x` → `mnist`).
pub fn dataset_name(data: &str) -> String {
    data.split(':').next().unwrap_or(data).to_string()
}

/// 12345 → "12,345".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn augmentation_text(a: &Augmentation) -> String {
    if a.is_identity() {
        return "none".into();
    }
    let mut parts = Vec::new();
    if a.translate > 0 {
        parts.push(format!("shift ≤ {} px", a.translate));
    }
    for (on, name) in [(a.hflip, "h-flip"), (a.vflip, "v-flip"), (a.rotate90, "±90° rotation")] {
        if on {
            parts.push(name.to_string());
        }
    }
    parts.join(" + ")
}

/// One training setting of a study and its distinct values, in first-seen order.
#[derive(Debug, Clone, Serialize)]
pub struct Setting {
    pub name: String,
    pub values: Vec<String>,
}

impl Setting {
    /// "100", "100 / 200", or "2–8 (5 values)" when there are many.
    pub fn text(&self) -> String {
        match self.values.len() {
            0 => "—".into(),
            1..=4 => self.values.join(" / "),
            n => {
                let nums: Vec<f64> = self
                    .values
                    .iter()
                    .filter_map(|v| v.replace(',', "").parse().ok())
                    .collect();
                if nums.len() == n {
                    let lo = nums.iter().copied().fold(f64::INFINITY, f64::min);
                    let hi = nums.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    format!("{lo}–{hi} ({n} values)")
                } else {
                    format!("{} … ({n} values)", self.values[..3].join(" / "))
                }
            }
        }
    }
}

/// Every training setting over `configs`, with its distinct values.
pub fn settings_of(configs: &[&TrainConfig]) -> Vec<Setting> {
    SETTINGS
        .iter()
        .map(|(name, read)| {
            let mut values: Vec<String> = Vec::new();
            for c in configs {
                let v = read(c);
                if !values.contains(&v) {
                    values.push(v);
                }
            }
            // Numbers in increasing order; other values as first seen.
            let numbers: Vec<f64> = values.iter().filter_map(|v| v.replace(',', "").parse().ok()).collect();
            if numbers.len() == values.len() {
                let mut pairs: Vec<(f64, String)> = numbers.into_iter().zip(values).collect();
                pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
                values = pairs.into_iter().map(|p| p.1).collect();
            }
            Setting {
                name: name.to_string(),
                values,
            }
        })
        .collect()
}

/// The short configuration text of a figure: "relu, width 100 / 200, depth 2 / 3,
/// momentum, 3,000 steps, fashion-mnist, 2,000 training examples".
pub fn caption_text(configs: &[&TrainConfig]) -> String {
    let s = settings_of(configs);
    let get = |name: &str| s.iter().find(|x| x.name == name).map(Setting::text).unwrap_or_default();
    let size = get("training-set size");
    let size = if size.starts_with("all") {
        "all training examples (up to 50,000)".to_string()
    } else {
        format!("{size} training examples")
    };
    format!(
        "{}, width {}, depth {}, {} (lr {}, batch {}), {} steps, {}, {}",
        get("activation"),
        get("width"),
        get("depth"),
        get("optimizer"),
        get("learning rate"),
        get("batch"),
        get("steps"),
        get("data"),
        size
    )
}

/// The setting that best tells `configs` apart for a legend: the one (seed aside) with the
/// fewest distinct values, between 2 and 6. Returns "depth 3"-style names per config, or
/// None when nothing suitable varies.
pub fn series_names(configs: &[&TrainConfig]) -> Option<Vec<String>> {
    let settings = settings_of(configs);
    let best = settings
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name != "seed" && (2..=6).contains(&s.values.len()))
        .min_by_key(|(_, s)| s.values.len())?;
    let read = SETTINGS[best.0].1;
    Some(configs.iter().map(|c| format!("{} {}", best.1.name, read(c))).collect())
}

/// A label per network naming every setting that differs between them
/// ("width 50, depth 4, optimizer adam"); "network k" when nothing differs.
pub fn network_labels(configs: &[&TrainConfig]) -> Vec<String> {
    let settings = settings_of(configs);
    let differing: Vec<usize> = (0..settings.len()).filter(|&i| settings[i].values.len() >= 2).collect();
    configs
        .iter()
        .enumerate()
        .map(|(k, c)| {
            if differing.is_empty() {
                return format!("network {}", k + 1);
            }
            differing
                .iter()
                .map(|&i| format!("{} {}", settings[i].name, (SETTINGS[i].1)(c)))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .collect()
}

/// One study of the store: what it ran and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct StudySummary {
    pub sweep: String,
    pub description: String,
    pub scale: Scale,
    /// "grid", "random sample of 40", plus the paired factor if any.
    pub design: String,
    pub trials: usize,
    pub by_status: BTreeMap<TrialStatus, usize>,
    /// Sum over trials of training and measurement seconds.
    pub wall_seconds: f64,
    pub settings: Vec<Setting>,
    /// Measurement settings as (what, how) pairs.
    pub measurement: Vec<(String, String)>,
    /// The short configuration text for captions.
    pub caption: String,
}

/// Summarises one sweep from its trials and (when stored) its spec.
pub fn summarize(sweep: &str, trials: &[&TrialRecord], spec: Option<&SweepSpec>) -> StudySummary {
    let configs: Vec<&TrainConfig> = trials.iter().map(|r| &r.spec.train).collect();
    let mut by_status = BTreeMap::new();
    for r in trials {
        *by_status.entry(r.status).or_insert(0) += 1;
    }
    let seconds = |v: f64| if v.is_finite() { v } else { 0.0 };
    let design = match spec {
        None => "not recorded (the store has no spec for this sweep)".to_string(),
        Some(s) => {
            let mode = match s.mode {
                crate::sweep::spec::Mode::Grid => "grid over the axes".to_string(),
                crate::sweep::spec::Mode::Random => format!("random sample of {} configurations", s.samples),
                crate::sweep::spec::Mode::Granulated => format!(
                    "granulated: {} random base configurations, each varied along one axis at a time",
                    s.samples
                ),
            };
            match &s.pair {
                Some(p) => {
                    let (off, on) = p.factor.arms();
                    format!("{mode}; pairs differing only in {off} vs {on}")
                }
                None => mode,
            }
        }
    };
    StudySummary {
        sweep: sweep.to_string(),
        description: spec.map(|s| s.description.clone()).unwrap_or_default(),
        scale: scale_of(spec),
        design,
        trials: trials.len(),
        by_status,
        wall_seconds: trials
            .iter()
            .map(|r| seconds(r.train_seconds) + seconds(r.measure_seconds))
            .sum(),
        settings: settings_of(&configs),
        measurement: trials
            .first()
            .map(|r| measurement_text(&r.spec.measure))
            .unwrap_or_default(),
        caption: caption_text(&configs),
    }
}

/// The measurement settings as (what, how) pairs; unmeasured things say so.
pub fn measurement_text(m: &MeasureSpec) -> Vec<(String, String)> {
    let mut out = vec![(
        "mean Jacobian norm".to_string(),
        if m.jacobian_points == 0 {
            "not measured".into()
        } else {
            format!(
                "over the first {} test points{}",
                thousands(m.jacobian_points),
                if m.per_point { ", kept per point" } else { "" }
            )
        },
    )];
    out.push((
        "transitions".into(),
        match &m.transitions {
            None => "not measured".into(),
            Some(t) => format!(
                "{} trajectories of kind {}, {} count{}",
                t.count,
                t.trajectory.name(),
                format!("{:?}", t.method).to_lowercase(),
                if format!("{:?}", t.method) == "Sampled" {
                    format!(" ({} samples each)", thousands(t.samples))
                } else {
                    String::new()
                }
            ),
        },
    ));
    if let Some(p) = &m.profile {
        let kinds: Vec<&str> = p.trajectories.iter().map(|k| k.name()).collect();
        out.push((
            "profiles".into(),
            format!("{} trajectories each of {}, {} bins", p.count, kinds.join(", "), p.bins),
        ));
    }
    if let Some(r) = &m.regions {
        out.push((
            "region maps".into(),
            format!("{0}×{0} grid in the plane of a {1} triplet", r.grid, r.triplet.name()),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(2000), "2,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn built_in_quick_specs_are_recognised() {
        for (_, quick, paper) in crate::sweep::studies::BUILT_IN {
            let q: SweepSpec = toml::from_str(quick).unwrap();
            let p: SweepSpec = toml::from_str(paper).unwrap();
            assert_eq!(scale_of(Some(&q)), Scale::Quick);
            assert_eq!(scale_of(Some(&p)), Scale::Paper);
            let mut changed = q.clone();
            changed.fixed.train_size = Some(7);
            assert_eq!(scale_of(Some(&changed)), Scale::Custom);
        }
    }
}
