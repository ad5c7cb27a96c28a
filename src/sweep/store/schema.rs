//! The store's tables: creating them (safe when two processes open one new store at once),
//! recognising an Occam store and its schema version, migrating a version-1 store to
//! version 2 when a writer opens it, and the `trials_wide` view for SQL users.
//!
//! Version 2 keeps per-trial metric values by name (`metrics`: one row per finite value of
//! a registered metric) and the sweep axes of each trial (`trial_axes`), so a new metric or
//! axis needs no change here. Per-point values, which can number millions, stay one row per
//! point with a REAL column per registered per-point metric, which writers add when the
//! registry has a metric the table lacks. Version 1 had a column per trial metric and axis.

use super::db_err;
use crate::error::{OccamError, Result};
use crate::sweep::metrics::{POINT_METRICS, TRIAL_METRICS};
use crate::sweep::spec::Axes;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// The schema versions Occam reads. Writers migrate older ones to the newest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaVersion {
    /// `occam-store-v1`: one column per metric and axis (Occam 0.1).
    V1,
    /// `occam-store-v2`: metrics and axes as rows.
    V2,
}

impl SchemaVersion {
    pub const NEWEST: SchemaVersion = SchemaVersion::V2;

    pub fn tag(self) -> &'static str {
        match self {
            SchemaVersion::V1 => "occam-store-v1",
            SchemaVersion::V2 => "occam-store-v2",
        }
    }

    fn from_tag(tag: &str) -> Option<SchemaVersion> {
        [SchemaVersion::V1, SchemaVersion::V2]
            .into_iter()
            .find(|v| v.tag() == tag)
    }
}

/// The tables of a version-2 store. Every statement is idempotent (`IF NOT EXISTS`), so
/// two processes creating the same new store at once both succeed.
pub(super) const TABLES: &str = "
    CREATE TABLE IF NOT EXISTS occam_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS sweeps (name TEXT PRIMARY KEY, spec TEXT NOT NULL, fingerprint TEXT);
    CREATE TABLE IF NOT EXISTS trials (
        id TEXT PRIMARY KEY, sweep TEXT NOT NULL, trial_index INTEGER NOT NULL,
        config TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
        param_count INTEGER, steps INTEGER,
        pair_group TEXT, pair_factor TEXT, pair_on INTEGER,
        train_seconds REAL, measure_seconds REAL, threads INTEGER, host TEXT,
        finished_at TEXT NOT NULL DEFAULT (datetime('now')), device TEXT);
    CREATE TABLE IF NOT EXISTS trial_axes (trial_id TEXT NOT NULL, axis TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (trial_id, axis)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS metrics (trial_id TEXT NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (trial_id, name)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS points (
        trial_id TEXT NOT NULL, idx INTEGER NOT NULL, label INTEGER, predicted INTEGER,
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

/// The schema version of an Occam store; fails on any other database.
pub(super) fn check_schema(conn: &Connection, path: &Path, tables: &[String]) -> Result<SchemaVersion> {
    let schema: Option<String> = if tables.iter().any(|t| t == "occam_meta") {
        conn.query_row("SELECT value FROM occam_meta WHERE key = 'schema'", [], |r| r.get(0))
            .optional()
            .map_err(db_err(path))?
    } else {
        None
    };
    match schema.as_deref() {
        Some(tag) => SchemaVersion::from_tag(tag).ok_or_else(|| {
            OccamError::bad_file(
                path,
                format!(
                    "store schema '{tag}' is not one this Occam reads ({} or {}); a newer Occam wrote it",
                    SchemaVersion::V1.tag(),
                    SchemaVersion::V2.tag()
                ),
            )
        }),
        None => Err(OccamError::bad_file(
            path,
            format!(
                "not an Occam store: an SQLite database with tables {tags:?} but no occam_meta schema entry",
                tags = tables
            ),
        )),
    }
}

/// Creates the tables of a new store, or brings an existing one to the newest schema
/// (a version-1 store is migrated; an older version-1 store also lacks the sweep
/// fingerprint column), in one IMMEDIATE transaction: of two processes opening one new
/// store at once, one creates it and the other finds it; a migration is all or nothing.
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
            let version = check_schema(conn, path, &tables)?;
            add_fingerprint_column(conn, path)?;
            if version == SchemaVersion::V1 {
                super::v1::migrate(conn, path)?;
            }
        }
        conn.execute_batch(TABLES).map_err(&err)?;
        add_device_column(conn, path)?;
        conn.execute(
            "INSERT OR REPLACE INTO occam_meta VALUES ('schema', ?1)",
            [SchemaVersion::NEWEST.tag()],
        )
        .map_err(&err)?;
        for m in POINT_METRICS {
            add_point_column(conn, m.name).map_err(&err)?;
        }
        refresh_wide_view(conn, path)
    })();
    match created {
        Ok(()) => conn.execute_batch("COMMIT").map_err(&err),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

/// The columns of the `points` table that hold metric values (all but the point's identity).
pub(super) fn point_metric_columns(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    conn.prepare_cached("SELECT name FROM pragma_table_info('points')")?
        .query_map([], |r| r.get::<_, String>(0))?
        .filter(|n| !matches!(n.as_deref(), Ok("trial_id" | "idx" | "label" | "predicted")))
        .collect()
}

/// Adds a REAL column for a per-point metric to `points`, unless it has one. Metric names
/// are identifiers (letters, digits, `_`); anything else is refused, never spliced into SQL.
pub(super) fn add_point_column(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(rusqlite::Error::InvalidColumnName(name.to_string()));
    }
    if !point_metric_columns(conn)?.iter().any(|c| c == name) {
        conn.execute_batch(&format!("ALTER TABLE points ADD COLUMN \"{name}\" REAL"))?;
    }
    Ok(())
}

