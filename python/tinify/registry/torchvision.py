# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.registry.torchvision`` path: re-exports of
:mod:`tinify.registry.transforms`."""

from __future__ import annotations

from tinify.registry.transforms import TRANSFORMS, register_transform

__all__ = ["TRANSFORMS", "register_transform"]
