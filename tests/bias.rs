//! Networks with a bias on every layer against an independent float64 reference written
//! here: logits, weight and bias gradients (central differences), Jacobian norms (central
//! differences of the logits and the softmax), and exact transition counts (dense float64
//! sampling of the region codes), for every activation. Training with `--bias` is checked
//! end to end through the binary.

mod common;
#[path = "support/json_schema.rs"]
mod json_schema;

use common::*;
use occam::compute::Compute;
use occam::measure::jacobian_norms;
use occam::measure::trajectory::{Trajectory, data_ellipse, random_ellipse, translation};
use occam::measure::transitions::{exact_transitions, sampled_transitions};
use occam::net::engine::{self, Workspace};
use occam::net::{Activation, Mlp};
use std::path::Path;

/// `Mlp::random`'s weights with a bias of spread `scale` on every layer.
fn biased(input: [usize; 3], width: usize, depth: usize, classes: usize, act: Activation, seed: u64) -> Mlp {
    let net = Mlp::random(input, width, depth, classes, act, 1.5, seed);
    let biases = net.dims()[1..]
        .iter()
        .enumerate()
        .map(|(l, &w)| lcg_vec(seed * 31 + l as u64 + 7, w).iter().map(|v| 0.8 * v).collect())
        .collect();
    Mlp::from_parts(
        act,
        net.input_shape(),
        net.dims().to_vec(),
        net.weights().to_vec(),
        Some(biases),
    )
    .unwrap()
}

/// The parameters in float64, weights then biases (the layout of `Mlp::params`).
fn params64(net: &Mlp) -> Vec<Vec<f64>> {
    net.params()
        .iter()
        .map(|p| p.iter().map(|&v| v as f64).collect())
        .collect()
}

/// Float64 forward pass `z = W a + b` from `params` (weights then biases): the logits
/// and every hidden layer's pre-activations.
fn forward_biased(net: &Mlp, params: &[Vec<f64>], x: &[f64]) -> (Vec<f64>, Vec<Vec<f64>>) {
    let depth = net.depth();
    let mut a = x.to_vec();
    let mut pres = Vec::new();
    for l in 0..depth {
        let (out, inp) = (net.dims()[l + 1], net.dims()[l]);
        let (w, b) = (&params[l], &params[depth + l]);
        let z: Vec<f64> = (0..out)
            .map(|i| b[i] + (0..inp).map(|j| w[i * inp + j] * a[j]).sum::<f64>())
            .collect();
        if l + 1 < depth {
            a = z.iter().map(|&v| phi64(net.activation(), v)).collect();
            pres.push(z);
        } else {
            a = z;
        }
    }
    (a, pres)
}

fn mean_loss(net: &Mlp, params: &[Vec<f64>], xs: &[f64], labels: &[u16]) -> f64 {
    let d = net.input_dim();
    let total: f64 = labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            let z = forward_biased(net, params, &xs[i * d..(i + 1) * d]).0;
            let m = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            m + z.iter().map(|v| (v - m).exp()).sum::<f64>().ln() - z[y as usize]
        })
        .sum();
    total / labels.len() as f64
}

/// Distance of the nearest hidden pre-activation to a breakpoint over the inputs.
fn margin(net: &Mlp, xs: &[f64]) -> f64 {
    let p = params64(net);
    xs.chunks_exact(net.input_dim())
        .flat_map(|x| forward_biased(net, &p, x).1.concat())
        .flat_map(|z| {
            net.activation()
                .breakpoints()
                .iter()
                .map(move |&b| (z - b as f64).abs())
        })
        .fold(f64::INFINITY, f64::min)
}

fn to64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

