//! Shared test helpers: an independent float64 reference MLP and real-format fixture writers.
#![allow(dead_code)]

use occam::net::{Activation, Mlp};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the `occam` binary built for these tests.
pub fn occam(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_occam"))
        .args(args)
        .output()
        .expect("run occam")
}

/// Runs `occam` and fails the test, with its stderr, unless it succeeds.
pub fn ok(args: &[&str]) -> Output {
    let out = occam(args);
    assert!(
        out.status.success(),
        "occam {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `occam` successfully and parses its standard output as one JSON value.
pub fn ok_json(args: &[&str]) -> serde_json::Value {
    let out = ok(args);
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// φ in float64, written from the activation table of docs/MODEL.md (not from the library's code).
pub fn phi64(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Relu => z.max(0.0),
        Activation::Relu6 => z.clamp(0.0, 6.0),
        Activation::HardTanh => z.clamp(-1.0, 1.0),
        Activation::HardSigmoid => (z + 0.5).clamp(0.0, 1.0),
        Activation::Tanh => z.tanh(),
    }
}

/// Float64 forward pass with the weights given as f64: returns (logits, pre-activations
/// of every hidden layer).
pub fn forward64(net: &Mlp, weights: &[Vec<f64>], x: &[f64]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let mut a = x.to_vec();
    let mut pres = Vec::new();
    for (l, w) in weights.iter().enumerate() {
        let (out, inp) = (net.dims()[l + 1], net.dims()[l]);
        let z: Vec<f64> = (0..out)
            .map(|i| (0..inp).map(|j| w[i * inp + j] * a[j]).sum())
            .collect();
        if l + 1 < weights.len() {
            a = z.iter().map(|&v| phi64(net.activation(), v)).collect();
            pres.push(z);
        } else {
            a = z;
        }
    }
    (a, pres)
}

pub fn weights64(net: &Mlp) -> Vec<Vec<f64>> {
    net.weights()
        .iter()
        .map(|w| w.iter().map(|&v| v as f64).collect())
        .collect()
}

/// Mean cross-entropy over a batch, float64.
pub fn loss64(net: &Mlp, weights: &[Vec<f64>], xs: &[f64], labels: &[u16]) -> f64 {
    let d = net.input_dim();
    labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let (z, _) = forward64(net, weights, &xs[i * d..(i + 1) * d]);
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            lse - z[y as usize]
        })
        .sum::<f64>()
        / labels.len() as f64
}

/// A deterministic pseudo-random vector in [-1, 1] (a simple LCG, independent of rand).
pub fn lcg_vec(seed: u64, n: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 33) as f64 / (1u64 << 31) as f64 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// A translation loop, a random ellipse and an ellipse through three points, in
/// `side`×`side` single-channel inputs, from LCG points scaled to [-2, 2].
pub fn three_trajectories(side: usize, seed: u64) -> Vec<(&'static str, occam::measure::trajectory::Trajectory)> {
    use occam::measure::trajectory::{data_ellipse, random_ellipse, translation};
    let d = side * side;
    let point = |s: u64| lcg_vec(s, d).iter().map(|v| 2.0 * v).collect::<Vec<f32>>();
    let (x0, x1, x2) = (point(seed), point(seed + 1), point(seed + 2));
    vec![
        ("translate", translation(&x0, [side, side, 1]).unwrap()),
        ("random ellipse", random_ellipse(d, 5, seed).unwrap()),
        ("data ellipse", data_ellipse([&x0, &x1, &x2]).unwrap()),
    ]
}

