//! Neurons sitting exactly on a breakpoint: in bias-free relu and relu6 networks a neuron
//! whose inputs are all switched off is exactly 0 — on its breakpoint — over a stretch of
//! the trajectory, and exactly 0 at the cut where one of them switches on. Both exact walks
//! against hand-counted cases and against an independent float64 exact walk on the narrow
//! networks where this happens often (widths 1–12, pruned weights, zero biases).

mod common;

#[path = "support/exact64.rs"]
mod exact64;

use common::{lcg_vec, three_trajectories};
use exact64::{exact64, polygon};
use occam::compute::Compute;
use occam::measure::trajectory::{Piece, Trajectory, data_ellipse};
use occam::measure::transitions::{exact_transitions, exact_transitions_gemm};
use occam::net::{Activation, Mlp};

/// Per-layer counts of the rank-1 walk and the GEMM walk.
fn both_walks(net: &Mlp, traj: &Trajectory) -> [Vec<u64>; 2] {
    let c = Compute::single();
    let fast = exact_transitions(net, &c, traj, false);
    let gemm = exact_transitions_gemm(net, &c, traj, false);
    assert!(fast.non_finite.is_none() && gemm.non_finite.is_none());
    [fast.per_layer, gemm.per_layer]
}

fn circle(a: [f32; 2], b: [f32; 2]) -> Trajectory {
    Trajectory {
        pieces: vec![Piece::Ellipse {
            center: vec![0.0, 0.0],
            a: a.to_vec(),
            b: b.to_vec(),
        }],
        anchors: vec![],
    }
}

/// Relu, 2 → 2 → 1 (→ 1): the first layer is the identity, the second `w2·(relu(x₁) +
/// relu(x₂))`, exactly 0 where both inputs are off (the third quadrant).
fn quadrant_net(w2: f32, depth3: bool) -> Mlp {
    let (dims, mut weights) = (vec![2, 2, 1], vec![vec![1.0, 0.0, 0.0, 1.0], vec![w2, w2]]);
    let dims = if depth3 {
        [dims, vec![1, 1]].concat()
    } else {
        [dims, vec![1]].concat()
    };
    weights.extend(std::iter::repeat_n(vec![1.0], dims.len() - 3));
    Mlp::from_parts(Activation::Relu, [1, 2, 1], dims, weights, None).unwrap()
}

#[test]
fn a_neuron_whose_inputs_are_off_does_not_cross() {
    // −relu(x₁) − relu(x₂) ≤ 0 never crosses 0; relu(x₁) + relu(x₂) leaves 0 twice around
    // the origin (into the second and the fourth quadrant). Circles that start on an axis
    // put a first-layer crossing exactly on the closing point.
    let circles = [
        ([1.0, 0.0], [0.0, 1.0]),
        ([1.0, 0.3], [-0.2, 1.0]),
        ([0.7, -0.4], [0.5, 0.9]),
    ];
    for (w2, second) in [(-1.0, 0), (1.0, 2)] {
        for (a, b) in circles {
            let traj = circle(a, b);
            for walk in both_walks(&quadrant_net(w2, false), &traj) {
                assert_eq!(walk, [4, second], "W2 = {w2}, circle {a:?} {b:?}");
            }
            // A third layer relu(z₂): on its breakpoint wherever z₂ ≤ 0.
            for walk in both_walks(&quadrant_net(w2, true), &traj) {
                assert_eq!(walk, [4, second, second], "W2 = {w2}, circle {a:?} {b:?}, depth 3");
            }
        }
    }
    let triangle = polygon(&[vec![1.0, 0.2], vec![-0.6, 0.9], vec![-0.3, -1.1]]);
    for walk in both_walks(&quadrant_net(-1.0, true), &triangle) {
        assert_eq!(walk, [4, 0, 0], "triangle");
    }
}

