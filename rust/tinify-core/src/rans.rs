//! 64-bit rANS with 32-bit words and 16-bit probabilities, byte-compatible with CompressAI 1.2.8.
//!
//! The coder follows Giesen's `rans64`: the state `x` is a `u64` kept in `[L, L << 32)` with
//! `L = 2^31`; a symbol with cumulative frequency `start` and frequency `freq` (out of
//! `M = 2^16`) maps `x` to `(x / freq) * M + x % freq + start`. Whenever that would leave the
//! interval, the low 32 bits are written out first.
//!
//! Escapes (CompressAI's "bypass" mode) let any `i32` round-trip against any CDF row: the last
//! slot of a row is a tail slot; a value outside the row's range codes that slot, then the
//! number of 4-bit chunks of a raw value (as a run of 15s closed by a chunk below 15), then the
//! chunks themselves, least significant first. Chunks are pushed into the same state with
//! `x = (x << 4) | chunk`.
//!
//! # Stream layout
//! A stream is a sequence of little-endian 32-bit words: first the final encoder state (low word,
//! then high word), then the renormalisation words in the order the decoder reads them. Every
//! stream is at least 8 bytes long and a multiple of 4 bytes. Because the encoder starts from the
//! state `L`, a decoder that has read every symbol ends in state `L` with every word consumed;
//! [`RansDecoder::finish`] checks this, which catches most corruption for free.

use crate::error::{Error, Result};

/// Probability precision in bits.
pub const PRECISION: u32 = 16;
/// Total frequency of every CDF row: `1 << PRECISION`.
pub const PROB_SCALE: u32 = 1 << PRECISION;
/// Lower bound of the normalised state interval.
const RANS_L: u64 = 1 << 31;
/// Bits per bypass chunk.
const BYPASS_BITS: u32 = 4;
/// Largest bypass chunk; also the "more follows" marker of the chunk-count run.
const BYPASS_MAX: u32 = (1 << BYPASS_BITS) - 1;
/// At most this many chunks can describe a raw value (64 bits / 4).
const MAX_RAW_CHUNKS: u32 = 64 / BYPASS_BITS;

/// A probability model for one symbol: a CDF over `max_value + 1` slots, the last one being the
/// escape slot, and an offset that maps values to slots (`slot = value - offset`).
pub trait SlotModel {
    /// Value that maps to slot 0.
    fn offset(&self) -> i64;
    /// Index of the escape slot (the last slot).
    fn max_value(&self) -> u32;
    /// `(start, freq)` of a slot, with `start + freq <= PROB_SCALE` and `freq >= 1`.
    fn interval(&self, slot: u32) -> (u32, u32);
    /// A precomputed [`Divider`] for the slot's frequency, if the model keeps one.
    #[inline(always)]
    fn divider(&self, _slot: u32) -> Option<Divider> {
        None
    }
    /// The slot whose interval holds `cum` (`cum < PROB_SCALE`), with its interval.
    fn find(&self, cum: u32) -> (u32, u32, u32);
}

/// Exact division of a coder state `x < 2^63` by a frequency `1 <= d <= 2^16` with a multiply.
///
/// With `l = ceil(log2 d)` and `m = ceil(2^(63 + l) / d)` (which fits in 64 bits),
/// `floor(x / d) = floor(m x / 2^(63 + l))` for every `x < 2^63` (Alverson, "Integer division
/// using reciprocals", 1991, with N = 63). The encoder's state chain then waits on a 64x64->128
/// multiply instead of a 64-bit division. `d = 1` is special-cased (`l = 0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Divider {
    rcp: u64,
    shift: u32,
}

impl Divider {
    /// Precomputes the reciprocal of `d` (`1 <= d <= 2^16`).
    ///
    /// # Panics
    /// If `d` is 0 or above `2^16` (callers validate frequencies first).
    pub fn new(d: u32) -> Self {
        assert!(
            (1..=PROB_SCALE).contains(&d),
            "frequency {d} outside 1..=2^16"
        );
        if d == 1 {
            return Self { rcp: 0, shift: 0 };
        }
        let l = 32 - (d - 1).leading_zeros(); // ceil(log2 d), d >= 2
        let num = 1u128 << (63 + l);
        let m = num.div_ceil(u128::from(d));
        Self {
            rcp: m as u64,
            shift: l,
        }
    }

    /// `floor(x / d)` for `x < 2^63`.
    #[inline(always)]
    pub fn quotient(self, x: u64) -> u64 {
        if self.shift == 0 {
            return x;
        }
        let hi = ((u128::from(x) * u128::from(self.rcp)) >> 64) as u64;
        hi >> (self.shift - 1)
    }
}

