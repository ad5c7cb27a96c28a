//! Scale-out on Slurm: one job array per submission, task k running shard k of the sweep
//! with the same binary into its own shard store (SQLite files are never shared between
//! writers, which NFS would not survive). Re-submitting runs only the shards that still
//! miss trials; `collect` merges the shard stores. Every user value that reaches the
//! script is checked first (see [`checks`]) and quoted for the reader it meets: the shell,
//! or sbatch's own `#SBATCH` parser.

mod checks;

pub use checks::sweep_name as check_sweep_name;

use super::spec::SweepSpec;
use super::store::Store;
use crate::error::{OccamError, Result, write_atomic};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Everything that shapes the generated sbatch script.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The directory (on the shared file system) for the spec copy, shard stores and logs.
    pub dir: PathBuf,
    pub shards: usize,
    pub cpus: usize,
    pub partition: Option<String>,
    pub array_throttle: Option<usize>,
    pub time: Option<String>,
    pub mem: Option<String>,
    /// Extra `#SBATCH` options, one per entry (e.g. `--account=lab`).
    pub extra_sbatch: Vec<String>,
    /// The `occam` binary the tasks run (this one, by default).
    pub binary: PathBuf,
    /// Where each task's `sweep run` trains (`--device`, passed through; a GPU must also
    /// be requested from Slurm, e.g. `--gres=gpu:1` in `extra_sbatch`).
    pub device: crate::compute::Device,
    /// `--gpu-jobs` of each task's `sweep run` on a GPU (its default when `None`).
    pub gpu_jobs: Option<usize>,
}

/// The shard store of task `k` of `n`.
pub fn shard_store(dir: &Path, k: usize, n: usize) -> PathBuf {
    dir.join("shards").join(format!("shard-{k:05}-of-{n:05}.sqlite"))
}

/// Every shard store present in `dir`.
pub fn shard_stores(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("shards"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "sqlite"))
        .collect();
    v.sort();
    v
}

/// The Slurm job name of a sweep.
pub fn job_name(spec: &SweepSpec) -> String {
    let clean: String = spec
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("occam-{clean}")
}

/// Shards (of `n`) whose store lacks at least one of their trials. The spec is expanded
/// and hashed once; each shard store is opened once.
pub fn incomplete_shards(spec: &SweepSpec, dir: &Path, n: usize) -> Result<Vec<usize>> {
    let mut ids_by_shard: Vec<Vec<String>> = vec![Vec::new(); n];
    for (i, t) in spec.trials().iter().enumerate() {
        ids_by_shard[i % n].push(t.id());
    }
    let mut out = Vec::new();
    for (k, ids) in ids_by_shard.iter().enumerate().filter(|(_, ids)| !ids.is_empty()) {
        let path = shard_store(dir, k, n);
        let done = if path.exists() {
            Store::open_existing(&path)?.finished_ids(false)?
        } else {
            Default::default()
        };
        if ids.iter().any(|id| !done.contains(id)) {
            out.push(k);
        }
    }
    Ok(out)
}

/// `0-3,5,7-9`: a compact Slurm array index list.
pub fn array_list(tasks: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < tasks.len() {
        let mut j = i;
        while j + 1 < tasks.len() && tasks[j + 1] == tasks[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            tasks[i].to_string()
        } else {
            format!("{}-{}", tasks[i], tasks[j])
        });
        i = j + 1;
    }
    parts.join(",")
}

/// Single-quotes a value for the shell: nothing inside is expanded.
fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

/// A path as UTF-8 text, or an error naming the option.
fn path_text<'a>(option: &str, p: &'a Path) -> Result<&'a str> {
    p.to_str()
        .ok_or_else(|| OccamError::config(format!("{option} {p:?} is not valid UTF-8: give a UTF-8 path")))
}

/// Checks every value of `opts` (and the sweep name) that goes into the script.
pub fn check_options(spec: &SweepSpec, opts: &SlurmOptions) -> Result<()> {
    checks::sweep_name(&spec.name)?;
    checks::counts(opts.shards, opts.cpus, opts.array_throttle)?;
    checks::dir(path_text("--dir", &opts.dir)?)?;
    checks::no_control(
        "the occam binary path",
        path_text("the occam binary path", &opts.binary)?,
    )?;
    if let Some(p) = &opts.partition {
        checks::partition(p)?;
    }
    if let Some(t) = &opts.time {
        checks::time(t)?;
    }
    if let Some(m) = &opts.mem {
        checks::mem(m)?;
    }
    for e in &opts.extra_sbatch {
        checks::extra_sbatch(e)?;
    }
    if let Some(k) = opts.gpu_jobs {
        if !opts.device.is_cuda() {
            return Err(OccamError::config(format!(
                "--gpu-jobs {k}: applies to --device cuda only (leave --gpu-jobs out, or add --device cuda)"
            )));
        }
        crate::limits::in_range("--gpu-jobs", k, 1, super::device::MAX_GPU_JOBS)?;
    }
    Ok(())
}

/// A value for an `#SBATCH` line in sbatch's own quoting (double quotes, `\"` for a quote),
/// as a file name pattern with `%` kept literal (`%%`). The value holds no backslash
/// (refused by the checks: Slurm would drop it and stop expanding the pattern).
fn sbatch_file_pattern(literal: &str, pattern: &str) -> String {
    let escaped = literal.replace('"', "\\\"").replace('%', "%%");
    format!("\"{escaped}{pattern}\"")
}

