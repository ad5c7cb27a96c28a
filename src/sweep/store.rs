//! The result store: one SQLite file (bundled SQLite, WAL journal). One row per finished
//! trial with its configuration, status and timings; its metric values by name (the
//! registry in `sweep::metrics`), per-point rows and JSON artifacts (profiles, region maps)
//! beside it. Each trial is written in one transaction,
//! so a process killed at any moment leaves every trial either complete or absent.
//! Shards written by separate processes (e.g. Slurm array tasks) merge with [`Store::merge_from`].
//! Writers first check the file read-only (schema, integrity); readers never write; each
//! sweep name stands for one spec (its fingerprint); runners sharing a store claim trials.

mod checks;
mod claims;
mod fingerprint;
mod rows;
mod schema;
mod v1;

pub use claims::{ClaimOutcome, HEARTBEAT_EVERY, Owner, STALE_AFTER};

pub use schema::SchemaVersion;

use fingerprint::record_sweep_in;
use rows::insert_in;
use schema::{check_schema, create_schema, table_names};

pub use super::metrics::PointRow;
use super::metrics::{GENERALIZATION_GAP, Metric, MetricValues};
use super::spec::TrialSpec;
use crate::error::{OccamError, Result};
use rusqlite::{Connection, TransactionBehavior, params};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another process's lock on the store.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// How a trial ended, as stored in the `status` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialStatus {
    /// Trained for the whole step budget and measured.
    Completed,
    /// Stopped early at 100% training accuracy and measured.
    #[serde(rename = "reached_100")]
    Reached100,
    /// The training loss became non-finite; training metrics only, no measurements.
    Diverged,
    /// Training finished but a measurement (Jacobian norm, transitions, profile) gave a
    /// non-finite number; every metric of that measurement is stored as NULL.
    NonFinite,
    /// An error stopped the trial; `reason` says which.
    Failed,
}

impl TrialStatus {
    /// Every status, in the order reports list them.
    pub const ALL: [TrialStatus; 5] = [
        TrialStatus::Completed,
        TrialStatus::Reached100,
        TrialStatus::Diverged,
        TrialStatus::NonFinite,
        TrialStatus::Failed,
    ];
    pub fn name(self) -> &'static str {
        match self {
            TrialStatus::Completed => "completed",
            TrialStatus::Reached100 => "reached_100",
            TrialStatus::Diverged => "diverged",
            TrialStatus::NonFinite => "non_finite",
            TrialStatus::Failed => "failed",
        }
    }
    /// Whether the network trained to the end of its run and was measured.
    pub fn is_measured(self) -> bool {
        matches!(self, TrialStatus::Completed | TrialStatus::Reached100)
    }
}

impl std::fmt::Display for TrialStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TrialStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        TrialStatus::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown trial status '{s}'"))
    }
}

impl From<crate::train::Status> for TrialStatus {
    fn from(s: crate::train::Status) -> Self {
        match s {
            crate::train::Status::Completed => TrialStatus::Completed,
            crate::train::Status::Reached100 => TrialStatus::Reached100,
            crate::train::Status::Diverged => TrialStatus::Diverged,
        }
    }
}

/// Everything stored for one trial.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    pub id: String,
    pub sweep: String,
    pub index: usize,
    pub spec: TrialSpec,
    pub status: TrialStatus,
    pub reason: Option<String>,
    pub param_count: usize,
    pub steps: usize,
    /// Values of the registered per-trial metrics (training and measurement).
    pub metrics: MetricValues,
    pub train_seconds: f64,
    pub measure_seconds: f64,
    pub threads: usize,
    /// Where the trial trained and measured its Jacobian norms (`cpu` for trials stored
    /// before the store had a device column).
    pub device: crate::compute::Device,
    pub host: String,
    pub points: Vec<PointRow>,
    pub artifacts: Vec<super::artifact::Artifact>,
}

impl TrialRecord {
    /// A registered metric's value; NaN when it was not measured or was not finite.
    pub fn metric(&self, metric: Metric) -> f64 {
        self.metrics.get(metric)
    }

    pub fn generalization_gap(&self) -> f64 {
        self.metric(GENERALIZATION_GAP)
    }

