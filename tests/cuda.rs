//! The CUDA backend against the CPU backend, and `--device` at the command line.
//!
//! The comparisons run only where a GPU opens (built with `--features cuda`, a driver, a
//! GPU, NVRTC and cuBLAS on the library path). Where CUDA is not available (the backend's
//! error starts "CUDA is not available") each prints one `skipped:` line; any other failure
//! to open the GPU (the kernels do not compile or load, a library lacks a function, …)
//! fails the test, and with `OCCAM_REQUIRE_GPU=1` (set by scripts/gpu-check.sh) every
//! failure to open the GPU fails it, so a GPU run cannot pass by skipping.
//! Tolerances, stated per test: elementwise kernels (optimizer updates, region codes, the
//! per-point Gram sums) are the CPU's arithmetic and must match bit for bit; anything
//! through cuBLAS sums in another order and is compared relatively.
//!
//! On the GPU machine the tests run from a copied binary: `OCCAM_BIN` names the `occam`
//! binary to run (scripts/gpu-check.sh sets it), else the one cargo built.
//!
//! `sweep run --device cuda`: without a GPU it must fail before any trial (and before the
//! store is created or changed); with one, a sweep's metrics match the CPU sweep's within
//! the training tolerances above, and K trials at once store the same bits as one at a time.

mod common;

use std::path::Path;
use std::process::Output;

fn occam(args: &[&str]) -> Output {
    let bin = std::env::var_os("OCCAM_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_occam").into());
    std::process::Command::new(bin).args(args).output().expect("run occam")
}

/// Asserts a clean refusal: exit status 1 (not a signal), every `needles` in stderr, no
/// panic, no internal error.
fn assert_refused(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "succeeded: {stderr}");
    assert!(out.status.code().is_some(), "killed by a signal: {stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "stderr lacks {needle:?}: {stderr}");
    }
    assert!(
        !stderr.contains("panicked") && !stderr.contains("internal error"),
        "{stderr}"
    );
}

#[test]
fn a_bad_device_is_refused_naming_the_option_and_what_is_valid() {
    for bad in ["bogus", "cuda:x", "cuda:-1", "cuda:4096", "tpu"] {
        let out = occam(&["--device", bad, "bench", "train", "--quick"]);
        assert_refused(&out, &["--device", bad, "valid values are cpu, cuda"]);
    }
}

#[test]
fn commands_that_run_on_the_cpu_only_refuse_a_gpu() {
    let out = occam(&["--device", "cuda", "sweep", "plan", "no-such-spec.toml"]);
    assert_refused(&out, &["--device cuda:0", "`occam sweep plan` runs on the CPU only"]);
    let out = occam(&[
        "--device",
        "cuda",
        "sweep",
        "export",
        "no-such-store.sqlite",
        "--csv",
        "x.csv",
    ]);
    assert_refused(&out, &["--device cuda:0", "`occam sweep export` runs on the CPU only"]);
    let out = occam(&[
        "--device",
        "cuda:1",
        "evaluate",
        "--model",
        "m.safetensors",
        "--data",
        "x",
    ]);
    assert_refused(&out, &["--device cuda:1", "`occam evaluate` runs on the CPU only"]);
}

/// What a GPU test does when the CUDA backend does not open.
#[derive(Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
enum NoGpu {
    /// Print a `skipped:` line and pass: this machine has no CUDA.
    Skip,
    /// Fail: a GPU is expected, or CUDA is there but broken.
    Fail,
}

/// Skip only where CUDA is absent (the backend's error starts "CUDA is not available") and
/// no GPU is required (`OCCAM_REQUIRE_GPU=1`); every other failure fails the test.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn when_the_gpu_does_not_open(error: &str, required: bool) -> NoGpu {
    if !required && error.starts_with("CUDA is not available") {
        NoGpu::Skip
    } else {
        NoGpu::Fail
    }
}

