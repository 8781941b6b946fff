# SPDX-License-Identifier: Apache-2.0
"""CompressAI's video commands: ``python -m tinify.utils.video.eval_model``, ``video.bench``
and ``video.plot``. (The video readers and writers are :mod:`tinify.io.video`.)"""

from __future__ import annotations
