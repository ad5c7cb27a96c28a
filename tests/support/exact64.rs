//! An independent float64 exact transition counter for the tests: every layer's
//! pre-activation coefficients in float64 (products of float64 numbers, so a neuron whose
//! inputs are all switched off is exactly its bias), every arc cut at every closed-form
//! root of every neuron, each sub-arc's codes read at its midpoint, and the code changes
//! between consecutive sub-arcs counted around each closed part (a polygon of segments
//! together, each ellipse on its own). A neuron that only touches a breakpoint at one point
//! changes no code on any sub-arc and is not counted. Written without the library's walks.

use occam::measure::trajectory::{Piece, Trajectory};
use occam::net::{Activation, Mlp};

/// Per hidden layer, the crossings, and the smallest gap between two distinct roots of a
/// layer on one arc relative to the span (a near-tie below ~1e-9 can go either way in
/// float32).
pub struct Exact64 {
    pub per_layer: Vec<u64>,
    pub min_gap: f64,
}

#[derive(Clone, Copy)]
struct Arc64 {
    piece: usize,
    lo: f64,
    hi: f64,
}

fn code64(act: Activation, z: f64) -> u8 {
    act.breakpoints().iter().filter(|&&b| z > b as f64).count() as u8
}

/// The roots of `c₀ + c₁ t` or `c₀ + c₁ cos θ + c₂ sin θ` at `beta`.
fn roots64(c: &[f64], beta: f64, out: &mut Vec<f64>) {
    if c.len() == 2 {
        if c[1] != 0.0 {
            out.push((beta - c[0]) / c[1]);
        }
        return;
    }
    let r = c[1].hypot(c[2]);
    if r > 0.0 && ((beta - c[0]) / r).abs() <= 1.0 {
        let (phase, alpha) = (c[2].atan2(c[1]), ((beta - c[0]) / r).acos());
        out.push((phase - alpha).rem_euclid(std::f64::consts::TAU));
        out.push((phase + alpha).rem_euclid(std::f64::consts::TAU));
    }
}

/// Counts `traj`'s transitions in float64. All pieces of a trajectory are of one kind.
pub fn exact64(net: &Mlp, traj: &Trajectory) -> Exact64 {
    let act = net.activation();
    let hidden = net.depth() - 1;
    let nb = traj.pieces[0].basis_len();
    let mut arcs: Vec<Arc64> = (0..traj.pieces.len())
        .map(|k| Arc64 {
            piece: k,
            lo: 0.0,
            hi: traj.pieces[k].span(),
        })
        .collect();
    let mut coef: Vec<f64> = (traj.pieces.iter())
        .flat_map(|p| p.coefficients().concat())
        .map(|v| v as f64)
        .collect();
    let mut out = Exact64 {
        per_layer: vec![0; hidden],
        min_gap: f64::INFINITY,
    };
    for l in 0..hidden {
        let (w_in, w_out) = (net.dims()[l], net.dims()[l + 1]);
        let w = &net.weights()[l];
        let mut z = vec![0.0f64; arcs.len() * nb * w_out];
        for (r, dst) in z.chunks_exact_mut(w_out).enumerate() {
            let src = &coef[r * w_in..(r + 1) * w_in];
            for (i, o) in dst.iter_mut().enumerate() {
                *o = (w[i * w_in..(i + 1) * w_in].iter().zip(src))
                    .map(|(&a, &b)| a as f64 * b)
                    .sum();
            }
            if r % nb == 0
                && let Some(b) = net.biases()
            {
                dst.iter_mut().zip(&b[l]).for_each(|(o, &b)| *o += b as f64);
            }
        }
        let value = |a: usize, i: usize, s: f64| -> f64 {
            let basis = traj.pieces[arcs[a].piece].basis(s);
            (0..nb).map(|k| z[(a * nb + k) * w_out + i] * basis[k]).sum()
        };
        let mut children: Vec<(usize, Arc64)> = Vec::new();
        for (a, arc) in arcs.iter().enumerate() {
            let mut roots = Vec::new();
            for i in 0..w_out {
                let c: Vec<f64> = (0..nb).map(|k| z[(a * nb + k) * w_out + i]).collect();
                for &beta in act.breakpoints() {
                    roots64(&c, beta as f64, &mut roots);
                }
            }
            // A root within rounding of an arc's end is that end (a cut already).
            let margin = 1e-11 * traj.pieces[arc.piece].span();
            roots.retain(|&t| t > arc.lo + margin && t < arc.hi - margin);
            roots.sort_by(f64::total_cmp);
            roots.dedup();
            let span = traj.pieces[arc.piece].span();
            for pair in roots.windows(2) {
                out.min_gap = out.min_gap.min((pair[1] - pair[0]) / span);
            }
            let mut lo = arc.lo;
            for &s in roots.iter().chain(std::iter::once(&arc.hi)) {
                if s > lo {
                    children.push((a, Arc64 { lo, hi: s, ..*arc }));
                    lo = s;
                }
            }
        }
        let codes: Vec<Vec<u8>> = (children.iter())
            .map(|&(a, c)| {
                (0..w_out)
                    .map(|i| code64(act, value(a, i, 0.5 * (c.lo + c.hi))))
                    .collect()
            })
            .collect();
        let diff = |x: &[u8], y: &[u8]| -> u64 { x.iter().zip(y).map(|(p, q)| p.abs_diff(*q) as u64).sum() };
        for j in 0..children.len() {
            let piece = children[j].1.piece;
            let next = match children.get(j + 1) {
                Some(c) if nb == 2 || c.1.piece == piece => j + 1,
                // The closing: an ellipse on itself, the polygon's last back to its first.
                _ if nb == 3 => children.iter().position(|c| c.1.piece == piece).unwrap_or(0),
                _ => 0,
            };
            out.per_layer[l] += diff(&codes[j], &codes[next]);
        }
        if l + 1 == hidden {
            break;
        }
        let mut next = vec![0.0f64; children.len() * nb * w_out];
        for (j, (&(a, _), code)) in children.iter().zip(&codes).enumerate() {
            for i in 0..w_out {
                let (slope, offset) = act.linear_piece(code[i]);
                for k in 0..nb {
                    let v = slope as f64 * z[(a * nb + k) * w_out + i];
                    next[(j * nb + k) * w_out + i] = if k == 0 { v + offset as f64 } else { v };
                }
            }
        }
        arcs = children.into_iter().map(|(_, c)| c).collect();
        coef = next;
    }
    out
}

/// A closed polygon through `vertices` (the last back to the first), as segment pieces.
pub fn polygon(vertices: &[Vec<f32>]) -> Trajectory {
    let n = vertices.len();
    Trajectory {
        pieces: (0..n)
            .map(|k| Piece::Segment {
                start: vertices[k].clone(),
                end: vertices[(k + 1) % n].clone(),
            })
            .collect(),
        anchors: vec![],
    }
}
