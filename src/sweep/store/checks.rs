//! Opening a store without writing to it, and SQLite's quick integrity check: a damaged
//! store is refused with the way to recover it, before anything reads or writes it.

use super::db_err;
use crate::error::{OccamError, Result};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The error for a store that fails SQLite's integrity check.
pub(super) fn damaged(path: &Path, detail: &str) -> OccamError {
    OccamError::bad_file(
        path,
        format!(
            "the store is damaged (SQLite integrity check: {detail}); it was not modified. Restore it from a \
             backup, or copy out what is readable with `sqlite3 {} .recover | sqlite3 recovered.sqlite` and \
             use the recovered file",
            path.display()
        ),
    )
}

/// Runs `PRAGMA quick_check`; fails with [`damaged`] unless it answers "ok".
pub(super) fn quick_check(conn: &Connection, path: &Path) -> Result<()> {
    let answer: std::result::Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
    match answer {
        Ok(lines) if lines.len() == 1 && lines[0] == "ok" => Ok(()),
        Ok(lines) => Err(damaged(path, &lines.join("; "))),
        Err(e) if e.to_string().contains("not a database") => Err(db_err(path)(e)),
        Err(e) => Err(damaged(path, &e.to_string())),
    }
}

/// Opens `path` read-only. In a directory this process cannot write, SQLite cannot create
/// the shared-memory file a WAL store's readers need; when no write-ahead log is there
/// (nothing is being written and nothing is pending), the file alone is the whole store
/// and is opened as immutable.
pub(super) fn open_read_only(path: &Path) -> Result<Connection> {
    let err = db_err(path);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(&err)?;
    conn.busy_timeout(super::BUSY_TIMEOUT).map_err(&err)?;
    let readable = conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0));
    match readable {
        Ok(_) => Ok(conn),
        Err(e) if cannot_open_wal(&e) && !has_pending_log(path) => {
            drop(conn);
            let conn = Connection::open_with_flags(immutable_uri(path), flags).map_err(&err)?;
            Ok(conn)
        }
        Err(e) if cannot_open_wal(&e) => Err(OccamError::bad_file(
            path,
            format!(
                "cannot be read without writing ({e}): its write-ahead log {}-wal holds trials not yet in the \
                 store file, and SQLite cannot create its shared-memory file here. Let the running sweep finish, \
                 or run `occam sweep run` on it (or copy the store with its -wal file) where the directory is writable",
                path.display()
            ),
        )),
        Err(e) => Err(err(e)),
    }
}

fn cannot_open_wal(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::CannotOpen) | Some(rusqlite::ErrorCode::ReadOnly)
    )
}

/// Whether a non-empty `-wal` file sits beside the store (trials not yet in the main file).
fn has_pending_log(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(wal).is_ok_and(|m| m.len() > 0)
}

/// `file:PATH?immutable=1`, with the characters URIs reserve percent-encoded.
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri + "?immutable=1"
}
