//! `occam report` and `occam reproduce`: from a store to a report, and the whole paper in
//! one command (the study specs of `studies/` are built into the binary).

use anyhow::{Result, bail};
use clap::Args;
use occam::report::write_report;
use occam::sweep::studies::BUILT_IN;
use occam::sweep::{RunOptions, Store, SweepSpec, run_sweep};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The SQLite store of one or more sweeps.
    store: PathBuf,
    /// Output directory for index.html, figures and report.json.
    #[arg(long)]
    out: PathBuf,
}

pub fn report(args: ReportArgs) -> Result<()> {
    let r = write_report(&args.store, &args.out)?;
    print_findings(&r.findings);
    println!("report: {}", args.out.join("index.html").display());
    Ok(())
}

fn print_findings(findings: &[occam::report::Finding]) {
    for f in findings {
        let verdict = match f.verdict {
            occam::report::Verdict::Reproduced => "REPRODUCED",
            occam::report::Verdict::NotReproduced => "NOT reproduced",
            occam::report::Verdict::NotMeasured => "not measured",
            occam::report::Verdict::NotValid => "not valid",
        };
        println!("Finding {}: {verdict}\n  {}\n  {}", f.number, f.claim, f.evidence);
    }
}

#[derive(Args, Debug)]
pub struct ReproduceArgs {
    /// The reduced-scale studies (Fashion-MNIST, about 7 minutes on 2 cores) instead of
    /// the paper-scale ones.
    #[arg(long)]
    quick: bool,
    /// Output directory: store.sqlite and report/ (default runs/reproduce[-quick]).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace every study's datasets by this one (e.g. mnist:/data/mnist).
    #[arg(long)]
    data: Option<String>,
    /// Run only these studies (comma-separated names, e.g. fig2-profiles,fig6-per-point).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Trials at the same time on the CPU (0 = one per core). With --device cuda,
    /// --gpu-jobs sets it instead.
    #[arg(long, default_value_t = 0, value_parser = super::thread_count)]
    parallel: usize,
    #[command(flatten)]
    gpu: super::sweep::GpuJobsArg,
    /// No progress bars or per-study lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

pub fn reproduce(args: ReproduceArgs) -> Result<()> {
    let started = Instant::now();
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from(if args.quick {
            "runs/reproduce-quick"
        } else {
            "runs/reproduce"
        })
    });
    if let Some(bad) = args.only.iter().find(|o| !BUILT_IN.iter().any(|s| s.0 == o.as_str())) {
        let names: Vec<&str> = BUILT_IN.iter().map(|s| s.0).collect();
        bail!("unknown study '{bad}': the studies are {}", names.join(", "));
    }
    let (device, gpu_jobs) = args.gpu.open(args.parallel)?;
    let store_path = out.join("store.sqlite");
    let mut store = Store::open(&store_path)?;
    // Studies with failed trials: reported after every study ran and the report is written.
    let mut failures = Vec::new();
    for (name, quick, paper) in BUILT_IN {
        if !args.only.is_empty() && !args.only.iter().any(|o| o == name) {
            continue;
        }
        let mut spec: SweepSpec = toml::from_str(if args.quick { quick } else { paper })
            .map_err(|e| anyhow::anyhow!("built-in study {name}: {e}"))?;
        if let Some(d) = &args.data {
            spec.axes.data = vec![d.clone()];
        }
        spec.validate(&format!("built-in study {name}"))?;
        let t = Instant::now();
        if !args.quiet {
            eprintln!("study {name}: {} trials — {}", spec.trials().len(), spec.description);
        }
        let opts = RunOptions {
            cores: super::threads(),
            parallel: args.parallel,
            progress: !args.quiet,
            device: device.clone(),
            gpu_jobs,
            ..Default::default()
        };
        let summary = run_sweep(&spec, &mut store, &opts)?;
        println!(
            "{}",
            json!({"study": name, "summary": summary, "seconds": t.elapsed().as_secs_f64()})
        );
        if let Err(e) = super::sweep::report_results(&spec.name, &store_path, &summary) {
            failures.push(e.to_string());
        }
    }
    let r = write_report(&out.join("store.sqlite"), &out.join("report"))?;
    print_findings(&r.findings);
    println!(
        "report: {}  (total wall time {:.0} s)",
        out.join("report/index.html").display(),
        started.elapsed().as_secs_f64()
    );
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}
