//! Golden streams and tables, pinned by FNV-1a-64 hashes of their bytes, plus a comparison of
//! `gaussian_table` with CompressAI 1.2.8's default Gaussian tables.
//!
//! A changed hash means the stream format or the table construction changed: that is a format
//! change and must be deliberate. Re-pin by running `cargo test --test golden -- --nocapture`
//! and copying the printed values.

mod common;

use common::*;
use tinify_core::*;

/// `-offset` (= `pmf_center`) of CompressAI's 64 default Gaussian rows.
const DEFAULT_CENTERS: [i32; 64] = [
    1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 7, 7, 8, 9, 11, 12, 13, 15, 17, 19, 22,
    24, 27, 31, 35, 39, 45, 50, 57, 64, 73, 82, 93, 105, 119, 134, 151, 171, 194, 219, 247, 280,
    316, 358, 404, 457, 517, 585, 661, 748, 846, 957, 1082, 1223, 1383, 1565,
];

/// `_cdf_length` of CompressAI's 64 default Gaussian rows (`2 * center + 3`).
const DEFAULT_CDF_LENGTHS: [u32; 64] = [
    5, 5, 5, 5, 7, 7, 7, 7, 7, 9, 9, 9, 9, 11, 11, 13, 13, 15, 17, 17, 19, 21, 25, 27, 29, 33, 37,
    41, 47, 51, 57, 65, 73, 81, 93, 103, 117, 131, 149, 167, 189, 213, 241, 271, 305, 345, 391,
    441, 497, 563, 635, 719, 811, 917, 1037, 1173, 1325, 1499, 1695, 1917, 2167, 2449, 2769, 3133,
];

/// Rows of `gaussian_table(default scales, 1e-9)` known to equal CompressAI's bit for bit: 63 of
/// 64. CompressAI computes the pmf in float32 with torch; tinify computes it in f64 with a
/// portable `erfc` and rounds to f32 once, so row 57 (scale 122.345) differs in three slots by at
/// most 2 counts, as the fact sheet reports for a float64 re-derivation. Checkpoints carry their
/// own tables, which are used as they are.
const MIN_MATCHING_ROWS: usize = 63;

fn hash_i32s(values: impl IntoIterator<Item = i32>) -> u64 {
    let bytes: Vec<u8> = values.into_iter().flat_map(i32::to_le_bytes).collect();
    fnv1a64(&bytes)
}

/// Hash of a table in CompressAI's padded layout: width, cdfs, lengths, offsets.
fn table_hash(table: &CdfTable) -> u64 {
    let (cdfs, width, lengths, offsets) = table.to_padded();
    hash_i32s(
        std::iter::once(width as i32)
            .chain(cdfs)
            .chain(lengths)
            .chain(offsets),
    )
}

/// A Gaussian-conditional workload: per-element scales, log-uniform in [0.05, 300], mapped to
/// the default table by CompressAI's `build_indexes`; zero-mean symbols, 1 in 500 escaped.
fn gaussian_workload(seed: u64, n: usize) -> (Vec<i32>, Vec<i32>) {
    let scales = default_scales();
    let mut rng = SplitMix64(seed);
    let mut symbols = Vec::with_capacity(n);
    let mut indexes = Vec::with_capacity(n);
    for _ in 0..n {
        let sigma = rng.log_uniform(0.05, 300.0);
        indexes.push(scale_index(&scales, sigma as f32));
        let s = (sigma * rng.normal()).round() as i32;
        symbols.push(if rng.below(500) == 0 {
            s.wrapping_mul(1000).wrapping_add(77)
        } else {
            s
        });
    }
    (symbols, indexes)
}

fn check(name: &str, bytes: &[u8], len: usize, hash: u64) {
    let got = fnv1a64(bytes);
    println!("{name}: {} bytes, hash {got:#018x}", bytes.len());
    assert_eq!(
        (bytes.len(), got),
        (len, hash),
        "{name}: golden stream changed (format change?)"
    );
}

