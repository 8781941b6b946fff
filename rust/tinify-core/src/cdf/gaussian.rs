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
