//! `CdfTable` and pmf quantization.

use std::sync::Arc;

use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::convert::{vec1, vec2};
use crate::errors::{CoreError, CoreResult};

/// Validated CDF rows shared by every coding call (immutable; build once in `update()`).
#[pyclass(frozen, module = "tinify._core")]
pub struct CdfTable {
    pub inner: Arc<tinify_core::CdfTable>,
}

#[pymethods]
impl CdfTable {
    /// Builds a table from CompressAI's padded layout: int32 `cdfs` (rows, width), `lengths`
    /// (rows,), `offsets` (rows,).
    #[new]
    fn new(
        cdfs: PyReadonlyArray2<'_, i32>,
        lengths: PyReadonlyArray1<'_, i32>,
        offsets: PyReadonlyArray1<'_, i32>,
    ) -> PyResult<Self> {
        let (_, width, cdfs) = vec2(&cdfs, "cdfs")?;
        let table = tinify_core::CdfTable::from_padded(
            &cdfs,
            width,
            &vec1(&lengths, "cdf_lengths")?,
            &vec1(&offsets, "offsets")?,
        )
        .map_err(CoreError)?;
        Ok(Self {
            inner: Arc::new(table),
        })
    }

    /// Gaussian table for a scale table (deterministic f64 construction).
    #[staticmethod]
    fn gaussian(
        py: Python<'_>,
        scale_table: PyReadonlyArray1<'_, f32>,
        tail_mass: f64,
    ) -> PyResult<Self> {
        let scales = vec1(&scale_table, "scale_table")?;
        let table = py
            .detach(|| tinify_core::gaussian_table(&scales, tail_mass))
            .map_err(CoreError)?;
        Ok(Self {
            inner: Arc::new(table),
        })
    }

    /// Number of rows.
    #[getter]
    fn rows(&self) -> usize {
        self.inner.rows()
    }

    /// `(cdfs, lengths, offsets)` in the padded int32 layout.
    #[allow(clippy::type_complexity)]
    fn to_padded<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<(
        Bound<'py, PyArray2<i32>>,
        Bound<'py, PyArray1<i32>>,
        Bound<'py, PyArray1<i32>>,
    )> {
        let (cdfs, width, lengths, offsets) = self.inner.to_padded();
        let rows = lengths.len();
        let cdfs = cdfs.into_pyarray(py).reshape([rows, width])?;
        Ok((cdfs, lengths.into_pyarray(py), offsets.into_pyarray(py)))
    }

    fn __len__(&self) -> usize {
        self.inner.rows()
    }

    fn __repr__(&self) -> String {
        format!(
            "CdfTable(rows={}, max_length={})",
            self.inner.rows(),
            self.inner.max_length()
        )
    }
}

/// pmf (float32) -> quantized CDF (int32, length n + 1), bit-identical to CompressAI.
#[pyfunction]
#[pyo3(signature = (pmf, precision = 16))]
pub fn pmf_to_quantized_cdf<'py>(
    py: Python<'py>,
    pmf: PyReadonlyArray1<'py, f32>,
    precision: u32,
) -> CoreResult<Bound<'py, PyArray1<i32>>> {
    let pmf = vec1(&pmf, "pmf").map_err(|e| {
        CoreError(tinify_core::Error::InvalidPmf {
            index: 0,
            reason: e.to_string(),
        })
    })?;
    let cdf = py.detach(|| tinify_core::pmf_to_quantized_cdf(&pmf, precision))?;
    Ok(cdf
        .into_iter()
        .map(|v| v as i32)
        .collect::<Vec<_>>()
        .into_pyarray(py))
}

/// Many pmfs at once: row `i` is `pmfs[i, :lengths[i]]` of a (rows, width) float32 array.
/// Returns the CDFs zero-padded to (rows, max(lengths) + 1).
#[pyfunction]
#[pyo3(signature = (pmfs, lengths, precision = 16))]
pub fn pmfs_to_quantized_cdfs<'py>(
    py: Python<'py>,
    pmfs: PyReadonlyArray2<'py, f32>,
    lengths: PyReadonlyArray1<'py, i64>,
    precision: u32,
) -> PyResult<Bound<'py, PyArray2<i32>>> {
    let (rows, width, data) = vec2(&pmfs, "pmfs")?;
    let lengths = vec1(&lengths, "lengths")?;
    if lengths.len() != rows || lengths.iter().any(|&l| l < 1 || l as usize > width) {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "lengths must hold {rows} values in 1..={width} (one per pmf row)"
        )));
    }
    let out_width = lengths.iter().copied().max().unwrap_or(0) as usize + 1;
    let cdfs = py
        .detach(|| {
            let packed: Vec<f32> = (0..rows)
                .flat_map(|i| {
                    data[i * width..i * width + lengths[i] as usize]
                        .iter()
                        .copied()
                })
                .collect();
            let lens: Vec<usize> = lengths.iter().map(|&l| l as usize).collect();
            tinify_core::pmfs_to_quantized_cdfs(&packed, &lens, precision).map(|rows_out| {
                let mut out = vec![0i32; rows * out_width];
                for (i, row) in rows_out.iter().enumerate() {
                    for (d, &v) in out[i * out_width..].iter_mut().zip(row) {
                        *d = v as i32;
                    }
                }
                out
            })
        })
        .map_err(CoreError)?;
    cdfs.into_pyarray(py).reshape([rows, out_width])
}

/// Table row of every scale (CompressAI's `build_indexes` rule, in f32): int32, same length.
#[pyfunction]
pub fn scale_indexes<'py>(
    py: Python<'py>,
    scales: PyReadonlyArray1<'py, f32>,
    table: PyReadonlyArray1<'py, f32>,
) -> PyResult<Bound<'py, PyArray1<i32>>> {
    let (s, t) = (vec1(&scales, "scales")?, vec1(&table, "scale_table")?);
    let out = py
        .detach(move || tinify_core::scale_indexes(&s, &t))
        .map_err(CoreError)?;
    Ok(out.into_pyarray(py))
}
