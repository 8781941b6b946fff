//! Untrusted input never panics: flipped bits, truncations and garbage streams return `Ok` or
//! `Err`; bad tables, indexes, lengths and parameters return the specific error variant.

mod common;

use common::*;
use tinify_core::stream::MAX_CHUNKS;
use tinify_core::*;

/// Decodes any bytes with fixed side information.
type Decoder = Box<dyn Fn(&[u8]) -> Result<Vec<i32>>>;

/// A decoder under test: a valid stream and a function that decodes any bytes with the same
/// side information (indexes, tables, parameters).
struct Case {
    name: &'static str,
    bytes: Vec<u8>,
    expected: Vec<i32>,
    decode: Decoder,
}

fn cases() -> Vec<Case> {
    let mut rng = SplitMix64(0xC0_44_07);
    let mut out = Vec::new();

    let table = laplace_table(10);
    let (s, i) = table_workload(&mut rng, &table, 150);
    let bytes = encode_with_indexes(&s, &i, &table).unwrap();
    let (t, idx) = (table.clone(), i.clone());
    out.push(Case {
        name: "table",
        bytes,
        expected: s,
        decode: Box::new(move |b| decode_with_indexes(b, &idx, &t)),
    });

    let table = default_gaussian_table();
    // Escape-heavy: every third symbol far outside its row.
    let (mut s, i) = table_workload(&mut rng, &table, 90);
    for v in s.iter_mut().step_by(3) {
        *v = if rng.below(2) == 0 {
            i32::MIN + rng.below(1000) as i32
        } else {
            1 << 24
        };
    }
    let bytes = encode_with_indexes(&s, &i, &table).unwrap();
    let (t, idx) = (table.clone(), i.clone());
    out.push(Case {
        name: "gaussian escapes",
        bytes,
        expected: s,
        decode: Box::new(move |b| decode_with_indexes(b, &idx, &t)),
    });

    let (s, i) = table_workload(&mut rng, &table, 120);
    let bytes = encode_chunked(&s, &i, &table, 3).unwrap();
    let (t, idx) = (table.clone(), i.clone());
    out.push(Case {
        name: "chunked",
        bytes,
        expected: s,
        decode: Box::new(move |b| decode_chunked(b, &idx, &t)),
    });

    // More chunks than symbols: empty parts.
    let (s, i) = table_workload(&mut rng, &table, 2);
    let bytes = encode_chunked(&s, &i, &table, 5).unwrap();
    let (t, idx) = (table.clone(), i.clone());
    out.push(Case {
        name: "chunked, empty parts",
        bytes,
        expected: s,
        decode: Box::new(move |b| decode_chunked(b, &idx, &t)),
    });

    let (w, m, sc) = mixture_params(&mut rng, 80, 3);
    let mut s = sample_mixture(&mut rng, 3, &w, &m, &sc);
    s[10] = i32::MAX;
    s[20] = -50_000;
    let params = MixtureParams::new(3, &w, &m, &sc, 80).unwrap();
    let bytes = encode_mixture(&s, &params).unwrap();
    out.push(Case {
        name: "mixture",
        bytes,
        expected: s,
        decode: Box::new(move |b| {
            decode_mixture(b, &MixtureParams::new(3, &w, &m, &sc, 80).unwrap())
        }),
    });

    let t = default_gaussian_table();
    out.push(Case {
        name: "empty",
        bytes: encode_with_indexes(&[], &[], &t).unwrap(),
        expected: vec![],
        decode: Box::new(move |b| decode_with_indexes(b, &[], &t)),
    });
    out
}

#[test]
fn valid_streams_decode() {
    for c in cases() {
        assert_eq!((c.decode)(&c.bytes).unwrap(), c.expected, "{}", c.name);
    }
}

