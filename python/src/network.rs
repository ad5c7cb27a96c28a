//! `occam._occam.Network`: a network loaded, built from arrays or trained, and every
//! measurement on it (Jacobian norms, logits, evaluation, transitions). Inputs arrive
//! checked-for-type from the Python layer and are checked against the network here.

use crate::arrays::{Points, labels as checked_labels, points};
use crate::datasets::Trajectory;
use crate::errors::{IntoPy, invalid, non_finite};
use crate::threads;
use numpy::{IntoPyArray, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArrayDyn};
use occam::data::Dataset;
use occam::measure::finite::check_jacobians;
use occam::measure::ranges;
use occam::measure::transitions::{exact_transitions, sampled_transitions};
use occam::measure::{JACOBIAN_CHUNK, PointJacobian, jacobian_norms};
use occam::net::engine::{Workspace, evaluate, forward};
use occam::net::{Activation, Layout, LoadOptions, Mlp};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// A fully connected network (see `occam.Network` for the documented wrapper).
#[pyclass(module = "occam._occam", frozen)]
pub struct Network {
    pub net: Mlp,
    /// Whether the input shape was given (file metadata or argument); when not, the
    /// network reads flat vectors and accepts any image shape of the right size.
    pub shape_recorded: bool,
}

fn activation_of(name: &str) -> PyResult<Activation> {
    name.parse::<Activation>()
        .map_err(|e| invalid(format!("activation: {e}")))
}

impl Network {
    fn points<'a>(&self, x: &'a PyReadonlyArrayDyn<'_, f32>, from_f64: bool) -> PyResult<Points<'a>> {
        points("X", x, self.net.input_shape(), self.shape_recorded, from_f64)
    }
}

#[pymethods]
impl Network {
    /// Reads a safetensors file: Occam's own, or a PyTorch `nn.Sequential` state_dict.
    /// Returns the network and the notes to show (a dtype converted to float32).
    #[staticmethod]
    #[pyo3(signature = (path, activation=None, input_shape=None, layout="out-in"))]
    fn load(
        py: Python<'_>,
        path: PathBuf,
        activation: Option<&str>,
        input_shape: Option<[usize; 3]>,
        layout: &str,
    ) -> PyResult<(Network, Vec<String>)> {
        let layout = match layout {
            "out-in" => Layout::OutIn,
            "in-out" => Layout::InOut,
            other => {
                return Err(invalid(format!(
                    "layout: '{other}' is not a layout: use 'out-in' ([out, in] matrices, PyTorch) or 'in-out' ([in, out] kernels, flax/JAX)"
                )));
            }
        };
        let options = LoadOptions {
            layout,
            activation: activation.map(activation_of).transpose()?,
            input_shape,
        };
        let loaded = py.detach(|| Mlp::load_with(&path, &options)).py_err()?;
        Ok((
            Network {
                net: loaded.net,
                shape_recorded: loaded.input_shape_recorded,
            },
            loaded.notes,
        ))
    }

    /// Builds a network from `[out, in]` float32 matrices (C order) and optional biases.
    #[staticmethod]
    #[pyo3(signature = (weights, activation, biases=None, input_shape=None))]
    fn from_parts(
        weights: Vec<PyReadonlyArray2<'_, f32>>,
        activation: &str,
        biases: Option<Vec<PyReadonlyArray1<'_, f32>>>,
        input_shape: Option<[usize; 3]>,
    ) -> PyResult<Network> {
        let activation = activation_of(activation)?;
        crate::parts::network_from_arrays(activation, weights, biases, input_shape)
    }

