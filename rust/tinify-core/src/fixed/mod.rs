//! Deterministic fixed-point evaluation of the networks that produce entropy parameters.
//!
//! Float networks give last-bit differences across CPUs, GPUs, thread counts and libraries; a
//! decoder that derives a different scale index than the encoder decodes garbage. Everything
//! here is integer arithmetic, so every machine computes the same values bit for bit.
//!
//! **Number formats.**
//!
//! - Activations are `i32` with [`FRAC_BITS`] fractional bits: `x = x_int / 2^F` (`F = 12`, so
//!   values up to about ±524,288 are representable with a resolution of 1/4096).
//! - Weights are quantized once, per output channel `o`: with `max_o = max |w|` over the channel
//!   written as `m * 2^e` (`m` in [0.5, 1), the `frexp` exponent), the channel's shift is
//!   `s_o = WEIGHT_BITS - e` (clamped to [`MAX_SHIFT`]) and `w_int = round_half_even(w * 2^s_o)`,
//!   so `|w_int| <= 2^15`. Both steps are exact in f64 (power-of-two scaling of an f32), so every
//!   machine derives the same integers from the same float weights.
//! - A bias `b` is pre-scaled into the accumulator domain: `b_int = round_half_even(b * 2^(F+s_o))`
//!   (an `i64`; [`Error::InvalidParameter`] if `|b_int| >= 2^62`).
//!
//! **One output value** of a convolution is `acc = b_int + sum x_int * w_int` in `i64`, then the
//! rounding shift `y_int = (acc + 2^(s_o - 1)) >> s_o` (arithmetic shift, i.e. floor: halves round
//! up), saturated to the `i32` range. Overflow bound of the sum: `|x_int| <= 2^31`, `|w_int| <=
//! 2^15`, so each product is below `2^46`; with at most [`MAX_TAPS`] `= 2^15` terms the sum is
//! below `2^61`, and `|b_int| < 2^62`, which fits in `i64`. Layers with more taps are refused.
//! Integer sums are exact in any order, so the results do not depend on the thread count.
//! When a call's bound `max|x_int| * max_o sum |w_int|` is below `2^53`, the sums are carried in
//! f64 instead (every partial sum is then an integer f64 represents exactly, so the result is
//! the same integer; the f64 multiply-adds vectorize), otherwise in i64. The Python package
//! (`tinify.models.fixed.ExactConv`) evaluates the same layers with torch's CPU float64
//! products under the same bound (any partial sum of any order is a sum over a subset of the
//! taps, so below `2^53` every float64 operation is exact) and calls this crate above it.
//!
//! **Activations**: ReLU is `max(x, 0)`; LeakyReLU with slope `a` uses `a_q = round_half_even(a *
//! 2^16)` and maps a negative `x` to `(x * a_q) >> 16` (floor), a non-negative one to itself.

mod gemm;
mod ops;

pub use ops::{conv2d, conv_transpose2d, linear_rows, pixel_shuffle};

use crate::error::{Error, Result};

/// Fractional bits of the activations.
pub const FRAC_BITS: u32 = 12;
/// Magnitude bits of a quantized weight: the largest `|w|` of a channel maps to `[2^14, 2^15]`.
pub const WEIGHT_BITS: i32 = 15;
/// Largest per-channel weight shift (channels whose largest weight is below `2^-17` lose
/// relative precision rather than overflow the bias).
pub const MAX_SHIFT: i32 = 32;
/// Most multiply-accumulate terms per output value (see the overflow bound above).
pub const MAX_TAPS: usize = 1 << 15;
/// Fractional bits of a LeakyReLU slope.
pub const SLOPE_BITS: u32 = 16;
/// Largest kernel side and stride accepted.
const MAX_KERNEL: usize = 64;
/// Largest dimension (channels, height, width) accepted anywhere.
const MAX_DIM: usize = 1 << 20;

/// An `i32` fixed-point tensor of shape (channels, height, width), row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedTensor {
    /// Channels.
    pub channels: usize,
    /// Height.
    pub height: usize,
    /// Width.
    pub width: usize,
    /// `channels * height * width` values with [`FRAC_BITS`] fractional bits.
    pub data: Vec<i32>,
}

