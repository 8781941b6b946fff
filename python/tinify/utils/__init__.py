# SPDX-License-Identifier: Apache-2.0
"""Utilities.

- :mod:`tinify.utils.metrics`: PSNR and MS-SSIM on 8-bit values.
- :mod:`tinify.utils.bdrate`: Bjøntegaard delta rate and PSNR.
- :mod:`tinify.utils.files`: atomic writes and file hashes.
- :mod:`tinify.utils.distributed`: joining ``torchrun`` and splitting work over its ranks.

CompressAI 1.2.8's commands, ``python -m tinify.utils.<name>`` with CompressAI's arguments and
JSON layout (each a package whose ``__main__`` holds CompressAI's names and ``main(argv)``):
``eval_model``, ``update_model``, ``bench``, ``find_close``, ``plot``, ``video.eval_model``,
``video.bench``, ``video.plot``. They share their code with the ``tinify`` command
(:mod:`tinify.codec`).
"""

from __future__ import annotations