#[test]
fn logits_with_biases_match_float64_and_differ_from_the_bias_free_network() {
    for act in Activation::ALL {
        for depth in [1, 2, 3, 5] {
            let net = biased([3, 3, 1], 7, depth, 4, act, depth as u64);
            let x = lcg_vec(50 + depth as u64, 5 * 9);
            let mut ws = Workspace::new(&net, 5);
            let got = engine::forward(&net, &Compute::single(), &x, 5, &mut ws).to_vec();
            let p = params64(&net);
            for (i, row) in got.chunks_exact(4).enumerate() {
                let want = forward_biased(&net, &p, &to64(&x[i * 9..(i + 1) * 9])).0;
                for (g, w) in row.iter().zip(&want) {
                    assert!(
                        (*g as f64 - w).abs() < 1e-5 * (1.0 + w.abs()),
                        "{act} depth {depth}: {g} vs {w}"
                    );
                }
            }
            let plain = Mlp::from_parts(act, [3, 3, 1], net.dims().to_vec(), net.weights().to_vec(), None).unwrap();
            let mut ws = Workspace::new(&plain, 5);
            let without = engine::forward(&plain, &Compute::single(), &x, 5, &mut ws).to_vec();
            assert_ne!(got, without, "{act} depth {depth}: the biases changed nothing");
        }
    }
}

#[test]
fn weight_and_bias_gradients_match_float64_central_differences() {
    let eps = 1e-6;
    for act in Activation::ALL {
        let mut checked = 0;
        for depth in [1, 2, 3, 5] {
            for seed in [1u64, 2, 3] {
                let net = biased([3, 3, 1], 7, depth, 4, act, seed);
                let x = lcg_vec(seed + 100, 5 * 9);
                let labels: Vec<u16> = (0..5).map(|i| (i % 4) as u16).collect();
                let x64 = to64(&x);
                if act.is_piecewise_linear() && margin(&net, &x64) < 1e-4 {
                    continue; // a kink inside the stencil makes differences meaningless
                }
                checked += 1;
                // The workspace first holds a larger batch, as in training: stale values
                // past this batch's rows must not reach its gradients.
                let mut ws = Workspace::new(&net, 8);
                let mut grads = net.zero_params();
                let (earlier, earlier_labels) = (lcg_vec(seed + 200, 8 * 9), vec![1u16; 8]);
                engine::loss_and_gradients(&net, &Compute::single(), &earlier, &earlier_labels, &mut ws, &mut grads);
                engine::loss_and_gradients(&net, &Compute::single(), &x, &labels, &mut ws, &mut grads);
                assert_eq!(grads.len(), 2 * depth, "one gradient per weight matrix and bias");
                let p = params64(&net);
                for (buffer, g) in grads.iter().enumerate() {
                    for (k, &gk) in g.iter().enumerate() {
                        let (mut plus, mut minus) = (p.clone(), p.clone());
                        plus[buffer][k] += eps;
                        minus[buffer][k] -= eps;
                        let fd = (mean_loss(&net, &plus, &x64, &labels) - mean_loss(&net, &minus, &x64, &labels))
                            / (2.0 * eps);
                        let err = (gk as f64 - fd).abs() / (1e-3 + fd.abs());
                        assert!(
                            err < 2e-3,
                            "{act} depth {depth} seed {seed} buffer {buffer} entry {k}: {gk} vs {fd}"
                        );
                    }
                }
            }
        }
        assert!(checked >= 4, "{act}: only {checked} networks checked");
    }
}

