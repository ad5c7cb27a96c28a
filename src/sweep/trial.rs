//! Running one trial: train, then measure what the spec asks for, into a [`TrialRecord`].
//! Errors inside a trial become a `failed` record with the reason; a diverged network is
//! recorded with its training metrics and no sensitivity measurements; a measurement that
//! meets non-finite arithmetic makes the trial `non_finite`, its metrics NULL and the
//! reason saying what overflowed. Specs are validated before any trial runs, so a panic
//! caught here ("internal error") is a bug, kept only as a last resort. Training and the
//! Jacobian norms run on the trial's [`TrialBackend`] (the CPU or a GPU stream); the other
//! measurements on its host backend.

use super::artifact::{
    Artifact, ExactMapArtifact, ExactRegionsArtifact, ExactSkip, MapStage, ProfileArtifact, ProfileCurve,
    RegionMapArtifact, RegionsArtifact,
};
use super::device::TrialBackend;
use super::metrics::transitions::method_for;
use super::metrics::{self as registry, Measured, MetricValues, TrialContext};
use super::spec::TrialSpec;
use super::store::{TrialRecord, TrialStatus};
use crate::data::Splits;
use crate::measure::profile::Method;
use crate::measure::regions_exact;
use crate::measure::{MeasureRequest, Measurements, Plane, ProfileRequest, RegionRequest, TrajectoryRequest};
use crate::net::Mlp;
use crate::plot::exact_regions::MAP_IMAGE_SIDE;
use crate::train::{Status, TrainOutcome};
use std::ops::ControlFlow;
use std::path::Path;
use std::time::Instant;

/// Trains and measures one trial. Never panics: failures are recorded.
pub fn run_trial(
    sweep: &str,
    index: usize,
    spec: &TrialSpec,
    splits: &Splits,
    backend: &dyn TrialBackend,
    keep_models: Option<&Path>,
) -> TrialRecord {
    let compute = backend.host();
    let mut record = TrialRecord {
        id: spec.id(),
        sweep: sweep.to_string(),
        index,
        spec: spec.clone(),
        status: TrialStatus::Failed,
        reason: None,
        param_count: 0,
        steps: 0,
        metrics: MetricValues::default(),
        train_seconds: f64::NAN,
        measure_seconds: f64::NAN,
        threads: compute.threads(),
        device: backend.device(),
        host: hostname(),
        points: Vec::new(),
        artifacts: Vec::new(),
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> Result<(), String> {
        let (outcome, track) = super::track::train_trial(spec, splits, backend).map_err(|e| e.to_string())?;
        record.artifacts.extend(track);
        record.status = outcome.status.into();
        record.param_count = outcome.net.param_count();
        record.steps = outcome.steps;
        let values = &mut record.metrics;
        values.set(registry::TRAIN_ACCURACY, outcome.train.accuracy);
        values.set(registry::TEST_ACCURACY, outcome.test.accuracy);
        values.set(registry::TRAIN_LOSS, outcome.train.loss);
        values.set(registry::TEST_LOSS, outcome.test.loss);
        values.set(
            registry::GENERALIZATION_GAP,
            registry::gap(outcome.train.accuracy, outcome.test.accuracy),
        );
        record.train_seconds = outcome.wall_seconds;
        record.reason = outcome.fallback.map(|f| f.reason());
        if let Some(dir) = keep_models {
            outcome
                .net
                .save(&dir.join(format!("{}.safetensors", record.id)))
                .map_err(|e| e.to_string())?;
        }
        if outcome.status != Status::Diverged {
            let started = Instant::now();
            let findings = measure_trial(spec, splits, backend, &outcome, &mut record)?;
            record.measure_seconds = started.elapsed().as_secs_f64();
            if !findings.is_empty() {
                record.status = TrialStatus::NonFinite;
                record.reason = Some(
                    record
                        .reason
                        .iter()
                        .chain(&findings)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            }
        }
        Ok(())
    }));
    match result {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            record.status = TrialStatus::Failed;
            record.reason = Some(reason);
        }
        Err(panic) => {
            record.status = TrialStatus::Failed;
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            record.reason = Some(format!("internal error: {}", text.unwrap_or_else(|| "panic".into())));
        }
    }
    record
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Runs every registered measurement, then the artifacts the spec asks for; returns what
/// came out non-finite (those metrics stay absent, stored as no value). An `Err` is a
/// failure of the trial.
fn measure_trial(
    spec: &TrialSpec,
    splits: &Splits,
    backend: &dyn TrialBackend,
    outcome: &TrainOutcome,
    record: &mut TrialRecord,
) -> Result<Vec<String>, String> {
    let seed = spec.measure_seed();
    let ctx = TrialContext {
        spec,
        splits,
        compute: backend.host(),
        backend,
        net: &outcome.net,
        seed,
    };
    let mut measured = Measured::default();
    for m in registry::MEASUREMENTS {
        if m.not_measured(&spec.measure).is_none() {
            m.run(&ctx, &mut measured)?;
        }
    }
    let Measured {
        values,
        points,
        mut non_finite,
    } = measured;
    for (name, value) in values.iter() {
        record.metrics.set_named(name, value);
    }
    record.points = points;
    if let Some(p) = &spec.measure.profile {
        non_finite.extend(measure_profiles(p, &ctx, record)?);
    }
    if let Some(r) = &spec.measure.regions {
        non_finite.extend(measure_regions(r, &ctx, &outcome.initial, record)?);
    }
    Ok(non_finite)
}

