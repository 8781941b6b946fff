//! Property tests of the fixed-point layers against a direct reference: every output value is
//! `(bias + sum w_int * x_int + 2^(s-1)) >> s` saturated to i32, computed here in i128 with
//! plain loops; and the results do not depend on the thread count.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tinify_core::fixed::{
    conv2d, conv_transpose2d, linear_rows, FixedTensor, QuantizedConv, FRAC_BITS,
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
        for o in 0..q.cout {
            for oy in 0..y.height {
                for ox in 0..y.width {
                    let mut sum = 0i128;
                    for c in 0..q.cin {
                        for i in 0..k {
                            for j in 0..k {
                                let (iy, ix) = ((oy * s + i) as isize - p as isize, (ox * s + j) as isize - p as isize);
                                if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                    sum += i128::from(q.weight[((o * q.cin + c) * k + i) * k + j])
                                        * i128::from(x.data[(c * h + iy as usize) * w + ix as usize]);
                                }
                            }
                        }
                    }
                    prop_assert_eq!(y.data[(o * y.height + oy) * y.width + ox], shift(&q, o, sum));
                }
            }
        }
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
