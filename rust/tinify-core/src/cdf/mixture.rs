//! Per-element Gaussian-mixture CDFs, built on the fly while coding (Cheng et al. 2020).
//!
//! Each element has K components `(w_k, mu_k, s_k)`. Its mixture CDF is
//! `F(x) = sum_k w_k Phi((x - mu_k) / s_k) / sum_k w_k`, with each scale clamped to
//! [`MIN_SCALE`, `MAX_SCALE`]. The symbols `lo..=hi` get slots `0..L` (`L = hi - lo + 1`), where
//! `lo = floor(min_k(mu_k - t s_k))` and `hi = ceil(max_k(mu_k + t s_k))` (`t` as for a 1e-9 tail,
//! `L` capped at [`MAX_SLOTS`]); slot `L` is the escape slot for everything else.
//!
//! The quantized CDF is "leaky" so that any slot's interval costs O(1) to compute and no table is
//! ever materialised: with `T(j) = clamp(F(lo + j - 1/2), 0, 1)` and `R = 2^16 - (L + 1)`,
//!
//! `C(0) = 0`, `C(j) = floor(T(j) R) + j` for `j = 1..=L`, and `C(L + 1) = 2^16`.
//!
//! (The mass below `lo`, under `5e-10` by the choice of `lo`, goes to slot 0.) `C` is strictly
//! increasing whenever `T` is non-decreasing, so every slot, the escape slot included, has
//! frequency at least 1. `T` is non-decreasing because IEEE-754 rounding is
//! monotone in every operation used (subtraction of a constant, division by a positive constant,
//! scaling by a non-negative weight, addition) and `Phi`'s computed values are monotone on the
//! integer grid: with `s <= 256` neighbouring arguments differ by at least 1/256, which changes
//! `Phi` by a relative amount far above `erfc`'s error of about one ulp. The decoder finds a slot
//! by bisection over `C`, evaluating exactly the same expressions, so encoder and decoder agree
//! bit for bit on every machine.

use crate::cdf::gaussian::standard_normal_cdf;
use crate::error::{Error, Result};
use crate::rans::{SlotModel, PROB_SCALE};

/// Smallest scale used (smaller scales are raised to it), as CompressAI's scale bound.
pub const MIN_SCALE: f64 = 0.11;
/// Largest scale used (larger scales are lowered to it).
pub const MAX_SCALE: f64 = 256.0;
/// Most mixture components per element.
pub const MAX_COMPONENTS: usize = 8;
/// Most slots in one element's support (escape slot excluded).
pub const MAX_SLOTS: i64 = 8192;
/// Largest absolute mean accepted.
pub const MAX_ABS_MEAN: f64 = (1u64 << 30) as f64;
/// Support half-width in standard deviations: `-Phi^-1(1e-9 / 2)`.
const TAIL_SIGMAS: f64 = 6.109_410_204_869_397_5;

/// Mixture parameters of many elements, element-major: element `i` has components
/// `i * k .. (i + 1) * k` of each slice.
#[derive(Debug, Clone, Copy)]
pub struct MixtureParams<'a> {
    /// Components per element.
    pub k: usize,
    /// Non-negative weights (need not sum to 1).
    pub weights: &'a [f64],
    /// Means.
    pub means: &'a [f64],
    /// Scales (standard deviations).
    pub scales: &'a [f64],
}

