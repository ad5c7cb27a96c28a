//! The conditional-mutual-information ranking score of Jiang et al. (2019, "Fantastic
//! generalization measures and where to find them"), as in the PGDL competition: how much
//! knowing which of two networks has the larger measure tells about which has the larger
//! generalization gap, once the hyper-parameters that could explain both are fixed.
//!
//! Over every ordered pair (i, j) of distinct networks, V_μ = sign(μ_i − μ_j) and
//! V_g = sign(g_i − g_j) (−1, 0 or +1), and for a set S of hyper-parameters U_S = (the
//! values of S in network i, the values of S in network j). For every S with |S| ≤ 2
//! (the empty set, each hyper-parameter, each two of them):
//!
//!   Î(S) = I(V_μ; V_g | U_S) / H(V_g | U_S),
//!   I(V_μ; V_g | U_S) = Σ_u p(u) Σ p(v_μ, v_g | u) log₂ [p(v_μ, v_g | u) / (p(v_μ | u) p(v_g | u))],
//!   H(V_g | U_S) = Σ_u p(u) H(V_g | U_S = u),
//!
//! with p(u) the fraction of pairs in cell u; the score is the minimum of Î(S) over S.
//! Î(S) is undefined when H(V_g | U_S) = 0 (S alone decides which network has the larger
//! gap); such terms are reported as undefined and left out of the minimum. Differences
//! from PGDL's scoring program: pairs of a network with itself are not counted, ties are
//! their own sign (0) instead of counting as "−", cells are weighted by their pair count,
//! and S ranges over all subsets of size ≤ 2 as in the paper.

use crate::error::{OccamError, Result};
use std::collections::{BTreeMap, HashMap};

/// One network: its measure, its generalization gap and its hyper-parameter values (as
/// text; equal settings must give equal text), in the same order for every network.
#[derive(Debug, Clone, PartialEq)]
pub struct CmiNetwork {
    pub measure: f64,
    pub gap: f64,
    pub hyperparameters: Vec<String>,
}

/// Why a score or a term has no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmiUndefined {
    /// Fewer than two networks: there is no pair.
    TooFewNetworks { networks: usize },
    /// A network's measure or gap is NaN or infinite.
    NotFinite { network: usize },
    /// H(V_g | U_S) = 0: the conditioning hyper-parameters decide the gap's order in every
    /// pair (for the empty set: every gap is equal), so there is nothing to predict.
    GapDetermined,
}

/// A score or one term: a number, or why there is none.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CmiValue {
    Defined(f64),
    Undefined(CmiUndefined),
}

/// The term of one conditioning set S.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CmiTerm {
    /// Indices of the hyper-parameters in S (empty, one or two).
    pub conditioning: Vec<usize>,
    /// I(V_μ; V_g | U_S), in bits.
    pub mutual_information: f64,
    /// H(V_g | U_S), in bits.
    pub gap_entropy: f64,
    /// Their ratio, or undefined when the entropy is 0.
    pub value: CmiValue,
}

/// The score (the minimum over the defined terms), which term gave it, and every term.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cmi {
    pub score: CmiValue,
    /// The conditioning set of the minimum, when the score is defined.
    pub minimizer: Option<Vec<usize>>,
    /// Ordered pairs of distinct networks.
    pub pairs: usize,
    pub terms: Vec<CmiTerm>,
}

/// Counts of (V_g, V_μ) in one cell, indexed by (sign + 1) · 3 + (sign + 1).
type Counts = [u64; 9];

fn sign(d: f64) -> usize {
    if d > 0.0 {
        2
    } else if d < 0.0 {
        0
    } else {
        1
    }
}