/// One profile curve per trajectory kind, stored as the `profile` artifact.
fn measure_profiles(
    p: &super::spec::ProfileSpec,
    ctx: &TrialContext,
    record: &mut TrialRecord,
) -> Result<Option<String>, String> {
    let method = method_for(ctx.net, Method::Exact);
    let curves = p
        .trajectories
        .iter()
        .map(|&kind| TrajectoryRequest {
            kind,
            count: p.count,
            method: Some(method),
            samples: PROFILE_SAMPLES,
            seed: ctx.seed,
        })
        .collect();
    let request = MeasureRequest {
        profile: Some(ProfileRequest { curves, bins: p.bins }),
        ..Default::default()
    };
    let measured = run_request(ctx, &request)?;
    let profiles = measured.profiles.expect("profiles were requested");
    if let Some((kind, bad)) = profiles.non_finite {
        return Ok(Some(format!(
            "profile along {} trajectory {}: {bad}",
            kind.name(),
            bad.point
        )));
    }
    let curves = profiles
        .curves
        .into_iter()
        .map(|(kind, prof)| ProfileCurve {
            trajectory: kind,
            trajectories: prof.trajectories,
            position: prof.position,
            jacobian_norm: prof.jacobian_norm,
            transition_density: prof.transition_density,
            anchors: prof.anchors,
            mean_transitions: prof.mean_transitions,
        })
        .collect();
    record
        .artifacts
        .push(Artifact::Profile(ProfileArtifact { method, curves }));
    Ok(None)
}

/// Samples per trajectory of a sampled profile inside a sweep (smooth activations).
const PROFILE_SAMPLES: usize = 1 << 16;

/// The library's measurement entry point on a trial's points, without progress.
fn run_request(ctx: &TrialContext, request: &MeasureRequest) -> Result<Measurements, String> {
    crate::measure::measure(ctx.net, ctx.compute, ctx.inputs(), request, &mut |_| {
        ControlFlow::Continue(())
    })
    .map_err(|e| e.to_string())
}

