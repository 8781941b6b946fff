# SPDX-License-Identifier: Apache-2.0
"""Reading and writing images and clips.

- :mod:`tinify.io.image`: images (Pillow) to and from tensors, dataset listing, clip dispatch,
  output checks and all-or-nothing outputs.
- :mod:`tinify.io.video`: video files (PNG frame folders, Y4M, raw YUV 4:2:0) and the BT.709
  colour conversions.

The submodules import torch; import them directly (``from tinify.io.image import read_image``).
"""

from __future__ import annotations
