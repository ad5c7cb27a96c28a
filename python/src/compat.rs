//! Building a network from the caller's arrays, and reading its parts back.

use crate::errors::invalid;
use crate::network::Network;
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use occam::net::{Activation, Mlp};
use pyo3::prelude::*;

/// Until the library's accessors land: the parts of an `Mlp`.
pub trait MlpParts {
    fn activation(&self) -> Activation;
    fn dims(&self) -> &[usize];
    fn weights(&self) -> &[Vec<f32>];
    fn input_shape(&self) -> [usize; 3];
}

impl MlpParts for Mlp {
    fn activation(&self) -> Activation {
        self.activation
    }
    fn dims(&self) -> &[usize] {
        &self.dims
    }
    fn weights(&self) -> &[Vec<f32>] {
        &self.weights
    }
    fn input_shape(&self) -> [usize; 3] {
        self.input_shape
    }
}

pub fn biases(_net: &Mlp) -> Option<&[Vec<f32>]> {
    None
}

/// A network from `[out, in]` matrices and optional biases, every size and value checked.
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
    let mut mats = Vec::with_capacity(weights.len());
    for (l, w) in weights.iter().enumerate() {
        let [out, inp] = [w.shape()[0], w.shape()[1]];
        if inp != dims[l] {
            return Err(invalid(format!(
                "weights[{l}]: shape [{out}, {inp}] does not chain: layer {l} takes {} inputs (the outputs of weights[{}]), so its shape must be [out, {}] (did you mean to transpose?)",
                dims[l],
                l.saturating_sub(1),
                dims[l]
            )));
        }
        dims.push(out);
        mats.push(w.as_slice().map_err(|_| invalid(format!("weights[{l}]: not contiguous")))?.to_vec());
    }
    if biases.is_some() {
        return Err(invalid("biases: this build of Occam has no biases yet"));
    }
    let shape = input_shape.unwrap_or([1, 1, dims[0]]);
    let net = Mlp {
        activation,
        input_shape: shape,
        dims,
        weights: mats,
    };
    Ok(Network {
        net,
        shape_recorded: input_shape.is_some(),
    })
}
