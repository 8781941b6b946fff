//! `tinify._core`: thin PyO3 layer over `tinify-core`. Functions check dtypes and shapes, copy
//! inputs into owned buffers, release the GIL, call one core function and convert the result.

use pyo3::prelude::*;

mod cdf;
mod coders;
mod convert;
mod errors;
mod fixed;

/// Sets the number of threads used for independent streams (0 = one per core).
#[pyfunction]
fn set_num_threads(n: usize) {
    tinify_core::parallel::set_num_threads(n);
}

/// Number of threads used for independent streams.
#[pyfunction]
fn get_num_threads() -> usize {
    tinify_core::parallel::num_threads()
}

/// Called in a child process after fork(): the parent's thread pool is unusable there.
#[pyfunction]
fn _after_fork_child() {
    tinify_core::parallel::after_fork_child();
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // The one version number: Cargo's workspace `package.version`, which maturin also writes
    // into the wheel's metadata (pyproject.toml's version is dynamic).
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("TinifyError", py.get_type::<errors::TinifyError>())?;
    m.add("BitstreamError", py.get_type::<errors::BitstreamError>())?;
    m.add("CdfError", py.get_type::<errors::CdfError>())?;
    m.add("ParameterError", py.get_type::<errors::ParameterError>())?;
    m.add("PRECISION", tinify_core::PRECISION)?;
    m.add("FIXED_FRAC_BITS", tinify_core::fixed::FRAC_BITS)?;
    m.add_class::<cdf::CdfTable>()?;
    m.add_class::<fixed::FixedLayer>()?;
    m.add_class::<fixed::FixedNetwork>()?;
    m.add_function(wrap_pyfunction!(fixed::fixed_scale_indexes, m)?)?;
    m.add_function(wrap_pyfunction!(fixed::fixed_softmax, m)?)?;
    m.add_class::<coders::RansEncoder>()?;
    m.add_class::<coders::RansDecoder>()?;
    m.add_function(wrap_pyfunction!(cdf::pmf_to_quantized_cdf, m)?)?;
    m.add_function(wrap_pyfunction!(cdf::pmfs_to_quantized_cdfs, m)?)?;
    m.add_function(wrap_pyfunction!(cdf::scale_indexes, m)?)?;
    m.add_function(wrap_pyfunction!(coders::encode_with_indexes, m)?)?;
    m.add_function(wrap_pyfunction!(coders::decode_with_indexes, m)?)?;
    m.add_function(wrap_pyfunction!(coders::encode_batch, m)?)?;
    m.add_function(wrap_pyfunction!(coders::decode_batch, m)?)?;
    m.add_function(wrap_pyfunction!(coders::encode_chunked, m)?)?;
    m.add_function(wrap_pyfunction!(coders::decode_chunked, m)?)?;
    m.add_function(wrap_pyfunction!(coders::encode_mixture, m)?)?;
    m.add_function(wrap_pyfunction!(coders::decode_mixture, m)?)?;
    m.add_function(wrap_pyfunction!(coders::encode_mixture_batch, m)?)?;
    m.add_function(wrap_pyfunction!(coders::decode_mixture_batch, m)?)?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_child, m)?)?;
    Ok(())
}
