//! Exports of a store for analysis elsewhere (pandas, polars, R, DuckDB): one row per
//! trial, or one row per stored point, as CSV, JSON lines or Parquet, to files or to
//! standard output. Every configuration field is its own column, named by its dotted
//! path (`train.augment.translate`); a missing or non-finite value is null.

mod flatten;
mod table;
mod writers;

pub use table::{Column, ColumnKind, OCCAM_VERSION, RowKind, Table, reason};

use super::store::Store;
use crate::error::{OccamError, Result};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// A file format of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    JsonLines,
    Parquet,
}

impl Format {
    /// The command-line option that asks for this format.
    pub fn option(self) -> &'static str {
        match self {
            Format::Csv => "--csv",
            Format::JsonLines => "--jsonl",
            Format::Parquet => "--parquet",
        }
    }
}

/// Where one format goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    /// `-` is standard output; anything else is a file path.
    pub fn from_arg(path: &Path) -> Destination {
        if path == Path::new("-") {
            Destination::Stdout
        } else {
            Destination::File(path.to_path_buf())
        }
    }
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Destination::Stdout => f.write_str("-"),
            Destination::File(p) => write!(f, "{}", p.display()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub format: Format,
    pub destination: Destination,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub trials: usize,
    pub rows: usize,
    pub columns: usize,
}