/// The score of `networks`. Errors only when the networks list different numbers of
/// hyper-parameters; the statistical cases without a value are [`CmiUndefined`].
pub fn conditional_mutual_information(networks: &[CmiNetwork]) -> Result<Cmi> {
    let n = networks.len();
    let k = networks.first().map_or(0, |x| x.hyperparameters.len());
    if let Some(i) = networks.iter().position(|x| x.hyperparameters.len() != k) {
        return Err(OccamError::config(format!(
            "conditional mutual information: network {i} has {} hyper-parameters, network 0 has {k}",
            networks[i].hyperparameters.len()
        )));
    }
    let undefined = |why| Cmi {
        score: CmiValue::Undefined(why),
        minimizer: None,
        pairs: n * n.saturating_sub(1),
        terms: Vec::new(),
    };
    if n < 2 {
        return Ok(undefined(CmiUndefined::TooFewNetworks { networks: n }));
    }
    if let Some(i) = networks
        .iter()
        .position(|x| !x.measure.is_finite() || !x.gap.is_finite())
    {
        return Ok(undefined(CmiUndefined::NotFinite { network: i }));
    }
    // Each hyper-parameter's values as small integers, per network.
    let codes: Vec<Vec<u128>> = (0..k)
        .map(|h| {
            let mut seen: HashMap<&str, u128> = HashMap::new();
            networks
                .iter()
                .map(|x| {
                    let next = seen.len() as u128;
                    *seen.entry(x.hyperparameters[h].as_str()).or_insert(next)
                })
                .collect()
        })
        .collect();
    let mut subsets: Vec<Vec<usize>> = vec![Vec::new()];
    subsets.extend((0..k).map(|a| vec![a]));
    subsets.extend((0..k).flat_map(|a| (a + 1..k).map(move |b| vec![a, b])));
    let terms: Vec<CmiTerm> = subsets.into_iter().map(|s| term(networks, &codes, s)).collect();
    let best = terms
        .iter()
        .filter_map(|t| match t.value {
            CmiValue::Defined(v) => Some((v, &t.conditioning)),
            CmiValue::Undefined(_) => None,
        })
        .min_by(|a, b| a.0.total_cmp(&b.0));
    Ok(Cmi {
        score: best.map_or(CmiValue::Undefined(CmiUndefined::GapDetermined), |b| {
            CmiValue::Defined(b.0)
        }),
        minimizer: best.map(|b| b.1.clone()),
        pairs: n * (n - 1),
        terms,
    })
}

/// The term of conditioning set `s`: the (V_g, V_μ) counts of every cell u, then the
/// cell-weighted mutual information and gap entropy.
fn term(networks: &[CmiNetwork], codes: &[Vec<u128>], s: Vec<usize>) -> CmiTerm {
    let n = networks.len();
    let radix = n as u128;
    let key = |i: usize, j: usize| {
        s.iter()
            .fold(0u128, |acc, &h| (acc * radix + codes[h][i]) * radix + codes[h][j])
    };
    // Ordered, so the sums run in one order and equal inputs give equal bits.
    let mut cells: BTreeMap<u128, Counts> = BTreeMap::new();
    for i in 0..n {
        for j in i + 1..n {
            let g = sign(networks[i].gap - networks[j].gap);
            let m = sign(networks[i].measure - networks[j].measure);
            cells.entry(key(i, j)).or_insert([0; 9])[g * 3 + m] += 1;
            // The same pair in the other order: both signs flip.
            cells.entry(key(j, i)).or_insert([0; 9])[(2 - g) * 3 + (2 - m)] += 1;
        }
    }
    let total = (n * (n - 1)) as f64;
    let (mut information, mut entropy) = (0.0, 0.0);
    for counts in cells.values() {
        let cell_total = counts.iter().sum::<u64>() as f64;
        let (i, h) = cell_information(counts);
        information += cell_total / total * i;
        entropy += cell_total / total * h;
    }
    let value = if entropy > 1e-12 {
        CmiValue::Defined(information / entropy)
    } else {
        CmiValue::Undefined(CmiUndefined::GapDetermined)
    };
    CmiTerm {
        conditioning: s,
        mutual_information: information,
        gap_entropy: entropy,
        value,
    }
}

