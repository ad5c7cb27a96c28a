//! The IDX file format of MNIST and Fashion-MNIST (plain or gzipped), read as a stream:
//! the header first, its dimensions checked for sanity and against the file's real
//! length, then only the examples asked for are decoded.

use super::Dataset;
use super::files::{DataStream, Layout, Part, Take, exists, read_records, require_directory};
use crate::error::{OccamError, Result};
use crate::limits::check_memory;
use std::path::{Path, PathBuf};

const MNIST_CLASSES: usize = 10;

/// Largest image height or width accepted in an IDX header (MNIST's is 28).
pub const MAX_IMAGE_SIDE: usize = 4096;

/// Finds `stem` or `stem.gz` in `dir`. A path that exists but is not a regular file is
/// returned too, so that opening it reports what it is.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    let candidates = [dir.join(stem), dir.join(format!("{stem}.gz"))];
    if let Some(p) = candidates.iter().find(|p| p.is_file()) {
        return Ok(p.clone());
    }
    if let Some(p) = candidates.iter().find(|p| exists(p)) {
        return Ok(p.clone());
    }
    Err(OccamError::bad_file(
        &dir.join(stem),
        format!("missing IDX file (looked for {stem} and {stem}.gz)"),
    ))
}

/// An IDX file opened and its header read and checked.
struct IdxFile {
    stream: DataStream,
    dims: Vec<usize>,
    layout: Layout,
}

/// Reads the header of an IDX file of unsigned bytes with `want_dims` dimensions (1 for
/// labels, 3 for images), checks every dimension and, for a plain file, that the file's
/// size is exactly what the dimensions declare.
fn open_idx(path: &Path, want_dims: usize) -> Result<IdxFile> {
    let mut stream = DataStream::open(path, "an IDX file")?;
    let mut magic = [0u8; 4];
    let got = stream.read_up_to(&mut magic)?;
    if got < 4 {
        return Err(OccamError::bad_file(
            path,
            format!("truncated: {got} bytes, no IDX header"),
        ));
    }
    if magic[0] != 0 || magic[1] != 0 {
        return Err(OccamError::bad_file(
            path,
            format!(
                "not an IDX file: magic number {:02x}{:02x}{:02x}{:02x} does not start with 0000",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ));
    }
    if magic[2] != 0x08 {
        return Err(OccamError::bad_file(
            path,
            format!("IDX element type 0x{:02x} is not unsigned byte (0x08)", magic[2]),
        ));
    }
    let ndims = magic[3] as usize;
    if ndims != want_dims {
        return Err(OccamError::bad_file(
            path,
            format!("expected {want_dims} IDX dimensions, found {ndims}"),
        ));
    }
    let header_len = 4 + 4 * ndims;
    let mut raw = vec![0u8; 4 * ndims];
    let got = stream.read_up_to(&mut raw)?;
    if got < raw.len() {
        return Err(OccamError::bad_file(
            path,
            format!("truncated IDX header: {} bytes, need {header_len}", 4 + got),
        ));
    }
    let dims: Vec<usize> = raw
        .chunks_exact(4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .collect();
    check_dims(path, &dims)?;
    let layout = Layout {
        header_len: header_len as u64,
        record_len: dims[1..].iter().product(),
        count: dims[0],
        describe: format!("the header (dimensions {dims:?})"),
    };
    let declared = layout
        .total()
        .ok_or_else(|| OccamError::bad_file(path, format!("dimensions {dims:?} are too large")))?;
    if let Some(real) = stream.plain_len()
        && real != declared
    {
        return Err(stream.length_mismatch(declared, real, &layout.describe));
    }
    Ok(IdxFile { stream, dims, layout })
}

/// Every dimension at least 1; image sides at most [`MAX_IMAGE_SIDE`].
fn check_dims(path: &Path, dims: &[usize]) -> Result<()> {
    if dims[0] == 0 {
        return Err(OccamError::bad_file(
            path,
            "holds no examples (its header declares a count of 0)",
        ));
    }
    if let Some(&side) = dims[1..].iter().find(|&&s| s == 0 || s > MAX_IMAGE_SIDE) {
        return Err(OccamError::bad_file(
            path,
            format!(
                "image dimensions {:?}: side {side} is out of range, valid sides are 1 to {MAX_IMAGE_SIDE}",
                &dims[1..]
            ),
        ));
    }
    Ok(())
}

/// The examples of one images/labels pair that `take` selects: (first part, tail part).
/// Pixels are scaled to [0, 1].
fn load_pair(dir: &Path, images: &str, labels: &str, take: Take) -> Result<(Dataset, Dataset)> {
    let ipath = find(dir, images)?;
    let mut image_file = open_idx(&ipath, 3)?;
    let lpath = find(dir, labels)?;
    let mut label_file = open_idx(&lpath, 1)?;
    let (count, shape) = (image_file.dims[0], [image_file.dims[1], image_file.dims[2], 1]);
    if label_file.dims[0] != count {
        return Err(OccamError::bad_file(
            &lpath,
            format!(
                "{} labels but {} holds {count} images",
                label_file.dims[0],
                ipath.display()
            ),
        ));
    }
    let dim = image_file.layout.record_len;
    let (n_first, n_tail) = take.counts(0, count);
    check_memory(
        &format!(
            "{}: {} of its {count} images of {}×{}",
            ipath.display(),
            n_first + n_tail,
            shape[0],
            shape[1]
        ),
        (n_first + n_tail) as f64 * (dim as f64 * 4.0 + 2.0),
    )?;
    let empty = |n: usize| Dataset {
        inputs: Vec::with_capacity(n * dim),
        labels: Vec::with_capacity(n),
        shape,
        classes: MNIST_CLASSES,
    };
    let (mut first, mut tail) = (empty(n_first), empty(n_tail));
    read_records(&mut label_file.stream, &label_file.layout, 0, take, |i, part, rec| {
        let l = rec[0];
        if l as usize >= MNIST_CLASSES {
            return Err(OccamError::bad_file(
                &lpath,
                format!("label {l} at index {i} is not a class 0..9"),
            ));
        }
        let set = if part == Part::First { &mut first } else { &mut tail };
        set.labels.push(l as u16);
        Ok(())
    })?;
    read_records(&mut image_file.stream, &image_file.layout, 0, take, |_, part, rec| {
        let set = if part == Part::First { &mut first } else { &mut tail };
        set.inputs.extend(rec.iter().map(|&p| p as f32 / 255.0));
        Ok(())
    })?;
    Ok((first, tail))
}

/// Loads an MNIST-like directory: the training file's examples `train` selects (first
/// part: training split, tail: validation split) and the whole test file.
pub(super) fn load_mnist_like(dir: &Path, train: Take) -> Result<(Dataset, Dataset, Dataset)> {
    require_directory(dir, "a dataset directory")?;
    let (train_set, validation) = load_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", train)?;
    let (test, _) = load_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", Take::ALL)?;
    if train_set.shape != test.shape {
        return Err(OccamError::bad_file(
            dir,
            format!(
                "train images are {:?} but test images are {:?}",
                train_set.shape, test.shape
            ),
        ));
    }
    Ok((train_set, validation, test))
}