/// Refuses a set of outputs that cannot all be written: none at all, two on standard
/// output, two on one file, a directory as the file, or Parquet (binary) to a terminal.
pub fn check_outputs(outputs: &[Output], stdout_is_terminal: bool) -> Result<()> {
    if outputs.is_empty() {
        return Err(OccamError::config(
            "nothing to export: give --csv FILE, --jsonl FILE and/or --parquet FILE (`-` for standard output)",
        ));
    }
    for (i, a) in outputs.iter().enumerate() {
        for b in &outputs[i + 1..] {
            if a.destination == b.destination {
                let what = match &a.destination {
                    Destination::Stdout => "standard output (`-`); only one format can go there".to_string(),
                    Destination::File(p) => format!("the file {}; give each format its own file", p.display()),
                };
                return Err(OccamError::config(format!(
                    "{} and {} both name {what}",
                    a.format.option(),
                    b.format.option()
                )));
            }
        }
        match &a.destination {
            Destination::File(p) if p.is_dir() => {
                return Err(OccamError::bad_file(
                    p,
                    format!("{} names a directory; give a file name", a.format.option()),
                ));
            }
            Destination::Stdout if a.format == Format::Parquet && stdout_is_terminal => {
                return Err(OccamError::config(
                    "--parquet -: Parquet is a binary format and standard output is a terminal; \
                     redirect it (`--parquet - > trials.parquet`, or a pipe) or give a file name",
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes the store's trials (or their per-point rows) in every requested format.
pub fn export(store: &Store, rows: RowKind, outputs: &[Output]) -> Result<ExportSummary> {
    check_outputs(outputs, std::io::stdout().is_terminal())?;
    for o in outputs {
        if let Destination::File(p) = &o.destination {
            crate::error::refuse_overwriting_input(p, store.path(), o.format.option())?;
        }
    }
    let trials = store.trials()?;
    if rows == RowKind::Points && trials.iter().all(|t| t.points.is_empty()) {
        return Err(OccamError::bad_file(
            store.path(),
            format!(
                "--points: the store holds no per-point rows ({} trial(s), none with points); \
                 a sweep stores them when its spec sets `[measure] per_point = true`",
                trials.len()
            ),
        ));
    }
    let finished_at = finished_at_rfc3339(store)?;
    let table = Table::new(rows, &trials, &finished_at);
    for output in outputs {
        write_output(&table, output)?;
    }
    Ok(ExportSummary {
        trials: trials.len(),
        rows: table.len(),
        columns: table.columns().len(),
    })
}

/// Each trial's finish time, as the exports write it (RFC 3339, UTC).
pub(crate) fn finished_at_rfc3339(store: &Store) -> Result<HashMap<String, String>> {
    Ok(store
        .finished_at()?
        .into_iter()
        .map(|(id, at)| (id, rfc3339_utc(&at)))
        .collect())
}

/// SQLite's `datetime('now')` text (`2026-11-27 15:01:34`, UTC) as RFC 3339
/// (`2026-11-27T15:01:34Z`), which pandas and every date library read as UTC.
fn rfc3339_utc(sqlite_time: &str) -> String {
    let b = sqlite_time.as_bytes();
    if b.len() == 19 && b[10] == b' ' && b[4] == b'-' && b[13] == b':' {
        format!("{}T{}Z", &sqlite_time[..10], &sqlite_time[11..])
    } else {
        sqlite_time.to_string()
    }
}

fn write_table(table: &Table, format: Format, out: &mut (dyn Write + Send)) -> std::io::Result<()> {
    match format {
        Format::Csv => writers::write_csv(table, out),
        Format::JsonLines => writers::write_jsonl(table, out),
        Format::Parquet => writers::write_parquet(table, out),
    }
}

fn write_output(table: &Table, output: &Output) -> Result<()> {
    match &output.destination {
        Destination::Stdout => {
            let mut out = std::io::BufWriter::new(std::io::stdout());
            match write_table(table, output.format, &mut out).and_then(|()| out.flush()) {
                // The reader stopped reading (`| head`): not an error of the export.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => Err(OccamError::config(format!(
                    "{} -: writing to standard output: {e}",
                    output.format.option()
                ))),
                Ok(()) => Ok(()),
            }
        }
        Destination::File(path) => write_file_atomically(path, |out| write_table(table, output.format, out)),
    }
}

/// Streams into a temporary file beside `path`, then renames it over `path`, so a crash
/// or an error never leaves a partial export; the temporary file is removed on failure.
fn write_file_atomically(
    path: &Path,
    write: impl FnOnce(&mut (dyn Write + Send)) -> std::io::Result<()>,
) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| OccamError::io(dir, e))?;
    }
    let name = path
        .file_name()
        .ok_or_else(|| OccamError::bad_file(path, "not a file path"))?;
    let tmp = path.with_file_name(format!(".{}.tmp{}", name.to_string_lossy(), std::process::id()));
    let written = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| OccamError::io(&tmp, e))?;
        let mut out = std::io::BufWriter::new(file);
        write(&mut out).map_err(|e| OccamError::io(path, e))?;
        let file = out.into_inner().map_err(|e| OccamError::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| OccamError::io(path, e))?;
        std::fs::rename(&tmp, path).map_err(|e| OccamError::io(path, e))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out(format: Format, dest: &str) -> Output {
        Output {
            format,
            destination: Destination::from_arg(Path::new(dest)),
        }
    }

    #[test]
    fn outputs_that_cannot_all_be_written_are_refused_before_anything_is_written() {
        let refused = |outputs: &[Output], terminal: bool| check_outputs(outputs, terminal).unwrap_err().to_string();
        assert!(refused(&[], false).contains("--parquet FILE"));
        let both = refused(&[out(Format::Csv, "-"), out(Format::JsonLines, "-")], false);
        assert!(
            both.contains("--csv and --jsonl") && both.contains("standard output"),
            "{both}"
        );
        let same = refused(&[out(Format::Csv, "a.x"), out(Format::Parquet, "a.x")], false);
        assert!(same.contains("a.x") && same.contains("--parquet"), "{same}");
        assert!(refused(&[out(Format::Parquet, "-")], true).contains("terminal"));
        assert!(check_outputs(&[out(Format::Parquet, "-")], false).is_ok());
        assert!(check_outputs(&[out(Format::Csv, "-")], true).is_ok());
    }

    #[test]
    fn sqlite_times_become_rfc3339_utc() {
        assert_eq!(rfc3339_utc("2026-11-27 15:01:34"), "2026-11-27T15:01:34Z");
        assert_eq!(rfc3339_utc("odd"), "odd");
    }
}
