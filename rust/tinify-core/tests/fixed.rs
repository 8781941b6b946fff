//! Property tests of the fixed-point layers against a direct reference: every output value is
//! `(bias + sum w_int * x_int + 2^(s-1)) >> s` saturated to i32, computed here in i128 with
//! plain loops; and the results do not depend on the thread count.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tinify_core::fixed::{
    conv2d, conv_transpose2d, forward_rows, linear_rows, rows_width, FixedTensor, Layer,
    QuantizedConv, FRAC_BITS,
};
use tinify_core::parallel::set_num_threads;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::with_cases(cases)
    }
}

/// Reference requantization in i128.
fn shift(q: &QuantizedConv, o: usize, sum: i128) -> i32 {
    let acc = sum + i128::from(q.bias[o]);
    let s = q.shift[o];
    let r = if s == 0 {
        acc
    } else {
        (acc + (1i128 << (s - 1))) >> s
    };
    r.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32
}

/// `conv2d` computed directly: i128 sums of every tap, then [`shift`].
fn reference_conv2d(q: &QuantizedConv, x: &FixedTensor) -> Vec<i32> {
    let (h, w, k, s, p) = (x.height, x.width, q.kh, q.stride, q.padding);
    let (ho, wo) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    let mut out = Vec::with_capacity(q.cout * ho * wo);
    for o in 0..q.cout {
        for oy in 0..ho {
            for ox in 0..wo {
                let mut sum = 0i128;
                for c in 0..q.cin {
                    for i in 0..k {
                        for j in 0..k {
                            let iy = (oy * s + i) as isize - p as isize;
                            let ix = (ox * s + j) as isize - p as isize;
                            if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                sum += i128::from(q.weight[((o * q.cin + c) * k + i) * k + j])
                                    * i128::from(x.data[(c * h + iy as usize) * w + ix as usize]);
                            }
                        }
                    }
                }
                out.push(shift(q, o, sum));
            }
        }
    }
    out
}

/// Layer parameters: (cout, cin, k, stride, padding, h, w).
fn shape() -> impl Strategy<Value = (usize, usize, usize, usize, usize, usize, usize)> {
    (
        1..5usize,
        1..5usize,
        1..6usize,
        1..3usize,
        0..3usize,
        1..7usize,
        1..7usize,
    )
}

/// Activations: mostly moderate, sometimes near the i32 limits (the i64 path).
fn activation() -> impl Strategy<Value = i32> {
    prop_oneof![8 => -100_000i32..100_000, 1 => any::<i32>()]
}

fn weights(n: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(
        prop_oneof![6 => -2.0f32..2.0, 1 => Just(0.0f32), 1 => -1e-6f32..1e-6],
        n,
    )
}

fn tensor(c: usize, h: usize, w: usize) -> impl Strategy<Value = FixedTensor> {
    prop::collection::vec(activation(), c * h * w)
        .prop_map(move |d| FixedTensor::new(c, h, w, d).expect("valid shape"))
}

