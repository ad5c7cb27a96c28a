//! Spec fingerprints: a sweep name stands for one spec in a store. The fingerprint is the
//! stable hash of the spec's canonical JSON; running or merging a different spec under a
//! recorded name is refused, naming both fingerprints and what differs.

use super::db_err;
use crate::error::{OccamError, Result};
use crate::sweep::spec::stable_hash;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Records (name, spec, fingerprint) unless the name is there; fails when the name is
/// there with another fingerprint. `source` names the store a merged sweep comes from.
pub(super) fn record_sweep_in(
    conn: &Connection,
    path: &Path,
    name: &str,
    spec_json: &str,
    source: Option<&Path>,
) -> Result<()> {
    let err = db_err(path);
    let fingerprint = stable_hash(spec_json);
    let recorded: Option<(String, Option<String>)> = conn
        .query_row("SELECT spec, fingerprint FROM sweeps WHERE name = ?1", [name], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(&err)?;
    let Some((old_spec, old_fingerprint)) = recorded else {
        conn.execute(
            "INSERT INTO sweeps (name, spec, fingerprint) VALUES (?1, ?2, ?3)",
            params![name, spec_json, fingerprint],
        )
        .map_err(&err)?;
        return Ok(());
    };
    // A store written before fingerprints were kept: the fingerprint of its stored spec.
    let old_fingerprint = old_fingerprint.unwrap_or_else(|| stable_hash(&old_spec));
    if old_fingerprint != fingerprint {
        return Err(spec_mismatch(
            path,
            name,
            (&old_fingerprint, &old_spec),
            (&fingerprint, spec_json),
            source,
        ));
    }
    conn.execute(
        "UPDATE sweeps SET fingerprint = ?2 WHERE name = ?1 AND fingerprint IS NULL",
        params![name, fingerprint],
    )
    .map_err(&err)?;
    Ok(())
}

/// The refusal of a second spec under a recorded sweep name.
fn spec_mismatch(
    path: &Path,
    name: &str,
    recorded: (&str, &str),
    offered: (&str, &str),
    source: Option<&Path>,
) -> OccamError {
    let differs = differences(recorded.1, offered.1);
    let what = match source {
        Some(src) => format!("the store {} holds", src.display()),
        None => "this spec has".to_string(),
    };
    let action = match source {
        Some(_) => "Merging it would mix two different experiments under one name",
        None => "Running it would mix two different experiments under one name",
    };
    OccamError::bad_file(
        path,
        format!(
            "sweep '{name}' is recorded here with another spec (fingerprint {}); {what} fingerprint {} \
             (differs in: {}). {action}: give the spec a new `name`, or use a new store.",
            recorded.0,
            offered.0,
            if differs.is_empty() {
                "formatting only".to_string()
            } else {
                differs.join(", ")
            },
        ),
    )
}

/// Dotted paths (e.g. `axes.steps`) where two spec JSON texts differ, at most two levels
/// deep and at most eight of them.
pub(super) fn differences(a: &str, b: &str) -> Vec<String> {
    fn walk(prefix: &str, a: &serde_json::Value, b: &serde_json::Value, depth: usize, out: &mut Vec<String>) {
        use serde_json::Value::Object;
        match (a, b) {
            (Object(x), Object(y)) if depth < 2 => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let null = serde_json::Value::Null;
                    let (va, vb) = (x.get(k).unwrap_or(&null), y.get(k).unwrap_or(&null));
                    if va != vb {
                        let path = if prefix.is_empty() {
                            k.clone()
                        } else {
                            format!("{prefix}.{k}")
                        };
                        walk(&path, va, vb, depth + 1, out);
                    }
                }
            }
            _ => out.push(prefix.to_string()),
        }
    }
    let parse = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap_or(serde_json::Value::Null);
    let mut out = Vec::new();
    walk("", &parse(a), &parse(b), 0, &mut out);
    out.truncate(8);
    out
}

#[cfg(test)]
mod tests {
    use super::differences;

    #[test]
    fn differences_name_the_changed_keys() {
        let a = r#"{"axes":{"steps":[10],"width":[4]},"name":"x","seed":1}"#;
        let b = r#"{"axes":{"steps":[20],"width":[4]},"name":"x","seed":2}"#;
        assert_eq!(differences(a, b), ["axes.steps", "seed"]);
        assert!(differences(a, a).is_empty());
    }
}
