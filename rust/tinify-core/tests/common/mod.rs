//! Helpers shared by the integration tests: a hash, CompressAI's default scale table and a few
//! ready-made tables. Workloads come from the core's seeded [`SplitMix64`].
#![allow(dead_code)]

pub use tinify_core::SplitMix64;
use tinify_core::{gaussian_table, pmf_to_quantized_cdf, CdfTable};

/// FNV-1a, 64-bit.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// CompressAI's default scale table (from the core).
pub fn default_scales() -> Vec<f32> {
    tinify_core::cdf::gaussian::default_scale_table()
}

/// `gaussian_table(default scales, 1e-9)`.
pub fn default_gaussian_table() -> CdfTable {
    gaussian_table(&default_scales(), 1e-9).expect("the default scale table is valid")
}

/// CompressAI's `build_indexes`: smallest `j` with `table[j] >= max(sigma, 0.11)`, capped at 63.
pub fn scale_index(scales: &[f32], sigma: f32) -> i32 {
    let sigma = sigma.max(scales[0]);
    scales[..scales.len() - 1]
        .iter()
        .position(|&s| s >= sigma)
        .unwrap_or(scales.len() - 1) as i32
}

/// A "learned-looking" table: `rows` discretised Laplacians of growing width from
/// `pmf_to_quantized_cdf`, each with a tail slot, offset `-center`.
pub fn laplace_table(rows: usize) -> CdfTable {
    let mut cdfs = Vec::new();
    let mut offsets = Vec::new();
    for r in 0..rows {
        let b = 0.3 + r as f64 * 0.7;
        let center = (b * 8.0).ceil() as i64;
        let mut pmf: Vec<f32> = (-center..=center)
            .map(|x| {
                let x = x as f64;
                let cdf = |t: f64| {
                    if t < 0.0 {
                        0.5 * libm::exp(t / b)
                    } else {
                        1.0 - 0.5 * libm::exp(-t / b)
                    }
                };
                (cdf(x + 0.5) - cdf(x - 0.5)) as f32
            })
            .collect();
        pmf.push(libm::exp(-(center as f64 + 0.5) / b) as f32);
        let cdf = pmf_to_quantized_cdf(&pmf, 16).expect("valid pmf");
        cdfs.push(cdf.into_iter().map(|v| v as i32).collect::<Vec<i32>>());
        offsets.push(-(center as i32));
    }
    CdfTable::from_rows(&cdfs, &offsets).expect("valid rows")
}

/// Symbols roughly following the rows of `table`, with a sprinkling of escapes.
pub fn table_workload(rng: &mut SplitMix64, table: &CdfTable, n: usize) -> (Vec<i32>, Vec<i32>) {
    let rows = table.rows() as u64;
    let mut symbols = Vec::with_capacity(n);
    let mut indexes = Vec::with_capacity(n);
    for _ in 0..n {
        let i = rng.below(rows) as usize;
        let offset = table.offsets()[i];
        let span = table.lengths()[i] as i64 - 2;
        let s = match rng.below(50) {
            0 => rng.range_i64(-100_000, 100_000) as i32,
            1 => [i32::MIN, i32::MAX, i32::MIN + 1, i32::MAX - 1][rng.below(4) as usize],
            _ => {
                // Triangular around the centre of the row's range.
                let a = rng.range_i64(0, span);
                let b = rng.range_i64(0, span);
                ((a + b) / 2 + i64::from(offset)) as i32
            }
        };
        symbols.push(s);
        indexes.push(i as i32);
    }
    (symbols, indexes)
}

/// Mixture parameters for `n` elements with `k` components each: (weights, means, scales).
pub fn mixture_params(rng: &mut SplitMix64, n: usize, k: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let mut w = Vec::with_capacity(n * k);
    let mut m = Vec::with_capacity(n * k);
    let mut s = Vec::with_capacity(n * k);
    for _ in 0..n * k {
        w.push(0.05 + rng.next_f64());
        m.push((rng.next_f64() - 0.5) * 40.0);
        // Log-uniform in [0.05, 60]: below MIN_SCALE on purpose (it is clamped).
        s.push(rng.log_uniform(0.05, 60.0));
    }
    (w, m, s)
}

