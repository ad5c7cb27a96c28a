//! Validation of a whole sweep spec before any trial runs: the name (it becomes file names
//! and a Slurm job name), every axis value and fixed setting against the training ranges,
//! every measurement setting, and the number of trials, counted before expansion.

use super::{Axes, Mode, SweepSpec};
use crate::error::{OccamError, Result};
use crate::measure::profile::Method;
use crate::measure::trajectory::TrajectoryKind;
use crate::net::Activation;

/// Most trials one spec may expand to.
pub const MAX_TRIALS: usize = 1_000_000;

impl SweepSpec {
    /// Checks everything the spec says before any trial runs: the name, every axis value
    /// and fixed setting against the training ranges, every measurement setting, and the
    /// number of trials. Messages read `SOURCE: key = value …` (`source` is the file).
    pub fn validate(&self, source: &str) -> Result<()> {
        let key = |k: &str| format!("{source}: {k}");
        check_name(&key("name"), &self.name)?;
        self.validate_axes(&key)?;
        self.validate_size(source)?;
        self.validate_measure(&key)
    }

    fn validate_axes(&self, key: &dyn Fn(&str) -> String) -> Result<()> {
        use crate::train::ranges;
        let a = &self.axes;
        if let Some((name, _)) = self.axis_lengths().iter().find(|(_, len)| *len == 0) {
            return Err(OccamError::config(format!(
                "{}: axis '{name}' lists no values",
                key("axes")
            )));
        }
        // Every value of every axis, and the fixed settings, through the one validation
        // of a training configuration; each setting is named by its key in the spec.
        let fixed_key = |field: &str| match field {
            "augment.translate" => key("axes.augment"),
            f if Axes::NAMES.contains(&f) => key(&format!("axes.{f}")),
            f => key(&format!("fixed.{f}")),
        };
        let base = self.base_config();
        base.validate_named(&fixed_key)?;
        for (axis, (_, len)) in self.axis_lengths().iter().enumerate() {
            for value in 0..*len {
                let mut cfg = base.clone();
                a.apply(axis, value, &mut cfg);
                cfg.validate_named(&fixed_key)?;
            }
        }
        if let Some(p) = &self.pair {
            ranges::steps(&key("pair.lbfgs_steps"), p.lbfgs_steps)?;
        }
        Ok(())
    }

    /// Refuses a spec that expands to more than [`MAX_TRIALS`] trials, counted with
    /// checked arithmetic before anything is expanded.
    fn validate_size(&self, source: &str) -> Result<()> {
        let sampled = match self.mode {
            Mode::Grid => None,
            Mode::Random => Some("random"),
            Mode::Granulated => Some("granulated"),
        };
        if let Some(mode) = sampled
            && !(1..=MAX_TRIALS).contains(&self.samples)
        {
            return Err(OccamError::config(format!(
                "{source}: samples = {} is out of range: mode = \"{mode}\" needs samples > 0, valid values are 1 to {MAX_TRIALS}",
                self.samples
            )));
        }
        if self.mode == Mode::Granulated && !self.has_varied_axis() {
            return Err(OccamError::config(format!(
                "{source}: mode = \"granulated\" varies one axis at a time, but no axis other than seed lists \
                 two or more values: list several values on an axis, or use mode = \"random\""
            )));
        }
        if let Some(n) = self.trial_count().filter(|&n| n <= MAX_TRIALS) {
            debug_assert!(n > 0);
            return Ok(());
        }
        if self.mode == Mode::Granulated {
            let count = self
                .trial_count()
                .map_or(format!("more than {}", usize::MAX), |n| n.to_string());
            return Err(OccamError::config(format!(
                "{source}: mode = \"granulated\" with samples = {} expands to up to {count} trials (each base \
                 configuration and its variations along every axis{}); at most {MAX_TRIALS} are allowed: use fewer samples",
                self.samples,
                if self.pair.is_some() {
                    ", × 2 for the pairs"
                } else {
                    ""
                }
            )));
        }
        let lengths: Vec<String> = self
            .axis_lengths()
            .iter()
            .filter(|(_, len)| *len > 1)
            .map(|(name, len)| format!("{name} {len}"))
            .collect();
        let count = match self.trial_count() {
            Some(n) => n.to_string(),
            None => format!("more than {}", usize::MAX),
        };
        Err(OccamError::config(format!(
            "{source}: the spec expands to {count} trials ({}{}); at most {MAX_TRIALS} are allowed: \
             split it into several specs or use mode = \"random\" with fewer samples",
            lengths.join(" × "),
            if self.pair.is_some() {
                ", × 2 for the pairs"
            } else {
                ""
            }
        )))
    }

