//! Deterministic round trips over every coder: table streams (one-shot and buffered), escapes,
//! empty and one-symbol streams, mixture streams, chunked streams, batches, thread counts, and
//! the byte layout CompressAI 1.2.8 writes.

mod common;

use common::*;
use tinify_core::parallel::set_num_threads;
use tinify_core::*;

/// The σ = 0.11 row of CompressAI's default Gaussian table.
fn example_table() -> CdfTable {
    CdfTable::from_rows(&[vec![0, 1, 65534, 65535, 65536]], &[-1]).unwrap()
}

fn roundtrip_table(symbols: &[i32], indexes: &[i32], table: &CdfTable) -> Vec<u8> {
    let bytes = encode_with_indexes(symbols, indexes, table).unwrap();
    assert_eq!(bytes.len() % 4, 0);
    assert!(bytes.len() >= 8);
    assert_eq!(
        decode_with_indexes(&bytes, indexes, table).unwrap(),
        symbols
    );
    bytes
}

#[test]
fn compressai_example_bytes() {
    let expected = [0x0e, 0x00, 0x03, 0x80, 0x00, 0x00, 0x00, 0x00];
    let table = example_table();
    assert_eq!(roundtrip_table(&[0, 0], &[0, 0], &table), expected);

    // The same row in CompressAI's padded layout (width 7, two zeros of padding).
    let padded = CdfTable::from_padded(&[0, 1, 65534, 65535, 65536, 0, 0], 7, &[5], &[-1]).unwrap();
    assert_eq!(padded, table);
    assert_eq!(
        encode_with_indexes(&[0, 0], &[0, 0], &padded).unwrap(),
        expected
    );

    // The buffered encoder and the independent spec encoder agree.
    let mut enc = RansEncoder::new();
    enc.put_with_indexes(&[0], &[0], &table).unwrap();
    enc.put_with_indexes(&[0], &[0], &table).unwrap();
    assert_eq!(enc.len(), 2);
    assert_eq!(enc.flush(), expected);
    assert!(enc.is_empty());
    assert_eq!(spec_encode_with_indexes(&[0, 0], &[0, 0], &table), expected);

    // The default Gaussian table's row 0 is this row.
    let gt = default_gaussian_table();
    assert_eq!(
        encode_with_indexes(&[0, 0], &[0, 0], &gt).unwrap(),
        expected
    );
}

#[test]
fn empty_stream() {
    let table = example_table();
    // Nothing coded: the stream is just the initial state L = 2^31.
    let empty = [0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00];
    assert_eq!(encode_with_indexes(&[], &[], &table).unwrap(), empty);
    assert_eq!(RansEncoder::new().flush(), empty);
    assert_eq!(
        decode_with_indexes(&empty, &[], &table).unwrap(),
        Vec::<i32>::new()
    );
    let params = MixtureParams::new(2, &[], &[], &[], 0).unwrap();
    assert!(params.is_empty());
    assert_eq!(encode_mixture(&[], &params).unwrap(), empty);
    assert_eq!(decode_mixture(&empty, &params).unwrap(), Vec::<i32>::new());
    let dec = RansDecoder::new(&empty).unwrap();
    assert_eq!(dec.decoded(), 0);
    dec.finish().unwrap();
    // Asking an empty stream for a symbol is an error, not a made-up value.
    assert!(decode_with_indexes(&empty, &[0], &table).is_err());
}

#[test]
fn one_symbol() {
    let table = default_gaussian_table();
    for index in [0, 1, 17, 40, 63] {
        for value in [0, 1, -1, 5, -5, 100, -100, 2000, i32::MIN, i32::MAX] {
            let bytes = roundtrip_table(&[value], &[index], &table);
            assert_eq!(bytes, spec_encode_with_indexes(&[value], &[index], &table));
        }
    }
    let (w, m, s) = ([1.0], [3.25], [2.0]);
    let params = MixtureParams::new(1, &w, &m, &s, 1).unwrap();
    for value in [3, -40, i32::MIN, i32::MAX] {
        let bytes = encode_mixture(&[value], &params).unwrap();
        assert_eq!(decode_mixture(&bytes, &params).unwrap(), vec![value]);
    }
}

#[test]
fn table_workloads_match_spec_encoder() {
    let mut rng = SplitMix64(1);
    for table in [default_gaussian_table(), laplace_table(12), example_table()] {
        for n in [2, 3, 10, 257, 5000] {
            let (symbols, indexes) = table_workload(&mut rng, &table, n);
            let bytes = roundtrip_table(&symbols, &indexes, &table);
            assert_eq!(
                bytes,
                spec_encode_with_indexes(&symbols, &indexes, &table),
                "n = {n}"
            );
        }
    }
}

