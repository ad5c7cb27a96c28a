//! `[measure] seed` in a sweep spec and `--seed` of `occam measure` mean the same thing:
//! the same model and seed give the same trajectories (random ellipses, training triplets)
//! either way, over the same test points; without `[measure] seed` a trial uses its
//! training seed.

mod common;

use common::{ok, ok_json};
use occam::sweep::artifact::Artifact;
use occam::sweep::{Store, TrialRecord};
use std::path::Path;

const KINDS: &str = "random-ellipse,different-class-ellipse";

/// Runs a two-trial sweep (training seeds 1 and 3) keeping its models; returns the trials.
fn sweep(dir: &Path, data: &str, measure_seed: &str) -> Vec<TrialRecord> {
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"ms\"\n[axes]\ndata = [\"{data}\"]\nwidth = [24]\ndepth = [3]\nbatch = [32]\nsteps = [60]\nseed = [1, 3]\n\
             [measure]\njacobian_points = 0\n{measure_seed}\n\
             [measure.transitions]\ntrajectory = \"random-ellipse\"\ncount = 4\n\
             [measure.profile]\ntrajectories = [\"random-ellipse\", \"different-class-ellipse\"]\ncount = 3\nbins = 16\n"
        ),
    )
    .unwrap();
    let store = dir.join("store.sqlite");
    let models = dir.join("models");
    ok(&[
        "sweep",
        "run",
        spec.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--keep-models",
        models.to_str().unwrap(),
        "--quiet",
    ]);
    Store::open_existing(&store).unwrap().trials().unwrap()
}

fn model_of(dir: &Path, t: &TrialRecord) -> String {
    dir.join("models")
        .join(format!("{}.safetensors", t.id))
        .display()
        .to_string()
}

/// `occam measure transitions` along 4 random ellipses with this seed: the mean count.
fn measured_transitions(model: &str, data: &str, seed: u64) -> f64 {
    let seed = seed.to_string();
    let v = ok_json(&[
        "measure",
        "transitions",
        "--model",
        model,
        "--data",
        data,
        "--trajectory",
        "random-ellipse",
        "--limit",
        "4",
        "--seed",
        &seed,
        "--json",
        "--quiet",
    ]);
    v["mean_transitions"].as_f64().unwrap()
}

/// `occam measure profile` with the sweep's kinds, count and bins: (kind, bin) → (‖J‖, density).
fn measured_profile(dir: &Path, model: &str, data: &str, seed: u64) -> Vec<(String, f64, f64)> {
    let out = dir.join(format!("profile-{seed}"));
    let seed = seed.to_string();
    ok(&[
        "measure",
        "profile",
        "--model",
        model,
        "--data",
        data,
        "--trajectory",
        KINDS,
        "--limit",
        "3",
        "--bins",
        "16",
        "--seed",
        &seed,
        "--out",
        out.to_str().unwrap(),
        "--json",
        "--quiet",
    ]);
    let csv = std::fs::read_to_string(out.join("profile.csv")).unwrap();
    csv.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[2].parse().unwrap(), f[3].parse().unwrap())
        })
        .collect()
}

fn stored_profile(t: &TrialRecord) -> Vec<(String, f64, f64)> {
    let Some(Artifact::Profile(p)) = t.artifacts.iter().find(|a| matches!(a, Artifact::Profile(_))) else {
        panic!("trial {} has no profile", t.id)
    };
    p.curves
        .iter()
        .flat_map(|c| {
            (0..c.position.len()).map(|b| {
                (
                    c.trajectory.name().to_string(),
                    c.jacobian_norm[b],
                    c.transition_density[b],
                )
            })
        })
        .collect()
}

fn same_profile(a: &[(String, f64, f64)], b: &[(String, f64, f64)]) -> bool {
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1.0);
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(p, q)| p.0 == q.0 && close(p.1, q.1) && close(p.2, q.2))
}

