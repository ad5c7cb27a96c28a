//! Building a network from the caller's arrays: `[out, in]` matrices and optional
//! biases, every size and value checked by the library's `Mlp::from_parts`.

use crate::errors::{IntoPy, invalid};
use crate::network::Network;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use occam::net::{Activation, Mlp};
use pyo3::prelude::*;

/// A network from `[out, in]` matrices (C order) and optional biases. The matrices must
/// chain (each takes the previous one's outputs); a pair that would chain transposed gets
/// that suggestion.
pub fn network_from_arrays(
    activation: Activation,
    weights: Vec<PyReadonlyArray2<'_, f32>>,
    biases: Option<Vec<PyReadonlyArray1<'_, f32>>>,
    input_shape: Option<[usize; 3]>,
) -> PyResult<Network> {
    if weights.is_empty() {
        return Err(invalid("weights: an empty list; give one [out, in] matrix per layer"));
    }
    let mut dims = vec![weights[0].shape()[1]];
    let mut matrices = Vec::with_capacity(weights.len());
    for (l, w) in weights.iter().enumerate() {
        let [out, inp] = [w.shape()[0], w.shape()[1]];
        if l > 0 && inp != dims[l] {
            let hint = if out == dims[l] {
                " (did you mean to transpose it? Occam takes [out, in] matrices, as PyTorch's nn.Linear stores them)"
            } else {
                ""
            };
            return Err(invalid(format!(
                "weights[{l}]: shape [{out}, {inp}] does not chain: weights[{}] gives {} outputs, so weights[{l}] must have shape [out, {}]{hint}",
                l - 1,
                dims[l],
                dims[l]
            )));
        }
        dims.push(out);
        matrices.push(contiguous(&format!("weights[{l}]"), w.as_slice())?);
    }
    let biases = biases
        .map(|bs| {
            bs.iter()
                .enumerate()
                .map(|(l, b)| contiguous(&format!("biases[{l}]"), b.as_slice()))
                .collect::<PyResult<Vec<_>>>()
        })
        .transpose()?;
    let shape = input_shape.unwrap_or([1, 1, dims[0]]);
    let net = Mlp::from_parts(activation, shape, dims, matrices, biases).py_err()?;
    Ok(Network {
        net,
        shape_recorded: input_shape.is_some(),
    })
}

fn contiguous<E>(what: &str, values: Result<&[f32], E>) -> PyResult<Vec<f32>> {
    values
        .map(<[f32]>::to_vec)
        .map_err(|_| invalid(format!("{what}: not a contiguous array")))
}