    /// Writes the network as an Occam safetensors file, atomically.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.net.save(&path)).py_err()
    }

    #[getter]
    fn activation(&self) -> &'static str {
        self.net.activation().name()
    }
    #[getter]
    fn dims(&self) -> Vec<usize> {
        self.net.dims().to_vec()
    }
    #[getter]
    fn input_shape(&self) -> Option<[usize; 3]> {
        self.shape_recorded.then(|| self.net.input_shape())
    }
    /// The weight matrices, `[out, in]`, as new float32 arrays.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyArray2<f32>>>> {
        let dims = self.net.dims();
        self.net
            .weights()
            .iter()
            .enumerate()
            .map(|(l, w)| w.clone().into_pyarray(py).reshape([dims[l + 1], dims[l]]))
            .collect()
    }
    /// The bias vectors, or None for a bias-free network.
    fn biases<'py>(&self, py: Python<'py>) -> Option<Vec<Bound<'py, numpy::PyArray1<f32>>>> {
        self.net
            .biases()
            .map(|bs| bs.iter().map(|b| b.clone().into_pyarray(py)).collect())
    }

    /// Per-point Jacobian quantities (the columns of `occam measure jacobian`'s CSV).
    #[pyo3(signature = (x, from_f64, labels=None, threads=None))]
    fn jacobian_norms<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
        from_f64: bool,
        labels: Option<PyReadonlyArray1<'py, i64>>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let threads = threads::resolve(threads)?;
        let pts = self.points(&x, from_f64)?;
        let labels = labels
            .map(|l| checked_labels(&l, pts.examples, self.net.classes()))
            .transpose()?;
        let (values, labelled) = (pts.values, labels.is_some());
        let results = interruptible_jacobian_norms(py, &self.net, threads, values, labels.as_deref())?;
        check_jacobians(&results, 0, labelled).map_err(|f| non_finite("X", f))?;
        let out = PyDict::new(py);
        let column = |f: fn(&PointJacobian) -> f64| results.iter().map(f).collect::<Vec<f64>>();
        out.set_item("jacobian_norm", column(|r| r.jacobian_norm).into_pyarray(py))?;
        out.set_item(
            "logit_jacobian_norm",
            column(|r| r.logit_jacobian_norm).into_pyarray(py),
        )?;
        let predicted: Vec<i64> = results.iter().map(|r| r.predicted as i64).collect();
        out.set_item("predicted", predicted.into_pyarray(py))?;
        if labelled {
            out.set_item("target_row_norm", column(|r| r.target_row_norm).into_pyarray(py))?;
            out.set_item("loss", column(|r| r.loss).into_pyarray(py))?;
        }
        Ok(out)
    }

    /// The logits, shape (n, classes), float32.
    #[pyo3(signature = (x, from_f64, threads=None))]
    fn logits<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
        from_f64: bool,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let threads = threads::resolve(threads)?;
        let pts = self.points(&x, from_f64)?;
        let (values, n, d) = (pts.values, pts.examples, self.net.input_dim());
        let classes = self.net.classes();
        let logits = py.detach(|| {
            threads::run(threads, |compute| {
                const CHUNK: usize = 1024;
                let mut ws = Workspace::new(&self.net, CHUNK.min(n));
                let mut out = Vec::with_capacity(n * classes);
                for start in (0..n).step_by(CHUNK) {
                    let b = CHUNK.min(n - start);
                    out.extend_from_slice(forward(
                        &self.net,
                        compute,
                        &values[start * d..(start + b) * d],
                        b,
                        &mut ws,
                    ));
                }
                out
            })
        })?;
        if let Some(at) = logits.iter().position(|v| !v.is_finite()) {
            return Err(crate::errors::raise(
                crate::errors::Kind::NonFinite,
                format!(
                    "X: at index {}, logit {} is {} (the network's arithmetic overflowed: its weights or inputs are too large)",
                    at / classes,
                    at % classes,
                    logits[at]
                ),
            ));
        }
        logits.into_pyarray(py).reshape([n, classes])
    }

    /// Accuracy and mean cross-entropy loss on labelled points.
    #[pyo3(signature = (x, from_f64, labels, threads=None))]
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArrayDyn<'py, f32>,
        from_f64: bool,
        labels: PyReadonlyArray1<'py, i64>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let threads = threads::resolve(threads)?;
        let pts = self.points(&x, from_f64)?;
        let labels = checked_labels(&labels, pts.examples, self.net.classes())?;
        let data = Dataset {
            inputs: pts.values.to_vec(),
            labels,
            shape: [1, 1, self.net.input_dim()],
            classes: self.net.classes(),
        };
        let e = py.detach(|| threads::run(threads, |compute| evaluate(&self.net, compute, &data)))?;
        if let Some((at, loss)) = e.first_non_finite {
            return Err(crate::errors::raise(
                crate::errors::Kind::NonFinite,
                format!(
                    "X: at index {at}, the loss is {loss} (the network's arithmetic overflowed: its weights or inputs are too large)"
                ),
            ));
        }
        let out = PyDict::new(py);
        out.set_item("accuracy", e.accuracy)?;
        out.set_item("loss", e.loss)?;
        out.set_item("correct", e.correct)?;
        out.set_item("n", e.n)?;
        Ok(out)
    }

    /// Linear-region transitions along a closed trajectory: exactly (piecewise-linear
    /// activations) or by sampling `samples` equidistant positions.
    #[pyo3(signature = (trajectory, method="exact", samples=None, threads=None))]
    fn transitions<'py>(
        &self,
        py: Python<'py>,
        trajectory: &Trajectory,
        method: &str,
        samples: Option<usize>,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let threads = threads::resolve(threads)?;
        let traj = &trajectory.inner;
        let dim = traj.pieces[0].dim();
        if dim != self.net.input_dim() {
            return Err(invalid(format!(
                "trajectory: it runs through {dim}-dimensional inputs but the network takes d = {}",
                self.net.input_dim()
            )));
        }
        let count = match (method, samples) {
            ("exact", None) => {
                if !self.net.activation().is_piecewise_linear() {
                    return Err(invalid(format!(
                        "method='exact' counts transitions of piecewise-linear activations; {} is not: use method='sampled'",
                        self.net.activation()
                    )));
                }
                py.detach(|| threads::run(threads, |compute| exact_transitions(&self.net, compute, traj, false)))?
            }
            ("exact", Some(k)) => {
                return Err(invalid(format!(
                    "samples={k} applies to method='sampled' only; method='exact' samples nothing"
                )));
            }
            ("sampled", k) => {
                let k = k.unwrap_or(1 << 20);
                ranges::samples("samples", k).py_err()?;
                py.detach(|| {
                    threads::run(threads, |compute| {
                        sampled_transitions(&self.net, compute, traj, k, false)
                    })
                })?
            }
            (other, _) => {
                return Err(invalid(format!(
                    "method: '{other}' is not a method: use 'exact' (piecewise-linear activations) or 'sampled'"
                )));
            }
        };
        if let Some(f) = count.non_finite {
            return Err(non_finite("trajectory", f));
        }
        let out = PyDict::new(py);
        out.set_item("total", count.total)?;
        out.set_item("per_layer", count.per_layer)?;
        Ok(out)
    }
}