#[test]
fn every_bit_flip() {
    for c in cases() {
        let (mut errors, mut changed, mut same) = (0, 0, 0);
        let mut data = c.bytes.clone();
        for byte in 0..data.len() {
            for bit in 0..8 {
                data[byte] ^= 1 << bit;
                match (c.decode)(&data) {
                    Err(_) => errors += 1,
                    Ok(v) if v == c.expected => same += 1,
                    Ok(_) => changed += 1,
                }
                data[byte] ^= 1 << bit;
            }
        }
        println!(
            "{}: {} flips -> {errors} errors, {changed} other symbols, {same} same",
            c.name,
            8 * data.len()
        );
        // Flips in symbol-coded bits derail the state and are caught by the final-state check;
        // flips in escape payload bits (raw bypass nibbles) carry no redundancy and just change
        // the escaped value, so escape-heavy streams detect fewer. Streams with no symbols
        // detect every flip.
        let total = 8 * data.len();
        let min_detected = match c.expected.len() {
            0 | 2 => total,
            _ if c.name.contains("escapes") => total / 4,
            _ => total / 2,
        };
        assert!(
            errors >= min_detected,
            "{}: {errors} of {total} flips detected",
            c.name
        );
    }
}

#[test]
fn every_byte_replaced() {
    for c in cases() {
        let mut data = c.bytes.clone();
        for byte in 0..data.len() {
            let orig = data[byte];
            for v in [0x00, 0xff, 0x80, 0x7f, orig.wrapping_add(1)] {
                data[byte] = v;
                let _ = (c.decode)(&data);
            }
            data[byte] = orig;
        }
    }
}

#[test]
fn every_truncation_and_extension() {
    for c in cases() {
        for len in 0..c.bytes.len() {
            assert!(
                (c.decode)(&c.bytes[..len]).is_err(),
                "{}: truncated to {len} decoded",
                c.name
            );
        }
        for extra in [&[0u8][..], &[0, 0, 0, 0], &[1, 2, 3, 4, 5, 6, 7, 8]] {
            let mut data = c.bytes.clone();
            data.extend_from_slice(extra);
            assert!(
                (c.decode)(&data).is_err(),
                "{}: {} extra bytes accepted",
                c.name,
                extra.len()
            );
        }
    }
}

#[test]
fn random_garbage() {
    let mut rng = SplitMix64(99);
    let table = default_gaussian_table();
    let small = laplace_table(3);
    for round in 0..3000 {
        let len = rng.below(if round < 2000 { 64 } else { 600 }) as usize;
        let mut data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        // Half the time, make the initial state valid so that decoding gets going.
        if len >= 8 && round % 2 == 0 {
            data[7] = (data[7] & 0x7f) | u8::from(data[7] == 0);
            data[3] |= 0x80;
        }
        let n = rng.below(200) as usize;
        let indexes: Vec<i32> = (0..n).map(|_| rng.below(64) as i32).collect();
        let _ = decode_with_indexes(&data, &indexes, &table);
        let idx3: Vec<i32> = indexes.iter().map(|i| i % 3).collect();
        let _ = decode_with_indexes(&data, &idx3, &small);
        let _ = decode_chunked(&data, &indexes, &table);
        // A chunked frame with a plausible header around garbage parts.
        let k = 1 + rng.below(4) as usize;
        let mut framed = (k as u32).to_le_bytes().to_vec();
        let part = data.len() / k;
        for _ in 0..k {
            framed.extend_from_slice(&(part as u32).to_le_bytes());
        }
        framed.extend_from_slice(&data[..part * k]);
        let _ = decode_chunked(&framed, &indexes, &table);
        let kk = 1 + rng.below(3) as usize;
        let nn = rng.below(30) as usize;
        let (w, m, s) = mixture_params(&mut rng, nn, kk);
        let params = MixtureParams::new(kk, &w, &m, &s, nn).unwrap();
        let _ = decode_mixture(&data, &params);
    }
}