impl FixedTensor {
    /// Wraps `data`, checking that it holds `channels * height * width` values.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the length is wrong, [`Error::TooLarge`] for a dimension
    /// above 2^20.
    pub fn new(channels: usize, height: usize, width: usize, data: Vec<i32>) -> Result<Self> {
        for d in [channels, height, width] {
            check_dim(d)?;
        }
        let expected = channels * height * width;
        if data.len() != expected {
            return Err(Error::ShapeMismatch {
                what: "fixed-point tensor",
                expected,
                got: data.len(),
            });
        }
        Ok(Self {
            channels,
            height,
            width,
            data,
        })
    }
}

/// A buffer of `dims.iter().product()` copies of `value`, allocated fallibly: an impossible size
/// or a failed allocation is an error, never an abort.
///
/// # Errors
/// [`Error::OutOfMemory`] when the size overflows or the allocation fails.
pub(crate) fn filled<T: Clone>(dims: &[usize], value: T, what: &'static str) -> Result<Vec<T>> {
    let elem = std::mem::size_of::<T>().max(1);
    let n = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let oom = |n: Option<usize>| Error::OutOfMemory {
        what,
        bytes: n.map_or(u64::MAX, |n| (n as u64).saturating_mul(elem as u64)),
    };
    let n = match n {
        Some(n)
            if n.checked_mul(elem)
                .is_some_and(|b| b <= isize::MAX as usize) =>
        {
            n
        }
        _ => return Err(oom(n)),
    };
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom(Some(n)))?;
    v.resize(n, value);
    Ok(v)
}

/// Concatenates `parts` into one fallibly allocated buffer.
///
/// # Errors
/// [`Error::OutOfMemory`] when the allocation fails.
pub(crate) fn concat<T: Clone>(parts: &[Vec<T>], what: &'static str) -> Result<Vec<T>> {
    let n = parts.iter().map(Vec::len).sum::<usize>();
    let mut out = Vec::new();
    out.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        what,
        bytes: (n as u64).saturating_mul(std::mem::size_of::<T>() as u64),
    })?;
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(out)
}

fn check_dim(d: usize) -> Result<()> {
    if d > MAX_DIM {
        return Err(Error::TooLarge {
            what: "tensor dimension",
            requested: d as u64,
            limit: MAX_DIM as u64,
        });
    }
    Ok(())
}

/// The `frexp` exponent of a finite positive `x`: the `e` with `x = m * 2^e`, `m` in [0.5, 1).
fn frexp_exponent(x: f64) -> i32 {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal f64 (never from an f32 input): scale up by 2^64 first.
        return frexp_exponent(x * 18_446_744_073_709_551_616.0) - 64;
    }
    biased - 1022
}

/// `x * 2^k` for an integer `k` (exact unless it overflows or underflows).
fn ldexp(x: f64, k: i32) -> f64 {
    // Two steps keep 2^k itself representable for |k| up to 2046.
    let half = k / 2;
    x * f64::powi(2.0, half) * f64::powi(2.0, k - half)
}

/// A convolution's quantized weights: `(cout, cin, kh, kw)` integers, per-channel shifts and
/// biases in the accumulator domain.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantizedConv {
    /// Output channels.
    pub cout: usize,
    /// Input channels.
    pub cin: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (both directions).
    pub stride: usize,
    /// Zero padding (both directions).
    pub padding: usize,
    /// Extra rows/columns at the bottom/right of a transposed convolution's output.
    pub output_padding: usize,
    /// Integer weights, output-channel major: `(cout, cin, kh, kw)`.
    pub weight: Vec<i32>,
    /// Per output channel: the power of two the weights were scaled by.
    pub shift: Vec<u32>,
    /// Per output channel: `round_half_even(bias * 2^(F + shift))`.
    pub bias: Vec<i64>,
    /// `max_o sum_c |weight[o, c]|`: bounds every partial sum (decides the exact f64 fast path).
    pub max_abs_row_sum: u64,
    /// `weight` as an f64 matrix (`cout x cin*kh*kw`, exact) packed for the GEMM kernel.
    pub packed_f64: Vec<f64>,
}

