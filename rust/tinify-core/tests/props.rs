//! Property tests: lossless round trips with random pmfs, Gaussian tables and mixtures; the
//! invariants of quantized CDFs; thread-count invariance; and the coded size against the
//! model's information content.

mod common;

use common::*;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tinify_core::cdf::mixture::MixtureElement;
use tinify_core::parallel::set_num_threads;
use tinify_core::*;

/// `ProptestConfig::with_cases(cases)`, with failing cases saved beside this file
/// (`tests/props.proptest-regressions`): the default location needs a `lib.rs` next to the test.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::with_cases(cases)
    }
}

// --- strategies --------------------------------------------------------------------------------

/// A pmf of 1..=`max_len` entries: uniform, zero, tiny, exactly 1 and powers of two (which
/// round to 0 below 2^-17), or an extreme skew (one entry 1, the rest tiny or zero).
fn pmf_strategy(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    let entry = prop_oneof![
        4 => 0.0f32..1.0,
        2 => Just(0.0f32),
        1 => 0.0f32..1e-5,
        1 => Just(1.0f32),
        1 => (0i32..40).prop_map(|e| 2f32.powi(-e)),
    ];
    let len = prop_oneof![Just(1usize), 1..=8usize, 1..=64usize, 1..=max_len];
    let plain = len
        .clone()
        .prop_flat_map(move |n| prop::collection::vec(entry.clone(), n));
    let skewed = (len, any::<u64>(), prop::bool::ANY).prop_map(|(n, seed, zeros)| {
        let mut rng = SplitMix64(seed);
        let mut v: Vec<f32> = (0..n)
            .map(|_| {
                if zeros && rng.below(2) == 0 {
                    0.0
                } else {
                    (rng.next_f64() * 1e-7) as f32
                }
            })
            .collect();
        v[rng.below(n as u64) as usize] = 1.0;
        v
    });
    prop_oneof![3 => plain, 1 => skewed]
}

/// As [`pmf_strategy`], made valid (at least one count that does not round to zero).
fn valid_pmf_strategy(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    (pmf_strategy(max_len), any::<prop::sample::Index>()).prop_map(|(mut v, at)| {
        if v.iter().all(|&p| (p * 65536.0).round() == 0.0) {
            let i = at.index(v.len());
            v[i] = 0.5;
        }
        v
    })
}

/// A symbol for a row with `offset` and `max_value` (the tail slot): mostly in range, sometimes
/// on the range edges, sometimes far outside or at the i32 extremes.
fn symbol_strategy(offset: i32, max_value: i32) -> impl Strategy<Value = i32> {
    let lo = i64::from(offset);
    let hi = lo + i64::from(max_value);
    prop_oneof![
        6 => (lo..=hi).prop_map(|v| v as i32),
        1 => (lo - 3..=hi + 3).prop_map(|v| v.clamp(i32::MIN.into(), i32::MAX.into()) as i32),
        1 => any::<i32>(),
        1 => prop::sample::select(vec![i32::MIN, i32::MIN + 1, i32::MAX, i32::MAX - 1, 0, -1]),
    ]
}

/// CompressAI's `pmf_to_quantized_cdf`, written naively from the fact sheet (section d): the
/// O(n) scan for a donor and the shift of the CDF range between donor and receiver.
fn reference_quantize(pmf: &[f32], precision: u32) -> Option<Vec<u32>> {
    let scale = 1u64 << precision;
    let counts: Vec<u64> = pmf
        .iter()
        .map(|&p| (p * scale as f32).round() as u64)
        .collect();
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let n = pmf.len();
    let mut cdf = vec![0u64; n + 1];
    for i in 0..n {
        cdf[i + 1] = cdf[i] + scale * counts[i] / total;
    }
    cdf[n] = scale;
    for i in 0..n {
        if cdf[i] != cdf[i + 1] {
            continue;
        }
        let mut best: Option<(u64, usize)> = None;
        for j in 0..n {
            let f = cdf[j + 1] - cdf[j];
            if f > 1 && best.is_none_or(|(bf, _)| f < bf) {
                best = Some((f, j));
            }
        }
        let (_, j) = best.expect("a donor exists");
        if j < i {
            for c in &mut cdf[j + 1..=i] {
                *c -= 1;
            }
        } else {
            for c in &mut cdf[i + 1..=j] {
                *c += 1;
            }
        }
    }
    Some(cdf.into_iter().map(|v| v as u32).collect())
}

