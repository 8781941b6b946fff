//! The fixed-point operators: convolution, transposed convolution, linear on rows, pixel shuffle.
//!
//! Each output channel (or row block) is an independent job on the [`parallel`](crate::parallel)
//! pool. Every output value is one exact `i64` sum followed by the channel's rounding shift, so
//! the result is the same for every thread count and every summation order.

use super::gemm::{gemm, pack_panels, pack_rows, Exact};
use super::{concat, filled, FixedTensor, QuantizedConv};
use crate::error::{Error, Result};
use crate::parallel;

/// True when `max|x| * max_o sum_c |w[o, c]| < 2^53`: then every partial sum of every output
/// value is an integer below `2^53`, which f64 represents exactly.
fn fits_f64(q: &QuantizedConv, x: &[i32]) -> bool {
    let max_x = x
        .iter()
        .map(|v| u64::from(v.unsigned_abs()))
        .max()
        .unwrap_or(0);
    u128::from(max_x) * u128::from(q.max_abs_row_sum) < 1u128 << 53
}

fn channels_mismatch(q: &QuantizedConv, x_channels: usize) -> Error {
    Error::ShapeMismatch {
        what: "input channels",
        expected: q.cin,
        got: x_channels,
    }
}

fn empty_output() -> Error {
    Error::InvalidParameter {
        position: 0,
        reason: "the convolution's output would be empty".to_string(),
    }
}

/// Joins per-channel planes into one tensor.
fn join(planes: Vec<Vec<i32>>, height: usize, width: usize) -> Result<FixedTensor> {
    let channels = planes.len();
    FixedTensor::new(channels, height, width, concat(&planes, "layer output")?)
}

/// `nn.Conv2d` with zero padding: `out[o, y, x] = shift_o(b_o + sum_{c, i, j} w[o, c, i, j] *
/// in[c, y*s + i - p, x*s + j - p])`, taps outside the input counting as zero.
///
/// # Errors
/// [`Error::ShapeMismatch`] for the wrong number of input channels, [`Error::InvalidParameter`]
/// when the output would be empty.
pub fn conv2d(q: &QuantizedConv, x: &FixedTensor) -> Result<FixedTensor> {
    if fits_f64(q, &x.data) {
        conv2d_in::<f64>(q, x)
    } else {
        conv2d_in::<i64>(q, x)
    }
}

fn conv2d_in<T: Exact>(q: &QuantizedConv, x: &FixedTensor) -> Result<FixedTensor> {
    if x.channels != q.cin {
        return Err(channels_mismatch(q, x.channels));
    }
    let (h, w, s, p) = (x.height, x.width, q.stride, q.padding);
    if h + 2 * p < q.kh || w + 2 * p < q.kw {
        return Err(empty_output());
    }
    let ho = (h + 2 * p - q.kh) / s + 1;
    let wo = (w + 2 * p - q.kw) / s + 1;
    let k = q.cin * q.kh * q.kw;
    // The output is allocated before the (larger) im2col buffer: a size that cannot be met
    // fails early, as an error.
    let mut data = filled(&[q.cout, ho, wo], 0i32, "convolution output")?;
    // im2col, packed: B[kk, pos] = in[c, oy*s + i - p, ox*s + j - p] (zero outside), with
    // kk = (c*kh + i)*kw + j and pos = oy*wo + ox.
    let packed = pack_panels(k, ho * wo, |kk, pos| {
        let (c, ij) = (kk / (q.kh * q.kw), kk % (q.kh * q.kw));
        let (i, j) = (ij / q.kw, ij % q.kw);
        let iy = ((pos / wo) * s + i).wrapping_sub(p);
        let ix = ((pos % wo) * s + j).wrapping_sub(p);
        if iy < h && ix < w {
            T::from_i32(x.data[(c * h + iy) * w + ix])
        } else {
            T::ZERO
        }
    })?;
    let sums = gemm(q.cout, k, ho * wo, &T::packed_weights(q)?, &packed)?;
    drop(packed);
    for (o, (plane, out)) in sums
        .chunks_exact(ho * wo)
        .zip(data.chunks_exact_mut(ho * wo))
        .enumerate()
    {
        for (d, &a) in out.iter_mut().zip(plane) {
            *d = q.requantize(o, q.bias[o] + a.to_i64());
        }
    }
    FixedTensor::new(q.cout, ho, wo, data)
}

