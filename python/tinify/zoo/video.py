# SPDX-License-Identifier: Apache-2.0
"""Zoo constructor of the video model ``ssf2020`` (CompressAI's name, qualities and weights).

``ssf2020(quality, metric="mse", pretrained=False, progress=True, **kwargs)`` forwards to
:func:`tinify.zoo.registry.create_model`; its weights are the ``"ssf2020"`` rows of
:mod:`tinify.zoo.pretrained`. Importing this module registers the name.
"""

from __future__ import annotations

from typing import Any

from tinify.models import CompressionModel
from tinify.models.video import ScaleSpaceFlow
from tinify.zoo.registry import create_model, register_model, video_models

__all__ = ["ssf2020", "video_models"]


@register_model(ScaleSpaceFlow, video=True)
def ssf2020(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Scale-space flow video codec, Agustsson et al., CVPR 2020. Qualities 1-9.

    Every quality has the same architecture (``ScaleSpaceFlow()``); only the weights differ.
    Pretrained weights exist for ``metric="mse"`` only (``"ms-ssim"`` raises ``RuntimeError``
    with ``pretrained=True``).
    """
    return create_model("ssf2020", quality, metric, pretrained, progress, **kwargs)