/// The sbatch script for the given array tasks. The spec is read from `dir/spec.toml`.
/// Fails, naming the option, on a value that cannot go into a script safely.
pub fn sbatch_script(spec: &SweepSpec, opts: &SlurmOptions, tasks: &[usize]) -> Result<String> {
    check_options(spec, opts)?;
    let n = opts.shards;
    let dir = path_text("--dir", &opts.dir)?;
    let binary = path_text("the occam binary path", &opts.binary)?;
    let mut s = String::from("#!/bin/bash\n");
    s += &format!("#SBATCH --job-name={}\n", job_name(spec));
    let throttle = opts.array_throttle.map(|t| format!("%{t}")).unwrap_or_default();
    s += &format!("#SBATCH --array={}{throttle}\n", array_list(tasks));
    s += &format!("#SBATCH --cpus-per-task={}\n#SBATCH --ntasks=1\n", opts.cpus);
    s += &format!("#SBATCH --output={}\n", sbatch_file_pattern(dir, "/logs/%x-%A_%a.out"));
    s += "#SBATCH --requeue\n";
    if let Some(p) = &opts.partition {
        s += &format!("#SBATCH --partition={p}\n");
    }
    if let Some(t) = &opts.time {
        s += &format!("#SBATCH --time={t}\n");
    }
    if let Some(m) = &opts.mem {
        s += &format!("#SBATCH --mem={m}\n");
    }
    for e in &opts.extra_sbatch {
        s += &format!("#SBATCH {e}\n");
    }
    s += &format!(
        "# Sweep {}: task k runs shard k/{n} into its own store; finished trials are skipped,\n\
         # so a requeued or re-submitted task only completes what is missing.\n\
         set -euo pipefail\n\
         export OCCAM_SQLITE_JOURNAL=DELETE   # no WAL shared-memory file on network file systems\n\
         k=\"$SLURM_ARRAY_TASK_ID\"\n\
         store=\"$(printf '%s/shards/shard-%05d-of-%05d.sqlite' {} \"$k\" {n})\"\n\
         exec {} --threads {}{} sweep run {} --store \"$store\" --shard \"$k/{n}\"{} --quiet\n",
        spec.name,
        quote(dir),
        quote(binary),
        opts.cpus,
        device_option(opts.device),
        quote(path_text("--dir", &opts.dir.join("spec.toml"))?),
        opts.gpu_jobs
            .map(|k| format!(" --gpu-jobs {}", quote(&k.to_string())))
            .unwrap_or_default(),
    );
    Ok(s)
}

/// ` --device VALUE` for a GPU (quoted like every value), nothing for the CPU (the default),
/// so CPU scripts are as before.
fn device_option(device: crate::compute::Device) -> String {
    if device.is_cuda() {
        format!(" --device {}", quote(&device.to_string()))
    } else {
        String::new()
    }
}

/// What a submission did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Submission {
    pub job_id: Option<String>,
    pub tasks: Vec<usize>,
    pub script: PathBuf,
}

/// Prepares `dir` (spec copy, shard and log folders, the script) and, unless `dry_run`,
/// submits the array of shards that still miss trials with `sbatch`. Every option is
/// checked before anything is written; a dry run writes nothing at all.
pub fn submit(spec_path: &Path, opts: &SlurmOptions, dry_run: bool) -> Result<(Submission, String)> {
    let spec = SweepSpec::from_toml_file(spec_path)?;
    check_options(&spec, opts)?;
    let text = crate::data::read_text_file(spec_path, "a sweep spec (TOML)")?.into_bytes();
    let frozen = opts.dir.join("spec.toml");
    if frozen.exists() && std::fs::read(&frozen).map_err(|e| OccamError::io(&frozen, e))? != text {
        return Err(OccamError::bad_file(
            &frozen,
            format!(
                "differs from {}: this directory belongs to another version of the sweep; use a new directory",
                spec_path.display()
            ),
        ));
    }
    let tasks = incomplete_shards(&spec, &opts.dir, opts.shards)?;
    let script = sbatch_script(&spec, opts, &tasks)?;
    let script_path = opts.dir.join("submit.sbatch");
    let mut submission = Submission {
        job_id: None,
        tasks: tasks.clone(),
        script: script_path.clone(),
    };
    if dry_run {
        return Ok((submission, script));
    }
    for sub in ["shards", "logs"] {
        let d = opts.dir.join(sub);
        std::fs::create_dir_all(&d).map_err(|e| OccamError::io(&d, e))?;
    }
    write_atomic(&frozen, &text)?;
    write_atomic(&script_path, script.as_bytes())?;
    if tasks.is_empty() {
        return Ok((submission, script));
    }
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&script_path)
        .output()
        .map_err(|e| OccamError::config(format!("running sbatch: {e} (is Slurm installed and SLURM_CONF set?)")))?;
    if !out.status.success() {
        return Err(OccamError::config(format!(
            "sbatch {} failed: {}",
            script_path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let id = String::from_utf8_lossy(&out.stdout)
        .trim()
        .split(';')
        .next()
        .unwrap_or("")
        .to_string();
    submission.job_id = Some(id.clone());
    let log = opts.dir.join("submissions.jsonl");
    let mut previous = std::fs::read_to_string(&log).unwrap_or_default();
    previous += &(serde_json::json!({"job_id": id, "tasks": tasks, "shards": opts.shards}).to_string() + "\n");
    write_atomic(&log, previous.as_bytes())?;
    Ok((submission, script))
}

/// Array tasks of a sweep's jobs in the queue, by state (PENDING, RUNNING, …), from
/// `squeue`. `None` when squeue is not available.
pub fn queue_states(spec: &SweepSpec) -> Option<BTreeMap<String, Vec<String>>> {
    let out = Command::new("squeue")
        .args(["-h", "-r", "-n", &job_name(spec), "-o", "%T %i"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let mut states: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some((state, id)) = line.trim().split_once(' ') {
            states.entry(state.to_string()).or_default().push(id.to_string());
        }
    }
    Some(states)
}
