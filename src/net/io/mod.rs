//! Saving and loading networks as safetensors. Occam writes `layers.{i}.weight`, f32,
//! `[out_features, in_features]`, and for a network with biases `layers.{i}.bias`, f32,
//! `[out_features]`, with `activation` and `input_shape` metadata. It reads those files
//! and also models as researchers save them: a PyTorch `nn.Sequential` state_dict with or
//! without `{k}.bias` (see [`keys`]), `[in, out]` kernels through [`Layout::InOut`] (biases
//! are 1-D and read as they are), and F64, F16 or BF16 tensors converted to f32 with a
//! note. When only some layers have a bias, the others get a zero bias (the same
//! function) and a note says so. Loading refuses anything that is not a network Occam can
//! compute with: a path that is not a regular file, malformed bytes, shapes that do not
//! chain, a bias whose length is not its layer's outputs, a zero-width layer or input
//! shape, and non-finite values; a refusal lists the tensors found and suggests the fix
//! when there is one.

mod keys;
mod tensors;

pub use tensors::Layout;

use super::{Activation, Mlp, checked_input_dim};
use crate::data::files::regular_file_size;
use crate::error::{OccamError, Result, write_atomic};
use crate::limits::check_memory;
use keys::Found;
use safetensors::SafeTensors;
use safetensors::tensor::TensorView;
use std::collections::HashMap;
use std::path::Path;

/// The `format` metadata of the files Occam writes.
const OCCAM_FORMAT: &str = "occam-mlp-v1";

/// How to read a model file whose metadata does not say everything (a PyTorch
/// state_dict records neither activation nor input shape). The default reads Occam's
/// own files and PyTorch weights as they are.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// How each weight matrix is stored: `[out, in]` (default) or `[in, out]`.
    pub layout: Layout,
    /// The activation, for files that record none; must agree with one that is recorded.
    pub activation: Option<Activation>,
    /// The input shape (height, width, channels), for files that record none; must agree
    /// with one that is recorded.
    pub input_shape: Option<[usize; 3]>,
}

/// A network read from a file, with what the caller should tell the user.
#[derive(Debug, Clone)]
pub struct LoadedModel {
    /// The network read.
    pub net: Mlp,
    /// Notices for the user (a dtype converted to f32); the library prints nothing.
    pub notes: Vec<String>,
    /// Whether the file or the options gave the input shape. When not, the network reads
    /// flat vectors (`[1, 1, in_features]`) until [`LoadedModel::for_inputs_of_shape`].
    pub input_shape_recorded: bool,
}

impl LoadedModel {
    /// The network, taking `shape` as its input shape when none was recorded and the
    /// sizes agree (a PyTorch state_dict measured on a dataset of images). Otherwise the
    /// network is unchanged and the caller's own shape check reports any mismatch.
    pub fn for_inputs_of_shape(self, shape: [usize; 3]) -> Mlp {
        let mut net = self.net;
        if !self.input_shape_recorded && checked_input_dim(shape).ok() == Some(net.input_dim()) {
            net.set_input_shape(shape);
        }
        net
    }
}

impl Mlp {
    /// Serializes to safetensors bytes. The header is written here rather than by the
    /// `safetensors` crate so that its key order is fixed: the same network always gives
    /// the same bytes (the crate's metadata map iterates in random order).
    pub fn to_safetensors(&self) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        let mut offset = 0usize;
        for (i, w) in self.weights().iter().enumerate() {
            let end = offset + 4 * w.len();
            header.insert(
                format!("layers.{i}.weight"),
                serde_json::json!({"dtype": "F32", "shape": [self.dims[i + 1], self.dims[i]], "data_offsets": [offset, end]}),
            );
            offset = end;
        }
        for (i, b) in self.biases().unwrap_or_default().iter().enumerate() {
            let end = offset + 4 * b.len();
            header.insert(
                format!("layers.{i}.bias"),
                serde_json::json!({"dtype": "F32", "shape": [b.len()], "data_offsets": [offset, end]}),
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
        // Weights, then biases: the order of `params`, and of the offsets above.
        for p in &self.params {
            out.extend(p.iter().flat_map(|v| v.to_le_bytes()));
        }
        out
    }

    /// Writes the network atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_safetensors())
    }

