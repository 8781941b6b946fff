//! Array conversion: contiguous numpy arrays in, owned `Vec`s for the GIL-free phase.
//!
//! A `PyReadonlyArray` borrow does not stop another Python thread from writing to the array, so
//! inputs are copied before the GIL is released; the copy is cheap next to entropy coding.

use numpy::{Element, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Copies a 1-D array, refusing non-contiguous ones.
pub fn vec1<T: Element + Copy>(a: &PyReadonlyArray1<'_, T>, name: &str) -> PyResult<Vec<T>> {
    a.as_slice()
        .map(<[T]>::to_vec)
        .map_err(|_| not_contiguous(name))
}

/// Copies a 2-D array as (rows, columns, row-major data).
pub fn vec2<T: Element + Copy>(
    a: &PyReadonlyArray2<'_, T>,
    name: &str,
) -> PyResult<(usize, usize, Vec<T>)> {
    let shape = a.shape();
    let data = a
        .as_slice()
        .map(<[T]>::to_vec)
        .map_err(|_| not_contiguous(name))?;
    Ok((shape[0], shape[1], data))
}

/// Copies a 3-D array as ((d0, d1, d2), row-major data).
pub fn vec3<T: Element + Copy>(
    a: &PyReadonlyArray3<'_, T>,
    name: &str,
) -> PyResult<((usize, usize, usize), Vec<T>)> {
    let shape = a.shape();
    let data = a
        .as_slice()
        .map(<[T]>::to_vec)
        .map_err(|_| not_contiguous(name))?;
    Ok(((shape[0], shape[1], shape[2]), data))
}

fn not_contiguous(name: &str) -> PyErr {
    PyValueError::new_err(format!(
        "{name} must be a C-contiguous array; pass numpy.ascontiguousarray({name})"
    ))
}