    fn validate_measure(&self, key: &dyn Fn(&str) -> String) -> Result<()> {
        use crate::measure::ranges;
        let m = &self.measure;
        crate::limits::in_range(&key("measure.jacobian_points"), m.jacobian_points, 0, ranges::MAX_COUNT)?;
        if let Some(k) = m.track {
            crate::train::observe::check_checkpoints(&key("measure.track"), k)?;
        }
        if let Some(t) = &m.transitions {
            ranges::count(&key("measure.transitions.count"), t.count)?;
            ranges::samples(&key("measure.transitions.samples"), t.samples)?;
            if t.method == Method::Exact && self.axes.activation.contains(&Activation::Tanh) {
                return Err(OccamError::config(format!(
                    "{}: exact transitions need piecewise-linear activations; use method = \"sampled\" with tanh",
                    key("measure.transitions.method")
                )));
            }
        }
        if let Some(p) = &m.profile {
            if p.trajectories.is_empty() {
                return Err(OccamError::config(format!(
                    "{}: lists no trajectory kinds",
                    key("measure.profile.trajectories")
                )));
            }
            ranges::count(&key("measure.profile.count"), p.count)?;
            ranges::bins(&key("measure.profile.bins"), p.bins)?;
        }
        if let Some(r) = &m.regions {
            ranges::grid(&key("measure.regions.grid"), r.grid)?;
            if let Some(n) = r.max_regions {
                let (lo, hi) = crate::measure::regions_exact::MAX_REGIONS_RANGE;
                crate::limits::in_range(&key("measure.regions.max_regions"), n, lo, hi)?;
            }
            if !matches!(
                r.triplet,
                TrajectoryKind::SameClassEllipse | TrajectoryKind::DifferentClassEllipse
            ) {
                return Err(OccamError::config(format!(
                    "{} = \"{}\" is not a triplet kind: valid values are \"same-class-ellipse\" and \"different-class-ellipse\"",
                    key("measure.regions.triplet"),
                    r.triplet.name()
                )));
            }
        }
        Ok(())
    }
}

