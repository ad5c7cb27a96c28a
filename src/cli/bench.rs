//! `occam bench`: times Occam on the workloads of `shared/bench/peers` (same shapes, same
//! batch, same step definition) so the two can be run side by side and compared.

mod transitions_scan;

use anyhow::Result;
use clap::{Args, ValueEnum};
use occam::compute::{Backend, Compute, DeviceNet, MatRef};
use occam::net::engine::BatchGradient;
use occam::net::{Activation, Mlp};
use occam::train;
use rand::RngExt;
use serde_json::json;
use std::time::Instant;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum Workload {
    Train,
    Jacobian,
    Transitions,
    Matmul,
    All,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(value_enum, default_value = "all")]
    workload: Workload,
    /// Fewer, shorter repetitions.
    #[arg(long)]
    quick: bool,
    /// Directory from `scripts/peers_to_safetensors.py`: count transitions on the peers'
    /// own networks and image (otherwise Occam draws its own).
    #[arg(long)]
    peers_dir: Option<std::path::PathBuf>,
    /// Also time dense sampling at these k (transitions, 2 to 2^30), e.g. --sample-k 65536,1048576.
    #[arg(long, value_delimiter = ',', default_values_t = vec![65536])]
    sample_k: Vec<usize>,
    /// Batch shards for the train step, 1 to 4096 (default 1, as training uses: the same
    /// bits at every thread count; more shards trade that for speed on narrow networks).
    #[arg(long)]
    shards: Option<usize>,
    /// Transitions: also scan these widths (1 to 65536), e.g. --widths 250,500,1000,2000,4000:
    /// exact counts along the translation loop at depth --scan-depth (random init), with
    /// seconds and crossings per width and the fitted growth exponents.
    #[arg(long, value_delimiter = ',')]
    widths: Vec<usize>,
    /// Points of the Jacobian workload, 16 to 1,000,000 (default 2000; 500 with --quick).
    #[arg(long)]
    points: Option<usize>,
    /// Depth of the networks of the width scan, 2 to 64.
    #[arg(long, default_value_t = 3)]
    scan_depth: usize,
    /// Also time the reference GEMM walk in the width scan (slow past width 2000).
    #[arg(long)]
    scan_gemm: bool,
}

