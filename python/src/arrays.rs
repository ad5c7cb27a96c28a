//! Checks of the arrays Python hands in. The Python layer has already made them
//! C-contiguous float32 (inputs) or int64 (labels); here they are checked against the
//! network with Occam's own rules and messages, each naming the argument.

use crate::errors::invalid;
use numpy::{PyReadonlyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use occam::data::npy::examples_in;
use pyo3::prelude::*;

/// A set of input points: a slice of `examples × d` values, row-major.
pub struct Points<'a> {
    pub values: &'a [f32],
    pub examples: usize,
}

/// The points of `x` (named `what`) for a network whose input shape is `input_shape`:
/// shape (n, d) or (n, h, w, c) (or (n, h, w) for one channel), all values finite. When
/// the network's shape was not recorded (a PyTorch state_dict), any image shape whose
/// size is d is taken. `from_f64` says the caller's array was float64, for the message
/// about values that overflowed float32.
pub fn points<'a>(
    what: &str,
    x: &'a PyReadonlyArrayDyn<'_, f32>,
    input_shape: [usize; 3],
    shape_recorded: bool,
    from_f64: bool,
) -> PyResult<Points<'a>> {
    let shape = x.shape();
    let d: usize = input_shape.iter().product();
    let examples = match examples_in(shape, input_shape) {
        Ok(n) => n,
        Err(_) if !shape_recorded && shape.len() >= 3 && shape[0] > 0 && shape[1..].iter().product::<usize>() == d => {
            shape[0]
        }
        Err(why) => return Err(invalid(format!("{what}: {why}"))),
    };
    let values = x.as_slice().map_err(|_| {
        invalid(format!(
            "{what}: the array is not contiguous (internal conversion missed it)"
        ))
    })?;
    // A branch-free pass first (it vectorizes: a fraction of a millisecond for 2,000
    // images), and the position only when some value is not finite.
    let all_finite = values.iter().fold(true, |ok, v| ok & v.is_finite());
    if !all_finite && let Some(at) = values.iter().position(|v| !v.is_finite()) {
        let note = if from_f64 {
            " (a float64 value beyond float32's range, about 3.4e38, becomes inf: Occam computes in float32)"
        } else {
            ""
        };
        return Err(invalid(format!(
            "{what}: example {}, entry {} is {}{note}; every input must be a finite number",
            at / d,
            at % d,
            values[at]
        )));
    }
    Ok(Points { values, examples })
}

/// Labels for `examples` points of a network with `classes` outputs: one integer in
/// 0..classes per point.
pub fn labels(labels: &PyReadonlyArray1<'_, i64>, examples: usize, classes: usize) -> PyResult<Vec<u16>> {
    let values = labels
        .as_slice()
        .map_err(|_| invalid("labels: the array is not contiguous"))?;
    if values.len() != examples {
        return Err(invalid(format!(
            "labels: {} labels for {examples} examples; give exactly one label per example",
            values.len()
        )));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            u16::try_from(l)
                .ok()
                .filter(|&l| (l as usize) < classes)
                .ok_or_else(|| {
                    invalid(format!(
                        "labels: label {l} at index {i} is not a class of this network: valid labels are 0 to {}",
                        classes - 1
                    ))
                })
        })
        .collect()
}