/// One step of the encoder: a symbol interval, or a bypass chunk when `freq == 0`.
#[derive(Debug, Clone, Copy)]
struct Op {
    start: u32,
    freq: u32,
}

/// Collects symbols in decoding order and writes them as one stream on [`flush`](Self::flush).
///
/// rANS is last-in first-out, so symbols are buffered and encoded in reverse.
#[derive(Debug, Default, Clone)]
pub struct RansEncoder {
    ops: Vec<Op>,
}

impl RansEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty encoder with room for `n` symbols.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            ops: Vec::with_capacity(n),
        }
    }

    /// Number of buffered coding steps (symbols plus escape chunks).
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Buffers `value` against `model`, escaping it when it falls outside the model's range.
    ///
    /// # Errors
    /// [`Error::InvalidCdf`] if the model gives the slot a zero frequency (validated tables and
    /// mixture models never do).
    #[inline]
    pub fn put<M: SlotModel + ?Sized>(&mut self, value: i32, model: &M) -> Result<()> {
        let (slot, raw) = escape(value, model);
        let (start, freq) = model.interval(slot);
        if freq == 0 {
            return Err(Error::InvalidCdf {
                index: 0,
                reason: format!("slot {slot} has frequency 0"),
            });
        }
        self.ops.push(Op { start, freq });
        if let Some(raw) = raw {
            self.put_raw(raw);
        }
        Ok(())
    }

    /// Drops buffered steps beyond the first `len` (used to undo a failed batch).
    pub fn truncate(&mut self, len: usize) {
        self.ops.truncate(len);
    }

    /// Escape payload: the chunk count as a run of 15s, then the chunks, low chunk first.
    fn put_raw(&mut self, raw: u64) {
        let n_chunks = raw_chunks(raw);
        let mut rest = n_chunks;
        while rest >= BYPASS_MAX {
            self.put_bypass(BYPASS_MAX);
            rest -= BYPASS_MAX;
        }
        self.put_bypass(rest);
        for i in 0..n_chunks {
            self.put_bypass(((raw >> (i * BYPASS_BITS)) & u64::from(BYPASS_MAX)) as u32);
        }
    }

    fn put_bypass(&mut self, chunk: u32) {
        self.ops.push(Op {
            start: chunk,
            freq: 0,
        });
    }

    /// Encodes everything buffered into one stream and empties the buffer.
    pub fn flush(&mut self) -> Vec<u8> {
        let mut w = StateWriter::new(self.ops.len() / 2);
        for op in self.ops.iter().rev() {
            w.apply(*op);
        }
        self.ops.clear();
        w.finish()
    }
}

/// The rANS state and the words it has written, fed in reverse decoding order.
pub(crate) struct StateWriter {
    x: u64,
    words: Vec<u32>,
}

impl StateWriter {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            x: RANS_L,
            words: Vec::with_capacity(capacity + 2),
        }
    }

    #[inline(always)]
    fn apply(&mut self, op: Op) {
        if op.freq == 0 {
            self.bypass(op.start);
        } else {
            self.symbol(op.start, op.freq);
        }
    }

    /// Pushes a symbol interval: `x' = floor(x / freq) * M + (x mod freq) + start`.
    #[inline(always)]
    fn symbol(&mut self, start: u32, freq: u32) {
        self.renormalise(freq);
        let freq = u64::from(freq);
        self.x = ((self.x / freq) << PRECISION) + (self.x % freq) + u64::from(start);
    }

    /// As [`symbol`](Self::symbol) with a precomputed divider: with `q = floor(x / freq)`,
    /// `x' = x + q (M - freq) + start`.
    #[inline(always)]
    pub(crate) fn symbol_fast(&mut self, start: u32, freq: u32, d: Divider) {
        self.renormalise(freq);
        let q = d.quotient(self.x);
        self.x = self.x + q * u64::from(PROB_SCALE - freq) + u64::from(start);
    }

    /// Renormalises so that the next state stays below L << 32: x < 2^47 * freq.
    #[inline(always)]
    fn renormalise(&mut self, freq: u32) {
        let x_max = ((RANS_L >> PRECISION) << 32) * u64::from(freq);
        if self.x >= x_max {
            self.words.push(self.x as u32);
            self.x >>= 32;
        }
    }

    /// Pushes a bypass chunk: `x' = (x << 4) | chunk`, keeping x < 2^63.
    #[inline(always)]
    fn bypass(&mut self, chunk: u32) {
        let x_max = ((RANS_L >> PRECISION) << 32) << (PRECISION - BYPASS_BITS);
        if self.x >= x_max {
            self.words.push(self.x as u32);
            self.x >>= 32;
        }
        self.x = (self.x << BYPASS_BITS) | u64::from(chunk);
    }

    /// Pushes one value against `model` (the reverse of [`RansEncoder::put`]: escape payload
    /// first, then the slot).
    ///
    /// # Errors
    /// [`Error::InvalidCdf`] if the model gives the slot a zero frequency.
    #[inline(always)]
    pub(crate) fn put_reversed<M: SlotModel + ?Sized>(
        &mut self,
        value: i32,
        model: &M,
    ) -> Result<()> {
        let (slot, raw) = escape(value, model);
        if let Some(raw) = raw {
            let n_chunks = raw_chunks(raw);
            for i in (0..n_chunks).rev() {
                self.bypass(((raw >> (i * BYPASS_BITS)) & u64::from(BYPASS_MAX)) as u32);
            }
            // The count is read as a run of 15s closed by the remainder; pushed in reverse.
            self.bypass(n_chunks % BYPASS_MAX);
            for _ in 0..n_chunks / BYPASS_MAX {
                self.bypass(BYPASS_MAX);
            }
        }
        let (start, freq) = model.interval(slot);
        if freq == 0 {
            return Err(Error::InvalidCdf {
                index: 0,
                reason: format!("slot {slot} has frequency 0"),
            });
        }
        match model.divider(slot) {
            Some(d) => self.symbol_fast(start, freq, d),
            None => self.symbol(start, freq),
        }
        Ok(())
    }

    /// Writes the final state and returns the stream bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 * (self.words.len() + 2));
        out.extend_from_slice(&(self.x as u32).to_le_bytes());
        out.extend_from_slice(&((self.x >> 32) as u32).to_le_bytes());
        for w in self.words.iter().rev() {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }
}

