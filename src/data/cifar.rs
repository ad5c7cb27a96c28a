//! The CIFAR-10 / CIFAR-100 "binary version" files (plain or gzipped), centre-cropped to
//! 24×24×3. A file's record count comes from its length (for a gzipped file, from one
//! pass over the decompressed stream that holds nothing) and is checked before anything
//! is decoded; only the records asked for are decoded.

use super::Dataset;
use super::files::{DataStream, Layout, Part, Take, exists, read_records, regular_file_size, require_directory};
use crate::error::{OccamError, Result};
use crate::limits::check_memory;
use std::path::{Path, PathBuf};

const SIDE: usize = 32;
pub(crate) const CROP: usize = 24;
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
    require_directory(dir, "a CIFAR dataset directory")?;
    let (train, _) = variant.files();
    for d in [dir.to_path_buf(), dir.join(variant.subdir())] {
        if exists(&d.join(&train[0])) {
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

/// Opens a CIFAR file and returns it with its record count, checked: at least one record
/// and a whole number of them. A gzipped file is decompressed once, into nothing, to learn
/// its length, then opened again.
fn open_counted(path: &Path, variant: Variant) -> Result<(DataStream, Layout)> {
    if !exists(path) {
        return Err(OccamError::bad_file(path, "missing CIFAR file"));
    }
    let mut stream = DataStream::open(path, "a CIFAR file")?;
    let len = match stream.plain_len() {
        Some(len) => len,
        None => {
            let len = stream.skip(u64::MAX)?;
            stream = DataStream::open(path, "a CIFAR file")?;
            len
        }
    };
    let record = variant.label_bytes() + 3 * PLANE;
    let decompressed = if stream.is_gzipped() { " (decompressed)" } else { "" };
    if len == 0 {
        return Err(OccamError::bad_file(path, "holds no examples (the file is empty)"));
    }
    if len % record as u64 != 0 {
        return Err(OccamError::bad_file(
            path,
            format!(
                "{len} bytes{decompressed} is not a whole number of {record}-byte {variant:?} records (truncated or wrong variant?)"
            ),
        ));
    }
    let count = usize::try_from(len / record as u64)
        .map_err(|_| OccamError::bad_file(path, format!("{len} bytes is too large")))?;
    let layout = Layout {
        header_len: 0,
        record_len: record,
        count,
        describe: format!("its length when counted ({count} records of {record} bytes)"),
    };
    Ok((stream, layout))
}

/// Decodes one record: label byte(s) then 3×1024 channel-planar pixels. Appends the centre
/// 24×24 crop in height, width, channel order.
fn decode_record(path: &Path, variant: Variant, index: usize, rec: &[u8], out: &mut Dataset) -> Result<()> {
    // CIFAR-100 records are (coarse, fine); the fine label is the class.
    let label = rec[variant.label_bytes() - 1] as usize;
    if label >= variant.classes() {
        return Err(OccamError::bad_file(
            path,
            format!(
                "record {index}: label {label} is not a class 0..{}",
                variant.classes() - 1
            ),
        ));
    }
    out.labels.push(label as u16);
    let pix = &rec[variant.label_bytes()..];
    let off = (SIDE - CROP) / 2;
    for y in off..off + CROP {
        for x in off..off + CROP {
            for c in 0..3 {
                out.inputs.push(pix[c * PLANE + y * SIDE + x] as f32 / 255.0);
            }
        }
    }
    Ok(())
}

/// The records of `files` (one split, numbered on across files) that `take` selects:
/// (first part, tail part).
fn load_split(dir: &Path, files: &[String], variant: Variant, take: Take) -> Result<(Dataset, Dataset)> {
    let empty = || Dataset {
        inputs: Vec::new(),
        labels: Vec::new(),
        shape: [CROP, CROP, 3],
        classes: variant.classes(),
    };
    let (mut first, mut tail) = (empty(), empty());
    let mut start = 0usize;
    for f in files {
        let path = dir.join(f);
        let (mut stream, layout) = open_counted(&path, variant)?;
        let (n_first, n_tail) = take.counts(start, layout.count);
        if n_first + n_tail > 0 {
            let n = n_first + n_tail;
            check_memory(
                &format!("{}: {n} of its {} images", path.display(), layout.count),
                n as f64 * (CROP * CROP * 3 * 4 + 2) as f64,
            )?;
            first.inputs.reserve(n_first * CROP * CROP * 3);
            tail.inputs.reserve(n_tail * CROP * CROP * 3);
            read_records(&mut stream, &layout, start, take, |i, part, rec| {
                let set = if part == Part::First { &mut first } else { &mut tail };
                decode_record(&path, variant, i - start, rec, set)
            })?;
        }
        start += layout.count;
    }
    Ok((first, tail))
}

/// Loads a CIFAR directory: the training records `train` selects (first part: training
/// split, tail: validation split) and the whole test file.
pub(super) fn load(dir: &Path, variant: Variant, train: Take) -> Result<(Dataset, Dataset, Dataset)> {
    let dir = resolve_dir(dir, variant)?;
    let (train_files, test_file) = variant.files();
    // Every file present and of the right kind before any is decoded.
    for f in train_files.iter().chain([&test_file]) {
        let path = dir.join(f);
        if !exists(&path) {
            return Err(OccamError::bad_file(&path, "missing CIFAR file"));
        }
        regular_file_size(&path, "a CIFAR file")?;
    }
    let (train_set, validation) = load_split(&dir, &train_files, variant, train)?;
    let (test, _) = load_split(&dir, &[test_file], variant, Take::ALL)?;
    Ok((train_set, validation, test))
}