#[test]
fn a_touch_at_one_point_is_no_crossing() {
    // The triangle (−1, 1) → (1, −1) → (1, 1) passes through the origin, where both
    // first-layer neurons cross at once: relu(x₁) + relu(x₂) touches 0 there from above
    // (and its negative from below) without changing its code on any stretch, and so does
    // the third layer's relu of it.
    let triangle = polygon(&[vec![-1.0, 1.0], vec![1.0, -1.0], vec![1.0, 1.0]]);
    for w2 in [1.0, -1.0] {
        let net = quadrant_net(w2, true);
        assert_eq!(exact64(&net, &triangle).per_layer, [4, 0, 0], "float64, W2 = {w2}");
        for walk in both_walks(&net, &triangle) {
            assert_eq!(walk, [4, 0, 0], "W2 = {w2}");
        }
    }
}

#[test]
fn a_crossing_at_the_closing_point_of_an_ellipse_counts() {
    // The ellipse through three points around the origin starts at the first of them: with
    // (0, 1) first, x₁ = 0 there up to the rounding of centre + axis, and its root can
    // round to 2π, past the last arc; it must still count (as 0).
    let p = [[0.0f32, 1.0], [-0.866_025_4, -0.5], [0.866_025_4, -0.5]];
    for order in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
        let [a, b, c] = order.map(|k| p[k]);
        let traj = data_ellipse([&a, &b, &c]).unwrap();
        assert_eq!(
            exact64(&quadrant_net(1.0, false), &traj).per_layer,
            [4, 2],
            "float64, first point {a:?}"
        );
        for walk in both_walks(&quadrant_net(1.0, false), &traj) {
            assert_eq!(walk, [4, 2], "first point {a:?}");
        }
    }
}

/// `net` with the given biases per layer.
fn with_biases(net: &Mlp, biases: Vec<Vec<f32>>) -> Mlp {
    let (act, shape) = (net.activation(), net.input_shape());
    Mlp::from_parts(act, shape, net.dims().to_vec(), net.weights().to_vec(), Some(biases)).unwrap()
}

/// `net` with about half of the hidden layers' weights set to exactly 0 (a pruned network).
fn pruned(net: &Mlp, seed: u64) -> Mlp {
    let mut weights = net.weights().to_vec();
    let hidden = weights.len() - 1;
    for (l, w) in weights.iter_mut().enumerate().take(hidden).skip(1) {
        let mask = lcg_vec(seed * 7 + l as u64, w.len());
        w.iter_mut()
            .zip(mask)
            .filter(|(_, m)| *m < 0.0)
            .for_each(|(v, _)| *v = 0.0);
    }
    let (act, shape) = (net.activation(), net.input_shape());
    Mlp::from_parts(act, shape, net.dims().to_vec(), weights, None).unwrap()
}

/// The three kinds of trajectory, in 4×4 inputs.
fn trajectories(seed: u64) -> Vec<(&'static str, Trajectory)> {
    three_trajectories(4, seed)
}

#[test]
fn narrow_bias_free_networks_agree_with_a_float64_walk() {
    let (mut checked, mut near_ties, mut pinned_cases) = (0, 0, 0);
    for act in [Activation::Relu, Activation::Relu6] {
        for width in [1, 2, 3, 4, 6, 8, 12] {
            for depth in [2, 3, 5] {
                let seed = 1000 * width as u64 + 10 * depth as u64 + act as u64;
                let net = Mlp::random([4, 4, 1], width, depth, 3, act, 1.0, seed);
                let zero_biases = with_biases(&net, net.dims()[1..].iter().map(|&w| vec![0.0; w]).collect());
                let variants = [
                    ("bias-free", net.clone()),
                    ("zero biases", zero_biases),
                    ("pruned", pruned(&net, seed)),
                ];
                for (kind, net) in &variants {
                    for (name, traj) in trajectories(seed) {
                        let label = format!("{act} width {width} depth {depth} {kind}, {name}");
                        let reference = exact64(net, &traj);
                        if reference.min_gap < 1e-9 {
                            near_ties += 1;
                            continue;
                        }
                        checked += 1;
                        let [fast, gemm] = both_walks(net, &traj);
                        assert_eq!(fast, reference.per_layer, "{label}: rank-1 walk vs float64");
                        assert_eq!(gemm, reference.per_layer, "{label}: GEMM walk vs float64");
                        assert!(
                            fast.iter().all(|c| c % 2 == 0),
                            "{label}: odd count on a closed loop {fast:?}"
                        );
                        pinned_cases += has_dead_arc(net, &traj) as usize;
                    }
                }
            }
        }
    }
    // 378 cases; the comparison means something only if most are checked and many have
    // neurons switched off over a stretch.
    assert!(
        checked >= 350 && near_ties < 28,
        "{checked} checked, {near_ties} near-ties"
    );
    assert!(
        pinned_cases >= 100,
        "only {pinned_cases} cases with a switched-off second layer"
    );
}

