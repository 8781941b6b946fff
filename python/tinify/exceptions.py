"""The tinify exception family.

Every error raised by tinify's coder derives from :class:`TinifyError`, which subclasses
``ValueError`` so that existing ``except ValueError`` handlers keep working:

- :class:`BitstreamError`: a stream is corrupt, truncated, or does not match its tables.
- :class:`CdfError`: a CDF table or pmf breaks the rules.
- :class:`ParameterError`: arguments disagree in length, an index is out of range, or a
  parameter is unusable.

The classes are created in the Rust extension and re-exported here.
"""

from __future__ import annotations

from tinify._core import BitstreamError, CdfError, ParameterError, TinifyError

__all__ = ["BitstreamError", "CdfError", "ParameterError", "TinifyError"]