fn conv_case() -> impl Strategy<Value = (QuantizedConv, FixedTensor)> {
    shape().prop_flat_map(|(cout, cin, k, s, p, h, w)| {
        let p = p.min(k - 1);
        (
            weights(cout * cin * k * k),
            prop::collection::vec(-50.0f32..50.0, cout),
            tensor(cin, h.max(k), w.max(k)),
        )
            .prop_map(move |(wt, b, x)| {
                let q = QuantizedConv::quantize(&wt, Some(&b), [cout, cin, k, k], s, p, 0)
                    .expect("valid layer");
                (q, x)
            })
    })
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn conv2d_matches_reference((q, x) in conv_case()) {
        let y = conv2d(&q, &x).expect("valid input");
        let (h, w, k, s, p) = (x.height, x.width, q.kh, q.stride, q.padding);
        prop_assert_eq!((y.height, y.width), ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1));
        prop_assert_eq!(y.data, reference_conv2d(&q, &x));
    }

    /// The exact-f64 rule at its edge: activations of magnitude `floor((2^53 - 1) / R)` (`R` the
    /// largest row sum of `|w_int|`) take the f64 path with partial sums up to `2^53 - 1` when
    /// their signs follow a channel's weights; one more takes the i64 path. Both match i128.
    #[test]
    fn conv2d_at_the_f64_bound_matches_reference(
        (q, x) in conv_case(),
        signs in prop::collection::vec(any::<bool>(), 1..64),
        follow in any::<bool>(),
        over in 0..2u64,
    ) {
        prop_assume!(q.max_abs_row_sum > 0);
        let edge = ((1u64 << 53) - 1) / q.max_abs_row_sum + over;
        let edge = i32::try_from(edge.min(i32::MAX as u64)).expect("clamped");
        let (h, w) = (x.height, x.width);
        let k2 = q.kh * q.kw;
        let data: Vec<i32> = (0..x.data.len())
            .map(|i| {
                let positive = if follow {
                    // Signs of channel 0's weights at the tap that reads this value first.
                    let (c, pos) = (i / (h * w), i % (h * w));
                    let tap = ((pos / w) % q.kh) * q.kw + (pos % w) % q.kw;
                    q.weight[c * k2 + tap] >= 0
                } else {
                    signs[i % signs.len()]
                };
                if positive { edge } else { -edge }
            })
            .collect();
        let x = FixedTensor::new(x.channels, h, w, data).expect("valid shape");
        let y = conv2d(&q, &x).expect("valid input");
        prop_assert_eq!(y.data, reference_conv2d(&q, &x));
    }

    #[test]
    fn conv_transpose2d_matches_reference(
        (cout, cin, h, w) in (1..4usize, 1..4usize, 1..5usize, 1..5usize),
        seed in any::<u64>(),
    ) {
        // The zoo's deconvolution: kernel 5, stride 2, padding 2, output padding 1.
        let n = cout * cin * 25;
        let wt: Vec<f32> = (0..n).map(|i| (((seed >> (i % 48)) as i64 % 2001 - 1000) as f32) * 1e-3).collect();
        let q = QuantizedConv::quantize(&wt, None, [cout, cin, 5, 5], 2, 2, 1).expect("valid layer");
        let data: Vec<i32> = (0..cin * h * w).map(|i| (seed.wrapping_mul(i as u64 + 7) >> 40) as i32 - (1 << 23)).collect();
        let x = FixedTensor::new(cin, h, w, data).expect("valid shape");
        let y = conv_transpose2d(&q, &x).expect("valid input");
        prop_assert_eq!((y.height, y.width), (2 * h, 2 * w));
        let mut sums = vec![0i128; cout * 4 * h * w];
        for o in 0..cout {
            for c in 0..cin {
                for iy in 0..h {
                    for ix in 0..w {
                        for i in 0..5 {
                            for j in 0..5 {
                                let (oy, ox) = ((iy * 2 + i) as isize - 2, (ix * 2 + j) as isize - 2);
                                if oy >= 0 && ox >= 0 && (oy as usize) < 2 * h && (ox as usize) < 2 * w {
                                    sums[(o * 2 * h + oy as usize) * 2 * w + ox as usize] +=
                                        i128::from(q.weight[((o * cin + c) * 5 + i) * 5 + j])
                                            * i128::from(x.data[(c * h + iy) * w + ix]);
                                }
                            }
                        }
                    }
                }
            }
        }
        for (idx, &sum) in sums.iter().enumerate() {
            prop_assert_eq!(y.data[idx], shift(&q, idx / (4 * h * w), sum));
        }
    }

    #[test]
    fn results_do_not_depend_on_threads((q, x) in conv_case()) {
        set_num_threads(1);
        let one = conv2d(&q, &x).expect("valid input");
        let rows: Vec<i32> = x.data.iter().copied().cycle().take(3 * q.cin).collect();
        let lin = QuantizedConv::quantize(&vec![0.5f32; q.cout * q.cin], None, [q.cout, q.cin, 1, 1], 1, 0, 0)
            .expect("valid layer");
        let one_rows = linear_rows(&lin, &rows, 3).expect("valid rows");
        set_num_threads(4);
        prop_assert_eq!(conv2d(&q, &x).expect("valid input"), one);
        prop_assert_eq!(linear_rows(&lin, &rows, 3).expect("valid rows"), one_rows);
        set_num_threads(0);
    }
}

#[test]
fn integer_inputs_scale_by_frac_bits() {
    // A 1x1 identity layer maps x_int to itself: w = 1 -> w_int = 2^14, shift 14.
    let q = QuantizedConv::quantize(&[1.0], Some(&[0.5]), [1, 1, 1, 1], 1, 0, 0).expect("valid");
    let x = FixedTensor::new(1, 1, 2, vec![3 << FRAC_BITS, -7]).expect("valid");
    let y = conv2d(&q, &x).expect("valid");
    assert_eq!(
        y.data,
        vec![
            (3 << FRAC_BITS) + (1 << (FRAC_BITS - 1)),
            -7 + (1 << (FRAC_BITS - 1))
        ]
    );
}

#[test]
fn zero_rows_keep_the_network_width() {
    // 3 -> 5 channels, a ReLU, 5 -> 2: rows of 3 channels come out 2 wide, even with no rows.
    let first = QuantizedConv::quantize(&[0.5; 15], None, [5, 3, 1, 1], 1, 0, 0).expect("valid");
    let second = QuantizedConv::quantize(&[0.25; 10], None, [2, 5, 1, 1], 1, 0, 0).expect("valid");
    let layers = [Layer::Conv2d(first), Layer::Relu, Layer::Conv2d(second)];
    assert_eq!(rows_width(&layers, 3), 2);
    assert_eq!(rows_width(&layers[1..2], 7), 7);
    assert!(forward_rows(&layers, Vec::new(), 0, 3)
        .expect("no rows")
        .is_empty());
    assert_eq!(
        forward_rows(&layers, vec![1 << FRAC_BITS; 6], 2, 3)
            .expect("rows")
            .len(),
        4
    );
}
