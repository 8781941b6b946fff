//! Whole-stream operations: symbols with table indexes, symbols with mixture parameters, batches
//! of independent streams in parallel, and the chunked framing.
//!
//! # Chunked framing
//! A chunked stream splits one array of symbols into `k` contiguous, nearly equal parts (the
//! first `n % k` parts get one symbol more), codes each as its own rANS stream, and frames them as
//! `k` (u32 LE), then `k` stream lengths (u32 LE), then the streams back to back. The parts are
//! coded and decoded in parallel. Plain streams (one rANS stream, no framing) are
//! byte-compatible with CompressAI; chunked streams are tinify's own.

use crate::cdf::mixture::MixtureParams;
use crate::cdf::table::CdfTable;
use crate::error::{Error, Result};
use crate::parallel;
use crate::rans::{RansDecoder, RansEncoder, StateWriter};

/// Most chunks a chunked stream may declare.
pub const MAX_CHUNKS: usize = 1 << 16;

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<()> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            expected,
            got,
        })
    }
}

/// Checks every index against the table before any coding starts.
///
/// # Errors
/// [`Error::IndexOutOfRange`] for the first bad index.
pub fn check_indexes(indexes: &[i32], table: &CdfTable) -> Result<()> {
    let rows = table.rows();
    match indexes.iter().position(|&i| i < 0 || i as usize >= rows) {
        Some(p) => Err(Error::IndexOutOfRange {
            position: p,
            index: i64::from(indexes[p]),
            rows,
        }),
        None => Ok(()),
    }
}

impl RansEncoder {
    /// Buffers `symbols[i]` against row `indexes[i]` of `table`. On error nothing is buffered.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the lengths differ, [`Error::IndexOutOfRange`] for a bad
    /// index.
    pub fn put_with_indexes(
        &mut self,
        symbols: &[i32],
        indexes: &[i32],
        table: &CdfTable,
    ) -> Result<()> {
        check_len("indexes (one per symbol)", symbols.len(), indexes.len())?;
        let mark = self.len();
        let result = symbols
            .iter()
            .zip(indexes)
            .enumerate()
            .try_for_each(|(p, (&s, &i))| {
                let row = table.row_at(p, i)?;
                self.put(s, &row)
            });
        if result.is_err() {
            self.truncate(mark);
        }
        result
    }

    /// Buffers `symbols[i]` against the mixture of element `i`. On error nothing is buffered.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the lengths differ, [`Error::InvalidParameter`] for bad
    /// mixture parameters.
    pub fn put_mixture(&mut self, symbols: &[i32], params: &MixtureParams<'_>) -> Result<()> {
        check_len(
            "mixture parameters (one element per symbol)",
            symbols.len(),
            params.len(),
        )?;
        let mark = self.len();
        let result = symbols
            .iter()
            .enumerate()
            .try_for_each(|(i, &s)| self.put(s, &params.element(i)?));
        if result.is_err() {
            self.truncate(mark);
        }
        result
    }
}

impl RansDecoder {
    /// Decodes one value per index, each against its table row.
    ///
    /// # Errors
    /// [`Error::IndexOutOfRange`] (checked before decoding), [`Error::UnexpectedEof`],
    /// [`Error::CorruptStream`].
    pub fn get_with_indexes(&mut self, indexes: &[i32], table: &CdfTable) -> Result<Vec<i32>> {
        check_indexes(indexes, table)?;
        let mut out = Vec::with_capacity(indexes.len());
        table.get_all(indexes, self, &mut out)?;
        Ok(out)
    }

    /// Decodes one value per mixture element.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`], [`Error::UnexpectedEof`], [`Error::CorruptStream`].
    pub fn get_mixture(&mut self, params: &MixtureParams<'_>) -> Result<Vec<i32>> {
        let mut out = Vec::with_capacity(params.len());
        for i in 0..params.len() {
            out.push(self.get(&params.element(i)?)?);
        }
        Ok(out)
    }
}

