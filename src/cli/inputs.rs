//! `--inputs` and `--labels`: the user's own points for `occam evaluate` and every
//! `occam measure` command, read from NumPy files and checked against the model
//! (occam::data::npy), used exactly as given, never normalized.

use super::model_format::ModelFormat;
use super::model_format::load_model_and_data;
use anyhow::{Result, bail};
use clap::Args;
use occam::compute::Compute;
use occam::data::npy::{ArraySpec, read_user_inputs};
use occam::data::{Dataset, Splits};
use occam::measure::trajectory::TrajectoryKind;
use occam::net::{Mlp, engine};
use serde_json::json;
use std::path::Path;

/// The options naming the user's points.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Your own points instead of the dataset's test split: X.npy, F.npz (its array x, X or
    /// inputs, and its y or labels array as labels when there is one) or F.npz:NAME.
    /// float32 or float64 (rounded to float32), shape [n, d], [n, H, W, C] or [n, H, W] (channels
    /// last, flattened row-major) matching the model. Used as given, NOT normalized: Occam's own
    /// datasets are normalized per example to zero mean and unit variance (`occam data
    /// export` writes them so).
    #[arg(long, value_name = "FILE")]
    pub inputs: Option<String>,
    /// Labels of --inputs: y.npy or F.npz:NAME, integers of any width, shape [n], each
    /// from 0 to the model's classes − 1.
    #[arg(long, value_name = "FILE", requires = "inputs")]
    pub labels: Option<String>,
}

/// The user's points as a dataset of the model's input shape.
pub struct UserPoints {
    /// The points; when `labelled` is false its labels are placeholders (zeros) that
    /// nothing may read.
    pub set: Dataset,
    pub labelled: bool,
    pub from: InputsFrom,
}

/// Where the user's inputs and labels were read from (an archive's arrays named), for
/// summaries and messages.
pub struct InputsFrom {
    pub inputs: String,
    pub labels: Option<String>,
}

impl InputArgs {
    pub fn given(&self) -> bool {
        self.inputs.is_some()
    }

    /// Reads and checks `--inputs` (and `--labels`) for `net`; `None` without `--inputs`.
    /// Conversions (float64 to float32) are reported on stderr.
    pub fn load(&self, net: &Mlp) -> Result<Option<UserPoints>> {
        let Some(inputs) = &self.inputs else { return Ok(None) };
        let inputs = ArraySpec::parse(inputs)?;
        let labels = self.labels.as_deref().map(ArraySpec::parse).transpose()?;
        let read = read_user_inputs(&inputs, labels.as_ref(), net.input_shape(), net.classes())?;
        for notice in &read.notices {
            eprintln!("note: {notice}");
        }
        let labelled = read.labels.is_some();
        let set = Dataset {
            inputs: read.inputs,
            labels: read.labels.unwrap_or_else(|| vec![0; read.examples]),
            shape: net.input_shape(),
            classes: net.classes(),
        };
        Ok(Some(UserPoints {
            set,
            labelled,
            from: InputsFrom {
                inputs: read.inputs_from.to_string(),
                labels: read.labels_from.map(|l| l.to_string()),
            },
        }))
    }

    /// Refuses `--inputs` beside `--data` where both would supply the same points.
    pub fn refuse_with_data(&self, data: Option<&str>, why: &str) -> Result<()> {
        if self.given() && data.is_some() {
            bail!("--data and --inputs: {why}; give one of them");
        }
        Ok(())
    }

    /// The training points and the points to measure: with `--inputs`, the inputs cut to
    /// `limit`, and the dataset's training split (or, with no dataset, the inputs again);
    /// without, `dataset_points` of the splits.
    pub fn measure_points(
        &self,
        net: &Mlp,
        splits: Option<Splits>,
        limit: usize,
        dataset_points: impl FnOnce(Splits) -> Result<(Dataset, Dataset)>,
    ) -> Result<(Dataset, Dataset, Origin)> {
        let Some(user) = self.load(net)? else {
            let splits = splits.ok_or_else(|| anyhow::anyhow!("--data or --inputs is required"))?;
            let (train, points) = dataset_points(splits)?;
            return Ok((train, points, Origin::Dataset));
        };
        let points = user.set.take(limit);
        let origin = Origin::Inputs {
            labelled: user.labelled,
            train_labelled: splits.is_some() || user.labelled,
            from: user.from,
        };
        let train = splits.map_or(user.set, |s| s.train);
        Ok((train, points, origin))
    }
}

/// Where measured points came from, and which of them have labels.
pub enum Origin {
    /// A split of `--data`: labelled, as is its training split.
    Dataset,
    /// `--inputs`; `train_labelled` says whether the training points (the dataset's, or
    /// the inputs again) have labels.
    Inputs {
        labelled: bool,
        train_labelled: bool,
        from: InputsFrom,
    },
}