impl QuantizedConv {
    /// Quantizes float weights `(cout, cin, kh, kw)` (output-channel major; a transposed
    /// convolution's `(cin, cout, kh, kw)` weights must be permuted first) and an optional bias.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] for wrong lengths, [`Error::InvalidParameter`] for a zero
    /// stride or kernel size, non-finite values, a weight of magnitude `2^15` or more, a bias
    /// too large for the accumulator, or more than [`MAX_TAPS`] taps per output.
    #[allow(clippy::too_many_arguments)]
    pub fn quantize(
        weight: &[f32],
        bias: Option<&[f32]>,
        shape: [usize; 4],
        stride: usize,
        padding: usize,
        output_padding: usize,
    ) -> Result<Self> {
        let [cout, cin, kh, kw] = shape;
        for d in shape {
            check_dim(d)?;
        }
        if cout == 0 || cin == 0 || kh == 0 || kw == 0 || stride == 0 {
            return Err(invalid(
                "kernel sizes, channel counts and the stride must be positive",
            ));
        }
        if stride > MAX_KERNEL || kh > MAX_KERNEL || kw > MAX_KERNEL {
            return Err(invalid(
                "kernel sizes and the stride must be at most 64 in the fixed-point path",
            ));
        }
        if padding > MAX_DIM || output_padding >= stride {
            return Err(invalid("padding or output_padding out of range"));
        }
        let per_channel = cin * kh * kw;
        if per_channel > MAX_TAPS {
            return Err(Error::TooLarge {
                what: "taps per output value",
                requested: per_channel as u64,
                limit: MAX_TAPS as u64,
            });
        }
        if weight.len() != cout * per_channel {
            return Err(Error::ShapeMismatch {
                what: "weight",
                expected: cout * per_channel,
                got: weight.len(),
            });
        }
        if let Some(b) = bias {
            if b.len() != cout {
                return Err(Error::ShapeMismatch {
                    what: "bias",
                    expected: cout,
                    got: b.len(),
                });
            }
        }
        let mut w_int = Vec::with_capacity(weight.len());
        let mut shifts = Vec::with_capacity(cout);
        let mut biases = Vec::with_capacity(cout);
        for (o, channel) in weight.chunks_exact(per_channel).enumerate() {
            let mut max = 0.0f64;
            for (i, &w) in channel.iter().enumerate() {
                if !w.is_finite() {
                    return Err(Error::InvalidParameter {
                        position: o * per_channel + i,
                        reason: format!("weight {w} is not finite"),
                    });
                }
                max = max.max(f64::from(w).abs());
            }
            // s = WEIGHT_BITS - e, so max * 2^s lies in [2^14, 2^15).
            let shift = if max > 0.0 {
                WEIGHT_BITS - frexp_exponent(max)
            } else {
                MAX_SHIFT
            };
            if shift < 0 {
                return Err(Error::InvalidParameter {
                    position: o,
                    reason: format!("weights of magnitude {max} (>= 2^15) cannot be quantized"),
                });
            }
            let shift = shift.min(MAX_SHIFT);
            w_int.extend(
                channel
                    .iter()
                    .map(|&w| ldexp(f64::from(w), shift).round_ties_even() as i32),
            );
            let b = bias.map_or(0.0, |b| f64::from(b[o]));
            if !b.is_finite() {
                return Err(Error::InvalidParameter {
                    position: o,
                    reason: format!("bias {b} is not finite"),
                });
            }
            let scaled = ldexp(b, FRAC_BITS as i32 + shift).round_ties_even();
            if scaled.abs() >= 4_611_686_018_427_387_904.0 {
                return Err(Error::InvalidParameter {
                    position: o,
                    reason: format!("bias {b} is too large for the fixed-point accumulator"),
                });
            }
            shifts.push(shift as u32);
            biases.push(scaled as i64);
        }
        let max_abs_row_sum = w_int
            .chunks_exact(per_channel)
            .map(|row| row.iter().map(|w| u64::from(w.unsigned_abs())).sum::<u64>())
            .max()
            .unwrap_or(0);
        let packed_f64 = gemm::pack_rows(cout, per_channel, |o, kk| {
            f64::from(w_int[o * per_channel + kk])
        })?;
        Ok(Self {
            cout,
            cin,
            kh,
            kw,
            stride,
            padding,
            output_padding,
            weight: w_int,
            shift: shifts,
            bias: biases,
            max_abs_row_sum,
            packed_f64,
        })
    }

