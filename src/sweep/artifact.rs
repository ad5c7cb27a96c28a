//! What a trial measures beyond its scalar metrics — trajectory profiles, region maps and
//! measurements over training —
//! as typed values shared by the writer (the trial runner) and every reader (the store,
//! reports). Each is stored as JSON in the store's `artifacts` table under its kind's
//! name; a missing number (NaN) is stored as `null` and read back as NaN, never as 0.

use crate::measure::profile::Method;
use crate::measure::trajectory::TrajectoryKind;
use serde::{Deserialize, Serialize};

/// A stored measurement of one trial.
#[derive(Debug, Clone, PartialEq)]
pub enum Artifact {
    /// Jacobian norm and transition density along trajectories (Figure 2).
    Profile(ProfileArtifact),
    /// Region maps before and after training (Figure 3).
    Regions(RegionsArtifact),
    /// Accuracy, gap and sensitivity at log-spaced training steps.
    Track(TrackArtifact),
}

/// Measurements at checkpoints during training, one entry per step in each list; the last
/// step is the final network, whose values equal the trial's final metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackArtifact {
    pub steps: Vec<usize>,
    #[serde(with = "nan_as_null")]
    pub train_accuracy: Vec<f64>,
    #[serde(with = "nan_as_null")]
    pub test_accuracy: Vec<f64>,
    /// train − test accuracy.
    #[serde(with = "nan_as_null")]
    pub gap: Vec<f64>,
    /// Mean ‖J‖_F on the trial's Jacobian test points (null: not measured or non-finite).
    #[serde(with = "nan_as_null")]
    pub jacobian_norm: Vec<f64>,
    /// Mean transitions per trajectory (null: not counted or non-finite).
    #[serde(with = "nan_as_null")]
    pub transitions: Vec<f64>,
    /// Seconds spent measuring the checkpoints (not part of the training time).
    #[serde(with = "nan_as_null::one")]
    pub seconds: f64,
}

impl TrackArtifact {
    /// The artifact of a run's checkpoint rows.
    pub fn from_rows(rows: &[crate::measure::track::TrackRow], seconds: f64) -> Self {
        let column = |f: fn(&crate::measure::track::TrackRow) -> f64| rows.iter().map(f).collect();
        TrackArtifact {
            steps: rows.iter().map(|r| r.step).collect(),
            train_accuracy: column(|r| r.train_accuracy),
            test_accuracy: column(|r| r.test_accuracy),
            gap: column(|r| r.gap),
            jacobian_norm: column(|r| r.jacobian_norm),
            transitions: column(|r| r.transitions),
            seconds,
        }
    }
}

/// Profiles along each trajectory kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileArtifact {
    pub method: Method,
    pub curves: Vec<ProfileCurve>,
}

/// The mean profile of one trajectory kind, over `trajectories` trajectories.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileCurve {
    pub trajectory: TrajectoryKind,
    pub trajectories: usize,
    /// Bin centres along the loop, in [0, 1).
    pub position: Vec<f64>,
    #[serde(with = "nan_as_null")]
    pub jacobian_norm: Vec<f64>,
    #[serde(with = "nan_as_null")]
    pub transition_density: Vec<f64>,
    /// Positions where data ellipses pass through their training points.
    pub anchors: Vec<f64>,
    #[serde(with = "nan_as_null::one")]
    pub mean_transitions: f64,
}

/// Region maps of one hidden layer in the plane through three training points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionsArtifact {
    /// Grid points per side.
    pub grid: usize,
    /// The hidden layer drawn, 1-based.
    pub layer: usize,
    /// Indices of the three training examples spanning the plane.
    pub training_points: [usize; 3],
    /// The training points' plane coordinates.
    pub anchors: Vec<[f64; 2]>,
    pub before: RegionMapArtifact,
    pub after: RegionMapArtifact,
    /// The exact maps of hidden layers 1 to `layer` (piecewise-linear activations whose
    /// maps stay within the region cap); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<Box<ExactRegionsArtifact>>,
    /// Why there are no exact maps (absent when there are, and in stores written before
    /// the reason was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_skipped: Option<ExactSkip>,
}

/// Exact region maps before and after training, on the same plane as the grid maps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactRegionsArtifact {
    pub before: ExactMapArtifact,
    pub after: ExactMapArtifact,
}

/// One exact region map: its counts, its boundary density and the map rendered as a PNG
/// (stores written before the PNG was kept hold the polygons instead).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExactMapArtifact {
    /// Entry k: regions after hidden layers 1 to k + 1.
    pub regions_per_layer: Vec<usize>,
    /// Distinct activation patterns of the mapped layer alone.
    pub layer_codes: usize,
    /// Each region's vertices [u, v], counter-clockwise, in plane coordinates (older
    /// stores only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub polygons: Vec<Vec<[f32; 2]>>,
    /// Boundary length per unit area near the training points and overall.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub density: Option<ExactDensityArtifact>,
    /// The map rendered at trial time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<MapImage>,
}

