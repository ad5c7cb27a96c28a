//! Saving and loading networks as safetensors: `layers.{i}.weight`, f32,
//! `[out_features, in_features]`, with `activation` and `input_shape` metadata. Loading
//! refuses anything that is not a network Occam can compute with: a path that is not a
//! regular file, malformed bytes, a zero-width layer or input shape, and non-finite weights.

use super::{Activation, Mlp, checked_input_dim};
use crate::data::files::regular_file_size;
use crate::error::{OccamError, Result, write_atomic};
use crate::limits::check_memory;
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
        let size = regular_file_size(path, "a safetensors model file")?;
        // The file's bytes and the decoded weights are held at the same time.
        check_memory(
            &format!("loading the model {} ({size} bytes)", path.display()),
            2.0 * size as f64,
        )?;
        let bytes = std::fs::read(path).map_err(|e| OccamError::io(path, e))?;
        Mlp::from_safetensors(&bytes).map_err(|problem| OccamError::bad_file(path, problem))
    }

    /// Parses safetensors bytes into a network. Never panics: any malformed input is an
    /// error saying what is wrong (the caller adds the file name).
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
        let input_dim = checked_input_dim(input_shape)?;
        let mut dims = vec![input_dim];
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
            if out == 0 {
                return Err(format!(
                    "tensor '{name}' has shape [0, {inp}]: a layer of width 0 computes nothing; every layer needs at least 1 output"
                ));
            }
            let values: Vec<f32> = t
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            check_finite(&name, &values, inp)?;
            dims.push(out);
            weights.push(values);
        }
        Ok(Mlp {
            activation,
            input_shape,
            dims,
            weights,
        })
    }
}

/// Refuses a tensor holding NaN or ±inf: names the tensor, the first bad entry as (row,
/// column) of the `[out_features, in_features]` matrix, its value, and how many are bad.
fn check_finite(name: &str, values: &[f32], in_features: usize) -> std::result::Result<(), String> {
    let Some(first) = values.iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let bad = values.iter().filter(|v| !v.is_finite()).count();
    Err(format!(
        "tensor '{name}' holds {bad} non-finite weight{} of {}; the first is {} at row {}, column {}: \
         a network with NaN or infinite weights gives no meaningful numbers",
        if bad == 1 { "" } else { "s" },
        values.len(),
        values[first],
        first / in_features,
        first % in_features
    ))
}
