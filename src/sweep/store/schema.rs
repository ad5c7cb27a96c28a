//! The store's tables: creating them (safe when two processes open one new store at once),
//! adding what older stores of the same schema lack, and recognising an Occam store.

use super::db_err;
use crate::error::{OccamError, Result};
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

const SCHEMA: &str = "occam-store-v1";

/// The tables of a store. Every statement is idempotent (`IF NOT EXISTS`), so two
/// processes creating the same new store at once both succeed.
const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS occam_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sweeps (name TEXT PRIMARY KEY, spec TEXT NOT NULL, fingerprint TEXT);
    CREATE TABLE IF NOT EXISTS trials (
        id TEXT PRIMARY KEY, sweep TEXT NOT NULL, trial_index INTEGER NOT NULL,
        config TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
        dataset TEXT, width INTEGER, depth INTEGER, activation TEXT, optimizer TEXT,
        lr REAL, batch INTEGER, steps_budget INTEGER, init_scale REAL, augment TEXT,
        random_labels INTEGER, seed INTEGER,
        param_count INTEGER, steps INTEGER,
        train_accuracy REAL, test_accuracy REAL, train_loss REAL, test_loss REAL,
        generalization_gap REAL, jacobian_norm REAL, logit_jacobian_norm REAL, transitions REAL,
        pair_group TEXT, pair_factor TEXT, pair_on INTEGER,
        train_seconds REAL, measure_seconds REAL, threads INTEGER, host TEXT,
        finished_at TEXT NOT NULL DEFAULT (datetime('now')));
    CREATE TABLE IF NOT EXISTS points (
        trial_id TEXT NOT NULL, idx INTEGER NOT NULL, label INTEGER, predicted INTEGER,
        loss REAL, jacobian_norm REAL, logit_jacobian_norm REAL, target_row_norm REAL,
        PRIMARY KEY (trial_id, idx));
    CREATE TABLE IF NOT EXISTS artifacts (trial_id TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (trial_id, name));
    CREATE TABLE IF NOT EXISTS claims (
        trial_id TEXT PRIMARY KEY, owner TEXT NOT NULL, host TEXT NOT NULL, pid INTEGER NOT NULL,
        claimed_at TEXT NOT NULL, heartbeat TEXT NOT NULL);";

/// Names of the tables in the database; fails on a file that is not SQLite.
pub(super) fn table_names(conn: &Connection, path: &Path) -> Result<Vec<String>> {
    conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(db_err(path))
}

/// Fails unless the database carries Occam's schema entry of this version.
pub(super) fn check_schema(conn: &Connection, path: &Path, tables: &[String]) -> Result<()> {
    let schema: Option<String> = if tables.iter().any(|t| t == "occam_meta") {
        conn.query_row("SELECT value FROM occam_meta WHERE key = 'schema'", [], |r| r.get(0))
            .optional()
            .map_err(db_err(path))?
    } else {
        None
    };
    match schema.as_deref() {
        Some(SCHEMA) => Ok(()),
        Some(other) => Err(OccamError::bad_file(
            path,
            format!("store schema '{other}' is not {SCHEMA}"),
        )),
        None => Err(OccamError::bad_file(
            path,
            format!("not an Occam store: an SQLite database with tables {tables:?} but no occam_meta schema entry"),
        )),
    }
}

/// Creates the tables of a new store, or adds what an older store of the same schema
/// lacks (the sweep fingerprint column, the claims table), in one IMMEDIATE transaction:
/// of two processes opening one new store at once, one creates it and the other finds it.
pub(super) fn create_schema(conn: &Connection, path: &Path) -> Result<()> {
    let err = db_err(path);
    if table_names(conn, path)?.is_empty() {
        // WAL lets readers (status, reports) run beside the writer; shard stores on
        // network file systems ask for DELETE through OCCAM_SQLITE_JOURNAL.
        let journal = match std::env::var("OCCAM_SQLITE_JOURNAL").as_deref() {
            Ok("DELETE") | Ok("delete") => "DELETE",
            _ => "WAL",
        };
        conn.query_row(&format!("PRAGMA journal_mode = {journal}"), [], |_| Ok(()))
            .map_err(&err)?;
    }
    conn.execute_batch("BEGIN IMMEDIATE").map_err(&err)?;
    let created = (|| {
        let tables = table_names(conn, path)?;
        if !tables.is_empty() {
            check_schema(conn, path, &tables)?;
        }
        conn.execute_batch(TABLES).map_err(&err)?;
        conn.execute("INSERT OR IGNORE INTO occam_meta VALUES ('schema', ?1)", [SCHEMA])
            .map_err(&err)?;
        let has_fingerprint = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('sweeps') WHERE name = 'fingerprint'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map_err(&err)?
            > 0;
        if !has_fingerprint {
            conn.execute_batch("ALTER TABLE sweeps ADD COLUMN fingerprint TEXT")
                .map_err(&err)?;
        }
        Ok(())
    })();
    match created {
        Ok(()) => conn.execute_batch("COMMIT").map_err(&err),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}
