//! The result store: one SQLite file (bundled SQLite, WAL journal). One row per finished
//! trial with its configuration, status, metrics and timings; per-point rows and JSON
//! artifacts (profiles, region maps) beside it. Each trial is written in one transaction,
//! so a process killed at any moment leaves every trial either complete or absent.
//! Shards written by separate processes (e.g. Slurm array tasks) merge with [`Store::merge_from`].
//! Writers first check the file read-only (schema, integrity); readers never write; each
//! sweep name stands for one spec (its fingerprint); runners sharing a store claim trials.

mod checks;
mod claims;
mod fingerprint;
mod schema;

pub use claims::{ClaimOutcome, HEARTBEAT_EVERY, Owner, STALE_AFTER};

use fingerprint::record_sweep_in;
use schema::{check_schema, create_schema, table_names};

use super::spec::{PairSlot, TrialSpec};
use crate::error::{OccamError, Result};
use rusqlite::{Connection, TransactionBehavior, params};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a statement waits for another process's lock on the store.
const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Per-point measurements of one trial (the §4.4 study).
#[derive(Debug, Clone, PartialEq)]
pub struct PointRow {
    pub index: usize,
    pub label: u16,
    pub predicted: usize,
    pub loss: f64,
    pub jacobian_norm: f64,
    pub logit_jacobian_norm: f64,
    pub target_row_norm: f64,
}

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
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub train_loss: f64,
    pub test_loss: f64,
    pub jacobian_norm: f64,
    pub logit_jacobian_norm: f64,
    pub transitions: f64,
    pub train_seconds: f64,
    pub measure_seconds: f64,
    pub threads: usize,
    pub host: String,
    pub points: Vec<PointRow>,
    pub artifacts: Vec<super::artifact::Artifact>,
}

