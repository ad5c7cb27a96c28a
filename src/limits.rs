//! Checks of user-given values before any work or allocation: a number against its valid
//! range (the message names the option or file, the value and the range), and a size
//! against the memory this machine has, so that no value a user can type aborts the
//! process or runs without end.

use crate::error::{OccamError, Result};

/// The most threads any option may ask for (`--threads`, `--parallel`, a Slurm task's
/// `--cpus`): far above any machine's cores, far below what would exhaust the process's
/// thread limit.
pub const MAX_THREADS: usize = 1024;

/// Fails unless `lo ≤ value ≤ hi`. `what` names the option or key, e.g. `--grid` or
/// `measure.regions.grid in spec.toml`.
pub fn in_range<T>(what: &str, value: T, lo: T, hi: T) -> Result<()>
where
    T: PartialOrd + std::fmt::Display,
{
    if value < lo || value > hi {
        return Err(OccamError::config(format!(
            "{what} = {value} is out of range: valid values are {lo} to {hi}"
        )));
    }
    Ok(())
}

/// Fails unless `value` is finite and `lo ≤ value ≤ hi` (NaN and ±inf are refused by name).
pub fn finite_in_range(what: &str, value: f64, lo: f64, hi: f64) -> Result<()> {
    if !value.is_finite() {
        return Err(OccamError::config(format!(
            "{what} = {value} is not a finite number: valid values are {lo} to {hi}"
        )));
    }
    in_range(what, value, lo, hi)
}

/// The process's address-space limit (`ulimit -v`, as schedulers set it), if any.
fn address_space_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Bytes of memory this process may use: the smallest of the memory available now
/// (`MemAvailable`), the cgroup limit and the address-space limit, where set. `None`
/// where none can be read.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok();
    let available = meminfo.as_deref().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|p| std::fs::read_to_string(p).ok())
    .find_map(|s| s.trim().parse::<u64>().ok());
    [available, cgroup, address_space_limit()].into_iter().flatten().min()
}

/// Gigabytes, for messages.
pub fn gb(bytes: f64) -> String {
    format!("{:.1} GB", bytes / 1e9)
}

/// Fails with "WHAT needs N GB, this machine has M GB available" when `bytes` (an
/// estimate, in f64 so that no product of user sizes can overflow) exceeds the memory
/// available. Where the available memory cannot be read, only estimates above 1 TB fail.
pub fn check_memory(what: &str, bytes: f64) -> Result<()> {
    let have = available_memory().map(|b| b as f64).unwrap_or(1e12);
    if !bytes.is_finite() || bytes > have {
        return Err(OccamError::config(format!(
            "{what} needs {}, this machine has {} available",
            gb(bytes),
            gb(have)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_option_value_and_bounds() {
        assert!(in_range("--grid", 2usize, 2, 4096).is_ok());
        let e = in_range("--grid", 1usize, 2, 4096).unwrap_err().to_string();
        assert!(
            e.contains("--grid") && e.contains('1') && e.contains("2 to 4096"),
            "{e}"
        );
        let e = finite_in_range("lr_decay_factor", f64::NAN, 0.0, 1.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("lr_decay_factor") && e.contains("NaN"), "{e}");
        assert!(finite_in_range("x", f64::INFINITY, 0.0, f64::MAX).is_err());
        assert!(finite_in_range("x", -1.0, 0.0, 1.0).is_err());
    }

    #[test]
    fn memory_check_refuses_impossible_sizes() {
        assert!(check_memory("a tiny run", 1e3).is_ok());
        let e = check_memory("width 1000000000", 3.1e12 * 1000.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("width 1000000000 needs") && e.contains("GB"), "{e}");
        assert!(check_memory("overflow", f64::INFINITY).is_err());
    }
}