#[test]
fn jacobian_norms_with_biases_match_float64_central_differences() {
    for act in Activation::ALL {
        let mut checked = 0;
        for (depth, input) in [(1, [3, 3, 1]), (2, [3, 3, 1]), (3, [4, 4, 1]), (4, [2, 2, 1])] {
            // [4, 4, 1] with width 7 takes the explicit first-layer product, the others the
            // Gram matrix of the first layer: both paths see the biases through the forward.
            let net = biased(input, 7, depth, 5, act, 10 + depth as u64);
            let d = net.input_dim();
            let points = 6;
            let x = lcg_vec(70 + depth as u64, points * d);
            let labels: Vec<u16> = (0..points).map(|i| (i % 5) as u16).collect();
            let got = jacobian_norms(&net, &Compute::new(2), &x, Some(&labels)).unwrap();
            let p = params64(&net);
            for (i, point) in got.iter().enumerate() {
                let xi = to64(&x[i * d..(i + 1) * d]);
                if act.is_piecewise_linear() && margin(&net, &xi) < 1e-4 {
                    continue;
                }
                checked += 1;
                let logit = fd_jacobian(|v| forward_biased(&net, &p, v).0, &xi, 5);
                let soft = fd_jacobian(|v| softmax(&forward_biased(&net, &p, v).0), &xi, 5);
                let target = fro(&soft[labels[i] as usize..labels[i] as usize + 1]);
                for (what, g, w) in [
                    ("logit", point.logit_jacobian_norm, fro(&logit)),
                    ("softmax", point.jacobian_norm, fro(&soft)),
                    ("target row", point.target_row_norm, target),
                ] {
                    assert!(
                        (g - w).abs() <= 1e-4 * (1e-3 + w.abs()) + 1e-7,
                        "{act} depth {depth} point {i} {what}: {g} vs {w}"
                    );
                }
                let logits = forward_biased(&net, &p, &xi).0;
                let want_loss = -softmax(&logits)[labels[i] as usize].ln();
                assert!((point.loss - want_loss).abs() < 1e-5 * (1.0 + want_loss), "{act} loss");
            }
        }
        assert!(checked >= 10, "{act}: only {checked} points checked");
    }
}

/// Crossings counted from float64 region codes at `k` equidistant positions around the
/// loop, per hidden layer: a lower bound on the exact count that reaches it as k grows.
fn sampled64(net: &Mlp, traj: &Trajectory, k: usize) -> Vec<u64> {
    let p = params64(net);
    common::loop_crossings64(net, k, |position| {
        forward_biased(net, &p, &to64(&traj.point_at(position))).1
    })
}

#[test]
fn exact_transitions_with_biases_match_dense_float64_sampling() {
    let c = Compute::new(2);
    for act in Activation::ALL.into_iter().filter(|a| a.is_piecewise_linear()) {
        for depth in [2, 3] {
            let net = biased([4, 4, 1], 10, depth, 3, act, 20 + depth as u64);
            let scaled = |seed| lcg_vec(seed, 16).iter().map(|v| 2.0 * v).collect::<Vec<f32>>();
            let (x0, x1, x2) = (scaled(1), scaled(2), scaled(3));
            let trajectories = [
                ("translate", translation(&x0, [4, 4, 1]).unwrap()),
                ("data ellipse", data_ellipse([&x0, &x1, &x2]).unwrap()),
                ("random ellipse", random_ellipse(16, 5, depth as u64).unwrap()),
            ];
            for (name, traj) in trajectories {
                let exact = exact_transitions(&net, &c, &traj, false);
                assert!(exact.non_finite.is_none());
                let sampled = sampled64(&net, &traj, 1 << 17);
                let label = format!("{act} depth {depth} {name}");
                assert!(
                    exact.total >= 8,
                    "{label}: too few crossings to be a test ({})",
                    exact.total
                );
                for (l, (&s, &e)) in sampled.iter().zip(&exact.per_layer).enumerate() {
                    assert!(
                        s <= e && e - s <= 1 + e / 100,
                        "{label}: layer {l} exact {e} but float64 sampling finds {s}"
                    );
                }
            }
        }
    }
}

#[test]
fn sampled_region_codes_with_biases_match_float64_codes_for_every_activation() {
    // codes_of (behind sampled transitions and region maps) against the float64 codes.
    let c = Compute::new(2);
    for act in Activation::ALL {
        let net = biased([4, 4, 1], 10, 3, 3, act, 40);
        let traj = random_ellipse(16, 9, 1).unwrap();
        let k = 1 << 12;
        let got = sampled_transitions(&net, &c, &traj, k, false);
        let want = sampled64(&net, &traj, k);
        let total: u64 = want.iter().sum();
        assert!(total >= 8, "{act}: too few crossings to be a test ({total})");
        let differ: u64 = got.per_layer.iter().zip(&want).map(|(g, w)| g.abs_diff(*w)).sum();
        assert!(
            differ <= 2,
            "{act}: f32 codes give {:?}, float64 codes {want:?}",
            got.per_layer
        );
    }
}

