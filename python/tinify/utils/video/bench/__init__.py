# SPDX-License-Identifier: Apache-2.0
"""``python -m tinify.utils.video.bench``: CompressAI's video-codec benchmark command (classes
in :mod:`.codecs`, command in :mod:`.__main__`; the work is :mod:`tinify.codec.video_baselines`)."""

from __future__ import annotations