    /// Requantizes channel `o`'s accumulator: `(acc + 2^(s-1)) >> s`, saturated to `i32`.
    #[inline]
    fn requantize(&self, o: usize, acc: i64) -> i32 {
        let s = self.shift[o];
        let rounded = if s == 0 {
            acc
        } else {
            // Cannot overflow: |acc| < 2^62 + 2^61 and the half is at most 2^31.
            (acc + (1i64 << (s - 1))) >> s
        };
        rounded.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }
}

fn invalid(reason: &str) -> Error {
    Error::InvalidParameter {
        position: 0,
        reason: reason.to_string(),
    }
}

/// The fixed-point slope of a LeakyReLU: `round_half_even(slope * 2^16)`.
///
/// # Errors
/// [`Error::InvalidParameter`] for a non-finite slope or one outside [-1, 1].
pub fn leaky_slope(slope: f64) -> Result<i32> {
    if !slope.is_finite() || slope.abs() > 1.0 {
        return Err(invalid("LeakyReLU slope must be finite and within [-1, 1]"));
    }
    Ok(ldexp(slope, SLOPE_BITS as i32).round_ties_even() as i32)
}

/// One layer of a fixed-point network.
#[derive(Debug, Clone, PartialEq)]
pub enum Layer {
    /// `nn.Conv2d` (square kernel, equal stride and padding in both directions).
    Conv2d(QuantizedConv),
    /// `nn.ConvTranspose2d` (weights already permuted to output-channel major).
    ConvTranspose2d(QuantizedConv),
    /// `nn.PixelShuffle(r)`: (C*r*r, H, W) -> (C, H*r, W*r).
    PixelShuffle(usize),
    /// `max(x, 0)`.
    Relu,
    /// LeakyReLU with the slope in 16 fractional bits (see [`leaky_slope`]).
    LeakyRelu(i32),
}

impl Layer {
    /// Applies an element-wise layer in place; returns false for the other kinds.
    fn elementwise(&self, data: &mut [i32]) -> bool {
        match *self {
            Layer::Relu => data.iter_mut().for_each(|x| *x = (*x).max(0)),
            Layer::LeakyRelu(a) => data.iter_mut().for_each(|x| {
                if *x < 0 {
                    // floor(x * a / 2^16): |x * a| < 2^47, exact in i64.
                    *x = ((i64::from(*x) * i64::from(a)) >> SLOPE_BITS) as i32;
                }
            }),
            _ => return false,
        }
        true
    }

    /// Applies the layer to a (C, H, W) tensor.
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] when the input channels do not match, [`Error::InvalidParameter`]
    /// when the output would be empty or the shuffle does not divide the channels.
    pub fn forward(&self, mut x: FixedTensor) -> Result<FixedTensor> {
        match self {
            Layer::Conv2d(q) => conv2d(q, &x),
            Layer::ConvTranspose2d(q) => conv_transpose2d(q, &x),
            Layer::PixelShuffle(r) => pixel_shuffle(&x, *r),
            _ => {
                self.elementwise(&mut x.data);
                Ok(x)
            }
        }
    }

    /// Applies the layer to `rows` rows of channels (row-major `(rows, C)`): 1x1 convolutions
    /// become matrix products, element-wise layers apply as they are.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a layer that is neither a 1x1, stride-1, unpadded
    /// convolution nor element-wise; [`Error::ShapeMismatch`] for a wrong input length.
    pub fn forward_rows(&self, mut x: Vec<i32>, rows: usize) -> Result<Vec<i32>> {
        match self {
            Layer::Conv2d(q) => linear_rows(q, &x, rows),
            Layer::Relu | Layer::LeakyRelu(_) => {
                self.elementwise(&mut x);
                Ok(x)
            }
            _ => Err(invalid(
                "only 1x1 convolutions and activations can act on rows",
            )),
        }
    }
}

/// Runs `layers` in order on a (C, H, W) tensor.
///
/// # Errors
/// The first layer error (see [`Layer::forward`]).
pub fn forward(layers: &[Layer], x: FixedTensor) -> Result<FixedTensor> {
    layers.iter().try_fold(x, |x, layer| layer.forward(x))
}