/// Whether `trials` has the `device` column (stores written before `sweep run --device`
/// lack it; their trials ran on the CPU).
pub(super) fn has_device_column(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info('trials') WHERE name = 'device'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Adds `trials.device` (NULL, read as `cpu`, for the trials already stored) to a store
/// written before it existed.
fn add_device_column(conn: &Connection, path: &Path) -> Result<()> {
    let err = db_err(path);
    if !has_device_column(conn).map_err(&err)? {
        conn.execute_batch("ALTER TABLE trials ADD COLUMN device TEXT")
            .map_err(&err)?;
    }
    Ok(())
}

/// Early version-1 stores had no fingerprint column in `sweeps`.
fn add_fingerprint_column(conn: &Connection, path: &Path) -> Result<()> {
    let err = db_err(path);
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
}

/// `trials_wide`: one row per trial with a column per sweep axis and per registered
/// metric, for reading a store with plain SQL (`sqlite3 store.sqlite 'SELECT * FROM
/// trials_wide'`). Rebuilt by every writer, so it follows the registry of the Occam that
/// last wrote the store.
fn refresh_wide_view(conn: &Connection, path: &Path) -> Result<()> {
    let err = db_err(path);
    let wanted = wide_view_sql();
    let current: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'view' AND name = 'trials_wide'",
            [],
            |r| r.get(0),
        )
        .optional()
        .map_err(&err)?;
    if current.as_deref() != Some(wanted.as_str()) {
        conn.execute_batch(&format!("DROP VIEW IF EXISTS trials_wide; {wanted};"))
            .map_err(&err)?;
    }
    Ok(())
}

fn wide_view_sql() -> String {
    let axes = Axes::NAMES
        .iter()
        .map(|a| format!("(SELECT value FROM trial_axes a WHERE a.trial_id = t.id AND a.axis = '{a}') AS \"{a}\""));
    let metrics = TRIAL_METRICS.iter().map(|m| {
        format!(
            "(SELECT value FROM metrics m WHERE m.trial_id = t.id AND m.name = '{n}') AS \"{n}\"",
            n = m.name
        )
    });
    let columns: Vec<String> = axes.chain(metrics).collect();
    format!(
        "CREATE VIEW trials_wide AS SELECT t.id, t.sweep, t.trial_index, t.status, t.reason, {}, \
         t.param_count, t.steps, t.pair_group, t.pair_factor, t.pair_on, t.train_seconds, \
         t.measure_seconds, t.threads, coalesce(t.device, 'cpu') AS device, t.host, t.finished_at FROM trials t",
        columns.join(", ")
    )
}