#[test]
fn escapes_on_every_row() {
    let table = default_gaussian_table();
    let rows = unpadded_rows(&table);
    let mut symbols = Vec::new();
    let mut indexes = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let offset = table.offsets()[i];
        let max_value = row.len() as i32 - 2;
        // The range edges, the tail slot's own value (an escape with raw 0), just beyond, far
        // beyond, and the i32 extremes.
        for v in [
            offset,
            offset - 1,
            offset + max_value - 1,
            offset + max_value,
            offset + max_value + 1,
            offset - 1000,
            offset + max_value + 1000,
            -(1 << 20),
            1 << 20,
            i32::MIN,
            i32::MIN + 1,
            i32::MAX,
            i32::MAX - 1,
        ] {
            symbols.push(v);
            indexes.push(i as i32);
        }
    }
    let bytes = roundtrip_table(&symbols, &indexes, &table);
    assert_eq!(bytes, spec_encode_with_indexes(&symbols, &indexes, &table));
}

#[test]
fn extreme_offsets_and_escape_only_rows() {
    // Offsets at the i32 extremes put every raw escape payload near 2^33; a row [0, 65536] has
    // only the escape slot, so every value is escaped.
    let rows = vec![
        vec![0, 65536],
        vec![0, 1, 65536],
        vec![0, 65535, 65536],
        vec![0, 30000, 60000, 65536],
        vec![0, 30000, 60000, 65536],
        vec![0, 1, 2, 3, 65536],
    ];
    let offsets = [0, -3, 7, i32::MIN, i32::MAX, -2];
    let table = CdfTable::from_rows(&rows, &offsets).unwrap();
    let values = [
        0,
        1,
        -1,
        2,
        7,
        8,
        i32::MIN,
        i32::MIN + 1,
        i32::MAX,
        i32::MAX - 1,
        123_456_789,
    ];
    let mut symbols = Vec::new();
    let mut indexes = Vec::new();
    for i in 0..rows.len() as i32 {
        for &v in &values {
            symbols.push(v);
            indexes.push(i);
        }
    }
    let bytes = roundtrip_table(&symbols, &indexes, &table);
    assert_eq!(bytes, spec_encode_with_indexes(&symbols, &indexes, &table));
}

#[test]
fn buffered_encoder_and_incremental_decoder() {
    let mut rng = SplitMix64(2);
    let table = laplace_table(8);
    let (symbols, indexes) = table_workload(&mut rng, &table, 3000);
    let whole = encode_with_indexes(&symbols, &indexes, &table).unwrap();

    // Several put calls, one flush: the same stream.
    let mut enc = RansEncoder::with_capacity(10);
    for (s, i) in symbols.chunks(700).zip(indexes.chunks(700)) {
        enc.put_with_indexes(s, i, &table).unwrap();
    }
    // A failing call buffers nothing.
    let before = enc.len();
    let err = enc.put_with_indexes(&[0, 0], &[0, 99], &table).unwrap_err();
    assert_eq!(
        err,
        Error::IndexOutOfRange {
            position: 1,
            index: 99,
            rows: 8
        }
    );
    assert_eq!(enc.len(), before);
    assert_eq!(enc.flush(), whole);
    // The encoder is reusable after a flush.
    enc.put_with_indexes(&[0, 0], &[0, 0], &example_table())
        .unwrap();
    assert_eq!(
        enc.flush(),
        [0x0e, 0x00, 0x03, 0x80, 0x00, 0x00, 0x00, 0x00]
    );

    // Decoding in pieces (as the autoregressive models do) gives the same symbols.
    let mut dec = RansDecoder::new(&whole).unwrap();
    let mut out = Vec::new();
    for i in indexes.chunks(333) {
        out.extend(dec.get_with_indexes(i, &table).unwrap());
    }
    assert_eq!(dec.decoded(), symbols.len());
    dec.finish().unwrap();
    assert_eq!(out, symbols);

    // Symbol by symbol through the SlotModel interface.
    let mut dec = RansDecoder::new(&whole).unwrap();
    for (&s, &i) in symbols.iter().zip(&indexes) {
        assert_eq!(dec.get(&table.row(i as usize).unwrap()).unwrap(), s);
    }
    dec.finish().unwrap();
}

