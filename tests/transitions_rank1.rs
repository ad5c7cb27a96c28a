//! The rank-1 exact walk (the default) against the reference GEMM walk on random and
//! trained networks, ties, re-anchoring, thread counts, and straight lines in a plane
//! against dense float64 sampling.

mod common;

use common::*;
use occam::compute::Compute;
use occam::measure::TransitionCount;
use occam::measure::trajectory::{Piece, Trajectory, data_ellipse, random_ellipse, translation};
use occam::measure::transitions::{exact_transitions, exact_transitions_gemm};
use occam::net::{Activation, Mlp};

const PL: [Activation; 4] = [
    Activation::Relu,
    Activation::Relu6,
    Activation::HardTanh,
    Activation::HardSigmoid,
];

const DEPTHS: [usize; 4] = [2, 3, 6, 12];

/// `net` with a bias on every layer (entries in [−0.8, 0.8]).
fn with_biases(net: Mlp, seed: u64) -> Mlp {
    let biases = (net.dims()[1..].iter().enumerate())
        .map(|(l, &w)| lcg_vec(seed * 31 + l as u64 + 7, w).iter().map(|v| 0.8 * v).collect())
        .collect();
    let (act, shape, dims, weights) = (
        net.activation(),
        net.input_shape(),
        net.dims().to_vec(),
        net.weights().to_vec(),
    );
    Mlp::from_parts(act, shape, dims, weights, Some(biases)).unwrap()
}

/// The three kinds of trajectory, in 6×6 inputs.
fn trajectories(seed: u64) -> Vec<(&'static str, Trajectory)> {
    three_trajectories(6, seed)
}

/// Asserts that the rank-1 walk counts exactly what the GEMM walk counts, per layer, at
/// the same positions (to rounding); returns the rank-1 count.
fn assert_walks_agree(net: &Mlp, traj: &Trajectory, label: &str) -> TransitionCount {
    let c = Compute::single();
    let fast = exact_transitions(net, &c, traj, true);
    let reference = exact_transitions_gemm(net, &c, traj, true);
    assert!(
        fast.non_finite.is_none() && reference.non_finite.is_none(),
        "{label}: overflow"
    );
    assert_eq!(
        fast.per_layer, reference.per_layer,
        "{label}: rank-1 vs GEMM walk per layer"
    );
    assert_eq!(fast.total, reference.total, "{label}");
    let sorted = |mut p: Vec<f64>| {
        p.sort_by(f64::total_cmp);
        p
    };
    let (a, b) = (sorted(fast.positions.clone()), sorted(reference.positions));
    let far = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    // The coefficients differ by float32 rounding; a shallow crossing moves by more.
    assert!(far < 1e-4, "{label}: crossing positions differ by {far}");
    fast
}

#[test]
fn rank1_walk_equals_the_gemm_walk_on_random_networks_with_and_without_biases() {
    for act in PL {
        for depth in DEPTHS {
            for biased in [false, true] {
                let seed = depth as u64 * 10 + biased as u64;
                let mut net = Mlp::random([6, 6, 1], 24, depth, 5, act, 1.5, seed);
                if biased {
                    net = with_biases(net, seed);
                }
                let mut total = 0;
                for (name, traj) in trajectories(seed) {
                    let label = format!("{act} depth {depth} biased {biased} {name}");
                    total += assert_walks_agree(&net, &traj, &label).total;
                }
                assert!(
                    total >= 30,
                    "{act} depth {depth}: too few crossings to be a test ({total})"
                );
            }
        }
    }
}

#[test]
fn rank1_walk_equals_the_gemm_walk_on_trained_networks() {
    use occam::data::DataSource;
    use occam::train::{TrainConfig, train};
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 300, 20, 6, false);
    let splits = DataSource::Mnist(tmp.path().into()).load().unwrap();
    for act in PL {
        for depth in DEPTHS {
            let config = TrainConfig {
                width: 24,
                depth,
                activation: act,
                steps: 60,
                batch: 32,
                lr: 0.01,
                bias: depth % 2 == 1,
                ..Default::default()
            };
            let outcome = train(&config, &splits, &Compute::single()).unwrap();
            let net = &outcome.net;
            let trajectories = [
                ("translate", translation(splits.test.input(0), [6, 6, 1]).unwrap()),
                (
                    "data ellipse",
                    data_ellipse([splits.train.input(0), splits.train.input(1), splits.train.input(2)]).unwrap(),
                ),
            ];
            let mut total = 0;
            for (name, traj) in trajectories {
                total += assert_walks_agree(net, &traj, &format!("trained {act} depth {depth} {name}")).total;
            }
            assert!(total >= 10, "trained {act} depth {depth}: too few crossings ({total})");
        }
    }
}