fn assert_cdf_invariants(cdf: &[u32], n: usize, precision: u32) {
    assert_eq!(cdf.len(), n + 1);
    assert_eq!(cdf[0], 0);
    assert_eq!(cdf[n], 1 << precision);
    assert!(
        cdf.windows(2).all(|w| w[0] < w[1]),
        "not strictly increasing"
    );
}

/// Every slot of a model: contiguous intervals, every frequency at least 1, total 2^16; and
/// `find` agrees with `interval`.
fn assert_model_invariants<M: SlotModel>(model: &M, probes: &[u32]) {
    let mut end = 0;
    for slot in 0..=model.max_value() {
        let (start, freq) = model.interval(slot);
        assert_eq!(
            start,
            end,
            "slot {slot} does not start where slot {} ends",
            slot.wrapping_sub(1)
        );
        assert!(freq >= 1, "slot {slot} has frequency 0");
        end = start + freq;
    }
    assert_eq!(end, PROB_SCALE);
    for &cum in probes {
        let cum = cum % PROB_SCALE;
        let (slot, start, freq) = model.find(cum);
        assert!(
            start <= cum && cum < start + freq,
            "find({cum}) -> {slot} [{start}, +{freq})"
        );
        assert_eq!(model.interval(slot), (start, freq));
    }
}

// --- pmf -> quantized CDF ------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn quantized_cdf_invariants_and_reference(pmf in pmf_strategy(3000), precision in 1u32..=16) {
        let n = pmf.len();
        prop_assume!(n as u64 <= 1 << precision);
        match pmf_to_quantized_cdf(&pmf, precision) {
            Ok(cdf) => {
                assert_cdf_invariants(&cdf, n, precision);
                if precision == 16 {
                    // Bit-identical to CompressAI's algorithm.
                    prop_assert_eq!(Some(cdf), reference_quantize(&pmf, precision));
                }
            }
            Err(e) => {
                prop_assert!(matches!(e, Error::InvalidPmf { .. }), "{:?}", e);
                let scale = (1u64 << precision) as f32;
                prop_assert!(pmf.iter().all(|&p| (p * scale).round() == 0.0), "{:?}", e);
            }
        }
    }

    #[test]
    fn batched_quantization_equals_single(
        pmfs in prop::collection::vec(valid_pmf_strategy(200), 1..12),
    ) {
        let flat: Vec<f32> = pmfs.iter().flatten().copied().collect();
        let lengths: Vec<usize> = pmfs.iter().map(Vec::len).collect();
        let batch = pmfs_to_quantized_cdfs(&flat, &lengths, 16).unwrap();
        for (row, pmf) in batch.iter().zip(&pmfs) {
            prop_assert_eq!(row, &pmf_to_quantized_cdf(pmf, 16).unwrap());
        }
    }
}

// --- table round trips -----------------------------------------------------------------------

