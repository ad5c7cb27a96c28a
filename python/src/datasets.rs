//! Occam's datasets as NumPy arrays, normalized exactly as training and measurement see
//! them, and the closed trajectories that transitions are counted along.

use crate::errors::{IntoPy, invalid};
use numpy::{
    AllowTypeChange, IntoPyArray, PyArray1, PyArray2, PyArrayDyn, PyArrayLike1, PyArrayMethods, PyReadonlyArrayDyn,
};
use occam::data::{DataSource, Dataset};
use occam::measure::trajectory::{self, check_spans_plane, data_ellipse, random_ellipse as library_random_ellipse};
use pyo3::prelude::*;

/// One split of a dataset: inputs `(n, h, w, c)` float32 and labels `(n,)` int64, as
/// `occam data export NAME --npz F` writes them.
#[pyfunction]
#[pyo3(signature = (name, split="train", train_size=None))]
#[allow(clippy::type_complexity)]
pub fn load_dataset<'py>(
    py: Python<'py>,
    name: &str,
    split: &str,
    train_size: Option<usize>,
) -> PyResult<(Bound<'py, PyArrayDyn<f32>>, Bound<'py, PyArray1<i64>>)> {
    let validation = match split {
        "train" | "test" => false,
        "validation" => true,
        other => {
            return Err(invalid(format!(
                "split: '{other}' is not a split: use 'train', 'test' or 'validation'"
            )));
        }
    };
    if let Some(n) = train_size {
        occam::limits::in_range("train_size", n, 1, occam::measure::ranges::MAX_COUNT).py_err()?;
        if split != "train" {
            return Err(invalid(format!(
                "train_size={n} cuts the train split, but split='{split}' was asked for"
            )));
        }
    }
    let source = DataSource::parse(name).py_err()?;
    let set: Dataset = py
        .detach(|| -> occam::Result<Option<Dataset>> {
            if validation {
                Ok(source.load()?.validation)
            } else {
                let splits = source.load_with(train_size)?;
                Ok(Some(if split == "train" { splits.train } else { splits.test }))
            }
        })
        .py_err()?
        .ok_or_else(|| {
            invalid(format!(
                "{name}: has no validation split (only MNIST-like datasets have one: the training file after its first 50,000 examples)"
            ))
        })?;
    let [h, w, c] = set.shape;
    let n = set.len();
    let x = set.inputs.into_pyarray(py).reshape(vec![n, h, w, c])?;
    let y: Vec<i64> = set.labels.iter().map(|&l| i64::from(l)).collect();
    Ok((x, y.into_pyarray(py)))
}

/// A closed path through input space (see `occam.trajectories`).
#[pyclass(module = "occam._occam", frozen)]
pub struct Trajectory {
    pub inner: trajectory::Trajectory,
    kind: &'static str,
}

#[pymethods]
impl Trajectory {
    /// The number of input values of each point on the path.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.pieces[0].dim()
    }
    /// `translate`, `ellipse` or `random_ellipse`.
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind
    }
    /// Positions in [0, 1) where the path passes through the given points.
    #[getter]
    fn anchors(&self) -> Vec<f64> {
        self.inner.anchors.clone()
    }
    /// The points at `positions` (each in [0, 1), taken modulo 1), shape (m, dim).
    fn points<'py>(
        &self,
        py: Python<'py>,
        positions: PyArrayLike1<'py, f64, AllowTypeChange>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let positions: Vec<f64> = positions.as_array().iter().copied().collect();
        if let Some(p) = positions.iter().find(|p| !p.is_finite()) {
            return Err(invalid(format!(
                "positions: {p} is not a position: each must be a finite number"
            )));
        }
        let dim = self.dim();
        let mut out = vec![0.0f32; positions.len() * dim];
        for (row, &p) in out.chunks_exact_mut(dim.max(1)).zip(&positions) {
            self.inner.write_point_at(p, row);
        }
        out.into_pyarray(py).reshape([positions.len(), dim])
    }
    fn __repr__(&self) -> String {
        format!(
            "Trajectory(kind='{}', dim={}, pieces={})",
            self.kind,
            self.dim(),
            self.inner.pieces.len()
        )
    }
}

fn finite_vector(what: &str, x: &PyReadonlyArrayDyn<'_, f32>) -> PyResult<Vec<f32>> {
    let values = x.as_slice().map_err(|_| invalid(format!("{what}: not contiguous")))?;
    if values.is_empty() {
        return Err(invalid(format!(
            "{what}: an empty array; a point needs at least one value"
        )));
    }
    if let Some(at) = values.iter().position(|v| !v.is_finite()) {
        return Err(invalid(format!(
            "{what}: entry {at} is {}; every value must be a finite number",
            values[at]
        )));
    }
    Ok(values.to_vec())
}

/// The loop of an image shifted right by 0 … W−1 pixels, wrapping around.
#[pyfunction]
pub fn translate(image: PyReadonlyArrayDyn<'_, f32>, input_shape: [usize; 3]) -> PyResult<Trajectory> {
    let values = finite_vector("image", &image)?;
    Ok(Trajectory {
        inner: trajectory::translation(&values, input_shape).py_err()?,
        kind: "translate",
    })
}

/// The ellipse through three points.
#[pyfunction]
pub fn ellipse(
    x1: PyReadonlyArrayDyn<'_, f32>,
    x2: PyReadonlyArrayDyn<'_, f32>,
    x3: PyReadonlyArrayDyn<'_, f32>,
) -> PyResult<Trajectory> {
    let (a, b, c) = (
        finite_vector("x1", &x1)?,
        finite_vector("x2", &x2)?,
        finite_vector("x3", &x3)?,
    );
    let inner = data_ellipse([&a, &b, &c]).py_err()?;
    // The library draws a flat ellipse through points on one line; asked by hand, refuse.
    check_spans_plane([&a, &b, &c]).map_err(|why| invalid(format!("x1, x2, x3: {why}")))?;
    Ok(Trajectory { inner, kind: "ellipse" })
}

/// A zero-centred ellipse `a cos θ + b sin θ`, a and b drawn from N(0, I) by seed and index.
#[pyfunction]
#[pyo3(signature = (seed, dim, index=0))]
pub fn random_ellipse(seed: u64, dim: usize, index: u64) -> PyResult<Trajectory> {
    Ok(Trajectory {
        inner: library_random_ellipse(dim, seed, index).py_err()?,
        kind: "random_ellipse",
    })
}
