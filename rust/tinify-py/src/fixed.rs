//! Fixed-point entropy-parameter networks: `FixedLayer`, `FixedNetwork` and integer helpers.

use std::sync::Arc;

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArray3, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray3, PyReadonlyArray4, PyUntypedArrayMethods,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tinify_core::fixed::{self, FixedTensor, Layer, QuantizedConv};

use crate::convert::{vec1, vec2, vec3};
use crate::errors::{CoreError, CoreResult};

/// One quantized layer (immutable; built once in `update()`).
#[pyclass(frozen, weakref, module = "tinify._core")]
pub struct FixedLayer {
    inner: Arc<Layer>,
}

fn quantize(
    weight: &PyReadonlyArray4<'_, f32>,
    bias: Option<PyReadonlyArray1<'_, f32>>,
    stride: usize,
    padding: usize,
    output_padding: usize,
) -> PyResult<QuantizedConv> {
    let shape = weight.shape();
    let shape = [shape[0], shape[1], shape[2], shape[3]];
    let w = weight.as_slice().map_err(|_| {
        PyValueError::new_err("weight must be C-contiguous; pass numpy.ascontiguousarray(weight)")
    })?;
    let b = bias.map(|b| vec1(&b, "bias")).transpose()?;
    Ok(
        QuantizedConv::quantize(w, b.as_deref(), shape, stride, padding, output_padding)
            .map_err(CoreError)?,
    )
}

#[pymethods]
impl FixedLayer {
    /// A convolution; float32 `weight` (cout, cin, kh, kw), optional `bias` (cout,).
    #[staticmethod]
    #[pyo3(signature = (weight, bias, stride, padding))]
    fn conv2d(
        weight: PyReadonlyArray4<'_, f32>,
        bias: Option<PyReadonlyArray1<'_, f32>>,
        stride: usize,
        padding: usize,
    ) -> PyResult<Self> {
        let q = quantize(&weight, bias, stride, padding, 0)?;
        Ok(Self {
            inner: Arc::new(Layer::Conv2d(q)),
        })
    }

    /// A transposed convolution; `weight` already permuted to (cout, cin, kh, kw).
    #[staticmethod]
    #[pyo3(signature = (weight, bias, stride, padding, output_padding))]
    fn conv_transpose2d(
        weight: PyReadonlyArray4<'_, f32>,
        bias: Option<PyReadonlyArray1<'_, f32>>,
        stride: usize,
        padding: usize,
        output_padding: usize,
    ) -> PyResult<Self> {
        let q = quantize(&weight, bias, stride, padding, output_padding)?;
        Ok(Self {
            inner: Arc::new(Layer::ConvTranspose2d(q)),
        })
    }

    /// Pixel shuffle by `r`.
    #[staticmethod]
    fn pixel_shuffle(r: usize) -> Self {
        Self {
            inner: Arc::new(Layer::PixelShuffle(r)),
        }
    }

    /// ReLU.
    #[staticmethod]
    fn relu() -> Self {
        Self {
            inner: Arc::new(Layer::Relu),
        }
    }

    /// LeakyReLU with `slope` (rounded to 16 fractional bits).
    #[staticmethod]
    fn leaky_relu(slope: f64) -> CoreResult<Self> {
        Ok(Self {
            inner: Arc::new(Layer::LeakyRelu(fixed::leaky_slope(slope)?)),
        })
    }

    /// `(weight int32 (cout, cin*kh*kw), shift uint32 (cout,), bias int64 (cout,))` of a
    /// convolution, None for other layers.
    #[allow(clippy::type_complexity)]
    fn quantized<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<
        Option<(
            Bound<'py, PyArray2<i32>>,
            Bound<'py, PyArray1<u32>>,
            Bound<'py, PyArray1<i64>>,
        )>,
    > {
        match self.inner.as_ref() {
            Layer::Conv2d(q) | Layer::ConvTranspose2d(q) => {
                let w = q
                    .weight
                    .clone()
                    .into_pyarray(py)
                    .reshape([q.cout, q.cin * q.kh * q.kw])?;
                Ok(Some((
                    w,
                    q.shift.clone().into_pyarray(py),
                    q.bias.clone().into_pyarray(py),
                )))
            }
            _ => Ok(None),
        }
    }

