//! Coding functions and the stateful encoder/decoder classes.

use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyReadonlyArray3,
};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tinify_core::MixtureParams;

use crate::cdf::CdfTable;
use crate::convert::{vec1, vec2, vec3};
use crate::errors::{CoreError, CoreResult};

/// Owned mixture parameters (n, K) as three element-major f64 arrays.
struct Mixture {
    k: usize,
    n: usize,
    weights: Vec<f64>,
    means: Vec<f64>,
    scales: Vec<f64>,
}

impl Mixture {
    fn new(
        weights: &PyReadonlyArray2<'_, f64>,
        means: &PyReadonlyArray2<'_, f64>,
        scales: &PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Self> {
        let (n, k, weights) = vec2(weights, "weights")?;
        let (n2, k2, means) = vec2(means, "means")?;
        let (n3, k3, scales) = vec2(scales, "scales")?;
        if (n, k) != (n2, k2) || (n, k) != (n3, k3) {
            return Err(PyValueError::new_err(format!(
                "weights {:?}, means {:?} and scales {:?} must have the same (elements, K) shape",
                (n, k),
                (n2, k2),
                (n3, k3)
            )));
        }
        Ok(Self {
            k,
            n,
            weights,
            means,
            scales,
        })
    }

    fn params(&self) -> tinify_core::Result<MixtureParams<'_>> {
        MixtureParams::new(self.k, &self.weights, &self.means, &self.scales, self.n)
    }
}

/// Owned mixture parameters of a batch: (B, n, K) each.
struct MixtureBatch {
    shape: (usize, usize, usize),
    weights: Vec<f64>,
    means: Vec<f64>,
    scales: Vec<f64>,
}

impl MixtureBatch {
    fn new(
        weights: &PyReadonlyArray3<'_, f64>,
        means: &PyReadonlyArray3<'_, f64>,
        scales: &PyReadonlyArray3<'_, f64>,
    ) -> PyResult<Self> {
        let (shape, weights) = vec3(weights, "weights")?;
        let (s2, means) = vec3(means, "means")?;
        let (s3, scales) = vec3(scales, "scales")?;
        if shape != s2 || shape != s3 {
            return Err(PyValueError::new_err(format!(
                "weights {shape:?}, means {s2:?} and scales {s3:?} must have the same (B, n, K) shape"
            )));
        }
        Ok(Self {
            shape,
            weights,
            means,
            scales,
        })
    }

    fn params(&self) -> tinify_core::Result<Vec<MixtureParams<'_>>> {
        let (b, n, k) = self.shape;
        let step = n * k;
        (0..b)
            .map(|j| {
                let r = j * step..(j + 1) * step;
                MixtureParams::new(
                    k,
                    &self.weights[r.clone()],
                    &self.means[r.clone()],
                    &self.scales[r],
                    n,
                )
            })
            .collect()
    }
}

/// Rows into one buffer; a single row is moved, not copied.
fn flatten(mut rows: Vec<Vec<i32>>) -> Vec<i32> {
    if rows.len() == 1 {
        rows.pop().unwrap_or_default()
    } else {
        rows.concat()
    }
}

fn bytes<'py>(py: Python<'py>, data: &[u8]) -> Bound<'py, PyBytes> {
    PyBytes::new(py, data)
}

/// One stream: `symbols[i]` against row `indexes[i]` of `table` (CompressAI-compatible bytes).
#[pyfunction]
pub fn encode_with_indexes<'py>(
    py: Python<'py>,
    symbols: PyReadonlyArray1<'py, i32>,
    indexes: PyReadonlyArray1<'py, i32>,
    table: &CdfTable,
) -> PyResult<Bound<'py, PyBytes>> {
    let (s, i) = (vec1(&symbols, "symbols")?, vec1(&indexes, "indexes")?);
    let t = table.inner.clone();
    let out = py
        .detach(move || tinify_core::encode_with_indexes(&s, &i, &t))
        .map_err(CoreError)?;
    Ok(bytes(py, &out))
}

/// Decodes a whole stream; raises BitstreamError when it is corrupt, truncated or has leftovers.
#[pyfunction]
pub fn decode_with_indexes<'py>(
    py: Python<'py>,
    data: &[u8],
    indexes: PyReadonlyArray1<'py, i32>,
    table: &CdfTable,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let i = vec1(&indexes, "indexes")?;
    let t = table.inner.clone();
    let out = py
        .detach(move || tinify_core::decode_with_indexes(data, &i, &t))
        .map_err(CoreError)?;
    Ok(out.into_pyarray(py))
}

