//! What a trial measures beyond its scalar metrics — trajectory profiles and region maps —
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
        }
    }

    /// The stored JSON text.
    pub fn to_json(&self) -> String {
        match self {
            Artifact::Profile(p) => serde_json::to_string(p),
            Artifact::Regions(r) => serde_json::to_string(r),
        }
        .expect("artifacts serialize")
    }

    /// Reads a stored artifact; an unknown kind or malformed body is an error naming it.
    pub fn from_stored(kind: &str, body: &str) -> Result<Artifact, String> {
        let bad = |e: serde_json::Error| format!("{kind} artifact: {e}");
        match kind {
            "profile" => serde_json::from_str(body).map(Artifact::Profile).map_err(bad),
            "regions" => serde_json::from_str(body).map(Artifact::Regions).map_err(bad),
            other => Err(format!("unknown artifact kind '{other}' (profile or regions)")),
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
}
