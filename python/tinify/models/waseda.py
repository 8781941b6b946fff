# SPDX-License-Identifier: Apache-2.0
"""CompressAI's ``compressai.models.waseda`` path: the models of Cheng et al. (CVPR 2020),
re-exported from :mod:`tinify.models.image.cheng2020`."""

from __future__ import annotations

from tinify.models.image.cheng2020 import Cheng2020Anchor, Cheng2020Attention

__all__ = ["Cheng2020Anchor", "Cheng2020Attention"]