/// Median of `reps` repetitions, each running `inner` calls of `f` and lasting at least
/// `min_rep` seconds; returns seconds per call (median, min, max).
fn time_it(mut f: impl FnMut(), reps: usize, min_rep: f64) -> (f64, f64, f64) {
    let t = Instant::now();
    f();
    let once = t.elapsed().as_secs_f64().max(1e-7);
    let inner = ((min_rep / once).ceil() as usize).max(1);
    let mut per_call: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..inner {
                f();
            }
            t.elapsed().as_secs_f64() / inner as f64
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    (per_call[reps / 2], per_call[0], per_call[reps - 1])
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, from /proc (Linux); 0 elsewhere.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

pub fn run(args: BenchArgs) -> Result<()> {
    for &k in &args.sample_k {
        occam::measure::ranges::samples("--sample-k", k)?;
    }
    if let Some(shards) = args.shards {
        occam::limits::in_range("--shards", shards, 1, 4096)?;
    }
    for &w in &args.widths {
        occam::limits::in_range("--widths", w, 1, 65536)?;
    }
    occam::limits::in_range("--scan-depth", args.scan_depth, 2, 64)?;
    if let Some(points) = args.points {
        occam::limits::in_range("--points", points, 16, 1_000_000)?;
    }
    let compute = Compute::new(super::threads());
    // Training steps and Jacobian norms run on --device; the matrix product and the
    // transition walks are host algorithms and always run on the CPU.
    let device = super::device();
    let chosen = super::device::open(device)?;
    let (reps, min_rep) = if args.quick { (3, 0.1) } else { (7, 0.25) };
    let threads = compute.threads();
    let mut rows = Vec::new();
    if matches!(args.workload, Workload::Matmul | Workload::All) {
        let n = 2048;
        let a: Vec<f32> = (0..n * n).map(|i| (i % 17) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; n * n];
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        let (med, min, max) = time_it(
            || compute.matmul(&mut c, MatRef::rows(&a, n, n), MatRef::rows(&a, n, n), false),
            5,
            0.0,
        );
        let cpu_per_wall = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64();
        let gflops = 2.0 * (n as f64).powi(3) / med / 1e9;
        rows.push(
            json!({"type": "measurement", "framework": "occam", "workload": "matmul", "config": {"n": n},
            "threads": threads, "median_s": med, "min_s": min, "max_s": max, "unit_value": gflops, "unit": "GFLOP/s",
            "cpu_per_wall": cpu_per_wall}),
        );
    }
    if matches!(args.workload, Workload::Train | Workload::All) {
        for (w, depth) in [(100, 3), (500, 3), (1000, 5), (2000, 3)] {
            let row =
                super::device::with_backend!(&chosen, b => bench_train_step(b, w, depth, reps, min_rep, args.shards));
            rows.push(row);
        }
    }
    if matches!(args.workload, Workload::Jacobian | Workload::All) {
        let points = args.points.unwrap_or(if args.quick { 500 } else { 2000 });
        for (w, depth) in [(200, 5), (1000, 3), (200, 20)] {
            let row = super::device::with_backend!(&chosen, b => bench_jacobian(b, w, depth, points, reps, min_rep));
            rows.push(row);
        }
    }
    super::device::check(&chosen)?;
    if matches!(args.workload, Workload::Transitions | Workload::All) {
        for (w, depth) in [(200, 5), (1000, 3)] {
            rows.extend(bench_transitions(&compute, w, depth, &args, reps, min_rep)?);
        }
    }
    let scan = if matches!(args.workload, Workload::Transitions) && !args.widths.is_empty() {
        transitions_scan::run(
            &compute,
            &args.widths,
            args.scan_depth,
            args.scan_gemm,
            reps,
            smooth_image(3),
        )?
    } else {
        Vec::new()
    };
    rows.extend(scan.iter().cloned());
    for r in &mut rows {
        let on_device = matches!(r["workload"].as_str(), Some("train" | "jacobian"));
        r["device"] = json!(if on_device { device.to_string() } else { "cpu".into() });
    }
    for r in &rows {
        println!("{r}");
    }
    println!(
        "\n{:<10} {:<16} {:>7} {:>12} {:>12} {:>12} {:>14} {:>9}",
        "workload", "config", "threads", "median", "min", "max", "throughput", "cpu/wall"
    );
    for r in &rows {
        println!(
            "{:<10} {:<16} {:>7} {:>10.3}ms {:>10.3}ms {:>10.3}ms {:>9.1} {:<5} {:>8.2}",
            r["workload"].as_str().unwrap(),
            r["config"].to_string().replace('"', ""),
            r["threads"],
            r["median_s"].as_f64().unwrap() * 1e3,
            r["min_s"].as_f64().unwrap() * 1e3,
            r["max_s"].as_f64().unwrap() * 1e3,
            r["unit_value"].as_f64().unwrap(),
            r["unit"].as_str().unwrap(),
            r["cpu_per_wall"].as_f64().unwrap(),
        );
    }
    transitions_scan::print_summary(&scan);
    Ok(())
}

/// `points` normalized Gaussian inputs (d = 784), as `peers.py` draws them.
fn gaussian_inputs(points: usize, seed: u64) -> Vec<f32> {
    let mut rng = occam::rng::rng_for(seed, occam::rng::Stream::Sweep);
    let mut x: Vec<f32> = (0..points * 784)
        .map(|_| rng.sample(rand_distr::StandardNormal))
        .collect();
    x.chunks_exact_mut(784).for_each(occam::data::normalize_row);
    x
}

/// Softmax-Jacobian Frobenius norms of `points` inputs, ReLU, 10 classes, as
/// `peers.py --workload jacobian`.
fn bench_jacobian<B: Backend>(
    backend: &B,
    width: usize,
    depth: usize,
    points: usize,
    reps: usize,
    min_rep: f64,
) -> serde_json::Value {
    let net = Mlp::random([28, 28, 1], width, depth, 10, Activation::Relu, 1.0, 20240602);
    let x = gaussian_inputs(points, 2);
    let device_net = DeviceNet::upload(backend, &net);
    let plan = occam::measure::jacobian::JacobianPlan::new(backend, &device_net);
    let mut mean = 0.0;
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let (med, min, max) = time_it(
        || {
            let r = plan.norms(backend, &x, None);
            mean = r.iter().map(|p| p.jacobian_norm).sum::<f64>() / points as f64;
        },
        reps.min(5),
        min_rep,
    );
    let cpu_per_wall = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64();
    json!({"type": "measurement", "framework": "occam", "workload": "jacobian", "config": {"w": width, "depth": depth, "n": points},
        "threads": backend.host().threads(), "median_s": med, "min_s": min, "max_s": max,
        "unit_value": points as f64 / med, "unit": "points/s", "cpu_per_wall": cpu_per_wall,
        "result": {"mean_jac_fro": mean}})
}

/// A smooth 28×28 image: white noise blurred by a periodic Gaussian (σ = 2 px) and
/// normalized, like the peers' translation image.
fn smooth_image(seed: u64) -> Vec<f32> {
    let mut rng = occam::rng::rng_for(seed, occam::rng::Stream::Trajectory);
    let g: Vec<f64> = (0..784).map(|_| rng.sample(rand_distr::StandardNormal)).collect();
    let kernel: Vec<f64> = (0..28)
        .map(|o: i32| {
            let o = o.min(28 - o) as f64;
            (-o * o / 8.0).exp()
        })
        .collect();
    let mut img = vec![0.0f32; 784];
    for y in 0..28 {
        for x in 0..28 {
            let mut s = 0.0;
            for v in 0..28 {
                for u in 0..28 {
                    s += g[v * 28 + u] * kernel[(y + 28 - v) % 28] * kernel[(x + 28 - u) % 28];
                }
            }
            img[y * 28 + x] = s as f32;
        }
    }
    occam::data::normalize_row(&mut img);
    img
}

/// Transitions along the translation loop of a smooth image, ReLU, as
/// `peers.py --workload transitions`: the exact count, and dense sampling at each k.
fn bench_transitions(
    compute: &Compute,
    width: usize,
    depth: usize,
    args: &BenchArgs,
    reps: usize,
    min_rep: f64,
) -> Result<Vec<serde_json::Value>> {
    use occam::measure::trajectory;
    use occam::measure::transitions::{self, ExactWalk};
    let (net, image) = match &args.peers_dir {
        Some(dir) => {
            let net = Mlp::load(&dir.join(format!("net_w{width}_d{depth}.safetensors")))?;
            let path = dir.join("image.f32");
            let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            (
                net,
                bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                    .collect(),
            )
        }
        None => (
            Mlp::random([28, 28, 1], width, depth, 10, Activation::Relu, 1.0, 20240603),
            smooth_image(3),
        ),
    };
    let traj = trajectory::translation(&image, [28, 28, 1]).expect("a 28x28 image");
    let mut rows = Vec::new();
    let mut row = |method: String, med: f64, min: f64, max: f64, cpw: f64, count: u64| {
        rows.push(
            json!({"type": "measurement", "framework": "occam", "workload": "transitions",
            "config": {"w": width, "depth": depth, "method": method}, "threads": compute.threads(),
            "median_s": med, "min_s": min, "max_s": max, "unit_value": count as f64, "unit": "crossings",
            "cpu_per_wall": cpw, "result": {"transitions": count}}),
        );
    };
    let mut count = 0;
    // "exact" is the default rank-1 walk; "exact-gemm" the reference GEMM walk.
    for (method, walk) in [("exact", ExactWalk::Rank1), ("exact-gemm", ExactWalk::Gemm)] {
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        let (med, min, max) = time_it(
            || {
                count =
                    transitions::exact_transitions_by(&net, compute, &traj, false, walk, transitions::COEF_BUDGET).total
            },
            reps,
            min_rep,
        );
        row(
            method.into(),
            med,
            min,
            max,
            (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64(),
            count,
        );
    }
    for &k in &args.sample_k {
        let (cpu0, wall0) = (cpu_seconds(), Instant::now());
        let (med, min, max) = time_it(
            || count = transitions::sampled_transitions(&net, compute, &traj, k, false).total,
            if k > 1 << 18 { 1 } else { 3 },
            0.0,
        );
        row(
            format!("sampled k={k}"),
            med,
            min,
            max,
            (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64(),
            count,
        );
    }
    Ok(rows)
}

/// One SGD-momentum step (lr 0.005) on a fixed batch of 256 normalized Gaussian inputs with
/// random labels, d = 784, 10 classes, ReLU, exactly as `peers.py --workload train`.
fn bench_train_step<B: Backend>(
    compute: &B,
    width: usize,
    depth: usize,
    reps: usize,
    min_rep: f64,
    shards: Option<usize>,
) -> serde_json::Value {
    let batch = 256;
    let net = Mlp::random([28, 28, 1], width, depth, 10, Activation::Relu, 1.0, 20240601);
    let mut rng = occam::rng::rng_for(1, occam::rng::Stream::Sweep);
    let mut x: Vec<f32> = (0..batch * 784)
        .map(|_| rng.sample(rand_distr::StandardNormal))
        .collect();
    x.chunks_exact_mut(784).for_each(occam::data::normalize_row);
    let labels: Vec<u16> = (0..batch).map(|_| rng.random_range(0..10)).collect();
    let shards = shards.unwrap_or(1);
    // As the training loop runs it: parameters, gradients and optimizer state in the
    // backend's buffers; the batch loaded once, as the peers keep theirs in one tensor.
    let mut step = BatchGradient::on(compute, &net, batch, shards);
    step.load(compute, batch, &mut |rows, dst| {
        dst.copy_from_slice(&x[rows.start * 784..rows.end * 784])
    });
    let lens: Vec<usize> = net.params().iter().map(Vec::len).collect();
    let mut device = DeviceNet::upload(compute, &net);
    let mut grads: Vec<Box<B::Buf>> = lens.iter().map(|&len| compute.alloc(len)).collect();
    let mut opt = train::OptimizerState::on(compute, train::OptimizerKind::Momentum, &lens).expect("step-wise");
    let mut losses = Vec::new();
    let mut last_param = [f32::NAN];
    let (cpu0, wall0) = (cpu_seconds(), Instant::now());
    let (med, min, max) = time_it(
        || {
            let s = step.compute_loaded(compute, &device, &labels, &mut grads);
            if losses.len() < 11 {
                losses.push(s.loss_sum / batch as f64);
            }
            opt.step_on(compute, device.params_mut(), &grads, 0.005);
            // A step is done when its update is: on a GPU the backward pass and the update are
            // still queued when the loss comes back, so read one value of the last parameter
            // updated (the peers synchronise every step too). On the CPU this is one copy.
            compute.read(&device.params_mut()[lens.len() - 1], &mut last_param);
        },
        reps,
        min_rep,
    );
    let cpu_per_wall = (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64();
    let p: usize = net.weights().iter().map(Vec::len).sum();
    let p1 = net.weights()[0].len();
    let flops = 2.0 * batch as f64 * (3 * p - p1) as f64;
    json!({"type": "measurement", "framework": "occam", "workload": "train", "config": {"w": width, "depth": depth, "shards": shards},
        "threads": compute.host().threads(), "median_s": med, "min_s": min, "max_s": max,
        "unit_value": flops / med / 1e9, "unit": "GFLOP/s", "steps_per_s": 1.0 / med, "cpu_per_wall": cpu_per_wall,
        "result": {"loss_step0": losses.first(), "loss_step10": losses.get(10), "last_param_read": last_param[0]}})
}
