"""Every public module and name of CompressAI 1.2.8 exists at the same path under ``tinify``.

``tests/data/compressai-1.2.8-public-names.json`` lists, for every public module of CompressAI
1.2.8, its public names. A port replaces ``compressai`` by ``tinify``; this test imports every
module and looks up every name there, except two documented sets:

- :data:`POINT_CLOUD`: CompressAI's point-cloud models, losses, datasets and transforms. Out of
  scope for tinify, permanently.
- :data:`PENDING`: names owned by work in progress. The test *fails* if a pending name
  resolves, so the set shrinks as the work lands and cannot go stale.

It also checks that re-exports are one object (no second copy of anything), and, where
CompressAI is installed, that signatures match: the same parameter names, kinds and defaults
(tinify may add parameters with defaults).
"""

from __future__ import annotations

import importlib
import inspect
import json
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch

NAMES: dict[str, list[str]] = json.loads(
    (Path(__file__).parent / "data" / "compressai-1.2.8-public-names.json").read_text()
)

#: CompressAI's point-cloud names: out of scope for tinify (permanent).
POINT_CLOUD = frozenset(
    {
        "ChamferPccRateDistortionLoss",
        "DensityPreservingReconstructionPccModel",
        "GeneratePositionNormals",
        "ModelNetDataset",
        "NormalizeScaleV2",
        "PointNet2SsgReconstructionPccModel",
        "PointNetReconstructionPccModel",
        "RandomPermutation",
        "RandomRotateFull",
        "RandomSample",
        "RateDistortionLoss_hrtzxf2022",
        "S3disDataset",
        "SamplePointsV2",
        "SemanticKittiDataset",
        "ShapeNetCorePartDataset",
        "ToDict",
        "chamfer_distance",
    }
)

#: Work in progress, by owner: a module path (the module and all its names) or "module:name".
#: Remove entries as they land; a pending entry that resolves fails the test.
PENDING: dict[str, frozenset[str]] = {
    "vbr": frozenset(
        {
            "compressai.entropy_models.entropy_models_vbr",
            "compressai.models.vbr",
            "compressai.zoo.image_vbr",
            "compressai.entropy_models:EntropyBottleneckVbr",
            "compressai.entropy_models:EntropyModelVbr",
            "compressai.models:EntropyBottleneckVbr",
            "compressai.models:JointAutoregressiveHierarchicalPriorsVbr",
            "compressai.models:MeanScaleHyperpriorVbr",
            "compressai.models:ScaleHyperpriorVbr",
            "compressai.zoo:bmshj2018_hyperprior_vbr",
            "compressai.zoo:mbt2018_mean_vbr",
            "compressai.zoo:mbt2018_vbr",
        }
    ),
}
ALL_PENDING = frozenset().union(*PENDING.values())

#: CompressAI parameters that tinify takes differently, on purpose (see the notes).
SIGNATURE_EXCEPTIONS = {
    # CompressAI passes **kwargs to CompressionModel; tinify's take named keyword-only options
    # (entropy_model, K, context_order) and pass nothing else on.
    "Cheng2020Anchor",
    "Cheng2020Attention",
    "JointAutoregressiveHierarchicalPriors",
    # A bound method of a torch-free C++ class in CompressAI: no signature to compare.
    "RansEncoder",
    # ``typing.Callable`` there, ``collections.abc.Callable`` here.
    "TTransform",
}

#: Methods that differ on purpose: tinify's mixture streams are its own (see the README), and
#: CompressAI's EntropyModel.forward is a placeholder raising NotImplementedError.
METHOD_EXCEPTIONS = {
    "EntropyModel.forward",
    "GaussianMixtureConditional.compress",
    "GaussianMixtureConditional.decompress",
    "GaussianMixtureConditional.reshape_entropy_parameters",
    # CompressAI forwards (*args, **kwargs) to the latent codec; tinify names what it takes
    # (strings, shape, x_size) so calls like decompress(**compress(x)) crop the padding off.
    "SimpleVAECompressionModel.decompress",
}

#: Signature differences owned by work in progress (name -> owner); a pending one that matches
#: fails the test, so remove it when it is fixed.
PENDING_SIGNATURES: dict[str, str] = {}


def tinify_path(module: str) -> str:
    assert module == "compressai" or module.startswith("compressai.")
    return "tinify" + module[len("compressai") :]


def is_pending(module: str, name: str | None = None) -> bool:
    return module in ALL_PENDING or (name is not None and f"{module}:{name}" in ALL_PENDING)


def import_module(path: str) -> ModuleType:
    with warnings.catch_warnings():
        # tinify.models.priors is deprecated (a DeprecationWarning on import), as in CompressAI.
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(path)


def test_reference_table_and_sets_are_consistent() -> None:
    assert len(NAMES) > 80 and "compressai.models.google" in NAMES
    every_name = {n for names in NAMES.values() for n in names}
    assert POINT_CLOUD <= every_name
    for entry in ALL_PENDING:
        module, _, name = entry.partition(":")
        assert module in NAMES, entry
        assert not name or name in NAMES[module], entry
        assert not name or name not in POINT_CLOUD, entry