/// Codes `symbols[i]` against row `indexes[i]` of `table` as one stream (CompressAI's
/// `encode_with_indexes`).
///
/// ```
/// use tinify_core::{decode_with_indexes, encode_with_indexes, CdfTable};
/// let table = CdfTable::from_rows(&[vec![0, 1, 65534, 65535, 65536]], &[-1]).unwrap();
/// let bytes = encode_with_indexes(&[0, 0], &[0, 0], &table).unwrap();
/// assert_eq!(bytes, [0x0e, 0x00, 0x03, 0x80, 0x00, 0x00, 0x00, 0x00]);
/// assert_eq!(decode_with_indexes(&bytes, &[0, 0], &table).unwrap(), vec![0, 0]);
/// ```
///
/// # Errors
/// As [`RansEncoder::put_with_indexes`].
pub fn encode_with_indexes(symbols: &[i32], indexes: &[i32], table: &CdfTable) -> Result<Vec<u8>> {
    check_len("indexes (one per symbol)", symbols.len(), indexes.len())?;
    check_indexes(indexes, table)?;
    // The whole array is known, so it is pushed straight into the state in reverse: no buffer.
    let mut w = StateWriter::new(symbols.len() / 2);
    table.put_all_reversed(symbols, indexes, &mut w)?;
    Ok(w.finish())
}

/// Decodes a whole stream written by [`encode_with_indexes`] and checks that it was consumed
/// exactly.
///
/// # Errors
/// As [`RansDecoder::get_with_indexes`], plus [`RansDecoder::finish`]'s checks.
pub fn decode_with_indexes(data: &[u8], indexes: &[i32], table: &CdfTable) -> Result<Vec<i32>> {
    check_indexes(indexes, table)?;
    let mut dec = RansDecoder::new(data)?;
    let out = dec.get_with_indexes(indexes, table)?;
    dec.finish()?;
    Ok(out)
}

/// Codes each symbol against its own Gaussian mixture as one stream.
///
/// # Errors
/// As [`RansEncoder::put_mixture`].
pub fn encode_mixture(symbols: &[i32], params: &MixtureParams<'_>) -> Result<Vec<u8>> {
    check_len(
        "mixture parameters (one element per symbol)",
        symbols.len(),
        params.len(),
    )?;
    let mut w = StateWriter::new(symbols.len() / 2);
    for (i, &s) in symbols.iter().enumerate().rev() {
        w.put_reversed(s, &params.element(i)?)?;
    }
    Ok(w.finish())
}

/// Decodes a whole stream written by [`encode_mixture`].
///
/// # Errors
/// As [`RansDecoder::get_mixture`], plus [`RansDecoder::finish`]'s checks.
pub fn decode_mixture(data: &[u8], params: &MixtureParams<'_>) -> Result<Vec<i32>> {
    let mut dec = RansDecoder::new(data)?;
    let out = dec.get_mixture(params)?;
    dec.finish()?;
    Ok(out)
}

/// Codes independent streams in parallel: stream `j` holds `symbols[j]` against rows
/// `indexes[j]`, as a plain stream when `chunks == 1` (CompressAI's format) or in the chunked
/// framing otherwise (parallel even for one stream).
///
/// # Errors
/// The first failing stream's error.
pub fn encode_batch(
    symbols: &[&[i32]],
    indexes: &[&[i32]],
    table: &CdfTable,
    chunks: usize,
) -> Result<Vec<Vec<u8>>> {
    check_len(
        "index arrays (one per stream)",
        symbols.len(),
        indexes.len(),
    )?;
    parallel::try_map(symbols.len(), |j| match chunks {
        1 => encode_with_indexes(symbols[j], indexes[j], table),
        _ => encode_chunked(symbols[j], indexes[j], table, chunks),
    })
}

/// Decodes independent streams in parallel; `chunked` says whether they use the chunked framing.
///
/// # Errors
/// The first failing stream's error.
pub fn decode_batch(
    streams: &[&[u8]],
    indexes: &[&[i32]],
    table: &CdfTable,
    chunked: bool,
) -> Result<Vec<Vec<i32>>> {
    check_len(
        "index arrays (one per stream)",
        streams.len(),
        indexes.len(),
    )?;
    parallel::try_map(streams.len(), |j| match chunked {
        false => decode_with_indexes(streams[j], indexes[j], table),
        true => decode_chunked(streams[j], indexes[j], table),
    })
}