/// Independent streams in parallel: row `b` of (B, n) `symbols` against row `b` of `indexes`;
/// `chunks > 1` splits each row into that many parallel streams (tinify's chunked framing).
#[pyfunction]
#[pyo3(signature = (symbols, indexes, table, chunks = 1))]
pub fn encode_batch<'py>(
    py: Python<'py>,
    symbols: PyReadonlyArray2<'py, i32>,
    indexes: PyReadonlyArray2<'py, i32>,
    table: &CdfTable,
    chunks: usize,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let (b, n, s) = vec2(&symbols, "symbols")?;
    let (b2, n2, i) = vec2(&indexes, "indexes")?;
    if (b, n) != (b2, n2) {
        return Err(PyValueError::new_err(format!(
            "symbols {:?} and indexes {:?} must have the same shape",
            (b, n),
            (b2, n2)
        )));
    }
    let t = table.inner.clone();
    let out = py
        .detach(move || {
            let rows_s: Vec<&[i32]> = (0..b).map(|r| &s[r * n..(r + 1) * n]).collect();
            let rows_i: Vec<&[i32]> = (0..b).map(|r| &i[r * n..(r + 1) * n]).collect();
            tinify_core::encode_batch(&rows_s, &rows_i, &t, chunks)
        })
        .map_err(CoreError)?;
    Ok(out.iter().map(|o| bytes(py, o)).collect())
}

/// Decodes independent streams in parallel into a (B, n) int32 array.
#[pyfunction]
#[pyo3(signature = (streams, indexes, table, chunked = false))]
pub fn decode_batch<'py>(
    py: Python<'py>,
    streams: Vec<Vec<u8>>,
    indexes: PyReadonlyArray2<'py, i32>,
    table: &CdfTable,
    chunked: bool,
) -> PyResult<Bound<'py, PyArray2<i32>>> {
    let (b, n, i) = vec2(&indexes, "indexes")?;
    if streams.len() != b {
        return Err(PyValueError::new_err(format!(
            "{} streams given for {b} index rows",
            streams.len()
        )));
    }
    let t = table.inner.clone();
    let out = py
        .detach(move || {
            let rows_i: Vec<&[i32]> = (0..b).map(|r| &i[r * n..(r + 1) * n]).collect();
            let data: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
            tinify_core::decode_batch(&data, &rows_i, &t, chunked)
        })
        .map_err(CoreError)?;
    flatten(out).into_pyarray(py).reshape([b, n])
}

/// One array as `chunks` parallel streams in tinify's chunked framing.
#[pyfunction]
pub fn encode_chunked<'py>(
    py: Python<'py>,
    symbols: PyReadonlyArray1<'py, i32>,
    indexes: PyReadonlyArray1<'py, i32>,
    table: &CdfTable,
    chunks: usize,
) -> PyResult<Bound<'py, PyBytes>> {
    let (s, i) = (vec1(&symbols, "symbols")?, vec1(&indexes, "indexes")?);
    let t = table.inner.clone();
    let out = py
        .detach(move || tinify_core::encode_chunked(&s, &i, &t, chunks))
        .map_err(CoreError)?;
    Ok(bytes(py, &out))
}

/// Decodes a chunked stream.
#[pyfunction]
pub fn decode_chunked<'py>(
    py: Python<'py>,
    data: &[u8],
    indexes: PyReadonlyArray1<'py, i32>,
    table: &CdfTable,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let i = vec1(&indexes, "indexes")?;
    let t = table.inner.clone();
    let out = py
        .detach(move || tinify_core::decode_chunked(data, &i, &t))
        .map_err(CoreError)?;
    Ok(out.into_pyarray(py))
}

/// One stream: each symbol against its own Gaussian mixture ((n, K) float64 parameters).
#[pyfunction]
pub fn encode_mixture<'py>(
    py: Python<'py>,
    symbols: PyReadonlyArray1<'py, i32>,
    weights: PyReadonlyArray2<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    scales: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let s = vec1(&symbols, "symbols")?;
    let m = Mixture::new(&weights, &means, &scales)?;
    let out = py
        .detach(move || tinify_core::encode_mixture(&s, &m.params()?))
        .map_err(CoreError)?;
    Ok(bytes(py, &out))
}

/// Decodes a stream written by `encode_mixture`.
#[pyfunction]
pub fn decode_mixture<'py>(
    py: Python<'py>,
    data: &[u8],
    weights: PyReadonlyArray2<'py, f64>,
    means: PyReadonlyArray2<'py, f64>,
    scales: PyReadonlyArray2<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let m = Mixture::new(&weights, &means, &scales)?;
    let out = py
        .detach(move || tinify_core::decode_mixture(data, &m.params()?))
        .map_err(CoreError)?;
    Ok(out.into_pyarray(py))
}

/// Independent mixture streams in parallel: row `b` of (B, n) `symbols` against (B, n, K)
/// parameters.
#[pyfunction]
pub fn encode_mixture_batch<'py>(
    py: Python<'py>,
    symbols: PyReadonlyArray2<'py, i32>,
    weights: PyReadonlyArray3<'py, f64>,
    means: PyReadonlyArray3<'py, f64>,
    scales: PyReadonlyArray3<'py, f64>,
) -> PyResult<Vec<Bound<'py, PyBytes>>> {
    let (b, n, s) = vec2(&symbols, "symbols")?;
    let m = MixtureBatch::new(&weights, &means, &scales)?;
    if (b, n) != (m.shape.0, m.shape.1) {
        return Err(PyValueError::new_err(format!(
            "symbols {:?} do not match the parameters' (B, n) = {:?}",
            (b, n),
            (m.shape.0, m.shape.1)
        )));
    }
    let out = py
        .detach(move || {
            let rows: Vec<&[i32]> = (0..b).map(|r| &s[r * n..(r + 1) * n]).collect();
            tinify_core::encode_mixture_batch(&rows, &m.params()?)
        })
        .map_err(CoreError)?;
    Ok(out.iter().map(|o| bytes(py, o)).collect())
}