/// A depth-3 network on 4×4 inputs whose first layer has neuron pairs (2j, 2j+1) with
/// row 2j+1 = 2 · row 2j: both reach every breakpoint at exactly the same point along any
/// path (doubling is exact in floating point), so every first-layer cut is a tie.
fn tied_network(act: Activation) -> Mlp {
    let net = Mlp::random([4, 4, 1], 12, 3, 3, act, 1.5, 77);
    let mut weights = net.weights().to_vec();
    let d = net.dims()[0];
    for j in 0..6 {
        let row: Vec<f32> = weights[0][2 * j * d..(2 * j + 1) * d].to_vec();
        for (v, r) in weights[0][(2 * j + 1) * d..(2 * j + 2) * d].iter_mut().zip(row) {
            *v = 2.0 * r;
        }
    }
    Mlp::from_parts(act, net.input_shape(), net.dims().to_vec(), weights, None).unwrap()
}

#[test]
fn neurons_crossing_at_the_same_point_all_change_the_next_layer() {
    for act in PL {
        let net = tied_network(act);
        // For relu6, hard_tanh and hard_sigmoid the doubled neuron also reaches the other
        // breakpoints, where the pair does not tie; the shared ones (0 for relu/relu6) do.
        let traj = random_ellipse(16, 4, 2).unwrap();
        let exact = assert_walks_agree(&net, &traj, &format!("{act} tied"));
        let sampled = sampled64(&net, &traj, 1 << 16);
        assert!(exact.per_layer[1] >= 6, "{act}: too few second-layer crossings");
        for (l, (&s, &e)) in sampled.iter().zip(&exact.per_layer).enumerate() {
            assert!(
                s <= e && e - s <= 1,
                "{act} tied: layer {l} exact {e}, float64 sampling {s}"
            );
        }
    }
}

#[test]
fn long_chains_are_re_anchored_without_changing_the_count() {
    // A single ellipse: the first layer's cuts all fall in one arc, so the second layer's
    // coefficients are carried along one chain longer than the re-anchoring interval
    // (max(64, width) = 80 children).
    for act in [Activation::Relu6, Activation::HardTanh, Activation::HardSigmoid] {
        let net = with_biases(Mlp::random([6, 6, 1], 80, 4, 5, act, 2.0, 3), 3);
        let traj = random_ellipse(36, 8, 1).unwrap();
        let exact = assert_walks_agree(&net, &traj, &format!("{act} long chain"));
        assert!(
            exact.per_layer[0] > 80,
            "{act}: the chain ({} first-layer cuts) must be longer than the interval",
            exact.per_layer[0]
        );
    }
}

#[test]
fn the_count_does_not_depend_on_the_number_of_threads() {
    let run = |threads: usize, net: &Mlp, traj: &Trajectory| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| exact_transitions(net, &Compute::new(threads), traj, true))
    };
    for act in PL {
        let net = with_biases(Mlp::random([6, 6, 1], 40, 4, 5, act, 1.5, 9), 9);
        for (name, traj) in trajectories(4) {
            let one = run(1, &net, &traj);
            assert!(one.total > 20, "{act} {name}: too few crossings ({})", one.total);
            assert_eq!(one, run(2, &net, &traj), "{act} {name}: 1 vs 2 threads");
            assert_eq!(one, run(3, &net, &traj), "{act} {name}: 1 vs 3 threads");
        }
    }
}

/// Every hidden layer's pre-activations in float64 (weights and biases as float64).
fn pre_activations64(net: &Mlp, x: &[f64]) -> Vec<Vec<f64>> {
    let mut a = x.to_vec();
    let mut out = Vec::new();
    for l in 0..net.depth() - 1 {
        let (n_in, n_out) = (net.dims()[l], net.dims()[l + 1]);
        let w = &net.weights()[l];
        let z: Vec<f64> = (0..n_out)
            .map(|i| {
                let b = net.biases().map_or(0.0, |b| b[l][i] as f64);
                b + (0..n_in).map(|j| w[i * n_in + j] as f64 * a[j]).sum::<f64>()
            })
            .collect();
        a = z.iter().map(|&v| phi64(net.activation(), v)).collect();
        out.push(z);
    }
    out
}

/// Crossings per hidden layer from float64 region codes at `k` equidistant positions
/// around the loop (each point computed in float64 from the pieces' float32 vectors).
fn sampled64(net: &Mlp, traj: &Trajectory, k: usize) -> Vec<u64> {
    let n = traj.pieces.len() as f64;
    let point = |position: f64| -> Vec<f64> {
        let scaled = position * n;
        let piece = (scaled.floor() as usize).min(traj.pieces.len() - 1);
        let s = (scaled - piece as f64) * traj.pieces[piece].span();
        let c = traj.pieces[piece].coefficients();
        let basis = traj.pieces[piece].basis(s);
        (0..c[0].len())
            .map(|j| (0..c.len()).map(|b| c[b][j] as f64 * basis[b]).sum())
            .collect()
    };
    common::loop_crossings64(net, k, |position| pre_activations64(net, &point(position)))
}

