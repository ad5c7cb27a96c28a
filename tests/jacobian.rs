//! Jacobian norms against float64 central finite differences and against the closed
//! form J = (diag σ − σσᵀ)·∂f/∂x, for every activation and several depths; and the one
//! checked Jacobian path that every device takes (`measure_jacobian_on`) against `measure`.

mod common;

use common::*;
use occam::compute::{Compute, DeviceNet};
use occam::data::Dataset;
use occam::measure::jacobian::jacobian_norms;
use occam::measure::{
    JACOBIAN_CHUNK, JacobianOutcome, JacobianRequest, MeasureInputs, MeasureRequest, measure, measure_jacobian_on,
};
use occam::net::{Activation, Mlp};
use std::ops::ControlFlow;

/// Distance of the nearest hidden pre-activation to a breakpoint at x.
fn margin(net: &Mlp, x: &[f64]) -> f64 {
    let (_, pres) = forward64(net, &weights64(net), x);
    pres.iter()
        .flatten()
        .flat_map(|z| {
            net.activation()
                .breakpoints()
                .iter()
                .map(move |&b| (z - b as f64).abs())
        })
        .fold(f64::INFINITY, f64::min)
}

fn check(net: &Mlp, points: usize, seed: u64) -> usize {
    let d = net.input_dim();
    let n = net.classes();
    let x = lcg_vec(seed, points * d);
    let labels: Vec<u16> = (0..points).map(|i| (i % n) as u16).collect();
    let got = jacobian_norms(net, &Compute::new(2), &x, Some(&labels));
    let w = weights64(net);
    let mut checked = 0;
    for p in 0..points {
        let xp: Vec<f64> = x[p * d..(p + 1) * d].iter().map(|&v| v as f64).collect();
        if net.activation().is_piecewise_linear() && margin(net, &xp) < 1e-4 {
            continue; // a kink within the finite-difference stencil
        }
        checked += 1;
        let logit_jac = fd_jacobian(|v| forward64(net, &w, v).0, &xp, n);
        let soft_jac = fd_jacobian(|v| softmax(&forward64(net, &w, v).0), &xp, n);
        // Closed form from the logit Jacobian.
        let sigma = softmax(&forward64(net, &w, &xp).0);
        let closed: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..d)
                    .map(|j| {
                        (0..n)
                            .map(|k| ((i == k) as u8 as f64 * sigma[i] - sigma[i] * sigma[k]) * logit_jac[k][j])
                            .sum()
                    })
                    .collect()
            })
            .collect();
        let y = labels[p] as usize;
        let row_norm = soft_jac[y].iter().map(|v| v * v).sum::<f64>().sqrt();
        let (want_j, want_g, want_c) = (fro(&soft_jac), fro(&logit_jac), fro(&closed));
        let g = got[p];
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(1e-6);
        assert!(
            rel(want_c, want_j) < 1e-5,
            "closed form vs FD disagree: {want_c} {want_j}"
        );
        assert!(
            rel(g.jacobian_norm, want_j) < 1e-4,
            "{} depth {}: ‖J‖ {} vs {want_j}",
            net.activation(),
            net.depth(),
            g.jacobian_norm
        );
        assert!(
            rel(g.logit_jacobian_norm, want_g) < 1e-4,
            "‖G‖ {} vs {want_g}",
            g.logit_jacobian_norm
        );
        assert!(
            rel(g.target_row_norm, row_norm) < 1e-3 || (g.target_row_norm - row_norm).abs() < 1e-7,
            "‖J_y‖ {} vs {row_norm}",
            g.target_row_norm
        );
        let z = forward64(net, &w, &xp).0;
        let lse = z.iter().map(|v| (v - z[0]).exp()).sum::<f64>().ln() + z[0];
        assert!((g.loss - (lse - z[y])).abs() < 1e-4 * (1.0 + g.loss.abs()));
        assert!(
            g.jacobian_norm <= g.logit_jacobian_norm * 0.5 + 1e-9,
            "‖A‖₂ ≤ 1/2 bounds ‖J‖ by ‖G‖/2"
        );
    }
    checked
}

#[test]
fn norms_match_finite_differences_for_every_activation_and_depth() {
    for act in Activation::ALL {
        for depth in [1, 2, 3, 5] {
            // d = 12 > w = 8 exercises the Gram-matrix path; d = 6 < w = 9 the direct one.
            let a = check(&Mlp::random([2, 3, 2], 8, depth, 4, act, 1.3, 3), 6, 1 + depth as u64);
            let b = check(&Mlp::random([2, 3, 1], 9, depth, 3, act, 1.3, 4), 6, 10 + depth as u64);
            assert!(
                a + b >= 6,
                "{act} depth {depth}: too few points away from kinks ({a}+{b})"
            );
        }
    }
}

#[test]
fn chunking_does_not_change_the_result() {
    // 300 points exceed one chunk (256): results must equal those computed one by one.
    let net = Mlp::random([4, 4, 1], 20, 3, 10, Activation::Relu, 1.0, 8);
    let x = lcg_vec(2, 300 * 16);
    let all = jacobian_norms(&net, &Compute::single(), &x, None);
    for p in [0, 255, 256, 299] {
        let one = jacobian_norms(&net, &Compute::single(), &x[p * 16..(p + 1) * 16], None)[0];
        assert!((one.jacobian_norm - all[p].jacobian_norm).abs() <= 1e-6 * one.jacobian_norm);
        assert!(all[p].target_row_norm.is_nan() && all[p].loss.is_nan());
    }
}

