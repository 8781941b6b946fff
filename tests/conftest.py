"""Shared pytest configuration: hypothesis profiles and paths to the shared and reference data."""

from __future__ import annotations

import functools
import http.server
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "slow", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
REFERENCE = ROOT / "tests" / "data" / "reference"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder beside the checkout (skips the test when it is absent)."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``tests/data/reference``: copies of the small CompressAI 1.2.8 tables the tests check
    against (state-dict shapes and dtypes, pretrained URLs, the scale table, published results),
    so they run without the shared folder."""
    return REFERENCE


def pytest_report_header() -> str:
    """Which tinify is under test: the checkout's python/ or an installed wheel."""
    import tinify

    return f"tinify {tinify.__version__} from {Path(tinify.__file__).resolve().parent}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def compressai():  # type: ignore[no-untyped-def]
    """CompressAI 1.2.8 for side-by-side checks (the test is skipped when it is not installed).

    Importing it pulls in torch_geometric, which warns at import time; under
    ``filterwarnings = error`` the import is done with warnings muted.
    """
    import importlib
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = pytest.importorskip("compressai")
        for name in (
            "compressai.ans",
            "compressai.entropy_models",
            "compressai.layers",
            "compressai.ops",
            "compressai.models",
            "compressai.models.utils",
            "compressai.zoo",
        ):
            importlib.import_module(name)
    return module


def scale_ssf_weights(model: Any) -> None:
    """Make a random-init ScaleSpaceFlow code something: latents of a few units, coarse
    hyper-latents, scales around 1.5 and flows of ~0.1 (normalised units)."""
    import torch

    with torch.no_grad():
        for name in ("img", "res", "motion"):
            last = getattr(model, f"{name}_encoder")[6]
            last.weight.mul_(40)
            last.bias.mul_(40)
            hyper = getattr(model, f"{name}_hyperprior")
            hyper.hyper_encoder[4].weight.mul_(30)
            hyper.hyper_encoder[4].bias.mul_(30)
            hyper.hyper_decoder_scale.deconv3.bias.add_(1.5)
        model.motion_decoder[6].weight.mul_(5)


def moving_frames(count: int, size: int = 64, phase: float = 0.0) -> list[Any]:
    """``count`` RGB frames (1, 3, size, size) of a smooth pattern (sines) moving 2 pixels to
    the left per frame: a tiny video sequence."""
    import torch

    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size + 2 * count), indexing="ij")
    base = torch.stack(
        [0.5 + 0.4 * torch.sin(0.11 * xx + 0.07 * yy + c + phase) for c in (0, 1, 2)]
    )
    return [base[None, :, :, 2 * t : 2 * t + size].contiguous() for t in range(count)]


@pytest.fixture(scope="session")
def frames_moving() -> Callable[..., list[Any]]:
    """:func:`moving_frames`, for tests that write small sequences."""
    return moving_frames


@pytest.fixture(scope="session")
def scale_ssf() -> Callable[[Any], None]:
    """:func:`scale_ssf_weights`, for tests that build their own model."""
    return scale_ssf_weights


@dataclass
class LocalServer:
    """An HTTP server on 127.0.0.1: ``url`` (no trailing slash) serves the files of ``root``;
    ``requests`` lists the requests answered (``"GET /path"``), in order."""

    url: str
    root: Path
    requests: list[str] = field(default_factory=list)


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[LocalServer]:
    """A :class:`LocalServer` serving a fresh, empty folder (no network beyond the loopback)."""
    root = tmp_path / "served"
    root.mkdir()
    requests: list[str] = []

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            requests.append(f"{self.command} {self.path}")

    class QuietServer(http.server.ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client hanging up early (a refused download) is no server error

    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield LocalServer(f"http://127.0.0.1:{httpd.server_address[1]}", root, requests)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_torchrun(
    module: str, args: Sequence[str], cwd: Path, nproc: int = 2, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m torch.distributed.run --nproc_per_node NPROC -m MODULE ARGS`` on one node
    (CPU processes talk over gloo on a free local port); output captured, never raises."""
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes", "1", "--nproc_per_node", str(nproc),
        "--master_addr", "127.0.0.1", "--master_port", str(_free_port()),
        "-m", module, *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="session")
def torchrun() -> Callable[..., subprocess.CompletedProcess[str]]:
    """:func:`run_torchrun`: ``torchrun(module, args, cwd, nproc=2)`` (skips without
    torch.distributed)."""
    import torch

    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    return run_torchrun