/// Region-boundary length per unit area (plane units) of one exact map.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExactDensityArtifact {
    /// Within `radius` of the training points (null: no training points in the plane).
    #[serde(with = "nan_as_null::one")]
    pub near: f64,
    /// Over the whole square [−1, 1]².
    #[serde(with = "nan_as_null::one")]
    pub overall: f64,
    /// The radius of "near", plane units.
    pub radius: f64,
}

/// An exact map as a square PNG of the plane's square [−1, 1]² (row 0 at v = 1), base64
/// in the JSON. A report's `report.json` repeats the size, not the bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapImage {
    /// Pixels per side.
    pub side: u32,
    /// The PNG file's bytes, base64 (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub png_base64: String,
}

impl MapImage {
    pub fn from_png(side: u32, png: &[u8]) -> MapImage {
        use base64::Engine;
        MapImage {
            side,
            png_base64: base64::engine::general_purpose::STANDARD.encode(png),
        }
    }
    /// The PNG bytes; an error for text that is not base64.
    pub fn png(&self) -> Result<Vec<u8>, String> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&self.png_base64)
            .map_err(|e| format!("an exact map image that is not base64: {e}"))
    }
}

impl ExactMapArtifact {
    /// The stored form of `map`: its counts, its boundary density within `near_radius`
    /// of the anchors, and the map rendered to a `side × side` PNG.
    pub fn new(
        map: &crate::measure::regions_exact::ExactRegionMap,
        near_radius: f64,
        side: u32,
    ) -> crate::error::Result<Self> {
        let d = crate::measure::regions_exact::boundary_density(map, near_radius);
        let polygons: Vec<Vec<(f64, f64)>> = map.regions.iter().map(|r| r.vertices.clone()).collect();
        let png = crate::plot::exact_regions::render_map_png(&polygons, &map.anchors, side)?;
        Ok(ExactMapArtifact {
            regions_per_layer: map.per_layer.clone(),
            layer_codes: map.layer_codes,
            polygons: Vec::new(),
            density: Some(ExactDensityArtifact {
                near: d.near,
                overall: d.overall,
                radius: d.radius,
            }),
            image: Some(MapImage::from_png(side, &png)),
        })
    }
    /// Regions after the mapped layer.
    pub fn regions(&self) -> usize {
        self.regions_per_layer.last().copied().unwrap_or(self.polygons.len())
    }
    /// The polygons in f64, as the drawing and the boundary lengths take them.
    pub fn polygons_f64(&self) -> Vec<Vec<(f64, f64)>> {
        self.polygons
            .iter()
            .map(|p| p.iter().map(|&[u, v]| (u as f64, v as f64)).collect())
            .collect()
    }
}

/// Which of a trial's two networks a map is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MapStage {
    Before,
    After,
}

impl std::fmt::Display for MapStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MapStage::Before => "before training",
            MapStage::After => "after training",
        })
    }
}

/// Why a trial's region maps were not computed exactly (its report draws the grid maps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum ExactSkip {
    /// The activation has no linear pieces (tanh).
    NotPiecewiseLinear { activation: String },
    /// A map has more regions than the cap: the walk stopped at hidden `layer` (1-based)
    /// with `reached` regions.
    OverCap {
        map: MapStage,
        cap: usize,
        layer: usize,
        reached: usize,
    },
    /// A pre-activation left float32's range in the square.
    NonFinite { map: MapStage, what: String },
}

impl std::fmt::Display for ExactSkip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = crate::report::config::thousands;
        match self {
            ExactSkip::NotPiecewiseLinear { activation } => write!(
                f,
                "the activation, {activation}, is not piecewise linear, so there are no exact regions to draw"
            ),
            ExactSkip::OverCap {
                map,
                cap,
                layer,
                reached,
            } => write!(
                f,
                "the map {map} has more than {} regions, the cap (the walk stopped at hidden layer {layer} with {} \
                 regions); [measure.regions] max_regions raises the cap",
                n(*cap),
                n(*reached)
            ),
            ExactSkip::NonFinite { map, what } => write!(f, "the exact map {map} overflowed: {what}"),
        }
    }
}

/// One region map: the number of distinct activation patterns and the boundary mask
/// (row-major, `grid × grid`) as run lengths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionMapArtifact {
    pub regions: usize,
    /// Alternating run lengths of the boundary mask, starting with a run of `false`.
    pub boundary: Vec<usize>,
}

impl RegionMapArtifact {
    pub fn new(regions: usize, mask: &[bool]) -> Self {
        RegionMapArtifact {
            regions,
            boundary: run_lengths(mask),
        }
    }
    /// The boundary mask.
    pub fn mask(&self) -> Vec<bool> {
        from_run_lengths(&self.boundary)
    }
}