#[test]
fn table_and_mixture_models_share_one_stream() {
    let mut rng = SplitMix64(3);
    let table = default_gaussian_table();
    let (symbols, indexes) = table_workload(&mut rng, &table, 400);
    let (w, m, s) = mixture_params(&mut rng, 400, 3);
    let params = MixtureParams::new(3, &w, &m, &s, 400).unwrap();
    let msyms = sample_mixture(&mut rng, 3, &w, &m, &s);

    let mut enc = RansEncoder::new();
    for j in 0..400 {
        enc.put(symbols[j], &table.row(indexes[j] as usize).unwrap())
            .unwrap();
        enc.put(msyms[j], &params.element(j).unwrap()).unwrap();
    }
    let bytes = enc.flush();
    let mut dec = RansDecoder::new(&bytes).unwrap();
    for j in 0..400 {
        assert_eq!(
            dec.get(&table.row(indexes[j] as usize).unwrap()).unwrap(),
            symbols[j]
        );
        assert_eq!(dec.get(&params.element(j).unwrap()).unwrap(), msyms[j]);
    }
    dec.finish().unwrap();
}

#[test]
fn mixture_k1_to_k4() {
    let mut rng = SplitMix64(4);
    for k in 1..=4 {
        for n in [1, 2, 50, 2000] {
            let (w, m, s) = mixture_params(&mut rng, n, k);
            let params = MixtureParams::new(k, &w, &m, &s, n).unwrap();
            assert_eq!(params.len(), n);
            let mut symbols = sample_mixture(&mut rng, k, &w, &m, &s);
            // Escapes: far tails and the i32 extremes.
            if n >= 50 {
                symbols[0] = i32::MIN;
                symbols[1] = i32::MAX;
                symbols[2] = 100_000;
                symbols[3] = -100_000;
            }
            let bytes = encode_mixture(&symbols, &params).unwrap();
            assert_eq!(
                decode_mixture(&bytes, &params).unwrap(),
                symbols,
                "k = {k}, n = {n}"
            );
            // The buffered encoder writes the same stream.
            let mut enc = RansEncoder::new();
            enc.put_mixture(&symbols, &params).unwrap();
            assert_eq!(enc.flush(), bytes);
        }
    }
}

#[test]
fn mixture_parameter_extremes() {
    let big = (1u64 << 30) as f64;
    // (weights, means, scales) of two-component elements.
    let cases: Vec<([f64; 2], [f64; 2], [f64; 2])> = vec![
        ([1.0, 0.0], [0.0, 0.0], [1.0, 1.0]),        // one weight zero
        ([1.0, 1.0], [-big, big], [1.0, 1.0]),       // support capped at MAX_SLOTS
        ([1.0, 1.0], [big, big - 0.5], [0.0, -3.0]), // scales below the bound are clamped
        ([1.0, 1.0], [0.0, 0.0], [f64::INFINITY, 1e300]), // huge scales are clamped
        ([1e-300, 1e-300], [0.5, -0.5], [0.11, 0.11]), // tiny weights
        ([1e300, 1.0], [-7.3, 7.3], [256.0, 0.11]),  // wildly unequal weights
        ([0.3, 0.7], [-big, -big], [256.0, 256.0]),
    ];
    for (w, m, s) in &cases {
        let params = MixtureParams::new(2, w, m, s, 1).unwrap();
        let centre = (w[0] * m[0] + w[1] * m[1]) / (w[0] + w[1]);
        let near = if centre.is_finite() {
            centre.round() as i32
        } else {
            0
        };
        for v in [
            near,
            near - 1,
            near + 1,
            m[0] as i32,
            m[1] as i32,
            0,
            i32::MIN,
            i32::MAX,
        ] {
            let bytes = encode_mixture(&[v], &params).unwrap();
            assert_eq!(
                decode_mixture(&bytes, &params).unwrap(),
                vec![v],
                "{w:?} {m:?} {s:?} {v}"
            );
        }
    }
}

#[test]
fn chunked_streams() {
    let mut rng = SplitMix64(5);
    let table = default_gaussian_table();
    for n in [0usize, 1, 2, 3, 6, 7, 100, 1001] {
        let (symbols, indexes) = table_workload(&mut rng, &table, n);
        let plain = encode_with_indexes(&symbols, &indexes, &table).unwrap();
        for chunks in 1..=7 {
            let bytes = encode_chunked(&symbols, &indexes, &table, chunks).unwrap();
            assert_eq!(
                decode_chunked(&bytes, &indexes, &table).unwrap(),
                symbols,
                "n {n} chunks {chunks}"
            );
            // Framing: chunk count, lengths, then the parts; every part is a plain stream of a
            // contiguous, nearly equal slice (the first n % chunks parts one symbol longer).
            let word =
                |i: usize| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap()) as usize;
            assert_eq!(word(0), chunks);
            let mut pos = 4 * (chunks + 1);
            let mut start = 0;
            for c in 0..chunks {
                let len = word(c + 1);
                let count = n / chunks + usize::from(c < n % chunks);
                let part = &bytes[pos..pos + len];
                let sl = start..start + count;
                assert_eq!(
                    part,
                    encode_with_indexes(&symbols[sl.clone()], &indexes[sl], &table).unwrap()
                );
                if count == 0 {
                    assert_eq!(len, 8, "an empty part is the 8-byte empty stream");
                }
                pos += len;
                start += count;
            }
            assert_eq!(pos, bytes.len());
            if chunks == 1 {
                assert_eq!(&bytes[8..], &plain[..]);
            }
        }
    }
}

