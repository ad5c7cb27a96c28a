//! Transitions by dense sampling (any activation): region codes at k equidistant positions
//! around the loop, counting the code differences between neighbours, as the paper did.

use super::TransitionCount;
use crate::compute::{Backend, Compute, NetParams};
use crate::measure::finite::{NonFinite, Quantity};
use crate::measure::trajectory::Trajectory;
use crate::net::Mlp;
use rayon::prelude::*;

/// Points evaluated per forward pass when sampling.
const SAMPLE_CHUNK: usize = 2048;

/// Counts transitions by sampling codes at `k` equidistant positions j/k around the
/// loop (for every activation; for tanh the code is the sign). `k` must be at least 2
/// (callers check it against [`crate::measure::ranges::samples`]).
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
    codes_on(compute, net, x, m)
}

/// [`codes_of`] on any backend, for inputs already in its memory: each hidden layer's
/// pre-activations by [`Backend::layer_forward`] without φ, then [`Backend::region_codes`]
/// (which applies φ for the next layer); only the codes come back to the host.
pub fn codes_on<B: Backend, P: NetParams<B> + ?Sized>(
    backend: &B,
    net: &P,
    x: &B::Buf,
    m: usize,
) -> Result<Vec<u8>, NonFinite> {
    let (dims, act) = (net.dims(), net.activation());
    let hidden = &dims[1..dims.len() - 1];
    let code_width: usize = hidden.iter().sum();
    let mut codes = vec![0u8; m * code_width];
    let mut z_prev: Option<Box<B::Buf>> = None;
    let mut offset = 0;
    for (l, &w_out) in hidden.iter().enumerate() {
        let mut z = backend.alloc(m * w_out);
        let input: &B::Buf = z_prev.as_deref().unwrap_or(x);
        backend.layer_forward(&mut z, input, net.weight(l), net.bias(l), m, (dims[l], w_out), None);
        let layer_codes = backend
            .region_codes(&mut z, m * w_out, act)
            .map_err(|(i, v)| NonFinite {
                point: i / w_out,
                quantity: Quantity::PreActivation { layer: l + 1 },
                value: v as f64,
            })?;
        for (j, row) in layer_codes.chunks_exact(w_out).enumerate() {
            codes[j * code_width + offset..j * code_width + offset + w_out].copy_from_slice(row);
        }
        offset += w_out;
        z_prev = Some(z);
    }
    Ok(codes)
}