/// A table of 1..=4 rows from random pmfs, random offsets, and symbols against random rows.
fn table_case() -> impl Strategy<Value = (CdfTable, Vec<i32>, Vec<i32>)> {
    let rows = prop::collection::vec((valid_pmf_strategy(3000), -300i32..300), 1..=4);
    rows.prop_flat_map(|rows| {
        let cdfs: Vec<Vec<i32>> = rows
            .iter()
            .map(|(pmf, _)| {
                pmf_to_quantized_cdf(pmf, 16)
                    .unwrap()
                    .into_iter()
                    .map(|v| v as i32)
                    .collect()
            })
            .collect();
        let offsets: Vec<i32> = rows.iter().map(|r| r.1).collect();
        let table = CdfTable::from_rows(&cdfs, &offsets).unwrap();
        let max_values: Vec<i32> = cdfs.iter().map(|c| c.len() as i32 - 2).collect();
        let element = (0..rows.len())
            .prop_flat_map(move |i| (Just(i as i32), symbol_strategy(offsets[i], max_values[i])));
        (Just(table), prop::collection::vec(element, 0..400))
    })
    .prop_map(|(table, pairs)| {
        let (indexes, symbols): (Vec<i32>, Vec<i32>) = pairs.into_iter().unzip();
        (table, symbols, indexes)
    })
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn table_round_trip((table, symbols, indexes) in table_case()) {
        let bytes = encode_with_indexes(&symbols, &indexes, &table).unwrap();
        prop_assert_eq!(&bytes, &spec_encode_with_indexes(&symbols, &indexes, &table));
        prop_assert_eq!(decode_with_indexes(&bytes, &indexes, &table).unwrap(), symbols);
    }

    #[test]
    fn table_rows_are_valid_models(pmf in valid_pmf_strategy(3000), probes in prop::collection::vec(any::<u32>(), 64)) {
        let cdf: Vec<i32> = pmf_to_quantized_cdf(&pmf, 16).unwrap().into_iter().map(|v| v as i32).collect();
        let table = CdfTable::from_rows(&[cdf], &[0]).unwrap();
        assert_model_invariants(&table.row(0).unwrap(), &probes);
    }

    #[test]
    fn output_is_independent_of_thread_count(
        (table, symbols, indexes) in table_case(),
        chunks in 1usize..=9,
    ) {
        set_num_threads(1);
        let one = encode_chunked(&symbols, &indexes, &table, chunks).unwrap();
        set_num_threads(2);
        let two = encode_chunked(&symbols, &indexes, &table, chunks).unwrap();
        let decoded = decode_chunked(&two, &indexes, &table).unwrap();
        set_num_threads(0);
        prop_assert_eq!(one, two);
        prop_assert_eq!(decoded, symbols);
    }
}

// --- Gaussian tables -------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn gaussian_table_invariants(
        log_scales in prop::collection::vec(-4.6f64..6.0, 1..8),
        tail_mass in prop::sample::select(vec![1e-9, 1e-6, 1e-3, 0.1]),
        seed in any::<u64>(),
    ) {
        let scales: Vec<f32> = log_scales.iter().map(|&l| libm::exp(l) as f32).collect();
        let table = gaussian_table(&scales, tail_mass).unwrap();
        let multiplier = -standard_normal_quantile(tail_mass / 2.0).unwrap();
        prop_assert_eq!(table.rows(), scales.len());
        let rows = unpadded_rows(&table);
        for (i, &s) in scales.iter().enumerate() {
            let center = (s * multiplier as f32).ceil() as i64;
            prop_assert_eq!(i64::from(table.offsets()[i]), -center);
            prop_assert_eq!(i64::from(table.lengths()[i]), 2 * center + 3);
            assert_cdf_invariants(&rows[i], rows[i].len() - 1, 16);
            assert_model_invariants(&table.row(i).unwrap(), &[0, 1, 32768, 65535]);
            // The mode (symbol 0, slot `center`) has the largest frequency.
            let freqs: Vec<u32> = rows[i].windows(2).map(|w| w[1] - w[0]).collect();
            let (body, _tail) = freqs.split_at(freqs.len() - 1);
            let c = center as usize;
            prop_assert!(body.iter().all(|&f| f <= body[c]), "row {} mode is not at 0", i);
        }
        // Larger scales never get narrower rows.
        for i in 0..scales.len() {
            for j in 0..scales.len() {
                if scales[i] <= scales[j] {
                    prop_assert!(table.offsets()[i] >= table.offsets()[j]);
                }
            }
        }
        // Deterministic, and a round trip through it with sampled symbols.
        prop_assert_eq!(&gaussian_table(&scales, tail_mass).unwrap(), &table);
        let mut rng = SplitMix64(seed);
        let n = 500;
        let indexes: Vec<i32> = (0..n).map(|_| rng.below(scales.len() as u64) as i32).collect();
        let symbols: Vec<i32> = indexes
            .iter()
            .map(|&i| {
                let v = (f64::from(scales[i as usize]) * rng.normal() * 1.3).round() as i32;
                if rng.below(100) == 0 { v.wrapping_mul(7919) } else { v }
            })
            .collect();
        let bytes = encode_with_indexes(&symbols, &indexes, &table).unwrap();
        prop_assert_eq!(decode_with_indexes(&bytes, &indexes, &table).unwrap(), symbols);
    }
}

