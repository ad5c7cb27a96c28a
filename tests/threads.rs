//! What the thread count changes and what it does not (docs/BACKEND.md, Determinism):
//! products, optimizer updates, Jacobian norms and training runs of networks trained
//! without batch shards are the same bits at every thread count; networks narrow enough
//! to be trained in batch shards agree within rounding. Each test would fail if a split
//! changed an inner summation order or dropped part of an output.

use occam::compute::{Backend, Compute, MatRef};
use occam::data::{Dataset, Splits};
use occam::measure::jacobian::jacobian_norms;
use occam::net::{Activation, Mlp};
use occam::train::{self, OptimizerKind, OptimizerState, TrainConfig};

fn lcg_vec(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn products_are_the_same_bits_at_every_thread_count_and_match_float64() {
    // Shapes above the splitting threshold, split by rows (m > n) and by columns (n ≥ m),
    // with ragged edges, for every transpose combination and with accumulation.
    // Small shapes (one band) too: the product is right whether or not it is split.
    for (m, k, n) in [(300, 200, 97), (64, 513, 700), (1000, 7, 333), (37, 53, 29)] {
        let a = lcg_vec(1, m * k);
        let b = lcg_vec(2, k * n);
        let c0 = lcg_vec(3, m * n);
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let av = if ta {
                MatRef::rows(&a, k, m).t()
            } else {
                MatRef::rows(&a, m, k)
            };
            let bv = if tb {
                MatRef::rows(&b, n, k).t()
            } else {
                MatRef::rows(&b, k, n)
            };
            let run = |threads: usize, accumulate: bool| {
                let mut out = c0.clone();
                Compute::new(threads).matmul(&mut out, av, bv, accumulate);
                out
            };
            for accumulate in [false, true] {
                let one = run(1, accumulate);
                for threads in [2, 3, 4] {
                    assert_eq!(
                        bits(&one),
                        bits(&run(threads, accumulate)),
                        "{m}x{k}x{n} {ta} {tb} {threads} threads"
                    );
                }
                // And the product itself is right: every entry against float64.
                for i in 0..m {
                    for j in 0..n {
                        let mut want: f64 = if accumulate { c0[i * n + j] as f64 } else { 0.0 };
                        for p in 0..k {
                            want += av.data[i * av.row_stride + p * av.col_stride] as f64
                                * bv.data[p * bv.row_stride + j * bv.col_stride] as f64;
                        }
                        assert!(
                            (one[i * n + j] as f64 - want).abs() < 1e-5 * (k as f64).sqrt(),
                            "({i},{j})"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn optimizer_updates_are_the_same_bits_split_or_not() {
    let lens = [150_000usize, 7];
    let params: Vec<Vec<f32>> = lens.iter().map(|&l| lcg_vec(l as u64, l)).collect();
    let grads: Vec<Vec<f32>> = lens.iter().map(|&l| lcg_vec(l as u64 + 9, l)).collect();
    for kind in [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Adam,
        OptimizerKind::Rmsprop,
    ] {
        let run = |threads: usize| {
            let c = Compute::new(threads);
            let mut p: Vec<Box<[f32]>> = params.iter().map(|v| c.upload(v)).collect();
            let mut opt = OptimizerState::on(&c, kind, &lens).unwrap();
            for lr in [0.1, 0.05, 0.01] {
                opt.step_on(&c, &mut p, &grads, lr);
            }
            p.iter().flat_map(|v| bits(v)).collect::<Vec<u32>>()
        };
        let one = run(1);
        assert_eq!(one, run(2), "{kind:?}");
        assert_eq!(one, run(3), "{kind:?}");
        // The host optimizer (one thread, used by custom loops) is the same arithmetic.
        let mut host = params.clone();
        let mut opt = train::optimizer(kind, &params).unwrap();
        for lr in [0.1, 0.05, 0.01] {
            opt.step(&mut host, &grads, lr);
        }
        assert_eq!(one, host.iter().flat_map(|v| bits(v)).collect::<Vec<u32>>(), "{kind:?}");
        assert_ne!(bits(&params[0]), bits(&host[0]), "{kind:?}: the update changed nothing");
    }
}

#[test]
fn jacobian_norms_are_the_same_bits_at_every_thread_count() {
    for (width, depth, d) in [(300, 3, 64), (40, 4, 100)] {
        let net = Mlp::random([d, 1, 1], width, depth, 10, Activation::Relu, 1.0, 3);
        let points = 150;
        let x = lcg_vec(5, points * d);
        let labels: Vec<u16> = (0..points).map(|i| (i % 10) as u16).collect();
        let run = |threads: usize| {
            jacobian_norms(&net, &Compute::new(threads), &x, Some(&labels))
                .iter()
                .flat_map(|p| [p.jacobian_norm, p.logit_jacobian_norm, p.target_row_norm, p.loss])
                .map(f64::to_bits)
                .collect::<Vec<u64>>()
        };
        let one = run(1);
        assert_eq!(one.len(), points * 4);
        assert_eq!(one, run(2), "width {width}");
        assert_eq!(one, run(3), "width {width}");
    }
}

fn splits(n: usize) -> Splits {
    let d = 64;
    let inputs = lcg_vec(11, n * d);
    let labels: Vec<u16> = (0..n).map(|i| (i % 5) as u16).collect();
    let train = Dataset {
        inputs,
        labels,
        shape: [8, 8, 1],
        classes: 5,
    };
    Splits {
        name: "lcg".into(),
        test: train.clone(),
        validation: None,
        train,
    }
}

fn run(width: usize, threads: usize, optimizer: OptimizerKind) -> train::TrainOutcome {
    let config = TrainConfig {
        width,
        depth: 3,
        optimizer,
        steps: 30,
        batch: 128,
        lr: 0.01,
        seed: 4,
        stop_at_100: false,
        ..Default::default()
    };
    train::train(&config, &splits(512), &Compute::new(threads)).unwrap()
}

#[test]
fn training_is_the_same_bits_at_every_thread_count() {
    // Width 300: every hidden product and the large updates split across threads. Width
    // 200 (narrower than 256, once trained in thread-count-dependent batch shards): the
    // hidden-to-hidden product splits. Neither run may move a bit.
    for (width, optimizer) in [
        (300, OptimizerKind::Momentum),
        (300, OptimizerKind::Adam),
        (200, OptimizerKind::Adam),
        (200, OptimizerKind::Rmsprop),
    ] {
        let one = run(width, 1, optimizer);
        let two = run(width, 2, optimizer);
        assert_eq!(one.steps, 30);
        let flat = |net: &Mlp| net.params().iter().flat_map(|v| bits(v)).collect::<Vec<u32>>();
        assert_eq!(flat(&one.net), flat(&two.net), "width {width} {optimizer:?}");
        assert_eq!(one.train.loss.to_bits(), two.train.loss.to_bits());
        assert_eq!(
            flat(&one.net),
            flat(&run(width, 3, optimizer).net),
            "width {width} {optimizer:?}, 3 threads"
        );
        assert_ne!(flat(&one.net), flat(&one.initial), "training changed nothing");
    }
}

#[test]
fn batch_shards_when_asked_for_agree_within_rounding() {
    // The library's BatchGradient may split a batch (faster on narrow networks); the
    // combined gradient is the same sum rounded differently.
    let net = Mlp::random([8, 8, 1], 40, 3, 5, Activation::Relu, 1.0, 2);
    let x = lcg_vec(6, 128 * 64);
    let labels: Vec<u16> = (0..128).map(|i| (i % 5) as u16).collect();
    let grads = |shards: usize| {
        let mut g = net.zero_params();
        occam::net::engine::BatchGradient::new(&net, 128, shards).compute(&net, &Compute::new(2), &x, &labels, &mut g);
        g
    };
    let (one, four) = (grads(1), grads(4));
    for (a, b) in one.iter().flatten().zip(four.iter().flatten()) {
        assert!((a - b).abs() <= 1e-6 * (1.0 + a.abs()), "{a} vs {b}");
    }
}

#[test]
fn measurements_are_the_same_at_every_thread_count() {
    // Trajectories are counted (and profiled) several at once, one per thread; the
    // results and the order of every sum must not change with the thread count.
    use occam::measure::{
        self, MeasureInputs, MeasureRequest, Method, ProfileRequest, TrajectoryKind, TrajectoryRequest,
    };
    let data = splits(120).train;
    let net = Mlp::random([8, 8, 1], 60, 4, 5, Activation::Relu, 1.0, 8);
    let curve = |kind, count| TrajectoryRequest {
        kind,
        count,
        method: None,
        samples: 1 << 10,
        seed: 3,
    };
    let run = |threads: usize, method: Method| {
        let inputs = MeasureInputs {
            points: &data,
            labelled: true,
            train: &data,
        };
        let request = MeasureRequest {
            transitions: Some(TrajectoryRequest {
                method: Some(method),
                ..curve(TrajectoryKind::RandomEllipse, 5)
            }),
            profile: Some(ProfileRequest {
                curves: vec![TrajectoryRequest {
                    method: Some(method),
                    ..curve(TrajectoryKind::DifferentClassEllipse, 5)
                }],
                bins: 32,
            }),
            ..Default::default()
        };
        measure::measure(&net, &Compute::new(threads), inputs, &request, &mut |_| {
            std::ops::ControlFlow::Continue(())
        })
        .unwrap()
    };
    for method in [Method::Exact, Method::Sampled] {
        let one = run(1, method);
        let counts = one.transitions.as_ref().unwrap();
        assert_eq!(counts.counts.len(), 5);
        assert!(
            counts.counts.iter().all(|c| c.total > 0),
            "{method:?}: no crossings counted"
        );
        let profile = &one.profiles.as_ref().unwrap().curves[0].1;
        assert!(profile.mean_transitions > 0.0 && profile.jacobian_norm.iter().all(|v| *v > 0.0));
        for threads in [2, 3] {
            let other = run(threads, method);
            assert_eq!(one.transitions, other.transitions, "{method:?} at {threads} threads");
            let bits = |p: &occam::measure::Profile| {
                (p.jacobian_norm.iter().chain(&p.transition_density))
                    .map(|v| v.to_bits())
                    .collect::<Vec<u64>>()
            };
            let other_profile = &other.profiles.as_ref().unwrap().curves[0].1;
            assert_eq!(
                bits(profile),
                bits(other_profile),
                "{method:?} profile at {threads} threads"
            );
        }
    }
}
