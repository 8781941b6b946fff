//! rANS throughput: encode and decode of a Gaussian-conditional and a factorized latent, and the
//! chunked framing on one and two threads.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tinify_benches::{factorized, gaussian_conditional, TableWorkload};
use tinify_core::parallel::set_num_threads;
use tinify_core::{decode_chunked, decode_with_indexes, encode_chunked, encode_with_indexes};

/// 320 x 48 x 64 = 983,040 symbols (a 768 x 1024 image through a 320-channel hyperprior model).
const GAUSSIAN: (&str, usize) = ("gaussian_320x48x64", 320 * 48 * 64);
/// 192 x 32 x 48 = 294,912 symbols, one table row per channel.
const FACTORIZED: (&str, (usize, usize, usize)) = ("factorized_192x32x48", (192, 32, 48));
/// Chunks of the chunked benches.
const CHUNKS: usize = 8;

fn workloads() -> Vec<(&'static str, TableWorkload)> {
    let (c, h, w) = FACTORIZED.1;
    vec![
        (GAUSSIAN.0, gaussian_conditional(GAUSSIAN.1, 0x6761_7573)),
        (FACTORIZED.0, factorized(c, h, w, 0x6661_6374)),
    ]
}

fn encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("rans/encode");
    for (name, wl) in workloads() {
        group.throughput(Throughput::Elements(wl.symbols.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| encode_with_indexes(black_box(&wl.symbols), &wl.indexes, &wl.table).unwrap())
        });
    }
    group.finish();
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("rans/decode");
    for (name, wl) in workloads() {
        let bytes = encode_with_indexes(&wl.symbols, &wl.indexes, &wl.table).unwrap();
        println!(
            "{name}: {} symbols, {} bytes ({:.3} bits/symbol)",
            wl.symbols.len(),
            bytes.len(),
            8.0 * bytes.len() as f64 / wl.symbols.len() as f64
        );
        group.throughput(Throughput::Elements(wl.symbols.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| decode_with_indexes(black_box(&bytes), &wl.indexes, &wl.table).unwrap())
        });
    }
    group.finish();
}

fn chunked(c: &mut Criterion) {
    let wl = gaussian_conditional(GAUSSIAN.1, 0x6761_7573);
    let bytes = encode_chunked(&wl.symbols, &wl.indexes, &wl.table, CHUNKS).unwrap();
    for (op, decode) in [
        ("rans/encode_chunked", false),
        ("rans/decode_chunked", true),
    ] {
        let mut group = c.benchmark_group(op);
        group.throughput(Throughput::Elements(wl.symbols.len() as u64));
        for threads in [1, 2] {
            set_num_threads(threads);
            let id = BenchmarkId::new(format!("{}/chunks_{CHUNKS}/threads", GAUSSIAN.0), threads);
            group.bench_function(id, |b| {
                b.iter(|| {
                    if decode {
                        decode_chunked(black_box(&bytes), &wl.indexes, &wl.table)
                            .unwrap()
                            .len()
                    } else {
                        encode_chunked(black_box(&wl.symbols), &wl.indexes, &wl.table, CHUNKS)
                            .unwrap()
                            .len()
                    }
                })
            });
        }
        group.finish();
    }
    set_num_threads(0);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = encode, decode, chunked
}
criterion_main!(benches);
