//! Opening the files Occam reads (dataset files, dataset directories, model files) safely:
//! what a path is — regular file, directory, FIFO, socket, device, dangling symlink,
//! symlink loop — is checked before anything is opened, so that a FIFO never blocks and a
//! wrong kind of path is named for what it is. Dataset files, plain or gzipped, are read as
//! streams ([`DataStream`]) so that only what is needed is ever held in memory.

use crate::error::{OccamError, Result};
use std::fs::{File, FileType};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

/// ELOOP on Linux: too many levels of symbolic links.
const ELOOP: i32 = 40;

/// What a path that exists is, when it is not what was expected.
fn kind_name(t: FileType) -> &'static str {
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// The type of what `path` points to, following symlinks; a dangling symlink or a
/// symlink loop is an error that says so. `Ok(None)`: nothing exists at `path`.
fn resolved_type(path: &Path) -> Result<Option<FileType>> {
    if path.as_os_str().is_empty() {
        return Err(OccamError::config(
            "an empty path was given where a file or directory should be named",
        ));
    }
    let link = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(OccamError::io(path, e)),
    };
    if !link.file_type().is_symlink() {
        return Ok(Some(link.file_type()));
    }
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(m.file_type())),
        Err(e) if e.raw_os_error() == Some(ELOOP) => Err(OccamError::bad_file(
            path,
            "symlink loop (the chain of symbolic links never reaches a file)",
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let target = std::fs::read_link(path).map(|t| t.display().to_string());
            Err(OccamError::bad_file(
                path,
                format!("dangling symlink to {}", target.unwrap_or_else(|_| "?".into())),
            ))
        }
        Err(e) => Err(OccamError::io(path, e)),
    }
}

/// Checks that `path` is a regular file (after symlinks) and returns its size. `expected`
/// names what should be there, e.g. "an IDX file". Nothing is opened.
pub(crate) fn regular_file_size(path: &Path, expected: &str) -> Result<u64> {
    match resolved_type(path)? {
        None => Err(OccamError::bad_file(path, format!("no such file, expected {expected}"))),
        Some(t) if t.is_file() => std::fs::metadata(path)
            .map(|m| m.len())
            .map_err(|e| OccamError::io(path, e)),
        Some(t) if t.is_dir() => Err(OccamError::bad_file(
            path,
            format!("is a directory, expected {expected}"),
        )),
        Some(t) => Err(OccamError::bad_file(
            path,
            format!("is {}, not a regular file (expected {expected})", kind_name(t)),
        )),
    }
}

/// The largest configuration or spec file Occam reads (a spec listing thousands of axis
/// values is a few hundred kilobytes).
pub const MAX_TEXT_FILE: u64 = 16 << 20;