/// One symbol per element, sampled from its mixture (component by weight, then rounded normal).
pub fn sample_mixture(rng: &mut SplitMix64, k: usize, w: &[f64], m: &[f64], s: &[f64]) -> Vec<i32> {
    let n = w.len() / k;
    (0..n)
        .map(|i| {
            let c = rng.weighted_index(&w[i * k..(i + 1) * k]);
            let sigma = s[i * k + c].max(0.11);
            (m[i * k + c] + sigma * rng.normal()).round() as i32
        })
        .collect()
}

/// One step of [`spec_encode`], in decoding order.
#[derive(Debug, Clone, Copy)]
pub enum SpecOp {
    /// A symbol interval `(start, freq)` out of 2^16.
    Sym(u32, u32),
    /// A 4-bit bypass chunk.
    Nibble(u32),
}

/// An independent rANS encoder written from the CompressAI 1.2.8 format description
/// (`shared/reference/compressai-1.2.8-facts.md`, section c), used to cross-check the library and
/// to build streams the library's encoder never writes (non-canonical or oversized escapes).
pub fn spec_encode(ops: &[SpecOp]) -> Vec<u8> {
    const L: u64 = 1 << 31;
    let mut x = L;
    let mut words: Vec<u32> = Vec::new();
    for op in ops.iter().rev() {
        match *op {
            SpecOp::Sym(start, freq) => {
                let freq = u64::from(freq);
                if x >= ((L >> 16) << 32) * freq {
                    words.push(x as u32);
                    x >>= 32;
                }
                x = ((x / freq) << 16) + x % freq + u64::from(start);
            }
            SpecOp::Nibble(b) => {
                if x >= ((L >> 16) << 32) << 12 {
                    words.push(x as u32);
                    x >>= 32;
                }
                x = (x << 4) | u64::from(b);
            }
        }
    }
    let mut out = Vec::new();
    out.extend_from_slice(&(x as u32).to_le_bytes());
    out.extend_from_slice(&((x >> 32) as u32).to_le_bytes());
    for w in words.iter().rev() {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out
}

/// The escape payload of `raw` as written by CompressAI: the chunk count as a run of 15s closed
/// by the remainder, then `n_chunks` nibbles, least significant first. `n_chunks` may exceed what
/// `raw` needs (a non-canonical escape).
pub fn spec_escape_payload(raw: u64, n_chunks: u32) -> Vec<SpecOp> {
    let mut ops = Vec::new();
    let mut rest = n_chunks;
    while rest >= 15 {
        ops.push(SpecOp::Nibble(15));
        rest -= 15;
    }
    ops.push(SpecOp::Nibble(rest));
    for i in 0..n_chunks {
        let nib = if i < 16 { (raw >> (4 * i)) & 15 } else { 0 };
        ops.push(SpecOp::Nibble(nib as u32));
    }
    ops
}

/// The spec ops of `value` against an unpadded CDF row with `offset`.
pub fn spec_value_ops(cdf: &[u32], offset: i32, value: i32) -> Vec<SpecOp> {
    let max_value = (cdf.len() - 2) as i64;
    let v = i64::from(value) - i64::from(offset);
    let (slot, raw) = if v < 0 {
        (max_value, Some((-2 * v - 1) as u64))
    } else if v >= max_value {
        (max_value, Some((2 * (v - max_value)) as u64))
    } else {
        (v, None)
    };
    let s = slot as usize;
    let mut ops = vec![SpecOp::Sym(cdf[s], cdf[s + 1] - cdf[s])];
    if let Some(raw) = raw {
        let n = (64 - raw.leading_zeros()).div_ceil(4);
        ops.extend(spec_escape_payload(raw, n));
    }
    ops
}

/// The rows of `table` without padding.
pub fn unpadded_rows(table: &CdfTable) -> Vec<Vec<u32>> {
    let (cdfs, width, lengths, _) = table.to_padded();
    lengths
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            cdfs[i * width..i * width + len as usize]
                .iter()
                .map(|&v| v as u32)
                .collect()
        })
        .collect()
}

/// [`spec_encode`] of `symbols[i]` against row `indexes[i]` of `table`.
pub fn spec_encode_with_indexes(symbols: &[i32], indexes: &[i32], table: &CdfTable) -> Vec<u8> {
    let rows = unpadded_rows(table);
    let ops: Vec<SpecOp> = symbols
        .iter()
        .zip(indexes)
        .flat_map(|(&s, &i)| spec_value_ops(&rows[i as usize], table.offsets()[i as usize], s))
        .collect();
    spec_encode(&ops)
}