#[test]
fn straight_lines_in_a_plane_cross_exactly_the_boundaries_float64_sampling_finds() {
    // The plane through three points, P(u, v) = x0 + u (x1 − x0) + v (x2 − x0), and a
    // closed triangle of straight segments in it: the 1-D walk along each line counts
    // every boundary of the plane's region map that the line crosses.
    for act in PL {
        let net = with_biases(Mlp::random([4, 4, 1], 12, 3, 3, act, 1.5, 21), 21);
        let (x0, x1, x2) = (lcg_vec(31, 16), lcg_vec(32, 16), lcg_vec(33, 16));
        let plane = |u: f32, v: f32| -> Vec<f32> {
            (0..16)
                .map(|j| x0[j] + u * (x1[j] - x0[j]) + v * (x2[j] - x0[j]))
                .collect()
        };
        let corners = [plane(-1.5, -1.0), plane(2.5, -0.5), plane(0.0, 2.5)];
        let traj = Trajectory {
            pieces: (0..3)
                .map(|k| Piece::Segment {
                    start: corners[k].clone(),
                    end: corners[(k + 1) % 3].clone(),
                })
                .collect(),
            anchors: vec![],
        };
        let exact = assert_walks_agree(&net, &traj, &format!("{act} triangle in a plane"));
        let sampled = sampled64(&net, &traj, 1 << 17);
        assert!(
            exact.total >= 20,
            "{act}: too few crossings to be a test ({})",
            exact.total
        );
        assert_eq!(
            exact.per_layer, sampled,
            "{act}: exact walk vs float64 sampling per layer"
        );
    }
}

/// A network on 4×4 inputs whose second hidden layer has neurons that copy one neuron of
/// the first through φ (one weight 1, the rest 0, the bias putting φ's lowest piece exactly
/// on the lowest breakpoint): each such neuron leaves its lowest piece exactly where its
/// first-layer neuron does, so a second-layer tie sits at that first-layer crossing, and the
/// layers above see both changes at once across one parent boundary.
fn network_tied_across_layers(act: Activation, depth: usize) -> Mlp {
    let net = with_biases(Mlp::random([4, 4, 1], 12, depth, 3, act, 1.5, 5), 5);
    let (mut weights, mut biases) = (net.weights().to_vec(), net.biases().unwrap().to_vec());
    let w = net.dims()[1];
    let lowest_value = act.apply(-100.0);
    let lowest_breakpoint = act.breakpoints()[0];
    for j in 0..4 {
        let row = &mut weights[1][j * w..(j + 1) * w];
        row.fill(0.0);
        row[2 * j] = 1.0;
        biases[1][j] = lowest_breakpoint - lowest_value;
    }
    Mlp::from_parts(act, net.input_shape(), net.dims().to_vec(), weights, Some(biases)).unwrap()
}

#[test]
fn a_tie_at_a_higher_layer_at_a_lower_crossing_changes_the_layers_above_once() {
    // Not hard_sigmoid: its copy sits on the breakpoint as (z + 0.5) − 0.5, exactly −0.5
    // in the GEMM walk's product but only to rounding when the rank-1 walk adds the change
    // of piece (−z − 0.5) to an anchor, so which side of −0.5 it is on is a rounding tie
    // (the rank-1 walk before this test behaved the same).
    for act in [Activation::Relu, Activation::Relu6, Activation::HardTanh] {
        let net = network_tied_across_layers(act, 5);
        for (name, traj) in [
            ("ellipse", random_ellipse(16, 4, 3).unwrap()),
            ("translate", translation(&lcg_vec(8, 16), [4, 4, 1]).unwrap()),
        ] {
            let exact = assert_walks_agree(&net, &traj, &format!("{act} tied across layers, {name}"));
            assert!(
                exact.per_layer[1] >= 4 && exact.per_layer[3] >= 4,
                "{act} {name}: too few crossings to be a test ({:?})",
                exact.per_layer
            );
        }
    }
}

#[test]
fn chains_across_many_parents_are_re_anchored_without_changing_the_count() {
    // Depth 6 on one ellipse: the upper layers' blocks run across many parents (each
    // lower crossing starts one) and each carries several lower directions, so blocks end
    // by the carried-term limit as well as by the interval.
    for act in PL {
        let net = with_biases(Mlp::random([6, 6, 1], 48, 6, 5, act, 2.0, 11), 11);
        let traj = random_ellipse(36, 8, 2).unwrap();
        let exact = assert_walks_agree(&net, &traj, &format!("{act} chains across parents"));
        let lower: u64 = exact.per_layer[..3].iter().sum();
        assert!(lower > 100, "{act}: too few lower crossings to carry ({lower})");
    }
}