/// Slot of `value` under `model`, and the raw escape payload when it falls outside.
#[inline(always)]
fn escape<M: SlotModel + ?Sized>(value: i32, model: &M) -> (u32, Option<u64>) {
    let max_value = model.max_value();
    // v = value - offset, in i64 so that no i32 value can overflow.
    let v = i64::from(value) - model.offset();
    if v < 0 {
        // Below the range: odd raw value -2v - 1.
        (max_value, Some((-2 * v - 1) as u64))
    } else if v >= i64::from(max_value) {
        // At or above the tail slot: even raw value 2 (v - max_value).
        (max_value, Some(2 * (v - i64::from(max_value)) as u64))
    } else {
        (v as u32, None)
    }
}

/// Number of 4-bit chunks needed for `raw` (0 for 0).
#[inline]
fn raw_chunks(raw: u64) -> u32 {
    (64 - raw.leading_zeros()).div_ceil(BYPASS_BITS)
}

/// Reads symbols back from a stream written by [`RansEncoder`] (or by CompressAI).
#[derive(Debug, Clone)]
pub struct RansDecoder {
    words: Vec<u32>,
    pos: usize,
    x: u64,
    decoded: usize,
}

impl RansDecoder {
    /// Starts decoding `data`.
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] for fewer than 8 bytes, [`Error::CorruptStream`] for a length
    /// that is not a multiple of 4 or an initial state outside the coder's interval.
    pub fn new(data: &[u8]) -> Result<Self> {
        if data.len() < 8 {
            return Err(Error::UnexpectedEof { decoded: 0 });
        }
        if data.len() % 4 != 0 {
            return Err(Error::CorruptStream {
                reason: format!("length {} is not a multiple of 4 bytes", data.len()),
            });
        }
        let words: Vec<u32> = data
            .chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let x = u64::from(words[0]) | (u64::from(words[1]) << 32);
        if !(RANS_L..RANS_L << 32).contains(&x) {
            return Err(Error::CorruptStream {
                reason: "initial state out of range".into(),
            });
        }
        Ok(Self {
            words,
            pos: 2,
            x,
            decoded: 0,
        })
    }

    /// Number of values decoded so far.
    pub fn decoded(&self) -> usize {
        self.decoded
    }

    #[inline(always)]
    pub(crate) fn count_decoded(&mut self) {
        self.decoded += 1;
    }

    #[inline(always)]
    fn refill(&mut self) -> Result<()> {
        // Invariant on entry: x >= 2^15, so one word brings x back into [L, L << 32).
        if self.x < RANS_L {
            let w = *self.words.get(self.pos).ok_or(Error::UnexpectedEof {
                decoded: self.decoded,
            })?;
            self.pos += 1;
            self.x = (self.x << 32) | u64::from(w);
        }
        Ok(())
    }

    fn get_bypass(&mut self) -> Result<u32> {
        let chunk = (self.x & u64::from(BYPASS_MAX)) as u32;
        self.x >>= BYPASS_BITS;
        self.refill()?;
        Ok(chunk)
    }

    /// Decodes one value against `model`.
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] when the stream runs out, [`Error::CorruptStream`] when an
    /// escape describes a value outside `i32`.
    #[inline]
    pub fn get<M: SlotModel + ?Sized>(&mut self, model: &M) -> Result<i32> {
        let cum = self.cum();
        let (slot, start, freq) = model.find(cum);
        self.advance(cum, start, freq)?;
        let max_value = model.max_value();
        if slot < max_value {
            // slot + offset fits: offsets and slots of valid models keep values in range, and
            // the checked path below covers the rest.
            if let Ok(v) = i32::try_from(i64::from(slot) + model.offset()) {
                self.decoded += 1;
                return Ok(v);
            }
        }
        self.escaped_value(slot, max_value, model.offset())
    }

    /// The low 16 bits of the state: the cumulative frequency that selects the next slot.
    #[inline(always)]
    pub(crate) fn cum(&self) -> u32 {
        (self.x & u64::from(PROB_SCALE - 1)) as u32
    }

    /// Consumes the slot `[start, start + freq)` that holds `cum` and renormalises.
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`] when a word is needed and the stream has none left.
    #[inline(always)]
    pub(crate) fn advance(&mut self, cum: u32, start: u32, freq: u32) -> Result<()> {
        // x' = freq * (x >> 16) + (x mod M) - start; cannot overflow since x < 2^63.
        self.x = u64::from(freq) * (self.x >> PRECISION) + u64::from(cum - start);
        self.refill()
    }

    /// Finishes a value whose slot was consumed: `slot + offset` for a regular slot, or the
    /// escape payload read from the stream for the escape slot. Counts the value as decoded.
    ///
    /// # Errors
    /// [`Error::UnexpectedEof`], or [`Error::CorruptStream`] when the value does not fit `i32`.
    #[cold]
    pub(crate) fn escaped_value(&mut self, slot: u32, max_value: u32, offset: i64) -> Result<i32> {
        let v: Option<i64> = if slot < max_value {
            Some(i64::from(slot))
        } else {
            let raw = self.get_raw()?;
            // raw < 2^64, so half < 2^63 and -half - 1 >= -2^63; the sums below can overflow
            // for a corrupt stream's 16-chunk escape and are checked.
            let half = (raw >> 1) as i64;
            if raw & 1 == 1 {
                Some(-half - 1)
            } else {
                half.checked_add(i64::from(max_value))
            }
        };
        let value = v
            .and_then(|v| v.checked_add(offset))
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(|| Error::CorruptStream {
                reason: "escaped value does not fit in int32".into(),
            })?;
        self.decoded += 1;
        Ok(value)
    }

    fn get_raw(&mut self) -> Result<u64> {
        let mut n_chunks = 0u32;
        loop {
            let c = self.get_bypass()?;
            n_chunks += c;
            if n_chunks > MAX_RAW_CHUNKS {
                return Err(Error::CorruptStream {
                    reason: format!("escape of more than {MAX_RAW_CHUNKS} chunks"),
                });
            }
            if c < BYPASS_MAX {
                break;
            }
        }
        let mut raw = 0u64;
        for i in 0..n_chunks {
            raw |= u64::from(self.get_bypass()?) << (i * BYPASS_BITS);
        }
        Ok(raw)
    }

    /// Checks that the stream was consumed exactly: every word read and the state back at its
    /// initial value. Call it after the last symbol.
    ///
    /// # Errors
    /// [`Error::CorruptStream`] naming the leftover bytes or the state mismatch.
    pub fn finish(&self) -> Result<()> {
        if self.pos != self.words.len() {
            return Err(Error::CorruptStream {
                reason: format!(
                    "{} bytes left after the last symbol",
                    4 * (self.words.len() - self.pos)
                ),
            });
        }
        if self.x != RANS_L {
            return Err(Error::CorruptStream {
                reason: "final coder state does not match; the stream does not belong to \
                         these symbols, indexes and tables"
                    .into(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn divider_is_exact() {
        let xs = |d: u64| {
            let mut v = vec![
                0,
                1,
                d - 1,
                d,
                d + 1,
                (1 << 63) - 1,
                (1 << 63) - d,
                RANS_L,
                RANS_L << 16,
            ];
            let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ d;
            for _ in 0..64 {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                v.push(s >> 1);
                v.push((s >> 1) / d * d);
                v.push(((s >> 1) / d * d).saturating_sub(1));
            }
            v
        };
        for d in 1..=PROB_SCALE {
            let div = Divider::new(d);
            for x in xs(u64::from(d)) {
                let x = x & ((1 << 63) - 1);
                assert_eq!(div.quotient(x), x / u64::from(d), "x={x} d={d}");
            }
        }
    }
}
