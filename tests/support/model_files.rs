//! Model files as researchers write them, built with the `safetensors` crate: Occam's own
//! scheme and PyTorch state_dicts (with or without a prefix), `[out, in]` or `[in, out]`
//! layouts, F32/F64/F16/BF16, with or without biases; and the reference networks they hold.

use crate::common::lcg_vec;
use occam::compute::Compute;
use occam::net::engine::{self, Workspace};
use occam::net::{Activation, Layout, LoadOptions, Mlp};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use std::collections::HashMap;

/// How the tensors are named.
#[derive(Clone, Copy, Debug)]
pub enum Scheme {
    /// `layers.{i}.weight`
    Occam,
    /// `{2i}.weight`: Linear, activation, Linear, … in an nn.Sequential.
    Sequential,
    /// `model.{2i}.weight`: the Sequential held as `self.model`.
    Prefixed,
}

impl Scheme {
    pub fn name(self, layer: usize) -> String {
        match self {
            Scheme::Occam => format!("layers.{layer}.weight"),
            Scheme::Sequential => format!("{}.weight", 2 * layer),
            Scheme::Prefixed => format!("model.{}.weight", 2 * layer),
        }
    }
    pub fn bias_name(self, layer: usize) -> String {
        self.name(layer).replace(".weight", ".bias")
    }
}

/// A 3×3×1 → 5 → 5 → 5 → 5 → 5 → 10 relu network: six layers, so a Sequential's keys run
/// 0, 2, …, 10 and `10.weight` sorts before `2.weight` as a string.
pub fn reference() -> Mlp {
    Mlp::random([3, 3, 1], 5, 6, 10, Activation::Relu, 1.0, 7)
}

pub fn encode(values: &[f32], dtype: Dtype) -> Vec<u8> {
    match dtype {
        Dtype::F32 => values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        Dtype::F64 => values.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect(),
        Dtype::F16 => values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect(),
        Dtype::BF16 => values
            .iter()
            .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
            .collect(),
        other => panic!("no encoder for {other:?}"),
    }
}

/// Row-major `[in, out]` from `[out, in]`.
pub fn transpose(w: &[f32], out: usize, inp: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for o in 0..out {
        for i in 0..inp {
            t[i * out + o] = w[o * inp + i];
        }
    }
    t
}

/// `net` written by the `safetensors` crate in `scheme`, `dtype` and `layout`, with the
/// metadata given (a state_dict has none).
pub fn written(net: &Mlp, scheme: Scheme, dtype: Dtype, layout: Layout, meta: Option<&[(&str, &str)]>) -> Vec<u8> {
    let mut tensors = Vec::new();
    for (l, w) in net.weights().iter().enumerate() {
        let (out, inp) = (net.dims()[l + 1], net.dims()[l]);
        let (values, shape) = match layout {
            Layout::OutIn => (w.clone(), vec![out, inp]),
            Layout::InOut => (transpose(w, out, inp), vec![inp, out]),
        };
        tensors.push((scheme.name(l), shape, encode(&values, dtype)));
    }
    for (l, b) in net.biases().unwrap_or_default().iter().enumerate() {
        tensors.push((scheme.bias_name(l), vec![b.len()], encode(b, dtype)));
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(name, shape, bytes)| (name.clone(), TensorView::new(dtype, shape.clone(), bytes).unwrap()))
        .collect();
    let meta: Option<HashMap<String, String>> =
        meta.map(|m| m.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    safetensors::serialize(views, meta).unwrap()
}

pub fn state_dict(net: &Mlp, scheme: Scheme, dtype: Dtype, layout: Layout) -> Vec<u8> {
    written(net, scheme, dtype, layout, None)
}

pub fn logits(net: &Mlp) -> Vec<f32> {
    let n = 7;
    let x = lcg_vec(3, n * net.input_dim());
    let mut ws = Workspace::new(net, n);
    engine::forward(net, &Compute::single(), &x, n, &mut ws).to_vec()
}

pub fn options(layout: Layout) -> LoadOptions {
    LoadOptions {
        layout,
        activation: Some(Activation::Relu),
        input_shape: Some([3, 3, 1]),
    }
}

/// A value rounded to a narrower float and back.
pub type Rounding = fn(f32) -> f32;

/// Each weight rounded through `dtype` and back: the network a converted file holds.
pub fn rounded(net: &Mlp, round: Rounding) -> Mlp {
    let weights = net
        .weights()
        .iter()
        .map(|w| w.iter().map(|v| round(*v)).collect())
        .collect();
    Mlp::from_parts(net.activation(), net.input_shape(), net.dims().to_vec(), weights, None).unwrap()
}

/// A tensor added to a file: name, dtype, shape, bytes.
pub type Extra<'a> = (&'a str, Dtype, Vec<usize>, Vec<u8>);

/// The tensors of `net` as a Sequential state_dict plus `extra` tensors.
pub fn with_extra(net: &Mlp, extra: &[Extra]) -> Vec<u8> {
    let mut views: Vec<(String, TensorView)> = Vec::new();
    let stored: Vec<Vec<u8>> = net.weights().iter().map(|w| encode(w, Dtype::F32)).collect();
    for (l, bytes) in stored.iter().enumerate() {
        let shape = vec![net.dims()[l + 1], net.dims()[l]];
        views.push((
            Scheme::Sequential.name(l),
            TensorView::new(Dtype::F32, shape, bytes).unwrap(),
        ));
    }
    for (name, dtype, shape, bytes) in extra {
        views.push((name.to_string(), TensorView::new(*dtype, shape.clone(), bytes).unwrap()));
    }
    safetensors::serialize(views, None).unwrap()
}

/// The start of a tensor's data within the data section, from the file's header.
pub fn find_tensor_offset(bytes: &[u8], name: &str) -> usize {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header[name]["data_offsets"][0].as_u64().unwrap() as usize
}

/// The reference network with a distinct bias on every layer.
pub fn reference_with_biases() -> Mlp {
    let net = reference();
    let biases = net.dims()[1..]
        .iter()
        .enumerate()
        .map(|(l, &w)| lcg_vec(90 + l as u64, w))
        .collect();
    Mlp::from_parts(
        net.activation(),
        net.input_shape(),
        net.dims().to_vec(),
        net.weights().to_vec(),
        Some(biases),
    )
    .unwrap()
}