    /// Reads a network written in any scheme [`Mlp::load_with`] reads, with the default
    /// options (`[out, in]` layout, activation and input shape from the file's metadata).
    /// A dtype conversion happens silently here; [`Mlp::load_with`] returns its note.
    pub fn load(path: &Path) -> Result<Mlp> {
        Ok(Mlp::load_with(path, &LoadOptions::default())?.net)
    }

    /// Reads a network: Occam's own files, a PyTorch `nn.Sequential` state_dict, `[in,
    /// out]` kernels with [`Layout::InOut`], in F32, F64, F16 or BF16. Every tensor and the
    /// metadata are checked; errors name `path`.
    pub fn load_with(path: &Path, options: &LoadOptions) -> Result<LoadedModel> {
        let size = regular_file_size(path, "a safetensors model file")?;
        // The file's bytes and the decoded weights are held at the same time; an F16 or
        // BF16 file doubles in size when converted to f32.
        check_memory(
            &format!("loading the model {} ({size} bytes)", path.display()),
            3.0 * size as f64,
        )?;
        let bytes = std::fs::read(path).map_err(|e| OccamError::io(path, e))?;
        Mlp::from_safetensors_with(&bytes, options).map_err(|problem| OccamError::bad_file(path, problem))
    }

    /// [`Mlp::from_safetensors_with`] with the default options, without the notes.
    pub fn from_safetensors(bytes: &[u8]) -> std::result::Result<Mlp, String> {
        Ok(Mlp::from_safetensors_with(bytes, &LoadOptions::default())?.net)
    }

    /// Parses safetensors bytes into a network. Never panics: any malformed input is an
    /// error saying what is wrong (the caller adds the file name).
    pub fn from_safetensors_with(bytes: &[u8], options: &LoadOptions) -> std::result::Result<LoadedModel, String> {
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| format!("not a safetensors file: {e}"))?;
        let info = meta.metadata().clone().unwrap_or_default();
        let occam_file = info.get("format").is_some_and(|f| f == OCCAM_FORMAT);
        if occam_file && options.layout == Layout::InOut {
            return Err(format!(
                "this file was written by Occam ({OCCAM_FORMAT}), whose layout is always out-in: drop --layout in-out"
            ));
        }
        let activation = activation_of(&info, options)?;
        let recorded_shape = input_shape_of(&info, options)?;
        let input_dim = recorded_shape.map(checked_input_dim).transpose()?;
        let views = tensors.tensors();
        let found: Vec<Found> = views
            .iter()
            .map(|(name, t)| Found {
                name: name.clone(),
                dtype: t.dtype(),
                shape: t.shape().to_vec(),
            })
            .collect();
        let names = keys::layer_names(&found, occam_file)?;
        let weight_names: Vec<String> = names.iter().map(|n| n.weight.clone()).collect();
        let layers = layer_shapes(&found, &weight_names)?;
        let input = input_dim.map(|d| (d, recorded_shape.map(shape_text).unwrap_or_default()));
        let dims = match chain(&layers, options.layout, input.clone()) {
            Ok(dims) => dims,
            Err(Chain::Mismatch(problem)) => {
                let hint = if occam_file {
                    String::new()
                } else {
                    layout_hint(&layers, options.layout, input)
                };
                return Err(format!("{problem}{hint}; the file holds {}", keys::listing(&found)));
            }
            Err(Chain::Invalid(problem)) => return Err(problem),
        };
        let views: HashMap<String, TensorView> = views.into_iter().collect();
        let (mut params, mut notes) = decode_weights(&views, &layers, &dims, options.layout)?;
        let biases = decode_biases(&views, &names, &dims, &found, &mut notes)?;
        let biased = biases.is_some();
        params.extend(biases.unwrap_or_default());
        Ok(LoadedModel {
            net: Mlp {
                activation,
                input_shape: recorded_shape.unwrap_or([1, 1, dims[0]]),
                dims,
                params,
                biased,
                transposed: Default::default(),
            },
            notes,
            input_shape_recorded: recorded_shape.is_some(),
        })
    }
}