/// Escapes the encoder never writes: 16 nibbles of all ones (raw near 2^64), more than 16
/// chunks, and non-canonical leading zero nibbles.
#[test]
fn oversized_and_non_canonical_escapes() {
    let rows = vec![vec![0, 65536], vec![0, 1, 65536], vec![0, 100, 200, 65536]];
    for (offset, row) in [(0, 0usize), (-5, 1), (i32::MIN, 2), (i32::MAX, 2), (-1, 2)] {
        let table = CdfTable::from_rows(&rows, &[offset, offset, offset]).unwrap();
        let cdf: Vec<u32> = rows[row].iter().map(|&v| v as u32).collect();
        let esc = cdf.len() - 2;
        let tail = SpecOp::Sym(cdf[esc], cdf[esc + 1] - cdf[esc]);
        for raw in [
            u64::MAX,
            u64::MAX - 1,
            1 << 63,
            (1 << 63) - 1,
            1 << 40,
            (1 << 33) + 1,
            1 << 33,
        ] {
            let mut ops = vec![tail];
            ops.extend(spec_escape_payload(raw, 16));
            let bytes = spec_encode(&ops);
            let r = decode_with_indexes(&bytes, &[row as i32], &table);
            assert!(
                matches!(r, Err(Error::CorruptStream { .. })),
                "raw {raw:#x} offset {offset}: {r:?}"
            );
        }
        // 17..=40 chunks are refused.
        for n in [17, 29, 30, 31, 40] {
            let mut ops = vec![tail];
            ops.extend(spec_escape_payload(1, n));
            let r = decode_with_indexes(&spec_encode(&ops), &[row as i32], &table);
            assert!(
                matches!(r, Err(Error::CorruptStream { .. })),
                "{n} chunks: {r:?}"
            );
        }
        // Leading zero nibbles decode to the same value (the format allows it).
        for n in 1..=16 {
            let mut ops = vec![tail];
            ops.extend(spec_escape_payload(6, n));
            let r = decode_with_indexes(&spec_encode(&ops), &[row as i32], &table);
            match i32::try_from(3 + esc as i64 + i64::from(offset)) {
                Ok(want) => assert_eq!(r.unwrap(), vec![want]),
                Err(_) => assert!(matches!(r, Err(Error::CorruptStream { .. }))),
            }
        }
    }
}

#[test]
fn decoder_framing_errors() {
    let table = default_gaussian_table();
    for len in 0..8 {
        assert_eq!(
            RansDecoder::new(&vec![0; len]).unwrap_err(),
            Error::UnexpectedEof { decoded: 0 }
        );
    }
    for len in [9, 10, 11, 13] {
        let mut data = vec![0u8; len];
        data[3] = 0x80;
        assert!(matches!(
            RansDecoder::new(&data),
            Err(Error::CorruptStream { .. })
        ));
    }
    // Initial state below 2^31 or at/above 2^63.
    for state in [0u64, (1 << 31) - 1, 1 << 63, u64::MAX] {
        let data = state.to_le_bytes();
        assert!(
            matches!(RansDecoder::new(&data), Err(Error::CorruptStream { .. })),
            "{state:#x}"
        );
    }
    // Too many symbols asked of a short stream: the stream runs out.
    let bytes = encode_with_indexes(&[0; 10], &[5; 10], &table).unwrap();
    assert!(decode_with_indexes(&bytes, &[5; 5000], &table).is_err());
    // Too few: words are left over or the final state does not match.
    assert!(matches!(
        decode_with_indexes(&bytes, &[5; 9], &table),
        Err(Error::CorruptStream { .. })
    ));
}