/// A small Fashion-MNIST-like dataset (6×6, 10 classes) under `dir`.
fn fixture_data(dir: &Path) -> String {
    write_mnist_like(&dir.join("data"), 200, 50, 6, false);
    format!("mnist:{}", dir.join("data").display())
}

fn train(data: &str, out: &Path, extra: &[&str]) -> Mlp {
    let out_s = out.display().to_string();
    let mut args = vec![
        "train", "--data", data, "--width", "8", "--depth", "3", "--steps", "30", "--batch", "32", "--seed", "4",
        "--quiet", "--out", &out_s,
    ];
    args.extend_from_slice(extra);
    ok(&args);
    Mlp::load(&out.join("model.safetensors")).unwrap()
}

#[test]
fn every_optimizer_trains_the_biases_from_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_data(tmp.path());
    for (optimizer, lr) in [
        ("sgd", "0.1"),
        ("momentum", "0.05"),
        ("adam", "0.01"),
        ("rmsprop", "0.01"),
        ("lbfgs", "1"),
    ] {
        let dir = tmp.path().join(optimizer);
        let net = train(
            &data,
            &dir,
            &["--bias", "--optimizer", optimizer, "--lr", lr, "--save-init"],
        );
        let init = Mlp::load(&dir.join("model_init.safetensors")).unwrap();
        let zeros: Vec<Vec<f32>> = net.dims()[1..].iter().map(|&w| vec![0.0; w]).collect();
        assert_eq!(init.biases().unwrap(), zeros, "{optimizer}: biases start at zero");
        let trained = net.biases().expect("the trained model keeps its biases");
        assert!(
            trained.iter().flatten().any(|&b| b != 0.0),
            "{optimizer}: biases never moved"
        );
        let metrics: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap();
        assert_eq!(metrics["config"]["bias"], true, "{optimizer}");
        let biases: usize = net.dims()[1..].iter().sum();
        let weights: usize = net.weights().iter().map(Vec::len).sum();
        assert_eq!(
            metrics["param_count"],
            weights + biases,
            "{optimizer}: param_count counts the biases"
        );
        let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/schemas/metrics.json");
        let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
        let errors = json_schema::validate(&schema, &metrics);
        assert!(errors.is_empty(), "{optimizer}: metrics.json with biases: {errors:#?}");
    }
}

#[test]
fn with_biases_the_same_seed_gives_the_same_bits_and_the_weights_start_as_without() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_data(tmp.path());
    let read = |dir: &str, name: &str| std::fs::read(tmp.path().join(dir).join(name)).unwrap();
    train(&data, &tmp.path().join("a"), &["--bias", "--save-init"]);
    train(&data, &tmp.path().join("b"), &["--bias", "--save-init"]);
    assert_eq!(read("a", "model.safetensors"), read("b", "model.safetensors"));
    train(&data, &tmp.path().join("plain"), &["--save-init"]);
    let with = Mlp::load(&tmp.path().join("a/model_init.safetensors")).unwrap();
    let without = Mlp::load(&tmp.path().join("plain/model_init.safetensors")).unwrap();
    assert_eq!(
        with.weights(),
        without.weights(),
        "--bias must not change the weights' initialization"
    );
    assert!(without.biases().is_none());
    let plain_file = String::from_utf8_lossy(&read("plain", "model.safetensors")).into_owned();
    assert!(
        !plain_file.contains("bias"),
        "a bias-free model file holds no bias tensor"
    );
}

