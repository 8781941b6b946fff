//! Deterministic Gaussian CDF tables for a scale table (CompressAI's `GaussianConditional.update`).
//!
//! Everything is computed in `f64` in a fixed order with the pure-Rust `libm` `erfc`, never the
//! platform's math library, so every machine builds the same table bits:
//!
//! - `Phi(x) = erfc(-x / sqrt(2)) / 2`;
//! - `multiplier = -Phi^-1(tail_mass / 2)` (bisection); `center_i = ceil(s_i * multiplier)` with the
//!   product in `f32`, as CompressAI does;
//! - for `k = 0..2 center_i`, `d = |k - center_i|`:
//!   `pmf_k = Phi((0.5 - d) / s_i) - Phi((-0.5 - d) / s_i)`, and the escape slot gets
//!   `tail = 2 Phi((-0.5 - center_i) / s_i)`;
//! - the row is `pmf_to_quantized_cdf(pmf ++ [tail])` and the offset is `-center_i`.

use std::cmp::Ordering;
use std::f64::consts::FRAC_1_SQRT_2;

use crate::cdf::quantize::pmf_to_quantized_cdf;
use crate::cdf::table::CdfTable;
use crate::error::{Error, Result};
use crate::parallel;
use crate::rans::PRECISION;

/// Largest scale accepted in a scale table: wider rows would not fit 16-bit precision.
pub const MAX_TABLE_SCALE: f32 = 4096.0;

/// CompressAI 1.2.8's default scale table (`get_scale_table()`: 64 scales log-spaced from 0.11 to
/// 256, computed by torch in float32) as `f32` bit patterns. 46 of them differ by one ulp from a
/// float64 computation, so they are stored exactly.
pub const DEFAULT_SCALE_TABLE_BITS: [u32; 64] = [
    0x3de147ae, 0x3dfec793, 0x3e101230, 0x3e22efc7, 0x3e3845c8, 0x3e506704, 0x3e6bb124, 0x3e85470a,
    0x3e96bacd, 0x3eaa779a, 0x3ec0ca0e, 0x3eda08ca, 0x3ef695cc, 0x3f0b6ff2, 0x3f1db234, 0x3f325889,
    0x3f49b318, 0x3f641c86, 0x3f80fdab, 0x3f91e1bd, 0x3fa4fc07, 0x3fba96af, 0x3fd3058f, 0x3feea77c,
    0x4006f3dc, 0x40189fc7, 0x402c9c16, 0x4043365c, 0x405cc651, 0x4079af2f, 0x408d3097, 0x409fad98,
    0x40b4965b, 0x40cc3c0e, 0x40e6fa78, 0x41029cb1, 0x4113b71b, 0x41270edd, 0x413cef07, 0x4155ac83,
    0x4171a758, 0x4188a610, 0x419a8ad8, 0x41aec774, 0x41c5aa71, 0x41df8ca9, 0x41fcd28b, 0x420ef6dd,
    0x4221af59, 0x4236db65, 0x424ecd30, 0x4269e1a0, 0x428440f0, 0x42959263, 0x42a9285d, 0x42bf4eec,
    0x42d85c06, 0x42f4b0de, 0x430a5dbd, 0x431c7c18, 0x4330f9ce, 0x43482672, 0x43625beb, 0x43800000,
];

/// [`DEFAULT_SCALE_TABLE_BITS`] as `f32` values.
pub fn default_scale_table() -> Vec<f32> {
    DEFAULT_SCALE_TABLE_BITS
        .iter()
        .map(|&b| f32::from_bits(b))
        .collect()
}

