//! The engine against an independent float64 reference: logits for every activation and
//! depth, and weight gradients against float64 central finite differences.

mod common;

use common::*;
use occam::compute::Compute;
use occam::net::engine::{self, Workspace};
use occam::net::{Activation, Mlp};

const DEPTHS: [usize; 4] = [1, 2, 3, 5];

/// The smallest |z − breakpoint| / scale over every hidden unit and example, so tests can
/// tell a genuine mismatch from a point where float32 and float64 pick different pieces.
fn margin(net: &Mlp, xs: &[f64], n: usize) -> f64 {
    let w = weights64(net);
    let d = net.input_dim();
    let mut m = f64::INFINITY;
    for i in 0..n {
        let (_, pres) = forward64(net, &w, &xs[i * d..(i + 1) * d]);
        for z in pres.iter().flatten() {
            for &b in net.activation().breakpoints() {
                m = m.min((z - b as f64).abs());
            }
        }
    }
    m
}

fn setup(act: Activation, depth: usize, seed: u64) -> (Mlp, Vec<f32>, Vec<u16>) {
    let net = Mlp::random([3, 3, 1], 7, depth, 4, act, 1.5, seed);
    let n = 5;
    let x = lcg_vec(seed + 100, n * 9).iter().map(|v| v * 2.0).collect();
    let labels = (0..n).map(|i| (i % 4) as u16).collect();
    (net, x, labels)
}

#[test]
fn logits_match_float64_reference() {
    for act in Activation::ALL {
        for depth in DEPTHS {
            let (net, x, _) = setup(act, depth, 11);
            let mut ws = Workspace::new(&net, 5);
            let logits = engine::forward(&net, &Compute::single(), &x, 5, &mut ws).to_vec();
            let w = weights64(&net);
            for i in 0..5 {
                let xi: Vec<f64> = x[i * 9..(i + 1) * 9].iter().map(|&v| v as f64).collect();
                let (want, _) = forward64(&net, &w, &xi);
                for (g, w) in logits[i * 4..(i + 1) * 4].iter().zip(&want) {
                    assert!(
                        (*g as f64 - w).abs() < 1e-5 * (1.0 + w.abs()),
                        "{act} depth {depth}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn gradients_match_float64_central_differences() {
    let eps = 1e-6;
    for act in Activation::ALL {
        for depth in DEPTHS {
            for seed in [1u64, 2] {
                let (net, x, labels) = setup(act, depth, seed);
                let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                // A kink within 1e-4 of a sample would make finite differences meaningless.
                if act.is_piecewise_linear() && margin(&net, &x64, 5) < 1e-4 {
                    continue;
                }
                let mut ws = Workspace::new(&net, 5);
                let mut grads: Vec<Vec<f32>> = net.weights().iter().map(|w| vec![0.0; w.len()]).collect();
                let stats = engine::loss_and_gradients(&net, &Compute::single(), &x, &labels, &mut ws, &mut grads);
                let w = weights64(&net);
                let loss = loss64(&net, &w, &x64, &labels);
                assert!(
                    (stats.loss_sum / 5.0 - loss).abs() < 1e-5 * (1.0 + loss),
                    "{act} depth {depth} loss"
                );
                let mut worst = 0.0f64;
                for l in 0..net.depth() {
                    for k in 0..net.weights()[l].len() {
                        let mut plus = w.clone();
                        plus[l][k] += eps;
                        let mut minus = w.clone();
                        minus[l][k] -= eps;
                        let fd =
                            (loss64(&net, &plus, &x64, &labels) - loss64(&net, &minus, &x64, &labels)) / (2.0 * eps);
                        let err = (grads[l][k] as f64 - fd).abs() / (1e-3 + fd.abs());
                        worst = worst.max(err);
                        assert!(
                            err < 2e-3,
                            "{act} depth {depth} seed {seed} layer {l} entry {k}: {} vs fd {fd}",
                            grads[l][k]
                        );
                    }
                }
                assert!(worst.is_finite());
            }
        }
    }
}

#[test]
fn gradient_checks_are_not_vacuous() {
    // Every activation and depth must have been checked with at least one seed above:
    // confirm the kink filter leaves some seed for each case.
    for act in Activation::ALL.into_iter().filter(|a| a.is_piecewise_linear()) {
        for depth in DEPTHS {
            let ok = [1u64, 2].iter().any(|&s| {
                let (net, x, _) = setup(act, depth, s);
                let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
                margin(&net, &x64, 5) >= 1e-4
            });
            assert!(ok, "{act} depth {depth}: every seed filtered out");
        }
    }
}

#[test]
fn multithreaded_and_single_threaded_gradients_are_identical() {
    // Large enough that the products are split across threads.
    let net = Mlp::random([16, 16, 3], 300, 3, 10, Activation::Relu, 1.0, 5);
    let n = 64;
    let x = lcg_vec(3, n * 768);
    let labels: Vec<u16> = (0..n).map(|i| (i % 10) as u16).collect();
    let run = |c: Compute| {
        let mut ws = Workspace::new(&net, n);
        let mut grads: Vec<Vec<f32>> = net.weights().iter().map(|w| vec![0.0; w.len()]).collect();
        engine::loss_and_gradients(&net, &c, &x, &labels, &mut ws, &mut grads);
        grads
    };
    assert_eq!(run(Compute::single()), run(Compute::new(2)));
}

#[test]
fn sharded_batch_gradient_equals_the_whole_batch_gradient() {
    let net = Mlp::random([8, 8, 1], 40, 4, 10, Activation::Relu6, 1.0, 9);
    let n = 50;
    let x = lcg_vec(4, n * 64);
    let labels: Vec<u16> = (0..n).map(|i| (i * 3 % 10) as u16).collect();
    let mut ws = Workspace::new(&net, n);
    let mut want: Vec<Vec<f32>> = net.weights().iter().map(|w| vec![0.0; w.len()]).collect();
    let whole = engine::loss_and_gradients(&net, &Compute::single(), &x, &labels, &mut ws, &mut want);
    for shards in [1, 2, 3, 7] {
        let mut step = engine::BatchGradient::new(&net, n, shards);
        let mut got: Vec<Vec<f32>> = net.weights().iter().map(|w| vec![1.0; w.len()]).collect();
        let stats = step.compute(&net, &Compute::new(2), &x, &labels, &mut got);
        assert_eq!((stats.n, stats.correct), (whole.n, whole.correct));
        assert!((stats.loss_sum - whole.loss_sum).abs() < 1e-6 * whole.loss_sum.abs().max(1.0));
        for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
            assert!((g - w).abs() <= 1e-6 * (1.0 + w.abs()), "shards {shards}: {g} vs {w}");
        }
    }
}
