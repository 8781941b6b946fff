//! CDF construction: Gaussian tables, pmf quantization, and per-element Gaussian-mixture coding.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use tinify_benches::{mixture, pmf_rows};
use tinify_core::cdf::gaussian::default_scale_table as default_scales;
use tinify_core::parallel::set_num_threads;
use tinify_core::{
    decode_mixture, encode_mixture, gaussian_table, pmf_to_quantized_cdf, pmfs_to_quantized_cdfs,
    MixtureParams,
};

fn gaussian(c: &mut Criterion) {
    let scales = default_scales();
    let mut group = c.benchmark_group("cdf/gaussian_table");
    group.throughput(Throughput::Elements(scales.len() as u64));
    for threads in [1, 2] {
        set_num_threads(threads);
        group.bench_function(BenchmarkId::new("default_64/threads", threads), |b| {
            b.iter(|| gaussian_table(black_box(&scales), 1e-9).unwrap())
        });
    }
    set_num_threads(0);
    group.finish();
}

fn quantize(c: &mut Criterion) {
    let mut group = c.benchmark_group("cdf/pmf_to_quantized_cdf");
    // Factorized-model sized rows (192 channels) and one CompressAI-wide row.
    for (rows, len) in [(192usize, 64usize), (192, 512), (1, 3132)] {
        let (flat, lengths) = pmf_rows(rows, len, 0x0070_6d66 + len as u64);
        group.throughput(Throughput::Elements(rows as u64));
        group.bench_function(format!("{rows}x{len}/one_by_one"), |b| {
            b.iter(|| {
                flat.chunks(len)
                    .map(|p| pmf_to_quantized_cdf(black_box(p), 16).unwrap().len())
                    .sum::<usize>()
            })
        });
        if rows > 1 {
            group.bench_function(format!("{rows}x{len}/batched"), |b| {
                b.iter(|| pmfs_to_quantized_cdfs(black_box(&flat), &lengths, 16).unwrap())
            });
        }
    }
    group.finish();
}

fn mixture_coding(c: &mut Criterion) {
    let n = 100_000;
    let wl = mixture(n, 3, 0x006d_6978);
    let params = MixtureParams::new(3, &wl.weights, &wl.means, &wl.scales, n).unwrap();
    let bytes = encode_mixture(&wl.symbols, &params).unwrap();
    println!(
        "mixture K=3: {n} symbols, {} bytes ({:.3} bits/symbol)",
        bytes.len(),
        8.0 * bytes.len() as f64 / n as f64
    );
    let mut group = c.benchmark_group("cdf/mixture");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("k3_100k/encode", |b| {
        b.iter(|| encode_mixture(black_box(&wl.symbols), &params).unwrap())
    });
    group.bench_function("k3_100k/decode", |b| {
        b.iter(|| decode_mixture(black_box(&bytes), &params).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = gaussian, quantize, mixture_coding
}
criterion_main!(benches);