// --- Gaussian mixtures -----------------------------------------------------------------------

/// Mixture parameters of `n` elements with `k` components: weights with zeros (at least one
/// positive per element), means mostly within +-60 but sometimes near +-2^30, scales
/// log-uniform over [1e-3, 1e4] (beyond both clamps).
fn mixture_case(max_n: usize) -> impl Strategy<Value = (usize, Vec<f64>, Vec<f64>, Vec<f64>, u64)> {
    (1usize..=4, 1usize..=max_n, any::<u64>()).prop_map(|(k, n, seed)| {
        let mut rng = SplitMix64(seed);
        let mut w = Vec::with_capacity(n * k);
        let mut m = Vec::with_capacity(n * k);
        let mut s = Vec::with_capacity(n * k);
        for _ in 0..n {
            let keep = rng.below(k as u64) as usize;
            for c in 0..k {
                w.push(match rng.below(6) {
                    0 if c != keep => 0.0,
                    1 => 1e-12 + rng.next_f64() * 1e-9,
                    _ => 0.01 + rng.next_f64(),
                });
                m.push(match rng.below(20) {
                    0 => (1u64 << 30) as f64 * (2.0 * rng.next_f64() - 1.0),
                    1 => (1u64 << 30) as f64 * if rng.below(2) == 0 { 1.0 } else { -1.0 },
                    _ => 120.0 * (rng.next_f64() - 0.5),
                });
                s.push(rng.log_uniform(1e-3, 1e4));
            }
        }
        (k, w, m, s, seed)
    })
}

proptest! {
    #![proptest_config(config(40))]

    #[test]
    fn mixture_round_trip((k, w, m, s, seed) in mixture_case(300)) {
        let n = w.len() / k;
        let params = MixtureParams::new(k, &w, &m, &s, n).unwrap();
        let mut rng = SplitMix64(seed ^ 0x5eed);
        let mut symbols = sample_mixture(&mut rng, k, &w, &m, &s);
        for v in symbols.iter_mut() {
            match rng.below(12) {
                0 => *v = rng.next_u64() as i32,
                1 => *v = [i32::MIN, i32::MAX][rng.below(2) as usize],
                2 => *v = v.saturating_add(rng.range_i64(-3000, 3000) as i32),
                _ => {}
            }
        }
        let bytes = encode_mixture(&symbols, &params).unwrap();
        prop_assert_eq!(decode_mixture(&bytes, &params).unwrap(), symbols);
    }

    #[test]
    fn mixture_cdf_is_strictly_increasing(
        (k, w, m, s, _seed) in mixture_case(1),
        probes in prop::collection::vec(any::<u32>(), 64),
    ) {
        let params = MixtureParams::new(k, &w, &m, &s, 1).unwrap();
        let e: MixtureElement = params.element(0).unwrap();
        assert_model_invariants(&e, &probes);
        let total: f64 = (0..=e.max_value()).map(|j| e.slot_probability(j)).sum();
        prop_assert!((total - 1.0).abs() < 1e-12);
    }
}

// --- compression efficiency ------------------------------------------------------------------

/// `F(x)` of element `i`, computed independently of the library's mixture code.
fn mixture_cdf(k: usize, w: &[f64], m: &[f64], s: &[f64], i: usize, x: f64) -> f64 {
    let r = i * k..(i + 1) * k;
    let total: f64 = w[r.clone()].iter().sum();
    r.map(|c| w[c] / total * standard_normal_cdf((x - m[c]) / s[c].clamp(0.11, 256.0)))
        .sum()
}

