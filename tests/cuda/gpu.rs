//! The CUDA backend against the CPU backend, where a GPU opens: gradients, optimizer
//! updates, Grams and region codes, products and NaN handling, Jacobian norms, a 100-step
//! training run, `occam bench` and sweeps on the GPU (tolerances stated per test; see the
//! parent file for when these skip and when they fail).

use super::common::lcg_vec;
use occam::compute::cuda::CudaBackend;
use occam::compute::{Backend, Compute, DeviceNet, Operand, UpdateRule};
use occam::data::{Dataset, Splits};
use occam::net::engine::{self, Workspace};
use occam::net::{Activation, Mlp};
use occam::train::{OptimizerKind, TrainConfig, TrainHooks};

fn gpu() -> Option<CudaBackend> {
    let required = std::env::var("OCCAM_REQUIRE_GPU").is_ok_and(|v| v == "1");
    open_gpu(required)
}

/// GPU 0, or None (with a `skipped:` line) where CUDA is not available and no GPU is
/// required; any other failure panics, failing the test.
fn open_gpu(required: bool) -> Option<CudaBackend> {
    match CudaBackend::new(0, 2) {
        Ok(g) => Some(g),
        Err(e) => {
            let why = e.to_string();
            match super::when_the_gpu_does_not_open(&why, required) {
                super::NoGpu::Skip => {
                    eprintln!("skipped: no GPU here ({why})");
                    None
                }
                super::NoGpu::Fail => panic!("a GPU was expected but the CUDA backend did not open: {why}"),
            }
        }
    }
}

#[test]
fn a_required_gpu_that_does_not_open_fails_the_test() {
    if CudaBackend::new(0, 1).is_ok() {
        eprintln!("skipped: a GPU is present (this test checks the failure without one)");
        return;
    }
    let failed = std::panic::catch_unwind(|| open_gpu(true));
    assert!(
        failed.is_err(),
        "OCCAM_REQUIRE_GPU=1 without a GPU skipped instead of failing"
    );
}

