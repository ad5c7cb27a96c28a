//! The safetensors interchange format: round trips, a file written byte by byte
//! the way PyTorch's `safetensors.torch.save_file` lays it out, and malformed files.

mod common;

use common::*;
use occam::compute::Compute;
use occam::net::engine::{self, Workspace};
use occam::net::{Activation, Mlp};

/// Serializes tensors by hand (8-byte little-endian header length, JSON header, raw
/// little-endian data), independently of the `safetensors` crate.
fn handwritten(tensors: &[(&str, &str, Vec<usize>, Vec<u8>)], meta: &str) -> Vec<u8> {
    let mut header = String::from("{");
    let mut offset = 0;
    for (name, dtype, shape, data) in tensors {
        header += &format!(
            "\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape:?},\"data_offsets\":[{offset},{}]}},",
            offset + data.len()
        );
        offset += data.len();
    }
    header += &format!("\"__metadata__\":{meta}}}");
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    for (.., data) in tensors {
        out.extend_from_slice(data);
    }
    out
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

#[test]
fn save_then_load_gives_identical_logits() {
    let tmp = tempfile::tempdir().unwrap();
    for act in Activation::ALL {
        let net = Mlp::random([4, 3, 2], 9, 4, 5, act, 2.0, 3);
        let p = tmp.path().join(format!("{act}.safetensors"));
        net.save(&p).unwrap();
        let back = Mlp::load(&p).unwrap();
        assert_eq!(back, net);
        let x = lcg_vec(1, 6 * 24);
        let (mut w1, mut w2) = (Workspace::new(&net, 6), Workspace::new(&back, 6));
        let c = Compute::single();
        assert_eq!(
            engine::forward(&net, &c, &x, 6, &mut w1),
            engine::forward(&back, &c, &x, 6, &mut w2)
        );
    }
}

#[test]
fn a_torch_layout_file_loads_and_gives_the_reference_logits() {
    // Shapes [out, in] as nn.Linear stores them; a 2×2×1 input, hidden 3, 2 classes.
    let w0: Vec<f32> = lcg_vec(7, 12);
    let w1: Vec<f32> = lcg_vec(8, 6);
    let bytes = handwritten(
        &[
            ("layers.0.weight", "F32", vec![3, 4], f32_bytes(&w0)),
            ("layers.1.weight", "F32", vec![2, 3], f32_bytes(&w1)),
        ],
        r#"{"activation":"hard_tanh","input_shape":"2,2,1"}"#,
    );
    let net = Mlp::from_safetensors(&bytes).unwrap();
    assert_eq!(net.dims(), vec![4, 3, 2]);
    assert_eq!(net.activation(), Activation::HardTanh);
    let x = [0.3f32, -1.2, 2.0, 0.7];
    let mut ws = Workspace::new(&net, 1);
    let got = engine::forward(&net, &Compute::single(), &x, 1, &mut ws).to_vec();
    // By hand: h = hardtanh(W0 x), logits = W1 h.
    let h: Vec<f64> = (0..3)
        .map(|i| {
            (0..4)
                .map(|j| w0[i * 4 + j] as f64 * x[j] as f64)
                .sum::<f64>()
                .clamp(-1.0, 1.0)
        })
        .collect();
    for (k, g) in got.iter().enumerate() {
        let want: f64 = (0..3).map(|i| w1[k * 3 + i] as f64 * h[i]).sum();
        assert!((*g as f64 - want).abs() < 1e-6);
    }
}

#[test]
fn malformed_networks_are_rejected_with_reasons() {
    let w = f32_bytes(&[0.0; 8]);
    let meta = r#"{"activation":"relu","input_shape":"2,2,1"}"#;
    let cases = [
        (
            handwritten(
                &[("layers.0.weight", "F32", vec![2, 4], w.clone())],
                r#"{"input_shape":"2,2,1"}"#,
            ),
            "no 'activation'",
        ),
        (
            handwritten(
                &[("layers.0.weight", "F32", vec![2, 4], w.clone())],
                r#"{"activation":"gelu","input_shape":"2,2,1"}"#,
            ),
            "unknown activation",
        ),
        (
            handwritten(
                &[("layers.0.weight", "F32", vec![2, 4], w.clone())],
                r#"{"activation":"relu","input_shape":"4"}"#,
            ),
            "exactly three",
        ),
        (
            handwritten(&[("layers.0.weight", "I32", vec![2, 4], w.clone())], meta),
            "tensor 'layers.0.weight' is I32; weights must be F32, F64, F16 or BF16",
        ),
        (
            handwritten(&[("layers.0.weight", "F32", vec![4, 2], w.clone())], meta),
            "2 input features",
        ),
        (
            handwritten(
                &[
                    ("layers.0.weight", "F32", vec![2, 4], w.clone()),
                    ("layers.0.bias", "F32", vec![3], f32_bytes(&[0.0; 3])),
                ],
                meta,
            ),
            "bias tensor 'layers.0.bias' has shape [3], expected [2]",
        ),
        (
            // A gap is a damaged file only in Occam's own format; a state_dict's indices have gaps.
            handwritten(
                &[("layers.1.weight", "F32", vec![2, 4], w.clone())],
                r#"{"activation":"relu","input_shape":"2,2,1","format":"occam-mlp-v1"}"#,
            ),
            "missing tensor 'layers.0.weight'",
        ),
        (b"not a safetensors file at all".to_vec(), "not a safetensors file"),
    ];
    for (bytes, want) in cases {
        let e = Mlp::from_safetensors(&bytes).unwrap_err();
        assert!(e.contains(want), "'{e}' should contain '{want}'");
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("broken.safetensors");
    std::fs::write(&p, b"\x05\x00").unwrap();
    let e = Mlp::load(&p).unwrap_err().to_string();
    assert!(e.contains("broken.safetensors"), "{e}");
}

// ---- Hardening: non-finite weights, zero widths, kinds of path, sizes a user can type ----

#[path = "support/hostile.rs"]
mod hostile;

use hostile::{WrongKind, assert_clean_failure, occam_bounded};
use std::path::Path;
use std::time::Duration;

const META: &str = r#"{"activation":"relu","input_shape":"2,2,1"}"#;

/// A 2×2×1 → 3 → 2 network whose weights are `w0` (3×4) and `w1` (2×3).
fn two_layer(w0: &[f32], w1: &[f32]) -> Vec<u8> {
    handwritten(
        &[
            ("layers.0.weight", "F32", vec![3, 4], f32_bytes(w0)),
            ("layers.1.weight", "F32", vec![2, 3], f32_bytes(w1)),
        ],
        META,
    )
}

/// `occam evaluate --model MODEL` on a small dataset, with a time limit.
fn evaluate(model: &Path) -> hostile::Run {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 10, 4, 2, false);
    let data = format!("mnist:{}", tmp.path().display());
    occam_bounded(
        &["evaluate", "--model", model.to_str().unwrap(), "--data", &data],
        Duration::from_secs(20),
        None,
    )
}

#[test]
fn non_finite_weights_are_refused_naming_tensor_entry_and_count() {
    let ok0 = lcg_vec(1, 12);
    let ok1 = lcg_vec(2, 6);
    let mut nan1 = ok1.clone();
    nan1[5] = f32::NAN; // row 1, column 2 of the 2×3 matrix
    let mut inf0 = ok0.clone();
    inf0[4] = f32::INFINITY; // row 1, column 0
    inf0[11] = f32::NEG_INFINITY;
    let cases = [
        (
            two_layer(&ok0, &nan1),
            "tensor 'layers.1.weight' holds 1 non-finite weight of 6; the first is NaN at row 1, column 2",
        ),
        (
            two_layer(&inf0, &ok1),
            "tensor 'layers.0.weight' holds 2 non-finite weights of 12; the first is inf at row 1, column 0",
        ),
        (
            two_layer(&[f32::NAN; 12], &ok1),
            "tensor 'layers.0.weight' holds 12 non-finite weights of 12; the first is NaN at row 0, column 0",
        ),
        (
            two_layer(&ok0, &[f32::NEG_INFINITY; 6]),
            "holds 6 non-finite weights of 6; the first is -inf at row 0, column 0",
        ),
    ];
    for (bytes, want) in &cases {
        let e = Mlp::from_safetensors(bytes).unwrap_err();
        assert!(e.contains(want), "'{e}' should contain '{want}'");
    }
    // Through the binary: exit 1, the file and the tensor named.
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("nan.safetensors");
    std::fs::write(&p, &cases[0].0).unwrap();
    assert_clean_failure(&evaluate(&p), &["nan.safetensors", "layers.1.weight", "non-finite"]);
}

#[test]
fn zero_width_layers_and_degenerate_input_shapes_are_refused() {
    let w = f32_bytes(&[0.5; 8]);
    let with_meta = |shape: &str| format!(r#"{{"activation":"relu","input_shape":"{shape}"}}"#);
    let cases = [
        (
            handwritten(
                &[
                    ("layers.0.weight", "F32", vec![0, 4], vec![]),
                    ("layers.1.weight", "F32", vec![2, 0], vec![]),
                ],
                META,
            ),
            "tensor 'layers.0.weight' has shape [0, 4]: a layer of width 0",
        ),
        (
            handwritten(&[("layers.0.weight", "F32", vec![0, 4], vec![])], META),
            "has shape [0, 4]",
        ),
        (
            handwritten(&[("layers.0.weight", "F32", vec![2, 0], vec![])], &with_meta("0,2,1")),
            "input shape 0,2,1 has a zero dimension",
        ),
        (
            handwritten(
                &[("layers.0.weight", "F32", vec![2, 4], w.clone())],
                &with_meta("18446744073709551615,2,1"),
            ),
            "input shape 18446744073709551615,2,1 has more elements than this machine can address",
        ),
        (
            handwritten(
                &[("layers.0.weight", "F32", vec![2, 4], w.clone())],
                &with_meta("4294967296,4294967296,1"),
            ),
            "more elements than this machine can address",
        ),
        (
            handwritten(
                &[("layers.0.weight", "F32", vec![2, 4], w.clone())],
                &with_meta("-1,2,1"),
            ),
            "is not height,width,channels",
        ),
        (
            handwritten(
                &[("layers.0.weight", "F32", vec![2, 4], w.clone())],
                &with_meta("99999999999999999999999,2,1"),
            ),
            "is not height,width,channels",
        ),
    ];
    for (bytes, want) in &cases {
        let e = Mlp::from_safetensors(bytes).unwrap_err();
        assert!(e.contains(want), "'{e}' should contain '{want}'");
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("zero.safetensors");
    std::fs::write(&p, &cases[0].0).unwrap();
    assert_clean_failure(&evaluate(&p), &["zero.safetensors", "width 0"]);
}

#[test]
fn a_missing_model_file_is_one_line_naming_the_path_with_the_reason_once() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("absent.safetensors");
    let run = evaluate(&p);
    let e = assert_clean_failure(&run, &["absent.safetensors"]);
    assert_eq!(e.trim_end().lines().count(), 1, "{e}");
    let lower = e.to_lowercase();
    assert_eq!(lower.matches("no such file").count(), 1, "{e}");
    assert!(lower.matches("os error").count() <= 1, "{e}");
}

#[test]
fn a_model_path_of_the_wrong_kind_is_named_without_hanging() {
    for kind in WrongKind::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("m.safetensors");
        kind.make(&p);
        assert_clean_failure(&evaluate(&p), &["m.safetensors", kind.message()]);
        let e = Mlp::load(&p).unwrap_err().to_string();
        assert!(e.contains(kind.message()), "{kind:?}: {e}");
    }
    let tmp = tempfile::tempdir().unwrap();
    let e = Mlp::load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("is a directory, expected a safetensors model file"), "{e}");
}