#[test]
fn chunked_framing_errors() {
    let table = default_gaussian_table();
    let (s, i) = table_workload(&mut SplitMix64(8), &table, 50);
    assert!(matches!(
        encode_chunked(&s, &i, &table, 0),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        encode_chunked(&s, &i, &table, MAX_CHUNKS + 1),
        Err(Error::InvalidParameter { .. })
    ));
    let good = encode_chunked(&s, &i, &table, 2).unwrap();
    let corrupt = |d: &[u8]| {
        matches!(
            decode_chunked(d, &i, &table),
            Err(Error::CorruptStream { .. })
        )
    };
    let eof = |d: &[u8]| {
        matches!(
            decode_chunked(d, &i, &table),
            Err(Error::UnexpectedEof { .. })
        )
    };
    let mut d = good.clone();
    d[..4].copy_from_slice(&0u32.to_le_bytes());
    assert!(corrupt(&d), "zero chunks");
    d[..4].copy_from_slice(&(MAX_CHUNKS as u32 + 1).to_le_bytes());
    assert!(corrupt(&d), "too many chunks");
    d[..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(corrupt(&d), "u32::MAX chunks");
    let mut d = good.clone();
    d.push(0);
    assert!(corrupt(&d), "trailing byte");
    let mut d = good.clone();
    d[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(eof(&d), "part length past the end");
    let mut d = good.clone();
    d[..4].copy_from_slice(&1000u32.to_le_bytes());
    assert!(eof(&d), "header longer than the data");
    assert!(eof(&[]) && eof(&[1, 0]), "no header");
    // Index checks still apply.
    let mut bad = i.clone();
    bad[7] = 64;
    assert_eq!(
        decode_chunked(&good, &bad, &table).unwrap_err(),
        Error::IndexOutOfRange {
            position: 7,
            index: 64,
            rows: 64
        }
    );
}

fn invalid_cdf_row(r: Result<CdfTable>) -> usize {
    match r {
        Err(Error::InvalidCdf { index, .. }) => index,
        other => panic!("expected InvalidCdf, got {other:?}"),
    }
}

#[test]
fn invalid_tables() {
    let ok = vec![0, 100, 65536];
    let bad_rows: Vec<Vec<i32>> = vec![
        vec![0, 200, 100, 65536], // not monotone
        vec![0, 100, 100, 65536], // zero frequency
        vec![0, 100, 65535],      // wrong end value
        vec![0, 100, 65537],      // wrong end value
        vec![1, 100, 65536],      // does not start at 0
        vec![-1, 100, 65536],     // does not start at 0
        vec![0],                  // length 1
        vec![],                   // length 0
        vec![65536],              // length 1
        vec![0, 65536, 0],        // ends wrong (padding inside the row)
        vec![0, 40000, 30000, 65536],
    ];
    for bad in &bad_rows {
        let rows = vec![ok.clone(), ok.clone(), bad.clone(), ok.clone()];
        assert_eq!(
            invalid_cdf_row(CdfTable::from_rows(&rows, &[0; 4])),
            2,
            "{bad:?}"
        );
        // The same row in the padded layout.
        let width = 6;
        let mut cdfs = vec![0; 4 * width];
        let mut lengths = Vec::new();
        for (r, row) in rows.iter().enumerate() {
            cdfs[r * width..r * width + row.len()].copy_from_slice(row);
            lengths.push(row.len() as i32);
        }
        assert_eq!(
            invalid_cdf_row(CdfTable::from_padded(&cdfs, width, &lengths, &[0; 4])),
            2,
            "{bad:?}"
        );
    }
    // Lengths: negative, above the width, below 2.
    let cdfs = [0, 100, 65536, 0, 0, 100, 65536, 0];
    for (lengths, row) in [
        ([3, -1], 1),
        ([3, 5], 1),
        ([-3, 3], 0),
        ([1, 3], 0),
        ([3, 0], 1),
        ([i32::MIN, 3], 0),
    ] {
        assert_eq!(
            invalid_cdf_row(CdfTable::from_padded(&cdfs, 4, &lengths, &[0, 0])),
            row,
            "{lengths:?}"
        );
    }
    // Shape mismatches.
    assert!(matches!(
        CdfTable::from_padded(&cdfs, 4, &[3, 3], &[0]),
        Err(Error::ShapeMismatch {
            what: "offsets",
            expected: 2,
            got: 1
        })
    ));
    assert!(matches!(
        CdfTable::from_padded(&cdfs[..7], 4, &[3, 3], &[0, 0]),
        Err(Error::ShapeMismatch {
            expected: 8,
            got: 7,
            ..
        })
    ));
    assert!(matches!(
        CdfTable::from_padded(&cdfs, 3, &[3, 3], &[0, 0]),
        Err(Error::ShapeMismatch {
            expected: 6,
            got: 8,
            ..
        })
    ));
    assert!(matches!(
        CdfTable::from_padded(&[], usize::MAX, &[3, 3], &[0, 0]),
        Err(Error::TooLarge { .. })
    ));
    assert!(matches!(
        CdfTable::from_rows(std::slice::from_ref(&ok), &[0, 0]),
        Err(Error::ShapeMismatch {
            what: "offsets",
            expected: 1,
            got: 2
        })
    ));
    // An empty table is valid but has no rows to index.
    let empty = CdfTable::from_rows(&[], &[]).unwrap();
    assert_eq!(empty.rows(), 0);
    assert_eq!(empty.max_length(), 0);
    assert_eq!(
        encode_with_indexes(&[0], &[0], &empty).unwrap_err(),
        Error::IndexOutOfRange {
            position: 0,
            index: 0,
            rows: 0
        }
    );
}

#[test]
fn index_out_of_range() {
    let table = laplace_table(4);
    let symbols = [0, 1, 2, 3, 4];
    for (bad, pos) in [(-1, 3), (4, 0), (i32::MIN, 4), (i32::MAX, 2)] {
        let mut idx = [0, 1, 2, 3, 0];
        idx[pos] = bad;
        let expect = Error::IndexOutOfRange {
            position: pos,
            index: i64::from(bad),
            rows: 4,
        };
        assert_eq!(
            encode_with_indexes(&symbols, &idx, &table).unwrap_err(),
            expect
        );
        assert_eq!(
            decode_with_indexes(&[0, 0, 0, 0x80, 0, 0, 0, 0], &idx, &table).unwrap_err(),
            expect
        );
        assert_eq!(
            encode_chunked(&symbols, &idx, &table, 2).unwrap_err(),
            expect
        );
        let mut enc = RansEncoder::new();
        assert_eq!(
            enc.put_with_indexes(&symbols, &idx, &table).unwrap_err(),
            expect
        );
        assert!(enc.is_empty());
        assert_eq!(
            encode_batch(&[&symbols], &[&idx], &table, 1).unwrap_err(),
            expect
        );
        assert_eq!(table.row_at(pos, bad).unwrap_err(), expect);
        let mut dec = RansDecoder::new(&[0, 0, 0, 0x80, 0, 0, 0, 0]).unwrap();
        assert_eq!(dec.get_with_indexes(&idx, &table).unwrap_err(), expect);
        assert_eq!(dec.decoded(), 0, "indexes are checked before decoding");
    }
    assert!(table.row(4).is_none());
}

#[test]
fn mismatched_lengths() {
    let table = laplace_table(4);
    let shape = |r: Result<Vec<u8>>, e: usize, g: usize| match r {
        Err(Error::ShapeMismatch { expected, got, .. }) => assert_eq!((expected, got), (e, g)),
        other => panic!("expected ShapeMismatch, got {other:?}"),
    };
    shape(encode_with_indexes(&[0, 0, 0], &[0, 0], &table), 3, 2);
    shape(encode_with_indexes(&[0], &[0, 0], &table), 1, 2);
    shape(encode_chunked(&[0, 0, 0], &[0, 0], &table, 2), 3, 2);
    let mut enc = RansEncoder::new();
    assert!(matches!(
        enc.put_with_indexes(&[0, 0], &[0], &table),
        Err(Error::ShapeMismatch { .. })
    ));
    assert!(matches!(
        encode_batch(&[&[0], &[1]], &[&[0]], &table, 1),
        Err(Error::ShapeMismatch {
            expected: 2,
            got: 1,
            ..
        })
    ));
    assert!(matches!(
        decode_batch(&[&[0; 8]], &[&[0], &[0]], &table, false),
        Err(Error::ShapeMismatch {
            expected: 1,
            got: 2,
            ..
        })
    ));
    // Inside a batch, the failing stream's own error comes back.
    assert!(matches!(
        encode_batch(&[&[0], &[1, 2]], &[&[0], &[0]], &table, 1),
        Err(Error::ShapeMismatch {
            expected: 2,
            got: 1,
            ..
        })
    ));

    // Mixture parameters.
    let w = [1.0; 6];
    assert!(matches!(
        MixtureParams::new(3, &w, &w[..5], &w, 2),
        Err(Error::ShapeMismatch {
            what: "means",
            expected: 6,
            got: 5
        })
    ));
    assert!(matches!(
        MixtureParams::new(3, &w, &w, &w, 3),
        Err(Error::ShapeMismatch {
            what: "weights",
            expected: 9,
            got: 6
        })
    ));
    assert!(matches!(
        MixtureParams::new(2, &w, &w, &w[..4], 3),
        Err(Error::ShapeMismatch { what: "scales", .. })
    ));
    assert!(matches!(
        MixtureParams::new(0, &[], &[], &[], 0),
        Err(Error::InvalidParameter { .. })
    ));
    assert!(matches!(
        MixtureParams::new(9, &[1.0; 9], &[1.0; 9], &[1.0; 9], 1),
        Err(Error::InvalidParameter { .. })
    ));
    let params = MixtureParams::new(3, &w, &w, &w, 2).unwrap();
    shape(encode_mixture(&[0, 0, 0], &params), 3, 2);
    let mut enc = RansEncoder::new();
    assert!(matches!(
        enc.put_mixture(&[0], &params),
        Err(Error::ShapeMismatch { .. })
    ));

    // pmf batches.
    assert!(matches!(
        pmfs_to_quantized_cdfs(&[0.5; 5], &[2, 2], 16),
        Err(Error::ShapeMismatch {
            expected: 4,
            got: 5,
            ..
        })
    ));
}

#[test]
fn invalid_mixture_parameters() {
    let bad: Vec<([f64; 2], [f64; 2], [f64; 2])> = vec![
        ([f64::NAN, 1.0], [0.0; 2], [1.0; 2]),
        ([-1.0, 1.0], [0.0; 2], [1.0; 2]),
        ([f64::INFINITY, 1.0], [0.0; 2], [1.0; 2]),
        ([0.0, 0.0], [0.0; 2], [1.0; 2]),
        ([f64::MAX, f64::MAX], [0.0; 2], [1.0; 2]), // the sum overflows
        ([1.0, 1.0], [f64::NAN, 0.0], [1.0; 2]),
        ([1.0, 1.0], [0.0, f64::INFINITY], [1.0; 2]),
        ([1.0, 1.0], [0.0, 2e9], [1.0; 2]),
        ([1.0, 1.0], [0.0; 2], [1.0, f64::NAN]),
    ];
    for (w, m, s) in &bad {
        // Element 1 is the bad one; element 0 is fine.
        let ww = [1.0, 1.0, w[0], w[1]];
        let mm = [0.0, 0.0, m[0], m[1]];
        let ss = [1.0, 1.0, s[0], s[1]];
        let params = MixtureParams::new(2, &ww, &mm, &ss, 2).unwrap();
        assert!(params.element(0).is_ok());
        let want = |r: Result<Vec<u8>>| match r {
            Err(Error::InvalidParameter { position: 1, .. }) => {}
            other => panic!("{w:?} {m:?} {s:?}: expected InvalidParameter at 1, got {other:?}"),
        };
        want(encode_mixture(&[0, 0], &params));
        let r = decode_mixture(
            &encode_mixture(
                &[0],
                &MixtureParams::new(2, &ww[..2], &mm[..2], &ss[..2], 1).unwrap(),
            )
            .unwrap(),
            &params,
        );
        assert!(
            matches!(r, Err(Error::InvalidParameter { position: 1, .. })),
            "{r:?}"
        );
        let mut enc = RansEncoder::new();
        assert!(enc.put_mixture(&[0, 0], &params).is_err());
        assert!(enc.is_empty(), "a failed put buffers nothing");
    }
}

#[test]
fn invalid_pmfs_and_scales() {
    let pmf_err = |r: Result<Vec<u32>>| {
        assert!(
            matches!(r, Err(Error::InvalidPmf { index: 0, .. })),
            "{r:?}"
        )
    };
    pmf_err(pmf_to_quantized_cdf(&[], 16));
    pmf_err(pmf_to_quantized_cdf(&[0.0; 4], 16));
    pmf_err(pmf_to_quantized_cdf(&[1e-9, 1e-9], 16)); // every count rounds to 0
    pmf_err(pmf_to_quantized_cdf(&[0.5, f32::NAN], 16));
    pmf_err(pmf_to_quantized_cdf(&[0.5, f32::INFINITY], 16));
    pmf_err(pmf_to_quantized_cdf(&[0.5, -0.0001], 16));
    pmf_err(pmf_to_quantized_cdf(&[0.5, 0.5], 0));
    pmf_err(pmf_to_quantized_cdf(&[0.5, 0.5], 17));
    pmf_err(pmf_to_quantized_cdf(&vec![1.0; 65537], 16));
    pmf_err(pmf_to_quantized_cdf(&[1.0; 3], 1));
    assert!(pmf_to_quantized_cdf(&vec![1.0; 65536], 16).is_ok());
    // The failing row of a batch is named.
    let r = pmfs_to_quantized_cdfs(&[0.5, 0.5, 0.0, 0.0, 1.0], &[2, 2, 1], 16);
    assert!(
        matches!(r, Err(Error::InvalidPmf { index: 1, .. })),
        "{r:?}"
    );

    for (i, bad) in [
        0.0f32,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        4097.0,
        f32::MIN_POSITIVE * 0.0,
    ]
    .iter()
    .enumerate()
    {
        let mut scales = vec![0.5f32, 1.0, 2.0];
        scales.insert(1, *bad);
        let r = gaussian_table(&scales, 1e-9);
        assert!(
            matches!(r, Err(Error::InvalidParameter { position: 1, .. })),
            "case {i}: {r:?}"
        );
    }
    for tail in [0.0, 2.0, -1.0, f64::NAN, 3.0] {
        assert!(
            matches!(
                gaussian_table(&[1.0], tail),
                Err(Error::InvalidParameter { .. })
            ),
            "{tail}"
        );
    }
    assert!(standard_normal_quantile(0.0).is_err());
    assert!(standard_normal_quantile(1.0).is_err());
}

#[test]
fn hand_built_mixture_params_and_overflowing_lengths() {
    let w = [1.0; 6];
    let params = MixtureParams::new(3, &w, &w, &w, 2).unwrap();
    assert!(params.element(1).is_ok());
    for i in [2, 1000, usize::MAX / 2, usize::MAX] {
        assert!(
            matches!(
                params.element(i),
                Err(Error::IndexOutOfRange { rows: 2, .. })
            ),
            "{i}"
        );
    }
    // The fields are public: a struct literal skips `new`'s checks, so coding re-checks them.
    for k in [0, 9] {
        let p = MixtureParams {
            k,
            weights: &w,
            means: &w,
            scales: &w,
        };
        assert_eq!(p.len(), 0);
        assert!(
            matches!(p.element(0), Err(Error::InvalidParameter { .. })),
            "k {k}"
        );
    }
    for (k, means, bad) in [(3, &w[..5], 1), (2, &w[..1], 0)] {
        let p = MixtureParams {
            k,
            weights: &w,
            means,
            scales: &w,
        };
        assert!(
            matches!(p.element(bad), Err(Error::IndexOutOfRange { .. })),
            "k {k}"
        );
        let symbols = vec![0; p.len()];
        assert!(matches!(
            encode_mixture(&symbols, &p),
            Err(Error::IndexOutOfRange { .. })
        ));
        let r = decode_mixture(&[0, 0, 0, 0x80, 0, 0, 0, 0], &p);
        assert!(r.is_err(), "{r:?}");
    }
    assert!(matches!(
        pmfs_to_quantized_cdfs(&[0.5; 4], &[usize::MAX, 5], 16),
        Err(Error::ShapeMismatch { .. })
    ));
}