/// `net` with non-zero biases in every layer (in [-0.5, 0.5)), so that a bias read from
/// the wrong place or left out shows in the results.
fn with_biases(net: Mlp, seed: u64) -> Mlp {
    let biases = net.dims()[1..]
        .iter()
        .enumerate()
        .map(|(l, &w)| lcg_vec(seed + l as u64, w).iter().map(|v| 0.5 * v).collect())
        .collect();
    Mlp::from_parts(
        net.activation(),
        net.input_shape(),
        net.dims().to_vec(),
        net.weights().to_vec(),
        Some(biases),
    )
    .expect("a biased network")
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

/// Largest |a − b| relative to the largest |a| (the scale of the quantity).
fn relative_gap(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let gap = a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    gap / max_abs(a).max(1e-30)
}

#[test]
fn gradients_match_the_cpu_within_1e_4_of_their_scale() {
    let Some(gpu) = gpu() else { return };
    for act in Activation::ALL {
        for bias in [false, true] {
            let net = Mlp::random([4, 4, 3], 64, 4, 10, act, 1.0, 7);
            let net = if bias { with_biases(net, 13) } else { net };
            let n = 100;
            let x = lcg_vec(3, n * 48);
            let labels: Vec<u16> = (0..n).map(|i| (i * 7 % 10) as u16).collect();
            let cpu = Compute::new(1);
            let mut ws = Workspace::new(&net, n);
            let mut grads = net.zero_params();
            let cpu_stats = engine::loss_and_gradients(&net, &cpu, &x, &labels, &mut ws, &mut grads);

            let device_net = DeviceNet::upload(&gpu, &net);
            let xd = gpu.upload(&x);
            let mut ws_d = Workspace::on(&gpu, net.dims(), n);
            let mut grads_d: Vec<Box<_>> = grads.iter().map(|g| gpu.alloc(g.len())).collect();
            let gpu_stats = engine::loss_and_gradients_on(&gpu, &device_net, &*xd, &labels, &mut ws_d, &mut grads_d);
            gpu.check().expect("no device failure");
            let rel = (gpu_stats.loss_sum - cpu_stats.loss_sum).abs() / cpu_stats.loss_sum.abs();
            assert!(
                rel < 1e-5,
                "{act} bias={bias}: loss {} vs {}",
                gpu_stats.loss_sum,
                cpu_stats.loss_sum
            );
            assert_eq!(gpu_stats.correct, cpu_stats.correct, "{act}");
            for (l, (host, dev)) in grads.iter().zip(&grads_d).enumerate() {
                let mut back = vec![0.0f32; host.len()];
                gpu.read(dev, &mut back);
                let gap = relative_gap(host, &back);
                assert!(
                    gap < 1e-4,
                    "{act} bias={bias}: gradient {l} differs by {gap} of its scale"
                );
            }
        }
    }
}

#[test]
fn optimizer_updates_are_the_cpus_bits() {
    let Some(gpu) = gpu() else { return };
    let cpu = Compute::new(1);
    let len = 100_003;
    let rules = [
        UpdateRule::Sgd { lr: 0.01 },
        UpdateRule::Momentum {
            lr: 0.01,
            momentum: 0.9,
        },
        UpdateRule::Adam {
            lr_t: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        },
        UpdateRule::RmsProp {
            lr: 0.001,
            decay: 0.9,
            epsilon: 1e-7,
        },
    ];
    for rule in rules {
        let (w0, g) = (lcg_vec(1, len), lcg_vec(2, len));
        let mut w = w0.clone().into_boxed_slice();
        let mut state: Vec<Box<[f32]>> = (0..rule.state_buffers())
            .map(|i| lcg_vec(10 + i as u64, len).iter().map(|v| v.abs()).collect())
            .collect();
        let mut wd = gpu.upload(&w0);
        let gd = gpu.upload(&g);
        let mut state_d: Vec<Box<_>> = state.iter().map(|s| gpu.upload(s)).collect();
        for _ in 0..3 {
            cpu.update(rule, &mut w, &g, &mut state, len);
            gpu.update(rule, &mut wd, &gd, &mut state_d, len);
        }
        let mut back = vec![0.0f32; len];
        gpu.read(&wd, &mut back);
        gpu.check().expect("no device failure");
        let differ = w.iter().zip(&back).filter(|(a, b)| a.to_bits() != b.to_bits()).count();
        assert_eq!(
            differ, 0,
            "{rule:?}: {differ} of {len} weights differ from the CPU's bits"
        );
    }
}

#[test]
fn point_grams_and_region_codes_are_the_cpus() {
    let Some(gpu) = gpu() else { return };
    let cpu = Compute::new(1);
    let (points, classes, cols) = (37, 10, 203);
    let (y, r) = (lcg_vec(4, points * classes * cols), lcg_vec(5, points * classes * cols));
    let host = cpu.point_grams(&y, &r, points, classes, cols);
    let dev = gpu.point_grams(&gpu.upload(&y), &gpu.upload(&r), points, classes, cols);
    assert_eq!(host.len(), dev.len());
    let differ = host
        .iter()
        .zip(&dev)
        .filter(|(a, b)| a.to_bits() != b.to_bits())
        .count();
    assert_eq!(differ, 0, "{differ} Gram entries differ from the CPU's bits");

    for act in Activation::ALL {
        let mut z: Vec<f32> = lcg_vec(6, 5000).iter().map(|v| v * 8.0).collect();
        // Exactly on every breakpoint, and on the neighbouring floats either side (6.0 ±
        // f32::EPSILON would round back to 6.0: the neighbours are 6 ± 2⁻²¹).
        for (i, &b) in act.breakpoints().iter().enumerate() {
            let (up, down) = (b.next_up(), b.next_down());
            assert!(up > b && down < b && up.next_down() == b && down.next_up() == b);
            z[i * 3] = b;
            z[i * 3 + 1] = up;
            z[i * 3 + 2] = down;
        }
        let mut zd = gpu.upload(&z);
        let codes_cpu = cpu.region_codes(&mut z, 5000, act).expect("finite");
        let codes_gpu = gpu.region_codes(&mut zd, 5000, act).expect("finite");
        assert_eq!(codes_cpu, codes_gpu, "{act}: region codes");
        let mut back = vec![0.0f32; 5000];
        gpu.read(&zd, &mut back);
        let tol = if act == Activation::Tanh { 2e-7 } else { 0.0 };
        let gap = z.iter().zip(&back).fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(gap <= tol, "{act}: φ differs by {gap}");

        let mut bad = lcg_vec(7, 5000);
        bad[4321] = f32::NAN;
        bad[4999] = f32::INFINITY;
        let err = gpu.region_codes(&mut gpu.upload(&bad), 5000, act).unwrap_err();
        assert_eq!(err.0, 4321, "{act}: the first non-finite index");
        assert!(err.1.is_nan());
    }
    gpu.check().expect("no device failure");
}

/// A `rows × cols` operand of a product: stored so when `!transposed`, else stored
/// `cols × rows` and used transposed.
fn operand<B: Backend>(buf: &B::Buf, rows: usize, cols: usize, transposed: bool) -> Operand<'_, B> {
    if transposed {
        Operand::new(buf, cols, rows).t()
    } else {
        Operand::new(buf, rows, cols)
    }
}