/// I(V_μ; V_g) and H(V_g) within one cell, in bits.
fn cell_information(counts: &Counts) -> (f64, f64) {
    let total = counts.iter().sum::<u64>() as f64;
    let p = |c: u64| c as f64 / total;
    let gap: [f64; 3] = std::array::from_fn(|g| p(counts[g * 3..g * 3 + 3].iter().sum()));
    let measure: [f64; 3] = std::array::from_fn(|m| p(counts[m] + counts[3 + m] + counts[6 + m]));
    let mut information = 0.0;
    for g in 0..3 {
        for m in 0..3 {
            let joint = p(counts[g * 3 + m]);
            if joint > 0.0 {
                information += joint * (joint / (gap[g] * measure[m])).log2();
            }
        }
    }
    let entropy = -gap.iter().filter(|&&q| q > 0.0).map(|q| q * q.log2()).sum::<f64>();
    (information.max(0.0), entropy.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn networks(measure: &[f64], gap: &[f64], hyper: &[&str]) -> Vec<CmiNetwork> {
        (0..measure.len())
            .map(|i| CmiNetwork {
                measure: measure[i],
                gap: gap[i],
                hyperparameters: hyper.iter().map(|h| h[i..=i].to_string()).collect(),
            })
            .collect()
    }

    fn defined(v: CmiValue) -> f64 {
        match v {
            CmiValue::Defined(x) => x,
            CmiValue::Undefined(why) => panic!("undefined: {why:?}"),
        }
    }

    /// log₂ with the binary entropy H_b(q) = −q log₂ q − (1−q) log₂(1−q).
    fn binary_entropy(q: f64) -> f64 {
        -q * q.log2() - (1.0 - q) * (1.0 - q).log2()
    }

    #[test]
    fn equal_inputs_give_equal_bits() {
        // 40 networks over two hyper-parameters with many cells: the sums over cells must
        // run in one order (a hash map's order differs from one map to the next).
        let nets: Vec<CmiNetwork> = (0..40)
            .map(|i| CmiNetwork {
                measure: ((i * 7919) % 97) as f64 / 9.7,
                gap: ((i * 104_729) % 89) as f64 / 8.9,
                hyperparameters: vec![(i % 5).to_string(), (i % 7).to_string()],
            })
            .collect();
        let first = conditional_mutual_information(&nets).unwrap();
        for _ in 0..20 {
            let again = conditional_mutual_information(&nets).unwrap();
            for (a, b) in first.terms.iter().zip(&again.terms) {
                assert_eq!(a.mutual_information.to_bits(), b.mutual_information.to_bits());
                assert_eq!(a.gap_entropy.to_bits(), b.gap_entropy.to_bits());
            }
        }
    }

    #[test]
    fn four_networks_worked_by_hand() {
        // Networks 0..3: gap (1, 2, 3, 4), measure (2, 1, 3, 4); hyper-parameter h = (a, a,
        // b, b), k = (x, y, x, y). 12 ordered pairs. The measure orders every pair like
        // the gap except {0, 1}.
        let nets = networks(&[2.0, 1.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 4.0], &["aabb", "xyxy"]);
        let cmi = conditional_mutual_information(&nets).unwrap();
        assert_eq!(cmi.pairs, 12);
        let by_set = |s: &[usize]| cmi.terms.iter().find(|t| t.conditioning == s).unwrap();
        // S = ∅: V_g = ±1 with ½ each, so H(V_g) = 1; V_μ ≠ V_g in 2 of 12 pairs, the
        // joint is (5/12, 5/12, 1/12, 1/12) over (++, −−, +−, −+), so I = 1 − H_b(1/6).
        let empty = by_set(&[]);
        assert!((empty.gap_entropy - 1.0).abs() < 1e-12);
        assert!((defined(empty.value) - (1.0 - binary_entropy(1.0 / 6.0))).abs() < 1e-12);
        // S = {h}: cells (a,a) = pairs 01, 10 and (b,b) = 23, 32 have V_g = ±1 and V_μ a
        // function of V_g (reversed in (a,a): information counts either direction), so
        // I = H = 1 bit in each, weight 2/12; the cells (a,b), (b,a) have one gap sign
        // (I = H = 0). I = H = 1/3: Î = 1.
        let h = by_set(&[0]);
        assert!((h.mutual_information - 1.0 / 3.0).abs() < 1e-12 && (h.gap_entropy - 1.0 / 3.0).abs() < 1e-12);
        assert!((defined(h.value) - 1.0).abs() < 1e-12);
        // S = {k}: cells (x,x) = 02, 20 and (y,y) = 13, 31 give 1 bit each (weight 2/12).
        // Cell (x,y) = pairs 01, 03, 21, 23 has (V_g, V_μ) = (−,+), (−,−), (+,+), (−,−):
        // p(V_g = −) = 3/4, p(V_μ = +) = ½, so H = H_b(1/4) and
        // I = ¼ log₂(⅔) + ½ log₂(4/3) + ¼ log₂ 2; cell (y,x) mirrors it. Weight 4/12 each.
        let i_xy = 0.25 * (2.0f64 / 3.0).log2() + 0.5 * (4.0f64 / 3.0).log2() + 0.25;
        let i = 1.0 / 3.0 + 2.0 / 3.0 * i_xy;
        let e = 1.0 / 3.0 + 2.0 / 3.0 * binary_entropy(0.25);
        let k = by_set(&[1]);
        assert!((k.mutual_information - i).abs() < 1e-12 && (k.gap_entropy - e).abs() < 1e-12);
        assert!((defined(k.value) - i / e).abs() < 1e-12);
        // S = {h, k}: every network has its own (h, k), so every pair is its own cell and
        // H(V_g | U_S) = 0: undefined, and left out of the minimum.
        let hk = by_set(&[0, 1]);
        assert_eq!(hk.value, CmiValue::Undefined(CmiUndefined::GapDetermined));
        assert_eq!(cmi.terms.len(), 4);
        // min(0.350, 1, 0.619) is the empty set's.
        assert_eq!(cmi.score, empty.value);
        assert_eq!(cmi.minimizer, Some(vec![]));
    }

    #[test]
    fn a_measure_that_carries_no_information_scores_zero() {
        // A constant measure: V_μ = 0 in every pair, independent of V_g: I = 0, Î = 0.
        let nets = networks(&[5.0; 3], &[1.0, 2.0, 3.0], &["abc"]);
        assert_eq!(
            conditional_mutual_information(&nets).unwrap().score,
            CmiValue::Defined(0.0)
        );
    }

    #[test]
    fn undefined_cases_are_typed() {
        // Equal gaps: V_g = 0 in every pair, H(V_g | U_S) = 0 for every S.
        let nets = networks(&[1.0, 2.0, 3.0], &[0.5; 3], &["abc"]);
        let cmi = conditional_mutual_information(&nets).unwrap();
        assert_eq!(cmi.score, CmiValue::Undefined(CmiUndefined::GapDetermined));
        assert_eq!(cmi.minimizer, None);
        assert!(
            cmi.terms
                .iter()
                .all(|t| t.value == CmiValue::Undefined(CmiUndefined::GapDetermined))
        );
        let one = networks(&[1.0], &[1.0], &["a"]);
        assert_eq!(
            conditional_mutual_information(&one).unwrap().score,
            CmiValue::Undefined(CmiUndefined::TooFewNetworks { networks: 1 })
        );
        let nan = networks(&[1.0, f64::NAN], &[1.0, 2.0], &["ab"]);
        assert_eq!(
            conditional_mutual_information(&nan).unwrap().score,
            CmiValue::Undefined(CmiUndefined::NotFinite { network: 1 })
        );
        let mut ragged = networks(&[1.0, 2.0], &[1.0, 2.0], &["ab"]);
        ragged[1].hyperparameters.push("extra".into());
        let e = conditional_mutual_information(&ragged).unwrap_err().to_string();
        assert!(e.contains("network 1 has 2 hyper-parameters, network 0 has 1"), "{e}");
    }
}