/// Runs `layers` in order on `rows` rows of `cin` channels (see [`Layer::forward_rows`]).
///
/// # Errors
/// The first layer error, or [`Error::ShapeMismatch`] when `x` does not hold `rows * cin` values.
pub fn forward_rows(layers: &[Layer], x: Vec<i32>, rows: usize, cin: usize) -> Result<Vec<i32>> {
    if x.len() != rows.saturating_mul(cin) {
        return Err(Error::ShapeMismatch {
            what: "rows",
            expected: rows.saturating_mul(cin),
            got: x.len(),
        });
    }
    layers
        .iter()
        .try_fold(x, |x, layer| layer.forward_rows(x, rows))
}

/// The width of the rows [`forward_rows`] returns for rows of `cin` channels: the last 1x1
/// convolution's output channels (activations keep the width). Zero rows still have it.
#[must_use]
pub fn rows_width(layers: &[Layer], cin: usize) -> usize {
    layers.iter().fold(cin, |width, layer| match layer {
        Layer::Conv2d(q) => q.cout,
        _ => width,
    })
}

/// Softmax over groups of `k` fixed-point logits (element-major), in f64 with the pure-Rust
/// `libm::exp`: `w_j = exp(l_j - max_i l_i) / sum_i exp(l_i - max_i l_i)` with `l = l_int / 2^F`
/// (exact), the sum taken in index order. Deterministic on every machine.
///
/// # Errors
/// [`Error::InvalidParameter`] for `k == 0`, [`Error::ShapeMismatch`] when the length is not a
/// multiple of `k`.
pub fn softmax(logits: &[i32], k: usize) -> Result<Vec<f64>> {
    if k == 0 {
        return Err(invalid("softmax needs k >= 1"));
    }
    if logits.len() % k != 0 {
        return Err(Error::ShapeMismatch {
            what: "softmax logits (a multiple of k)",
            expected: logits.len() - logits.len() % k,
            got: logits.len(),
        });
    }
    let scale = ldexp(1.0, -(FRAC_BITS as i32));
    let mut out = Vec::with_capacity(logits.len());
    for group in logits.chunks_exact(k) {
        let max = group.iter().copied().max().unwrap_or(0);
        let start = out.len();
        let mut sum = 0.0f64;
        for &l in group {
            // The difference is an exact integer (i64), then exactly scaled by 2^-F.
            let e = libm::exp((i64::from(l) - i64::from(max)) as f64 * scale);
            sum += e;
            out.push(e);
        }
        // sum >= 1 (the maximum contributes exp(0) = 1).
        out[start..].iter_mut().for_each(|w| *w /= sum);
    }
    Ok(out)
}

