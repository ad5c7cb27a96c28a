//! The CIFAR-10 / CIFAR-100 "binary version" files, centre-cropped to 24×24×3 (SPEC §2).

use super::{Dataset, read_maybe_gz};
use crate::error::{OccamError, Result};
use std::path::{Path, PathBuf};

const SIDE: usize = 32;
const CROP: usize = 24;
const PLANE: usize = SIDE * SIDE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Variant {
    Cifar10,
    Cifar100,
}

impl Variant {
    fn label_bytes(self) -> usize {
        match self {
            Variant::Cifar10 => 1,
            Variant::Cifar100 => 2,
        }
    }
    fn classes(self) -> usize {
        match self {
            Variant::Cifar10 => 10,
            Variant::Cifar100 => 100,
        }
    }
    fn files(self) -> (Vec<String>, String) {
        match self {
            Variant::Cifar10 => (
                (1..=5).map(|i| format!("data_batch_{i}.bin")).collect(),
                "test_batch.bin".into(),
            ),
            Variant::Cifar100 => (vec!["train.bin".into()], "test.bin".into()),
        }
    }
    fn subdir(self) -> &'static str {
        match self {
            Variant::Cifar10 => "cifar-10-batches-bin",
            Variant::Cifar100 => "cifar-100-binary",
        }
    }
}

/// Accepts either the directory holding the .bin files or its parent (the unpacked archive).
fn resolve_dir(dir: &Path, variant: Variant) -> Result<PathBuf> {
    let (train, _) = variant.files();
    for d in [dir.to_path_buf(), dir.join(variant.subdir())] {
        if d.join(&train[0]).is_file() {
            return Ok(d);
        }
    }
    Err(OccamError::bad_file(
        &dir.join(&train[0]),
        format!(
            "missing CIFAR file (also looked in {})",
            dir.join(variant.subdir()).display()
        ),
    ))
}

/// Decodes one file of records: label byte(s) then 3×1024 channel-planar pixels.
/// Writes the centre 24×24 crop in height, width, channel order.
fn decode_file(path: &Path, variant: Variant, out: &mut Dataset) -> Result<()> {
    let bytes = read_maybe_gz(path)?;
    let record = variant.label_bytes() + 3 * PLANE;
    if bytes.is_empty() || bytes.len() % record != 0 {
        return Err(OccamError::bad_file(
            path,
            format!(
                "{} bytes is not a whole number of {record}-byte {:?} records (truncated or wrong variant?)",
                bytes.len(),
                variant
            ),
        ));
    }
    let off = (SIDE - CROP) / 2;
    for (i, rec) in bytes.chunks_exact(record).enumerate() {
        // CIFAR-100 records are (coarse, fine); the fine label is the class.
        let label = rec[variant.label_bytes() - 1] as usize;
        if label >= variant.classes() {
            return Err(OccamError::bad_file(
                path,
                format!("record {i}: label {label} is not a class 0..{}", variant.classes() - 1),
            ));
        }
        out.labels.push(label as u16);
        let pix = &rec[variant.label_bytes()..];
        for y in off..off + CROP {
            for x in off..off + CROP {
                for c in 0..3 {
                    out.inputs.push(pix[c * PLANE + y * SIDE + x] as f32 / 255.0);
                }
            }
        }
    }
    Ok(())
}

pub(super) fn load(dir: &Path, variant: Variant) -> Result<(Dataset, Dataset)> {
    let dir = resolve_dir(dir, variant)?;
    let empty = || Dataset {
        inputs: Vec::new(),
        labels: Vec::new(),
        shape: [CROP, CROP, 3],
        classes: variant.classes(),
    };
    let (train_files, test_file) = variant.files();
    let mut train = empty();
    for f in &train_files {
        let p = dir.join(f);
        if !p.is_file() {
            return Err(OccamError::bad_file(&p, "missing CIFAR file"));
        }
        decode_file(&p, variant, &mut train)?;
    }
    let mut test = empty();
    let p = dir.join(&test_file);
    if !p.is_file() {
        return Err(OccamError::bad_file(&p, "missing CIFAR file"));
    }
    decode_file(&p, variant, &mut test)?;
    Ok((train, test))
}
