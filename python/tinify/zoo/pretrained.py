# SPDX-License-Identifier: Apache-2.0
"""Pretrained weights as data: file names, hashes and architecture settings per quality.

The files are CompressAI's (``https://compressai.s3.amazonaws.com/models/v1``), so an existing
CompressAI download cache is reused. Each file name ends in ``-<first 8 hex digits of the
file's SHA-256>``, which :mod:`tinify.zoo.hub` checks after every download and cache hit.

Set ``TINIFY_WEIGHTS_URL`` to fetch the same file names from another base URL (a mirror, a
``file://`` folder, a local path, or a test server).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tinify.exceptions import ParameterError, WeightsError
from tinify.models.base import remap_legacy_keys, rename_key

__all__ = [
    "METRICS",
    "ROOT_URL",
    "PretrainedCfg",
    "architecture_kwargs",
    "available_metrics",
    "get_pretrained_cfg",
    "load_pretrained",
    "qualities",
    "rename_key",
    "weights_base_url",
]

#: CompressAI's ``compressai.zoo.pretrained.load_pretrained``: rename the keys of an old
#: checkpoint's state dict to today's names (:func:`tinify.models.base.remap_legacy_keys`).
load_pretrained = remap_legacy_keys

#: Where CompressAI's weights are hosted.
ROOT_URL = "https://compressai.s3.amazonaws.com/models/v1"

#: Environment variable overriding :data:`ROOT_URL`.
ENV_WEIGHTS_URL = "TINIFY_WEIGHTS_URL"

#: Distortion metrics the models were trained for.
METRICS = ("mse", "ms-ssim")

#: The ``-<8 hex>.`` SHA-256 prefix in a weight file's name (group 1: the hex digits).
HASH_IN_NAME = re.compile(r"-([0-9a-f]{8})\.")

# architecture -> metric -> file names for qualities 1, 2, ...
_FILES: dict[str, dict[str, tuple[str, ...]]] = {
    "bmshj2018-factorized": {
        "mse": (
            "bmshj2018-factorized-prior-1-446d5c7f.pth.tar",
            "bmshj2018-factorized-prior-2-87279a02.pth.tar",
            "bmshj2018-factorized-prior-3-5c6f152b.pth.tar",
            "bmshj2018-factorized-prior-4-1ed4405a.pth.tar",
            "bmshj2018-factorized-prior-5-866ba797.pth.tar",
            "bmshj2018-factorized-prior-6-9b02ea3a.pth.tar",
            "bmshj2018-factorized-prior-7-6dfd6734.pth.tar",
            "bmshj2018-factorized-prior-8-5232faa3.pth.tar",
        ),
        "ms-ssim": (
            "bmshj2018-factorized-ms-ssim-1-9781d705.pth.tar",
            "bmshj2018-factorized-ms-ssim-2-4a584386.pth.tar",
            "bmshj2018-factorized-ms-ssim-3-5352f123.pth.tar",
            "bmshj2018-factorized-ms-ssim-4-4f91b847.pth.tar",
            "bmshj2018-factorized-ms-ssim-5-b3a88897.pth.tar",
            "bmshj2018-factorized-ms-ssim-6-ee028763.pth.tar",
            "bmshj2018-factorized-ms-ssim-7-8c265a29.pth.tar",
            "bmshj2018-factorized-ms-ssim-8-8811bd14.pth.tar",
        ),
    },
    "bmshj2018-hyperprior": {
        "mse": (
            "bmshj2018-hyperprior-1-7eb97409.pth.tar",
            "bmshj2018-hyperprior-2-93677231.pth.tar",
            "bmshj2018-hyperprior-3-6d87be32.pth.tar",
            "bmshj2018-hyperprior-4-de1b779c.pth.tar",
            "bmshj2018-hyperprior-5-f8b614e1.pth.tar",
            "bmshj2018-hyperprior-6-1ab9c41e.pth.tar",
            "bmshj2018-hyperprior-7-3804dcbd.pth.tar",
            "bmshj2018-hyperprior-8-a583f0cf.pth.tar",
        ),
        "ms-ssim": (
            "bmshj2018-hyperprior-ms-ssim-1-5cf249be.pth.tar",
            "bmshj2018-hyperprior-ms-ssim-2-1ff60d1f.pth.tar",
            "bmshj2018-hyperprior-ms-ssim-3-92dd7878.pth.tar",
            "bmshj2018-hyperprior-ms-ssim-4-4377354e.pth.tar",
            "bmshj2018-hyperprior-ms-ssim-5-c34afc8d.pth.tar",
            "bmshj2018-hyperprior-ms-ssim-6-3a6d8229.pth.tar",
            "bmshj2018-hyperprior-ms-ssim-7-8747d3bc.pth.tar",
            "bmshj2018-hyperprior-ms-ssim-8-cc15b5f3.pth.tar",
        ),
    },
    "mbt2018-mean": {
        "mse": (
            "mbt2018-mean-1-e522738d.pth.tar",
            "mbt2018-mean-2-e54a039d.pth.tar",
            "mbt2018-mean-3-723404a8.pth.tar",
            "mbt2018-mean-4-6dba02a3.pth.tar",
            "mbt2018-mean-5-d504e8eb.pth.tar",
            "mbt2018-mean-6-a19628ab.pth.tar",
            "mbt2018-mean-7-d5d441d1.pth.tar",
            "mbt2018-mean-8-8089ae3e.pth.tar",
        ),
        "ms-ssim": (
            "mbt2018-mean-ms-ssim-1-5bf9c0b6.pth.tar",
            "mbt2018-mean-ms-ssim-2-e2a1bf3f.pth.tar",
            "mbt2018-mean-ms-ssim-3-640ce819.pth.tar",
            "mbt2018-mean-ms-ssim-4-12626c13.pth.tar",
            "mbt2018-mean-ms-ssim-5-1be7f059.pth.tar",
            "mbt2018-mean-ms-ssim-6-b83bf379.pth.tar",
            "mbt2018-mean-ms-ssim-7-ddf9644c.pth.tar",
            "mbt2018-mean-ms-ssim-8-0cc7b94f.pth.tar",
        ),
    },
    "mbt2018": {
        "mse": (
            "mbt2018-1-3f36cd77.pth.tar",
            "mbt2018-2-43b70cdd.pth.tar",
            "mbt2018-3-22901978.pth.tar",
            "mbt2018-4-456e2af9.pth.tar",
            "mbt2018-5-b4a046dd.pth.tar",
            "mbt2018-6-7052e5ea.pth.tar",
            "mbt2018-7-8ba2bf82.pth.tar",
            "mbt2018-8-dd0097aa.pth.tar",
        ),
        "ms-ssim": (
            "mbt2018-ms-ssim-1-2878436b.pth.tar",
            "mbt2018-ms-ssim-2-c41cb208.pth.tar",
            "mbt2018-ms-ssim-3-d0dd64e8.pth.tar",
            "mbt2018-ms-ssim-4-a120e037.pth.tar",
            "mbt2018-ms-ssim-5-9b30e3b7.pth.tar",
            "mbt2018-ms-ssim-6-f8b3626f.pth.tar",
            "mbt2018-ms-ssim-7-16e6ff50.pth.tar",
            "mbt2018-ms-ssim-8-0cb49d43.pth.tar",
        ),
    },
    "cheng2020-anchor": {
        "mse": (
            "cheng2020-anchor-1-dad2ebff.pth.tar",
            "cheng2020-anchor-2-a29008eb.pth.tar",
            "cheng2020-anchor-3-e49be189.pth.tar",
            "cheng2020-anchor-4-98b0b468.pth.tar",
            "cheng2020-anchor-5-23852949.pth.tar",
            "cheng2020-anchor-6-4c052b1a.pth.tar",
        ),
        "ms-ssim": (
            "cheng2020_anchor-ms-ssim-1-20f521db.pth.tar",
            "cheng2020_anchor-ms-ssim-2-c7ff5812.pth.tar",
            "cheng2020_anchor-ms-ssim-3-c23e22d5.pth.tar",
            "cheng2020_anchor-ms-ssim-4-0e658304.pth.tar",
            "cheng2020_anchor-ms-ssim-5-c0a95e77.pth.tar",
            "cheng2020_anchor-ms-ssim-6-f2dc1913.pth.tar",
        ),
    },
    "cheng2020-attn": {
        "mse": (
            "cheng2020_attn-mse-1-465f2b64.pth.tar",
            "cheng2020_attn-mse-2-e0805385.pth.tar",
            "cheng2020_attn-mse-3-2d07bbdf.pth.tar",
            "cheng2020_attn-mse-4-f7b0ccf2.pth.tar",
            "cheng2020_attn-mse-5-26c8920e.pth.tar",
            "cheng2020_attn-mse-6-730501f2.pth.tar",
        ),
        "ms-ssim": (
            "cheng2020_attn-ms-ssim-1-c5381d91.pth.tar",
            "cheng2020_attn-ms-ssim-2-5dad201d.pth.tar",
            "cheng2020_attn-ms-ssim-3-5c9be841.pth.tar",
            "cheng2020_attn-ms-ssim-4-8b2f647e.pth.tar",
            "cheng2020_attn-ms-ssim-5-5ca1f34c.pth.tar",
            "cheng2020_attn-ms-ssim-6-216423ec.pth.tar",
        ),
    },
    "ssf2020": {
        "mse": (
            "ssf2020-mse-1-c1ac1a47.pth.tar",
            "ssf2020-mse-2-79ed4e19.pth.tar",
            "ssf2020-mse-3-9c8b998d.pth.tar",
            "ssf2020-mse-4-577c1eda.pth.tar",
            "ssf2020-mse-5-1dd7d574.pth.tar",
            "ssf2020-mse-6-59dfb6f9.pth.tar",
            "ssf2020-mse-7-4d867411.pth.tar",
            "ssf2020-mse-8-26439e20.pth.tar",
            "ssf2020-mse-9-e89345c4.pth.tar",
        ),
    },
}

# Single-checkpoint variable-bit-rate models (not implemented in tinify yet; kept as data).
_VBR_FILES: dict[str, dict[str, str]] = {
    "bmshj2018-hyperprior-vbr": {"mse": "bmshj2018-hyperprior-mse-vbr-cddd26be.pth.tar"},
    "mbt2018-mean-vbr": {"mse": "mbt2018-mean-mse-vbr-45d095e9.pth.tar"},
    "mbt2018-vbr": {"mse": "mbt2018-mse-vbr-f12581a1.pth.tar"},
}

_SMALL, _LARGE = {"N": 128, "M": 192}, {"N": 192, "M": 320}

# architecture -> constructor arguments for qualities 1, 2, ...
_ARCH_KWARGS: dict[str, tuple[Mapping[str, int], ...]] = {
    "bmshj2018-factorized": (_SMALL,) * 5 + (_LARGE,) * 3,
    "bmshj2018-factorized-relu": (_SMALL,) * 5 + (_LARGE,) * 3,  # no published weights
    "bmshj2018-hyperprior": (_SMALL,) * 5 + (_LARGE,) * 3,
    "mbt2018-mean": (_SMALL,) * 4 + (_LARGE,) * 4,
    "mbt2018": ({"N": 192, "M": 192},) * 4 + (_LARGE,) * 4,
    "cheng2020-anchor": ({"N": 128},) * 3 + ({"N": 192},) * 3,
    "cheng2020-attn": ({"N": 128},) * 3 + ({"N": 192},) * 3,
    "ssf2020": ({},) * 9,
}


def weights_base_url() -> str:
    """The base URL weights are fetched from: ``$TINIFY_WEIGHTS_URL`` or :data:`ROOT_URL`."""
    return os.environ.get(ENV_WEIGHTS_URL) or ROOT_URL


@dataclass(frozen=True)
class PretrainedCfg:
    """One pretrained checkpoint.

    Attributes:
        architecture: zoo name, e.g. ``"mbt2018-mean"``.
        metric: ``"mse"`` or ``"ms-ssim"``.
        quality: 1-based quality level.
        file_name: the file's name, ending in ``-<sha256 prefix>.pth.tar``.
        kwargs: constructor arguments of the architecture (``N``, ``M``).
    """

    architecture: str
    metric: str
    quality: int
    file_name: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        """``"<metric>-<quality>"``, e.g. ``"mse-3"``."""
        return f"{self.metric}-{self.quality}"

    @property
    def sha256_prefix(self) -> str:
        """The first 8 hex digits of the file's SHA-256, from its name."""
        match = HASH_IN_NAME.search(self.file_name)
        if match is None:
            raise ParameterError(f"{self.file_name} has no '-<8 hex digits>.' hash in its name")
        return match.group(1)

    @property
    def url(self) -> str:
        """Where to fetch the file (honours ``$TINIFY_WEIGHTS_URL``)."""
        return weights_base_url().rstrip("/") + "/" + self.file_name


