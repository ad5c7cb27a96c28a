//! The compiled half of the Python package `occam` (imported as `occam._occam`): thin
//! bindings over the Occam library. The pure-Python layer in `python/occam/` checks and
//! converts NumPy arrays, adds torch, tqdm and pandas conveniences and the docstrings
//! users read; this crate computes, always with the GIL released.

mod arrays;
mod datasets;
mod errors;
mod network;
mod parts;
mod store;
mod threads;
mod training;

use pyo3::prelude::*;

#[pymodule]
fn _occam(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<network::Network>()?;
    m.add_class::<datasets::Trajectory>()?;
    m.add_function(wrap_pyfunction!(datasets::load_dataset, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::translate, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::ellipse, m)?)?;
    m.add_function(wrap_pyfunction!(datasets::random_ellipse, m)?)?;
    m.add_function(wrap_pyfunction!(store::read_store, m)?)?;
    m.add_function(wrap_pyfunction!(training::train, m)?)?;
    m.add_function(wrap_pyfunction!(network::time_jacobian_norms, m)?)?;
    Ok(())
}
