//! The safetensors interchange format (SPEC §7): round trips, a file written byte by byte
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
    assert_eq!(net.dims, vec![4, 3, 2]);
    assert_eq!(net.activation, Activation::HardTanh);
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
            handwritten(&[("layers.0.weight", "F64", vec![1, 4], w.clone())], meta),
            "expected F32",
        ),
        (
            handwritten(&[("layers.0.weight", "F32", vec![4, 2], w.clone())], meta),
            "2 input features",
        ),
        (
            handwritten(
                &[
                    ("layers.0.weight", "F32", vec![2, 4], w.clone()),
                    ("layers.0.bias", "F32", vec![2], f32_bytes(&[0.0; 2])),
                ],
                meta,
            ),
            "bias-free",
        ),
        (
            handwritten(&[("layers.1.weight", "F32", vec![2, 4], w.clone())], meta),
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
