# SPDX-License-Identifier: Apache-2.0
"""Clips of consecutive video frames for training video codecs (CompressAI's ``VideoFolder``).

Every item is ``num_frames`` frames (a pair or a triplet, say) from one sequence, with one crop
and flip shared by all of them, as a list of (3, h, w) tensors; the default ``DataLoader``
collation turns a batch into the list of (B, 3, h, w) tensors that
:meth:`tinify.models.video.ScaleSpaceFlow.forward` takes::

    from tinify.datasets.video import VideoFolder
    clips = VideoFolder("../shared/data/video", num_frames=3, patch_size=256)
    frames = next(iter(torch.utils.data.DataLoader(clips, batch_size=4, shuffle=True)))
    out = model(frames)                     # frames: [x_0, x_1, x_2], each (4, 3, 256, 256)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Union

import torch
from torch import Tensor
from torch.utils.data import Dataset

from tinify.datasets.transforms import Compose, RandomCrop, ToTensor
from tinify.exceptions import MissingFileError, ParameterError
from tinify.io.image import IMAGE_EXTENSIONS, pil_to_tensor, read_image

__all__ = ["VideoFolder"]

PathLike = Union[str, Path]


def _frames(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
    )


class VideoFolder(Dataset):
    """Windows of consecutive frames from folders of frame images.

    Layouts:

    - CompressAI's (Vimeo-90k style): ``root/<split>.list`` names one sequence folder per line,
      relative to ``root/sequences``;
    - otherwise every sub-folder of ``root/<split>`` (or of ``root`` when that does not exist)
      that holds frame images is a sequence, and a ``root`` holding frames itself is one
      sequence. Frames are taken in file-name order.

    Items are all windows of ``num_frames`` consecutive frames (index ``i`` is a fixed sequence
    and start frame), so a 16-frame sequence gives 14 triplets.

    Args:
        root: the dataset folder.
        rnd_interval: take every ``k``-th frame, ``k`` drawn uniformly from 1 to
            ``max_interval`` (as far as the sequence is long enough); the window moves back if
            it would run past the end.
        rnd_temp_order: reverse the frame order with probability 1/2.
        transform: applied to the window as one (3 * num_frames, H, W) uint8 tensor (so a random
            crop or flip is shared by every frame); it must return a float tensor of the same
            layout. Default: :class:`~tinify.datasets.transforms.RandomCrop` of ``patch_size``
            (when given), then :class:`~tinify.datasets.transforms.ToTensor`.
        split: ``"train"``, ``"test"``, ... (see the layouts).
        num_frames: frames per item (at least 1).
        max_interval: largest frame step for ``rnd_interval``.
        patch_size: crop size of the default transform (``int`` or ``(h, w)``); None keeps the
            whole frames.

    All randomness (crops, intervals, order) comes from torch's global generator, so seeding
    torch (or wrapping the dataset in :class:`tinify.datasets.SeededDataset`) makes items
    reproducible.

    Raises:
        MissingFileError: no sequence with at least ``num_frames`` frames.
    """

    def __init__(
        self,
        root: PathLike,
        rnd_interval: bool = False,
        rnd_temp_order: bool = False,
        transform: Callable[[Tensor], Tensor] | None = None,
        split: str = "train",
        num_frames: int = 3,
        max_interval: int = 3,
        patch_size: int | Sequence[int] | None = None,
    ) -> None:
        if num_frames < 1 or max_interval < 1:
            raise ParameterError("num_frames and max_interval must be >= 1")
        root = Path(root)
        self.sequences = self._sequence_folders(root, split)
        self.frame_paths = [_frames(s) for s in self.sequences]
        keep = [i for i, f in enumerate(self.frame_paths) if len(f) >= num_frames]
        self.sequences = [self.sequences[i] for i in keep]
        self.frame_paths = [self.frame_paths[i] for i in keep]
        if not self.sequences:
            raise MissingFileError(f"no sequence of at least {num_frames} frames under {root}")
        # item -> (sequence, first frame)
        self.windows = [
            (s, start)
            for s, paths in enumerate(self.frame_paths)
            for start in range(len(paths) - num_frames + 1)
        ]
        if transform is None:
            steps: list[Callable[[Tensor], Tensor]] = []
            if patch_size is not None:
                steps.append(RandomCrop(patch_size))
            transform = Compose([*steps, ToTensor()])
        self.transform = transform
        self.num_frames = int(num_frames)
        self.max_interval = int(max_interval)
        self.rnd_interval = rnd_interval
        self.rnd_temp_order = rnd_temp_order

    @staticmethod
    def _sequence_folders(root: Path, split: str) -> list[Path]:
        listing = root / f"{split}.list"
        if listing.is_file():
            names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
            return [root / "sequences" / name for name in names]
        base = root / split if (root / split).is_dir() else root
        if not base.is_dir():
            raise MissingFileError(f"invalid directory {base}")
        if _frames(base):
            return [base]
        return sorted(p for p in base.iterdir() if p.is_dir() and _frames(p))

    def _window(self, index: int) -> list[Path]:
        seq, start = self.windows[index]
        paths = self.frame_paths[seq]
        step = 1
        if self.rnd_interval and self.num_frames > 1:
            longest = (len(paths) - 1) // (self.num_frames - 1)
            top = max(1, min(self.max_interval, longest))
            step = int(torch.randint(1, top + 1, ()).item())
        start = min(start, len(paths) - 1 - step * (self.num_frames - 1))
        return paths[start : start + step * self.num_frames : step]

    def __getitem__(self, index: int) -> list[Tensor]:
        """The ``index``-th window: a list of ``num_frames`` (3, h, w) float tensors."""
        frames = []
        for path in self._window(index):
            frames.append(pil_to_tensor(read_image(path)))
        if any(f.shape != frames[0].shape for f in frames):
            raise ParameterError(
                f"frames of {self.sequences[self.windows[index][0]]} differ in size"
            )
        clip = self.transform(torch.cat(frames, dim=0))
        out = list(clip.chunk(self.num_frames, dim=0))
        if self.rnd_temp_order and bool(torch.rand(()) < 0.5):
            out.reverse()
        return out

    def __len__(self) -> int:
        return len(self.windows)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({len(self.sequences)} sequences, {len(self)} windows of "
            f"{self.num_frames} frames)"
        )