/// `fill` and `scale_add` are the CPU's bits, touch only the first `len` values, and keep
/// NaN; a product with `accumulate` adds to what is there (NaN stays NaN) and without it
/// overwrites it (a NaN in the destination is gone), as the CPU's does; `layer_forward`
/// with a bias keeps a NaN input's row NaN through every activation.
#[test]
fn fill_scale_add_products_and_layer_forward_keep_nan_as_the_cpu_does() {
    let Some(gpu) = gpu() else { return };
    let cpu = Compute::new(1);
    let back = |buf: &occam::compute::cuda::CudaBuf, len: usize| {
        let mut host = vec![0.0f32; len];
        gpu.read(buf, &mut host);
        host
    };
    let same_bits = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());

    // fill: the first 1000 of 1001 values, then a NaN fill.
    let mut d = gpu.upload(&[7.0; 1001]);
    gpu.fill(&mut d, 1000, 2.5);
    let got = back(&d, 1001);
    assert!(got[..1000].iter().all(|&v| v == 2.5) && got[1000] == 7.0, "fill");
    gpu.fill(&mut d, 1001, f32::NAN);
    assert!(back(&d, 1001).iter().all(|v| v.is_nan()), "a NaN fill");

    // scale_add: dst += w·src with a NaN in src and one in dst; the last value untouched.
    let (mut dst, mut src) = (lcg_vec(21, 4097), lcg_vec(22, 4097));
    src[17] = f32::NAN;
    dst[99] = f32::NAN;
    let mut dd = gpu.upload(&dst);
    gpu.scale_add(&mut dd, &gpu.upload(&src), 4096, -0.37);
    cpu.scale_add(&mut dst, &src, 4096, -0.37);
    let got = back(&dd, 4097);
    assert!(got[17].is_nan() && got[99].is_nan(), "scale_add lost a NaN");
    assert!(same_bits(&dst, &got), "scale_add differs from the CPU's bits");

    // gemm, every transpose pairing, with and without accumulate, NaN in the destination.
    let (m, k, n) = (37, 53, 29);
    let (a, b) = (lcg_vec(23, m * k), lcg_vec(24, k * n));
    let (ad, bd) = (gpu.upload(&a), gpu.upload(&b));
    for accumulate in [false, true] {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let mut c = lcg_vec(25, m * n);
            c[5] = f32::NAN;
            let mut cd = gpu.upload(&c);
            // The stored matrices are a (m×k or k×m) and b (k×n or n×k): the same values
            // read as the transposed shape when `t`.
            gpu.gemm(
                &mut cd,
                operand::<CudaBackend>(&ad, m, k, ta),
                operand::<CudaBackend>(&bd, k, n, tb),
                accumulate,
            );
            cpu.gemm(
                &mut c,
                operand::<Compute>(&a, m, k, ta),
                operand::<Compute>(&b, k, n, tb),
                accumulate,
            );
            let got = back(&cd, m * n);
            let what = format!(
                "gemm a{} b{} accumulate={accumulate}",
                if ta { "ᵀ" } else { "" },
                if tb { "ᵀ" } else { "" }
            );
            assert_eq!(got[5].is_nan(), accumulate, "{what}: the NaN in the destination");
            assert_eq!(c[5].is_nan(), accumulate, "{what}: the CPU's NaN in the destination");
            let (c, got): (Vec<f32>, Vec<f32>) = c.iter().zip(&got).filter(|(x, _)| !x.is_nan()).unzip();
            assert!(
                relative_gap(&c, &got) < 1e-5,
                "{what}: differs by {}",
                relative_gap(&c, &got)
            );
        }
    }

    // layer_forward with a bias, a NaN in one input row, every activation and none.
    let (rows, inputs, outputs) = (9, 31, 17);
    let mut x = lcg_vec(26, rows * inputs);
    x[4 * inputs + 3] = f32::NAN;
    let (w, bias) = (lcg_vec(27, outputs * inputs), lcg_vec(28, outputs));
    let (xd, wd, bd) = (gpu.upload(&x), gpu.upload(&w), gpu.upload(&bias));
    let activations = Activation::ALL.into_iter().map(Some).chain([None]);
    for act in activations {
        let mut out = vec![0.0f32; rows * outputs];
        let mut od = gpu.alloc(rows * outputs);
        cpu.layer_forward(&mut out, &x, &w, Some(&bias[..]), rows, (inputs, outputs), act);
        gpu.layer_forward(&mut od, &xd, &wd, Some(&*bd), rows, (inputs, outputs), act);
        let got = back(&od, rows * outputs);
        for (i, (u, v)) in out.iter().zip(&got).enumerate() {
            let in_nan_row = i / outputs == 4;
            assert_eq!(u.is_nan(), in_nan_row, "{act:?}: the CPU at {i}");
            assert_eq!(v.is_nan(), in_nan_row, "{act:?}: the GPU at {i} is {v}");
            assert!(
                in_nan_row || (u - v).abs() <= 1e-5 * u.abs().max(1.0),
                "{act:?} at {i}: {u} vs {v}"
            );
        }
    }
    gpu.check().expect("no device failure");
}

