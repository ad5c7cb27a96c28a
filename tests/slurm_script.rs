//! The generated sbatch script with hostile values: run under real bash, nothing injected
//! runs and the store path is exactly the intended one; control characters and malformed
//! Slurm values are refused naming the option; a dry run writes nothing.

mod common;

use common::ok;

use occam::sweep::SweepSpec;
use occam::sweep::slurm::{SlurmOptions, sbatch_script};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SPEC: &str = "name = \"t\"\n[axes]\ndata = [\"fashion-mnist\"]\nwidth = [8]\nsteps = [20]\nseed = [1, 2, 3]\n\
                    [fixed]\ntrain_size = 200\n[measure]\njacobian_points = 20\n";

/// A directory name holding every shell and format metacharacter the issue lists.
const HOSTILE: &str = "x'$(touch PWNED1)'`touch PWNED2` %d %s %05d a\"b c#d $HOME ;touch PWNED3";

fn options(dir: PathBuf, binary: PathBuf) -> SlurmOptions {
    SlurmOptions {
        dir,
        shards: 8,
        cpus: 2,
        partition: Some("cpu".into()),
        array_throttle: Some(4),
        time: Some("1-02:00:00".into()),
        mem: Some("4G".into()),
        extra_sbatch: vec!["--account=lab".into()],
        binary,
        device: Default::default(),
        gpu_jobs: None,
    }
}

/// Every file under `dir` whose name starts with PWNED.
fn injected_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            found.extend(injected_files(&p));
        } else if p.file_name().unwrap().to_string_lossy().starts_with("PWNED") {
            found.push(p);
        }
    }
    found
}

/// The argument of an `#SBATCH` line as sbatch reads it: backslash escapes the next
/// character, single or double quotes group, an unquoted space or '#' ends it.
fn sbatch_argument(line: &str) -> String {
    let (mut out, mut quote, mut escaped) = (String::new(), None, false);
    for c in line.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
            continue;
        } else if let Some(q) = quote {
            if c == q {
                quote = None;
                continue;
            }
        } else if c == '"' || c == '\'' {
            quote = Some(c);
            continue;
        } else if c == ' ' || c == '#' {
            break;
        }
        out.push(c);
    }
    assert!(quote.is_none(), "unmatched quote in {line}");
    out
}

#[test]
fn hostile_directory_values_run_nothing_under_bash_and_reach_the_binary_intact() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(HOSTILE);
    // The stand-in for occam (itself in a hostile directory) records its argv, NUL-separated.
    let bin_dir = tmp.path().join("bin'$(touch PWNED4)'");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let stub = bin_dir.join("occam");
    std::fs::write(&stub, "#!/bin/bash\nprintf '%s\\0' \"$@\" > \"$ARGV_OUT\"\n").unwrap();
    Command::new("chmod").arg("+x").arg(&stub).status().unwrap();
    let spec: SweepSpec = toml::from_str(SPEC).unwrap();
    let script = sbatch_script(&spec, &options(dir.clone(), stub), &[0, 1, 2, 3]).unwrap();
    let script_path = tmp.path().join("submit.sbatch");
    std::fs::write(&script_path, &script).unwrap();
    let argv_out = tmp.path().join("argv");
    let run = Command::new("bash")
        .arg(&script_path)
        .current_dir(tmp.path())
        .env("SLURM_ARRAY_TASK_ID", "3")
        .env("ARGV_OUT", &argv_out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "the script failed: {}\n{script}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(injected_files(tmp.path()), Vec::<PathBuf>::new(), "{script}");
    let argv: Vec<String> = std::fs::read_to_string(&argv_out)
        .unwrap()
        .split_terminator('\0')
        .map(String::from)
        .collect();
    let text = |p: PathBuf| p.to_str().unwrap().to_string();
    let expected = [
        "--threads".to_string(),
        "2".into(),
        "sweep".into(),
        "run".into(),
        text(dir.join("spec.toml")),
        "--store".into(),
        text(dir.join("shards").join("shard-00003-of-00008.sqlite")),
        "--shard".into(),
        "3/8".into(),
        "--quiet".into(),
    ];
    assert_eq!(argv, expected);
    // sbatch reads the log path with its own quoting; '%' of the directory stays literal.
    let output = script
        .lines()
        .filter_map(|l| l.strip_prefix("#SBATCH "))
        .find(|l| l.starts_with("--output="))
        .unwrap();
    let literal = dir.to_str().unwrap().replace('%', "%%");
    assert_eq!(sbatch_argument(output), format!("--output={literal}/logs/%x-%A_%a.out"));
    // Each #SBATCH line is one line: no value added a line of its own.
    assert_eq!(
        script.lines().filter(|l| l.starts_with("#SBATCH")).count(),
        10,
        "{script}"
    );
}

