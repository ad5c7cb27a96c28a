//! `occam.train`: one training run from a configuration given as keyword arguments (the
//! keys of a `--config` TOML file), reporting progress to a Python callback that can
//! stop the run, and stopping on Ctrl-C.

use crate::errors::{IntoPy, invalid};
use crate::network::Network;
use crate::threads;
use occam::compute::Compute;
use occam::data::DataSource;
use occam::train::observe::TrainProgress;
use occam::train::{TrainConfig, TrainHooks, TrainOutcome, train_with};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// Shortest time between two calls into Python while training (the library reports
/// every step, which can be microseconds apart). The first and last steps always reach
/// Python.
const REPORT_EVERY: Duration = Duration::from_millis(50);

/// Trains a network; `config_json` holds the configuration's keys (checked: unknown keys
/// and values out of range are errors naming the key). Returns the network and metrics.
/// `progress(step, total, loss)` is called as training goes (loss None before the first);
/// returning False stops the run with `CancelledError`. Ctrl-C stops it with
/// KeyboardInterrupt, and an exception raised by `progress` stops it and is re-raised.
#[pyfunction]
#[pyo3(signature = (config_json, threads=None, progress=None))]
pub fn train<'py>(
    py: Python<'py>,
    config_json: &str,
    threads: Option<usize>,
    progress: Option<Py<PyAny>>,
) -> PyResult<(Network, Bound<'py, PyDict>)> {
    let threads = threads::resolve(threads)?;
    let config = parse_config(config_json)?;
    config.validate().py_err()?;
    let mut raised: Option<PyErr> = None;
    let mut last_report: Option<Instant> = None;
    let mut on_progress = |p: TrainProgress| -> ControlFlow<()> {
        let due = last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY) || p.step >= p.total;
        if !due {
            return ControlFlow::Continue(());
        }
        last_report = Some(Instant::now());
        Python::attach(|py| match report(py, progress.as_ref(), &p) {
            Ok(true) => ControlFlow::Continue(()),
            Ok(false) => ControlFlow::Break(()),
            Err(e) => {
                raised = Some(e);
                ControlFlow::Break(())
            }
        })
    };
    // Training runs on this thread (its products on rayon's global pool, `threads` at a
    // time), not inside a pool of the binding's: the progress callback then runs on the
    // thread that called `train`, the main thread, the only one where Python sees Ctrl-C.
    let outcome = py.detach(|| -> occam::Result<TrainOutcome> {
        let compute = Compute::new(threads);
        let splits = DataSource::parse(&config.data)?.load_with(config.train_size)?;
        let hooks = TrainHooks {
            on_progress: Some(&mut on_progress),
            ..TrainHooks::default()
        };
        train_with(&config, &splits, &compute, hooks)
    });
    if let Some(e) = raised {
        return Err(e);
    }
    let outcome = outcome.py_err()?;
    let metrics = metrics(py, &outcome)?;
    let network = Network {
        net: outcome.net,
        shape_recorded: true,
    };
    Ok((network, metrics))
}

/// Checks for Ctrl-C, then calls the user's callback: whether to go on.
fn report(py: Python<'_>, progress: Option<&Py<PyAny>>, p: &TrainProgress) -> PyResult<bool> {
    py.check_signals()?;
    let Some(callback) = progress else {
        return Ok(true);
    };
    let answer = callback.call1(py, (p.step, p.total, p.loss))?;
    // None (no return statement) goes on; False stops.
    Ok(answer.is_none(py) || answer.is_truthy(py)?)
}

fn metrics<'py>(py: Python<'py>, outcome: &TrainOutcome) -> PyResult<Bound<'py, PyDict>> {
    let metrics = PyDict::new(py);
    let status = serde_json::to_value(outcome.status)
        .ok()
        .and_then(|v| v.as_str().map(String::from));
    metrics.set_item("status", status)?;
    metrics.set_item("steps", outcome.steps)?;
    metrics.set_item("epochs", outcome.epochs)?;
    metrics.set_item("final_lr", outcome.final_lr)?;
    metrics.set_item("train_accuracy", outcome.train.accuracy)?;
    metrics.set_item("train_loss", outcome.train.loss)?;
    metrics.set_item("test_accuracy", outcome.test.accuracy)?;
    metrics.set_item("test_loss", outcome.test.loss)?;
    metrics.set_item("generalization_gap", outcome.generalization_gap())?;
    metrics.set_item("wall_seconds", outcome.wall_seconds)?;
    Ok(metrics)
}

/// The configuration from its JSON text; an error names the key (`width: invalid type:
/// floating point 16.0, expected usize`), not a position in text the user never wrote.
fn parse_config(config_json: &str) -> PyResult<TrainConfig> {
    let mut de = serde_json::Deserializer::from_str(config_json);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.inner().to_string();
        let why = inner.split_once(" at line ").map_or(inner.as_str(), |(why, _)| why);
        if key == "." {
            invalid(format!("train configuration: {why}"))
        } else {
            invalid(format!("train configuration: {key}: {why}"))
        }
    })
}