#[test]
fn default_gaussian_table_shape() {
    let table = default_gaussian_table();
    assert_eq!(table.rows(), 64);
    let offsets: Vec<i32> = DEFAULT_CENTERS.iter().map(|c| -c).collect();
    assert_eq!(table.offsets(), offsets.as_slice());
    assert_eq!(table.lengths(), DEFAULT_CDF_LENGTHS.as_slice());
    assert_eq!(table.max_length(), 3133);
    let rows = unpadded_rows(&table);
    assert_eq!(rows[0], [0, 1, 65534, 65535, 65536]);
    // The widest row: far-tail bins rounded to 0 were repaired by stealing, and the tail slot
    // holds the normalisation deficit.
    assert_eq!(&rows[63][3129..], [65476, 65477, 65478, 65536]);
}

#[test]
fn golden_tables() {
    let t = default_gaussian_table();
    let h = table_hash(&t);
    println!("default gaussian table: {h:#018x}");
    assert_eq!(
        h, 0x292b_2d11_db41_ebc3,
        "gaussian_table(default scales, 1e-9) changed"
    );
    let h = table_hash(&laplace_table(16));
    println!("laplace table: {h:#018x}");
    assert_eq!(
        h, 0x4664_1e90_5490_7f69,
        "pmf_to_quantized_cdf output changed"
    );
}

#[test]
fn golden_gaussian_streams() {
    let table = default_gaussian_table();
    let (symbols, indexes) = gaussian_workload(0x7469_6e69_6679, 20_000);
    let bytes = encode_with_indexes(&symbols, &indexes, &table).unwrap();
    check("gaussian plain", &bytes, 10780, 0x93bb_9232_96eb_f5a1);
    assert_eq!(
        decode_with_indexes(&bytes, &indexes, &table).unwrap(),
        symbols
    );
    let bytes = encode_chunked(&symbols, &indexes, &table, 5).unwrap();
    check("gaussian chunked x5", &bytes, 10828, 0x8606_b7e7_790d_5cf7);
    assert_eq!(decode_chunked(&bytes, &indexes, &table).unwrap(), symbols);
}

#[test]
fn golden_factorized_stream() {
    let table = laplace_table(16);
    let mut rng = SplitMix64(0xFAC7);
    let (symbols, indexes) = table_workload(&mut rng, &table, 10_000);
    let bytes = encode_with_indexes(&symbols, &indexes, &table).unwrap();
    check("factorized", &bytes, 10796, 0x89bb_f83c_7bb8_54dd);
    assert_eq!(
        decode_with_indexes(&bytes, &indexes, &table).unwrap(),
        symbols
    );
}

#[test]
fn golden_mixture_stream() {
    let mut rng = SplitMix64(0x313);
    let n = 3000;
    let (w, m, s) = mixture_params(&mut rng, n, 3);
    let mut symbols = sample_mixture(&mut rng, 3, &w, &m, &s);
    symbols[17] = i32::MIN;
    symbols[1000] = 12345;
    let params = MixtureParams::new(3, &w, &m, &s, n).unwrap();
    let bytes = encode_mixture(&symbols, &params).unwrap();
    check("mixture K=3", &bytes, 1640, 0x6719_5b4d_4690_1dd9);
    assert_eq!(decode_mixture(&bytes, &params).unwrap(), symbols);
}

// --- CompressAI reference tables --------------------------------------------------------------

/// `shared/reference/compressai_gc_tables.json`, beside the clone; `None` when it is absent.
fn reference_json() -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/compressai_gc_tables.json");
    match std::fs::read_to_string(&path) {
        Ok(s) => Some(s),
        Err(e) => {
            println!(
                "note: skipping the CompressAI comparison, {} unreadable: {e}",
                path.display()
            );
            None
        }
    }
}