#[test]
fn only_an_absent_cuda_is_a_skip_and_never_where_a_gpu_is_required() {
    let absent = "CUDA is not available: the NVIDIA driver library libcuda.so.1 was not found";
    let broken = "CUDA device 0: the driver (CUDA 13.0) could not load the kernels NVRTC 13.2 compiled for sm_90";
    assert_eq!(when_the_gpu_does_not_open(absent, false), NoGpu::Skip);
    assert_eq!(when_the_gpu_does_not_open(broken, false), NoGpu::Fail);
    assert_eq!(when_the_gpu_does_not_open(absent, true), NoGpu::Fail);
    assert_eq!(when_the_gpu_does_not_open(broken, true), NoGpu::Fail);
}

/// Whether a GPU opens here (always false without the `cuda` feature).
fn gpu_present() -> bool {
    #[cfg(feature = "cuda")]
    {
        occam::compute::cuda::CudaBackend::new(0, 1).is_ok()
    }
    #[cfg(not(feature = "cuda"))]
    {
        false
    }
}

#[test]
fn device_cuda_without_a_gpu_fails_at_once_naming_cuda() {
    if gpu_present() {
        eprintln!("skipped: a GPU is present (this test checks the refusal on machines without one)");
        return;
    }
    let out = occam(&["--device", "cuda", "bench", "train", "--quick"]);
    assert_refused(&out, &["--device cuda:0", "CUDA"]);
    assert!(out.stdout.is_empty(), "no benchmark ran");
    let out = occam(&["--device", "cuda:3", "bench", "jacobian", "--quick"]);
    assert_refused(&out, &["--device cuda:3", "CUDA"]);
}

