//! Validated tables of quantized CDF rows, the form in which CompressAI stores its entropy models
//! (`_quantized_cdf`, `_cdf_length`, `_offset`).
//!
//! Row `i` is `cdf[i][0..len[i]]` with `cdf[0] = 0`, strictly increasing values and a last value
//! of exactly `1 << 16`: every slot has frequency at least 1, so any slot can be coded. The last
//! slot is the escape slot; value `v` maps to slot `v - offset[i]`.

use crate::error::{Error, Result};
use crate::rans::{Divider, RansDecoder, SlotModel, StateWriter, PROB_SCALE};

/// Rows longer than this are refused (CompressAI's widest default row has 3133 entries).
pub const MAX_ROW_LEN: usize = PROB_SCALE as usize + 1;

/// An immutable set of CDF rows with their offsets, built once and shared by every coding call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CdfTable {
    values: Vec<u32>,
    lengths: Vec<u32>,
    offsets: Vec<i32>,
    /// Per row, `BUCKETS + 1` entries: the slot holding cumulative frequency `b << BUCKET_SHIFT`.
    lookup: Vec<u16>,
    /// Per CDF entry (same layout as `values`), everything the encoder needs for that slot.
    enc: Vec<EncEntry>,
    /// Per row, its start, length and offset in one place (one load per coded symbol).
    meta: Vec<RowMeta>,
}

/// The decoder narrows its slot search with a per-row table of 256 buckets of 256 counts each.
const BUCKET_SHIFT: u32 = 8;
const BUCKETS: usize = (PROB_SCALE >> BUCKET_SHIFT) as usize;

/// One row of a [`CdfTable`], usable as a [`SlotModel`].
#[derive(Debug, Clone, Copy)]
pub struct CdfRow<'a> {
    cdf: &'a [u32],
    offset: i32,
    lookup: &'a [u16],
    enc: &'a [EncEntry],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RowMeta {
    start: usize,
    len: usize,
    offset: i32,
}

/// A slot as the encoder sees it: one load gives its interval and the divider of its frequency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct EncEntry {
    start: u32,
    freq: u32,
    div: Divider,
}

