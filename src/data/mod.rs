//! Datasets: naming a dataset on the command line, loading it (only the examples asked
//! for, every file checked against its declared size), the paper's splits, per-example
//! normalization, random labels and augmentation.

mod augment;
mod cifar;
pub(crate) mod files;
// `.npy`/`.npz` arrays for the CLI's `--inputs` and `occam data export`: hidden, not part
// of the stable API.
#[doc(hidden)]
pub mod npy;

pub(crate) use files::read_text_file;
mod idx;

pub use augment::Augmentation;
pub use idx::MAX_IMAGE_SIDE;

use crate::error::{OccamError, Result};
use crate::rng::{Stream, rng_for};
use rand::RngExt;
use std::path::{Path, PathBuf};

/// Number of training examples the paper trains on; the rest of a 60,000-example
/// MNIST-like training file is the validation split.
pub const TRAIN_SIZE: usize = 50_000;

/// A set of examples: `inputs` is row-major `[len × dim]`, each row one image flattened
/// in height, width, channel order.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Row-major `len × dim` values.
    pub inputs: Vec<f32>,
    /// One class per example, each below `classes`.
    pub labels: Vec<u16>,
    /// Image shape as (height, width, channels); `dim = h·w·c`.
    pub shape: [usize; 3],
    /// Number of classes the labels come from.
    pub classes: usize,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Values per example: `h·w·c`.
    pub fn dim(&self) -> usize {
        self.shape.iter().product()
    }
    /// Example `i`'s values (panics when `i >= len()`, like slice indexing).
    pub fn input(&self, i: usize) -> &[f32] {
        let d = self.dim();
        &self.inputs[i * d..(i + 1) * d]
    }
    /// The first `n` examples (all if `n` is larger), in file order.
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            inputs: self.inputs[..n * self.dim()].to_vec(),
            labels: self.labels[..n].to_vec(),
            shape: self.shape,
            classes: self.classes,
        }
    }
    /// Normalizes every example to zero mean and unit (population) variance over its `dim`
    /// entries, so it lies on the sphere of radius √dim. A constant example (zero variance)
    /// is only centred, which leaves it at the origin rather than producing NaNs.
    pub fn normalize_per_example(&mut self) {
        let d = self.dim();
        for row in self.inputs.chunks_exact_mut(d) {
            normalize_row(row);
        }
    }

    /// Replaces every label by a uniformly random class drawn from the `RandomLabels`
    /// stream of `seed` (the paper's §4.2 random-label study).
    pub fn randomize_labels(&mut self, seed: u64) {
        let mut rng = rng_for(seed, Stream::RandomLabels);
        for label in &mut self.labels {
            *label = rng.random_range(0..self.classes as u16);
        }
    }
}

/// Zero mean, unit population variance, computed in f64 for accuracy.
pub fn normalize_row(row: &mut [f32]) {
    let n = row.len() as f64;
    let mean = row.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let scale = if var > 0.0 { 1.0 / var.sqrt() } else { 1.0 };
    for v in row.iter_mut() {
        *v = ((*v as f64 - mean) * scale) as f32;
    }
}

/// The paper's splits: `train` = the first 50,000 training examples, `validation` = the
/// rest of the training file (MNIST-like sets only), `test` = the test file.
#[derive(Debug, Clone)]
pub struct Splits {
    /// The dataset's name (for messages and stores).
    pub name: String,
    /// Examples networks are trained on.
    pub train: Dataset,
    /// Held-out training examples, where the dataset has them.
    pub validation: Option<Dataset>,
    /// Examples networks are tested and measured on.
    pub test: Dataset,
}

/// Which dataset a name on the command line refers to, and where its files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataSource {
    /// MNIST IDX files in this directory.
    Mnist(PathBuf),
    /// Fashion-MNIST IDX files in this directory.
    FashionMnist(PathBuf),
    /// CIFAR-10 binary batches in this directory.
    Cifar10(PathBuf),
    /// CIFAR-100 binary files in this directory.
    Cifar100(PathBuf),
}

/// The datasets Occam reads, listed once: their names and class counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatasetKind {
    /// Handwritten digits, 28x28x1, 10 classes.
    Mnist,
    /// Clothing images, 28x28x1, 10 classes.
    FashionMnist,
    /// Photographs, 10 classes.
    Cifar10,
    /// Photographs, 100 classes.
    Cifar100,
}

impl DatasetKind {
    /// Every dataset Occam reads.
    pub const ALL: [DatasetKind; 4] = [
        DatasetKind::Mnist,
        DatasetKind::FashionMnist,
        DatasetKind::Cifar10,
        DatasetKind::Cifar100,
    ];

    /// The name specs and the command line use.
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::FashionMnist => "fashion-mnist",
            DatasetKind::Cifar10 => "cifar10",
            DatasetKind::Cifar100 => "cifar100",
        }
    }

    /// The shape of one input as Occam reads it (height, width, channels): MNIST-like
    /// images are 28×28×1, CIFAR images are centre-cropped to 24×24×3.
    pub fn input_shape(self) -> [usize; 3] {
        match self {
            DatasetKind::Mnist | DatasetKind::FashionMnist => [28, 28, 1],
            DatasetKind::Cifar10 | DatasetKind::Cifar100 => [cifar::CROP, cifar::CROP, 3],
        }
    }

    /// Number of classes (the network's output width).
    pub fn classes(self) -> usize {
        match self {
            DatasetKind::Cifar100 => 100,
            _ => 10,
        }
    }

    /// The kind a dataset name (`cifar10` or `cifar10:DIR`) refers to.
    pub fn of_spec(spec: &str) -> Option<DatasetKind> {
        let kind = spec.split_once(':').map_or(spec, |(k, _)| k);
        DatasetKind::ALL.into_iter().find(|d| d.name() == kind)
    }
}

