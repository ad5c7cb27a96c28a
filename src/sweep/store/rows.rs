//! A trial's rows: writing a [`TrialRecord`] (trial, axes, metrics, points, artifacts) and
//! reading every stored trial back, from a version-2 store or, read-only, a version-1 one.

use super::schema::{SchemaVersion, add_point_column, has_device_column, point_metric_columns};
use super::{TrialRecord, db_err, v1};
use crate::error::{OccamError, Result};
use crate::sweep::artifact::Artifact;
use crate::sweep::metrics::{MetricValues, PointRow};
use crate::sweep::spec::{Axes, PairSlot, TrialSpec};
use crate::train::TrainConfig;
use rusqlite::{Connection, params};
use std::collections::HashMap;
use std::path::Path;

/// Writes one trial, replacing an earlier attempt of the same trial.
pub(super) fn insert_in(tx: &Connection, r: &TrialRecord) -> rusqlite::Result<()> {
    let finite = |v: f64| v.is_finite().then_some(v);
    let (group, factor, on) = match &r.spec.pair {
        Some(PairSlot { group, factor, on }) => (Some(group.clone()), Some(factor.name()), Some(*on as i64)),
        None => (None, None, None),
    };
    for table in ["trial_axes", "metrics", "points", "artifacts"] {
        tx.execute(&format!("DELETE FROM {table} WHERE trial_id = ?1"), [&r.id])?;
    }
    tx.execute(
        "INSERT OR REPLACE INTO trials (id, sweep, trial_index, config, status, reason, param_count, steps,
            pair_group, pair_factor, pair_on, train_seconds, measure_seconds, threads, host, device)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        params![
            r.id,
            r.sweep,
            r.index as i64,
            crate::sweep::spec::canonical_json(&r.spec),
            r.status.name(),
            r.reason,
            r.param_count as i64,
            r.steps as i64,
            group,
            factor,
            on,
            finite(r.train_seconds),
            finite(r.measure_seconds),
            r.threads as i64,
            r.host,
            r.device.to_string(),
        ],
    )?;
    insert_axes(tx, &r.id, &r.spec.train)?;
    let mut mstmt = tx.prepare_cached("INSERT INTO metrics (trial_id, name, value) VALUES (?1, ?2, ?3)")?;
    for (name, value) in r.metrics.iter() {
        mstmt.execute(params![r.id, name, value])?;
    }
    insert_points(tx, r)?;
    let mut astmt = tx.prepare_cached("INSERT INTO artifacts (trial_id, name, body) VALUES (?1, ?2, ?3)")?;
    for a in &r.artifacts {
        astmt.execute(params![r.id, a.kind(), a.to_json()])?;
    }
    Ok(())
}

