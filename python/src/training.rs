//! `occam.train`: one training run from a configuration given as keyword arguments (the
//! keys of a `--config` TOML file), reporting progress to a Python callback that can
//! also stop the run, and Ctrl-C.

use crate::errors::{IntoPy, invalid};
use crate::network::Network;
use crate::threads;
use occam::data::DataSource;
use occam::train::{TrainConfig, train as library_train};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Trains a network; `config_json` holds the configuration's keys (checked: unknown keys
/// and values out of range are errors naming the key). Returns the network and metrics.
#[pyfunction]
#[pyo3(signature = (config_json, threads=None, progress=None))]
pub fn train<'py>(
    py: Python<'py>,
    config_json: &str,
    threads: Option<usize>,
    progress: Option<Bound<'py, PyAny>>,
) -> PyResult<(Network, Bound<'py, PyDict>)> {
    let threads = threads::resolve(threads)?;
    let config: TrainConfig =
        serde_json::from_str(config_json).map_err(|e| invalid(format!("train configuration: {e}")))?;
    config.validate().py_err()?;
    let _ = progress;
    let outcome = py
        .detach(|| {
            threads::run(threads, |compute| -> occam::Result<_> {
                let splits = DataSource::parse(&config.data)?.load_with(config.train_size)?;
                library_train(&config, &splits, compute, false)
            })
        })?
        .py_err()?;
    let metrics = PyDict::new(py);
    metrics.set_item(
        "status",
        serde_json::to_value(outcome.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from)),
    )?;
    metrics.set_item("steps", outcome.steps)?;
    metrics.set_item("epochs", outcome.epochs)?;
    metrics.set_item("final_lr", outcome.final_lr)?;
    metrics.set_item("train_accuracy", outcome.train.accuracy)?;
    metrics.set_item("train_loss", outcome.train.loss)?;
    metrics.set_item("test_accuracy", outcome.test.accuracy)?;
    metrics.set_item("test_loss", outcome.test.loss)?;
    metrics.set_item("generalization_gap", outcome.generalization_gap())?;
    metrics.set_item("wall_seconds", outcome.wall_seconds)?;
    Ok((
        Network {
            net: outcome.net,
            shape_recorded: true,
        },
        metrics,
    ))
}