/// Reads a small text file (a `--config` file, a sweep spec): a regular file of at most
/// [`MAX_TEXT_FILE`] bytes of UTF-8. A device, FIFO or directory is refused before it is
/// opened, so `/dev/zero` can neither exhaust memory nor a FIFO block.
pub(crate) fn read_text_file(path: &Path, expected: &str) -> Result<String> {
    use std::io::Read;
    let size = regular_file_size(path, expected)?;
    let too_big = |n: u64| {
        OccamError::bad_file(
            path,
            format!("{n} bytes is too large for {expected} (at most {MAX_TEXT_FILE} bytes)"),
        )
    };
    if size > MAX_TEXT_FILE {
        return Err(too_big(size));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_TEXT_FILE + 1).read_to_end(&mut bytes))
        .map_err(|e| OccamError::io(path, e))?;
    if bytes.len() as u64 > MAX_TEXT_FILE {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        OccamError::bad_file(
            path,
            format!(
                "not UTF-8 text (invalid byte at offset {}), expected {expected}",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// Checks that `path` is a directory (after symlinks); `what` names it in messages.
pub(crate) fn require_directory(path: &Path, what: &str) -> Result<()> {
    match resolved_type(path)? {
        None => Err(OccamError::bad_file(
            path,
            format!("no such directory, expected {what}"),
        )),
        Some(t) if t.is_dir() => Ok(()),
        Some(t) => Err(OccamError::bad_file(
            path,
            format!("is {}, expected {what}", kind_name(t)),
        )),
    }
}

/// Whether `path` exists at all (a dangling symlink counts: it is reported when used).
pub(crate) fn exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// A dataset file read front to back, transparently gunzipped when it starts with the
/// gzip magic. The real length of a plain file is known up front (its size); that of a
/// gzipped file only by reading the decompressed stream, see [`DataStream::finish`].
pub(crate) struct DataStream {
    path: PathBuf,
    reader: Box<dyn Read>,
    /// Size of a plain file; `None` for a gzipped one.
    plain_len: Option<u64>,
    /// Bytes delivered so far (decompressed for gzip).
    consumed: u64,
}

impl DataStream {
    /// Opens `path` after checking that it is a regular file; `expected` names the kind of
    /// file for messages ("an IDX file").
    pub fn open(path: &Path, expected: &str) -> Result<DataStream> {
        let size = regular_file_size(path, expected)?;
        let file = File::open(path).map_err(|e| OccamError::io(path, e))?;
        let mut buffered = BufReader::with_capacity(1 << 16, file);
        let head = buffered.fill_buf().map_err(|e| OccamError::io(path, e))?;
        let gzipped = head.starts_with(&[0x1f, 0x8b]);
        let (reader, plain_len): (Box<dyn Read>, _) = if gzipped {
            (Box::new(flate2::bufread::MultiGzDecoder::new(buffered)), None)
        } else {
            (Box::new(buffered), Some(size))
        };
        Ok(DataStream {
            path: path.to_path_buf(),
            reader,
            plain_len,
            consumed: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The total length of a plain file; `None` for a gzipped one.
    pub fn plain_len(&self) -> Option<u64> {
        self.plain_len
    }

    pub fn is_gzipped(&self) -> bool {
        self.plain_len.is_none()
    }

    /// Bytes delivered so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Fills as much of `buf` as the stream holds; returns the count (less than
    /// `buf.len()` only at the end of the stream).
    pub fn read_up_to(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.reader.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if self.is_gzipped() => {
                    return Err(OccamError::bad_file(&self.path, format!("corrupt gzip stream: {e}")));
                }
                Err(e) => return Err(OccamError::io(&self.path, e)),
            }
        }
        self.consumed += filled as u64;
        Ok(filled)
    }

    /// Reads and discards up to `n` bytes; returns how many the stream held.
    pub fn skip(&mut self, n: u64) -> Result<u64> {
        let mut buf = vec![0u8; 1 << 16];
        let mut left = n;
        while left > 0 {
            let want = left.min(buf.len() as u64) as usize;
            let got = self.read_up_to(&mut buf[..want])?;
            left -= got as u64;
            if got < want {
                break;
            }
        }
        Ok(n - left)
    }

    /// Ends reading a stream whose header declared `declared` bytes in all (header
    /// included), of which [`consumed`](Self::consumed) have been read. A plain file's
    /// length was checked from its size, so nothing more is read. A gzipped stream is
    /// decompressed to its end and discarded — memory stays small — so that a stream
    /// shorter or longer than declared is an error naming both sizes.
    pub fn finish(&mut self, declared: u64, layout: &str) -> Result<()> {
        if !self.is_gzipped() {
            return Ok(());
        }
        let rest = declared.saturating_sub(self.consumed);
        self.skip(rest)?;
        let mut extra = [0u8; 1];
        let longer = self.read_up_to(&mut extra)? > 0;
        if longer {
            self.skip(u64::MAX)?;
        }
        let real = self.consumed;
        if real != declared {
            return Err(self.length_mismatch(declared, real, layout));
        }
        Ok(())
    }

    /// The error for a file whose real length differs from its declared one.
    pub fn length_mismatch(&self, declared: u64, real: u64, layout: &str) -> OccamError {
        let stream = if self.is_gzipped() {
            "the decompressed stream holds"
        } else {
            "the file holds"
        };
        let problem = if real < declared {
            format!("truncated: {layout} declares {declared} bytes, {stream} only {real}")
        } else {
            format!(
                "{} trailing bytes: {layout} declares {declared} bytes, {stream} {real}",
                real - declared
            )
        };
        OccamError::bad_file(&self.path, problem)
    }
}

/// Which records of a file to decode: the first `first` ones, and with `tail_from` every
/// record from that index on (the validation split after the training examples).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Take {
    pub first: usize,
    pub tail_from: Option<usize>,
}

/// Which part of a [`Take`] a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    First,
    Tail,
}

impl Take {
    /// Every record, into the first part.
    pub const ALL: Take = Take {
        first: usize::MAX,
        tail_from: None,
    };

    pub fn part(&self, index: usize) -> Option<Part> {
        if index < self.first {
            Some(Part::First)
        } else if self.tail_from.is_some_and(|t| index >= t) {
            Some(Part::Tail)
        } else {
            None
        }
    }

    /// How many of the records `start..start + count` go to each part.
    pub fn counts(&self, start: usize, count: usize) -> (usize, usize) {
        let end = start.saturating_add(count);
        let first = self.first.clamp(start, end) - start;
        let tail = self.tail_from.map_or(0, |t| end - t.clamp(start, end));
        (first, tail)
    }

    /// How many records from `start` must be read to see every selected one.
    fn needed(&self, start: usize, count: usize) -> usize {
        let (first, tail) = self.counts(start, count);
        if tail > 0 { count } else { first }
    }
}

/// The layout a file's header (or length) declares: `count` records of `record_len` bytes
/// after `header_len` bytes; `describe` says where the numbers came from, for messages.
pub(crate) struct Layout {
    pub header_len: u64,
    pub record_len: usize,
    pub count: usize,
    pub describe: String,
}

impl Layout {
    /// Total length in bytes; `None` when it overflows.
    pub fn total(&self) -> Option<u64> {
        (self.record_len as u64)
            .checked_mul(self.count as u64)
            .and_then(|d| d.checked_add(self.header_len))
    }
}

/// Reads the records of `stream` (positioned after the header) that `take` selects,
/// numbering them from `start`, and hands each to `visit`. Reading stops after the last
/// selected record; then [`DataStream::finish`] checks a gzipped stream's full length.
pub(crate) fn read_records(
    stream: &mut DataStream,
    layout: &Layout,
    start: usize,
    take: Take,
    mut visit: impl FnMut(usize, Part, &[u8]) -> Result<()>,
) -> Result<()> {
    let declared = layout
        .total()
        .ok_or_else(|| OccamError::bad_file(stream.path(), format!("{} is too large", layout.describe)))?;
    let record = layout.record_len.max(1);
    let per_chunk = ((1usize << 16) / record).max(1);
    let mut buf = vec![0u8; per_chunk * record];
    let needed = take.needed(start, layout.count);
    let mut done = 0;
    while done < needed {
        let n = per_chunk.min(needed - done);
        let got = stream.read_up_to(&mut buf[..n * record])?;
        if got < n * record {
            return Err(stream.length_mismatch(declared, stream.consumed(), &layout.describe));
        }
        for (k, rec) in buf[..n * record].chunks_exact(record).enumerate() {
            let index = start + done + k;
            if let Some(part) = take.part(index) {
                visit(index, part, rec)?;
            }
        }
        done += n;
    }
    stream.finish(declared, &layout.describe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_counts_records_across_files() {
        // 7 training examples wanted, validation from 10 on; files of 5 records each.
        let take = Take {
            first: 7,
            tail_from: Some(10),
        };
        assert_eq!(take.counts(0, 5), (5, 0));
        assert_eq!(take.counts(5, 5), (2, 0));
        assert_eq!(take.needed(5, 5), 2);
        assert_eq!(take.counts(10, 5), (0, 5));
        assert_eq!(take.needed(10, 5), 5);
        assert_eq!(
            (take.part(6), take.part(8), take.part(12)),
            (Some(Part::First), None, Some(Part::Tail))
        );
        assert_eq!(Take::ALL.counts(3, usize::MAX), (usize::MAX - 3, 0));
    }

    #[test]
    fn kinds_of_path_are_named() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let e = regular_file_size(dir, "an IDX file").unwrap_err().to_string();
        assert!(e.contains("is a directory, expected an IDX file"), "{e}");
        let loop_a = dir.join("a");
        std::os::unix::fs::symlink(dir.join("b"), &loop_a).unwrap();
        std::os::unix::fs::symlink(&loop_a, dir.join("b")).unwrap();
        let e = regular_file_size(&loop_a, "an IDX file").unwrap_err().to_string();
        assert!(e.contains("symlink loop"), "{e}");
        let dangling = dir.join("d");
        std::os::unix::fs::symlink(dir.join("gone"), &dangling).unwrap();
        let e = regular_file_size(&dangling, "an IDX file").unwrap_err().to_string();
        assert!(e.contains("dangling symlink to") && e.contains("gone"), "{e}");
        let e = regular_file_size(&dir.join("nothing"), "an IDX file")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no such file"), "{e}");
        std::fs::write(dir.join("f"), b"x").unwrap();
        let e = require_directory(&dir.join("f"), "a dataset directory")
            .unwrap_err()
            .to_string();
        assert!(e.contains("is a regular file, expected a dataset directory"), "{e}");
    }
}
