"""ImageFolder, the torch-only transforms, and the resumable, seeded sampling."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from tinify.datasets import ImageFolder, ResumableSampler, SeededDataset, sample_seed
from tinify.datasets import transforms as T
from tinify.exceptions import TinifyError


def test_image_folder_sorted_rgb(image_dir: Path) -> None:
    folder = ImageFolder(image_dir, split=None)  # the folder itself (tinify extension)
    assert len(folder) == 12
    assert [p.name for p in folder.samples] == [f"img{i:02d}.png" for i in range(12)]
    image = folder[0]
    assert isinstance(image, Image.Image) and image.mode == "RGB" and image.size == (48, 40)


def test_image_folder_split_recursive_and_errors(tmp_path: Path) -> None:
    (tmp_path / "train" / "sub").mkdir(parents=True)
    (tmp_path / "test").mkdir()
    Image.new("L", (20, 10)).save(tmp_path / "train" / "a.png")
    Image.new("RGB", (20, 10)).save(tmp_path / "train" / "sub" / "b.JPG")
    (tmp_path / "train" / "notes.txt").write_text("not an image")
    assert len(ImageFolder(tmp_path)) == 1  # CompressAI's default: root/train
    assert len(ImageFolder(tmp_path, split="train")) == 1
    assert len(ImageFolder(tmp_path, split=None, recursive=True)) == 2
    assert ImageFolder(tmp_path, split="train")[0].mode == "RGB"  # grey converted
    assert len(ImageFolder(tmp_path, split="test")) == 0  # empty split: empty dataset
    assert len(ImageFolder(tmp_path, split=None)) == 0  # only sub-folders, not recursive
    with pytest.raises(RuntimeError, match="Missing directory") as info:
        ImageFolder(tmp_path, split="valid")
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, TinifyError)


def test_image_folder_cache_returns_same_image(image_dir: Path) -> None:
    folder = ImageFolder(image_dir, split=None, cache=True)
    assert folder.load(3) is folder.load(3)


def test_transforms_shapes_and_values(image_dir: Path) -> None:
    image = ImageFolder(image_dir, split=None)[0]
    x = T.ToTensor()(image)
    assert x.dtype == torch.float32 and x.shape == (3, 40, 48)
    assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    crop = T.Compose([T.RandomCrop(32), T.RandomHorizontalFlip(), T.ToTensor()])(image)
    assert crop.shape == (3, 32, 32)
    assert T.CenterCrop((16, 24))(x).shape == (3, 16, 24)
    torch.testing.assert_close(T.CenterCrop((40, 48))(x), x)
    # Smaller than the crop: padded first.
    assert T.RandomCrop(64)(image).shape == (3, 64, 64)
    assert T.RandomCrop((50, 100))(x).shape == (3, 50, 100)


def test_random_crop_is_a_window_and_flips_mirror() -> None:
    x = torch.arange(3 * 6 * 7, dtype=torch.float32).reshape(3, 6, 7)
    g = torch.Generator().manual_seed(0)
    for _ in range(10):
        out = T.RandomCrop((4, 5), generator=g)(x)
        top = int(out[0, 0, 0]) // 7
        left = int(out[0, 0, 0]) % 7
        torch.testing.assert_close(out, x[:, top : top + 4, left : left + 5])
    torch.testing.assert_close(T.RandomHorizontalFlip(p=1.0)(x), x.flip(-1))
    torch.testing.assert_close(T.RandomVerticalFlip(p=1.0)(x), x.flip(-2))
    torch.testing.assert_close(T.RandomHorizontalFlip(p=0.0)(x), x)
    with pytest.raises(ValueError):
        T.RandomHorizontalFlip(p=2.0)
    with pytest.raises(TypeError):
        T.ToTensor()([1, 2, 3])  # type: ignore[arg-type]


def test_transforms_follow_torch_seed(image_dir: Path) -> None:
    transform = T.Compose([T.RandomCrop(24), T.RandomHorizontalFlip(), T.ToTensor()])
    image = ImageFolder(image_dir, split=None)[5]
    torch.manual_seed(7)
    a = transform(image)
    torch.manual_seed(7)
    b = transform(image)
    torch.testing.assert_close(a, b)


def test_sampler_shards_cover_the_epoch_and_resume() -> None:
    data = list(range(10))
    full = [i for i, _ in ResumableSampler(data, seed=3)]
    assert sorted(full) == data
    shards = [list(ResumableSampler(data, num_replicas=2, rank=r, seed=3)) for r in range(2)]
    interleaved = [item for pair in zip(*shards) for item in pair]
    assert interleaved == list(ResumableSampler(data, seed=3))  # same items and seeds
    sampler = ResumableSampler(data, seed=3)
    sampler.set_start(4)
    assert list(sampler) == list(ResumableSampler(data, seed=3))[4:] and len(sampler) == 6
    sampler.set_epoch(1)
    sampler.set_start(0)
    assert [i for i, _ in sampler] != full  # a new order each epoch
    with pytest.raises(ValueError):
        sampler.set_start(11)


def test_sampler_pads_to_equal_shares() -> None:
    shards = [list(ResumableSampler(range(5), num_replicas=4, rank=r)) for r in range(4)]
    assert all(len(s) == 2 for s in shards)
    assert {i for s in shards for i, _ in s} == set(range(5))


def test_sample_seed_depends_on_every_input() -> None:
    seeds = {sample_seed(s, e, p) for s in range(3) for e in range(3) for p in range(3)}
    assert len(seeds) == 27
    assert all(0 <= s < 2**63 for s in seeds)


def test_seeded_dataset_is_reproducible_and_isolated(image_dir: Path) -> None:
    folder = ImageFolder(image_dir, T.Compose([T.RandomCrop(16), T.ToTensor()]), split=None)
    seeded = SeededDataset(folder)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    a = seeded[(2, 1234)]
    assert torch.equal(torch.get_rng_state(), before)  # the global generator is untouched
    torch.testing.assert_close(seeded[(2, 1234)], a)
    assert not torch.equal(seeded[(2, 99)], a)


def test_seeded_dataset_seeds_python_random_too() -> None:
    class Draws(torch.utils.data.Dataset):
        def __getitem__(self, index: int) -> tuple[float, float]:
            return random.random(), float(torch.rand(()))

        def __len__(self) -> int:
            return 4

    seeded = SeededDataset(Draws())
    random.seed(1)
    state = random.getstate()
    a = seeded[(0, 42)]
    assert random.getstate() == state  # Python's generator is restored
    assert seeded[(3, 42)] == a and seeded[(0, 43)] != a
    random.seed(42)
    assert a[0] == random.random()


def test_to_tensor_takes_hwc_arrays() -> None:
    array = np.arange(4 * 5 * 6, dtype=np.uint8).reshape(4, 5, 6)  # (H, W, C), e.g. 2 frames
    x = T.ToTensor()(array)
    assert x.shape == (6, 4, 5) and x.dtype == torch.float32
    torch.testing.assert_close(x, torch.from_numpy(array).permute(2, 0, 1).float() / 255)
    grey = T.ToTensor()(array[:, :, 0])
    assert grey.shape == (1, 4, 5)
    crop = T.Compose([T.ToTensor(), T.RandomCrop((2, 3))])(array)
    assert crop.shape == (6, 2, 3)