fn write_spec(dir: &Path, text: &str) -> String {
    let p = dir.join("spec.toml");
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn submit_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_occam"))
        .args(["sweep", "submit"])
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap()
}

#[test]
fn control_characters_are_refused_for_every_option() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), SPEC);
    let dir = tmp.path().join("d");
    let d = dir.to_str().unwrap();
    for bad in ["\n", "\r", "\x1b[31m"] {
        let hostile_dir = format!("{d}{bad}touch PWNED");
        for (option, value) in [
            ("--dir", hostile_dir.clone()),
            ("--mem", format!("4G{bad}touch PWNED")),
            ("--time", format!("01:00:00{bad}touch PWNED")),
            ("--partition", format!("cpu{bad}touch PWNED")),
            ("--extra-sbatch", format!("--account=lab{bad}touch PWNED")),
        ] {
            let mut args = vec![spec.as_str(), "--slurm", "--dry-run", option, &value];
            if option != "--dir" {
                args.extend(["--dir", d]);
            }
            let out = submit_in(tmp.path(), &args);
            let escaped = format!("{value:?}");
            common::refused(&out, &[option, &escaped]);
            assert!(!dir.exists() && !Path::new(&hostile_dir).exists());
        }
    }
    // The binary path and the sweep name (job and file names) through the library.
    let spec_value: SweepSpec = toml::from_str(SPEC).unwrap();
    let err = sbatch_script(
        &spec_value,
        &options(dir.clone(), PathBuf::from("/bin/occam\ntouch PWNED")),
        &[0],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("binary") && err.contains("\\n"), "{err}");
    let mut named = spec_value.clone();
    named.name = "t\ntouch PWNED".into();
    let err = sbatch_script(&named, &options(dir.clone(), PathBuf::from("/bin/occam")), &[0])
        .unwrap_err()
        .to_string();
    assert!(err.contains("sweep name") && err.contains("\\n"), "{err}");
}

#[test]
fn malformed_slurm_values_are_refused_naming_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), SPEC);
    let d = tmp.path().join("d");
    for (option, value, says) in [
        ("--mem", "4G;touch x", "K, M, G"),
        ("--time", "soon", "HH:MM:SS"),
        ("--partition", "cpu gpu", "partition names"),
        ("--extra-sbatch", "account=lab", "start with '-'"),
        ("--shards", "0", "1 to 1000000"),
        ("--dir", "/tmp/hetjob-x", "hetjob"),
        ("--dir", "/tmp/a\\b", "backslash"),
    ] {
        let mut args = vec![spec.as_str(), "--slurm", "--dry-run", option, value];
        if option != "--dir" {
            args.extend(["--dir", d.to_str().unwrap()]);
        }
        let out = submit_in(tmp.path(), &args);
        // Values are shown escaped where escaping changes them.
        let shown = format!("{value:?}");
        let shown = if value.contains('\\') { shown.as_str() } else { value };
        common::refused(&out, &[option, shown, says]);
    }
    assert!(!d.exists());
}

#[test]
fn a_dry_run_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), SPEC);
    let dir = tmp.path().join("new/slurm");
    let out = submit_in(
        tmp.path(),
        &[&spec, "--slurm", "--dry-run", "--dir", dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("#!/bin/bash\n"));
    assert!(!tmp.path().join("new").exists(), "--dry-run created the directory");
    // The default directory (runs/<name>-slurm) is not created either.
    let out = submit_in(tmp.path(), &[&spec, "--slurm", "--dry-run"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!tmp.path().join("runs").exists(), "--dry-run created runs/");
    let entries: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(entries, ["spec.toml"]);
}

#[test]
fn extra_sbatch_takes_values_starting_with_a_dash_as_the_readme_shows() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = write_spec(tmp.path(), SPEC);
    let out = ok(&[
        "sweep",
        "submit",
        &spec,
        "--slurm",
        "--dir",
        tmp.path().join("d").to_str().unwrap(),
        "--extra-sbatch",
        "--account=lab",
        "--extra-sbatch",
        "--qos=low",
        "--dry-run",
    ]);
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(
        script.contains("\n#SBATCH --account=lab\n#SBATCH --qos=low\n"),
        "{script}"
    );
}

#[test]
fn a_spec_name_cannot_lead_files_out_of_the_runs_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    for name in ["../../x", "a/b", ".hidden", ""] {
        let spec = write_spec(tmp.path(), &SPEC.replace("name = \"t\"", &format!("name = \"{name}\"")));
        let out = submit_in(&work, &[&spec, "--slurm"]);
        assert!(!out.status.success(), "name {name:?} accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("name"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let written: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(written.len(), 2, "only spec.toml and work/: {written:?}");
    assert_eq!(std::fs::read_dir(&work).unwrap().count(), 0);
}
