//! The exact 2-D walk's two ways of handing coefficients down: the incremental path (one
//! exact product per polygon, cheap updates for its other pieces; the default) gives the
//! same regions as the plain per-piece product, on random and trained networks, for the
//! four piecewise-linear activations, with biases, at several depths.

mod common;

use common::{lcg_vec, ok, write_mnist_like};
use occam::measure::regions_exact::{
    Capped, CoefficientPath, ExactRegionMap, ExactRequest, PlaneCoordinates, exact_region_map_by,
};
use occam::net::{Activation, Mlp};

const PIECEWISE_LINEAR: [Activation; 4] = [
    Activation::Relu,
    Activation::Relu6,
    Activation::HardTanh,
    Activation::HardSigmoid,
];

fn map_by(net: &Mlp, plane: &PlaneCoordinates, path: CoefficientPath) -> ExactRegionMap {
    let request = ExactRequest {
        layer: net.depth() - 2,
        max_regions: 1_000_000,
    };
    match exact_region_map_by(net, plane, request, path).unwrap() {
        Capped::Map(map) => {
            assert!(map.non_finite.is_none(), "{:?}", map.non_finite);
            map
        }
        Capped::OverCap { layer, reached } => panic!("over the cap at layer {layer} ({reached})"),
    }
}

/// Maps `net` both ways and checks that the region lists agree: the same counts per
/// layer, the same regions in the same order with the same codes, and vertices within
/// 1e-9. Returns the number of regions.
fn assert_paths_agree(net: &Mlp, plane: &PlaneCoordinates, what: &str) -> usize {
    let fast = map_by(net, plane, CoefficientPath::Incremental);
    let plain = map_by(net, plane, CoefficientPath::PerPiece);
    assert_eq!(fast.per_layer, plain.per_layer, "{what}: counts per layer");
    assert_eq!(fast.layer_codes, plain.layer_codes, "{what}: layer codes");
    assert_eq!(fast.regions.len(), plain.regions.len(), "{what}: regions");
    for (k, (a, b)) in fast.regions.iter().zip(&plain.regions).enumerate() {
        assert_eq!(a.code_hash, b.code_hash, "{what}: region {k}'s pattern");
        assert_eq!(
            a.layer_code_hash, b.layer_code_hash,
            "{what}: region {k}'s layer pattern"
        );
        assert_eq!(a.vertices.len(), b.vertices.len(), "{what}: region {k}'s vertices");
        for (p, q) in a.vertices.iter().zip(&b.vertices) {
            let off = (p.0 - q.0).abs().max((p.1 - q.1).abs());
            assert!(off <= 1e-9, "{what}: region {k}: vertex {p:?} vs {q:?}");
        }
    }
    fast.regions.len()
}

/// A random network on `dim` inputs with random (nonzero) biases.
fn random_biased(act: Activation, dim: usize, width: usize, depth: usize, seed: u64) -> Mlp {
    let net = Mlp::random([1, dim, 1], width, depth, 3, act, 1.0, seed);
    let biases: Vec<Vec<f32>> = net.dims()[1..]
        .iter()
        .enumerate()
        .map(|(l, &w)| lcg_vec(seed * 100 + l as u64, w).iter().map(|b| 0.5 * b).collect())
        .collect();
    let dims = net.dims().to_vec();
    Mlp::from_parts(act, [1, dim, 1], dims, net.weights().to_vec(), Some(biases)).unwrap()
}

/// The plane through three pseudo-random inputs.
fn plane_of(dim: usize, seed: u64) -> PlaneCoordinates {
    let x = [0, 1, 2].map(|k| lcg_vec(seed * 10 + k, dim));
    PlaneCoordinates::through([&x[0], &x[1], &x[2]]).unwrap()
}

#[test]
fn incremental_and_per_piece_coefficients_give_the_same_regions_on_random_networks() {
    for act in PIECEWISE_LINEAR {
        for (depth, width) in [(3, 20), (4, 14), (6, 10), (8, 8)] {
            let seed = 7 + depth as u64;
            let net = random_biased(act, 6, width, depth, seed);
            let what = format!("{act}, depth {depth}, width {width}");
            let regions = assert_paths_agree(&net, &plane_of(6, seed), &what);
            // Enough regions that polygons are cut into many pieces that share a reference
            // (depth 3 and up: with one hidden layer there is no next layer to hand down to).
            assert!(regions >= 40, "{what}: only {regions} regions");
        }
    }
}

#[test]
fn incremental_and_per_piece_coefficients_give_the_same_regions_on_trained_networks() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(&tmp.path().join("data"), 300, 50, 6, false);
    let data = format!("mnist:{}", tmp.path().join("data").display());
    for (k, act) in PIECEWISE_LINEAR.into_iter().enumerate() {
        let out = tmp.path().join(format!("run-{act}"));
        let out_s = out.display().to_string();
        let act_s = act.to_string();
        ok(&[
            "train",
            "--data",
            &data,
            "--width",
            "16",
            "--depth",
            "4",
            "--activation",
            &act_s,
            "--bias",
            "--optimizer",
            "momentum",
            "--lr",
            "0.05",
            "--steps",
            "200",
            "--batch",
            "32",
            "--seed",
            &(k + 1).to_string(),
            "--quiet",
            "--out",
            &out_s,
        ]);
        let net = Mlp::load(&out.join("model.safetensors")).unwrap();
        assert!(net.has_biases());
        for plane_seed in [1, 2] {
            let plane = PlaneCoordinates::random(net.input_dim(), plane_seed).unwrap();
            let what = format!("trained {act}, random plane {plane_seed}");
            let regions = assert_paths_agree(&net, &plane, &what);
            assert!(regions >= 40, "{what}: only {regions} regions");
        }
    }
}
