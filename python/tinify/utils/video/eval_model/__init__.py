# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.video.eval_model``: CompressAI's video evaluation command (names in
:mod:`.__main__`; the work is :mod:`tinify.codec.video_evaluate`)."""

from __future__ import annotations
