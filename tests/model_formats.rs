//! Models as researchers save them: Occam's own files, PyTorch `nn.Sequential` state_dicts
//! (with and without a prefix, indices ordered as numbers), flax `[in, out]` kernels, and
//! F64/F16/BF16 tensors, written here with the `safetensors` crate (and by Python when it
//! has `safetensors`), each giving the logits of the same network in Occam's format. Every
//! refusal is checked through the binary.

mod common;
#[path = "support/model_files.rs"]
mod model_files;

use common::*;
use model_files::*;
use occam::net::{Activation, Layout, LoadOptions, Mlp};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::path::Path;

#[test]
fn every_scheme_and_layout_in_f32_and_f64_gives_the_same_logits_bit_for_bit() {
    let net = reference();
    let want = logits(&net);
    for scheme in [Scheme::Occam, Scheme::Sequential, Scheme::Prefixed] {
        for layout in [Layout::OutIn, Layout::InOut] {
            for dtype in [Dtype::F32, Dtype::F64] {
                let bytes = state_dict(&net, scheme, dtype, layout);
                let loaded = Mlp::from_safetensors_with(&bytes, &options(layout))
                    .unwrap_or_else(|e| panic!("{scheme:?} {layout:?} {dtype:?}: {e}"));
                assert_eq!(loaded.net, net, "{scheme:?} {layout:?} {dtype:?}");
                assert_eq!(logits(&loaded.net), want, "{scheme:?} {layout:?} {dtype:?}");
                assert_eq!(
                    loaded.notes.len(),
                    usize::from(dtype == Dtype::F64),
                    "{:?}",
                    loaded.notes
                );
            }
        }
    }
}

#[test]
fn f16_and_bf16_are_converted_exactly_and_within_their_rounding_of_the_f32_network() {
    let net = reference();
    let want = logits(&net);
    let cases: [(Dtype, Rounding, f32); 2] = [
        (Dtype::F16, |v| half::f16::from_f32(v).to_f32(), 1e-2),
        (Dtype::BF16, |v| half::bf16::from_f32(v).to_f32(), 5e-2),
    ];
    for (dtype, round, tolerance) in cases {
        for layout in [Layout::OutIn, Layout::InOut] {
            let loaded =
                Mlp::from_safetensors_with(&state_dict(&net, Scheme::Sequential, dtype, layout), &options(layout))
                    .unwrap();
            // The conversion itself is exact: the same network as the rounded weights.
            assert_eq!(loaded.net, rounded(&net, round), "{dtype:?} {layout:?}");
            let got = logits(&loaded.net);
            let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() <= tolerance * scale, "{dtype:?}: {g} vs {w}");
            }
            assert_ne!(got, want, "{dtype:?} rounding should be visible in the logits");
            assert_eq!(loaded.notes.len(), 1);
            assert!(
                loaded.notes[0].contains(&format!("0.weight ({dtype:?})")),
                "{:?}",
                loaded.notes
            );
        }
    }
}

#[test]
fn sequential_layers_are_ordered_by_index_as_a_number() {
    // Six layers of different shapes: any order other than 0, 2, 4, 6, 8, 10 fails to chain.
    let net = Mlp::from_parts(
        Activation::Tanh,
        [2, 1, 1],
        vec![2, 3, 4, 5, 6, 7, 8],
        (0..6).map(|l| lcg_vec(l as u64 + 1, (l + 2) * (l + 3))).collect(),
        None,
    )
    .unwrap();
    let bytes = state_dict(&net, Scheme::Sequential, Dtype::F32, Layout::OutIn);
    let loaded = Mlp::from_safetensors_with(
        &bytes,
        &LoadOptions {
            activation: Some(Activation::Tanh),
            ..LoadOptions::default()
        },
    )
    .unwrap();
    assert_eq!(loaded.net.dims(), net.dims());
    assert_eq!(loaded.net.weights(), net.weights());
    // No input shape recorded: the network reads flat vectors until given one.
    assert!(!loaded.input_shape_recorded);
    assert_eq!(loaded.net.input_shape(), [1, 1, 2]);
    assert_eq!(loaded.for_inputs_of_shape([2, 1, 1]).input_shape(), [2, 1, 1]);
}