#[test]
fn network_sizes_are_checked_before_allocating() {
    let e = Mlp::try_random([2, 2, 1], 0, 2, 3, Activation::Relu, 1.0, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("width 0") && e.contains("at least 1"), "{e}");
    let e = Mlp::try_random([2, 2, 1], 4, 0, 3, Activation::Relu, 1.0, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("depth 0"), "{e}");
    let e = Mlp::try_random([0, 2, 1], 4, 2, 3, Activation::Relu, 1.0, 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("zero dimension"), "{e}");
    for width in [1usize << 62, usize::MAX, 1_000_000_000] {
        let e = Mlp::try_random([28, 28, 1], width, 3, 10, Activation::Relu, 1.0, 1)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&format!("width {width}")) && e.contains("needs") && e.contains("this machine has"),
            "{e}"
        );
    }
    let net = Mlp::try_random([2, 2, 1], 5, 3, 3, Activation::Relu, 1.0, 1).unwrap();
    assert_eq!(net.dims(), vec![4, 5, 5, 3]);
    // The estimate counts 4 bytes per float: (4 + slots) weight-shaped buffers and one
    // batch of inputs, activations and two scratch buffers.
    let params = (4 * 5 + 5 * 5 + 5 * 3) as f64;
    let batch = 7.0 * (4.0 + 2.0 * 5.0 + 3.0 + 2.0 * 5.0);
    assert_eq!(
        occam::net::estimated_training_bytes(4, 5, 3, 3, 7, 2),
        4.0 * (6.0 * params + batch)
    );
}