const FASHION_SYSTEM_DIR: &str = "/usr/share/datasets/fashion-mnist";

impl DataSource {
    /// Parses `fashion-mnist`, `mnist`, `cifar10`, `cifar100` (looked up under
    /// `$OCCAM_DATA/<name>`; Fashion-MNIST also under Debian's
    /// `/usr/share/datasets/fashion-mnist`) or `<name>:DIR`.
    pub fn parse(spec: &str) -> Result<DataSource> {
        let (kind, dir) = match spec.split_once(':') {
            Some((k, "")) => {
                return Err(OccamError::config(format!(
                    "dataset '{spec}' names no directory after ':': write {k}:DIR"
                )));
            }
            Some((k, d)) => (k, Some(PathBuf::from(d))),
            None => (spec, None),
        };
        let dir = match dir {
            Some(d) => d,
            None => default_dir(kind)?,
        };
        match DatasetKind::of_spec(kind).ok_or_else(|| unknown_dataset(spec))? {
            DatasetKind::Mnist => Ok(DataSource::Mnist(dir)),
            DatasetKind::FashionMnist => Ok(DataSource::FashionMnist(dir)),
            DatasetKind::Cifar10 => Ok(DataSource::Cifar10(dir)),
            DatasetKind::Cifar100 => Ok(DataSource::Cifar100(dir)),
        }
    }

    /// Which dataset this is.
    pub fn kind(&self) -> DatasetKind {
        match self {
            DataSource::Mnist(_) => DatasetKind::Mnist,
            DataSource::FashionMnist(_) => DatasetKind::FashionMnist,
            DataSource::Cifar10(_) => DatasetKind::Cifar10,
            DataSource::Cifar100(_) => DatasetKind::Cifar100,
        }
    }

    /// The dataset's name, as on the command line.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Loads every example, validation split included, as raw pixels scaled to [0, 1]
    /// (not yet normalized).
    pub fn load_raw(&self) -> Result<Splits> {
        self.load_selected(TRAIN_SIZE, true)
    }

    /// Loads, splits and normalizes per example every example, validation split included.
    pub fn load(&self) -> Result<Splits> {
        let mut splits = self.load_raw()?;
        normalize_splits(&mut splits);
        Ok(splits)
    }

    /// What training and measurement use: at most `max_train` training examples (all
    /// 50,000 with `None`) and the test file, normalized per example. The validation split
    /// is not decoded. The rest of the training file is checked for its declared length
    /// (a plain file by its size; a gzipped one by decompressing it into nothing) but is
    /// never held in memory.
    pub fn load_with(&self, max_train: Option<usize>) -> Result<Splits> {
        let train = match max_train {
            Some(0) => {
                return Err(OccamError::config(
                    "a training set of 0 examples was asked for: the training-set size must be at least 1",
                ));
            }
            Some(n) => n.min(TRAIN_SIZE),
            None => TRAIN_SIZE,
        };
        let mut splits = self.load_selected(train, false)?;
        normalize_splits(&mut splits);
        Ok(splits)
    }

    /// Decodes the first `train` (≤ [`TRAIN_SIZE`]) training examples, with `validation`
    /// those after the first [`TRAIN_SIZE`], and the whole test file.
    fn load_selected(&self, train: usize, validation: bool) -> Result<Splits> {
        let take = files::Take {
            first: train.min(TRAIN_SIZE),
            tail_from: validation.then_some(TRAIN_SIZE),
        };
        let (train, validation, test) = match self {
            DataSource::Mnist(dir) | DataSource::FashionMnist(dir) => idx::load_mnist_like(dir, take)?,
            DataSource::Cifar10(dir) => cifar::load(dir, cifar::Variant::Cifar10, take)?,
            DataSource::Cifar100(dir) => cifar::load(dir, cifar::Variant::Cifar100, take)?,
        };
        Ok(Splits {
            name: self.name().to_string(),
            train,
            validation: (!validation.is_empty()).then_some(validation),
            test,
        })
    }
}

fn normalize_splits(splits: &mut Splits) {
    splits.train.normalize_per_example();
    splits.test.normalize_per_example();
    if let Some(v) = splits.validation.as_mut() {
        v.normalize_per_example();
    }
}

fn unknown_dataset(spec: &str) -> OccamError {
    let names: Vec<&str> = DatasetKind::ALL.iter().map(|d| d.name()).collect();
    OccamError::config(format!(
        "unknown dataset '{spec}': expected one of {}, optionally followed by :DIR (e.g. \
         cifar10:/data/cifar-10-batches-bin)",
        names.join(", ")
    ))
}

fn default_dir(kind: &str) -> Result<PathBuf> {
    if DatasetKind::of_spec(kind).is_none() {
        return Err(unknown_dataset(kind));
    }
    if let Some(root) = std::env::var_os("OCCAM_DATA") {
        let dir = Path::new(&root).join(kind);
        if dir.is_dir() {
            return Ok(dir);
        }
    }
    if kind == "fashion-mnist" && Path::new(FASHION_SYSTEM_DIR).is_dir() {
        return Ok(PathBuf::from(FASHION_SYSTEM_DIR));
    }
    Err(OccamError::config(format!(
        "dataset '{kind}' not found: looked in $OCCAM_DATA/{kind}{}; name its directory \
         explicitly as {kind}:DIR",
        if kind == "fashion-mnist" {
            format!(" and {FASHION_SYSTEM_DIR} (apt-get install dataset-fashion-mnist)")
        } else {
            String::new()
        }
    )))
}
