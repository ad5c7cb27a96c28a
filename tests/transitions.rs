//! Exact transition counts against cases with known answers and against dense sampling.

mod common;

use common::*;
use occam::compute::Compute;
use occam::measure::trajectory::{Piece, Trajectory, data_ellipse, random_ellipse, translation};
use occam::measure::transitions::{exact_transitions, sampled_transitions};
use occam::net::{Activation, Mlp};

const PL: [Activation; 4] = [
    Activation::Relu,
    Activation::Relu6,
    Activation::HardTanh,
    Activation::HardSigmoid,
];

fn f64v(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Pre-activations of the single hidden layer, in f64.
fn hidden_pre(net: &Mlp, x: &[f64]) -> Vec<f64> {
    let (d, w) = (net.dims()[0], net.dims()[1]);
    (0..w)
        .map(|i| (0..d).map(|j| net.weights()[0][i * d + j] as f64 * x[j]).sum())
        .collect()
}

#[test]
fn one_hidden_layer_there_and_back_crosses_each_separating_hyperplane_twice() {
    for act in PL {
        let net = Mlp::random([5, 4, 1], 60, 2, 3, act, 3.0, 7);
        let p = lcg_vec(1, 20).iter().map(|v| v * 3.0).collect::<Vec<f32>>();
        let q = lcg_vec(2, 20).iter().map(|v| v * 3.0).collect::<Vec<f32>>();
        let traj = Trajectory {
            pieces: vec![
                Piece::Segment {
                    start: p.clone(),
                    end: q.clone(),
                },
                Piece::Segment {
                    start: q.clone(),
                    end: p.clone(),
                },
            ],
            anchors: vec![],
        };
        let (zp, zq) = (hidden_pre(&net, &f64v(&p)), hidden_pre(&net, &f64v(&q)));
        let want: u64 = (0..60)
            .map(|i| {
                act.breakpoints()
                    .iter()
                    .filter(|&&b| (zp[i] > b as f64) != (zq[i] > b as f64))
                    .count() as u64
                    * 2
            })
            .sum();
        assert!(want > 10, "{act}: the case should have crossings");
        let got = exact_transitions(&net, &Compute::single(), &traj, false);
        assert_eq!(got.total, want, "{act}");
        assert_eq!(got.per_layer, vec![want]);
    }
}

#[test]
fn one_hidden_layer_on_an_ellipse_crosses_each_reachable_breakpoint_twice() {
    for act in PL {
        let net = Mlp::random([4, 4, 1], 80, 2, 3, act, 1.0, 9);
        let c: Vec<f32> = lcg_vec(5, 16).iter().map(|v| v * 0.5).collect();
        let (a, b) = (lcg_vec(6, 16), lcg_vec(7, 16));
        let traj = Trajectory {
            pieces: vec![Piece::Ellipse {
                center: c.clone(),
                a: a.clone(),
                b: b.clone(),
            }],
            anchors: vec![],
        };
        let (zc, za, zb) = (
            hidden_pre(&net, &f64v(&c)),
            hidden_pre(&net, &f64v(&a)),
            hidden_pre(&net, &f64v(&b)),
        );
        // z_i(θ) = zc + za cos θ + zb sin θ reaches β twice iff |β − zc| < hypot(za, zb).
        let want: u64 = (0..80)
            .map(|i| {
                act.breakpoints()
                    .iter()
                    .filter(|&&beta| (beta as f64 - zc[i]).abs() < za[i].hypot(zb[i]))
                    .count() as u64
                    * 2
            })
            .sum();
        let got = exact_transitions(&net, &Compute::single(), &traj, true);
        assert_eq!(got.total, want, "{act}");
        assert_eq!(got.positions.len() as u64, want);
        assert!(got.positions.iter().all(|p| (0.0..1.0).contains(p)));
    }
    // relu on a zero-centred ellipse: every neuron crosses exactly twice.
    let net = Mlp::random([4, 4, 1], 50, 2, 3, Activation::Relu, 1.0, 2);
    let traj = random_ellipse(16, 3, 0).unwrap();
    assert_eq!(exact_transitions(&net, &Compute::single(), &traj, false).total, 100);
}

/// Dense sampling must rise toward the exact count as k grows and never exceed it.
fn compare_with_sampling(net: &Mlp, traj: &Trajectory, label: &str) {
    let c = Compute::new(2);
    let exact = exact_transitions(net, &c, traj, false);
    let mut last = 0;
    for k in [1 << 8, 1 << 12, 1 << 16, 1 << 19] {
        let s = sampled_transitions(net, &c, traj, k, false);
        assert!(
            s.total <= exact.total,
            "{label}: sampled {} at k={k} exceeds exact {}",
            s.total,
            exact.total
        );
        for (l, (sl, el)) in s.per_layer.iter().zip(&exact.per_layer).enumerate() {
            assert!(sl <= el, "{label}: layer {l} sampled {sl} > exact {el} at k={k}");
        }
        assert!(
            s.total + 1 >= last,
            "{label}: sampled count fell from {last} to {} at k={k}",
            s.total
        );
        last = s.total;
    }
    assert!(
        exact.total > 20,
        "{label}: too few crossings to be a test ({})",
        exact.total
    );
    assert!(
        exact.total - last <= 1 + exact.total / 200,
        "{label}: k = 2^19 still misses {} of {}",
        exact.total - last,
        exact.total
    );
}

#[test]
fn exact_counts_bound_and_match_dense_sampling_on_random_networks() {
    for act in PL {
        for depth in [2, 3, 5] {
            let net = Mlp::random([6, 6, 1], 24, depth, 5, act, 1.5, depth as u64);
            let img = lcg_vec(depth as u64 + 40, 36);
            compare_with_sampling(
                &net,
                &translation(&img, [6, 6, 1]).unwrap(),
                &format!("{act} d{depth} translate"),
            );
            let scaled = |v: Vec<f32>| v.into_iter().map(|x| x * 2.0).collect::<Vec<_>>();
            let (x0, x1, x2) = (scaled(lcg_vec(1, 36)), scaled(lcg_vec(2, 36)), scaled(lcg_vec(3, 36)));
            compare_with_sampling(
                &net,
                &data_ellipse([&x0, &x1, &x2]).unwrap(),
                &format!("{act} d{depth} data ellipse"),
            );
            compare_with_sampling(
                &net,
                &random_ellipse(36, 5, depth as u64).unwrap(),
                &format!("{act} d{depth} random ellipse"),
            );
        }
    }
}

#[test]
fn exact_counts_bound_and_match_dense_sampling_on_a_trained_network() {
    use occam::data::DataSource;
    use occam::train::{TrainConfig, train};
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 400, 50, 6, false);
    let splits = DataSource::Mnist(tmp.path().into()).load().unwrap();
    let config = TrainConfig {
        width: 32,
        depth: 3,
        steps: 300,
        batch: 32,
        lr: 0.01,
        ..Default::default()
    };
    let outcome = train(&config, &splits, &Compute::new(2)).unwrap();
    assert!(outcome.train.accuracy > 0.5);
    for i in 0..3 {
        compare_with_sampling(
            &outcome.net,
            &translation(splits.test.input(i), [6, 6, 1]).unwrap(),
            &format!("trained, test point {i}"),
        );
    }
}