    /// The layer kind: `"conv2d"`, `"conv_transpose2d"`, `"pixel_shuffle"`, `"relu"` or
    /// `"leaky_relu"`.
    #[getter]
    fn kind(&self) -> &'static str {
        match self.inner.as_ref() {
            Layer::Conv2d(_) => "conv2d",
            Layer::ConvTranspose2d(_) => "conv_transpose2d",
            Layer::PixelShuffle(_) => "pixel_shuffle",
            Layer::Relu => "relu",
            Layer::LeakyRelu(_) => "leaky_relu",
        }
    }

    /// `(cout, cin, kh, kw, stride, padding, output_padding, max_abs_row_sum)` of a
    /// convolution (`max_abs_row_sum = max_o sum |w_int[o, :]|`, the bound that decides the
    /// exact float64 path), None for other layers.
    #[getter]
    #[allow(clippy::type_complexity)]
    fn geometry(&self) -> Option<(usize, usize, usize, usize, usize, usize, usize, u64)> {
        match self.inner.as_ref() {
            Layer::Conv2d(q) | Layer::ConvTranspose2d(q) => Some((
                q.cout,
                q.cin,
                q.kh,
                q.kw,
                q.stride,
                q.padding,
                q.output_padding,
                q.max_abs_row_sum,
            )),
            _ => None,
        }
    }

    /// The pixel shuffle factor, or the LeakyReLU slope in 16 fractional bits; None otherwise.
    #[getter]
    fn factor(&self) -> Option<i64> {
        match self.inner.as_ref() {
            Layer::PixelShuffle(r) => i64::try_from(*r).ok(),
            Layer::LeakyRelu(a) => Some(i64::from(*a)),
            _ => None,
        }
    }

    /// Runs this one layer on an int32 image (C, H, W); returns int32 (C', H', W').
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray3<'py, i32>,
    ) -> PyResult<Bound<'py, PyArray3<i32>>> {
        forward_image(py, std::slice::from_ref(self.inner.as_ref()), &x)
    }

    /// Runs this one layer on int32 rows (P, C) (a 1x1 convolution or an activation); returns
    /// (P, C').
    fn forward_rows<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, i32>,
    ) -> PyResult<Bound<'py, PyArray2<i32>>> {
        forward_rows(py, std::slice::from_ref(self.inner.as_ref()), &x)
    }

    fn __repr__(&self) -> String {
        match self.inner.as_ref() {
            Layer::Conv2d(q) => format!("FixedLayer.conv2d({} -> {}, k={})", q.cin, q.cout, q.kh),
            Layer::ConvTranspose2d(q) => format!(
                "FixedLayer.conv_transpose2d({} -> {}, k={})",
                q.cin, q.cout, q.kh
            ),
            Layer::PixelShuffle(r) => format!("FixedLayer.pixel_shuffle({r})"),
            Layer::Relu => "FixedLayer.relu()".to_string(),
            Layer::LeakyRelu(a) => format!("FixedLayer.leaky_relu({a}/65536)"),
        }
    }
}

/// A sequence of fixed-point layers, run with the GIL released.
#[pyclass(frozen, weakref, module = "tinify._core")]
pub struct FixedNetwork {
    layers: Arc<Vec<Layer>>,
}

impl FixedNetwork {
    fn layer(&self, i: usize) -> FixedLayer {
        FixedLayer {
            inner: Arc::new(self.layers[i].clone()),
        }
    }
}

#[pymethods]
impl FixedNetwork {
    /// Chains `layers` (copied once).
    #[new]
    fn new(layers: Vec<PyRef<'_, FixedLayer>>) -> Self {
        let layers = layers.iter().map(|l| l.inner.as_ref().clone()).collect();
        Self {
            layers: Arc::new(layers),
        }
    }

    /// Runs on one int32 image (C, H, W); returns int32 (C', H', W').
    fn forward<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray3<'py, i32>,
    ) -> PyResult<Bound<'py, PyArray3<i32>>> {
        forward_image(py, &self.layers, &x)
    }

    /// Runs 1x1 convolutions and activations on int32 rows (P, C); returns (P, C').
    fn forward_rows<'py>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, i32>,
    ) -> PyResult<Bound<'py, PyArray2<i32>>> {
        forward_rows(py, &self.layers, &x)
    }

    fn __len__(&self) -> usize {
        self.layers.len()
    }

    /// The layers, in order (copies).
    #[getter]
    fn layers(&self) -> Vec<FixedLayer> {
        (0..self.layers.len()).map(|i| self.layer(i)).collect()
    }
}

/// `layers` on one int32 image (C, H, W), with the GIL released.
fn forward_image<'py>(
    py: Python<'py>,
    layers: &[Layer],
    x: &PyReadonlyArray3<'py, i32>,
) -> PyResult<Bound<'py, PyArray3<i32>>> {
    let ((c, h, w), data) = vec3(x, "x")?;
    let out = py
        .detach(|| fixed::forward(layers, FixedTensor::new(c, h, w, data)?))
        .map_err(CoreError)?;
    let shape = [out.channels, out.height, out.width];
    out.data.into_pyarray(py).reshape(shape)
}

/// `layers` on int32 rows (P, C), with the GIL released.
fn forward_rows<'py>(
    py: Python<'py>,
    layers: &[Layer],
    x: &PyReadonlyArray2<'py, i32>,
) -> PyResult<Bound<'py, PyArray2<i32>>> {
    let (rows, cin, data) = vec2(x, "x")?;
    let out = py
        .detach(|| fixed::forward_rows(layers, data, rows, cin))
        .map_err(CoreError)?;
    // The network's width, not out.len() / rows: zero rows (an empty wavefront) keep it.
    let cout = fixed::rows_width(layers, cin);
    out.into_pyarray(py).reshape([rows, cout])
}

/// Table rows of int32 fixed-point scales (`max(s, bound) <= table[j]` on integers).
#[pyfunction]
pub fn fixed_scale_indexes<'py>(
    py: Python<'py>,
    scales: PyReadonlyArray1<'py, i32>,
    table: PyReadonlyArray1<'py, f32>,
    bound: f32,
) -> CoreResult<Bound<'py, PyArray1<i32>>> {
    let s = vec1(&scales, "scales").map_err(param_error)?;
    let t = vec1(&table, "table").map_err(param_error)?;
    let out = py.detach(move || fixed::scale_indexes(&s, &t, bound))?;
    Ok(out.into_pyarray(py))
}

/// Softmax over the rows of int32 fixed-point logits (n, k): float64 (n, k).
#[pyfunction]
pub fn fixed_softmax<'py>(
    py: Python<'py>,
    logits: PyReadonlyArray2<'py, i32>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let (n, k, data) = vec2(&logits, "logits")?;
    let out = py
        .detach(move || fixed::softmax(&data, k))
        .map_err(CoreError)?;
    out.into_pyarray(py).reshape([n, k])
}

fn param_error(e: PyErr) -> CoreError {
    CoreError(tinify_core::Error::InvalidParameter {
        position: 0,
        reason: e.to_string(),
    })
}