impl Artifact {
    /// The name it is stored under.
    pub fn kind(&self) -> &'static str {
        match self {
            Artifact::Profile(_) => "profile",
            Artifact::Regions(_) => "regions",
            Artifact::Track(_) => "track",
        }
    }

    /// The stored JSON text.
    pub fn to_json(&self) -> String {
        match self {
            Artifact::Profile(p) => serde_json::to_string(p),
            Artifact::Regions(r) => serde_json::to_string(r),
            Artifact::Track(t) => serde_json::to_string(t),
        }
        .expect("artifacts serialize")
    }

    /// Reads a stored artifact; an unknown kind or malformed body is an error naming it.
    pub fn from_stored(kind: &str, body: &str) -> Result<Artifact, String> {
        let bad = |e: serde_json::Error| format!("{kind} artifact: {e}");
        match kind {
            "profile" => serde_json::from_str(body).map(Artifact::Profile).map_err(bad),
            "regions" => serde_json::from_str(body).map(Artifact::Regions).map_err(bad),
            "track" => serde_json::from_str(body).map(Artifact::Track).map_err(bad),
            other => Err(format!("unknown artifact kind '{other}' (profile, regions or track)")),
        }
    }
}

/// A boolean mask as alternating run lengths, starting with a run of `false`.
pub fn run_lengths(mask: &[bool]) -> Vec<usize> {
    let mut runs = Vec::new();
    let (mut current, mut len) = (false, 0usize);
    for &b in mask {
        if b == current {
            len += 1;
        } else {
            runs.push(len);
            current = b;
            len = 1;
        }
    }
    runs.push(len);
    runs
}

/// The inverse of [`run_lengths`].
pub fn from_run_lengths(runs: &[usize]) -> Vec<bool> {
    runs.iter()
        .enumerate()
        .flat_map(|(i, &n)| std::iter::repeat_n(i % 2 == 1, n))
        .collect()
}

/// NaN as JSON `null` and back (serde_json writes NaN as `null` but cannot read it back
/// into an `f64`).
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|x| x.is_finite().then_some(*x)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
        let v: Vec<Option<f64>> = Vec::deserialize(d)?;
        Ok(v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
    }

    pub mod one {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
            match v.is_finite() {
                true => s.serialize_some(v),
                false => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifacts_round_trip_with_nan_as_null() {
        let profile = Artifact::Profile(ProfileArtifact {
            method: Method::Exact,
            curves: vec![ProfileCurve {
                trajectory: TrajectoryKind::RandomEllipse,
                trajectories: 3,
                position: vec![0.25, 0.75],
                jacobian_norm: vec![1.5, f64::NAN],
                transition_density: vec![0.0, 2.0],
                anchors: vec![],
                mean_transitions: f64::NAN,
            }],
        });
        let text = profile.to_json();
        assert!(
            text.contains("[1.5,null]") && text.contains("\"mean_transitions\":null"),
            "{text}"
        );
        let Artifact::Profile(back) = Artifact::from_stored("profile", &text).unwrap() else {
            panic!("kind")
        };
        assert!(back.curves[0].jacobian_norm[1].is_nan() && back.curves[0].mean_transitions.is_nan());
        assert_eq!(back.curves[0].position, vec![0.25, 0.75]);
        let mask = [false, true, true, false, false, true];
        let map = RegionMapArtifact::new(4, &mask);
        assert_eq!(map.boundary, vec![1, 2, 2, 1]);
        assert_eq!(map.mask(), mask);
        assert!(Artifact::from_stored("profile", "{\"method\":\"exact\"}").is_err());
        assert!(Artifact::from_stored("heatmap", "{}").unwrap_err().contains("heatmap"));
    }

    #[test]
    fn track_artifacts_round_trip_with_nan_as_null() {
        let track = Artifact::Track(TrackArtifact {
            steps: vec![1, 10],
            train_accuracy: vec![0.125, 1.0],
            test_accuracy: vec![0.1, 0.8],
            gap: vec![0.025, 0.19999999999999996],
            jacobian_norm: vec![f64::NAN, 0.5],
            transitions: vec![f64::NAN, 352.0 / 3.0],
            seconds: 0.25,
        });
        let text = track.to_json();
        assert!(
            text.contains("\"jacobian_norm\":[null,0.5]") && text.contains("\"transitions\":[null,117.3"),
            "{text}"
        );
        let Artifact::Track(back) = Artifact::from_stored(track.kind(), &text).unwrap() else {
            panic!("kind")
        };
        let Artifact::Track(original) = &track else {
            unreachable!()
        };
        assert_eq!(
            (&back.steps, &back.gap, back.seconds),
            (&original.steps, &original.gap, 0.25)
        );
        assert!(back.jacobian_norm[0].is_nan() && back.jacobian_norm[1] == 0.5);
        // Every bit comes back (serde_json's float_roundtrip; without it 352/3 lost one).
        assert!(back.transitions[0].is_nan());
        assert_eq!(back.transitions[1].to_bits(), (352.0f64 / 3.0).to_bits());
        assert!(
            Artifact::from_stored("track", "{\"steps\":[1]}")
                .unwrap_err()
                .contains("track")
        );
    }
}
