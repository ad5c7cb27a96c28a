//! The library as another program calls it: training with a progress callback that can
//! cancel (same bits with or without it), the measurement entry point and its checked
//! shortcuts returning errors (never panics) for wrong input, and an explicit thread count.

use occam::compute::Compute;
use occam::data::{Dataset, Splits};
use occam::error::OccamError;
use occam::measure::{
    self, JacobianRequest, MeasureInputs, MeasureRequest, Method, Plane, ProfileRequest, RegionRequest, TrajectoryKind,
    TrajectoryRequest,
};
use occam::net::{Activation, Mlp};
use occam::train::{self, OptimizerKind, TrainConfig, TrainHooks, TrainProgress};
use std::ops::ControlFlow;

/// `n` deterministic 4x4 single-channel points of 3 classes, each class shifted apart.
fn dataset(n: usize, salt: u32) -> Dataset {
    let mut state = 0x9e37_79b9u32 ^ salt;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state as f32 / u32::MAX as f32 - 0.5
    };
    let labels: Vec<u16> = (0..n).map(|i| (i % 3) as u16).collect();
    let inputs = labels
        .iter()
        .flat_map(|&l| {
            (0..16)
                .map(|j| if j % 3 == l as usize { 1.0 } else { 0.0 })
                .collect::<Vec<f32>>()
        })
        .map(|v| v + next())
        .collect();
    Dataset {
        inputs,
        labels,
        shape: [4, 4, 1],
        classes: 3,
    }
}

fn splits() -> Splits {
    Splits {
        name: "synthetic".into(),
        train: dataset(96, 1),
        validation: None,
        test: dataset(30, 2),
    }
}

fn config(optimizer: OptimizerKind, steps: usize) -> TrainConfig {
    TrainConfig {
        width: 12,
        depth: 2,
        optimizer,
        batch: 16,
        steps,
        lr: 0.05,
        ..Default::default()
    }
}

fn bits(net: &Mlp) -> Vec<u32> {
    net.weights().iter().flatten().map(|v| v.to_bits()).collect()
}

fn tiny_net(activation: Activation) -> Mlp {
    Mlp::random([4, 4, 1], 10, 3, 3, activation, 1.0, 7)
}

#[test]
fn a_progress_callback_sees_every_step_and_does_not_change_the_bits() {
    for optimizer in [OptimizerKind::Sgd, OptimizerKind::Lbfgs] {
        let (splits, compute) = (splits(), Compute::new(2));
        let config = config(optimizer, 12);
        let plain = train::train(&config, &splits, &compute).unwrap();
        let mut seen: Vec<TrainProgress> = Vec::new();
        let mut on_progress = |p: TrainProgress| {
            seen.push(p);
            ControlFlow::Continue(())
        };
        let hooks = TrainHooks {
            on_progress: Some(&mut on_progress),
            log_every: 5,
            observer: None,
        };
        let watched = train::train_with(&config, &splits, &compute, hooks).unwrap();
        assert_eq!(bits(&plain.net), bits(&watched.net), "{optimizer:?}");
        assert!(!seen.is_empty(), "{optimizer:?}: the callback was never called");
        if optimizer == OptimizerKind::Sgd {
            let steps: Vec<usize> = seen.iter().map(|p| p.step).collect();
            assert_eq!(steps, (1..=plain.steps).collect::<Vec<_>>(), "one call per step");
            assert!(seen.iter().all(|p| p.total == 12 && p.loss.is_some_and(f64::is_finite)));
        }
        assert!(seen.windows(2).all(|w| w[0].elapsed <= w[1].elapsed));
    }
}

#[test]
fn a_callback_that_breaks_cancels_the_run_with_a_typed_error() {
    for (optimizer, unit) in [
        (OptimizerKind::Momentum, "steps"),
        (OptimizerKind::Lbfgs, "objective evaluations"),
    ] {
        let (splits, compute) = (splits(), Compute::new(1));
        let config = config(optimizer, 50);
        let mut calls = 0;
        let mut stop_at_three = |p: TrainProgress| {
            calls += 1;
            if p.step >= 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        };
        let hooks = TrainHooks {
            on_progress: Some(&mut stop_at_three),
            ..Default::default()
        };
        let e = train::train_with(&config, &splits, &compute, hooks).unwrap_err();
        assert!(
            matches!(e, OccamError::Cancelled { done: 3, .. }),
            "{optimizer:?}: {e:?}"
        );
        let total = if optimizer == OptimizerKind::Lbfgs { 100 } else { 50 };
        assert_eq!(e.to_string(), format!("training cancelled after 3 of {total} {unit}"));
        assert_eq!(calls, 3, "{optimizer:?}: no callback after the stop");
    }
}