/// `nn.ConvTranspose2d`: every input value `in[c, y, x]` adds `w[o, c, i, j] * in[c, y, x]` at
/// output `(y*s + i - p, x*s + j - p)` (when inside the output); output size `(H-1)*s - 2p + k +
/// output_padding`. Weights are output-channel major here.
///
/// # Errors
/// [`Error::ShapeMismatch`] for the wrong number of input channels, [`Error::InvalidParameter`]
/// when the output would be empty.
pub fn conv_transpose2d(q: &QuantizedConv, x: &FixedTensor) -> Result<FixedTensor> {
    if fits_f64(q, &x.data) {
        conv_transpose2d_in::<f64>(q, x)
    } else {
        conv_transpose2d_in::<i64>(q, x)
    }
}

fn conv_transpose2d_in<T: Exact>(q: &QuantizedConv, x: &FixedTensor) -> Result<FixedTensor> {
    if x.channels != q.cin {
        return Err(channels_mismatch(q, x.channels));
    }
    let (h, w, s, p) = (x.height, x.width, q.stride, q.padding);
    let size = |n: usize, k: usize| ((n.max(1) - 1) * s + k + q.output_padding).checked_sub(2 * p);
    let (ho, wo) = match (size(h, q.kh), size(w, q.kw)) {
        (Some(a), Some(b)) if a > 0 && b > 0 && h > 0 && w > 0 => (a, b),
        _ => return Err(empty_output()),
    };
    super::check_dim(ho)?;
    super::check_dim(wo)?;
    let taps = q.kh * q.kw;
    let per_channel = q.cin * taps;
    // Every tap's contribution at every input position: C[(o, i, j), pos] = sum_c w[o, c, i, j] *
    // in[c, pos], one product of (cout*kh*kw x cin) by (cin x H*W) ...
    let packed = pack_panels(q.cin, h * w, |c, pos| T::from_i32(x.data[c * h * w + pos]))?;
    let weights = pack_rows(q.cout * taps, q.cin, |row, c| {
        T::from_i32(q.weight[(row / taps) * per_channel + c * taps + row % taps])
    })?;
    let contrib = gemm(q.cout * taps, q.cin, h * w, &weights, &packed)?;
    drop(packed);
    // ... then scattered to the output (col2im): (y, x) lands on (y*s + i - p, x*s + j - p).
    let planes = parallel::try_map(q.cout, |o| {
        let mut acc = filled(&[ho, wo], T::ZERO, "transposed convolution output")?;
        for t in 0..taps {
            let (i, j) = (t / q.kw, t % q.kw);
            let src = &contrib[(o * taps + t) * h * w..(o * taps + t + 1) * h * w];
            for iy in 0..h {
                let oy = (iy * s + i).wrapping_sub(p);
                if oy >= ho {
                    continue;
                }
                for ix in 0..w {
                    let ox = (ix * s + j).wrapping_sub(p);
                    if ox < wo {
                        let a = &mut acc[oy * wo + ox];
                        *a = *a + src[iy * w + ix];
                    }
                }
            }
        }
        let mut plane = filled(&[ho, wo], 0i32, "transposed convolution output")?;
        for (d, &a) in plane.iter_mut().zip(&acc) {
            *d = q.requantize(o, q.bias[o] + a.to_i64());
        }
        Ok(plane)
    })?;
    join(planes, ho, wo)
}