#[test]
fn train_with_bias_on_fashion_mnist_and_measure_the_model() {
    let fashion = Path::new("/usr/share/datasets/fashion-mnist");
    assert!(
        fashion.join("train-images-idx3-ubyte.gz").is_file(),
        "Fashion-MNIST is missing: run the README's set-up command (apt-get install dataset-fashion-mnist)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    let out_s = out.display().to_string();
    ok(&[
        "train",
        "--data",
        "fashion-mnist",
        "--train-size",
        "1000",
        "--width",
        "32",
        "--depth",
        "2",
        "--steps",
        "60",
        "--bias",
        "--quiet",
        "--out",
        &out_s,
    ]);
    let model = out.join("model.safetensors");
    let bytes = std::fs::read(&model).unwrap();
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header["layers.0.bias"]["shape"], serde_json::json!([32]));
    assert_eq!(header["layers.1.bias"]["shape"], serde_json::json!([10]));
    let model_s = model.display().to_string();
    let result = ok_json(&[
        "measure",
        "jacobian",
        "--model",
        &model_s,
        "--data",
        "fashion-mnist",
        "--limit",
        "200",
        "--json",
        "--quiet",
    ]);
    let text = result.to_string();
    assert_eq!(result["points"], 200, "{text}");
    let mean = result["mean_jacobian_norm"]
        .as_f64()
        .unwrap_or_else(|| panic!("no mean Jacobian norm in {text}"));
    assert!(mean.is_finite() && mean > 0.0, "{text}");
}

#[test]
fn a_sweep_spec_sets_bias_in_its_fixed_settings_and_specs_without_it_keep_their_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = |fixed: &str| {
        let path = tmp.path().join("spec.toml");
        std::fs::write(
            &path,
            format!("name = \"b\"\n[axes]\nwidth = [4, 8]\ndepth = [2]\nsteps = [10]\n{fixed}"),
        )
        .unwrap();
        occam::sweep::SweepSpec::from_toml_file(&path).unwrap().trials()
    };
    let plain = spec("");
    let with = spec("[fixed]\nbias = true\n");
    let off = spec("[fixed]\nbias = false\n");
    assert!(with.iter().all(|t| t.train.bias) && plain.iter().all(|t| !t.train.bias));
    let ids = |trials: &[occam::sweep::spec::TrialSpec]| trials.iter().map(|t| t.id()).collect::<Vec<_>>();
    assert_eq!(
        ids(&plain),
        ids(&off),
        "bias = false is the default and must not change an id"
    );
    assert!(ids(&plain).iter().zip(ids(&with)).all(|(a, b)| *a != b));
    let json = serde_json::to_string(&plain[0].train).unwrap();
    assert!(
        !json.contains("bias"),
        "a bias-free configuration serializes as before: {json}"
    );
}

#[test]
fn a_sweep_with_biases_runs_and_exports_rows_that_match_the_schemas() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_data(tmp.path());
    let spec = tmp.path().join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"biased\"\n[axes]\ndata = [\"{data}\"]\nwidth = [8]\ndepth = [2]\nsteps = [20]\nbatch = [32]\n\
             [fixed]\nbias = true\n[measure]\njacobian_points = 10\nper_point = true\n\
             [measure.transitions]\ntrajectory = \"translate\"\ncount = 2\n"
        ),
    )
    .unwrap();
    let store = tmp.path().join("store.sqlite");
    let s = |p: &Path| p.display().to_string();
    ok(&["sweep", "run", &s(&spec), "--store", &s(&store), "--quiet"]);
    for (option, schema_name) in [(None, "export-row.json"), (Some("--points"), "point-row.json")] {
        let file = tmp.path().join(format!("{schema_name}.jsonl"));
        let mut args = vec!["sweep".to_string(), "export".into(), s(&store)];
        args.extend(option.map(String::from));
        args.extend(["--jsonl".to_string(), s(&file)]);
        ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs/schemas")
            .join(schema_name);
        let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.lines().count() >= 1, "{schema_name}: no rows");
        for line in text.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(row["train.bias"], true, "{line}");
            assert_eq!(row["status"], "completed", "{line}");
            let errors = json_schema::validate(&schema, &row);
            assert!(errors.is_empty(), "{schema_name}: {errors:#?}");
        }
    }
}