impl Origin {
    /// Whether the measured points have labels (else their labels are placeholders).
    pub fn labelled(&self) -> bool {
        matches!(self, Origin::Dataset | Origin::Inputs { labelled: true, .. })
    }

    /// Whether the training points have labels.
    pub fn train_labelled(&self) -> bool {
        matches!(
            self,
            Origin::Dataset
                | Origin::Inputs {
                    train_labelled: true,
                    ..
                }
        )
    }

    /// Refuses trajectory kinds that pick training points by class when those have no
    /// labels; `option` names the option that chose them.
    pub fn check_classes(&self, option: &str, kinds: &[TrajectoryKind]) -> Result<()> {
        let by_class = |k: &&TrajectoryKind| {
            matches!(
                k,
                TrajectoryKind::SameClassEllipse | TrajectoryKind::DifferentClassEllipse
            )
        };
        if let Some(kind) = kinds.iter().find(by_class)
            && !self.train_labelled()
        {
            bail!(
                "{option} {} picks training points by class, but --inputs without labels have no classes: \
                 give --labels, or --data to take the training points from a dataset",
                kind.name()
            );
        }
        Ok(())
    }

    /// Adds where the points came from to a command's summary: `inputs` and `labels`
    /// (unless the command reports labels of its own) for `--inputs`, whose summary has
    /// no dataset `split` and, without labels, no label-based statistics; and no `data`
    /// entry when no dataset was named.
    pub fn annotate(&self, summary: &mut serde_json::Value) {
        let Some(map) = summary.as_object_mut() else { return };
        if map.get("data").is_some_and(|d| d.is_null()) {
            map.remove("data");
        }
        if let Origin::Inputs { labelled, from, .. } = self {
            map.remove("split");
            if !labelled {
                for key in ["mean_target_row_norm", "mean_loss", "accuracy"] {
                    map.remove(key);
                }
            }
            map.insert("inputs".into(), json!(from.inputs));
            map.entry("labels").or_insert(json!(from.labels));
        }
    }
}

/// `occam evaluate --inputs`: accuracy and loss on the user's labelled points. With
/// `--data` also on the dataset's training split, the points standing in for its test
/// split (the output then has the keys of a plain `occam evaluate`).
pub fn evaluate_inputs(model: &Path, format: &ModelFormat, data: Option<&str>, user: &InputArgs) -> Result<()> {
    let (net, train) = match data {
        Some(data) => {
            let (net, splits) = load_model_and_data(model, format, data)?;
            (net, Some(splits.train))
        }
        None => (format.load(model)?.net, None),
    };
    let Some(points) = user.load(&net)? else {
        bail!("--inputs is required here")
    };
    if !points.labelled {
        bail!(
            "--inputs {}: evaluating needs labels: give --labels y.npy (or F.npz:NAME), or store a y or \
             labels array beside the inputs in the .npz",
            points.from.inputs
        );
    }
    let compute = Compute::new(super::threads());
    let test = evaluate_set(
        &net,
        &compute,
        &points.set,
        model,
        &format!("--inputs {}", points.from.inputs),
    )?;
    let mut out = serde_json::Map::new();
    out.insert("model".into(), json!(model));
    if let (Some(train), Some(data)) = (train, data) {
        if train.is_empty() {
            bail!("{data}: the train split has no examples to evaluate");
        }
        let train = evaluate_set(&net, &compute, &train, model, &format!("the train split of {data}"))?;
        out.insert("data".into(), json!(data));
        out.insert("train_accuracy".into(), json!(train.accuracy));
        out.insert("test_accuracy".into(), json!(test.accuracy));
        out.insert("train_loss".into(), json!(train.loss));
        out.insert("test_loss".into(), json!(test.loss));
        out.insert("generalization_gap".into(), json!(train.accuracy - test.accuracy));
    } else {
        out.insert("accuracy".into(), json!(test.accuracy));
        out.insert("loss".into(), json!(test.loss));
    }
    out.insert("inputs".into(), json!(points.from.inputs));
    out.insert("labels".into(), json!(points.from.labels));
    out.insert("examples".into(), json!(points.set.len()));
    out.insert("param_count".into(), json!(net.param_count()));
    out.insert("activation".into(), json!(net.activation()));
    out.insert("dims".into(), json!(net.dims()));
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

/// Accuracy and loss on one set; a non-finite loss is an error naming the model, the set
/// and the point.
fn evaluate_set(net: &Mlp, compute: &Compute, set: &Dataset, model: &Path, what: &str) -> Result<engine::Evaluation> {
    let e = engine::evaluate(net, compute, set);
    if let Some((i, loss)) = e.first_non_finite {
        bail!(
            "{}: non-finite result on {what}, at point {i}: the loss is {loss} (the network's arithmetic \
             overflowed: its weights or inputs are too large)",
            model.display()
        );
    }
    Ok(e)
}