/// Through the one Jacobian path of every device (`measure_jacobian_on`, as `measure
/// jacobian --device cuda` and GPU sweeps call it) against `measure` on the CPU: the norms
/// within 1e-4, the same stop at an overflowing last point, the same input errors.
#[test]
fn jacobian_norms_match_the_cpu_within_1e_4() {
    use occam::measure::{JacobianRequest, MeasureInputs, MeasureRequest, measure, measure_jacobian_on};
    use std::ops::ControlFlow;
    let Some(gpu) = gpu() else { return };
    for (width, depth, act) in [
        (200, 5, Activation::Relu),
        (1000, 3, Activation::Tanh),
        (50, 2, Activation::HardTanh),
        (300, 1, Activation::Relu),
    ] {
        let net = Mlp::random([28, 28, 1], width, depth, 10, act, 1.0, 11);
        let n = 300;
        // The last point is infinite: +inf and -inf meet in every first-layer sum (weights
        // of both signs), so it is NaN on both devices whatever the order of summation.
        let mut inputs = lcg_vec(8, n * 784);
        inputs[(n - 1) * 784..].fill(f32::INFINITY);
        let mut points = Dataset {
            inputs,
            labels: (0..n).map(|i| (i % 10) as u16).collect(),
            shape: [28, 28, 1],
            classes: 10,
        };
        let both = |points: &Dataset| {
            let inputs = MeasureInputs {
                points,
                labelled: true,
                train: points,
            };
            let request = MeasureRequest {
                jacobian: Some(JacobianRequest { points: None }),
                ..Default::default()
            };
            let go_on = &mut |_| ControlFlow::Continue(());
            let cpu =
                measure(&net, &Compute::new(2), inputs, &request, go_on).map(|m| (m.points, m.jacobian_non_finite));
            let device_net = DeviceNet::upload(&gpu, &net);
            let dev = measure_jacobian_on(&gpu, &device_net, inputs, JacobianRequest { points: None }, go_on);
            gpu.check().expect("no device failure");
            (cpu, dev)
        };
        let (cpu, dev) = both(&points);
        let ((cpu, cpu_stop), (dev, dev_stop)) = (cpu.unwrap(), dev.unwrap());
        assert_eq!((cpu.len(), dev.len()), (n - 1, n - 1), "w{width} d{depth} {act}: stops");
        assert_eq!(cpu_stop.map(|b| b.point), dev_stop.map(|b| b.point));
        for (i, (a, b)) in cpu.iter().zip(&dev).enumerate() {
            for (what, u, v) in [
                ("jacobian", a.jacobian_norm, b.jacobian_norm),
                ("logit", a.logit_jacobian_norm, b.logit_jacobian_norm),
                ("target row", a.target_row_norm, b.target_row_norm),
                ("loss", a.loss, b.loss),
            ] {
                let rel = (u - v).abs() / u.abs().max(1e-12);
                assert!(rel < 1e-4, "w{width} d{depth} {act} point {i}: {what} {u} vs {v}");
            }
        }
        points.labels[4] = 12;
        let (cpu, dev) = both(&points);
        assert_eq!(dev.unwrap_err().to_string(), cpu.unwrap_err().to_string());
    }
}