/// Decodes independent mixture streams in parallel into a (B, n) int32 array.
#[pyfunction]
pub fn decode_mixture_batch<'py>(
    py: Python<'py>,
    streams: Vec<Vec<u8>>,
    weights: PyReadonlyArray3<'py, f64>,
    means: PyReadonlyArray3<'py, f64>,
    scales: PyReadonlyArray3<'py, f64>,
) -> PyResult<Bound<'py, PyArray2<i32>>> {
    let m = MixtureBatch::new(&weights, &means, &scales)?;
    let (b, n, _) = m.shape;
    if streams.len() != b {
        return Err(PyValueError::new_err(format!(
            "{} streams given for a batch of {b}",
            streams.len()
        )));
    }
    let out = py
        .detach(move || {
            let data: Vec<&[u8]> = streams.iter().map(Vec::as_slice).collect();
            tinify_core::decode_mixture_batch(&data, &m.params()?)
        })
        .map_err(CoreError)?;
    flatten(out).into_pyarray(py).reshape([b, n])
}

/// Buffers symbols (tables or mixtures, in any mix) and writes them as one stream on `flush`.
#[pyclass(module = "tinify._core")]
#[derive(Default)]
pub struct RansEncoder {
    inner: tinify_core::RansEncoder,
}

#[pymethods]
impl RansEncoder {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// Appends `symbols[i]` against row `indexes[i]` of `table`; nothing is appended on error.
    fn put_with_indexes(
        &mut self,
        py: Python<'_>,
        symbols: PyReadonlyArray1<'_, i32>,
        indexes: PyReadonlyArray1<'_, i32>,
        table: &CdfTable,
    ) -> PyResult<()> {
        let (s, i) = (vec1(&symbols, "symbols")?, vec1(&indexes, "indexes")?);
        let t = table.inner.clone();
        let enc = &mut self.inner;
        py.detach(move || enc.put_with_indexes(&s, &i, &t))
            .map_err(CoreError)?;
        Ok(())
    }

    /// Appends each symbol against its own Gaussian mixture; nothing is appended on error.
    fn put_mixture(
        &mut self,
        py: Python<'_>,
        symbols: PyReadonlyArray1<'_, i32>,
        weights: PyReadonlyArray2<'_, f64>,
        means: PyReadonlyArray2<'_, f64>,
        scales: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<()> {
        let s = vec1(&symbols, "symbols")?;
        let m = Mixture::new(&weights, &means, &scales)?;
        let enc = &mut self.inner;
        py.detach(move || -> tinify_core::Result<()> { enc.put_mixture(&s, &m.params()?) })
            .map_err(CoreError)?;
        Ok(())
    }

    /// Encodes everything buffered as one stream and empties the buffer.
    fn flush<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let enc = &mut self.inner;
        let out = py.detach(move || enc.flush());
        bytes(py, &out)
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// Decodes a stream incrementally (for autoregressive models).
#[pyclass(module = "tinify._core")]
pub struct RansDecoder {
    inner: tinify_core::RansDecoder,
}

#[pymethods]
impl RansDecoder {
    #[new]
    fn new(data: &[u8]) -> CoreResult<Self> {
        Ok(Self {
            inner: tinify_core::RansDecoder::new(data)?,
        })
    }

    /// Decodes one value per index against the table rows.
    fn get_with_indexes<'py>(
        &mut self,
        py: Python<'py>,
        indexes: PyReadonlyArray1<'py, i32>,
        table: &CdfTable,
    ) -> PyResult<Bound<'py, PyArray1<i32>>> {
        let i = vec1(&indexes, "indexes")?;
        let t = table.inner.clone();
        let dec = &mut self.inner;
        let out = py
            .detach(move || dec.get_with_indexes(&i, &t))
            .map_err(CoreError)?;
        Ok(out.into_pyarray(py))
    }

    /// Decodes one value per mixture element.
    fn get_mixture<'py>(
        &mut self,
        py: Python<'py>,
        weights: PyReadonlyArray2<'py, f64>,
        means: PyReadonlyArray2<'py, f64>,
        scales: PyReadonlyArray2<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<i32>>> {
        let m = Mixture::new(&weights, &means, &scales)?;
        let dec = &mut self.inner;
        let out = py
            .detach(move || dec.get_mixture(&m.params()?))
            .map_err(CoreError)?;
        Ok(out.into_pyarray(py))
    }

    /// Raises BitstreamError unless the stream was consumed exactly.
    fn finish(&self) -> CoreResult<()> {
        Ok(self.inner.finish()?)
    }

    /// Number of values decoded so far.
    #[getter]
    fn decoded(&self) -> usize {
        self.inner.decoded()
    }
}