/// The train rows of `occam [--device D] bench train --quick`, each checked to have read one
/// parameter value back after its steps (what makes a GPU step's time include its backward
/// pass and update, which are still queued when the loss comes back).
fn bench_train_rows(device: &str) -> Vec<serde_json::Value> {
    let out = occam(&["--device", device, "bench", "train", "--quick"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("a JSON row"))
        .collect();
    assert_eq!(rows.len(), 4, "four train configurations");
    for r in &rows {
        let read = r["result"]["last_param_read"].as_f64();
        assert!(read.is_some_and(f64::is_finite), "no parameter read back: {r}");
        assert_eq!(r["device"], device, "{r}");
    }
    rows
}

#[test]
fn bench_train_reads_a_parameter_back_after_each_step() {
    bench_train_rows("cpu");
}

/// A 3-trial sweep (widths 16, 24, 32; 100 steps) on a small MNIST-like dataset, with
/// Jacobian norms and exact transitions: (spec path, store path).
fn sweep_fixture(dir: &Path) -> (String, String) {
    common::write_mnist_like(&dir.join("data"), 300, 60, 6, true);
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        format!(
            "name = \"gpu-sweep\"\n[axes]\ndata = [\"mnist:{}\"]\nwidth = [16, 24, 32]\ndepth = [2]\nbatch = [32]\n\
             steps = [100]\nseed = [1]\n[measure]\njacobian_points = 40\n[measure.transitions]\n\
             trajectory = \"translate\"\ncount = 2\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    (
        spec.display().to_string(),
        dir.join("store.sqlite").display().to_string(),
    )
}

/// The bytes of every file of a store (the database and any journal beside it), by name.
fn store_files(store: &Path) -> Vec<(String, Vec<u8>)> {
    let name = store.file_name().unwrap().to_string_lossy().into_owned();
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(store.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(&name))
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

#[test]
fn sweep_run_on_cuda_without_a_gpu_fails_before_any_trial_and_leaves_the_store_alone() {
    if gpu_present() {
        eprintln!("skipped: a GPU is present (this test checks the refusal on machines without one)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = sweep_fixture(tmp.path());
    // A new store is not even created.
    for extra in [&[][..], &["--gpu-jobs", "2"][..]] {
        let mut args = vec!["--device", "cuda", "sweep", "run", &spec, "--store", &store, "--quiet"];
        args.extend_from_slice(extra);
        let out = occam(&args);
        assert_refused(&out, &["--device cuda:0", "CUDA"]);
        assert!(out.stdout.is_empty(), "no summary: nothing ran");
        assert!(!Path::new(&store).exists(), "the store was created");
    }
    // An existing store with one trial of three is left as it was, byte for byte.
    let first = common::ok(&["sweep", "run", &spec, "--store", &store, "--shard", "0/3", "--quiet"]);
    assert!(first.status.success());
    assert_eq!(common::stored_results(Path::new(&store)).len(), 1);
    let before = store_files(Path::new(&store));
    let out = occam(&[
        "--device", "cuda:0", "sweep", "run", &spec, "--store", &store, "--quiet",
    ]);
    assert_refused(&out, &["--device cuda:0", "CUDA"]);
    assert_eq!(store_files(Path::new(&store)), before, "the store changed");
    // reproduce goes through the same door.
    let out = occam(&[
        "--device",
        "cuda",
        "reproduce",
        "--quick",
        "--only",
        "fig6-per-point",
        "--out",
        &tmp.path().join("repro").display().to_string(),
    ]);
    assert_refused(&out, &["--device cuda:0", "CUDA"]);
    assert!(!tmp.path().join("repro").exists(), "reproduce wrote before failing");
}

#[test]
fn a_bad_device_or_gpu_jobs_for_a_sweep_is_refused_naming_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = sweep_fixture(tmp.path());
    let run = |pre: &[&str], post: &[&str]| {
        let mut args: Vec<&str> = pre.to_vec();
        args.extend(["sweep", "run", &spec, "--store", &store, "--quiet"]);
        args.extend_from_slice(post);
        occam(&args)
    };
    assert_refused(
        &run(&["--device", "bogus"], &[]),
        &["--device", "'bogus'", "valid values are cpu, cuda"],
    );
    // On the CPU --parallel sets the trials at once; --gpu-jobs is refused, not ignored.
    assert_refused(&run(&[], &["--gpu-jobs", "2"]), &["--gpu-jobs 2", "--device cuda only"]);
    assert_refused(
        &run(&["--device", "cpu"], &["--gpu-jobs", "1"]),
        &["--gpu-jobs 1", "--device cuda only"],
    );
    // Out of range or not a number (checked before any GPU is looked for).
    for bad in ["0", "65", "x", "1.5"] {
        assert_refused(
            &run(&["--device", "cuda"], &["--gpu-jobs", bad]),
            &["--gpu-jobs", bad, "valid values are 1 to 64"],
        );
    }
    // On a GPU --gpu-jobs sets the trials at once; --parallel is refused (checked before
    // the GPU is opened, so this holds on every machine).
    assert_refused(
        &run(&["--device", "cuda"], &["--parallel", "3"]),
        &["--parallel 3", "--gpu-jobs"],
    );
    assert!(!Path::new(&store).exists(), "a refused run created the store");
    let out = occam(&[
        "reproduce",
        "--quick",
        "--gpu-jobs",
        "2",
        "--out",
        &tmp.path().join("repro").display().to_string(),
    ]);
    assert_refused(&out, &["--gpu-jobs 2", "--device cuda only"]);
}

#[test]
fn the_store_records_the_device_and_reads_older_stores_as_cpu() {
    use occam::compute::Device;
    let tmp = tempfile::tempdir().unwrap();
    let (spec, store) = sweep_fixture(tmp.path());
    common::ok(&["--device", "cpu", "sweep", "run", &spec, "--store", &store, "--quiet"]);
    let devices = || -> Vec<Device> {
        occam::sweep::Store::open_existing(Path::new(&store))
            .unwrap()
            .trials()
            .unwrap()
            .into_iter()
            .map(|r| r.device)
            .collect()
    };
    assert_eq!(devices(), vec![Device::Cpu; 3]);
    let column = |sql: &str| -> Vec<Option<String>> {
        let conn = rusqlite::Connection::open(&store).unwrap();
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(column("SELECT device FROM trials"), vec![Some("cpu".to_string()); 3]);
    assert_eq!(
        column("SELECT device FROM trials_wide"),
        vec![Some("cpu".to_string()); 3]
    );
    // A store written before the device column existed: read (read-only) as CPU trials,
    // and given the column (NULL, shown as cpu) by the next writer.
    let before = common::stored_results(Path::new(&store));
    rusqlite::Connection::open(&store)
        .unwrap()
        .execute_batch("DROP VIEW trials_wide; ALTER TABLE trials DROP COLUMN device;")
        .unwrap();
    assert_eq!(devices(), vec![Device::Cpu; 3]);
    let summary = common::ok(&["sweep", "run", &spec, "--store", &store, "--quiet"]);
    assert!(String::from_utf8_lossy(&summary.stdout).contains("\"already_done\":3"));
    assert_eq!(column("SELECT device FROM trials"), vec![None; 3]);
    assert_eq!(
        column("SELECT device FROM trials_wide"),
        vec![Some("cpu".to_string()); 3]
    );
    assert_eq!(devices(), vec![Device::Cpu; 3]);
    assert_eq!(common::stored_results(Path::new(&store)), before);
}

#[test]
fn slurm_tasks_get_the_device_and_gpu_jobs_quoted_and_cpu_scripts_stay_as_they_were() {
    use occam::compute::Device;
    use occam::sweep::slurm::{SlurmOptions, check_options, sbatch_script};
    let tmp = tempfile::tempdir().unwrap();
    let (spec_path, _) = sweep_fixture(tmp.path());
    let spec = occam::sweep::SweepSpec::from_toml_file(Path::new(&spec_path)).unwrap();
    let options = |device: Device, gpu_jobs: Option<usize>| SlurmOptions {
        dir: tmp.path().join("slurm"),
        shards: 2,
        cpus: 4,
        partition: None,
        array_throttle: None,
        time: None,
        mem: None,
        extra_sbatch: vec!["--gres=gpu:1".into()],
        binary: "/opt/occam".into(),
        device,
        gpu_jobs,
    };
    let gpu = sbatch_script(&spec, &options(Device::Cuda { ordinal: 0 }, Some(3)), &[0, 1]).unwrap();
    assert!(gpu.contains("#SBATCH --gres=gpu:1\n"), "{gpu}");
    assert!(
        gpu.contains("exec '/opt/occam' --threads 4 --device 'cuda:0' sweep run "),
        "{gpu}"
    );
    assert!(gpu.contains(" --gpu-jobs '3' --quiet\n"), "{gpu}");
    let default_jobs = sbatch_script(&spec, &options(Device::Cuda { ordinal: 1 }, None), &[0]).unwrap();
    assert!(default_jobs.contains("--device 'cuda:1' sweep run") && !default_jobs.contains("--gpu-jobs"));
    let cpu = sbatch_script(&spec, &options(Device::Cpu, None), &[0, 1]).unwrap();
    assert!(!cpu.contains("--device") && !cpu.contains("--gpu-jobs"), "{cpu}");
    assert!(cpu.contains("exec '/opt/occam' --threads 4 sweep run "), "{cpu}");
    for (device, jobs, wanted) in [
        (Device::Cpu, 2, "--gpu-jobs 2: applies to --device cuda only"),
        (
            Device::Cuda { ordinal: 0 },
            0,
            "--gpu-jobs = 0 is out of range: valid values are 1 to 64",
        ),
        (Device::Cuda { ordinal: 0 }, 65, "--gpu-jobs = 65 is out of range"),
    ] {
        let e = check_options(&spec, &options(device, Some(jobs)))
            .unwrap_err()
            .to_string();
        assert!(e.contains(wanted), "{e}");
    }
}

#[cfg(feature = "cuda")]
#[path = "cuda/gpu.rs"]
mod gpu;
