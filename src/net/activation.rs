//! The five non-linearities (docs/MODEL.md, Networks): values, derivatives, breakpoints and
//! region codes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The non-linearity φ applied after every hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// max(0, z).
    Relu,
    /// min(max(0, z), 6).
    Relu6,
    /// clamp(z, −1, 1).
    HardTanh,
    /// clamp(z + 0.5, 0, 1).
    HardSigmoid,
    /// tanh(z), the one smooth activation (transitions are sampled, never exact).
    Tanh,
}

impl Activation {
    /// Every activation, in the order of the docs and the CLI help.
    pub const ALL: [Activation; 5] = [
        Activation::Relu,
        Activation::Relu6,
        Activation::HardTanh,
        Activation::HardSigmoid,
        Activation::Tanh,
    ];

    /// The name used on the command line, in files and in specs.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Relu6 => "relu6",
            Activation::HardTanh => "hard_tanh",
            Activation::HardSigmoid => "hard_sigmoid",
            Activation::Tanh => "tanh",
        }
    }

    /// φ(z).
    #[inline(always)]
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Relu6 => z.clamp(0.0, 6.0),
            Activation::HardTanh => z.clamp(-1.0, 1.0),
            Activation::HardSigmoid => (z + 0.5).clamp(0.0, 1.0),
            Activation::Tanh => z.tanh(),
        }
    }

    /// φ'(z), given the pre-activation `z` and `a = φ(z)`. At a breakpoint the
    /// derivative is 0, PyTorch's convention (the gradient of relu at 0 is 0).
    #[inline(always)]
    pub fn derivative(self, z: f32, a: f32) -> f32 {
        let inside = |lo: f32, hi: f32| if z > lo && z < hi { 1.0 } else { 0.0 };
        match self {
            Activation::Relu => inside(0.0, f32::INFINITY),
            Activation::Relu6 => inside(0.0, 6.0),
            Activation::HardTanh => inside(-1.0, 1.0),
            Activation::HardSigmoid => inside(-0.5, 0.5),
            Activation::Tanh => 1.0 - a * a,
        }
    }

    /// φ'(z) computed from the output `a = φ(z)` alone, equal to [`Self::derivative`]:
    /// every φ here is monotone, so "z strictly inside a linear piece" is "a strictly
    /// inside that piece's image". This lets the forward pass overwrite z with φ(z).
    #[inline(always)]
    pub fn derivative_from_output(self, a: f32) -> f32 {
        let inside = |lo: f32, hi: f32| if a > lo && a < hi { 1.0 } else { 0.0 };
        match self {
            Activation::Relu => inside(0.0, f32::INFINITY),
            Activation::Relu6 => inside(0.0, 6.0),
            Activation::HardTanh => inside(-1.0, 1.0),
            Activation::HardSigmoid => inside(0.0, 1.0),
            Activation::Tanh => 1.0 - a * a,
        }
    }

    /// The pre-activation values where the region code changes (tanh: 0 by convention).
    pub fn breakpoints(self) -> &'static [f32] {
        match self {
            Activation::Relu | Activation::Tanh => &[0.0],
            Activation::Relu6 => &[0.0, 6.0],
            Activation::HardTanh => &[-1.0, 1.0],
            Activation::HardSigmoid => &[-0.5, 0.5],
        }
    }

    /// The linear-region code of a neuron: the number of breakpoints strictly below `z`.
    #[inline(always)]
    pub fn code(self, z: f32) -> u8 {
        self.breakpoints().iter().filter(|&&b| z > b).count() as u8
    }

    /// φ on the linear piece with region code `code`, as `φ(z) = slope·z + offset`
    /// (piecewise-linear φ only).
    pub fn linear_piece(self, code: u8) -> (f32, f32) {
        match (self, code) {
            (Activation::Relu, 0) | (Activation::Relu6, 0) | (Activation::HardSigmoid, 0) => (0.0, 0.0),
            (Activation::Relu, _) | (Activation::Relu6, 1) => (1.0, 0.0),
            (Activation::Relu6, _) => (0.0, 6.0),
            (Activation::HardTanh, 0) => (0.0, -1.0),
            (Activation::HardTanh, 1) => (1.0, 0.0),
            (Activation::HardTanh, _) => (0.0, 1.0),
            (Activation::HardSigmoid, 1) => (1.0, 0.5),
            (Activation::HardSigmoid, _) => (0.0, 1.0),
            (Activation::Tanh, _) => panic!("tanh is not piecewise linear"),
        }
    }

    /// Whether φ is piecewise linear, so transitions can be counted exactly.
    pub fn is_piecewise_linear(self) -> bool {
        self != Activation::Tanh
    }

    /// The variance factor v of the initialization N(0, s²·v/fan_in): 2 for the
    /// relu-like functions, 1 for tanh and hard_tanh (docs/MODEL.md, Networks).
    pub fn init_gain(self) -> f64 {
        match self {
            Activation::Relu | Activation::Relu6 | Activation::HardSigmoid => 2.0,
            Activation::Tanh | Activation::HardTanh => 1.0,
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let norm = s.to_ascii_lowercase().replace('-', "_");
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == norm || a.name().replace('_', "") == norm)
            .ok_or_else(|| format!("unknown activation '{s}': expected relu, relu6, hard_tanh, hard_sigmoid or tanh"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_change_exactly_at_breakpoints() {
        for act in Activation::ALL {
            let bps = act.breakpoints();
            for (i, &b) in bps.iter().enumerate() {
                let below = act.code(b - 1e-3);
                let above = act.code(b + 1e-3);
                assert_eq!(below as usize, i, "{act} below breakpoint {b}");
                assert_eq!(above as usize, i + 1, "{act} above breakpoint {b}");
            }
        }
    }

    #[test]
    fn piecewise_linear_functions_are_linear_between_breakpoints() {
        for act in Activation::ALL.into_iter().filter(|a| a.is_piecewise_linear()) {
            let mut edges = vec![-20.0f32];
            edges.extend_from_slice(act.breakpoints());
            edges.push(20.0);
            for w in edges.windows(2) {
                let (a, b) = (w[0] + 1e-2, w[1] - 1e-2);
                let mid = 0.5 * (a + b);
                let interp = 0.5 * (act.apply(a) + act.apply(b));
                assert!((act.apply(mid) - interp).abs() < 1e-5, "{act} on [{a},{b}]");
                let slope = (act.apply(b) - act.apply(a)) / (b - a);
                assert!((slope - act.derivative(mid, act.apply(mid))).abs() < 1e-4);
                assert_eq!(
                    act.derivative(mid, act.apply(mid)),
                    act.derivative_from_output(act.apply(mid))
                );
            }
        }
    }

    #[test]
    fn linear_pieces_reproduce_phi() {
        for act in Activation::ALL.into_iter().filter(|a| a.is_piecewise_linear()) {
            for i in -800..=800 {
                let z = i as f32 * 0.01;
                let (slope, offset) = act.linear_piece(act.code(z));
                assert!((slope * z + offset - act.apply(z)).abs() < 1e-6, "{act} at {z}");
            }
        }
    }

    #[test]
    fn derivative_from_output_agrees_everywhere() {
        for act in Activation::ALL {
            for i in -2000..=2000 {
                let z = i as f32 * 0.005;
                let a = act.apply(z);
                assert_eq!(act.derivative(z, a), act.derivative_from_output(a), "{act} at {z}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for act in Activation::ALL {
            assert_eq!(act.name().parse::<Activation>().unwrap(), act);
        }
        assert_eq!("HardSigmoid".parse::<Activation>().unwrap(), Activation::HardSigmoid);
        assert!("gelu".parse::<Activation>().is_err());
    }
}