    /// A completed trial with these metrics, for unit tests of the analyses.
    #[cfg(test)]
    pub(crate) fn completed_for_test(id: String, index: usize, spec: TrialSpec, metrics: MetricValues) -> Self {
        TrialRecord {
            id,
            sweep: "s".into(),
            index,
            param_count: spec.train.width,
            spec,
            status: TrialStatus::Completed,
            reason: None,
            steps: 1,
            metrics,
            train_seconds: 0.0,
            measure_seconds: 0.0,
            threads: 1,
            device: crate::compute::Device::Cpu,
            host: String::new(),
            points: Vec::new(),
            artifacts: Vec::new(),
        }
    }
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> OccamError + '_ {
    move |e| {
        let msg = e.to_string();
        if msg.contains("not a database") {
            OccamError::bad_file(
                path,
                "not an Occam store: the file is not an SQLite database (corrupted or foreign)",
            )
        } else if msg.contains("malformed") {
            checks::damaged(path, &msg)
        } else {
            OccamError::bad_file(path, format!("store error: {msg}"))
        }
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The schema read: writers migrate to the newest, readers read what is there.
    version: SchemaVersion,
}

impl Store {
    /// Opens a store for writing, creating it (and its parent directory) if it does not
    /// exist. An existing file is first checked through a read-only connection (an Occam
    /// store of this schema, passing SQLite's quick integrity check), so a foreign or
    /// damaged file is refused without a single byte written to it.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| OccamError::io(dir, e))?;
        }
        // SQLite answers "locked" at once, without waiting, in a few moments of another
        // runner creating the same new store (switching it to WAL); those are retried.
        let started = std::time::Instant::now();
        loop {
            match Store::open_for_writing(path) {
                Err(e) if e.to_string().contains("database is locked") && started.elapsed() < BUSY_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                opened => return opened,
            }
        }
    }

    fn open_for_writing(path: &Path) -> Result<Store> {
        if crate::data::files::exists(path) {
            crate::data::files::regular_file_size(path, "an Occam store (an SQLite file)")?;
        }
        if path.metadata().is_ok_and(|m| m.len() > 0) {
            // A database without tables is a store another runner is creating right now
            // (or an empty file): create_schema below waits for it or fills it.
            let conn = checks::open_read_only(path)?;
            let tables = table_names(&conn, path)?;
            if !tables.is_empty() {
                check_schema(&conn, path, &tables)?;
                checks::quick_check(&conn, path)?;
            }
        }
        let err = db_err(path);
        let conn = Connection::open(path).map_err(&err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
        create_schema(&conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            version: SchemaVersion::NEWEST,
        })
    }

    /// Opens an existing store read-only (status, export, reports, the sources of a
    /// merge): nothing is ever written, and a store in a read-only directory can be read.
    /// A missing file, a foreign database or a damaged store is an error naming the file.
    pub fn open_existing(path: &Path) -> Result<Store> {
        if !crate::data::files::exists(path) {
            return Err(OccamError::bad_file(path, "no such store"));
        }
        crate::data::files::regular_file_size(path, "an Occam store (an SQLite file)")?;
        let conn = checks::open_read_only(path)?;
        let tables = table_names(&conn, path)?;
        if tables.is_empty() {
            return Err(OccamError::bad_file(path, "not an Occam store: the database is empty"));
        }
        let version = check_schema(&conn, path, &tables)?;
        checks::quick_check(&conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            version,
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema of the file as opened (a writer has migrated it to the newest).
    pub fn schema_version(&self) -> SchemaVersion {
        self.version
    }

    /// Records a sweep's spec (canonical JSON) under its name, with the spec's
    /// fingerprint. The same name with the same spec is a resume and changes nothing; the
    /// same name with a different spec is refused (nothing is written), since its trials
    /// would mix with the recorded sweep's.
    pub fn record_sweep(&mut self, name: &str, spec_json: &str) -> Result<()> {
        let err = db_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        record_sweep_in(&tx, &self.path, name, spec_json, None)?;
        tx.commit().map_err(&err)?;
        Ok(())
    }

    /// Ids of the stored trials, optionally leaving out failed ones.
    pub fn finished_ids(&self, include_failed: bool) -> Result<HashSet<String>> {
        let sql = if include_failed {
            "SELECT id FROM trials"
        } else {
            "SELECT id FROM trials WHERE status != 'failed'"
        };
        let mut stmt = self.conn.prepare(sql).map_err(db_err(&self.path))?;
        let ids = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .map_err(db_err(&self.path))?;
        Ok(ids)
    }

    /// Writes one trial with its points and artifacts in a single transaction, replacing
    /// an earlier attempt of the same trial (a failed one being retried).
    pub fn insert(&mut self, r: &TrialRecord) -> Result<()> {
        let err = db_err(&self.path);
        let tx = self.conn.transaction().map_err(&err)?;
        insert_in(&tx, r).map_err(&err)?;
        tx.execute("DELETE FROM claims WHERE trial_id = ?1", [&r.id])
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(())
    }

    /// Every stored trial with its metrics, points and artifacts, in sweep and index order.
    pub fn trials(&self) -> Result<Vec<TrialRecord>> {
        rows::read_trials(&self.conn, &self.path, self.version)
    }

    /// Copies into this store every trial of `other` that it lacks (by id), with its points
    /// and artifacts, in one transaction. Returns (added, already present). `other` is
    /// opened read-only. A sweep recorded in both stores under one name with different
    /// specs is refused and nothing is copied.
    pub fn merge_from(&mut self, other: &Path) -> Result<(usize, usize)> {
        let source = Store::open_existing(other)?;
        let finished_at = source.finished_at()?;
        let have = self.finished_ids(true)?;
        let err = db_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let (mut added, mut skipped) = (0, 0);
        for (name, spec) in source.sweeps()? {
            record_sweep_in(&tx, &self.path, &name, &spec, Some(other))?;
        }
        for rec in source.trials()? {
            if have.contains(&rec.id) {
                skipped += 1;
            } else {
                insert_in(&tx, &rec).map_err(&err)?;
                // Keep when the trial finished, not when it was merged.
                if let Some(at) = finished_at.get(&rec.id) {
                    tx.execute("UPDATE trials SET finished_at = ?2 WHERE id = ?1", params![rec.id, at])
                        .map_err(&err)?;
                }
                added += 1;
            }
        }
        tx.commit().map_err(&err)?;
        Ok((added, skipped))
    }

    /// When each stored trial was written, by trial id (SQLite's `datetime('now')`, UTC).
    pub fn finished_at(&self) -> Result<std::collections::HashMap<String, String>> {
        Ok(self
            .text_pairs("SELECT id, finished_at FROM trials", [])?
            .into_iter()
            .collect())
    }

    /// (name, spec JSON) of every recorded sweep.
    pub fn sweeps(&self) -> Result<Vec<(String, String)>> {
        self.text_pairs("SELECT name, spec FROM sweeps ORDER BY name", [])
    }

    /// The rows of a query that selects two text columns.
    fn text_pairs(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(db_err(&self.path))?;
        stmt.query_map(params, |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(db_err(&self.path))
    }
}