/// Codes independent mixture streams in parallel: stream `j` holds `symbols[j]` against the
/// mixtures `params[j]`.
///
/// # Errors
/// The first failing stream's error.
pub fn encode_mixture_batch(
    symbols: &[&[i32]],
    params: &[MixtureParams<'_>],
) -> Result<Vec<Vec<u8>>> {
    check_len(
        "mixture parameter sets (one per stream)",
        symbols.len(),
        params.len(),
    )?;
    parallel::try_map(symbols.len(), |j| encode_mixture(symbols[j], &params[j]))
}

/// Decodes independent mixture streams in parallel.
///
/// # Errors
/// The first failing stream's error.
pub fn decode_mixture_batch(
    streams: &[&[u8]],
    params: &[MixtureParams<'_>],
) -> Result<Vec<Vec<i32>>> {
    check_len(
        "mixture parameter sets (one per stream)",
        streams.len(),
        params.len(),
    )?;
    parallel::try_map(streams.len(), |j| decode_mixture(streams[j], &params[j]))
}

/// Boundaries of `k` nearly equal contiguous parts of `n` items.
fn chunk_bounds(n: usize, k: usize) -> Vec<(usize, usize)> {
    let (base, extra) = (n / k, n % k);
    let mut start = 0;
    (0..k)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let r = (start, start + len);
            start += len;
            r
        })
        .collect()
}

/// Codes one array as `chunks` independent streams in the chunked framing (module docs).
///
/// # Errors
/// [`Error::InvalidParameter`] for `chunks` of 0 or above [`MAX_CHUNKS`], otherwise as
/// [`encode_with_indexes`].
pub fn encode_chunked(
    symbols: &[i32],
    indexes: &[i32],
    table: &CdfTable,
    chunks: usize,
) -> Result<Vec<u8>> {
    if !(1..=MAX_CHUNKS).contains(&chunks) {
        return Err(Error::InvalidParameter {
            position: 0,
            reason: format!("chunks must be between 1 and {MAX_CHUNKS}, got {chunks}"),
        });
    }
    check_len("indexes (one per symbol)", symbols.len(), indexes.len())?;
    // Checked on the whole array so that an error names the position in it, not in a chunk.
    check_indexes(indexes, table)?;
    let bounds = chunk_bounds(symbols.len(), chunks);
    let parts = parallel::try_map(chunks, |i| {
        let (a, b) = bounds[i];
        encode_with_indexes(&symbols[a..b], &indexes[a..b], table)
    })?;
    let mut out = Vec::with_capacity(4 + 4 * chunks + parts.iter().map(Vec::len).sum::<usize>());
    out.extend_from_slice(&(chunks as u32).to_le_bytes());
    for p in &parts {
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    }
    for p in &parts {
        out.extend_from_slice(p);
    }
    Ok(out)
}

/// Decodes a chunked stream; `indexes` gives the row of every symbol of the whole array.
///
/// # Errors
/// [`Error::CorruptStream`] for a malformed frame, otherwise as [`decode_with_indexes`].
pub fn decode_chunked(data: &[u8], indexes: &[i32], table: &CdfTable) -> Result<Vec<i32>> {
    let corrupt = |reason: String| Error::CorruptStream { reason };
    let word = |i: usize| -> Result<usize> {
        data.get(4 * i..4 * i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
            .ok_or(Error::UnexpectedEof { decoded: 0 })
    };
    let chunks = word(0)?;
    if !(1..=MAX_CHUNKS).contains(&chunks) {
        return Err(corrupt(format!(
            "chunk count {chunks} is outside 1..={MAX_CHUNKS}"
        )));
    }
    let header = 4 * (chunks + 1);
    let mut spans = Vec::with_capacity(chunks);
    let mut pos = header;
    for i in 0..chunks {
        let len = word(i + 1)?;
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= data.len())
            .ok_or(Error::UnexpectedEof { decoded: 0 })?;
        spans.push((pos, end));
        pos = end;
    }
    if pos != data.len() {
        return Err(corrupt(format!(
            "{} bytes after the last chunk",
            data.len() - pos
        )));
    }
    check_indexes(indexes, table)?;
    let bounds = chunk_bounds(indexes.len(), chunks);
    let parts = parallel::try_map(chunks, |i| {
        let (a, b) = bounds[i];
        let (s, e) = spans[i];
        decode_with_indexes(&data[s..e], &indexes[a..b], table)
    })?;
    Ok(parts.concat())
}