/// The JSON value of `key` (top level, arrays of integers, any nesting) as a flat list of
/// integers plus the lengths of the innermost arrays. Only what this test needs: no strings or
/// floats inside the value.
fn int_arrays(json: &str, key: &str) -> (Vec<i64>, Vec<usize>) {
    let at = json
        .find(&format!("\"{key}\""))
        .unwrap_or_else(|| panic!("no key {key}"));
    let rest = &json[at..];
    let start = rest.find('[').expect("an array");
    let (mut depth, mut values, mut lens, mut num) =
        (0usize, Vec::new(), Vec::new(), String::new());
    let mut count = 0usize;
    for ch in rest[start..].chars() {
        match ch {
            '[' => {
                depth += 1;
                count = 0;
            }
            ']' | ',' => {
                if !num.is_empty() {
                    values.push(num.parse::<i64>().expect("an integer"));
                    num.clear();
                    count += 1;
                }
                if ch == ']' {
                    if count > 0 || lens.is_empty() {
                        lens.push(count);
                    }
                    count = 0;
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            c if c == '-' || c.is_ascii_digit() => num.push(c),
            c if c.is_whitespace() => {}
            c => panic!("unexpected {c:?} in {key}"),
        }
    }
    (values, lens)
}

#[test]
fn compressai_default_gaussian_rows() {
    let Some(json) = reference_json() else { return };
    let (offsets, _) = int_arrays(&json, "offset");
    let (lengths, _) = int_arrays(&json, "cdf_length");
    let (flat, row_lens) = int_arrays(&json, "quantized_cdf_rows_trimmed");
    let expected_offsets: Vec<i64> = DEFAULT_CENTERS.iter().map(|&c| -i64::from(c)).collect();
    assert_eq!(offsets, expected_offsets);
    let expected_lengths: Vec<i64> = DEFAULT_CDF_LENGTHS.iter().map(|&l| i64::from(l)).collect();
    assert_eq!(lengths, expected_lengths);
    assert_eq!(row_lens.len(), 64);
    assert_eq!(
        row_lens.iter().map(|&l| l as i64).collect::<Vec<_>>(),
        expected_lengths
    );

    let ours = unpadded_rows(&default_gaussian_table());
    let mut start = 0;
    let mut matching = 0;
    for (i, &len) in row_lens.iter().enumerate() {
        let reference = &flat[start..start + len];
        start += len;
        let row: Vec<i64> = ours[i].iter().map(|&v| i64::from(v)).collect();
        if row == reference {
            matching += 1;
            continue;
        }
        // Differences in frequencies, slot by slot.
        let freq = |c: &[i64]| c.windows(2).map(|w| w[1] - w[0]).collect::<Vec<i64>>();
        let (a, b) = (freq(&row), freq(reference));
        let diffs: Vec<(usize, i64)> = a
            .iter()
            .zip(&b)
            .enumerate()
            .filter(|(_, (x, y))| x != y)
            .map(|(k, (x, y))| (k, x - y))
            .collect();
        let max_cdf_diff = row
            .iter()
            .zip(reference)
            .map(|(x, y)| (x - y).abs())
            .max()
            .unwrap();
        println!(
            "row {i} (scale {}): {} slots differ, max |cdf diff| {max_cdf_diff}, first: {:?}",
            default_scales()[i],
            diffs.len(),
            &diffs[..diffs.len().min(6)]
        );
        assert!(
            max_cdf_diff <= 2,
            "row {i} differs from CompressAI by more than a few counts"
        );
    }
    println!("{matching} of 64 default Gaussian rows match CompressAI 1.2.8 exactly");
    assert!(matching >= MIN_MATCHING_ROWS, "only {matching} rows match");
}

/// The embedded scale bits are the JSON's `scale_table_float32_hexbits`.
#[test]
fn compressai_default_scale_bits() {
    let Some(json) = reference_json() else { return };
    let at = json
        .find("\"scale_table_float32_hexbits\"")
        .expect("the key");
    let list = &json[at..];
    let list = &list[list.find('[').unwrap() + 1..list.find(']').unwrap()];
    let bits: Vec<u32> = list
        .split(',')
        .map(|h| {
            let h = h.trim().trim_matches('"');
            u32::from_str_radix(h.trim_start_matches("0x"), 16).expect("hex bits")
        })
        .collect();
    assert_eq!(bits, tinify_core::cdf::gaussian::DEFAULT_SCALE_TABLE_BITS);
    assert_eq!(default_scales()[0], 0.11f32);
    assert_eq!(default_scales()[63], 256.0f32);
}

#[test]
fn json_parser_sanity() {
    let (v, l) = int_arrays(r#"{"a": [1, -2], "b": [[0, 3], [4], [5, 6, 7]]}"#, "b");
    assert_eq!(v, [0, 3, 4, 5, 6, 7]);
    assert_eq!(l, [2, 1, 3]);
    let (v, l) = int_arrays(r#"{"a": [1, -2]}"#, "a");
    assert_eq!((v, l), (vec![1, -2], vec![2]));
}