/// The points of the shared-path tests: more than one chunk of `JACOBIAN_CHUNK` points,
/// labelled, with the point at `overflow` (if any) large enough to overflow the logits.
fn many_points(overflow: Option<usize>) -> Dataset {
    let n = JACOBIAN_CHUNK + 40;
    let mut inputs = lcg_vec(21, n * 16);
    if let Some(p) = overflow {
        inputs[p * 16..(p + 1) * 16].fill(3e38);
    }
    Dataset {
        inputs,
        labels: (0..n).map(|i| (i % 3) as u16).collect(),
        shape: [4, 4, 1],
        classes: 3,
    }
}

/// `measure` with only a Jacobian request: what the CPU paths of `occam measure jacobian`
/// and of sweeps have always run.
fn through_measure(net: &Mlp, inputs: MeasureInputs, request: JacobianRequest) -> occam::Result<JacobianOutcome> {
    let request = MeasureRequest {
        jacobian: Some(request),
        ..Default::default()
    };
    let out = measure(net, &Compute::new(2), inputs, &request, &mut |_| {
        ControlFlow::Continue(())
    })?;
    Ok((out.points, out.jacobian_non_finite))
}

#[test]
fn the_shared_jacobian_path_on_an_uploaded_network_gives_the_bits_of_measure() {
    // The GPU paths upload the network and call `measure_jacobian_on`; here the same route
    // runs on the CPU backend, so it must give `measure`'s bits, also across chunks and when
    // a point in the second chunk overflows.
    let net = Mlp::random([4, 4, 1], 8, 2, 3, Activation::Relu, 1.0, 5);
    let compute = Compute::new(2);
    let uploaded = DeviceNet::upload(&compute, &net);
    for overflow in [None, Some(JACOBIAN_CHUNK + 7)] {
        let points = many_points(overflow);
        let inputs = MeasureInputs {
            points: &points,
            labelled: true,
            train: &points,
        };
        for request in [JacobianRequest { points: None }, JacobianRequest { points: Some(100) }] {
            let want = through_measure(&net, inputs, request).unwrap();
            let mut seen = Vec::new();
            let got = measure_jacobian_on(&compute, &uploaded, inputs, request, &mut |p| {
                seen.push((p.done, p.total));
                ControlFlow::Continue(())
            })
            .unwrap();
            // Debug text is exact for finite floats and, unlike `==`, equal for NaN.
            let same = format!("{got:?}") == format!("{want:?}");
            assert!(
                same,
                "overflow {overflow:?}, {request:?}: the results differ from measure's"
            );
            let stop = got.1.map(|bad| bad.point);
            assert_eq!(stop, overflow.filter(|_| request.points.is_none()));
            // Progress after each finished chunk, none after the one that overflowed.
            let expected: Vec<(usize, usize)> = match (request.points, overflow) {
                (Some(n), _) => vec![(n, n)],
                (None, Some(_)) => vec![(JACOBIAN_CHUNK, points.len())],
                (None, None) => vec![(JACOBIAN_CHUNK, points.len()), (points.len(), points.len())],
            };
            assert_eq!(seen, expected);
        }
    }
}

#[test]
fn the_shared_jacobian_path_is_cancelled_by_its_callback() {
    let net = Mlp::random([4, 4, 1], 8, 2, 3, Activation::Relu, 1.0, 5);
    let points = many_points(None);
    let inputs = MeasureInputs {
        points: &points,
        labelled: true,
        train: &points,
    };
    let request = JacobianRequest { points: None };
    let e = measure_jacobian_on(&Compute::new(1), &net, inputs, request, &mut |_| ControlFlow::Break(())).unwrap_err();
    assert!(
        matches!(e, occam::OccamError::Cancelled { done, total, .. } if done == JACOBIAN_CHUNK && total == points.len()),
        "{e:?}"
    );
}

#[test]
fn the_shared_jacobian_path_refuses_bad_inputs_with_the_messages_of_measure() {
    // The GPU sweep path had checks of its own with other wording ("test point 3 has label
    // 7, but the network has 3 classes"); now every device gives these messages.
    let net = Mlp::random([4, 4, 1], 8, 2, 3, Activation::Relu, 1.0, 5);
    let compute = Compute::new(1);
    let uploaded = DeviceNet::upload(&compute, &net);
    let good = many_points(None);
    let mut bad_label = good.clone();
    bad_label.labels[3] = 7;
    let mut wrong_shape = good.clone();
    wrong_shape.shape = [2, 4, 1];
    let empty = Dataset {
        inputs: Vec::new(),
        labels: Vec::new(),
        ..good.clone()
    };
    for (points, train, wanted) in [
        (
            &bad_label,
            &good,
            "labels: label 7 of point 3 is not a class of the network (0 to 2)",
        ),
        (
            &wrong_shape,
            &good,
            "points: inputs of shape 2x4x1 (8 values) do not fit the network's 16 inputs",
        ),
        (
            &good,
            &wrong_shape,
            "training points: inputs of shape 2x4x1 (8 values) do not fit",
        ),
        (&empty, &good, "Jacobian norms: there are no points to measure"),
    ] {
        let inputs = MeasureInputs {
            points,
            labelled: true,
            train,
        };
        let request = JacobianRequest { points: None };
        let want = through_measure(&net, inputs, request).unwrap_err().to_string();
        let got = measure_jacobian_on(&compute, &uploaded, inputs, request, &mut |_| ControlFlow::Continue(()))
            .unwrap_err()
            .to_string();
        assert_eq!(got, want);
        assert!(got.contains(wanted), "{got}");
    }
}