/// Writes an IDX file of unsigned bytes with the given dimensions.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// A small learnable MNIST-like dataset in real IDX files: `n_train` + `n_test` images of
/// `side × side`, classes 0..classes, each class a distinct bright stripe plus noise.
pub fn write_mnist_like(dir: &Path, n_train: usize, n_test: usize, side: usize, gz: bool) {
    std::fs::create_dir_all(dir).unwrap();
    let classes = 10usize;
    let make = |n: usize, seed: u64| {
        let noise = lcg_vec(seed, n * side * side);
        let mut pixels = Vec::with_capacity(n * side * side);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let y = (i * 7 + seed as usize) % classes;
            labels.push(y as u8);
            for r in 0..side {
                for c in 0..side {
                    let on = (r * classes / side == y) || (c * classes / side == (y * 3) % classes);
                    let v = if on { 200.0 } else { 40.0 } + 30.0 * noise[i * side * side + r * side + c];
                    pixels.push(v.clamp(0.0, 255.0) as u8);
                }
            }
        }
        (pixels, labels)
    };
    let (s, n) = (side as u32, [n_train as u32, n_test as u32]);
    for (k, (prefix, count)) in [("train", n[0]), ("t10k", n[1])].into_iter().enumerate() {
        let (pixels, labels) = make(count as usize, k as u64 + 1);
        let files = [
            (
                format!("{prefix}-images-idx3-ubyte"),
                idx_bytes(&[count, s, s], &pixels),
            ),
            (format!("{prefix}-labels-idx1-ubyte"), idx_bytes(&[count], &labels)),
        ];
        for (name, bytes) in files {
            if gz {
                std::fs::write(dir.join(format!("{name}.gz")), gzip(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }
}

pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

/// (id, status, bits of the train/test accuracy, test loss, Jacobian norm and transitions)
/// of every trial in a store, sorted by id: equal lists mean bit-identical results.
pub fn stored_results(store: &Path) -> Vec<(String, occam::sweep::TrialStatus, [u64; 5])> {
    use occam::sweep::metrics as m;
    let mut v: Vec<_> = occam::sweep::Store::open_existing(store)
        .unwrap()
        .trials()
        .unwrap()
        .into_iter()
        .map(|r| {
            let bits = [
                r.metric(m::TRAIN_ACCURACY),
                r.metric(m::TEST_ACCURACY),
                r.metric(m::TEST_LOSS),
                r.metric(m::JACOBIAN_NORM),
                r.metric(m::TRANSITIONS),
            ];
            (r.id, r.status, bits.map(f64::to_bits))
        })
        .collect();
    v.sort();
    v
}

/// Asserts a clean refusal: a non-zero exit (not a signal), no panic and no "internal
/// error", and stderr containing every one of `wanted`. Returns stderr.
pub fn refused(out: &Output, wanted: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.code().is_some(), "killed by a signal: {err}");
    assert!(!out.status.success(), "should have been refused; stderr: {err}");
    assert!(!err.contains("panicked") && !err.contains("internal error"), "{err}");
    for w in wanted {
        assert!(err.contains(w), "stderr should contain '{w}': {err}");
    }
    err
}

/// Softmax in float64 (shifted by the maximum).
pub fn softmax(z: &[f64]) -> Vec<f64> {
    let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

/// Float64 central differences of `f` (R^d → R^n) at x: the n × d Jacobian.
pub fn fd_jacobian(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], n: usize) -> Vec<Vec<f64>> {
    let eps = 1e-6;
    let mut jac = vec![vec![0.0; x.len()]; n];
    for j in 0..x.len() {
        let (mut p, mut m) = (x.to_vec(), x.to_vec());
        p[j] += eps;
        m[j] -= eps;
        let (fp, fm) = (f(&p), f(&m));
        for i in 0..n {
            jac[i][j] = (fp[i] - fm[i]) / (2.0 * eps);
        }
    }
    jac
}

/// Frobenius norm of a matrix given by rows.
pub fn fro(m: &[Vec<f64>]) -> f64 {
    m.iter().flatten().map(|v| v * v).sum::<f64>().sqrt()
}

/// Crossings per hidden layer counted from float64 region codes at `k` equidistant
/// positions around a closed loop (the last back to the first); `pre_activations(t)` gives
/// every hidden layer's float64 pre-activations at position t ∈ [0, 1).
pub fn loop_crossings64(net: &Mlp, k: usize, pre_activations: impl Fn(f64) -> Vec<Vec<f64>>) -> Vec<u64> {
    let codes = |position: f64| -> Vec<Vec<usize>> {
        pre_activations(position)
            .iter()
            .map(|layer| {
                (layer.iter())
                    .map(|&z| net.activation().breakpoints().iter().filter(|&&b| z > b as f64).count())
                    .collect()
            })
            .collect()
    };
    let first = codes(0.0);
    let mut previous = first.clone();
    let mut counts = vec![0u64; net.depth() - 1];
    for j in 1..=k {
        let current = if j == k {
            first.clone()
        } else {
            codes(j as f64 / k as f64)
        };
        for (l, (a, b)) in previous.iter().zip(&current).enumerate() {
            counts[l] += a.iter().zip(b).map(|(p, q)| p.abs_diff(*q) as u64).sum::<u64>();
        }
        previous = current;
    }
    counts
}