#[test]
fn batch_equals_per_stream() {
    let mut rng = SplitMix64(6);
    let table = laplace_table(16);
    let mut all_symbols = Vec::new();
    let mut all_indexes = Vec::new();
    for n in [0usize, 1, 5, 300, 2000, 17] {
        let (s, i) = table_workload(&mut rng, &table, n);
        all_symbols.push(s);
        all_indexes.push(i);
    }
    let sym_refs: Vec<&[i32]> = all_symbols.iter().map(Vec::as_slice).collect();
    let idx_refs: Vec<&[i32]> = all_indexes.iter().map(Vec::as_slice).collect();
    for chunks in [1, 2, 3] {
        let streams = encode_batch(&sym_refs, &idx_refs, &table, chunks).unwrap();
        assert_eq!(streams.len(), sym_refs.len());
        for j in 0..streams.len() {
            let single = match chunks {
                1 => encode_with_indexes(sym_refs[j], idx_refs[j], &table).unwrap(),
                _ => encode_chunked(sym_refs[j], idx_refs[j], &table, chunks).unwrap(),
            };
            assert_eq!(streams[j], single, "stream {j}, {chunks} chunks");
        }
        let stream_refs: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
        assert_eq!(
            decode_batch(&stream_refs, &idx_refs, &table, chunks > 1).unwrap(),
            all_symbols
        );
    }
    // An empty batch.
    assert!(encode_batch(&[], &[], &table, 1).unwrap().is_empty());
    assert!(decode_batch(&[], &[], &table, false).unwrap().is_empty());
    assert!(decode_batch(&[], &[], &table, true).unwrap().is_empty());
    // Zero chunks is refused.
    assert!(matches!(
        encode_batch(&sym_refs, &idx_refs, &table, 0),
        Err(Error::InvalidParameter { .. })
    ));
}

#[test]
fn padded_layout_round_trip() {
    for table in [default_gaussian_table(), laplace_table(5), example_table()] {
        let (cdfs, width, lengths, offsets) = table.to_padded();
        assert_eq!(width, table.max_length());
        assert_eq!(cdfs.len(), width * table.rows());
        let back = CdfTable::from_padded(&cdfs, width, &lengths, &offsets).unwrap();
        assert_eq!(back, table);
        // Wider padding than needed is fine too.
        let wide = width + 3;
        let mut padded = vec![0; wide * table.rows()];
        for i in 0..table.rows() {
            padded[i * wide..i * wide + width].copy_from_slice(&cdfs[i * width..(i + 1) * width]);
        }
        assert_eq!(
            CdfTable::from_padded(&padded, wide, &lengths, &offsets).unwrap(),
            table
        );
    }
}

/// All thread-count checks live in one test: the thread count is process-wide.
#[test]
fn identical_output_for_one_and_two_threads() {
    let mut rng = SplitMix64(7);
    let table = default_gaussian_table();
    let (symbols, indexes) = table_workload(&mut rng, &table, 20_000);
    let parts: Vec<(Vec<i32>, Vec<i32>)> = (0..9)
        .map(|n| table_workload(&mut rng, &table, n * 97))
        .collect();
    let sym_refs: Vec<&[i32]> = parts.iter().map(|p| p.0.as_slice()).collect();
    let idx_refs: Vec<&[i32]> = parts.iter().map(|p| p.1.as_slice()).collect();
    let pmfs: Vec<f32> = (0..64 * 40).map(|_| rng.next_f64() as f32).collect();
    let lengths = vec![40usize; 64];

    let run = |threads: usize| {
        set_num_threads(threads);
        let chunked: Vec<Vec<u8>> = (1..=7)
            .map(|c| encode_chunked(&symbols, &indexes, &table, c).unwrap())
            .collect();
        for c in &chunked {
            assert_eq!(decode_chunked(c, &indexes, &table).unwrap(), symbols);
        }
        let batch = encode_batch(&sym_refs, &idx_refs, &table, 1).unwrap();
        let batch_chunked = encode_batch(&sym_refs, &idx_refs, &table, 3).unwrap();
        let gt = gaussian_table(&default_scales(), 1e-9).unwrap();
        let q = pmfs_to_quantized_cdfs(&pmfs, &lengths, 16).unwrap();
        (chunked, batch, batch_chunked, gt, q)
    };
    let one = run(1);
    let two = run(2);
    set_num_threads(0);
    assert!(one == two, "output differs between 1 and 2 threads");
}