/// A fixture: an mnist-like dataset of 3×3 images, the reference network in Occam's
/// format, and a directory for other files.
struct Fixture {
    dir: tempfile::TempDir,
    data: String,
    occam_model: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        write_mnist_like(&dir.path().join("data"), 40, 20, 3, false);
        let data = format!("mnist:{}", dir.path().join("data").display());
        let occam_model = dir.path().join("occam.safetensors");
        reference().save(&occam_model).unwrap();
        Fixture {
            data,
            occam_model: occam_model.to_str().unwrap().to_string(),
            dir,
        }
    }
    fn file(&self, name: &str, bytes: &[u8]) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    }
    /// `occam evaluate` and `occam measure jacobian` on `model` with `extra` options.
    fn run(&self, command: &[&str], model: &str, extra: &[&str]) -> std::process::Output {
        let mut args: Vec<&str> = command.to_vec();
        args.extend(["--model", model, "--data", &self.data]);
        args.extend(extra);
        occam(&args)
    }
}

/// The JSON a command prints, without the model's path.
fn result_json(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v.as_object_mut().unwrap().remove("model");
    v
}

const EVALUATE: &[&str] = &["evaluate"];
const JACOBIAN: &[&str] = &["measure", "jacobian", "--json", "--quiet"];

#[test]
fn the_cli_measures_a_state_dict_and_flax_kernels_exactly_as_the_occam_file() {
    let f = Fixture::new();
    let net = reference();
    for command in [EVALUATE, JACOBIAN] {
        let want = result_json(&f.run(command, &f.occam_model, &[]));
        let torch = f.file(
            "torch.safetensors",
            &state_dict(&net, Scheme::Sequential, Dtype::F32, Layout::OutIn),
        );
        let out = f.run(command, &torch, &["--activation", "relu"]);
        assert_eq!(result_json(&out), want, "{command:?}");
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
        let flax = f.file(
            "flax.safetensors",
            &state_dict(&net, Scheme::Prefixed, Dtype::F32, Layout::InOut),
        );
        let out = f.run(command, &flax, &["--activation", "relu", "--layout", "in-out"]);
        assert_eq!(result_json(&out), want, "{command:?}");
        // An F64 file: the same numbers and one note naming the conversion.
        let wide = f.file(
            "f64.safetensors",
            &state_dict(&net, Scheme::Sequential, Dtype::F64, Layout::OutIn),
        );
        let out = f.run(command, &wide, &["--activation", "relu"]);
        assert_eq!(result_json(&out), want, "{command:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.matches("note:").count(), 1, "{err}");
        assert!(
            err.contains("f64.safetensors") && err.contains("converted to f32") && err.contains("10.weight (F64)"),
            "{err}"
        );
    }
    // A file that records its activation takes a matching --activation.
    let out = f.run(EVALUATE, &f.occam_model, &["--activation", "relu"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn files_that_cannot_be_read_as_asked_are_refused_naming_file_tensors_and_fix() {
    let f = Fixture::new();
    let net = reference();
    let out_in = f.file(
        "out_in.safetensors",
        &state_dict(&net, Scheme::Sequential, Dtype::F32, Layout::OutIn),
    );
    let in_out = f.file(
        "in_out.safetensors",
        &state_dict(&net, Scheme::Sequential, Dtype::F32, Layout::InOut),
    );
    let relu = ["--activation", "relu"];
    // No activation recorded and none given.
    refused(
        &f.run(EVALUATE, &out_in, &[]),
        &[
            "out_in.safetensors",
            "no 'activation'",
            "--activation NAME",
            "relu, relu6, hard_tanh, hard_sigmoid, tanh",
        ],
    );
    // Kernels stored [in, out] read as [out, in], and the other way round.
    refused(
        &f.run(JACOBIAN, &in_out, &relu),
        &[
            "in_out.safetensors",
            "did you mean --layout in-out?",
            "0.weight [9, 5] F32",
            "10.weight [5, 10] F32",
        ],
    );
    refused(
        &f.run(EVALUATE, &out_in, &["--activation", "relu", "--layout", "in-out"]),
        &[
            "out_in.safetensors",
            "did you mean --layout out-in?",
            "0.weight [5, 9] F32",
        ],
    );
    // Occam's own files are out-in; an activation that contradicts the file's.
    refused(
        &f.run(EVALUATE, &f.occam_model, &["--layout", "in-out"]),
        &["occam.safetensors", "drop --layout in-out"],
    );
    refused(
        &f.run(EVALUATE, &f.occam_model, &["--activation", "tanh"]),
        &["occam.safetensors", "records activation 'relu'", "--activation tanh"],
    );
    // An unknown --layout or --activation: the parser names the valid values.
    let out = f.run(EVALUATE, &out_in, &["--layout", "rows"]);
    let err = refused(&out, &["rows", "out-in", "in-out"]);
    assert_eq!(out.status.code(), Some(2), "{err}");
    refused(&f.run(EVALUATE, &out_in, &["--activation", "gelu"]), &["gelu", "relu6"]);
}

#[test]
fn biases_unknown_names_dtypes_and_bad_values_are_refused_cleanly() {
    let f = Fixture::new();
    let net = reference();
    let relu = ["--activation", "relu"];
    let bias = with_extra(&net, &[("0.bias", Dtype::F32, vec![4], encode(&[0.0; 4], Dtype::F32))]);
    refused(
        &f.run(EVALUATE, &f.file("bias.safetensors", &bias), &relu),
        &[
            "bias.safetensors",
            "bias tensor '0.bias' has shape [4], expected [5] (the output features of '0.weight')",
            "0.bias [4] F32",
        ],
    );
    let batchnorm = with_extra(
        &net,
        &[("1.running_mean", Dtype::F32, vec![5], encode(&[0.0; 5], Dtype::F32))],
    );
    refused(
        &f.run(JACOBIAN, &f.file("bn.safetensors", &batchnorm), &relu),
        &[
            "bn.safetensors",
            "unexpected tensor '1.running_mean'",
            "1.running_mean [5] F32",
            "{k}.weight",
        ],
    );
    let mixed = Mlp::from_parts(
        net.activation(),
        net.input_shape(),
        net.dims()[..2].to_vec(),
        net.weights()[..1].to_vec(),
        None,
    )
    .unwrap();
    let two_prefixes = {
        let bytes = encode(&mixed.weights()[0], Dtype::F32);
        let views = vec![
            (
                "a.0.weight".to_string(),
                TensorView::new(Dtype::F32, vec![5, 9], &bytes).unwrap(),
            ),
            (
                "b.1.weight".to_string(),
                TensorView::new(Dtype::F32, vec![5, 9], &bytes).unwrap(),
            ),
        ];
        safetensors::serialize(views, None).unwrap()
    };
    refused(
        &f.run(EVALUATE, &f.file("prefixes.safetensors", &two_prefixes), &relu),
        &["prefixes.safetensors", "different prefixes ('a.', 'b.')"],
    );
    // An integer dtype; a NaN in an F16 tensor; an F64 weight beyond f32's range.
    let ints = {
        let bytes = vec![0u8; 4 * 45];
        let views = vec![(
            "0.weight".to_string(),
            TensorView::new(Dtype::I32, vec![5, 9], &bytes).unwrap(),
        )];
        safetensors::serialize(views, None).unwrap()
    };
    refused(
        &f.run(EVALUATE, &f.file("ints.safetensors", &ints), &relu),
        &["ints.safetensors", "'0.weight' is I32", "F32, F64, F16 or BF16"],
    );
    // A network cannot hold a NaN, so the F16 NaN (0x7e00) is written into the file's bytes.
    let mut nan16 = state_dict(&net, Scheme::Sequential, Dtype::F16, Layout::OutIn);
    let header = 8 + u64::from_le_bytes(nan16[..8].try_into().unwrap()) as usize;
    let at = header + find_tensor_offset(&nan16, "10.weight") + 2 * 3;
    nan16[at..at + 2].copy_from_slice(&half::f16::NAN.to_le_bytes());
    refused(
        &f.run(EVALUATE, &f.file("nan16.safetensors", &nan16), &relu),
        &[
            "nan16.safetensors",
            "tensor '10.weight' holds 1 non-finite weight",
            "row 0, column 3",
        ],
    );
    let mut huge = written(&net, Scheme::Sequential, Dtype::F64, Layout::OutIn, None);
    let header = 8 + u64::from_le_bytes(huge[..8].try_into().unwrap()) as usize;
    let first_weight_of_0 = find_tensor_offset(&huge, "0.weight");
    huge[header + first_weight_of_0..header + first_weight_of_0 + 8].copy_from_slice(&1e300f64.to_le_bytes());
    refused(
        &f.run(EVALUATE, &f.file("huge64.safetensors", &huge), &relu),
        &[
            "huge64.safetensors",
            "'0.weight' (F64) holds 1e300",
            "beyond the largest f32",
        ],
    );
}

/// Python with `safetensors` and numpy (and torch, when installed) writes the reference
/// network as `safetensors.torch.save_file(model.state_dict(), …)` would; Occam reads it.
#[test]
fn a_state_dict_written_by_python_gives_the_occam_logits() {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import safetensors, numpy"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        println!("skipped: python3 with safetensors and numpy is not available");
        return;
    }
    let net = reference();
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("weights.f32");
    std::fs::write(&raw, encode(&net.weights().concat(), Dtype::F32)).unwrap();
    let out = tmp.path().join("python.safetensors");
    let dims = format!("{:?}", net.dims());
    let run = std::process::Command::new("python3")
        .args(["-c", PYTHON_WRITER, raw.to_str().unwrap(), &dims, out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    println!(
        "python wrote the file with {}",
        String::from_utf8_lossy(&run.stdout).trim()
    );
    let loaded = Mlp::load_with(&out, &options(Layout::OutIn)).unwrap();
    assert_eq!(loaded.net, net);
    assert_eq!(logits(&loaded.net), logits(&net));
}

/// argv: raw f32 weights, dims as a list, output path. Uses torch's nn.Sequential when
/// torch imports, else numpy arrays under the same keys.
const PYTHON_WRITER: &str = r#"
import json, sys
import numpy as np
raw, dims, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
flat = np.fromfile(raw, dtype="<f4")
weights, at = [], 0
for i in range(len(dims) - 1):
    n = dims[i] * dims[i + 1]
    weights.append(flat[at:at + n].reshape(dims[i + 1], dims[i]))
    at += n
try:
    import torch
    from safetensors.torch import save_file
    layers = []
    for w in weights:
        linear = torch.nn.Linear(w.shape[1], w.shape[0], bias=False)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.copy()))
        layers += [linear, torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    save_file(model.state_dict(), out)
    print("torch", torch.__version__)
except ImportError:
    from safetensors.numpy import save_file
    save_file({f"{2 * i}.weight": w for i, w in enumerate(weights)}, out)
    print("numpy", np.__version__)
"#;

#[test]
fn library_load_returns_the_note_and_occam_files_load_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let net = reference();
    let p = tmp.path().join("m.safetensors");
    net.save(&p).unwrap();
    let loaded = Mlp::load_with(&p, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.net, net);
    assert!(loaded.notes.is_empty() && loaded.input_shape_recorded);
    let q = tmp.path().join("half.safetensors");
    let meta: &[(&str, &str)] = &[("activation", "relu"), ("input_shape", "3,3,1")];
    std::fs::write(&q, written(&net, Scheme::Occam, Dtype::BF16, Layout::OutIn, Some(meta))).unwrap();
    let loaded = Mlp::load_with(&q, &LoadOptions::default()).unwrap();
    assert_eq!(loaded.net.dims(), net.dims());
    assert_eq!(loaded.notes.len(), 1, "{:?}", loaded.notes);
    assert!(Path::new(&q).exists());
}

#[test]
fn biases_round_trip_and_load_from_state_dicts_and_flax_kernels() {
    let net = reference_with_biases();
    let want = logits(&net);
    assert_ne!(want, logits(&reference()), "the biases must change the logits");
    // Occam's own file: layers.{i}.bias, the same network back, the same bytes each time.
    let bytes = net.to_safetensors();
    assert_eq!(bytes, net.to_safetensors());
    let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header["layers.5.bias"]["shape"], serde_json::json!([10]));
    assert_eq!(header["layers.0.bias"]["dtype"], "F32");
    let back = Mlp::from_safetensors(&bytes).unwrap();
    assert_eq!(back, net);
    assert!(!String::from_utf8_lossy(&reference().to_safetensors()).contains("bias"));
    // PyTorch state_dicts ({k}.bias beside {k}.weight) and flax [in, out] kernels.
    for scheme in [Scheme::Sequential, Scheme::Prefixed, Scheme::Occam] {
        for layout in [Layout::OutIn, Layout::InOut] {
            for dtype in [Dtype::F32, Dtype::F64] {
                let loaded =
                    Mlp::from_safetensors_with(&state_dict(&net, scheme, dtype, layout), &options(layout)).unwrap();
                assert_eq!(loaded.net.biases(), net.biases(), "{scheme:?} {layout:?} {dtype:?}");
                assert_eq!(logits(&loaded.net), want, "{scheme:?} {layout:?} {dtype:?}");
            }
        }
    }
    let half = Mlp::from_safetensors_with(
        &state_dict(&net, Scheme::Sequential, Dtype::F16, Layout::OutIn),
        &options(Layout::OutIn),
    )
    .unwrap();
    let f16 = |v: f32| half::f16::from_f32(v).to_f32();
    assert_eq!(
        half.net.biases().unwrap()[2],
        net.biases().unwrap()[2].iter().map(|&v| f16(v)).collect::<Vec<_>>()
    );
    assert!(
        half.notes
            .iter()
            .any(|n| n.contains("biases converted to f32") && n.contains("0.bias (F16)")),
        "{:?}",
        half.notes
    );
}

#[test]
fn the_cli_measures_a_state_dict_with_biases_exactly_as_the_occam_file() {
    let f = Fixture::new();
    let net = reference_with_biases();
    let own = f.file("own.safetensors", &net.to_safetensors());
    let torch = f.file(
        "torch.safetensors",
        &state_dict(&net, Scheme::Sequential, Dtype::F32, Layout::OutIn),
    );
    let flax = f.file(
        "flax.safetensors",
        &state_dict(&net, Scheme::Prefixed, Dtype::F32, Layout::InOut),
    );
    let want = result_json(&f.run(JACOBIAN, &own, &[]));
    for (file, extra) in [
        (&torch, vec!["--activation", "relu"]),
        (&flax, vec!["--activation", "relu", "--layout", "in-out"]),
    ] {
        let got = result_json(&f.run(JACOBIAN, file, &extra));
        assert_eq!(got["mean_jacobian_norm"], want["mean_jacobian_norm"], "{file}");
        assert_eq!(
            got["mean_logit_jacobian_norm"], want["mean_logit_jacobian_norm"],
            "{file}"
        );
    }
    let plain = result_json(&f.run(JACOBIAN, &f.occam_model, &[]));
    assert_ne!(plain["mean_jacobian_norm"], want["mean_jacobian_norm"]);
}

#[test]
fn bad_biases_are_refused_and_missing_ones_are_zero_with_a_note() {
    let f = Fixture::new();
    let net = reference();
    let relu = ["--activation", "relu"];
    let f32s = |v: &[f32]| encode(v, Dtype::F32);
    let cases: [(&str, Vec<Extra>, &[&str]); 4] = [
        (
            "matrix",
            vec![("2.bias", Dtype::F32, vec![5, 1], f32s(&[0.0; 5]))],
            &["bias tensor '2.bias' has shape [5, 1], expected [5] (the output features of '2.weight')"],
        ),
        (
            "orphan",
            vec![("12.bias", Dtype::F32, vec![10], f32s(&[0.0; 10]))],
            &[
                "bias tensor '12.bias' has no weight '12.weight' beside it",
                "10.weight [10, 5] F32",
            ],
        ),
        (
            "nan",
            vec![("4.bias", Dtype::F32, vec![5], f32s(&[0.0, 0.0, f32::NAN, 0.0, 0.0]))],
            &["tensor '4.bias' holds 1 non-finite value of 5; the first is NaN at entry 2"],
        ),
        (
            "ints",
            vec![("0.bias", Dtype::I32, vec![5], vec![0; 20])],
            &["tensor '0.bias' is I32", "F32, F64, F16 or BF16"],
        ),
    ];
    for (name, extra, wanted) in cases {
        let file = format!("{name}.safetensors");
        let path = f.file(&file, &with_extra(&net, &extra));
        let mut all = vec![file.as_str()];
        all.extend_from_slice(wanted);
        refused(&f.run(EVALUATE, &path, &relu), &all);
    }
    // Biases on some layers only: the others are zero, which is the same function.
    let some = [0.25f32, -0.5, 0.75, 0.0, 1.0];
    let mixed = with_extra(&net, &[("2.bias", Dtype::F32, vec![5], f32s(&some))]);
    let loaded = Mlp::from_safetensors_with(&mixed, &options(Layout::OutIn)).unwrap();
    let mut zeros: Vec<Vec<f32>> = net.dims()[1..].iter().map(|&w| vec![0.0; w]).collect();
    zeros[1] = some.to_vec();
    assert_eq!(loaded.net.biases().unwrap(), zeros);
    let note = loaded.notes.join("; ");
    assert!(
        note.contains("layers without a bias in the file get a zero bias") && note.contains("'0.weight', '4.weight'"),
        "{note}"
    );
    let out = f.run(EVALUATE, &f.file("mixed.safetensors", &mixed), &relu);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("zero bias"));
}