/// Standard normal CDF, `erfc(-x / sqrt 2) / 2`, with the pure-Rust `erfc`.
#[inline]
pub fn standard_normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// Inverse of [`standard_normal_cdf`] for `q` in (0, 1), by 200 steps of bisection.
///
/// # Errors
/// [`Error::InvalidParameter`] when `q` is not strictly between 0 and 1.
pub fn standard_normal_quantile(q: f64) -> Result<f64> {
    if !(q > 0.0 && q < 1.0) {
        return Err(Error::InvalidParameter {
            position: 0,
            reason: format!("quantile level {q} is outside (0, 1)"),
        });
    }
    let (mut lo, mut hi) = (-40.0f64, 40.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if standard_normal_cdf(mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(0.5 * (lo + hi))
}

/// Builds the quantized CDF table of a zero-mean Gaussian for each scale in `scale_table`.
///
/// ```
/// let table = tinify_core::gaussian_table(&[0.11, 1.0, 10.0], 1e-9).unwrap();
/// assert_eq!(table.rows(), 3);
/// assert_eq!(table.offsets(), &[-1, -7, -62]);
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for a scale that is not finite, not positive or above
/// [`MAX_TABLE_SCALE`], or a tail mass outside (0, 1).
pub fn gaussian_table(scale_table: &[f32], tail_mass: f64) -> Result<CdfTable> {
    let multiplier = -standard_normal_quantile(tail_mass / 2.0)?;
    for (i, &s) in scale_table.iter().enumerate() {
        if !(s.is_finite() && s > 0.0 && s <= MAX_TABLE_SCALE) {
            return Err(Error::InvalidParameter {
                position: i,
                reason: format!("scale {s} must be finite and in (0, {MAX_TABLE_SCALE}]"),
            });
        }
    }
    let rows = parallel::try_map(scale_table.len(), |i| {
        gaussian_row(scale_table[i], multiplier as f32)
    })?;
    let (rows, offsets): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    CdfTable::from_rows(&rows, &offsets)
}

/// Table row for every scale: the first `table` entry `>= scale`, capped at the last row.
///
/// This is CompressAI's `build_indexes` rule (scales are rounded *up* to the next table entry;
/// a NaN or a scale above the last entry maps to the last row), with the comparisons in `f32`.
/// Large inputs are split over the thread pool; the result does not depend on the split.
///
/// # Errors
/// [`Error::InvalidParameter`] for an empty table.
pub fn scale_indexes(scales: &[f32], table: &[f32]) -> Result<Vec<i32>> {
    if table.is_empty() {
        return Err(Error::InvalidParameter {
            position: 0,
            reason: "the scale table is empty".into(),
        });
    }
    let last = table.len() - 1;
    const PART: usize = 1 << 16;
    let parts = parallel::map(scales.len().div_ceil(PART), |p| {
        let chunk = &scales[p * PART..((p + 1) * PART).min(scales.len())];
        // Entries below s, in f32; a NaN s is below nothing comparable, so it maps to the last row.
        chunk
            .iter()
            .map(|&s| {
                table
                    .partition_point(|&t| {
                        !matches!(t.partial_cmp(&s), Some(Ordering::Greater | Ordering::Equal))
                    })
                    .min(last) as i32
            })
            .collect::<Vec<_>>()
    });
    Ok(parts.concat())
}

fn gaussian_row(scale: f32, multiplier: f32) -> Result<(Vec<i32>, i32)> {
    let center = (scale * multiplier).ceil() as i64;
    let sigma = f64::from(scale);
    let length = 2 * center + 1;
    let mut pmf = Vec::with_capacity(length as usize + 1);
    for k in 0..length {
        let d = (k - center).abs() as f64;
        let upper = standard_normal_cdf((0.5 - d) / sigma);
        let lower = standard_normal_cdf((-0.5 - d) / sigma);
        pmf.push((upper - lower) as f32);
    }
    let tail = 2.0 * standard_normal_cdf((-0.5 - center as f64) / sigma);
    pmf.push(tail as f32);
    let cdf = pmf_to_quantized_cdf(&pmf, PRECISION)?;
    Ok((
        cdf.into_iter().map(|v| v as i32).collect(),
        -(center as i32),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_matches_reference() {
        let m = -standard_normal_quantile(1e-9 / 2.0).unwrap();
        assert!((m - 6.109_410_204_869_397_5).abs() < 1e-12, "{m}");
    }

    #[test]
    fn smallest_scale_row() {
        let t = gaussian_table(&[0.11], 1e-9).unwrap();
        let (cdf, width, lengths, offsets) = t.to_padded();
        assert_eq!((width, lengths, offsets), (5, vec![5], vec![-1]));
        assert_eq!(cdf, vec![0, 1, 65534, 65535, 65536]);
    }
}
