# SPDX-License-Identifier: Apache-2.0
"""What ``tinify encode`` and ``tinify decode`` tell the user while and after they work.

- A progress bar per stage (``"analysis tiles"``, ``"wavefronts"``, ``"synthesis tiles"``,
  ``"frames"``...) fed by :func:`tinify.utils.progress.report`: drawn with tqdm on standard error
  when tqdm is installed, when standard error is a terminal (or when forced with
  ``--progress``), and only for a stage still running :data:`AUTO_DELAY` seconds after it began,
  so short jobs print no bar.
- ``--quiet``: nothing on standard error but the error line of a failure (no bar, no notes, no
  summary line); exit statuses are unchanged.
- ``-v``: after the job, one line with the wall and CPU time and the peak memory (the process's
  maximum resident set size, ``getrusage(RUSAGE_SELF).ru_maxrss``: everything the process held
  at its peak, the interpreter, torch, the weights and the coding; plus the CUDA allocator's
  peak when the job ran on a GPU).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from tinify.utils.progress import listen

__all__ = ["AUTO_DELAY", "ProgressBars", "job_feedback", "peak_memory_bytes", "usage_line"]

#: Seconds a stage must have run before its bar appears when the bar is not forced.
AUTO_DELAY = 0.5


class ProgressBars:
    """A :mod:`tinify.utils.progress` listener drawing one tqdm bar per stage on ``file``.

    A stage's bar is created at its first report once the stage has run ``delay`` seconds, is
    reset when the stage starts over (``done`` going back, e.g. the next latent or batch item),
    and closed when ``done`` reaches ``total``. Stages reported at the same time get bars on
    separate lines. Without tqdm installed it draws nothing.
    """

    def __init__(self, file: IO[str], delay: float = 0.0) -> None:
        self.file = file
        self.delay = delay
        self._bars: dict[str, Any] = {}
        self._started: dict[str, float] = {}
        self._last: dict[str, int] = {}
        try:
            from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            self._tqdm: Any = None
        else:
            self._tqdm = tqdm

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self._tqdm is None:
            return
        now = time.monotonic()
        if done < self._last.get(stage, 0) or stage not in self._started:
            self._started[stage] = now  # a new run of the stage
            bar = self._bars.pop(stage, None)
            if bar is not None:
                bar.close()
        self._last[stage] = done
        finished = total > 0 and done >= total
        bar = self._bars.get(stage)
        if bar is None:
            if finished or now - self._started[stage] < self.delay:
                return
            bar = self._tqdm(
                total=total or None,
                initial=0,
                desc=stage,
                unit=stage.split()[-1].rstrip("s"),  # "wavefront", "tile", "frame"
                file=self.file,
                leave=False,
                dynamic_ncols=True,
            )
            self._bars[stage] = bar
        bar.update(done - bar.n)
        if finished:
            bar.close()
            del self._bars[stage]

    def close(self) -> None:
        """Close every open bar (at the end of the job, or on an error)."""
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


def peak_memory_bytes() -> int | None:
    """The process's peak resident set size in bytes (``ru_maxrss``: KiB on Linux, bytes on
    macOS), or ``None`` where :mod:`resource` is missing (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _cuda_peak_bytes() -> int | None:
    torch = sys.modules.get("torch")  # never import torch just to ask
    if torch is None or not torch.cuda.is_available() or not torch.cuda.is_initialized():
        return None
    return int(torch.cuda.max_memory_allocated())


def usage_line(command: str, wall: float, cpu: float) -> str:
    """``-v``'s line: wall and CPU seconds and the peak memory of this process."""
    parts = [f"{command}: {wall:.2f} s wall, {cpu:.2f} s CPU"]
    peak = peak_memory_bytes()
    if peak is not None:
        parts.append(f"peak resident memory {peak / 2**20:.0f} MiB (ru_maxrss of the process)")
    cuda = _cuda_peak_bytes()
    if cuda is not None:
        parts.append(f"peak CUDA memory {cuda / 2**20:.0f} MiB (torch allocator)")
    return ", ".join(parts)


@contextlib.contextmanager
def job_feedback(
    command: str, *, quiet: bool = False, verbose: bool = False, progress: bool | None = None
) -> Iterator[None]:
    """Run a coding job with the feedback its options ask for.

    Args:
        command: the name printed before ``-v``'s line, e.g. ``"tinify encode"``.
        quiet: send the job's standard error (notes, summary line, warnings) to nothing; the
            caller prints the error line of a failure after the block.
        verbose: print :func:`usage_line` after the job (also after a failed one).
        progress: ``True`` draws bars even when standard error is not a terminal, ``False``
            never, ``None`` when it is a terminal (after :data:`AUTO_DELAY` seconds per stage).
    """
    stderr = sys.stderr
    delay = 0.0
    if quiet:
        progress = False
    elif progress is None:
        progress, delay = stderr.isatty(), AUTO_DELAY
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    bars = ProgressBars(stderr, delay)
    with contextlib.ExitStack() as stack:
        if quiet:
            devnull = stack.enter_context(open(os.devnull, "w"))
            stack.enter_context(contextlib.redirect_stderr(devnull))
        if progress:
            stack.callback(bars.close)
            stack.enter_context(listen(bars))
        try:
            yield
        finally:
            stack.close()
            if verbose:
                wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
                print(usage_line(command, wall, cpu), file=stderr)