@pytest.mark.parametrize("module", sorted(NAMES))
def test_module_and_names_exist(module: str) -> None:
    path = tinify_path(module)
    if is_pending(module):
        with pytest.raises(ImportError):
            import_module(path)
        pytest.skip(f"{path}: pending")
    mod = import_module(path)
    missing = []
    resolved_pending = []
    for name in NAMES[module]:
        if name in POINT_CLOUD:
            assert not hasattr(mod, name), f"{path}.{name} is point-cloud, out of scope"
        elif is_pending(module, name):
            if hasattr(mod, name):
                resolved_pending.append(name)
        elif not hasattr(mod, name):
            missing.append(name)
    assert not missing, f"{path} lacks {missing}"
    assert not resolved_pending, f"{path}: {resolved_pending} exist now; remove them from PENDING"


@pytest.mark.parametrize("module", sorted(m for m in NAMES if not is_pending(m)))
def test_star_import(module: str) -> None:
    """``from tinify.X import *`` works: every name in ``__all__`` exists."""
    mod = import_module(tinify_path(module))
    names = getattr(mod, "__all__", None)
    if names is not None:
        missing = [n for n in names if not hasattr(mod, n)]
        assert not missing, f"{mod.__name__}.__all__ lists missing {missing}"


def _resolved() -> dict[str, list[tuple[str, Any]]]:
    """name -> [(tinify module path, object)] over every module that has it."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for module, names in NAMES.items():
        if is_pending(module) or module.startswith("compressai.utils"):
            continue  # the CLI modules have unrelated helpers of the same names
        mod = import_module(tinify_path(module))
        for name in names:
            if hasattr(mod, name):
                out.setdefault(name, []).append((mod.__name__, getattr(mod, name)))
    return out


def test_reexports_are_one_object() -> None:
    for name, found in _resolved().items():
        first = found[0][1]
        for path, obj in found[1:]:
            assert obj is first, f"{path}.{name} is not {found[0][0]}.{name}"


def _comparable(obj: Any) -> inspect.Signature | None:
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return None
        if issubclass(obj, torch.autograd.Function):
            obj = obj.forward
        else:
            obj = obj.__init__
    if not callable(obj):
        return None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [p for p in sig.parameters.values() if p.name not in ("self", "ctx")]
    return sig.replace(parameters=params)


def _signature_problems(name: str, theirs: inspect.Signature, ours: inspect.Signature) -> list[str]:
    problems = []
    implicit = ("self", "cls", "ctx")
    ours_params = {k: v for k, v in ours.parameters.items() if k not in implicit}
    for p in theirs.parameters.values():
        if p.name in implicit:
            continue
        q = ours_params.pop(p.name, None)
        if q is None:
            problems.append(f"{name}: no parameter {p.name!r}")
        elif q.kind != p.kind:
            problems.append(f"{name}: {p.name!r} is {q.kind.description}, not {p.kind}")
        elif p.default is not inspect.Parameter.empty and q.default != p.default:
            problems.append(f"{name}: {p.name!r} defaults to {q.default!r}, not {p.default!r}")
    for q in ours_params.values():
        extra_ok = q.default is not inspect.Parameter.empty or q.kind in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        )
        if not extra_ok:
            problems.append(f"{name}: extra required parameter {q.name!r}")
    return problems


def test_signatures_match_compressai() -> None:
    pytest.importorskip("compressai")
    problems = []
    for name, found in _resolved().items():
        module = "compressai" + found[0][0][len("tinify") :]
        if name in SIGNATURE_EXCEPTIONS:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = _comparable(getattr(importlib.import_module(module), name))
        ours = _comparable(found[0][1])
        if theirs is None or ours is None:
            continue
        found_problems = _signature_problems(name, theirs, ours)
        if name in PENDING_SIGNATURES:
            assert found_problems, f"{name} matches now; remove it from PENDING_SIGNATURES"
        else:
            problems += found_problems
    assert not problems, "\n".join(problems)


def test_methods_match_compressai() -> None:
    """Public methods CompressAI's classes define exist on tinify's, with compatible signatures."""
    pytest.importorskip("compressai")
    problems = []
    for name, found in _resolved().items():
        ours = found[0][1]
        if not inspect.isclass(ours) or issubclass(ours, BaseException):
            continue
        if name in SIGNATURE_EXCEPTIONS or name in PENDING_SIGNATURES:
            continue
        module = "compressai" + found[0][0][len("tinify") :]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            theirs = getattr(importlib.import_module(module), name)
        for attr, fn in vars(theirs).items():
            qualified = f"{name}.{attr}"
            if attr.startswith("_") or qualified in METHOD_EXCEPTIONS:
                continue
            if isinstance(fn, (staticmethod, classmethod)):
                fn = fn.__func__
            if not callable(fn):
                continue
            mine = getattr(ours, attr, None)
            if mine is None:
                problems.append(f"{qualified}: missing")
                continue
            try:
                their_sig, our_sig = inspect.signature(fn), inspect.signature(mine)
            except (TypeError, ValueError):
                continue
            problems += _signature_problems(qualified, their_sig, our_sig)
    assert not problems, "\n".join(problems)