/// A spec name becomes file names and a Slurm job name: 1 to 64 characters of
/// `A-Z a-z 0-9 . _ -`, not starting with a dot.
fn check_name(what: &str, name: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let ok = (1..=64).contains(&name.len()) && name.chars().all(allowed) && !name.starts_with('.');
    if ok {
        return Ok(());
    }
    Err(OccamError::config(format!(
        "{what} = {name:?} is not a valid sweep name: use 1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-', \
         not starting with '.'"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> SweepSpec {
        toml::from_str(text).unwrap()
    }

    fn refusal(text: &str) -> String {
        parse(text).validate("spec.toml").unwrap_err().to_string()
    }

    #[test]
    fn every_built_in_study_validates() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("studies");
        let mut seen = 0;
        for scale in std::fs::read_dir(&root).unwrap() {
            for file in std::fs::read_dir(scale.unwrap().path()).unwrap() {
                let path = file.unwrap().path();
                let spec = SweepSpec::from_toml_file(&path).unwrap_or_else(|e| panic!("{e}"));
                assert!(spec.trial_count().unwrap() <= MAX_TRIALS);
                seen += 1;
            }
        }
        assert!(seen >= 16, "found only {seen} studies");
    }

    #[test]
    fn names_are_restricted_to_a_safe_character_set() {
        for bad in ["../../../x", "", ".hidden", "a b", "x/y", "a\nb", &"n".repeat(65)] {
            let e = refusal(&format!("name = {bad:?}\n"));
            assert!(
                e.contains("spec.toml: name = ") && e.contains("not a valid sweep name"),
                "{bad:?}: {e}"
            );
        }
        for good in ["fig4-random_labels", "a", "v1.2", &"n".repeat(64)] {
            parse(&format!("name = {good:?}\n")).validate("s").unwrap();
        }
    }

    #[test]
    fn the_trial_count_is_bounded_before_expansion() {
        let values = (1..=1000).map(|v| v.to_string()).collect::<Vec<_>>().join(", ");
        let e = refusal(&format!(
            "name = \"x\"\n[axes]\nwidth = [{values}]\nbatch = [{values}]\nseed = [{values}]\n"
        ));
        assert!(
            e.contains("1000000000 trials") && e.contains("width 1000 × batch 1000 × seed 1000"),
            "{e}"
        );
        let e = refusal("name = \"x\"\nmode = \"random\"\nsamples = 2000000\n");
        assert!(e.contains("samples = 2000000") && e.contains("1 to 1000000"), "{e}");
    }

    #[test]
    fn training_and_measurement_settings_name_their_key() {
        let cases = [
            ("[fixed]\nlr_decay_factor = -1.0\n", "fixed.lr_decay_factor = -1 "),
            ("[fixed]\nlr_decay_factor = nan\n", "fixed.lr_decay_factor = NaN "),
            ("[fixed]\ntrain_size = 0\n", "fixed.train_size = 0 "),
            ("[axes]\nlr = [0.1, inf]\n", "axes.lr = inf "),
            (
                "[axes]\nwidth = [4611686018427387904]\n",
                "axes.width = 4611686018427387904 ",
            ),
            ("[axes]\nsteps = [0]\n", "axes.steps = 0 "),
            (
                "[pair]\nfactor = \"full_batch\"\nlbfgs_steps = 0\n",
                "pair.lbfgs_steps = 0 ",
            ),
            (
                "[measure]\njacobian_points = 2000000\n",
                "measure.jacobian_points = 2000000 ",
            ),
            (
                "[measure.transitions]\ntrajectory = \"translate\"\ncount = 0\n",
                "measure.transitions.count = 0 ",
            ),
            (
                "[measure.transitions]\ntrajectory = \"translate\"\ncount = 2\nmethod = \"sampled\"\nsamples = 1\n",
                "measure.transitions.samples = 1 is out of range: valid values are 2 to 1073741824",
            ),
            (
                "[measure.profile]\ntrajectories = [\"random-ellipse\"]\ncount = 0\n",
                "measure.profile.count = 0 ",
            ),
            (
                "[measure.profile]\ntrajectories = [\"random-ellipse\"]\ncount = 2\nbins = 1\n",
                "measure.profile.bins = 1 ",
            ),
            (
                "[measure.profile]\ntrajectories = []\ncount = 2\n",
                "measure.profile.trajectories",
            ),
            ("[measure.regions]\ngrid = 0\n", "measure.regions.grid = 0 "),
            ("[measure.regions]\ngrid = 1000000\n", "measure.regions.grid = 1000000 "),
            (
                "[measure.regions]\ntriplet = \"translate\"\n",
                "measure.regions.triplet = \"translate\"",
            ),
        ];
        for (body, want) in cases {
            let e = refusal(&format!("name = \"x\"\n{body}"));
            assert!(e.starts_with("spec.toml: ") && e.contains(want), "{body}: {e}");
        }
    }
}
