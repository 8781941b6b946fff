# SPDX-License-Identifier: Apache-2.0
"""Optimizers for learned codecs: the main network and the auxiliary (quantile) parameters.

Entropy bottlenecks (Ballé et al., ICLR 2018) carry ``quantiles`` that are trained only by the
auxiliary loss :meth:`~tinify.models.CompressionModel.aux_loss`, usually with a larger learning
rate, so they get an optimizer of their own (CompressAI's ``net_aux_optimizer``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from tinify.exceptions import ParameterError, UnknownOptimizerError

__all__ = [
    "AUX_SUFFIX",
    "UnknownOptimizerError",
    "configure_optimizers",
    "net_aux_optimizer",
    "net_optimizer",
    "split_parameters",
]

#: Parameters whose name ends with this are auxiliary.
AUX_SUFFIX = ".quantiles"


def split_parameters(net: nn.Module) -> tuple[dict[str, nn.Parameter], dict[str, nn.Parameter]]:
    """Split the trainable parameters of ``net`` into ``(main, aux)`` by name.

    ``aux`` holds the parameters whose name ends with ``".quantiles"``, ``main`` all the others.

    Raises:
        AssertionError: the two sets overlap or miss a trainable parameter (for instance a
            parameter shared under two names that fall on different sides).
    """
    main: dict[str, nn.Parameter] = {}
    aux: dict[str, nn.Parameter] = {}
    for name, param in net.named_parameters(remove_duplicate=False):
        if param.requires_grad:
            (aux if name.endswith(AUX_SUFFIX) else main)[name] = param
    main_ids = {id(p) for p in main.values()}
    aux_ids = {id(p) for p in aux.values()}
    all_ids = {id(p) for p in net.parameters() if p.requires_grad}
    assert not main_ids & aux_ids, "a parameter is both main and auxiliary"
    assert main_ids | aux_ids == all_ids, "some trainable parameters are in neither group"
    return _dedup(main), _dedup(aux)


def _dedup(params: dict[str, nn.Parameter]) -> dict[str, nn.Parameter]:
    """Keep the first name of parameters registered under several names."""
    seen: set[int] = set()
    out: dict[str, nn.Parameter] = {}
    for name, param in params.items():
        if id(param) not in seen:
            seen.add(id(param))
            out[name] = param
    return out


def _build(params: dict[str, nn.Parameter], conf: Mapping[str, Any]) -> torch.optim.Optimizer:
    """The optimizer ``conf["type"]`` (default ``"Adam"``) over ``params`` sorted by name (the
    order of CompressAI's optimizers, so their optimizer state dicts load)."""
    from tinify.registry import OPTIMIZERS  # here: the registry imports this package's models

    kwargs = dict(conf)
    kind = kwargs.pop("type", "Adam")
    cls = OPTIMIZERS.get(kind)
    if cls is None or kind in ("Optimizer", "net", "net_aux"):
        raise UnknownOptimizerError(
            f"unknown optimizer type {kind!r} (a torch.optim class name or a name registered "
            "with tinify.registry.register_optimizer)"
        )
    return cls((params[name] for name in sorted(params)), **kwargs)


def net_aux_optimizer(
    net: nn.Module, conf: Mapping[str, Mapping[str, Any]]
) -> dict[str, torch.optim.Optimizer]:
    """Build ``{"net": optimizer of the main parameters, "aux": optimizer of the quantiles}``.

    Args:
        net: the model.
        conf: ``{"net": {"type": "Adam", "lr": 1e-4}, "aux": {"type": "Adam", "lr": 1e-3}}``;
            ``type`` names a ``torch.optim`` class, the other keys are its arguments.

    Parameters are passed to each optimizer sorted by name, as CompressAI does.

    Raises:
        ParameterError: ``net`` has no auxiliary parameters.
        UnknownOptimizerError: an unknown optimizer type (a ``KeyError`` and a ``ValueError``).
    """
    main, aux = split_parameters(net)
    if not aux:
        raise ParameterError("the model has no auxiliary (.quantiles) parameters")
    return {"net": _build(main, conf["net"]), "aux": _build(aux, conf["aux"])}


def net_optimizer(
    net: nn.Module, conf: Mapping[str, Mapping[str, Any]]
) -> dict[str, torch.optim.Optimizer]:
    """Build ``{"net": one optimizer of every trainable parameter}``.

    Args:
        net: the model.
        conf: ``{"net": {"type": "Adam", "lr": 1e-4}}`` (see :func:`net_aux_optimizer`).

    Raises:
        UnknownOptimizerError: an unknown optimizer type.
    """
    params = dict(net.named_parameters())
    trainable = {name: p for name, p in params.items() if p.requires_grad}
    return {"net": _build(trainable, conf["net"])}


def configure_optimizers(
    net: nn.Module, lr: float = 1e-4, aux_lr: float = 1e-3
) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """Adam for the main parameters (``lr``) and for the quantiles (``aux_lr``)."""
    optimizers = net_aux_optimizer(
        net, {"net": {"type": "Adam", "lr": lr}, "aux": {"type": "Adam", "lr": aux_lr}}
    )
    return optimizers["net"], optimizers["aux"]