/// " — did you mean --layout …?" when the shapes chain in the other layout, else nothing.
fn layout_hint(layers: &[(&str, [usize; 2])], layout: Layout, input: Option<(usize, String)>) -> String {
    let other = layout.other();
    if chain(layers, other, input).is_err() {
        return String::new();
    }
    format!(
        " — did you mean --layout {}? (the shapes chain when read as {})",
        other.name(),
        match other {
            Layout::InOut => "[in_features, out_features], as flax/JAX kernels are stored",
            Layout::OutIn => "[out_features, in_features], as PyTorch stores nn.Linear weights",
        }
    )
}

/// Every layer's weights as f32 `[out, in]` rows, checked finite, and the note naming
/// the tensors converted from another dtype (none when all are F32).
fn decode_weights(
    views: &HashMap<String, TensorView>,
    layers: &[(&str, [usize; 2])],
    dims: &[usize],
    layout: Layout,
) -> std::result::Result<(Vec<Vec<f32>>, Vec<String>), String> {
    let mut weights = Vec::with_capacity(layers.len());
    let mut converted = Vec::new();
    for (l, &(name, shape)) in layers.iter().enumerate() {
        let t = &views[name];
        if tensors::is_converted(name, t.dtype())? {
            converted.push(format!("{name} ({:?})", t.dtype()));
        }
        let values = tensors::to_f32(name, t.dtype(), t.data())?;
        tensors::check_finite(name, &values, shape[1])?;
        weights.push(tensors::to_out_in(values, layout, dims[l + 1], dims[l]));
    }
    let notes = if converted.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "weights converted to f32, the precision Occam computes in: {}",
            converted.join(", ")
        )]
    };
    Ok((weights, notes))
}

/// Every layer's bias as f32 when the file has any (a layer without one gets zeros, and a
/// note names those layers), or `None` for a bias-free file. A bias must be 1-D with the
/// layer's output count and finite; a conversion from another dtype joins `notes`.
fn decode_biases(
    views: &HashMap<String, TensorView>,
    names: &[keys::LayerNames],
    dims: &[usize],
    found: &[Found],
    notes: &mut Vec<String>,
) -> std::result::Result<Option<Vec<Vec<f32>>>, String> {
    if names.iter().all(|n| n.bias.is_none()) {
        return Ok(None);
    }
    let mut biases = Vec::with_capacity(names.len());
    let (mut converted, mut zeroed) = (Vec::new(), Vec::new());
    for (l, layer) in names.iter().enumerate() {
        let outputs = dims[l + 1];
        let Some(name) = &layer.bias else {
            zeroed.push(format!("'{}'", layer.weight));
            biases.push(vec![0.0; outputs]);
            continue;
        };
        let t = &views[name];
        if t.shape() != [outputs] {
            return Err(format!(
                "bias tensor '{name}' has shape {:?}, expected [{outputs}] (the output features of '{}'); \
                 the file holds {}",
                t.shape(),
                layer.weight,
                keys::listing(found)
            ));
        }
        if tensors::is_converted(name, t.dtype())? {
            converted.push(format!("{name} ({:?})", t.dtype()));
        }
        let values = tensors::to_f32(name, t.dtype(), t.data())?;
        tensors::check_finite_vector(name, &values)?;
        biases.push(values);
    }
    if !converted.is_empty() {
        notes.push(format!(
            "biases converted to f32, the precision Occam computes in: {}",
            converted.join(", ")
        ));
    }
    if !zeroed.is_empty() {
        notes.push(format!(
            "layers without a bias in the file get a zero bias (the same outputs): {}",
            zeroed.join(", ")
        ));
    }
    Ok(Some(biases))
}

