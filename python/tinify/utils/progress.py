# SPDX-License-Identifier: Apache-2.0
"""Progress of long coding jobs, reported without threading a callback through every call.

Library loops that can run for a long time (tiles of a large image, wavefronts of an
autoregressive decode, frames of a video) call :func:`report` after each unit of work. By
default nothing listens and :func:`report` costs one context-variable lookup. A front end (the
``tinify`` command's progress bar) listens with :func:`listen`::

    with listen(lambda stage, done, total: print(stage, done, total)):
        model.compress(x)

The listener is a context variable, so concurrent calls in other threads or tasks do not see
each other's listeners, and the library never holds state on a shared model.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["ProgressListener", "listen", "report"]

#: ``listener(stage, done, total)``: ``stage`` names the loop (``"analysis tiles"``,
#: ``"synthesis tiles"``, ``"wavefronts"``, ``"frames"``...), ``done`` of ``total`` units are
#: finished (``total`` is 0 when unknown).
ProgressListener = Callable[[str, int, int], None]

_listener: ContextVar[ProgressListener | None] = ContextVar("tinify_progress", default=None)


@contextmanager
def listen(listener: ProgressListener | None) -> Iterator[None]:
    """Send the :func:`report` calls made inside the ``with`` block (in this context) to
    ``listener``; ``None`` silences them."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)


def report(stage: str, done: int, total: int = 0) -> None:
    """Tell the current listener, if any, that ``done`` of ``total`` units of ``stage`` are
    finished."""
    listener = _listener.get()
    if listener is not None:
        listener(stage, done, total)
