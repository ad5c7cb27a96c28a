//! One weight tensor of a model file turned into an Occam weight matrix: its dtype
//! converted to f32 (F32 as is; F64, F16 and BF16 converted), its layout turned into
//! row-major `[out_features, in_features]`, and its values checked to be finite.

use safetensors::Dtype;

/// How a file stores each weight matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// `[out_features, in_features]`: PyTorch's `nn.Linear.weight` and Occam's own files.
    #[default]
    OutIn,
    /// `[in_features, out_features]`: flax/JAX `Dense` kernels.
    InOut,
}

impl Layout {
    /// The spelling of the command line's `--layout`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::OutIn => "out-in",
            Layout::InOut => "in-out",
        }
    }
    /// The other layout (for the hint when shapes chain only in it).
    pub fn other(self) -> Layout {
        match self {
            Layout::OutIn => Layout::InOut,
            Layout::InOut => Layout::OutIn,
        }
    }
    /// `(out_features, in_features)` of a stored 2-D shape read in this layout.
    pub(super) fn out_in(self, shape: [usize; 2]) -> (usize, usize) {
        match self {
            Layout::OutIn => (shape[0], shape[1]),
            Layout::InOut => (shape[1], shape[0]),
        }
    }
}

/// Whether a tensor's dtype is one Occam can read, and if so whether it is converted.
pub(super) fn is_converted(name: &str, dtype: Dtype) -> Result<bool, String> {
    match dtype {
        Dtype::F32 => Ok(false),
        Dtype::F64 | Dtype::F16 | Dtype::BF16 => Ok(true),
        other => Err(format!(
            "tensor '{name}' is {other:?}; weights must be F32, F64, F16 or BF16 (others are converted to f32)"
        )),
    }
}

/// The values of a tensor as f32, in the file's element order. A finite F64 value beyond
/// f32's range is refused naming the tensor (it would become infinite).
pub(super) fn to_f32(name: &str, dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>, String> {
    match dtype {
        Dtype::F32 => Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect()),
        Dtype::F16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        Dtype::BF16 => Ok(bytes
            .chunks_exact(2)
            .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect()),
        Dtype::F64 => {
            let wide: Vec<f64> = bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().expect("chunks of 8 bytes")))
                .collect();
            if let Some(i) = wide.iter().position(|v| v.is_finite() && !(*v as f32).is_finite()) {
                return Err(format!(
                    "tensor '{name}' (F64) holds {:e} at element {i}, beyond the largest f32 ({:e}): \
                     Occam computes in f32 and this weight would become infinite",
                    wide[i],
                    f32::MAX
                ));
            }
            Ok(wide.into_iter().map(|v| v as f32).collect())
        }
        other => Err(format!(
            "tensor '{name}' is {other:?}; weights must be F32, F64, F16 or BF16"
        )),
    }
}

/// Row-major `[out, in]` from values stored as `[in, out]` (a transpose), or the values
/// unchanged for [`Layout::OutIn`].
pub(super) fn to_out_in(values: Vec<f32>, layout: Layout, out: usize, inp: usize) -> Vec<f32> {
    match layout {
        Layout::OutIn => values,
        Layout::InOut => {
            let mut rows = vec![0.0f32; values.len()];
            for i in 0..inp {
                for o in 0..out {
                    rows[o * inp + i] = values[i * out + o];
                }
            }
            rows
        }
    }
}

/// Refuses a tensor holding NaN or ±inf: names the tensor, the first bad entry as (row,
/// column) of the `[out_features, in_features]` matrix, its value, and how many are bad.
pub(super) fn check_finite(name: &str, values: &[f32], in_features: usize) -> Result<(), String> {
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

/// Refuses a 1-D tensor (a bias) holding NaN or ±inf: names the tensor, the first bad
/// entry, its value, and how many are bad.
pub(super) fn check_finite_vector(name: &str, values: &[f32]) -> Result<(), String> {
    let Some(first) = values.iter().position(|v| !v.is_finite()) else {
        return Ok(());
    };
    let bad = values.iter().filter(|v| !v.is_finite()).count();
    Err(format!(
        "tensor '{name}' holds {bad} non-finite value{} of {}; the first is {} at entry {first}: \
         a network with NaN or infinite biases gives no meaningful numbers",
        if bad == 1 { "" } else { "s" },
        values.len(),
        values[first],
    ))
}
