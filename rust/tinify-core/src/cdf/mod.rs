//! CDF tables and the models that build them.
//!
//! - [`table`]: validated tables of quantized CDF rows (CompressAI's layout).
//! - [`quantize`]: pmf -> quantized CDF, bit-identical to CompressAI.
//! - [`gaussian`]: deterministic Gaussian tables for a scale table.
//! - [`mixture`]: per-element Gaussian-mixture models computed while coding.

pub mod gaussian;
pub mod mixture;
pub mod quantize;
pub mod table;