#[test]
fn tanh_is_counted_by_sampling_only() {
    let net = Mlp::random([3, 3, 1], 10, 3, 2, Activation::Tanh, 1.0, 1);
    let traj = random_ellipse(9, 1, 0).unwrap();
    let s = sampled_transitions(&net, &Compute::single(), &traj, 1 << 14, false);
    assert!(
        s.total > 0 && s.total.is_multiple_of(2),
        "a closed loop crosses each sign boundary an even number of times"
    );
    assert!(std::panic::catch_unwind(|| exact_transitions(&net, &Compute::single(), &traj, false)).is_err());
}

#[test]
fn a_small_memory_budget_splits_the_walk_without_changing_the_count() {
    use occam::measure::transitions::exact_transitions_within;
    for act in PL {
        let net = Mlp::random([6, 6, 1], 40, 4, 5, act, 1.5, 3);
        for traj in [
            translation(&lcg_vec(9, 36), [6, 6, 1]).unwrap(),
            random_ellipse(36, 2, 1).unwrap(),
        ] {
            let whole = exact_transitions(&net, &Compute::single(), &traj, false);
            // 2,000 floats forces many halvings of each piece.
            let split = exact_transitions_within(&net, &Compute::single(), &traj, false, 2_000);
            assert!(whole.total > 50);
            let diff = whole.total.abs_diff(split.total);
            assert!(diff <= 1, "{act}: whole {} vs split {}", whole.total, split.total);
        }
    }
}