/// One `points` row per stored point, each metric value in its column (columns for names
/// the table lacks, e.g. from a store of a newer Occam being merged, are added first).
fn insert_points(tx: &Connection, r: &TrialRecord) -> rusqlite::Result<()> {
    let mut names: Vec<&str> = Vec::new();
    for p in &r.points {
        for (name, _) in p.values.iter() {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    let existing = point_metric_columns(tx)?;
    for name in names.iter().filter(|n| !existing.iter().any(|c| c == *n)) {
        add_point_column(tx, name)?;
    }
    let columns: String = names.iter().map(|n| format!(", \"{n}\"")).collect();
    let slots: String = (0..names.len()).map(|i| format!(", ?{}", i + 5)).collect();
    let mut stmt = tx.prepare_cached(&format!(
        "INSERT INTO points (trial_id, idx, label, predicted{columns}) VALUES (?1, ?2, ?3, ?4{slots})"
    ))?;
    for p in &r.points {
        let mut values: Vec<rusqlite::types::Value> = vec![
            r.id.clone().into(),
            (p.index as i64).into(),
            (p.label as i64).into(),
            (p.predicted as i64).into(),
        ];
        values.extend(names.iter().map(|n| {
            let v = p.values.by_name(n);
            if v.is_finite() {
                rusqlite::types::Value::Real(v)
            } else {
                rusqlite::types::Value::Null
            }
        }));
        stmt.execute(rusqlite::params_from_iter(values))?;
    }
    Ok(())
}

/// One `trial_axes` row per sweep axis: the trial's value as reports print it.
pub(super) fn insert_axes(conn: &Connection, id: &str, train: &TrainConfig) -> rusqlite::Result<()> {
    let mut stmt =
        conn.prepare_cached("INSERT OR REPLACE INTO trial_axes (trial_id, axis, value) VALUES (?1, ?2, ?3)")?;
    for (axis, name) in Axes::NAMES.iter().enumerate() {
        stmt.execute(params![id, name, Axes::value_text(axis, train)])?;
    }
    Ok(())
}

/// Every stored trial with its metrics, points and artifacts, in sweep and index order.
pub(super) fn read_trials(conn: &Connection, path: &Path, version: SchemaVersion) -> Result<Vec<TrialRecord>> {
    let err = db_err(path);
    let mut metrics = trial_metrics(conn, path, version)?;
    let point_columns = point_metric_columns(conn).map_err(&err)?;
    // Stores written before `sweep run --device` have no device column: CPU trials.
    let device = if has_device_column(conn).map_err(&err)? {
        "device"
    } else {
        "NULL"
    };
    let mut stmt = conn
        .prepare(&format!(
            "SELECT id, sweep, trial_index, config, status, reason, param_count, steps,
                    train_seconds, measure_seconds, threads, host, {device}
             FROM trials ORDER BY sweep, trial_index, id"
        ))
        .map_err(&err)?;
    let f = |r: &rusqlite::Row, i: usize| r.get::<_, Option<f64>>(i).map(|v| v.unwrap_or(f64::NAN));
    let count = |r: &rusqlite::Row, i: usize| r.get::<_, Option<i64>>(i).map(|v| v.unwrap_or(0) as usize);
    let rows = stmt
        .query_map([], |r| {
            let status: String = r.get(4)?;
            let status = status.parse().map_err(|e: String| {
                rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, e.into())
            })?;
            let device = match r.get::<_, Option<String>>(12)? {
                None => crate::compute::Device::Cpu,
                Some(text) => text.parse().map_err(|e: String| {
                    rusqlite::Error::FromSqlConversionFailure(12, rusqlite::types::Type::Text, e.into())
                })?,
            };
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
                    status,
                    reason: r.get(5)?,
                    param_count: count(r, 6)?,
                    steps: count(r, 7)?,
                    metrics: MetricValues::default(),
                    train_seconds: f(r, 8)?,
                    measure_seconds: f(r, 9)?,
                    threads: count(r, 10)?,
                    device,
                    host: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                    points: Vec::new(),
                    artifacts: Vec::new(),
                },
            ))
        })
        .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(&err)?;
    let mut out = Vec::with_capacity(rows.len());
    for (config, mut rec) in rows {
        rec.spec = serde_json::from_str(&config)
            .map_err(|e| OccamError::bad_file(path, format!("trial {}: unreadable configuration: {e}", rec.id)))?;
        rec.metrics = metrics.remove(&rec.id).unwrap_or_default();
        rec.points = points(conn, path, &point_columns, &rec.id)?;
        rec.artifacts = artifacts(conn, path, &rec.id)?;
        out.push(rec);
    }
    Ok(out)
}

/// Every trial's metric values, by trial id.
fn trial_metrics(conn: &Connection, path: &Path, version: SchemaVersion) -> Result<HashMap<String, MetricValues>> {
    let sql = match version {
        SchemaVersion::V1 => v1::trial_metrics_sql("trials"),
        SchemaVersion::V2 => "SELECT trial_id, name, value FROM metrics".to_string(),
    };
    let mut out: HashMap<String, MetricValues> = HashMap::new();
    let mut stmt = conn.prepare(&sql).map_err(db_err(path))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, f64>(2)?))
        })
        .map_err(db_err(path))?;
    for row in rows {
        let (id, name, value) = row.map_err(db_err(path))?;
        out.entry(id).or_default().set_named(&name, value);
    }
    Ok(out)
}

/// One trial's stored points with their metric values, in point order. Both schema
/// versions keep a column per per-point metric.
fn points(conn: &Connection, path: &Path, metrics: &[String], id: &str) -> Result<Vec<PointRow>> {
    let err = db_err(path);
    let columns: String = metrics.iter().map(|n| format!(", \"{n}\"")).collect();
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT idx, label, predicted{columns} FROM points WHERE trial_id = ?1 ORDER BY idx"
        ))
        .map_err(&err)?;
    stmt.query_map([id], |r| {
        let mut values = MetricValues::default();
        for (i, name) in metrics.iter().enumerate() {
            if let Some(v) = r.get::<_, Option<f64>>(3 + i)? {
                values.set_named(name, v);
            }
        }
        Ok(PointRow {
            index: r.get::<_, i64>(0)? as usize,
            label: r.get::<_, Option<i64>>(1)?.unwrap_or(0) as u16,
            predicted: r.get::<_, Option<i64>>(2)?.unwrap_or(0) as usize,
            values,
        })
    })
    .and_then(|rows| rows.collect())
    .map_err(&err)
}

fn artifacts(conn: &Connection, path: &Path, id: &str) -> Result<Vec<Artifact>> {
    let mut stmt = conn
        .prepare_cached("SELECT name, body FROM artifacts WHERE trial_id = ?1 ORDER BY name")
        .map_err(db_err(path))?;
    let stored: Vec<(String, String)> = stmt
        .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .and_then(|rows| rows.collect())
        .map_err(db_err(path))?;
    stored
        .iter()
        .map(|(kind, body)| {
            Artifact::from_stored(kind, body).map_err(|e| OccamError::bad_file(path, format!("trial {id}: {e}")))
        })
        .collect()
}