fn toy_splits() -> Splits {
    let n = 512;
    let inputs = lcg_vec(9, n * 64);
    let labels = (0..n)
        .map(|p| ((inputs[64 * p] > 0.0) as u16) + 2 * ((inputs[64 * p + 5] > 0.0) as u16))
        .collect();
    let data = Dataset {
        inputs,
        labels,
        shape: [8, 8, 1],
        classes: 4,
    };
    Splits {
        name: "toy".into(),
        train: data.clone(),
        validation: None,
        test: data,
    }
}

#[test]
fn a_100_step_training_run_follows_the_cpus_losses() {
    let Some(gpu) = gpu() else { return };
    let splits = toy_splits();
    let runs = [
        OptimizerKind::Sgd,
        OptimizerKind::Momentum,
        OptimizerKind::Adam,
        OptimizerKind::Rmsprop,
    ]
    .into_iter()
    .flat_map(|optimizer| [(optimizer, false), (optimizer, true)]);
    for (optimizer, bias) in runs {
        let lr = if matches!(optimizer, OptimizerKind::Adam | OptimizerKind::Rmsprop) {
            0.001
        } else {
            0.05
        };
        let config = TrainConfig {
            width: 64,
            depth: 3,
            batch: 32,
            steps: 100,
            optimizer,
            lr,
            bias,
            ..Default::default()
        };
        let hooks = || TrainHooks {
            log_every: 10,
            ..Default::default()
        };
        let cpu = occam::train::train_with(&config, &splits, &Compute::new(1), hooks()).expect("cpu run");
        let dev = occam::train::train_with(&config, &splits, &gpu, hooks()).expect("gpu run");
        gpu.check().expect("no device failure");
        assert_eq!(
            (cpu.steps, cpu.status),
            (dev.steps, dev.status),
            "{optimizer:?} bias={bias}"
        );
        assert_eq!(dev.net.has_biases(), bias, "the GPU run's network has biases iff asked");
        if bias {
            // The biases trained (moved from zero) and match the CPU's within the loss
            // tolerance of their scale.
            let (a, b) = (cpu.net.biases().unwrap().concat(), dev.net.biases().unwrap().concat());
            assert!(max_abs(&b) > 0.0, "{optimizer:?}: the GPU's biases never moved");
            let gap = relative_gap(&a, &b);
            assert!(gap < 1e-2, "{optimizer:?}: biases differ by {gap} of their scale");
        }
        assert_eq!(cpu.log.len(), 10);
        for (a, b) in cpu.log.iter().zip(&dev.log) {
            let rel = (a.loss - b.loss).abs() / a.loss.abs();
            assert!(
                rel < 1e-3,
                "{optimizer:?} bias={bias} step {}: loss {} (cpu) vs {} (gpu)",
                a.step,
                a.loss,
                b.loss
            );
        }
        let rel = (cpu.train.loss - dev.train.loss).abs() / cpu.train.loss.abs();
        assert!(
            rel < 1e-3,
            "{optimizer:?} bias={bias}: final loss {} vs {}",
            cpu.train.loss,
            dev.train.loss
        );
        // The transition count of the two trained networks along one translation loop,
        // counted exactly on the host: the weights differ in the last bits only.
        let image: Vec<f32> = splits.test.input(0).to_vec();
        let traj = occam::measure::trajectory::translation(&image, [8, 8, 1]).expect("an 8x8 image");
        let host = Compute::new(1);
        let a = occam::measure::transitions::exact_transitions(&cpu.net, &host, &traj, false).total as f64;
        let b = occam::measure::transitions::exact_transitions(&dev.net, &host, &traj, false).total as f64;
        assert!(
            (a - b).abs() <= 0.02 * a.max(50.0),
            "{optimizer:?} bias={bias}: {a} transitions (cpu) vs {b} (gpu)"
        );
    }
}

#[test]
fn a_gpu_number_past_the_last_is_an_error_naming_it() {
    let Some(_gpu) = gpu() else { return };
    let e = CudaBackend::new(1000, 1)
        .err()
        .expect("GPU 1000 does not exist")
        .to_string();
    assert!(e.contains("CUDA device 1000 does not exist"), "{e}");
    let out = super::occam(&["--device", "cuda:1000", "bench", "train", "--quick"]);
    super::assert_refused(&out, &["--device cuda:1000", "does not exist"]);
}