#[test]
fn a_sweep_trial_and_occam_measure_see_the_same_trajectories_for_the_same_seed() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_mnist_like(&tmp.path().join("d"), 300, 60, 6, false);
    let data = format!("mnist:{}", tmp.path().join("d").display());

    // [measure] seed = 7: every trial, whatever its training seed, uses seed 7.
    let trials = sweep(tmp.path(), &data, "seed = 7");
    assert_eq!(trials.len(), 2);
    for t in &trials {
        let model = model_of(tmp.path(), t);
        assert_eq!(
            t.metric(occam::sweep::metrics::TRANSITIONS),
            measured_transitions(&model, &data, 7),
            "trial seed {}",
            t.spec.train.seed
        );
        assert_ne!(
            t.metric(occam::sweep::metrics::TRANSITIONS),
            measured_transitions(&model, &data, t.spec.train.seed),
            "seed 7 and the training seed give the same count: no test"
        );
        let stored = stored_profile(t);
        assert_eq!(stored.len(), 32);
        assert!(same_profile(&stored, &measured_profile(tmp.path(), &model, &data, 7)));
        assert!(!same_profile(
            &stored,
            &measured_profile(tmp.path(), &model, &data, t.spec.train.seed)
        ));
    }

    // No [measure] seed: each trial uses its training seed.
    let dir = tmp.path().join("default");
    std::fs::create_dir_all(&dir).unwrap();
    for t in sweep(&dir, &data, "") {
        let model = model_of(&dir, &t);
        let seed = t.spec.train.seed;
        assert_eq!(
            t.metric(occam::sweep::metrics::TRANSITIONS),
            measured_transitions(&model, &data, seed),
            "training seed {seed}"
        );
        assert!(same_profile(
            &stored_profile(&t),
            &measured_profile(&dir, &model, &data, seed)
        ));
    }
}

/// The CLI and a sweep run the same measurement entry point: a trial's stored per-point
/// Jacobian rows are the `--per-point` rows of `occam measure jacobian` on its model, to
/// the bit, and without `--seed` the CLI uses the default training seed (1), so it counts
/// the transitions of a trial trained with seed 1 and no `[measure] seed`.
#[test]
fn per_point_jacobians_and_default_seeds_agree_between_a_sweep_and_occam_measure() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_mnist_like(&tmp.path().join("d"), 300, 60, 6, false);
    let data = format!("mnist:{}", tmp.path().join("d").display());
    let spec = tmp.path().join("spec.toml");
    std::fs::write(
        &spec,
        "name = \"pp\"\n[axes]\ndata = [\"DATA\"]\nwidth = [24]\ndepth = [3]\nbatch = [32]\nsteps = [60]\nseed = [1]\n\
         [measure]\njacobian_points = 40\nper_point = true\n\
         [measure.transitions]\ntrajectory = \"same-class-ellipse\"\ncount = 4\n"
            .replace("DATA", &data),
    )
    .unwrap();
    let (store, models) = (tmp.path().join("s.sqlite"), tmp.path().join("models"));
    let path = |p: &Path| p.to_str().unwrap().to_string();
    ok(&[
        "sweep",
        "run",
        &path(&spec),
        "--store",
        &path(&store),
        "--keep-models",
        &path(&models),
        "--quiet",
    ]);
    let trial = Store::open_existing(&store).unwrap().trials().unwrap().remove(0);
    assert_eq!(trial.points.len(), 40);
    let model = model_of(tmp.path(), &trial);
    let csv_path = tmp.path().join("pp.csv");
    ok(&[
        "measure",
        "jacobian",
        "--model",
        &model,
        "--data",
        &data,
        "--limit",
        "40",
        "--per-point",
        &path(&csv_path),
        "--quiet",
    ]);
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    for (row, stored) in csv.lines().skip(1).zip(&trial.points) {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(f[2].parse::<usize>().unwrap(), stored.predicted);
        for (column, name) in [
            (3, "loss"),
            (4, "jacobian_norm"),
            (5, "logit_jacobian_norm"),
            (6, "target_row_norm"),
        ] {
            let cli: f64 = f[column].parse().unwrap();
            assert_eq!(cli.to_bits(), stored.values.by_name(name).to_bits(), "{name} of {row}");
        }
    }
    let v = ok_json(&[
        "measure",
        "transitions",
        "--model",
        &model,
        "--data",
        &data,
        "--trajectory",
        "same-class-ellipse",
        "--limit",
        "4",
        "--json",
        "--quiet",
    ]);
    assert_eq!(
        v["mean_transitions"].as_f64().unwrap(),
        trial.metric(occam::sweep::metrics::TRANSITIONS)
    );
}
