//! Seeded workload generators shared by the criterion benches of tinify-core.
//!
//! Every workload comes from the core's seeded [`SplitMix64`], so runs compare like with like.

use tinify_core::cdf::gaussian::default_scale_table;
pub use tinify_core::SplitMix64;
use tinify_core::{gaussian_table, pmf_to_quantized_cdf, scale_indexes, CdfTable};

/// Symbols with the table rows that code them.
#[derive(Debug, Clone)]
pub struct TableWorkload {
    /// The CDF table.
    pub table: CdfTable,
    /// One symbol per element.
    pub symbols: Vec<i32>,
    /// The table row of each element.
    pub indexes: Vec<i32>,
}

/// A Gaussian-conditional latent of `n` elements (a hyperprior model's `y`): per-element scales
/// log-uniform in [0.11, 40], mapped to the 64-row default Gaussian table by `build_indexes`,
/// and zero-mean symbols `round(sigma * N(0, 1))`.
pub fn gaussian_conditional(n: usize, seed: u64) -> TableWorkload {
    let scales = default_scale_table();
    let table = gaussian_table(&scales, 1e-9).expect("default scales are valid");
    let mut rng = SplitMix64(seed);
    let mut symbols = Vec::with_capacity(n);
    let mut sigmas = Vec::with_capacity(n);
    for _ in 0..n {
        let sigma = rng.log_uniform(0.11, 40.0);
        sigmas.push(sigma as f32);
        symbols.push((sigma * rng.normal()).round() as i32);
    }
    let indexes = scale_indexes(&sigmas, &scales).expect("the table is not empty");
    TableWorkload {
        table,
        symbols,
        indexes,
    }
}

/// A factorized-prior latent (`EntropyBottleneck`) of `channels x h x w` symbols in CompressAI's
/// channel-major order: every channel has its own row, the quantized CDF of a discretised
/// logistic with a channel scale in [0.15, 8] and a small median shift, cut at +-(8 scale + 1)
/// plus a tail slot (so about 5..130 entries per row), offset `-center`.
pub fn factorized(channels: usize, h: usize, w: usize, seed: u64) -> TableWorkload {
    let mut rng = SplitMix64(seed);
    let mut rows = Vec::with_capacity(channels);
    let mut offsets = Vec::with_capacity(channels);
    let mut params = Vec::with_capacity(channels);
    for _ in 0..channels {
        let s = rng.log_uniform(0.15, 8.0);
        let mu = 0.4 * (rng.next_f64() - 0.5);
        let center = (8.0 * s).ceil() as i64 + 1;
        let sigmoid = |x: f64| 1.0 / (1.0 + (-(x - mu) / s).exp());
        let mut pmf: Vec<f32> = (-center..=center)
            .map(|k| (sigmoid(k as f64 + 0.5) - sigmoid(k as f64 - 0.5)) as f32)
            .collect();
        pmf.push((sigmoid(-center as f64 - 0.5) + 1.0 - sigmoid(center as f64 + 0.5)) as f32);
        let cdf = pmf_to_quantized_cdf(&pmf, 16).expect("valid pmf");
        rows.push(cdf.into_iter().map(|v| v as i32).collect::<Vec<i32>>());
        offsets.push(-(center as i32));
        params.push((mu, s));
    }
    let table = CdfTable::from_rows(&rows, &offsets).expect("valid rows");
    let mut symbols = Vec::with_capacity(channels * h * w);
    let mut indexes = Vec::with_capacity(channels * h * w);
    for (c, &(mu, s)) in params.iter().enumerate() {
        for _ in 0..h * w {
            symbols.push((mu + s * rng.logistic()).round() as i32);
            indexes.push(c as i32);
        }
    }
    TableWorkload {
        table,
        symbols,
        indexes,
    }
}

/// Gaussian-mixture parameters and symbols of `n` elements with `k` components.
#[derive(Debug, Clone)]
pub struct MixtureWorkload {
    /// Components per element.
    pub k: usize,
    /// Weights, element-major.
    pub weights: Vec<f64>,
    /// Means, element-major.
    pub means: Vec<f64>,
    /// Scales, element-major.
    pub scales: Vec<f64>,
    /// One symbol per element, drawn from its mixture.
    pub symbols: Vec<i32>,
}

/// A Cheng-2020-style mixture latent: weights uniform in [0.05, 1.05), means within +-8, scales
/// log-uniform in [0.11, 20]; symbols drawn from each element's mixture.
pub fn mixture(n: usize, k: usize, seed: u64) -> MixtureWorkload {
    let mut rng = SplitMix64(seed);
    let (mut weights, mut means, mut scales) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n * k {
        weights.push(0.05 + rng.next_f64());
        means.push(16.0 * (rng.next_f64() - 0.5));
        scales.push(rng.log_uniform(0.11, 20.0));
    }
    let symbols = (0..n)
        .map(|i| {
            let c = rng.weighted_index(&weights[i * k..(i + 1) * k]);
            (means[i * k + c] + scales[i * k + c] * rng.normal()).round() as i32
        })
        .collect();
    MixtureWorkload {
        k,
        weights,
        means,
        scales,
        symbols,
    }
}

/// `rows` pmfs of `len` entries each, stored back to back: a discretised Gaussian with a random
/// scale and shift, with the far tail rounding to zero counts (so the zero-frequency repair runs).
pub fn pmf_rows(rows: usize, len: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
    let mut rng = SplitMix64(seed);
    let mut flat = Vec::with_capacity(rows * len);
    for _ in 0..rows {
        let s = rng.log_uniform(0.5, len as f64 / 8.0);
        let mu = (len as f64 / 2.0) * (0.8 + 0.4 * rng.next_f64());
        flat.extend((0..len).map(|k| {
            let z = (k as f64 - mu) / s;
            ((-0.5 * z * z).exp() / s) as f32
        }));
    }
    (flat, vec![len; rows])
}
