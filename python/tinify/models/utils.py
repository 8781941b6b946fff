# SPDX-License-Identifier: Apache-2.0
"""Helpers for writing models: CompressAI's ``compressai.models.utils``.

- :func:`find_named_module`, :func:`find_named_buffer`: look a submodule or buffer up by its
  dotted name.
- :func:`update_registered_buffers`: size a module's (empty) buffers after a state dict, so
  that ``load_state_dict`` can copy tables whose shape is only known from the checkpoint.
  Most CompressAI-based models call it in their ``load_state_dict``; with tinify's entropy
  models it is not needed (their table buffers take the checkpoint's shapes by themselves),
  but it still works.
- :func:`remap_old_keys`: rename the old entropy-bottleneck parameter names of one module.
- :func:`conv`, :func:`deconv`: the strided convolution helpers (:mod:`tinify.layers.conv`).
- :func:`gaussian_kernel1d`, :func:`gaussian_kernel2d`, :func:`gaussian_blur`,
  :func:`meshgrid2d`: the Gaussian blur and sampling grid of the scale-space flow model
  (:mod:`tinify.models.video.scale_space`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn

from tinify.exceptions import BufferRegistrationError, ParameterError
from tinify.layers.conv import conv, deconv
from tinify.models.base import rename_key
from tinify.models.video.scale_space import (
    gaussian_blur,
    gaussian_kernel1d,
    gaussian_kernel2d,
    meshgrid2d,
)

__all__ = [
    "BUFFER_POLICIES",
    "BufferRegistrationError",
    "conv",
    "deconv",
    "find_named_buffer",
    "find_named_module",
    "gaussian_blur",
    "gaussian_kernel1d",
    "gaussian_kernel2d",
    "meshgrid2d",
    "remap_old_keys",
    "update_registered_buffers",
]

#: The ``policy`` values of :func:`update_registered_buffers`.
BUFFER_POLICIES = ("resize_if_empty", "resize", "register")


def find_named_module(module: nn.Module, query: str) -> nn.Module | None:
    """The submodule of ``module`` named ``query`` (dotted, ``""`` is ``module``), or None."""
    return next((m for name, m in module.named_modules() if name == query), None)


def find_named_buffer(module: nn.Module, query: str) -> Tensor | None:
    """The buffer of ``module`` named ``query`` (dotted: ``"gaussian_conditional.scale_table"``),
    or None."""
    return next((b for name, b in module.named_buffers() if name == query), None)


def update_registered_buffers(
    module: nn.Module,
    module_name: str,
    buffer_names: Iterable[str],
    state_dict: Mapping[str, Any],
    policy: str = "resize_if_empty",
    dtype: torch.dtype = torch.int,
) -> None:
    """Give buffers of ``module`` the shapes of their ``module_name.NAME`` entries in a state dict.

    ``nn.Module.load_state_dict`` copies into existing buffers and fails on a shape mismatch;
    coding tables (``_quantized_cdf``, ``_offset``, ``_cdf_length``, ``scale_table``) are empty
    until ``update()`` and their size depends on the trained model. Call this before loading.

    Args:
        module: The module owning the buffers (e.g. ``model.entropy_bottleneck``).
        module_name: Its name in ``state_dict`` (e.g. ``"entropy_bottleneck"``).
        buffer_names: Names of buffers of ``module`` to size.
        state_dict: The state dict to be loaded.
        policy: ``"resize_if_empty"`` resizes only empty buffers, ``"resize"`` every one,
            ``"register"`` registers new zero buffers of ``dtype`` (they must not exist yet).
        dtype: dtype of the buffers created by ``"register"``.

    Raises:
        ParameterError: (a ``ValueError``) a name that is not a buffer of ``module`` (with the
            resize policies), or an unknown ``policy``.
        BufferRegistrationError: (a ``RuntimeError``) ``"register"`` of a buffer that exists.
        KeyError: ``state_dict`` has no ``module_name.NAME`` entry.
    """
    names = list(buffer_names)
    if policy not in BUFFER_POLICIES:
        raise ParameterError(f"policy must be one of {BUFFER_POLICIES}, got {policy!r}")
    registered = dict(module.named_buffers())
    if policy != "register":
        unknown = [n for n in names if n not in registered]
        if unknown:
            raise ParameterError(
                f"{type(module).__name__} has no buffer named {unknown[0]!r} "
                f"(buffers: {sorted(registered)})"
            )
    for name in names:
        size = state_dict[f"{module_name}.{name}"].size()
        buffer = registered.get(name)
        if policy == "register":
            if buffer is not None:
                raise BufferRegistrationError(f"buffer {name!r} is already registered")
            module.register_buffer(name, torch.zeros(size, dtype=dtype))
        elif buffer is None:  # pragma: no cover - excluded by the check above
            raise BufferRegistrationError(f"buffer {name!r} is not registered")
        elif policy == "resize" or buffer.numel() == 0:
            buffer.resize_(size)


def remap_old_keys(module_name: str, state_dict: Mapping[str, Any]) -> OrderedDict[str, Any]:
    """Rename old entropy-bottleneck parameter names under ``module_name`` (a new dict).

    ``module_name._matrixN`` / ``_biasN`` / ``_factorN`` (2021-2024) and
    ``module_name._matrices.N`` / ``_biases.N`` / ``_factors.N`` (2020) become
    ``module_name.matrices.N`` / ``biases.N`` / ``factors.N``; other keys are kept as they are.
    (:meth:`tinify.models.CompressionModel.load_state_dict` applies the same renaming to every
    entropy bottleneck of a model.)
    """
    prefix = f"{module_name}."
    out: OrderedDict[str, Any] = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(prefix):
            key = rename_key(key, bottleneck_prefixes=(prefix,))
        out[key] = value
    return out
