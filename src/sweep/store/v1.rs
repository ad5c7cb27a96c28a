//! Version-1 stores (`occam-store-v1`, one column per trial metric and axis): reading them
//! as version 2 without writing to them, and migrating them to version 2 in place when a
//! writer opens them. Their `points` table already has version 2's shape (a column per
//! per-point metric), so only `trials` changes. The column list is frozen: it is what
//! version 1 wrote.

use super::db_err;
use super::rows::insert_axes;
use crate::error::{OccamError, Result};
use crate::sweep::spec::TrialSpec;
use rusqlite::Connection;
use std::path::Path;

/// The metric columns of a version-1 `trials` table (each is the registered metric's name).
const TRIAL_METRIC_COLUMNS: [&str; 8] = [
    "train_accuracy",
    "test_accuracy",
    "train_loss",
    "test_loss",
    "generalization_gap",
    "jacobian_norm",
    "logit_jacobian_norm",
    "transitions",
];

/// The trial columns versions 1 and 2 share.
const SHARED_TRIAL_COLUMNS: &str = "id, sweep, trial_index, config, status, reason, param_count, steps, \
     pair_group, pair_factor, pair_on, train_seconds, measure_seconds, threads, host, finished_at";

/// (trial_id, name, value) rows of every stored trial metric of a version-1 `trials`
/// table named `table`, as version 2's `metrics` table holds them.
pub(super) fn trial_metrics_sql(table: &str) -> String {
    TRIAL_METRIC_COLUMNS
        .iter()
        .map(|c| format!("SELECT id, '{c}', {c} FROM {table} WHERE {c} IS NOT NULL"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// Rewrites a version-1 store as version 2, inside the caller's transaction: the old
/// tables are renamed, the new ones created and filled, the old ones dropped. Values are
/// copied as stored (a NULL metric, not measured or non-finite, becomes an absent row).
pub(super) fn migrate(conn: &Connection, path: &Path) -> Result<()> {
    let err = db_err(path);
    conn.execute_batch("ALTER TABLE trials RENAME TO trials_v1;")
        .map_err(&err)?;
    conn.execute_batch(super::schema::TABLES).map_err(&err)?;
    conn.execute_batch(&format!(
        "INSERT INTO trials ({SHARED_TRIAL_COLUMNS}) SELECT {SHARED_TRIAL_COLUMNS} FROM trials_v1;
         INSERT INTO metrics (trial_id, name, value) {};",
        trial_metrics_sql("trials_v1")
    ))
    .map_err(&err)?;
    let configs: Vec<(String, String)> = conn
        .prepare("SELECT id, config FROM trials_v1")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .map_err(&err)?;
    for (id, config) in configs {
        let spec: TrialSpec = serde_json::from_str(&config).map_err(|e| {
            OccamError::bad_file(
                path,
                format!("trial {id}: unreadable configuration: {e}; the store was not migrated"),
            )
        })?;
        insert_axes(conn, &id, &spec.train).map_err(&err)?;
    }
    conn.execute_batch("DROP TABLE trials_v1;").map_err(&err)?;
    Ok(())
}