/// Region maps of the last hidden layer before and after training (networks with a
/// hidden layer only), stored as the `regions` artifact.
fn measure_regions(
    r: &super::spec::RegionSpec,
    ctx: &TrialContext,
    initial: &Mlp,
    record: &mut TrialRecord,
) -> Result<Option<String>, String> {
    let request = MeasureRequest {
        regions: Some(RegionRequest {
            plane: Plane::Triplet {
                kind: r.triplet,
                seed: ctx.seed,
            },
            layer: None,
            grid: r.grid,
            initial: Some(initial.clone()),
        }),
        ..Default::default()
    };
    let Some(regions) = run_request(ctx, &request)?.regions else {
        return Ok(None);
    };
    let mut maps = Vec::new();
    for (name, map) in ["before training", "after training"].iter().zip(&regions.maps) {
        if let Some(bad) = map.non_finite {
            return Ok(Some(format!("region map {name}, grid pixel {}: {bad}", bad.point)));
        }
        maps.push(RegionMapArtifact::new(map.regions, &map.boundary));
    }
    let anchors: Vec<[f64; 2]> = crate::measure::trajectory::TRIANGLE_ANGLES
        .iter()
        .map(|t| {
            [
                crate::measure::regions::ANCHOR_RADIUS * t.cos(),
                crate::measure::regions::ANCHOR_RADIUS * t.sin(),
            ]
        })
        .collect();
    let [before, after]: [RegionMapArtifact; 2] = maps.try_into().expect("two maps");
    let x = regions.training_points.map(|i| ctx.inputs().train.input(i));
    let max_regions = r.max_regions.unwrap_or(regions_exact::SWEEP_MAX_REGIONS);
    let (exact, exact_skipped) = match exact_maps([initial, ctx.net], x, regions.layer - 1, max_regions)? {
        Ok(maps) => (Some(Box::new(maps)), None),
        Err(skip) => (None, Some(skip)),
    };
    record.artifacts.push(Artifact::Regions(RegionsArtifact {
        grid: r.grid,
        layer: regions.layer,
        training_points: regions.training_points,
        anchors,
        before,
        after,
        exact,
        exact_skipped,
    }));
    Ok(None)
}

/// The exact maps before and after training on the plane through `x`, up to hidden
/// `layer` (0-based), each stored as its counts, boundary density and a rendered PNG; or
/// why there are none (the report then draws the grid maps and says why).
fn exact_maps(
    nets: [&Mlp; 2],
    x: [&[f32]; 3],
    layer: usize,
    max_regions: usize,
) -> Result<std::result::Result<ExactRegionsArtifact, ExactSkip>, String> {
    let act = nets[0].activation();
    if !act.is_piecewise_linear() {
        return Ok(Err(ExactSkip::NotPiecewiseLinear {
            activation: act.to_string(),
        }));
    }
    // The grid maps were drawn on this plane, so the points span one.
    let plane = regions_exact::PlaneCoordinates::through(x).map_err(|e| e.to_string())?;
    let request = regions_exact::ExactRequest { layer, max_regions };
    let mut maps = Vec::with_capacity(2);
    for (net, stage) in nets.into_iter().zip([MapStage::Before, MapStage::After]) {
        let map = match regions_exact::exact_region_map_capped(net, &plane, request).map_err(|e| e.to_string())? {
            regions_exact::Capped::Map(map) => map,
            regions_exact::Capped::OverCap { layer, reached } => {
                return Ok(Err(ExactSkip::OverCap {
                    map: stage,
                    cap: max_regions,
                    layer: layer + 1,
                    reached,
                }));
            }
        };
        if let Some(bad) = map.non_finite {
            return Ok(Err(ExactSkip::NonFinite {
                map: stage,
                what: bad.to_string(),
            }));
        }
        let stored =
            ExactMapArtifact::new(&map, regions_exact::SWEEP_NEAR_RADIUS, MAP_IMAGE_SIDE).map_err(|e| e.to_string())?;
        maps.push(stored);
    }
    let [before, after]: [ExactMapArtifact; 2] = maps.try_into().expect("two maps");
    Ok(Ok(ExactRegionsArtifact { before, after }))
}