/// A 1x1 convolution on `rows` rows of `cin` channels (row-major `(rows, cin)` in, `(rows, cout)`
/// out): `out[r, o] = shift_o(b_o + sum_c w[o, c] * x[r, c])`.
///
/// # Errors
/// [`Error::InvalidParameter`] unless the layer is a 1x1, stride-1, unpadded convolution;
/// [`Error::ShapeMismatch`] when `x` does not hold `rows * cin` values.
pub fn linear_rows(q: &QuantizedConv, x: &[i32], rows: usize) -> Result<Vec<i32>> {
    if fits_f64(q, x) {
        linear_rows_in::<f64>(q, x, rows)
    } else {
        linear_rows_in::<i64>(q, x, rows)
    }
}

fn linear_rows_in<T: Exact>(q: &QuantizedConv, x: &[i32], rows: usize) -> Result<Vec<i32>> {
    if q.kh != 1 || q.kw != 1 || q.stride != 1 || q.padding != 0 {
        return Err(Error::InvalidParameter {
            position: 0,
            reason: "linear_rows needs a 1x1, stride-1, unpadded convolution".to_string(),
        });
    }
    let expected = rows.saturating_mul(q.cin);
    if x.len() != expected {
        return Err(Error::ShapeMismatch {
            what: "linear rows input",
            expected,
            got: x.len(),
        });
    }
    // out^T (cout x rows) = W (cout x cin) * x^T (cin x rows).
    let packed = pack_panels(q.cin, rows, |c, r| T::from_i32(x[r * q.cin + c]))?;
    let sums = gemm(q.cout, q.cin, rows, &T::packed_weights(q)?, &packed)?;
    let mut out = filled(&[rows, q.cout], 0i32, "linear layer output")?;
    for (o, col) in sums.chunks_exact(rows.max(1)).enumerate().take(q.cout) {
        for (r, &v) in col.iter().enumerate() {
            out[r * q.cout + o] = q.requantize(o, q.bias[o] + v.to_i64());
        }
    }
    Ok(out)
}

/// `nn.PixelShuffle(r)`: `out[c, y*r + i, x*r + j] = in[c*r*r + i*r + j, y, x]`.
///
/// # Errors
/// [`Error::InvalidParameter`] for `r == 0` or channels not divisible by `r*r`.
pub fn pixel_shuffle(x: &FixedTensor, r: usize) -> Result<FixedTensor> {
    if r == 0 || r > 64 || x.channels % (r * r) != 0 {
        return Err(Error::InvalidParameter {
            position: 0,
            reason: format!(
                "pixel shuffle by {r} needs channels divisible by r*r, got {}",
                x.channels
            ),
        });
    }
    let (c_out, h, w) = (x.channels / (r * r), x.height, x.width);
    let (ho, wo) = (h * r, w * r);
    let mut out = filled(&[x.data.len()], 0i32, "pixel shuffle output")?;
    for c in 0..c_out {
        for i in 0..r {
            for j in 0..r {
                let src = &x.data[(c * r * r + i * r + j) * h * w..][..h * w];
                for y in 0..h {
                    let dst = &mut out[c * ho * wo + (y * r + i) * wo..][..wo];
                    for xx in 0..w {
                        dst[xx * r + j] = src[y * w + xx];
                    }
                }
            }
        }
    }
    FixedTensor::new(c_out, ho, wo, out)
}

#[cfg(test)]
mod tests {
    use super::super::{forward, Layer};
    use super::*;