/// Bits that the quantized model (and the escape code) spends on `value` under `model`.
fn model_bits<M: SlotModel>(model: &M, value: i32) -> f64 {
    let v = i64::from(value) - model.offset();
    let max = i64::from(model.max_value());
    let (slot, raw) = if v < 0 {
        (max, Some((-2 * v - 1) as u64))
    } else if v >= max {
        (max, Some((2 * (v - max)) as u64))
    } else {
        (v, None)
    };
    let (_, freq) = model.interval(slot as u32);
    let mut bits = 16.0 - f64::from(freq).log2();
    if let Some(raw) = raw {
        let n = u64::from((64 - raw.leading_zeros()).div_ceil(4));
        bits += 4.0 * (n / 15 + 1 + n) as f64;
    }
    bits
}

proptest! {
    #![proptest_config(config(4))]

    /// Coded size against information content, on 20k symbols drawn from K = 3 mixtures.
    ///
    /// 1. Against the quantized model (tight): a rANS stream of a message with information
    ///    content `I = sum -log2 q` bits is `I + 32 < size <= I + 64` bits (the final state is in
    ///    `[2^31, 2^63)` and flushed whole), up to the coder's approximation error of at most
    ///    `log2(1 + 2^-15)` bits per step.
    /// 2. Against the continuous mixture (`p = F(x + 1/2) - F(x - 1/2)`): the leaky CDF gives
    ///    every slot `freq = floor(T(j+1) R) - floor(T(j) R) + 1 > p R`, with
    ///    `R = 2^16 - (L + 1)`, so each symbol costs less than `-log2 p + log2(2^16 / R)`.
    ///    That leak of about `1.44 (L + 1) / 2^16` bits per symbol is a fixed cost, so "within 1%
    ///    of the continuous information" holds only when the entropy per symbol is well above
    ///    it: for tiny scales (sigma ~ 0.11, entropy ~1e-4 bit per symbol) the leak alone is a
    ///    multiple of the information, and no 16-bit quantized model can do better since every
    ///    slot needs a count of at least 1. The workload here uses scales in [0.3, 40]
    ///    (a few bits per symbol), where the 1% bound holds with room to spare.
    #[test]
    fn coded_size_matches_information_content(seed in any::<u64>()) {
        let (n, k) = (20_000, 3);
        let mut rng = SplitMix64(seed);
        let mut w = Vec::new();
        let mut m = Vec::new();
        let mut s = Vec::new();
        for _ in 0..n * k {
            w.push(0.05 + rng.next_f64());
            m.push(40.0 * (rng.next_f64() - 0.5));
            s.push(rng.log_uniform(0.3, 40.0));
        }
        let symbols = sample_mixture(&mut rng, k, &w, &m, &s);
        let params = MixtureParams::new(k, &w, &m, &s, n).unwrap();
        let size = 8.0 * encode_mixture(&symbols, &params).unwrap().len() as f64;

        let (mut quantized, mut continuous, mut leak) = (0.0, 0.0, 0.0);
        for (i, &v) in symbols.iter().enumerate() {
            let e = params.element(i).unwrap();
            quantized += model_bits(&e, v);
            let x = f64::from(v);
            let p = mixture_cdf(k, &w, &m, &s, i, x + 0.5) - mixture_cdf(k, &w, &m, &s, i, x - 0.5);
            continuous += -p.log2();
            leak += (65536.0 / f64::from(PROB_SCALE - (e.max_value() + 1))).log2();
        }
        let slack = n as f64 * (1.0 + 2f64.powi(-15)).log2() + 1.0;
        println!(
            "size {size} bits, quantized {quantized:.1}, continuous {continuous:.1}, leak {leak:.1} \
             ({:.3}% over continuous)",
            100.0 * (size / continuous - 1.0)
        );
        prop_assert!(size > quantized + 32.0 - slack && size <= quantized + 64.0 + slack,
            "size {} vs quantized information {}", size, quantized);
        prop_assert!(quantized < continuous + leak + 1e-6 * n as f64,
            "quantized {} vs continuous {} + leak {}", quantized, continuous, leak);
        prop_assert!(size <= 1.01 * continuous + 64.0, "size {} vs continuous {}", size, continuous);
        prop_assert!(size >= 0.99 * continuous, "size {} vs continuous {}", size, continuous);
    }
}