#[test]
fn occam_bench_runs_on_the_gpu() {
    let Some(_gpu) = gpu() else { return };
    let out = super::occam(&["--device", "cuda", "bench", "jacobian", "--quick"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\"device\":\"cuda:0\""), "{stdout}");
    super::bench_train_rows("cuda:0");
}

/// Every stored trial of a store, by id.
fn stored(store: &str) -> Vec<occam::sweep::TrialRecord> {
    let mut v = occam::sweep::Store::open_existing(std::path::Path::new(store))
        .unwrap()
        .trials()
        .unwrap();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// `sweep run --device cuda` stores the CPU sweep's trials within the tolerances of a
/// 100-step training run (module comment): accuracies within 2 of the 60 test examples,
/// losses and Jacobian norms within 10⁻³ relative, exact transition counts within 2%.
#[test]
fn a_sweep_on_the_gpu_matches_the_cpu_sweep() {
    use occam::sweep::metrics as m;
    let Some(_gpu) = gpu() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, cpu_store) = super::sweep_fixture(tmp.path());
    let gpu_store = tmp.path().join("gpu.sqlite").display().to_string();
    let ok = |args: &[&str]| {
        let out = super::occam(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    ok(&["sweep", "run", &spec, "--store", &cpu_store, "--quiet"]);
    let summary = ok(&[
        "--device", "cuda", "sweep", "run", &spec, "--store", &gpu_store, "--quiet",
    ]);
    assert!(summary.contains("\"ran\":3"), "{summary}");
    let (cpu, gpu) = (stored(&cpu_store), stored(&gpu_store));
    assert_eq!(cpu.len(), 3);
    assert_eq!(gpu.len(), 3);
    for (a, b) in cpu.iter().zip(&gpu) {
        assert_eq!(a.id, b.id, "trial ids do not depend on the device");
        assert_eq!(a.device, occam::compute::Device::Cpu);
        assert_eq!(b.device, occam::compute::Device::Cuda { ordinal: 0 });
        assert_eq!((a.status, a.steps), (b.status, b.steps), "{}: {:?}", b.id, b.reason);
        for metric in [m::TRAIN_ACCURACY, m::TEST_ACCURACY] {
            let (u, v) = (a.metric(metric), b.metric(metric));
            assert!(
                (u - v).abs() <= 2.0 / 60.0 + 1e-12,
                "{} {}: {u} vs {v}",
                a.id,
                metric.name
            );
        }
        for metric in [m::TRAIN_LOSS, m::TEST_LOSS, m::JACOBIAN_NORM, m::LOGIT_JACOBIAN_NORM] {
            let (u, v) = (a.metric(metric), b.metric(metric));
            assert!(u.is_finite() && v.is_finite(), "{} {}: {u} vs {v}", a.id, metric.name);
            assert!((u - v).abs() <= 1e-3 * u.abs(), "{} {}: {u} vs {v}", a.id, metric.name);
        }
        let (u, v) = (a.metric(m::TRANSITIONS), b.metric(m::TRANSITIONS));
        assert!((u - v).abs() <= 0.02 * u.max(50.0), "{} transitions: {u} vs {v}", a.id);
    }
}

/// K trials at once on one GPU (each on its own stream and cuBLAS handle) store the same
/// bits as one at a time: each trial's work is ordered on its own stream, our kernels
/// use no atomics that change results, and each stream has its own cuBLAS workspace.
#[test]
fn k_trials_at_once_store_the_same_bits_as_one_at_a_time() {
    let Some(_gpu) = gpu() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (spec, _) = super::sweep_fixture(tmp.path());
    let mut results = Vec::new();
    for k in ["1", "2", "3"] {
        let store = tmp.path().join(format!("k{k}.sqlite")).display().to_string();
        let out = super::occam(&[
            "--device",
            "cuda",
            "sweep",
            "run",
            &spec,
            "--store",
            &store,
            "--gpu-jobs",
            k,
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "K = {k}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        results.push((k, crate::common::stored_results(std::path::Path::new(&store))));
    }
    assert_eq!(results[0].1.len(), 3);
    for (k, r) in &results[1..] {
        assert_eq!(r, &results[0].1, "K = {k} differs from K = 1");
    }
}