impl CdfTable {
    /// Builds a table from zero-padded rows of width `width` (row-major in `cdfs`), their valid
    /// lengths and offsets, as stored in CompressAI state dicts.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the arrays disagree, [`Error::InvalidCdf`] for a row that
    /// is too short, too long, not starting at 0, not strictly increasing or not ending at
    /// `1 << 16`.
    pub fn from_padded(
        cdfs: &[i32],
        width: usize,
        lengths: &[i32],
        offsets: &[i32],
    ) -> Result<Self> {
        let rows = lengths.len();
        if offsets.len() != rows {
            return Err(Error::ShapeMismatch {
                what: "offsets",
                expected: rows,
                got: offsets.len(),
            });
        }
        let expected = rows.checked_mul(width).ok_or(Error::TooLarge {
            what: "CDF table",
            requested: u64::MAX,
            limit: usize::MAX as u64,
        })?;
        if cdfs.len() != expected {
            return Err(Error::ShapeMismatch {
                what: "cdfs (rows x width)",
                expected,
                got: cdfs.len(),
            });
        }
        let mut values = Vec::new();
        let mut starts = Vec::with_capacity(rows);
        let mut lens = Vec::with_capacity(rows);
        for (i, &len) in lengths.iter().enumerate() {
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= width)
                .ok_or_else(|| Error::InvalidCdf {
                    index: i,
                    reason: format!("length {len} is outside 0..={width} (the row width)"),
                })?;
            let row = &cdfs[i * width..i * width + len];
            check_row(i, row)?;
            starts.push(values.len());
            lens.push(len as u32);
            values.extend(row.iter().map(|&v| v as u32));
        }
        Ok(Self::assemble(values, starts, lens, offsets.to_vec()))
    }

    /// Builds a table from unpadded rows.
    ///
    /// # Errors
    /// As [`CdfTable::from_padded`].
    pub fn from_rows(rows: &[Vec<i32>], offsets: &[i32]) -> Result<Self> {
        if offsets.len() != rows.len() {
            return Err(Error::ShapeMismatch {
                what: "offsets",
                expected: rows.len(),
                got: offsets.len(),
            });
        }
        let mut values = Vec::new();
        let mut starts = Vec::with_capacity(rows.len());
        let mut lens = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            check_row(i, row)?;
            starts.push(values.len());
            lens.push(row.len() as u32);
            values.extend(row.iter().map(|&v| v as u32));
        }
        Ok(Self::assemble(values, starts, lens, offsets.to_vec()))
    }

    /// Adds the decoder's bucket lookup to validated rows.
    fn assemble(
        values: Vec<u32>,
        starts: Vec<usize>,
        lengths: Vec<u32>,
        offsets: Vec<i32>,
    ) -> Self {
        let mut lookup = Vec::with_capacity(lengths.len() * (BUCKETS + 1));
        for (&start, &len) in starts.iter().zip(&lengths) {
            let cdf = &values[start..start + len as usize];
            let last_slot = cdf.len() - 2;
            for b in 0..=BUCKETS {
                let target = (b as u32) << BUCKET_SHIFT;
                let slot = cdf[1..].partition_point(|&c| c <= target).min(last_slot);
                lookup.push(slot as u16);
            }
        }
        // Entry k of a row holds the divider of slot k; the row's last entry gets a dummy.
        let enc = values
            .iter()
            .zip(values.iter().skip(1).chain(std::iter::once(&PROB_SCALE)))
            .map(|(&a, &b)| {
                let freq = b.saturating_sub(a).clamp(1, PROB_SCALE);
                EncEntry {
                    start: a,
                    freq,
                    div: Divider::new(freq),
                }
            })
            .collect();
        Self {
            values,
            meta: starts
                .iter()
                .zip(&lengths)
                .zip(&offsets)
                .map(|((&start, &len), &offset)| RowMeta {
                    start,
                    len: len as usize,
                    offset,
                })
                .collect(),
            lengths,
            offsets,
            lookup,
            enc,
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lengths.len()
    }

    /// Length of the longest row (the width of the padded form).
    pub fn max_length(&self) -> usize {
        self.lengths.iter().copied().max().unwrap_or(0) as usize
    }

    /// Valid length of every row.
    pub fn lengths(&self) -> &[u32] {
        &self.lengths
    }

    /// Offset of every row.
    pub fn offsets(&self) -> &[i32] {
        &self.offsets
    }

    /// Row `i` as a coding model, or `None` when out of range.
    pub fn row(&self, i: usize) -> Option<CdfRow<'_>> {
        let RowMeta { start, len, offset } = *self.meta.get(i)?;
        Some(CdfRow {
            cdf: &self.values[start..start + len],
            offset,
            lookup: &self.lookup[i * (BUCKETS + 1)..(i + 1) * (BUCKETS + 1)],
            enc: &self.enc[start..start + len],
        })
    }

    /// Row chosen by an untrusted index, with a positioned error when it does not exist.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] when `index` is negative or not below [`rows`](Self::rows).
    pub fn row_at(&self, position: usize, index: i32) -> Result<CdfRow<'_>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.row(i))
            .ok_or(Error::IndexOutOfRange {
                position,
                index: i64::from(index),
                rows: self.rows(),
            })
    }

    /// Pushes `symbols[p]` against row `indexes[p]` into `w`, last symbol first. Values inside
    /// their row take a short path (one row record, one slot entry); escapes take the generic
    /// one. Indexes must have been checked with [`crate::stream::check_indexes`].
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] for an unchecked bad index.
    pub(crate) fn put_all_reversed(
        &self,
        symbols: &[i32],
        indexes: &[i32],
        w: &mut StateWriter,
    ) -> Result<()> {
        for (p, (&s, &i)) in symbols.iter().zip(indexes).enumerate().rev() {
            let m = self.meta.get(i as usize).ok_or(Error::IndexOutOfRange {
                position: p,
                index: i64::from(i),
                rows: self.rows(),
            })?;
            let v = i64::from(s) - i64::from(m.offset);
            // One unsigned comparison rejects both v < 0 and v >= the escape slot (len - 2).
            if (v as u64) < (m.len - 2) as u64 {
                let e = self.enc[m.start + v as usize];
                w.symbol_fast(e.start, e.freq, e.div);
            } else {
                w.put_reversed(s, &self.row_at(p, i)?)?;
            }
        }
        Ok(())
    }

    /// Decodes one value per index into `out`, with the same short path as
    /// [`put_all_reversed`](Self::put_all_reversed).
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`], [`Error::UnexpectedEof`], [`Error::CorruptStream`].
    pub(crate) fn get_all(
        &self,
        indexes: &[i32],
        dec: &mut RansDecoder,
        out: &mut Vec<i32>,
    ) -> Result<()> {
        for (p, &i) in indexes.iter().enumerate() {
            let row = i as usize;
            let m = self.meta.get(row).ok_or(Error::IndexOutOfRange {
                position: p,
                index: i64::from(i),
                rows: self.rows(),
            })?;
            let cum = dec.cum();
            let b = (cum >> BUCKET_SHIFT) as usize;
            let lookup = &self.lookup[row * (BUCKETS + 1) + b..][..2];
            let (lo, hi) = (lookup[0] as usize, lookup[1] as usize);
            let slot = if lo == hi {
                lo
            } else {
                slot_between(&self.values[m.start..m.start + m.len], lo, hi, cum)
            };
            let e = self.enc[m.start + slot];
            dec.advance(cum, e.start, e.freq)?;
            let max_value = m.len - 2;
            let fast = i32::try_from(slot as i64 + i64::from(m.offset))
                .ok()
                .filter(|_| slot < max_value);
            let value = match fast {
                Some(v) => {
                    dec.count_decoded();
                    v
                }
                None => dec.escaped_value(slot as u32, max_value as u32, i64::from(m.offset))?,
            };
            out.push(value);
        }
        Ok(())
    }

    /// The table in CompressAI's padded layout: `(cdfs, width, lengths, offsets)`.
    pub fn to_padded(&self) -> (Vec<i32>, usize, Vec<i32>, Vec<i32>) {
        let width = self.max_length();
        let mut out = vec![0i32; width * self.rows()];
        for i in 0..self.rows() {
            let row = self.row(i).expect("row index is in range");
            for (dst, &v) in out[i * width..].iter_mut().zip(row.cdf) {
                *dst = v as i32;
            }
        }
        let lengths = self.lengths.iter().map(|&l| l as i32).collect();
        (out, width, lengths, self.offsets.clone())
    }
}

/// The slot of `cdf` holding `cum`, known to lie in `lo..=hi`: a short linear scan for narrow
/// ranges, bisection otherwise. `cdf[0] <= cum < cdf[last]` keeps both inside the row.
#[inline(always)]
fn slot_between(cdf: &[u32], lo: usize, hi: usize, cum: u32) -> usize {
    if hi - lo < 8 {
        let mut s = lo;
        while cdf[s + 1] <= cum {
            s += 1;
        }
        s
    } else {
        lo + cdf[lo + 1..=hi + 1].partition_point(|&c| c <= cum)
    }
}

/// Checks the invariants of one row.
fn check_row(index: usize, row: &[i32]) -> Result<()> {
    let fail = |reason: String| Err(Error::InvalidCdf { index, reason });
    if row.len() < 2 {
        return fail(format!(
            "length {} is below 2 (one slot and the end)",
            row.len()
        ));
    }
    if row.len() > MAX_ROW_LEN {
        return fail(format!("length {} exceeds {MAX_ROW_LEN}", row.len()));
    }
    if row[0] != 0 {
        return fail(format!("first value is {}, must be 0", row[0]));
    }
    if let Some(k) = row.windows(2).position(|w| w[1] <= w[0]) {
        return fail(format!(
            "not strictly increasing at position {} ({} then {}); every slot needs a frequency of at least 1",
            k + 1,
            row[k],
            row[k + 1]
        ));
    }
    let last = row[row.len() - 1];
    if last != PROB_SCALE as i32 {
        return fail(format!(
            "last value is {last}, must be {PROB_SCALE} (16-bit precision)"
        ));
    }
    Ok(())
}

impl SlotModel for CdfRow<'_> {
    #[inline]
    fn offset(&self) -> i64 {
        i64::from(self.offset)
    }

    #[inline]
    fn max_value(&self) -> u32 {
        (self.cdf.len() - 2) as u32
    }

    #[inline]
    fn interval(&self, slot: u32) -> (u32, u32) {
        let e = self.enc[slot as usize];
        (e.start, e.freq)
    }

    #[inline(always)]
    fn divider(&self, slot: u32) -> Option<Divider> {
        Some(self.enc[slot as usize].div)
    }

    #[inline]
    fn find(&self, cum: u32) -> (u32, u32, u32) {
        // The slot lies between the slots holding the two ends of cum's bucket. cdf[0] = 0 <= cum
        // and the last entry (1 << 16) > cum, so every scan below stops inside the row.
        let b = (cum >> BUCKET_SHIFT) as usize;
        let (lo, hi) = (self.lookup[b] as usize, self.lookup[b + 1] as usize);
        let slot = if lo == hi {
            // The whole bucket lies in one slot (the common case for likely slots).
            lo
        } else {
            slot_between(self.cdf, lo, hi, cum)
        };
        let e = self.enc[slot];
        (slot as u32, e.start, e.freq)
    }
}