impl<'a> MixtureParams<'a> {
    /// Wraps the parameter slices, checking their lengths.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `k` outside `1..=MAX_COMPONENTS`,
    /// [`Error::ShapeMismatch`] when a slice does not hold `n * k` values.
    pub fn new(
        k: usize,
        weights: &'a [f64],
        means: &'a [f64],
        scales: &'a [f64],
        n: usize,
    ) -> Result<Self> {
        if !(1..=MAX_COMPONENTS).contains(&k) {
            return Err(Error::InvalidParameter {
                position: 0,
                reason: format!(
                    "{k} mixture components; between 1 and {MAX_COMPONENTS} are supported"
                ),
            });
        }
        let expected = n.saturating_mul(k);
        for (what, s) in [("weights", weights), ("means", means), ("scales", scales)] {
            if s.len() != expected {
                return Err(Error::ShapeMismatch {
                    what,
                    expected,
                    got: s.len(),
                });
            }
        }
        Ok(Self {
            k,
            weights,
            means,
            scales,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.weights.len().checked_div(self.k).unwrap_or(0)
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// The coding model of element `i`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a non-finite or negative weight, weights summing to 0, a
    /// non-finite mean or one beyond [`MAX_ABS_MEAN`], a NaN scale, or `k` outside
    /// `1..=MAX_COMPONENTS`; [`Error::IndexOutOfRange`] when `i` is not below [`len`](Self::len).
    pub fn element(&self, i: usize) -> Result<MixtureElement> {
        // The fields are public, so `k` and the slice lengths are re-checked here.
        if !(1..=MAX_COMPONENTS).contains(&self.k) {
            return Err(Error::InvalidParameter {
                position: 0,
                reason: format!(
                    "{} mixture components; between 1 and {MAX_COMPONENTS} are supported",
                    self.k
                ),
            });
        }
        let out_of_range = || Error::IndexOutOfRange {
            position: i,
            index: i64::try_from(i).unwrap_or(i64::MAX),
            rows: self.len(),
        };
        let start = i.checked_mul(self.k).ok_or_else(out_of_range)?;
        let r = start..start.checked_add(self.k).ok_or_else(out_of_range)?;
        match (
            self.weights.get(r.clone()),
            self.means.get(r.clone()),
            self.scales.get(r),
        ) {
            (Some(w), Some(m), Some(s)) => MixtureElement::new(i, w, m, s),
            _ => Err(out_of_range()),
        }
    }
}

/// The leaky quantized CDF of one element (see the module docs).
#[derive(Debug, Clone, Copy)]
pub struct MixtureElement {
    k: usize,
    weights: [f64; MAX_COMPONENTS],
    means: [f64; MAX_COMPONENTS],
    scales: [f64; MAX_COMPONENTS],
    lo: i64,
    slots: u32,
    spread: f64,
}

impl MixtureElement {
    fn new(position: usize, weights: &[f64], means: &[f64], scales: &[f64]) -> Result<Self> {
        let bad = |reason: String| Err(Error::InvalidParameter { position, reason });
        let k = weights.len();
        let mut total = 0.0;
        for (c, ((&w, &m), &s)) in weights.iter().zip(means).zip(scales).enumerate() {
            if !(w.is_finite() && w >= 0.0) {
                return bad(format!(
                    "weight {c} is {w}; weights must be finite and non-negative"
                ));
            }
            if !(m.is_finite() && m.abs() <= MAX_ABS_MEAN) {
                return bad(format!(
                    "mean {c} is {m}; means must be finite and within +-2^30"
                ));
            }
            if s.is_nan() {
                return bad(format!("scale {c} is NaN"));
            }
            total += w;
        }
        if !(total > 0.0 && total.is_finite()) {
            return bad(format!(
                "weights sum to {total}; at least one must be positive"
            ));
        }
        let mut e = Self {
            k,
            weights: [0.0; MAX_COMPONENTS],
            means: [0.0; MAX_COMPONENTS],
            scales: [0.0; MAX_COMPONENTS],
            lo: 0,
            slots: 0,
            spread: 0.0,
        };
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for c in 0..k {
            let s = scales[c].clamp(MIN_SCALE, MAX_SCALE);
            e.weights[c] = weights[c] / total;
            e.means[c] = means[c];
            e.scales[c] = s;
            lo = lo.min(means[c] - TAIL_SIGMAS * s);
            hi = hi.max(means[c] + TAIL_SIGMAS * s);
        }
        e.lo = lo.floor() as i64;
        let hi = (hi.ceil() as i64).min(e.lo + MAX_SLOTS - 1);
        e.slots = (hi - e.lo + 1) as u32;
        e.spread = f64::from(PROB_SCALE - (e.slots + 1));
        Ok(e)
    }

    /// `F(x)`, the normalised mixture CDF.
    #[inline]
    fn mixture_cdf(&self, x: f64) -> f64 {
        let mut f = 0.0;
        for c in 0..self.k {
            f += self.weights[c] * standard_normal_cdf((x - self.means[c]) / self.scales[c]);
        }
        f
    }

    /// `C(j)` for `j` in `0..=L + 1`.
    #[inline]
    fn cdf(&self, j: u32) -> u32 {
        if j == 0 {
            return 0;
        }
        if j > self.slots {
            return PROB_SCALE;
        }
        let t = self
            .mixture_cdf((self.lo + i64::from(j)) as f64 - 0.5)
            .clamp(0.0, 1.0);
        (t * self.spread).floor() as u32 + j
    }

    /// Probability the quantized model gives slot `slot` (for rate estimates and tests).
    pub fn slot_probability(&self, slot: u32) -> f64 {
        let (_, f) = self.interval(slot);
        f64::from(f) / f64::from(PROB_SCALE)
    }
}

impl SlotModel for MixtureElement {
    #[inline]
    fn offset(&self) -> i64 {
        self.lo
    }

    #[inline]
    fn max_value(&self) -> u32 {
        self.slots
    }

    #[inline]
    fn interval(&self, slot: u32) -> (u32, u32) {
        let start = self.cdf(slot);
        (start, self.cdf(slot + 1) - start)
    }

    fn find(&self, cum: u32) -> (u32, u32, u32) {
        // Largest j in 0..=L with C(j) <= cum; C(0) = 0 <= cum < C(L + 1) = 2^16. The values at
        // both ends of the bracket are kept, so the interval costs no extra evaluation.
        let (mut lo, mut hi) = (0u32, self.slots + 1);
        let (mut c_lo, mut c_hi) = (0u32, PROB_SCALE);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let c = self.cdf(mid);
            if c <= cum {
                (lo, c_lo) = (mid, c);
            } else {
                (hi, c_hi) = (mid, c);
            }
        }
        (lo, c_lo, c_hi - c_lo)
    }
}