/// The library's checked `jacobian_norms` on `threads` threads without the GIL, in chunks
/// of [`JACOBIAN_CHUNK`] points (as many as `occam measure` and sweeps measure per call,
/// so the numbers are theirs bit for bit) with a check for Ctrl-C (KeyboardInterrupt) after each.
fn interruptible_jacobian_norms(
    py: Python<'_>,
    net: &Mlp,
    threads: usize,
    values: &[f32],
    labels: Option<&[u16]>,
) -> PyResult<Vec<PointJacobian>> {
    let d = net.input_dim();
    let n = values.len() / d;
    let mut out = Vec::with_capacity(n);
    for start in (0..n).step_by(JACOBIAN_CHUNK) {
        let end = (start + JACOBIAN_CHUNK).min(n);
        let (x, y) = (&values[start * d..end * d], labels.map(|l| &l[start..end]));
        let chunk = py.detach(|| threads::run(threads, |compute| jacobian_norms(net, compute, x, y)))?;
        out.extend(chunk.py_err()?);
        if end < n {
            py.check_signals()?;
        }
    }
    Ok(out)
}

/// Times the Rust library's `jacobian_norms` alone (no Python in the loop): `repeats`
/// calls on the same points, on `threads` threads; returns each call's seconds. For
/// the benchmark in `python/bench/jacobian.py`.
#[pyfunction]
#[pyo3(signature = (network, x, threads, repeats))]
pub fn time_jacobian_norms(
    py: Python<'_>,
    network: &Network,
    x: PyReadonlyArrayDyn<'_, f32>,
    threads: usize,
    repeats: usize,
) -> PyResult<Vec<f64>> {
    let threads = threads::resolve(Some(threads))?;
    let pts = network.points(&x, false)?;
    let values = pts.values;
    py.detach(|| {
        threads::run(threads, |compute| {
            (0..repeats)
                .map(|_| {
                    let started = std::time::Instant::now();
                    let _ = std::hint::black_box(jacobian_norms(&network.net, compute, values, None));
                    started.elapsed().as_secs_f64()
                })
                .collect()
        })
    })
}
