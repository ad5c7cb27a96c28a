//! Hot host loops compiled for the widest vector instructions the CPU has: [`widest`] runs
//! a closure inside a function compiled for AVX-512 or AVX2 when the CPU has them (checked
//! at run time, so the binary still runs on any x86-64), so that the loops inlined into it
//! use 8 or 4 float64 lanes instead of SSE2's 2.
//!
//! The results are the same bit for bit on every path: Rust never fuses a multiply and an
//! add on its own and never reorders a floating-point sum, so wider vectors only do the
//! same element-wise operations more at a time. The closure and the helpers it calls must
//! be inlined into it (`#[inline(always)]`) to be compiled for the wider instructions.

/// Runs `f`, compiled for AVX-512 or AVX2 where the CPU has them (see the module comment).
#[inline(always)]
pub fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has these features, checked just above.
            return unsafe { with_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { with_avx2(f) };
        }
    }
    f()
}

/// Whether the CPU has AVX-512 F, BW and VL (checked once, then cached by the standard
/// library).
#[inline(always)]
pub fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// # Safety
/// Only on a CPU with AVX-512 F, BW and VL.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2")]
unsafe fn with_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// # Safety
/// Only on a CPU with AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::widest;

    /// A loop whose products and sums round (so a fused multiply-add or a reordered sum
    /// would show), inlined into each path.
    #[inline(always)]
    fn kernel(a: &[f64], b: &[f32]) -> (Vec<f64>, f64) {
        let out: Vec<f64> = a.iter().zip(b).map(|(&x, &y)| x * y as f64 + x * 0.1).collect();
        let sum = out.iter().sum();
        (out, sum)
    }

    fn bits(result: &(Vec<f64>, f64)) -> Vec<u64> {
        (result.0.iter().chain([&result.1])).map(|v| v.to_bits()).collect()
    }

    /// The dispatch, and each path this CPU has, give the plain loop's bits.
    #[test]
    fn every_path_gives_the_same_bits_as_the_plain_loop() {
        let a: Vec<f64> = (0..1001).map(|i| (i as f64 * 0.7312).sin() * 1e3 + 1.0 / 3.0).collect();
        let b: Vec<f32> = (0..1001).map(|i| (i as f32 * 1.37).cos() / 7.0).collect();
        let plain = bits(&kernel(&a, &b));
        assert_eq!(bits(&widest(|| kernel(&a, &b))), plain, "the dispatch");
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                assert_eq!(bits(&unsafe { super::with_avx2(|| kernel(&a, &b)) }), plain, "AVX2");
            }
            if super::has_avx512() {
                // SAFETY: the CPU has these features, checked just above.
                assert_eq!(
                    bits(&unsafe { super::with_avx512(|| kernel(&a, &b)) }),
                    plain,
                    "AVX-512"
                );
            }
        }
    }
}
