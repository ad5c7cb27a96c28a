//! Saving and loading networks as safetensors (SPEC §7): `layers.{i}.weight`, f32,
//! `[out_features, in_features]`, with `activation` and `input_shape` metadata.

use super::{Activation, Mlp};
use crate::error::{OccamError, Result, write_atomic};
use safetensors::{Dtype, SafeTensors};
use std::path::Path;

impl Mlp {
    /// Serializes to safetensors bytes. The header is written here rather than by the
    /// `safetensors` crate so that its key order is fixed: the same network always gives
    /// the same bytes (the crate's metadata map iterates in random order).
    pub fn to_safetensors(&self) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut offset = 0usize;
        for (i, w) in self.weights.iter().enumerate() {
            let end = offset + 4 * w.len();
            header.insert(
                format!("layers.{i}.weight"),
                serde_json::json!({"dtype": "F32", "shape": [self.dims[i + 1], self.dims[i]], "data_offsets": [offset, end]}),
            );
            offset = end;
        }
        let [h, w, c] = self.input_shape;
        header.insert(
            "__metadata__".into(),
            serde_json::json!({"activation": self.activation.name(), "input_shape": format!("{h},{w},{c}"), "format": "occam-mlp-v1"}),
        );
        let mut text = serde_json::Value::Object(header).to_string();
        while !text.len().is_multiple_of(8) {
            text.push(' ');
        }
        let mut out = Vec::with_capacity(8 + text.len() + offset);
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
        for w in &self.weights {
            out.extend(w.iter().flat_map(|v| v.to_le_bytes()));
        }
        out
    }

    /// Writes the network atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_safetensors())
    }

    /// Reads a network, checking every tensor and the metadata; errors name `path`.
    pub fn load(path: &Path) -> Result<Mlp> {
        let bytes = std::fs::read(path).map_err(|e| OccamError::io(path, e))?;
        Mlp::from_safetensors(&bytes).map_err(|problem| OccamError::bad_file(path, problem))
    }

    pub fn from_safetensors(bytes: &[u8]) -> std::result::Result<Mlp, String> {
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let info = meta.metadata().clone().unwrap_or_default();
        let activation: Activation = info
            .get("activation")
            .ok_or("metadata has no 'activation' entry (relu, relu6, hard_tanh, hard_sigmoid or tanh)")?
            .parse()?;
        let shape_text = info
            .get("input_shape")
            .ok_or("metadata has no 'input_shape' entry (e.g. \"28,28,1\")")?;
        let shape: Vec<usize> = shape_text
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| format!("input_shape '{shape_text}' is not height,width,channels"))?;
        let input_shape: [usize; 3] = shape
            .try_into()
            .map_err(|_| format!("input_shape '{shape_text}' must have exactly three entries"))?;
        let depth = tensors.names().iter().filter(|n| n.starts_with("layers.")).count();
        if depth == 0 {
            return Err("no 'layers.{i}.weight' tensors".into());
        }
        if let Some(extra) = tensors
            .names()
            .into_iter()
            .find(|n| !n.starts_with("layers.") || !n.ends_with(".weight"))
        {
            return Err(format!(
                "unexpected tensor '{extra}': Occam networks are bias-free and hold only layers.{{i}}.weight"
            ));
        }
        let mut dims = vec![input_shape.iter().product::<usize>()];
        let mut weights = Vec::with_capacity(depth);
        for i in 0..depth {
            let name = format!("layers.{i}.weight");
            let t = tensors
                .tensor(&name)
                .map_err(|_| format!("missing tensor '{name}' (layers must be numbered 0..{})", depth - 1))?;
            if t.dtype() != Dtype::F32 {
                return Err(format!("tensor '{name}' is {:?}, expected F32", t.dtype()));
            }
            let &[out, inp] = t.shape() else {
                return Err(format!(
                    "tensor '{name}' has shape {:?}, expected [out_features, in_features]",
                    t.shape()
                ));
            };
            if inp != dims[i] {
                return Err(format!(
                    "tensor '{name}' has {inp} input features but the previous layer gives {}{}",
                    dims[i],
                    if i == 0 {
                        format!(" (input_shape {shape_text})")
                    } else {
                        String::new()
                    }
                ));
            }
            dims.push(out);
            weights.push(
                t.data()
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
            );
        }
        Ok(Mlp {
            activation,
            input_shape,
            dims,
            weights,
        })
    }
}