#[test]
fn the_thread_count_is_the_callers_not_the_global_pools() {
    assert_eq!(Compute::new(0).threads(), 1);
    assert_eq!(Compute::new(3).threads(), 3);
    // A pool of 4 threads installed around the call does not change what was asked for.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
    assert_eq!(pool.install(|| Compute::new(0).threads()), 1);
}

#[test]
fn checked_jacobian_norms_refuse_wrong_lengths_and_labels() {
    let (net, compute) = (tiny_net(Activation::Relu), Compute::single());
    let x = vec![0.25f32; 3 * 16];
    let ok = measure::jacobian_norms(&net, &compute, &x, Some(&[0, 1, 2])).unwrap();
    assert_eq!(ok.len(), 3);
    type Case<'a> = (&'a [f32], Option<&'a [u16]>, &'a [&'a str]);
    let cases: [Case; 3] = [
        (&x[..40], None, &["40 values", "16 values"]),
        (&x, Some(&[0, 1]), &["2 labels", "3 points"]),
        (&x, Some(&[0, 3, 1]), &["label 3", "point 1", "0 to 2"]),
    ];
    for (x, labels, words) in cases {
        let e = measure::jacobian_norms(&net, &compute, x, labels)
            .unwrap_err()
            .to_string();
        assert!(words.iter().all(|w| e.contains(w)), "{e}");
    }
}

/// The error of one request on a network of 16 inputs and 3 classes.
fn refused(net: &Mlp, points: &Dataset, request: MeasureRequest) -> String {
    let train = dataset(30, 3);
    let inputs = MeasureInputs {
        points,
        labelled: true,
        train: &train,
    };
    measure::measure(net, &Compute::single(), inputs, &request, &mut |_| {
        ControlFlow::Continue(())
    })
    .unwrap_err()
    .to_string()
}

fn trajectories(kind: TrajectoryKind, count: usize) -> TrajectoryRequest {
    TrajectoryRequest {
        kind,
        count,
        method: None,
        samples: 1 << 10,
        seed: 1,
    }
}

#[test]
fn the_entry_point_refuses_bad_requests_with_errors_naming_them() {
    let net = tiny_net(Activation::Relu);
    let points = dataset(5, 4);
    let mut wrong_shape = dataset(5, 4);
    wrong_shape.shape = [4, 2, 2];
    wrong_shape.inputs.truncate(5 * 16 - 1);
    let mut bad_labels = dataset(5, 4);
    bad_labels.labels[2] = 7;
    let jac = MeasureRequest {
        jacobian: Some(JacobianRequest::default()),
        ..Default::default()
    };
    let region = |plane, layer| RegionRequest {
        plane,
        layer,
        grid: 8,
        initial: None,
    };
    let cases: Vec<(&Dataset, MeasureRequest, &[&str])> = vec![
        (&wrong_shape, jac.clone(), &["points", "79 values for 5 points"]),
        (&bad_labels, jac, &["label 7", "point 2"]),
        (
            &points,
            MeasureRequest {
                transitions: Some(trajectories(TrajectoryKind::RandomEllipse, 0)),
                ..Default::default()
            },
            &["trajectory count", "0"],
        ),
        (
            &points,
            MeasureRequest {
                transitions: Some(TrajectoryRequest {
                    method: Some(Method::Sampled),
                    samples: 1,
                    ..trajectories(TrajectoryKind::RandomEllipse, 2)
                }),
                ..Default::default()
            },
            &["samples per trajectory", "1"],
        ),
        (
            &points,
            MeasureRequest {
                profile: Some(ProfileRequest {
                    curves: vec![],
                    bins: 16,
                }),
                ..Default::default()
            },
            &["profile", "at least one"],
        ),
        (
            &points,
            MeasureRequest {
                profile: Some(ProfileRequest {
                    curves: vec![trajectories(TrajectoryKind::RandomEllipse, 2)],
                    bins: 1,
                }),
                ..Default::default()
            },
            &["profile bins", "1"],
        ),
        (
            &points,
            MeasureRequest {
                regions: Some(region(Plane::Points([0, 0, 1]), None)),
                ..Default::default()
            },
            &["0 0 1", "must be different"],
        ),
        (
            &points,
            MeasureRequest {
                regions: Some(region(Plane::Points([0, 1, 99]), None)),
                ..Default::default()
            },
            &["99", "30 examples"],
        ),
        (
            &points,
            MeasureRequest {
                regions: Some(region(Plane::Points([0, 1, 2]), Some(5))),
                ..Default::default()
            },
            &["layer 5", "1 to 2"],
        ),
        (
            &points,
            MeasureRequest {
                regions: Some(region(
                    Plane::Triplet {
                        kind: TrajectoryKind::Translate,
                        seed: 1,
                    },
                    None,
                )),
                ..Default::default()
            },
            &["translate", "not a triplet kind"],
        ),
    ];
    for (points, request, words) in cases {
        let e = refused(&net, points, request);
        assert!(words.iter().all(|w| e.contains(w)), "{words:?} not in: {e}");
    }
    let smooth = tiny_net(Activation::Tanh);
    let exact = MeasureRequest {
        transitions: Some(TrajectoryRequest {
            method: Some(Method::Exact),
            ..trajectories(TrajectoryKind::RandomEllipse, 2)
        }),
        ..Default::default()
    };
    let e = refused(&smooth, &points, exact);
    assert!(e.contains("piecewise-linear") && e.contains("tanh"), "{e}");
}

#[test]
fn a_trajectory_of_the_wrong_dimension_is_an_error() {
    let (net, compute) = (tiny_net(Activation::Relu), Compute::single());
    let short = measure::trajectory::random_ellipse(15, 1, 0).unwrap();
    let e = measure::count_transitions(&net, &compute, &short, None, 64).unwrap_err();
    assert!(
        e.to_string().contains("15 values") && e.to_string().contains("16 inputs"),
        "{e}"
    );
    let fine = measure::trajectory::random_ellipse(16, 1, 0).unwrap();
    let counted = measure::count_transitions(&net, &compute, &fine, None, 64).unwrap();
    assert!(counted.non_finite.is_none());
}

#[test]
fn the_entry_point_gives_what_the_kernels_give_and_can_be_cancelled() {
    let (net, compute) = (tiny_net(Activation::Relu), Compute::single());
    let (points, train) = (dataset(20, 5), dataset(30, 6));
    let inputs = MeasureInputs {
        points: &points,
        labelled: true,
        train: &train,
    };
    let request = MeasureRequest {
        jacobian: Some(JacobianRequest { points: Some(7) }),
        transitions: Some(trajectories(TrajectoryKind::DifferentClassEllipse, 3)),
        ..Default::default()
    };
    let mut reports = Vec::new();
    let got = measure::measure(&net, &compute, inputs, &request, &mut |p| {
        reports.push(p);
        ControlFlow::Continue(())
    })
    .unwrap();
    let want = measure::jacobian_norms(&net, &compute, &points.inputs[..7 * 16], Some(&points.labels[..7])).unwrap();
    assert_eq!(got.points, want);
    let transitions = got.transitions.unwrap();
    assert_eq!(transitions.counts.len(), 3);
    for (i, c) in transitions.counts.iter().enumerate() {
        let traj = measure::trajectory::build(TrajectoryKind::DifferentClassEllipse, &points, &train, i, 1).unwrap();
        let alone = measure::count_transitions(&net, &compute, &traj, None, 0).unwrap();
        assert_eq!(c.total, alone.total);
    }
    assert_eq!(reports.last().map(|p| (p.done, p.total)), Some((10, 10)));

    let e = measure::measure(&net, &compute, inputs, &request, &mut |_| ControlFlow::Break(())).unwrap_err();
    assert!(matches!(e, OccamError::Cancelled { done: 7, total: 10, .. }), "{e:?}");
    assert!(e.to_string().starts_with("measurement cancelled after 7 of 10"), "{e}");
}

#[test]
fn trajectory_builders_refuse_caller_input_instead_of_panicking() {
    use occam::measure::trajectory::{data_ellipse, random_ellipse, translation};
    let e = translation(&[0.0; 5], [2, 3, 1]).unwrap_err().to_string();
    assert!(
        e.contains("input shape 2,3,1") && e.contains("holds 6") && e.contains("has 5"),
        "{e}"
    );
    let e = translation(&[0.0; 6], [3, 1, 2]).unwrap_err().to_string();
    assert!(e.contains("width must be at least 2"), "{e}");
    let e = translation(&[], [0, 4, 1]).unwrap_err().to_string();
    assert!(e.contains("input shape 0,4,1"), "{e}");
    assert_eq!(translation(&[0.0; 6], [1, 3, 2]).unwrap().pieces.len(), 3);

    let (a, b, c) = ([1.0f32, 0.0, 0.0], [0.0f32, 1.0, 0.0], [0.0f32, 0.0, 1.0, 0.0]);
    let e = data_ellipse([&a, &b, &c]).unwrap_err().to_string();
    assert!(e.contains("sizes 3, 3 and 4 differ"), "{e}");
    assert!(data_ellipse([&a, &b, &c[..3]]).is_ok());

    let e = random_ellipse(0, 1, 0).unwrap_err().to_string();
    assert!(e.contains("dimension = 0"), "{e}");
    let e = random_ellipse(usize::MAX, 1, 0).unwrap_err().to_string();
    assert!(e.contains("out of range"), "{e}");
}
