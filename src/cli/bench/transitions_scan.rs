//! `occam bench transitions --widths …`: how the exact transition count's time grows with
//! the width (random ReLU networks, the translation loop of a smooth image), checked
//! against the cost model of docs/METRICS.md (time ∝ crossings × width).

use super::{cpu_seconds, time_it};
use anyhow::Result;
use occam::compute::Compute;
use occam::measure::trajectory;
use occam::measure::transitions::{self, ExactWalk};
use occam::net::{Activation, Mlp};
use serde_json::json;
use std::time::Instant;

/// Widths at which one timing is already long enough to stand alone.
const SINGLE_REP_WIDTH: usize = 2000;

/// Times the exact walk (and, with `with_gemm`, the reference GEMM walk) at every width;
/// one measurement row per width and walk, `workload` "transitions-scan".
pub fn run(
    compute: &Compute,
    widths: &[usize],
    depth: usize,
    with_gemm: bool,
    reps: usize,
    image: Vec<f32>,
) -> Result<Vec<serde_json::Value>> {
    let traj = trajectory::translation(&image, [28, 28, 1])?;
    let mut walks = vec![("exact", ExactWalk::Rank1)];
    if with_gemm {
        walks.push(("exact-gemm", ExactWalk::Gemm));
    }
    let mut rows = Vec::new();
    for &width in widths {
        let net = Mlp::try_random([28, 28, 1], width, depth, 10, Activation::Relu, 1.0, 20240603)?;
        let reps = if width >= SINGLE_REP_WIDTH { 1 } else { reps.min(3) };
        for &(method, walk) in &walks {
            let mut count = 0;
            let (cpu0, wall0) = (cpu_seconds(), Instant::now());
            let (med, min, max) = time_it(
                || {
                    count =
                        transitions::exact_transitions_by(&net, compute, &traj, false, walk, transitions::COEF_BUDGET)
                            .total
                },
                reps,
                0.0,
            );
            rows.push(
                json!({"type": "measurement", "framework": "occam", "workload": "transitions-scan",
                "config": {"w": width, "depth": depth, "method": method}, "threads": compute.threads(),
                "median_s": med, "min_s": min, "max_s": max, "unit_value": count as f64, "unit": "crossings",
                "cpu_per_wall": (cpu_seconds() - cpu0) / wall0.elapsed().as_secs_f64(),
                "result": {"transitions": count}}),
            );
        }
    }
    Ok(rows)
}

/// Least-squares slope of ln y against ln x (the exponent p of y ∝ x^p); `None` with
/// fewer than two distinct x.
fn fitted_exponent(points: &[(f64, f64)]) -> Option<f64> {
    let logs: Vec<(f64, f64)> = points.iter().map(|&(x, y)| (x.ln(), y.ln())).collect();
    let n = logs.len() as f64;
    let (mx, my) = (
        logs.iter().map(|p| p.0).sum::<f64>() / n,
        logs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let sxx: f64 = logs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = logs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Prints, per walk, seconds and crossings per width, the time per crossing and per
/// crossing × width (the cost model's unit), and the fitted exponents of time and
/// crossings against width.
pub fn print_summary(rows: &[serde_json::Value]) {
    for method in ["exact", "exact-gemm"] {
        let mine: Vec<&serde_json::Value> = rows.iter().filter(|r| r["config"]["method"] == method).collect();
        if mine.is_empty() {
            continue;
        }
        println!(
            "\nwidth scan, {method} walk, depth {}:\n{:>7} {:>12} {:>10} {:>14} {:>18}",
            mine[0]["config"]["depth"], "width", "seconds", "crossings", "µs/crossing", "ns/(crossing·w)"
        );
        let mut time_points = Vec::new();
        let mut crossing_points = Vec::new();
        for r in &mine {
            let w = r["config"]["w"].as_f64().unwrap_or(0.0);
            let t = r["median_s"].as_f64().unwrap_or(f64::NAN);
            let c = r["unit_value"].as_f64().unwrap_or(0.0).max(1.0);
            println!(
                "{w:>7} {t:>12.4} {c:>10} {:>14.3} {:>18.3}",
                t / c * 1e6,
                t / (c * w) * 1e9
            );
            time_points.push((w, t));
            crossing_points.push((w, c));
        }
        let show = |p: Option<f64>| p.map_or("n/a (one width)".to_string(), |p| format!("{p:.2}"));
        println!(
            "fitted exponents: time ∝ w^{}, crossings ∝ w^{}",
            show(fitted_exponent(&time_points)),
            show(fitted_exponent(&crossing_points))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::fitted_exponent;

    #[test]
    fn the_fitted_exponent_of_a_power_law_is_its_power() {
        let points: Vec<(f64, f64)> = [250.0, 500.0, 1000.0, 4000.0]
            .iter()
            .map(|&w| (w, 3.0 * w * w))
            .collect();
        assert!((fitted_exponent(&points).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(fitted_exponent(&[(10.0, 1.0)]), None);
    }
}
