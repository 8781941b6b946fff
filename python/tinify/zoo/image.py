# SPDX-License-Identifier: Apache-2.0
"""Zoo constructors of the image models (CompressAI's names, qualities and weights).

Each one is ``fn(quality, metric="mse", pretrained=False, progress=True, **kwargs)`` and only
forwards to :func:`tinify.zoo.registry.create_model`.
"""

from __future__ import annotations

from typing import Any

from tinify.models import (
    Cheng2020Anchor,
    Cheng2020Attention,
    CompressionModel,
    FactorizedPrior,
    FactorizedPriorReLU,
    JointAutoregressiveHierarchicalPriors,
    MeanScaleHyperprior,
    ScaleHyperprior,
)
from tinify.zoo.registry import create_model, register_model

__all__ = [
    "bmshj2018_factorized",
    "bmshj2018_factorized_relu",
    "bmshj2018_hyperprior",
    "cheng2020_anchor",
    "cheng2020_attn",
    "mbt2018",
    "mbt2018_mean",
]


@register_model(FactorizedPrior)
def bmshj2018_factorized(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Factorized prior, Ballé et al., ICLR 2017. Qualities 1-8 (N, M = 128, 192 up to 5)."""
    return create_model("bmshj2018-factorized", quality, metric, pretrained, progress, **kwargs)


@register_model(FactorizedPriorReLU)
def bmshj2018_factorized_relu(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Factorized prior with ReLUs instead of GDN. Qualities 1-8; no pretrained weights.

    (CompressAI 1.2.8's ``zoo.bmshj2018_factorized_relu`` builds a GDN ``FactorizedPrior`` by
    mistake; this one builds :class:`~tinify.models.FactorizedPriorReLU`.)
    """
    return create_model(
        "bmshj2018-factorized-relu", quality, metric, pretrained, progress, **kwargs
    )


@register_model(ScaleHyperprior)
def bmshj2018_hyperprior(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Scale hyperprior, Ballé et al., ICLR 2018. Qualities 1-8."""
    return create_model("bmshj2018-hyperprior", quality, metric, pretrained, progress, **kwargs)


@register_model(MeanScaleHyperprior)
def mbt2018_mean(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Mean-scale hyperprior, Minnen et al., NeurIPS 2018. Qualities 1-8."""
    return create_model("mbt2018-mean", quality, metric, pretrained, progress, **kwargs)


@register_model(JointAutoregressiveHierarchicalPriors)
def mbt2018(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Joint autoregressive and hierarchical priors, Minnen et al., NeurIPS 2018. Qualities 1-8."""
    return create_model("mbt2018", quality, metric, pretrained, progress, **kwargs)


@register_model(Cheng2020Anchor)
def cheng2020_anchor(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Anchor model of Cheng et al., CVPR 2020 (single Gaussian by default). Qualities 1-6."""
    return create_model("cheng2020-anchor", quality, metric, pretrained, progress, **kwargs)


@register_model(Cheng2020Attention)
def cheng2020_attn(
    quality: int,
    metric: str = "mse",
    pretrained: bool = False,
    progress: bool = True,
    **kwargs: Any,
) -> CompressionModel:
    """Attention model of Cheng et al., CVPR 2020 (single Gaussian by default). Qualities 1-6."""
    return create_model("cheng2020-attn", quality, metric, pretrained, progress, **kwargs)


# Architectures CompressAI registers as models but publishes no qualities or weights for: their
# checkpoints load by name (``tinify encode --model NAME --checkpoint FILE``).
