# SPDX-License-Identifier: Apache-2.0
"""Zoo constructors of the variable-rate image models (``compressai.zoo.image_vbr``).

F. Kamisli, F. Racapé, H. Choi, "Variable-Rate Learned Image Compression with Multi-Objective
Optimization and Quantization-Reconstruction Offsets", DCC 2024 (arXiv:2402.18930).

One network per architecture codes at every rate (``compress(x, inputscale=1 / step)``), so
``quality`` is accepted for symmetry with the other constructors and ignored; weights exist for
``metric="mse"`` only. Each constructor forwards to :func:`tinify.zoo.registry.create_model`.
"""

from __future__ import annotations

from typing import Any

from tinify.exceptions import ParameterError
from tinify.models import (
    CompressionModel,
    JointAutoregressiveHierarchicalPriorsVbr,
    MeanScaleHyperpriorVbr,
    ScaleHyperpriorVbr,
)
from tinify.zoo.pretrained import ROOT_URL, VBR_FILES, architecture_kwargs
from tinify.zoo.registry import create_model, model_architectures, register_model

__all__ = [
    "bmshj2018_hyperprior_vbr",
    "cfgs",
    "mbt2018_mean_vbr",
    "mbt2018_vbr",
    "model_architectures",
    "model_urls",
    "root_url",
]


def _create(
    name: str, quality: int, metric: str, pretrained: bool, progress: bool, **kw: Any
) -> CompressionModel:
    if metric != "mse":
        raise ParameterError(f'Invalid metric "{metric}": the variable-rate models have mse only')
    return create_model(name, quality, metric, pretrained, progress, **kw)


@register_model(ScaleHyperpriorVbr)
def bmshj2018_hyperprior_vbr(
    quality: int = 0,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Variable-rate scale hyperprior (Ballé et al. 2018; Kamisli et al., DCC 2024)."""
    return _create("bmshj2018-hyperprior-vbr", quality, metric, pretrained, progress, **kwargs)


@register_model(MeanScaleHyperpriorVbr)
def mbt2018_mean_vbr(
    quality: int = 0,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Variable-rate mean-scale hyperprior (Minnen et al. 2018; Kamisli et al., DCC 2024)."""
    return _create("mbt2018-mean-vbr", quality, metric, pretrained, progress, **kwargs)


@register_model(JointAutoregressiveHierarchicalPriorsVbr)
def mbt2018_vbr(
    quality: int = 0,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Variable-rate joint autoregressive and hierarchical priors (Minnen et al. 2018;
    Kamisli et al., DCC 2024)."""
    return _create("mbt2018-vbr", quality, metric, pretrained, progress, **kwargs)


#: CompressAI's ``image_vbr.root_url``.
root_url = ROOT_URL
#: zoo name -> {metric: URL} (CompressAI's ``image_vbr.model_urls``).
model_urls = {
    name: {metric: f"{ROOT_URL}/{file}" for metric, file in files.items()}
    for name, files in VBR_FILES.items()
}
#: zoo name -> (N, M) (CompressAI's ``image_vbr.cfgs``).
cfgs = {
    name: (architecture_kwargs(name, 0)["N"], architecture_kwargs(name, 0)["M"])
    for name in VBR_FILES
}
model_architectures = {name: model_architectures[name] for name in VBR_FILES}
