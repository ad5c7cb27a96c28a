//! Transitions by dense sampling (any activation): region codes at k equidistant positions
//! around the loop, counting the code differences between neighbours, as the paper did.

use super::{TransitionCount, first_non_finite};
use crate::compute::{Compute, MatRef};
use crate::measure::finite::NonFinite;
use crate::measure::trajectory::Trajectory;
use crate::net::Mlp;
use rayon::prelude::*;

/// Points evaluated per forward pass when sampling.
const SAMPLE_CHUNK: usize = 2048;

/// Counts transitions by sampling codes at `k` equidistant positions j/k around the
/// loop (for every activation; for tanh the code is the sign). `k` must be at least 2
/// (callers check it against [`super::ranges::samples`]).
pub fn sampled_transitions(
    net: &Mlp,
    compute: &Compute,
    traj: &Trajectory,
    k: usize,
    keep_positions: bool,
) -> TransitionCount {
    assert!(k >= 2, "need at least two samples");
    let hidden = net.depth() - 1;
    let d = net.input_dim();
    let mut out = TransitionCount {
        per_layer: vec![0; hidden],
        ..Default::default()
    };
    let mut first_codes: Option<Vec<u8>> = None;
    let mut prev_last: Option<Vec<u8>> = None;
    let code_width: usize = net.hidden_dims().iter().sum();
    let mut x = vec![0.0f32; SAMPLE_CHUNK * d];
    for start in (0..k).step_by(SAMPLE_CHUNK) {
        let m = SAMPLE_CHUNK.min(k - start);
        x[..m * d].par_chunks_mut(d).enumerate().for_each(|(j, row)| {
            traj.write_point_at((start + j) as f64 / k as f64, row);
        });
        let codes = match codes_of(net, compute, &x[..m * d], m) {
            Ok(c) => c,
            Err(bad) => {
                out.non_finite = Some(bad);
                return out;
            }
        };
        let row = |j: usize| &codes[j * code_width..(j + 1) * code_width];
        if let Some(prev) = &prev_last {
            add_code_changes(
                &mut out,
                net,
                prev,
                row(0),
                (start as f64 - 0.5) / k as f64,
                keep_positions,
            );
        }
        for j in 0..m - 1 {
            let position = (start + j) as f64 / k as f64 + 0.5 / k as f64;
            add_code_changes(&mut out, net, row(j), row(j + 1), position, keep_positions);
        }
        if first_codes.is_none() {
            first_codes = Some(row(0).to_vec());
        }
        prev_last = Some(row(m - 1).to_vec());
    }
    // Close the loop: the last sample back to the first.
    let (last, first) = (prev_last.expect("k ≥ 2 samples"), first_codes.expect("k ≥ 2 samples"));
    add_code_changes(&mut out, net, &last, &first, 1.0 - 0.5 / k as f64, keep_positions);
    out.total = out.per_layer.iter().sum();
    out
}

/// Adds `‖c(a) − c(b)‖₁` per hidden layer to `out` (and the crossings' position).
fn add_code_changes(out: &mut TransitionCount, net: &Mlp, a: &[u8], b: &[u8], position: f64, keep_positions: bool) {
    let mut offset = 0;
    for (l, &w) in net.hidden_dims().iter().enumerate() {
        let diff: u64 = a[offset..offset + w]
            .iter()
            .zip(&b[offset..offset + w])
            .map(|(p, q)| p.abs_diff(*q) as u64)
            .sum();
        out.per_layer[l] += diff;
        if keep_positions {
            out.positions.extend(std::iter::repeat_n(position, diff as usize));
        }
        offset += w;
    }
}

/// The region code of every hidden neuron for `m` inputs: `m × Σ hidden widths` bytes,
/// layer after layer, computed from the pre-activations; an error naming the input (its
/// index among the `m`) whose pre-activation was NaN or infinite.
pub fn codes_of(net: &Mlp, compute: &Compute, x: &[f32], m: usize) -> Result<Vec<u8>, NonFinite> {
    let act = net.activation();
    let code_width: usize = net.hidden_dims().iter().sum();
    let mut codes = vec![0u8; m * code_width];
    let mut h = x.to_vec();
    let mut offset = 0;
    for l in 0..net.depth() - 1 {
        let (w_in, w_out) = (net.dims()[l], net.dims()[l + 1]);
        let mut z = vec![0.0f32; m * w_out];
        compute.matmul(
            &mut z,
            MatRef::rows(&h, m, w_in),
            MatRef::rows(&net.weights()[l], w_out, w_in).t(),
            false,
        );
        if let Some(bias) = net.bias(l) {
            for row in z.chunks_exact_mut(w_out) {
                row.iter_mut().zip(bias).for_each(|(v, b)| *v += b);
            }
        }
        if let Some(bad) = first_non_finite(&z, l) {
            let at = z.iter().position(|v| !v.is_finite()).unwrap_or(0) / w_out;
            return Err(bad.at(at));
        }
        for (j, row) in z.chunks_exact_mut(w_out).enumerate() {
            let dst = &mut codes[j * code_width + offset..j * code_width + offset + w_out];
            for (c, v) in dst.iter_mut().zip(row.iter_mut()) {
                *c = act.code(*v);
                *v = act.apply(*v);
            }
        }
        offset += w_out;
        h = z;
    }
    Ok(codes)
}
