//! The IDX file format of MNIST and Fashion-MNIST (plain or gzipped).

use super::{Dataset, read_maybe_gz};
use crate::error::{OccamError, Result};
use std::path::{Path, PathBuf};

const MNIST_CLASSES: usize = 10;

/// Finds `stem` or `stem.gz` in `dir`.
fn find(dir: &Path, stem: &str) -> Result<PathBuf> {
    for name in [stem.to_string(), format!("{stem}.gz")] {
        let p = dir.join(&name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(OccamError::bad_file(
        &dir.join(stem),
        format!("missing IDX file (looked for {stem} and {stem}.gz)"),
    ))
}

/// Parses an IDX file of unsigned bytes: returns its dimensions and payload.
pub(crate) fn parse_idx(path: &Path, bytes: &[u8], want_dims: usize) -> Result<(Vec<usize>, Vec<u8>)> {
    if bytes.len() < 4 {
        return Err(OccamError::bad_file(
            path,
            format!("truncated: {} bytes, no IDX header", bytes.len()),
        ));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(OccamError::bad_file(
            path,
            format!(
                "not an IDX file: magic number {:02x}{:02x}{:02x}{:02x} does not start with 0000",
                bytes[0], bytes[1], bytes[2], bytes[3]
            ),
        ));
    }
    if bytes[2] != 0x08 {
        return Err(OccamError::bad_file(
            path,
            format!("IDX element type 0x{:02x} is not unsigned byte (0x08)", bytes[2]),
        ));
    }
    let ndims = bytes[3] as usize;
    if ndims != want_dims {
        return Err(OccamError::bad_file(
            path,
            format!("expected {want_dims} IDX dimensions, found {ndims}"),
        ));
    }
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(OccamError::bad_file(
            path,
            format!("truncated IDX header: {} bytes, need {header}", bytes.len()),
        ));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().unwrap()) as usize)
        .collect();
    let payload: usize = dims.iter().product();
    let have = bytes.len() - header;
    if have < payload {
        return Err(OccamError::bad_file(
            path,
            format!("truncated: dimensions {dims:?} need {payload} data bytes, file has {have}"),
        ));
    }
    if have > payload {
        return Err(OccamError::bad_file(
            path,
            format!(
                "{} trailing bytes after the {payload} data bytes of dimensions {dims:?}",
                have - payload
            ),
        ));
    }
    Ok((dims, bytes[header..].to_vec()))
}

/// Loads one images/labels pair; pixels are scaled to [0, 1].
fn load_pair(dir: &Path, images: &str, labels: &str) -> Result<Dataset> {
    let ipath = find(dir, images)?;
    let lpath = find(dir, labels)?;
    let (idims, pixels) = parse_idx(&ipath, &read_maybe_gz(&ipath)?, 3)?;
    let (ldims, labels) = parse_idx(&lpath, &read_maybe_gz(&lpath)?, 1)?;
    if idims[0] != ldims[0] {
        return Err(OccamError::bad_file(
            &lpath,
            format!("{} labels but {} holds {} images", ldims[0], ipath.display(), idims[0]),
        ));
    }
    if let Some((i, &l)) = labels.iter().enumerate().find(|(_, l)| **l as usize >= MNIST_CLASSES) {
        return Err(OccamError::bad_file(
            &lpath,
            format!("label {l} at index {i} is not a class 0..9"),
        ));
    }
    Ok(Dataset {
        inputs: pixels.iter().map(|&p| p as f32 / 255.0).collect(),
        labels: labels.iter().map(|&l| l as u16).collect(),
        shape: [idims[1], idims[2], 1],
        classes: MNIST_CLASSES,
    })
}

/// Loads (training file, test file) of an MNIST-like directory.
pub(super) fn load_mnist_like(dir: &Path) -> Result<(Dataset, Dataset)> {
    if !dir.is_dir() {
        return Err(OccamError::bad_file(dir, "dataset directory does not exist"));
    }
    let train = load_pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?;
    let test = load_pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?;
    if train.shape != test.shape {
        return Err(OccamError::bad_file(
            dir,
            format!(
                "train images are {:?} but test images are {:?}",
                train.shape, test.shape
            ),
        ));
    }
    Ok((train, test))
}