#[test]
fn widths_a_user_can_type_give_clear_errors_not_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    write_mnist_like(tmp.path(), 10, 4, 4, false);
    let data = format!("mnist:{}", tmp.path().display());
    let out = tmp.path().join("out");
    for width in ["4611686018427387904", "1000000000", "500000"] {
        let args = [
            "train",
            "--data",
            &data,
            "--out",
            out.to_str().unwrap(),
            "--width",
            width,
            "--depth",
            "3",
            "--steps",
            "2",
            "--quiet",
        ];
        let run = occam_bounded(&args, Duration::from_secs(20), None);
        assert_clean_failure(&run, &["width", width]);
        if width == "500000" {
            // Within any sane range of widths, yet 1 TB of weights: the memory check says so.
            assert_clean_failure(&run, &["needs", "GB, this machine has"]);
        }
    }
}

/// Seeded mutation fuzzing of the safetensors reader: no mutant panics, and whatever loads
/// satisfies the network's invariants.
#[test]
fn mutated_model_files_never_panic() {
    let good = Mlp::random([2, 3, 1], 4, 3, 3, Activation::Tanh, 1.0, 5).to_safetensors();
    let mut seed = 0xfeed_u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize
    };
    let header_end = 8 + u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let digits = b"0123456789-,e ";
    for round in 0..600 {
        let mut bytes = good.clone();
        match next() % 5 {
            0 => bytes.truncate(next() % bytes.len()),
            1 => {
                let i = next() % bytes.len();
                bytes[i] ^= 1 << (next() % 8);
            }
            // Digits and separators inside the JSON header: shapes, offsets, input_shape.
            2 | 3 => {
                for _ in 0..1 + next() % 3 {
                    let i = 8 + next() % (header_end - 8);
                    bytes[i] = digits[next() % digits.len()];
                }
            }
            _ => bytes[..8].copy_from_slice(&(next() as u64 * 977).to_le_bytes()),
        }
        if let Ok(net) = Mlp::from_safetensors(&bytes) {
            assert_eq!(net.dims().len(), net.weights().len() + 1, "round {round}");
            for (l, w) in net.weights().iter().enumerate() {
                assert!(net.dims()[l] >= 1 && net.dims()[l + 1] >= 1, "round {round}");
                assert_eq!(w.len(), net.dims()[l] * net.dims()[l + 1], "round {round}");
                assert!(w.iter().all(|v| v.is_finite()), "round {round}");
            }
        }
    }
}
