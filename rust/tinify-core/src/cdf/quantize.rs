//! pmf -> quantized CDF, bit-identical to CompressAI 1.2.8's `pmf_to_quantized_cdf`.
//!
//! 1. Each probability is taken as `f32`; `count_i = round_half_away(p_i * 2^prec)`.
//! 2. Counts are rescaled with integer floor division: `count_i = floor(2^prec * count_i / total)`.
//! 3. The prefix sum is formed and its last value forced to `2^prec`, so the flooring deficit goes
//!    to the last symbol (the escape slot in entropy-model tables).
//! 4. One left-to-right pass repairs zero frequencies: a symbol with frequency 0 takes one count
//!    from the symbol with the smallest frequency above 1 (lowest index on ties).
//!
//! Step 4 is done on the frequency array with an ordered set, which is the same operation as
//! CompressAI's shifting of CDF ranges but runs in O(n log n) instead of O(n^2).

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::parallel;

/// Quantizes one pmf into a CDF of `pmf.len() + 1` values from 0 to `1 << precision`.
///
/// ```
/// let cdf = tinify_core::pmf_to_quantized_cdf(&[0.25, 0.5, 0.25], 16).unwrap();
/// assert_eq!(cdf, vec![0, 16384, 49152, 65536]);
/// ```
///
/// # Errors
/// [`Error::InvalidPmf`] for an empty pmf, a negative or non-finite entry, an all-zero pmf, more
/// symbols than the precision can give a frequency of 1 each, or a precision outside 1..=16.
pub fn pmf_to_quantized_cdf(pmf: &[f32], precision: u32) -> Result<Vec<u32>> {
    quantize_row(0, pmf, precision)
}

/// Quantizes many pmfs at once (in parallel); row `i` is `pmfs[starts_i .. starts_i + lengths[i]]`
/// where rows are stored back to back.
///
/// # Errors
/// As [`pmf_to_quantized_cdf`], naming the row; [`Error::ShapeMismatch`] when the lengths do not
/// add up to the data.
pub fn pmfs_to_quantized_cdfs(
    pmfs: &[f32],
    lengths: &[usize],
    precision: u32,
) -> Result<Vec<Vec<u32>>> {
    // An overflowing sum cannot match any slice length: report it as a mismatch, not a panic.
    let total = lengths
        .iter()
        .try_fold(0usize, |a, &l| a.checked_add(l))
        .unwrap_or(usize::MAX);
    if total != pmfs.len() {
        return Err(Error::ShapeMismatch {
            what: "pmf values (sum of lengths)",
            expected: total,
            got: pmfs.len(),
        });
    }
    let mut starts = Vec::with_capacity(lengths.len());
    let mut acc = 0;
    for &l in lengths {
        starts.push(acc);
        acc += l;
    }
    parallel::try_map(lengths.len(), |i| {
        quantize_row(i, &pmfs[starts[i]..starts[i] + lengths[i]], precision)
    })
}

fn quantize_row(index: usize, pmf: &[f32], precision: u32) -> Result<Vec<u32>> {
    let fail = |reason: String| Err(Error::InvalidPmf { index, reason });
    if !(1..=16).contains(&precision) {
        return fail(format!("precision {precision} is outside 1..=16"));
    }
    let scale = 1u64 << precision;
    let n = pmf.len();
    if n == 0 {
        return fail("the pmf is empty".into());
    }
    if n as u64 > scale {
        return fail(format!(
            "{n} symbols cannot each get a frequency of 1 at {precision}-bit precision"
        ));
    }
    let mut freqs = Vec::with_capacity(n);
    let mut total: u128 = 0;
    for (i, &p) in pmf.iter().enumerate() {
        if !p.is_finite() || p < 0.0 {
            return fail(format!(
                "entry {i} is {p}; probabilities must be finite and non-negative"
            ));
        }
        // round(p * 2^prec) in f32, half away from zero, as the C++ std::round on float.
        let c = (p * scale as f32).round() as u64;
        total += u128::from(c);
        freqs.push(c);
    }
    if total == 0 {
        return fail("every entry rounds to a count of 0".into());
    }
    // floor(2^prec * count / total); exact in 128 bits.
    for f in freqs.iter_mut() {
        *f = ((u128::from(scale) * u128::from(*f)) / total) as u64;
    }
    // Force the end to 2^prec: the last symbol takes the flooring deficit.
    let sum_but_last: u64 = freqs[..n - 1].iter().sum();
    freqs[n - 1] = scale - sum_but_last;
    repair_zero_frequencies(&mut freqs);
    let mut cdf = Vec::with_capacity(n + 1);
    let mut acc = 0u64;
    cdf.push(0);
    for &f in &freqs {
        acc += f;
        cdf.push(acc as u32);
    }
    Ok(cdf)
}

/// Gives every zero-frequency symbol one count, taken from the smallest frequency above 1.
fn repair_zero_frequencies(freqs: &mut [u64]) {
    if !freqs.contains(&0) {
        return;
    }
    let mut donors: BTreeSet<(u64, usize)> = freqs
        .iter()
        .enumerate()
        .filter(|(_, &f)| f > 1)
        .map(|(j, &f)| (f, j))
        .collect();
    for i in 0..freqs.len() {
        if freqs[i] != 0 {
            continue;
        }
        // A donor always exists: n <= 2^prec and the frequencies sum to 2^prec with one zero.
        let (f, j) = donors
            .pop_first()
            .expect("a symbol with frequency > 1 exists");
        freqs[j] = f - 1;
        if f - 1 > 1 {
            donors.insert((f - 1, j));
        }
        freqs[i] = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deficit_goes_to_last_symbol() {
        let cdf = pmf_to_quantized_cdf(&[0.3, 0.3, 0.3], 16).unwrap();
        assert_eq!(*cdf.last().unwrap(), 65536);
        // Counts 19661 each, total 58983; floor(65536*19661/58983) = 21845.
        assert_eq!(cdf, vec![0, 21845, 43690, 65536]);
    }

    #[test]
    fn zero_bins_are_repaired_from_smallest_donor() {
        let cdf = pmf_to_quantized_cdf(&[0.0, 0.5, 0.5, 0.0], 16).unwrap();
        assert_eq!(cdf, vec![0, 1, 32767, 65535, 65536]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(pmf_to_quantized_cdf(&[], 16).is_err());
        assert!(pmf_to_quantized_cdf(&[0.0, 0.0], 16).is_err());
        assert!(pmf_to_quantized_cdf(&[f32::NAN], 16).is_err());
        assert!(pmf_to_quantized_cdf(&[-0.1, 1.0], 16).is_err());
        assert!(pmf_to_quantized_cdf(&[1.0; 5], 2).is_err());
    }
}