/// Whether some hidden layer ≥ 2 has every input off somewhere along `traj` (checked at
/// 4096 points): the situation the pinned rule exists for.
fn has_dead_arc(net: &Mlp, traj: &Trajectory) -> bool {
    let k = 4096;
    (0..k).any(|j| {
        let piece = &traj.pieces[j * traj.pieces.len() / k];
        let s = piece.span() * ((j * traj.pieces.len()) % k) as f64 / k as f64;
        let mut x = piece.point(s);
        for l in 0..net.depth() - 1 {
            let (w_in, w_out) = (net.dims()[l], net.dims()[l + 1]);
            let z: Vec<f32> = (0..w_out)
                .map(|i| (0..w_in).map(|m| net.weights()[l][i * w_in + m] * x[m]).sum())
                .collect();
            x = z.iter().map(|&v| net.activation().apply(v)).collect();
            if l + 1 < net.depth() - 1 && x.iter().all(|&v| v == 0.0) {
                return true;
            }
        }
        false
    })
}

/// A `.npy` file of `values` with dtype `descr` and `shape`.
fn write_npy<T: npyz::Serialize + Copy>(path: &std::path::Path, descr: &str, shape: &[u64], values: &[T]) {
    use npyz::WriterBuilder;
    let mut out = Vec::new();
    let dtype = npyz::DType::new_scalar(descr.parse().unwrap());
    let mut w = (npyz::WriteOptions::new().dtype(dtype).shape(shape).writer(&mut out))
        .begin_nd()
        .unwrap();
    w.extend(values.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, out).unwrap();
}

/// Per trajectory, the per-layer counts `occam measure transitions` writes (`--per-point`).
fn cli_counts(model: &str, dir: &std::path::Path, method: &[&str]) -> Vec<Vec<u64>> {
    let (x, y, csv) = (dir.join("x.npy"), dir.join("y.npy"), dir.join("t.csv"));
    let base = [
        "measure",
        "transitions",
        "--model",
        model,
        "--trajectory",
        "same-class-ellipse",
    ];
    let files = ["--inputs", x.to_str().unwrap(), "--labels", y.to_str().unwrap()];
    let out = [
        "--limit",
        "40",
        "--threads",
        "2",
        "--json",
        "--per-point",
        csv.to_str().unwrap(),
    ];
    common::ok(&[&base[..], &files, &out, method].concat());
    let text = std::fs::read_to_string(&csv).unwrap();
    (text.lines().skip(1))
        .map(|row| row.split(',').skip(2).map(|v| v.parse().unwrap()).collect())
        .collect()
}

#[test]
fn the_cli_counts_the_quadrant_network_as_float64_sampling_does() {
    // Three points of one class around the origin: the ellipses through them circle it.
    let dir = tempfile::tempdir().unwrap();
    let points: [f32; 6] = [0.0, 1.0, -0.866_025_4, -0.5, 0.866_025_4, -0.5];
    write_npy(&dir.path().join("x.npy"), "<f4", &[3, 2], &points);
    write_npy(&dir.path().join("y.npy"), "<i8", &[3], &[0i64, 0, 0]);
    for (w2, second_layer_crosses) in [(-1.0, false), (1.0, true)] {
        let model = dir.path().join(format!("net{w2}.safetensors"));
        quadrant_net(w2, false).save(&model).unwrap();
        let model = model.to_str().unwrap();
        let exact = cli_counts(model, dir.path(), &[]);
        let sampled = cli_counts(model, dir.path(), &["--method", "sampled", "--points", "65536"]);
        assert_eq!(exact.len(), 40);
        assert_eq!(exact, sampled, "W2 = {w2}: exact vs sampled per trajectory and layer");
        assert_eq!(
            exact.iter().any(|c| c[1] > 0),
            second_layer_crosses,
            "W2 = {w2}: {exact:?}"
        );
    }
}
