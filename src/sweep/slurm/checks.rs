//! Checks of every value that goes into a generated sbatch script. Shell lines quote their
//! values, but `#SBATCH` lines are read by sbatch with its own rules (no shell quoting), and
//! a newline in any value would start a shell line of its own: so control characters are
//! refused everywhere, and the values of `#SBATCH` lines must match Slurm's formats.

use crate::error::{OccamError, Result};
use crate::limits::in_range;

/// Fails when `value` holds a newline or another control character.
pub fn no_control(option: &str, value: &str) -> Result<()> {
    if value.chars().any(char::is_control) {
        return Err(OccamError::config(format!(
            "{option} {value:?} contains a newline or another control character, which would break the \
             Slurm script: give a value without them"
        )));
    }
    Ok(())
}

/// A sweep name, as it appears in job names and file names: 1–64 of `A–Z a–z 0–9 . _ -`,
/// not starting with '.'.
pub fn sweep_name(name: &str) -> Result<()> {
    let safe = name.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if name.is_empty() || name.len() > 64 || !safe || name.starts_with('.') {
        return Err(OccamError::config(format!(
            "sweep name {name:?} cannot name Slurm jobs and files: use 1 to 64 of the characters \
             A-Z a-z 0-9 . _ - (not starting with '.')"
        )));
    }
    Ok(())
}

/// `--dir`: no control characters, no backslash (Slurm drops it from file names and then
/// stops expanding `%` patterns), and not a word sbatch blanks out of its lines.
pub fn dir(value: &str) -> Result<()> {
    no_control("--dir", value)?;
    if value.contains('\\') {
        return Err(OccamError::config(format!(
            "--dir {value:?} contains a backslash, which Slurm drops from log file names: choose a \
             directory without one"
        )));
    }
    let lower = value.to_ascii_lowercase();
    if lower.contains("packjob") || lower.contains("hetjob") {
        return Err(OccamError::config(format!(
            "--dir {value:?} contains 'packjob' or 'hetjob', which sbatch removes from #SBATCH lines: \
             choose another directory"
        )));
    }
    Ok(())
}

/// `--mem`: a whole number with an optional unit K, M, G or T (e.g. 4G, 500M, 16000).
pub fn mem(value: &str) -> Result<()> {
    no_control("--mem", value)?;
    let digits = value.trim_end_matches(['K', 'M', 'G', 'T', 'k', 'm', 'g', 't']);
    let unit_len = value.len() - digits.len();
    if digits.is_empty() || unit_len > 1 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(OccamError::config(format!(
            "--mem {value:?} is not a Slurm memory size: give a whole number with an optional unit K, M, G \
             or T (e.g. 4G)"
        )));
    }
    Ok(())
}

/// `--time`: Slurm's formats MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS, or UNLIMITED.
pub fn time(value: &str) -> Result<()> {
    no_control("--time", value)?;
    let numbers = |s: &str, most: usize| {
        let parts: Vec<&str> = s.split(':').collect();
        parts.len() <= most
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    };
    let valid = match value.split_once('-') {
        _ if value.eq_ignore_ascii_case("unlimited") || value.eq_ignore_ascii_case("infinite") => true,
        Some((days, rest)) => numbers(days, 1) && numbers(rest, 3),
        None => numbers(value, 3),
    };
    if !valid {
        return Err(OccamError::config(format!(
            "--time {value:?} is not a Slurm time limit: give MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS \
             or UNLIMITED (e.g. 12:00:00)"
        )));
    }
    Ok(())
}

/// `--partition`: partition names (comma-separated) of `A–Z a–z 0–9 . _ -`.
pub fn partition(value: &str) -> Result<()> {
    no_control("--partition", value)?;
    let name_ok = |p: &str| {
        !p.is_empty() && !p.starts_with('-') && p.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    };
    if !value.split(',').all(name_ok) {
        return Err(OccamError::config(format!(
            "--partition {value:?} is not a list of Slurm partition names: use the characters A-Z a-z 0-9 . _ - \
             (several names separated by commas)"
        )));
    }
    Ok(())
}

/// `--extra-sbatch`: an sbatch option, starting with '-' (e.g. --account=lab).
pub fn extra_sbatch(value: &str) -> Result<()> {
    no_control("--extra-sbatch", value)?;
    if !value.starts_with('-') {
        return Err(OccamError::config(format!(
            "--extra-sbatch {value:?} is not an sbatch option: it must start with '-' (e.g. --account=lab)"
        )));
    }
    Ok(())
}

/// The counts of a submission.
pub fn counts(shards: usize, cpus: usize, throttle: Option<usize>) -> Result<()> {
    in_range("--shards", shards, 1, 1_000_000)?;
    // Each task runs `occam --threads CPUS`, so CPUS is bounded like --threads.
    in_range("--cpus", cpus, 1, crate::limits::MAX_THREADS)?;
    if let Some(t) = throttle {
        in_range("--array-throttle", t, 1, 1_000_000)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slurm_formats() {
        for ok in ["4G", "500m", "16000"] {
            mem(ok).unwrap();
        }
        for bad in ["", "G", "4GB", "4 G", "4G;x", "-4G"] {
            assert!(mem(bad).is_err(), "{bad}");
        }
        for ok in ["30", "30:00", "12:00:00", "2-12", "2-12:30", "2-12:30:00", "UNLIMITED"] {
            time(ok).unwrap();
        }
        for bad in ["", "1:2:3:4", "x", "1-", "-1", "12:00:00 #", "1--2"] {
            assert!(time(bad).is_err(), "{bad}");
        }
        partition("cpu,gpu_a100").unwrap();
        for bad in ["", "a b", "-x", "cpu,", "a$b"] {
            assert!(partition(bad).is_err(), "{bad}");
        }
        extra_sbatch("--account=lab").unwrap();
        assert!(extra_sbatch("account=lab").is_err());
        assert!(extra_sbatch("--account=lab\ntouch x").is_err());
        for bad in ["", ".x", "a/b", "..", "a b", &"x".repeat(65)] {
            assert!(sweep_name(bad).is_err(), "{bad}");
        }
        sweep_name("fig5-random_sweep.v2").unwrap();
    }
}
