//! Exact matrix products for the fixed-point layers: `C (m x n) = A (m x k) * B (k x n)`.
//!
//! `B` arrives packed in column panels of [`NR`] columns (`panel[kk * NR + c] = B[kk, p*NR + c]`,
//! zero beyond `n`), so the kernel streams through memory; rows of `A` go in blocks of [`MR`]
//! (interleaved the same way). Each `MR x NR` tile of `C` is summed in registers over all of `k`.
//! The sums are exact (see [`Exact`](super::ops)), so blocking and thread count never change the
//! result. Row blocks are independent jobs on the [`parallel`](crate::parallel) pool.

use std::borrow::Cow;

use super::{concat, filled, QuantizedConv};
use crate::error::Result;
use crate::parallel;

/// Columns per panel of `B`.
pub const NR: usize = 4;
/// Rows per block of `A`.
pub const MR: usize = 4;

/// Numbers whose sums are exact under the caller's bound (`i64`, or `f64` below `2^53`).
pub trait Exact:
    Copy + Send + Sync + std::ops::Add<Output = Self> + std::ops::Mul<Output = Self>
{
    /// Zero.
    const ZERO: Self;
    /// Conversion from an `i32` (exact).
    fn from_i32(v: i32) -> Self;
    /// The (integer) value as `i64`; exact for both types under their bounds.
    fn to_i64(self) -> i64;
    /// The weights of `q` as an `A` matrix (`cout x cin*kh*kw`) packed by [`pack_rows`].
    ///
    /// # Errors
    /// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the buffer cannot be allocated.
    fn packed_weights(q: &QuantizedConv) -> Result<Cow<'_, [Self]>>
    where
        Self: Clone;
}

impl Exact for i64 {
    const ZERO: Self = 0;
    fn from_i32(v: i32) -> Self {
        i64::from(v)
    }
    fn to_i64(self) -> i64 {
        self
    }
    fn packed_weights(q: &QuantizedConv) -> Result<Cow<'_, [Self]>> {
        let k = q.cin * q.kh * q.kw;
        Ok(Cow::Owned(pack_rows(q.cout, k, |o, kk| {
            i64::from(q.weight[o * k + kk])
        })?))
    }
}

impl Exact for f64 {
    const ZERO: Self = 0.0;
    fn from_i32(v: i32) -> Self {
        f64::from(v)
    }
    fn to_i64(self) -> i64 {
        // An integer below 2^53 in magnitude: the conversion is exact.
        self as i64
    }
    fn packed_weights(q: &QuantizedConv) -> Result<Cow<'_, [Self]>> {
        Ok(Cow::Borrowed(&q.packed_f64))
    }
}

/// Packs a `k x n` matrix given by `get(kk, col)` into panels of [`NR`] columns.
///
/// # Errors
/// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the buffer cannot be allocated.
pub fn pack_panels<T: Exact>(
    k: usize,
    n: usize,
    get: impl Fn(usize, usize) -> T,
) -> Result<Vec<T>> {
    let panels = n.div_ceil(NR);
    let mut out = filled(&[panels, k, NR], T::ZERO, "packed activations")?;
    for p in 0..panels {
        let panel = &mut out[p * k * NR..(p + 1) * k * NR];
        for c in 0..NR.min(n - p * NR) {
            for kk in 0..k {
                panel[kk * NR + c] = get(kk, p * NR + c);
            }
        }
    }
    Ok(out)
}

/// Packs an `m x k` matrix given by `get(row, kk)` into blocks of [`MR`] rows, interleaved
/// (`block[kk * MR + r] = A[b*MR + r, kk]`, zero rows past `m`).
///
/// # Errors
/// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the buffer cannot be allocated.
pub fn pack_rows<T: Exact>(m: usize, k: usize, get: impl Fn(usize, usize) -> T) -> Result<Vec<T>> {
    let blocks = m.div_ceil(MR);
    let mut out = filled(&[blocks, k, MR], T::ZERO, "packed weights")?;
    for b in 0..blocks {
        let block = &mut out[b * k * MR..(b + 1) * k * MR];
        for r in 0..MR.min(m - b * MR) {
            for kk in 0..k {
                block[kk * MR + r] = get(b * MR + r, kk);
            }
        }
    }
    Ok(out)
}

/// `C = A * B` with `A` (`m x k`) packed by [`pack_rows`] and `B` (`k x n`) packed by
/// [`pack_panels`]; returns `C` row-major (`m x n`).
///
/// # Errors
/// [`Error::OutOfMemory`](crate::Error::OutOfMemory) when the result cannot be allocated.
///
/// # Panics
/// If a packed matrix is shorter than its dimensions say (an internal invariant: callers pack
/// with the same dimensions).
pub fn gemm<T: Exact>(
    m: usize,
    k: usize,
    n: usize,
    packed_a: &[T],
    packed_b: &[T],
) -> Result<Vec<T>> {
    let panels = n.div_ceil(NR);
    let blocks = parallel::try_map(m.div_ceil(MR), |blk| {
        let rows = MR.min(m - blk * MR);
        let ap = &packed_a[blk * k * MR..(blk + 1) * k * MR];
        let mut c = filled(&[rows, n], T::ZERO, "matrix product")?;
        for p in 0..panels {
            let bp = &packed_b[p * k * NR..(p + 1) * k * NR];
            let mut acc = [[T::ZERO; NR]; MR];
            for (av, bv) in ap.chunks_exact(MR).zip(bp.chunks_exact(NR)) {
                for (r, row) in acc.iter_mut().enumerate() {
                    for (cc, x) in row.iter_mut().enumerate() {
                        *x = *x + av[r] * bv[cc];
                    }
                }
            }
            let cols = NR.min(n - p * NR);
            for (r, row) in acc.iter().enumerate().take(rows) {
                c[r * n + p * NR..r * n + p * NR + cols].copy_from_slice(&row[..cols]);
            }
        }
        Ok(c)
    })?;
    concat(&blocks, "matrix product")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemm_matches_naive_product() {
        for (m, k, n) in [(1, 1, 1), (5, 7, 9), (4, 3, 8), (9, 17, 3)] {
            let a = |i: usize, j: usize| ((i * 31 + j * 17) % 23) as i64 - 11;
            let b = |i: usize, j: usize| ((i * 13 + j * 7) % 19) as i64 - 9;
            let (pa, pb) = (pack_rows(m, k, a).unwrap(), pack_panels(k, n, b).unwrap());
            let c = gemm(m, k, n, &pa, &pb).unwrap();
            for i in 0..m {
                for j in 0..n {
                    let expected: i64 = (0..k).map(|kk| a(i, kk) * b(kk, j)).sum();
                    assert_eq!(c[i * n + j], expected, "{m}x{k}x{n} at {i},{j}");
                }
            }
        }
    }
}
