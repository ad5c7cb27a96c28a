//! `occam data export`: a dataset's splits written as one `.npz` archive, normalized
//! exactly as training and measurement see them, so that other tools compute on the same
//! numbers Occam does.

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use occam::data::npy::{ArrayData, NamedArray, write_npz};
use occam::data::{DataSource, Dataset, Splits};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum DataCommand {
    /// Write a dataset's splits as an .npz archive (x_train, y_train, x_test, y_test, and
    /// x_validation, y_validation with the validation split), normalized exactly as Occam
    /// trains and measures on them.
    Export(ExportArgs),
}

/// Which splits an export writes.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ExportSplit {
    Train,
    Test,
    /// The rest of an MNIST-like training file after its first 50,000 examples.
    Validation,
    /// Train, validation (where the dataset has one) and test.
    All,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Dataset, as for `occam train`: fashion-mnist, mnist:DIR, fashion-mnist:DIR,
    /// cifar10:DIR or cifar100:DIR.
    name: String,
    /// The .npz file to write, atomically (not '-': the archive is binary). Inputs are
    /// float32 of shape [n, H, W, C], each example normalized to zero mean and unit
    /// variance; labels are int64 of shape [n].
    #[arg(long, value_name = "FILE")]
    npz: PathBuf,
    /// Which splits to write [default: train and test, what training and measurement use].
    #[arg(long, value_enum)]
    split: Option<ExportSplit>,
    /// Only the first N training examples, as `occam train --train-size N`: 1 to 1,000,000
    /// (at most the 50,000 of the train split are there).
    #[arg(long, value_name = "N")]
    train_size: Option<usize>,
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Export(args) => export(args),
    }
}

fn export(args: ExportArgs) -> Result<()> {
    if args.npz.as_os_str() == "-" {
        bail!("--npz -: the archive is binary and is not written to standard output; give a file name");
    }
    let (train, validation, test) = match args.split {
        None => (true, false, true),
        Some(ExportSplit::Train) => (true, false, false),
        Some(ExportSplit::Test) => (false, false, true),
        Some(ExportSplit::Validation) => (false, true, false),
        Some(ExportSplit::All) => (true, true, true),
    };
    if let Some(n) = args.train_size {
        occam::limits::in_range("--train-size", n, 1, occam::measure::ranges::MAX_COUNT)?;
        if !train {
            bail!("--train-size {n} cuts the train split, which --split does not write");
        }
    }
    let source = DataSource::parse(&args.name)?;
    let splits = load(&source, validation, args.train_size).with_context(|| args.name.clone())?;
    let mut chosen: Vec<(&str, &Dataset)> = Vec::new();
    if train {
        chosen.push(("train", &splits.train));
    }
    if validation {
        match &splits.validation {
            Some(v) => chosen.push(("validation", v)),
            None if args.split == Some(ExportSplit::Validation) => bail!(
                "{}: has no validation split (only MNIST-like datasets have one: the training file after \
                 its first 50,000 examples)",
                args.name
            ),
            None => {}
        }
    }
    if test {
        chosen.push(("test", &splits.test));
    }
    let labels: Vec<Vec<i64>> = chosen
        .iter()
        .map(|(_, set)| set.labels.iter().map(|&l| i64::from(l)).collect())
        .collect();
    let mut arrays = Vec::new();
    for ((name, set), labels) in chosen.iter().zip(&labels) {
        let [h, w, c] = set.shape.map(|s| s as u64);
        let n = set.len() as u64;
        arrays.push(NamedArray {
            name: format!("x_{name}"),
            shape: vec![n, h, w, c],
            data: ArrayData::F32(&set.inputs),
        });
        arrays.push(NamedArray {
            name: format!("y_{name}"),
            shape: vec![n],
            data: ArrayData::I64(labels),
        });
    }
    let counts: serde_json::Map<String, serde_json::Value> = chosen
        .iter()
        .map(|(name, set)| (name.to_string(), json!(set.len())))
        .collect();
    write_npz(&args.npz, &arrays).context("--npz")?;
    let summary = json!({"data": args.name, "npz": args.npz, "examples": counts});
    println!("{summary}");
    Ok(())
}

/// The splits as training and measurement load them: the first `train_size` training
/// examples and the test file, or every example when the validation split is wanted.
fn load(source: &DataSource, validation: bool, train_size: Option<usize>) -> Result<Splits> {
    if !validation {
        return Ok(source.load_with(train_size)?);
    }
    let mut splits = source.load()?;
    if let Some(n) = train_size {
        splits.train = splits.train.take(n);
    }
    Ok(splits)
}
