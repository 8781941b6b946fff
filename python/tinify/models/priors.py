# SPDX-License-Identifier: Apache-2.0
"""Deprecated alias of :mod:`tinify.models.google` (CompressAI's ``compressai.models.priors``)."""

from __future__ import annotations

import warnings

from tinify.models.google import *  # noqa: F403
from tinify.models.google import __all__  # noqa: F401

warnings.warn(
    "tinify.models.priors is deprecated: it is renamed tinify.models.google",
    DeprecationWarning,
    stacklevel=2,
)