impl TrialRecord {
    pub fn generalization_gap(&self) -> f64 {
        self.train_accuracy - self.test_accuracy
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
        check_schema(&conn, path, &tables)?;
        checks::quick_check(&conn, path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// The store's file.
    pub fn path(&self) -> &Path {
        &self.path
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

    /// Every stored trial with its points and artifacts, in sweep and index order.
    pub fn trials(&self) -> Result<Vec<TrialRecord>> {
        let err = db_err(&self.path);
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, sweep, trial_index, config, status, reason, param_count, steps, train_accuracy,
                        test_accuracy, train_loss, test_loss, jacobian_norm, logit_jacobian_norm, transitions,
                        train_seconds, measure_seconds, threads, host
                 FROM trials ORDER BY sweep, trial_index, id",
            )
            .map_err(&err)?;
        let f = |r: &rusqlite::Row, i: usize| r.get::<_, Option<f64>>(i).map(|v| v.unwrap_or(f64::NAN));
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(3)?,
                    TrialRecord {
                        id: r.get(0)?,
                        sweep: r.get(1)?,
                        index: r.get::<_, i64>(2)? as usize,
                        spec: TrialSpec {
                            train: Default::default(),
                            measure: Default::default(),
                            pair: None,
                        },
                        status: {
                            let text: String = r.get(4)?;
                            text.parse().map_err(|e: String| {
                                rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
                            })?
                        },
                        reason: r.get(5)?,
                        param_count: r.get::<_, Option<i64>>(6)?.unwrap_or(0) as usize,
                        steps: r.get::<_, Option<i64>>(7)?.unwrap_or(0) as usize,
                        train_accuracy: f(r, 8)?,
                        test_accuracy: f(r, 9)?,
                        train_loss: f(r, 10)?,
                        test_loss: f(r, 11)?,
                        jacobian_norm: f(r, 12)?,
                        logit_jacobian_norm: f(r, 13)?,
                        transitions: f(r, 14)?,
                        train_seconds: f(r, 15)?,
                        measure_seconds: f(r, 16)?,
                        threads: r.get::<_, Option<i64>>(17)?.unwrap_or(0) as usize,
                        host: r.get::<_, Option<String>>(18)?.unwrap_or_default(),
                        points: Vec::new(),
                        artifacts: Vec::new(),
                    },
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(&err)?;
        let mut out = Vec::with_capacity(rows.len());
        for (config, mut rec) in rows {
            rec.spec = serde_json::from_str(&config).map_err(|e| {
                OccamError::bad_file(&self.path, format!("trial {}: unreadable configuration: {e}", rec.id))
            })?;
            rec.points = self.points(&rec.id)?;
            rec.artifacts = self.artifacts(&rec.id)?;
            out.push(rec);
        }
        Ok(out)
    }

    fn points(&self, id: &str) -> Result<Vec<PointRow>> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT idx, label, predicted, loss, jacobian_norm, logit_jacobian_norm, target_row_norm
                 FROM points WHERE trial_id = ?1 ORDER BY idx",
            )
            .map_err(db_err(&self.path))?;
        let nan = |v: Option<f64>| v.unwrap_or(f64::NAN);
        stmt.query_map([id], |r| {
            Ok(PointRow {
                index: r.get::<_, i64>(0)? as usize,
                label: r.get::<_, i64>(1)? as u16,
                predicted: r.get::<_, i64>(2)? as usize,
                loss: nan(r.get(3)?),
                jacobian_norm: nan(r.get(4)?),
                logit_jacobian_norm: nan(r.get(5)?),
                target_row_norm: nan(r.get(6)?),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(db_err(&self.path))
    }

    fn artifacts(&self, id: &str) -> Result<Vec<super::artifact::Artifact>> {
        let stored = self.text_pairs(
            "SELECT name, body FROM artifacts WHERE trial_id = ?1 ORDER BY name",
            [id],
        )?;
        stored
            .iter()
            .map(|(kind, body)| {
                super::artifact::Artifact::from_stored(kind, body)
                    .map_err(|e| OccamError::bad_file(&self.path, format!("trial {id}: {e}")))
            })
            .collect()
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

fn insert_in(tx: &rusqlite::Transaction, r: &TrialRecord) -> rusqlite::Result<()> {
    let t = &r.spec.train;
    let finite = |v: f64| v.is_finite().then_some(v);
    let (group, factor, on) = match &r.spec.pair {
        Some(PairSlot { group, factor, on }) => (Some(group.clone()), Some(factor.name()), Some(*on as i64)),
        None => (None, None, None),
    };
    tx.execute("DELETE FROM points WHERE trial_id = ?1", [&r.id])?;
    tx.execute("DELETE FROM artifacts WHERE trial_id = ?1", [&r.id])?;
    tx.execute(
        "INSERT OR REPLACE INTO trials (id, sweep, trial_index, config, status, reason, dataset, width, depth, activation,
            optimizer, lr, batch, steps_budget, init_scale, augment, random_labels, seed, param_count, steps,
            train_accuracy, test_accuracy, train_loss, test_loss, generalization_gap, jacobian_norm,
            logit_jacobian_norm, transitions, pair_group, pair_factor, pair_on, train_seconds, measure_seconds,
            threads, host)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22,
                 ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30, ?31, ?32, ?33, ?34, ?35)",
        params![
            r.id,
            r.sweep,
            r.index as i64,
            super::spec::canonical_json(&r.spec),
            r.status.name(),
            r.reason,
            t.data,
            t.width as i64,
            t.depth as i64,
            t.activation.name(),
            t.optimizer.name(),
            t.lr,
            t.batch as i64,
            t.steps as i64,
            t.init_scale,
            serde_json::to_string(&t.augment).unwrap_or_default(),
            t.random_labels as i64,
            t.seed as i64,
            r.param_count as i64,
            r.steps as i64,
            finite(r.train_accuracy),
            finite(r.test_accuracy),
            finite(r.train_loss),
            finite(r.test_loss),
            finite(r.generalization_gap()),
            finite(r.jacobian_norm),
            finite(r.logit_jacobian_norm),
            finite(r.transitions),
            group,
            factor,
            on,
            finite(r.train_seconds),
            finite(r.measure_seconds),
            r.threads as i64,
            r.host,
        ],
    )?;
    let mut pstmt = tx.prepare_cached(
        "INSERT INTO points (trial_id, idx, label, predicted, loss, jacobian_norm, logit_jacobian_norm, target_row_norm)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    for p in &r.points {
        pstmt.execute(params![
            r.id,
            p.index as i64,
            p.label as i64,
            p.predicted as i64,
            finite(p.loss),
            finite(p.jacobian_norm),
            finite(p.logit_jacobian_norm),
            finite(p.target_row_norm)
        ])?;
    }
    let mut astmt = tx.prepare_cached("INSERT INTO artifacts (trial_id, name, body) VALUES (?1, ?2, ?3)")?;
    for a in &r.artifacts {
        astmt.execute(params![r.id, a.kind(), a.to_json()])?;
    }
    Ok(())
}
