//! Claims let several runners share one store without doing a trial twice: a runner
//! claims a trial (in one IMMEDIATE transaction) before training it, keeps its claims
//! alive with a heartbeat, and the claim is removed when the trial is stored. The claim
//! of a dead runner is taken over: at once when the runner was on this host and its
//! process is gone, otherwise once its heartbeat is older than [`STALE_AFTER`].

use super::{Store, db_err};
use crate::error::Result;
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use std::time::Duration;

/// A claim whose heartbeat is older than this is taken over by another runner.
pub const STALE_AFTER: Duration = Duration::from_secs(600);
/// How often a runner refreshes the heartbeat of its claims.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(30);

/// Who holds a claim: a process on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
}

impl Owner {
    /// This process.
    pub fn this_process() -> Owner {
        Owner {
            host: this_host(),
            pid: std::process::id(),
        }
    }

    /// `host:pid`, as stored.
    pub fn label(&self) -> String {
        format!("{}:{}", self.host, self.pid)
    }

    /// Whether this owner may still be working: a process of this host that still runs,
    /// or, on another host (or where processes cannot be looked up), a fresh heartbeat.
    fn may_be_alive(&self, heartbeat_age_seconds: i64) -> bool {
        if heartbeat_age_seconds > STALE_AFTER.as_secs() as i64 {
            return false;
        }
        let proc_fs = std::path::Path::new("/proc/self").exists();
        if self.host == this_host() && proc_fs {
            return std::path::Path::new(&format!("/proc/{}", self.pid)).exists();
        }
        true
    }
}

fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The trial is this runner's to train.
    Claimed,
    /// Another runner stored the trial meanwhile.
    Finished,
    /// Another live runner holds it.
    HeldBy(String),
}

impl Store {
    /// Claims trial `id` for `owner` unless it is stored (a failed trial counts as stored
    /// unless `retry_failed`) or claimed by another runner that may be alive.
    pub fn claim(&mut self, id: &str, owner: &Owner, retry_failed: bool) -> Result<ClaimOutcome> {
        let err = db_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let stored: Option<String> = tx
            .query_row("SELECT status FROM trials WHERE id = ?1", [id], |r| r.get(0))
            .optional()
            .map_err(&err)?;
        if stored.is_some_and(|s| !retry_failed || s != super::TrialStatus::Failed.name()) {
            return Ok(ClaimOutcome::Finished);
        }
        let holder: Option<(String, String, i64, i64)> = tx
            .query_row(
                "SELECT owner, host, pid, CAST((julianday('now') - julianday(heartbeat)) * 86400 AS INTEGER)
                 FROM claims WHERE trial_id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(&err)?;
        if let Some((label, host, pid, age)) = holder {
            let other = Owner { host, pid: pid as u32 };
            if other != *owner && other.may_be_alive(age) {
                return Ok(ClaimOutcome::HeldBy(label));
            }
        }
        tx.execute(
            "INSERT OR REPLACE INTO claims (trial_id, owner, host, pid, claimed_at, heartbeat)
             VALUES (?1, ?2, ?3, ?4, datetime('now'), datetime('now'))",
            params![id, owner.label(), owner.host, owner.pid as i64],
        )
        .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(ClaimOutcome::Claimed)
    }

    /// Refreshes the heartbeat of every claim `owner` holds.
    pub fn heartbeat(&self, owner: &Owner) -> Result<()> {
        self.conn
            .execute(
                "UPDATE claims SET heartbeat = datetime('now') WHERE owner = ?1",
                [owner.label()],
            )
            .map_err(db_err(&self.path))?;
        Ok(())
    }

    /// Removes every claim `owner` still holds (a runner stopping early).
    pub fn release_claims(&self, owner: &Owner) -> Result<()> {
        self.conn
            .execute("DELETE FROM claims WHERE owner = ?1", [owner.label()])
            .map_err(db_err(&self.path))?;
        Ok(())
    }
}