    /// Small deterministic pseudo-random integers in [-range, range].
    fn ints(n: usize, seed: u64, range: i64) -> Vec<i64> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) as i64 % (2 * range + 1)) - range
            })
            .collect()
    }

    /// Weights that quantize to themselves: integers times 2^-15 with a channel max of 2^14.
    fn exact_weights(cout: usize, per: usize, seed: u64) -> (Vec<f32>, Vec<i64>) {
        let mut w = ints(cout * per, seed, 1000);
        for o in 0..cout {
            w[o * per] = 16384; // pins the channel's shift to 15
        }
        (w.iter().map(|&v| v as f32 / 32768.0).collect(), w)
    }

    fn reference_shift(acc: i64) -> i32 {
        ((acc + (1 << 14)) >> 15) as i32
    }

    #[test]
    fn conv2d_matches_direct_sum() {
        let (cin, cout, k, h, w) = (3, 4, 3, 5, 6);
        for (stride, pad) in [(1, 1), (2, 1), (1, 0), (2, 2)] {
            let (wf, wi) = exact_weights(cout, cin * k * k, 7);
            let q = QuantizedConv::quantize(&wf, None, [cout, cin, k, k], stride, pad, 0).unwrap();
            let xi = ints(cin * h * w, 3, 5000);
            let x = FixedTensor::new(cin, h, w, xi.iter().map(|&v| v as i32).collect()).unwrap();
            let y = conv2d(&q, &x).unwrap();
            let ho = (h + 2 * pad - k) / stride + 1;
            let wo = (w + 2 * pad - k) / stride + 1;
            assert_eq!((y.height, y.width), (ho, wo));
            for o in 0..cout {
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut acc = 0i64;
                        for c in 0..cin {
                            for i in 0..k {
                                for j in 0..k {
                                    let iy = (oy * stride + i) as isize - pad as isize;
                                    let ix = (ox * stride + j) as isize - pad as isize;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w
                                    {
                                        acc += wi[((o * cin + c) * k + i) * k + j]
                                            * xi[(c * h + iy as usize) * w + ix as usize];
                                    }
                                }
                            }
                        }
                        assert_eq!(y.data[(o * ho + oy) * wo + ox], reference_shift(acc));
                    }
                }
            }
        }
    }

    #[test]
    fn conv_transpose2d_matches_scatter() {
        let (cin, cout, k, h, w, s, p, op) = (2, 3, 5, 3, 4, 2, 2, 1);
        let (wf, wi) = exact_weights(cout, cin * k * k, 11);
        let q = QuantizedConv::quantize(&wf, None, [cout, cin, k, k], s, p, op).unwrap();
        let xi = ints(cin * h * w, 5, 3000);
        let x = FixedTensor::new(cin, h, w, xi.iter().map(|&v| v as i32).collect()).unwrap();
        let y = conv_transpose2d(&q, &x).unwrap();
        let (ho, wo) = (h * s, w * s);
        assert_eq!((y.height, y.width), (ho, wo));
        let mut acc = vec![0i64; cout * ho * wo];
        for o in 0..cout {
            for c in 0..cin {
                for iy in 0..h {
                    for ix in 0..w {
                        for i in 0..k {
                            for j in 0..k {
                                let oy = (iy * s + i) as isize - p as isize;
                                let ox = (ix * s + j) as isize - p as isize;
                                if oy >= 0 && ox >= 0 && (oy as usize) < ho && (ox as usize) < wo {
                                    acc[(o * ho + oy as usize) * wo + ox as usize] += wi
                                        [((o * cin + c) * k + i) * k + j]
                                        * xi[(c * h + iy) * w + ix];
                                }
                            }
                        }
                    }
                }
            }
        }
        let expected: Vec<i32> = acc.iter().map(|&a| reference_shift(a)).collect();
        assert_eq!(y.data, expected);
    }

    #[test]
    fn linear_rows_matches_conv_1x1() {
        let (cin, cout, rows) = (5, 3, 4);
        let (wf, _) = exact_weights(cout, cin, 13);
        let bias = [0.5f32, -1.25, 3.0];
        let q = QuantizedConv::quantize(&wf, Some(&bias), [cout, cin, 1, 1], 1, 0, 0).unwrap();
        let xi: Vec<i32> = ints(rows * cin, 17, 9000)
            .iter()
            .map(|&v| v as i32)
            .collect();
        // Rows as a (cin, 1, rows) image.
        let mut planar = vec![0i32; rows * cin];
        for r in 0..rows {
            for c in 0..cin {
                planar[c * rows + r] = xi[r * cin + c];
            }
        }
        let img = conv2d(&q, &FixedTensor::new(cin, 1, rows, planar).unwrap()).unwrap();
        let out = linear_rows(&q, &xi, rows).unwrap();
        for r in 0..rows {
            for o in 0..cout {
                assert_eq!(out[r * cout + o], img.data[o * rows + r]);
            }
        }
        assert!(linear_rows(&q, &xi[1..], rows).is_err());
    }

    #[test]
    fn pixel_shuffle_moves_values() {
        let x = FixedTensor::new(4, 1, 2, (0..8).collect()).unwrap();
        let y = pixel_shuffle(&x, 2).unwrap();
        assert_eq!((y.channels, y.height, y.width), (1, 2, 4));
        assert_eq!(y.data, vec![0, 2, 1, 3, 4, 6, 5, 7]);
        assert!(pixel_shuffle(&x, 3).is_err());
    }

    #[test]
    fn f64_and_i64_paths_agree() {
        let (cin, cout, k, h, w) = (3, 4, 3, 5, 6);
        let (wf, _) = exact_weights(cout, cin * k * k, 19);
        let bias = [0.75f32, -3.5, 1e3, 0.0];
        let q = QuantizedConv::quantize(&wf, Some(&bias), [cout, cin, k, k], 1, 1, 0).unwrap();
        let small = ints(cin * h * w, 23, 40000);
        let x = FixedTensor::new(cin, h, w, small.iter().map(|&v| v as i32).collect()).unwrap();
        assert!(fits_f64(&q, &x.data));
        let a = conv2d_in::<f64>(&q, &x).unwrap();
        assert_eq!(a, conv2d_in::<i64>(&q, &x).unwrap());
        let t = QuantizedConv::quantize(&wf, Some(&bias), [cout, cin, k, k], 2, 1, 1).unwrap();
        assert_eq!(
            conv_transpose2d_in::<f64>(&t, &x).unwrap(),
            conv_transpose2d_in::<i64>(&t, &x).unwrap()
        );
        // Large activations and weights take the i64 path, and saturate rather than wrap.
        let wide =
            QuantizedConv::quantize(&[0.5f32; 64 * 9], None, [1, 64, 3, 3], 1, 1, 0).unwrap();
        let big = FixedTensor::new(64, 3, 3, vec![i32::MAX; 64 * 9]).unwrap();
        assert!(!fits_f64(&wide, &big.data));
        assert!(conv2d(&wide, &big)
            .unwrap()
            .data
            .iter()
            .all(|&v| v == i32::MAX));
        let mixed: Vec<i32> = (0..64 * 9)
            .map(|i| if i % 2 == 0 { i32::MAX } else { -7 })
            .collect();
        let mixed = FixedTensor::new(64, 3, 3, mixed).unwrap();
        assert_eq!(
            conv2d(&wide, &mixed).unwrap(),
            conv2d_in::<i64>(&wide, &mixed).unwrap()
        );
        let l =
            QuantizedConv::quantize(&wf[..cout * cin], None, [cout, cin, 1, 1], 1, 0, 0).unwrap();
        let rows: Vec<i32> = small[..2 * cin].iter().map(|&v| v as i32).collect();
        assert_eq!(
            linear_rows_in::<f64>(&l, &rows, 2).unwrap(),
            linear_rows_in::<i64>(&l, &rows, 2).unwrap()
        );
    }

    #[test]
    fn bad_shapes_are_errors() {
        let q = QuantizedConv::quantize(&[1.0; 9], None, [1, 1, 3, 3], 1, 0, 0).unwrap();
        let x = FixedTensor::new(2, 4, 4, vec![0; 32]).unwrap();
        assert!(conv2d(&q, &x).is_err());
        let tiny = FixedTensor::new(1, 2, 2, vec![0; 4]).unwrap();
        assert!(conv2d(&q, &tiny).is_err());
        assert!(forward(&[Layer::Conv2d(q.clone())], tiny).is_err());
        assert!(FixedTensor::new(1, 2, 2, vec![0; 3]).is_err());
    }
}