/// Table index of every fixed-point scale: the first `j` with `max(s, bound) <= table[j]`,
/// capped at the last row, computed on integers (`s_int <= floor(table[j] * 2^F)`).
///
/// Bit-for-bit CompressAI's `build_indexes` rule for the scale `s_int / 2^F`.
///
/// # Errors
/// [`Error::InvalidParameter`] for an empty or non-finite table or bound.
pub fn scale_indexes(scales: &[i32], table: &[f32], bound: f32) -> Result<Vec<i32>> {
    if table.is_empty() || !bound.is_finite() || table.iter().any(|t| !t.is_finite()) {
        return Err(invalid(
            "scale table must be non-empty and finite, bound finite",
        ));
    }
    // Thresholds of table[..L-1]; entries below the bound never stop the search (i64::MIN).
    let thresholds: Vec<i64> = table[..table.len() - 1]
        .iter()
        .map(|&t| {
            if t < bound {
                i64::MIN
            } else {
                ldexp(f64::from(t), FRAC_BITS as i32).floor() as i64
            }
        })
        .collect();
    if thresholds.windows(2).any(|w| w[0] > w[1]) {
        return Err(invalid("scale table must be increasing"));
    }
    Ok(scales
        .iter()
        .map(|&s| thresholds.partition_point(|&t| t < i64::from(s)) as i32)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_buffers_are_errors_not_aborts() {
        // Overflowing element count, then a real request far beyond any machine's memory.
        let e = filled(&[usize::MAX / 2, 4], 0i32, "test").unwrap_err();
        assert!(
            matches!(
                e,
                Error::OutOfMemory {
                    bytes: u64::MAX,
                    ..
                }
            ),
            "{e}"
        );
        let e = filled(&[1 << 40, 1 << 4], 0i64, "test").unwrap_err();
        assert_eq!(
            e,
            Error::OutOfMemory {
                what: "test",
                bytes: 1 << 47
            }
        );
        assert!(e
            .to_string()
            .contains("cannot allocate 140737488355328 bytes for test"));
        assert_eq!(filled(&[2, 3], 7u8, "test").unwrap(), vec![7u8; 6]);
        assert_eq!(
            concat(&[vec![1, 2], vec![3]], "test").unwrap(),
            vec![1, 2, 3]
        );
    }

    #[test]
    fn frexp_matches_definition() {
        for &x in &[1.0f64, 0.5, 0.75, 3.0, 1e-30, 123456.0, 0.099] {
            let e = frexp_exponent(x);
            let m = x / 2f64.powi(e);
            assert!((0.5..1.0).contains(&m), "{x}: {m}");
        }
    }

    #[test]
    fn quantize_scales_per_channel() {
        let w = [0.5f32, -0.25, 0.0, 3.0];
        let q = QuantizedConv::quantize(&w, Some(&[1.0, -2.0]), [2, 2, 1, 1], 1, 0, 0).unwrap();
        // channel 0: max 0.5 = 0.5 * 2^0 -> shift 15; channel 1: 3 = 0.75 * 2^2 -> shift 13.
        assert_eq!(q.shift, vec![15, 13]);
        assert_eq!(q.weight, vec![16384, -8192, 0, 24576]);
        assert_eq!(q.bias, vec![1 << 27, -(2 << 25)]);
    }

    #[test]
    fn quantize_rejects_bad_weights() {
        assert!(QuantizedConv::quantize(&[f32::NAN], None, [1, 1, 1, 1], 1, 0, 0).is_err());
        assert!(QuantizedConv::quantize(&[1e6], None, [1, 1, 1, 1], 1, 0, 0).is_err());
        assert!(QuantizedConv::quantize(&[1.0; 3], None, [1, 1, 1, 1], 1, 0, 0).is_err());
        assert!(QuantizedConv::quantize(&[1.0], Some(&[1e20]), [1, 1, 1, 1], 1, 0, 0).is_err());
        assert!(QuantizedConv::quantize(&[1.0], None, [1, 1, 1, 1], 0, 0, 0).is_err());
        assert!(QuantizedConv::quantize(&[1.0], None, [1, 1, 1, 1], 1 << 40, 0, 0).is_err());
    }

    #[test]
    fn requantize_rounds_half_up() {
        let q = QuantizedConv::quantize(&[1.0], None, [1, 1, 1, 1], 1, 0, 0).unwrap();
        let s = q.shift[0];
        assert_eq!(q.requantize(0, 3 << (s - 1)), 2); // 1.5 -> 2
        assert_eq!(q.requantize(0, -(3 << (s - 1))), -1); // -1.5 -> -1
        assert_eq!(q.requantize(0, i64::MAX / 2), i32::MAX);
    }

    #[test]
    fn leaky_relu_is_floor_of_product() {
        let a = leaky_slope(0.01).unwrap();
        assert_eq!(a, 655);
        let mut v = vec![-4096, -1, 0, 7];
        Layer::LeakyRelu(a).elementwise(&mut v);
        assert_eq!(v, vec![(-4096 * 655) >> 16, -1, 0, 7]);
    }

    #[test]
    fn scale_indexes_follow_the_table_rule() {
        let table = [0.11f32, 0.5, 1.0, 2.0];
        let one = 1 << FRAC_BITS;
        let s = [0, one / 2, one / 2 + 1, one, one + 1, 10 * one, -5];
        assert_eq!(
            scale_indexes(&s, &table, 0.11).unwrap(),
            vec![0, 1, 2, 2, 3, 3, 0]
        );
        assert!(scale_indexes(&s, &[], 0.11).is_err());
    }

    #[test]
    fn softmax_sums_to_one() {
        let w = softmax(&[0, 4096, -4096, 7, 7, 7], 3).unwrap();
        assert!((w[..3].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((w[3] - 1.0 / 3.0).abs() < 1e-15);
        assert!(softmax(&[1, 2], 3).is_err());
        assert!(softmax(&[1, 2], 0).is_err());
    }
}