def qualities(architecture: str) -> range:
    """The quality levels of ``architecture`` (e.g. ``range(1, 9)``).

    Raises:
        ParameterError: unknown architecture.
    """
    return range(1, len(_kwargs_table(architecture)) + 1)


def available_metrics(architecture: str) -> tuple[str, ...]:
    """Metrics with pretrained weights for ``architecture`` (may be empty)."""
    return tuple(_FILES.get(architecture, {}))


def architecture_kwargs(architecture: str, quality: int) -> dict[str, Any]:
    """Constructor arguments (``N``, ``M``) of ``architecture`` at ``quality``.

    Raises:
        ParameterError: unknown architecture or quality out of range.
    """
    table = _kwargs_table(architecture)
    if not 1 <= quality <= len(table):
        raise ParameterError(
            f"quality must be an integer from 1 to {len(table)} for {architecture}, got {quality}"
        )
    return dict(table[quality - 1])


def get_pretrained_cfg(architecture: str, metric: str, quality: int) -> PretrainedCfg:
    """The checkpoint of ``architecture`` trained for ``metric`` at ``quality``.

    Raises:
        ParameterError: unknown architecture, metric or quality.
        WeightsError: no pretrained weights exist for this combination.
    """
    kwargs = architecture_kwargs(architecture, quality)
    if metric not in METRICS:
        raise ParameterError(f"metric must be one of {METRICS}, got {metric!r}")
    files = _FILES.get(architecture, {}).get(metric)
    if files is None or quality > len(files):
        raise WeightsError(f"no pretrained {metric} weights for {architecture} quality {quality}")
    return PretrainedCfg(architecture, metric, quality, files[quality - 1], kwargs)


def _kwargs_table(architecture: str) -> tuple[Mapping[str, int], ...]:
    try:
        return _ARCH_KWARGS[architecture]
    except KeyError:
        raise ParameterError(
            f"unknown architecture {architecture!r}; known: {sorted(_ARCH_KWARGS)}"
        ) from None