/// The activation: the file's metadata, or the caller's when the file records none (a
/// PyTorch state_dict). Both given and different is refused.
fn activation_of(info: &HashMap<String, String>, options: &LoadOptions) -> std::result::Result<Activation, String> {
    let recorded: Option<Activation> = info.get("activation").map(|a| a.parse()).transpose()?;
    match (recorded, options.activation) {
        (Some(file), Some(asked)) if file != asked => Err(format!(
            "the file records activation '{file}' but --activation {asked} was given: drop --activation, \
             or fix the file's metadata"
        )),
        (Some(a), _) | (None, Some(a)) => Ok(a),
        (None, None) => Err(format!(
            "metadata has no 'activation' entry (a PyTorch state_dict holds only weights): \
             give it with --activation NAME, one of {}",
            Activation::ALL.map(Activation::name).join(", ")
        )),
    }
}

/// The input shape: the file's metadata, or the caller's; `None` when neither says
/// (the network then reads flat vectors). Both given and different is refused.
fn input_shape_of(
    info: &HashMap<String, String>,
    options: &LoadOptions,
) -> std::result::Result<Option<[usize; 3]>, String> {
    let Some(text) = info.get("input_shape") else {
        return Ok(options.input_shape);
    };
    let shape: Vec<usize> = text
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| format!("input_shape '{text}' is not height,width,channels"))?;
    let shape: [usize; 3] = shape
        .try_into()
        .map_err(|_| format!("input_shape '{text}' must have exactly three entries"))?;
    match options.input_shape {
        Some(asked) if asked != shape => Err(format!(
            "the file records input_shape {text} but {} was asked for",
            shape_text(asked)
        )),
        _ => Ok(Some(shape)),
    }
}

fn shape_text([h, w, c]: [usize; 3]) -> String {
    format!("{h},{w},{c}")
}

/// The stored 2-D shape of every layer, in layer order, after checking each dtype.
fn layer_shapes<'a>(found: &'a [Found], names: &[String]) -> std::result::Result<Vec<(&'a str, [usize; 2])>, String> {
    names
        .iter()
        .map(|name| {
            let f = found.iter().find(|f| &f.name == name).expect("a listed tensor");
            tensors::is_converted(name, f.dtype)?;
            match f.shape[..] {
                [a, b] => Ok((f.name.as_str(), [a, b])),
                _ => Err(format!(
                    "tensor '{name}' has shape {:?}, expected a weight matrix [out_features, in_features] \
                     (or [in_features, out_features] with --layout in-out)",
                    f.shape
                )),
            }
        })
        .collect()
}

/// Why a network's layer shapes are not usable.
enum Chain {
    /// A layer's input features differ from what feeds it: perhaps the other layout.
    Mismatch(String),
    /// A layer with no inputs or outputs.
    Invalid(String),
}

/// `[input, width, …, classes]` when each layer's input features (read in `layout`)
/// equal the previous layer's outputs, and the first layer's the input size when known
/// (`input`: the size and the shape it comes from).
fn chain(
    layers: &[(&str, [usize; 2])],
    layout: Layout,
    input: Option<(usize, String)>,
) -> std::result::Result<Vec<usize>, Chain> {
    let reading = match layout {
        Layout::OutIn => "[out_features, in_features]",
        Layout::InOut => "[in_features, out_features] (--layout in-out)",
    };
    let mut dims = Vec::with_capacity(layers.len() + 1);
    for (l, &(name, shape)) in layers.iter().enumerate() {
        let (out, inp) = layout.out_in(shape);
        let mismatch = |want: usize, from: String| {
            Chain::Mismatch(format!(
                "tensor '{name}' of shape {shape:?}, read as {reading}, has {inp} input features but {from} gives {want}"
            ))
        };
        if l == 0 {
            match &input {
                Some((want, text)) if *want != inp => return Err(mismatch(*want, format!("the input shape {text}"))),
                None if inp == 0 => {
                    return Err(Chain::Invalid(format!(
                        "tensor '{name}' has shape {shape:?}: a first layer with 0 input features reads nothing"
                    )));
                }
                _ => dims.push(inp),
            }
        } else if inp != dims[l] {
            return Err(mismatch(dims[l], format!("the previous layer '{}'", layers[l - 1].0)));
        }
        if out == 0 {
            return Err(Chain::Invalid(format!(
                "tensor '{name}' has shape {shape:?}: a layer of width 0 computes nothing; every layer needs at least 1 output"
            )));
        }
        dims.push(out);
    }
    Ok(dims)
}
