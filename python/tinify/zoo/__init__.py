# SPDX-License-Identifier: Apache-2.0
"""Model zoo: CompressAI's architectures by name and quality, with their pretrained weights.

::

    from tinify.zoo import mbt2018_mean
    net = mbt2018_mean(quality=3, pretrained=True)   # eval mode, tables from the checkpoint

Weights are fetched by :mod:`tinify.zoo.hub` (environment: ``TINIFY_WEIGHTS_DIR``,
``TINIFY_OFFLINE``, ``TINIFY_WEIGHTS_URL``, ``TINIFY_CACHE``).
"""

from __future__ import annotations

from tinify.models.base import remap_legacy_keys
from tinify.zoo.hub import WeightsError, load_state_dict_from_url
from tinify.zoo.image import (
    bmshj2018_factorized,
    bmshj2018_factorized_relu,
    bmshj2018_hyperprior,
    cheng2020_anchor,
    cheng2020_attn,
    mbt2018,
    mbt2018_mean,
)
from tinify.zoo.pretrained import PretrainedCfg, get_pretrained_cfg
from tinify.zoo.registry import (
    create_model,
    image_models,
    list_models,
    model_architectures,
    models,
    register_model,
    video_models,
)
from tinify.zoo.video import ssf2020

#: CompressAI's name for the legacy-key renaming (``compressai.zoo.load_state_dict``).
load_state_dict = remap_legacy_keys

__all__ = [
    "PretrainedCfg",
    "WeightsError",
    "bmshj2018_factorized",
    "bmshj2018_factorized_relu",
    "bmshj2018_hyperprior",
    "cheng2020_anchor",
    "cheng2020_attn",
    "create_model",
    "get_pretrained_cfg",
    "image_models",
    "list_models",
    "load_state_dict",
    "load_state_dict_from_url",
    "mbt2018",
    "mbt2018_mean",
    "model_architectures",
    "models",
    "register_model",
    "ssf2020",
    "video_models",
]
