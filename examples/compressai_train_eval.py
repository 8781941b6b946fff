# SPDX-License-Identifier: Apache-2.0
"""An ordinary CompressAI 1.2.8 training and evaluation script, kept in CompressAI's spelling.

It runs unchanged under CompressAI, and under Tinify after the one-word rename::

    sed 's/compressai/tinify/g' examples/compressai_train_eval.py > train_eval_tinify.py
    python train_eval_tinify.py -d DATASET --steps 20

``DATASET`` has CompressAI's layout, ``DATASET/train/*`` and ``DATASET/test/*`` (BSDS500 has it).
The script trains a small scale hyperprior (Ballé et al., ICLR 2018) for a few steps with the
rate-distortion loss and the net/aux optimizer pair, updates its CDF tables, saves and reloads
the checkpoint, then really compresses and decompresses the test split and prints bpp and PSNR.
"""

# ruff: noqa: I001  (imports grouped as in CompressAI code: the rename must change nothing else)
from __future__ import annotations

import argparse
import math
import os
import tempfile

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

from compressai.datasets import ImageFolder
from compressai.losses import RateDistortionLoss
from compressai.models.google import ScaleHyperprior
from compressai.optimizers import net_aux_optimizer
from compressai.zoo import load_state_dict


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--dataset", required=True, help="folder with train/ and test/")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--patch-size", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--lmbda", type=float, default=0.0130)
    parser.add_argument("--test-images", type=int, default=8, help="first N of the test split")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.manual_seed(args.seed)

    train_transforms = transforms.Compose(
        [transforms.RandomCrop(args.patch_size), transforms.ToTensor()]
    )
    test_transforms = transforms.Compose(
        [transforms.CenterCrop(4 * args.patch_size), transforms.ToTensor()]
    )
    train_dataset = ImageFolder(args.dataset, split="train", transform=train_transforms)
    test_dataset = ImageFolder(args.dataset, split="test", transform=test_transforms)
    test_dataset = Subset(test_dataset, range(min(args.test_images, len(test_dataset))))
    train_loader = DataLoader(train_dataset, batch_size=args.batch_size, shuffle=True)

    net = ScaleHyperprior(N=32, M=48)
    conf = {"net": {"type": "Adam", "lr": 1e-4}, "aux": {"type": "Adam", "lr": 1e-3}}
    optimizer = net_aux_optimizer(net, conf)
    criterion = RateDistortionLoss(lmbda=args.lmbda)

    step = 0
    net.train()
    while step < args.steps:
        for x in train_loader:
            optimizer["net"].zero_grad()
            optimizer["aux"].zero_grad()
            out = net(x)
            loss = criterion(out, x)
            loss["loss"].backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer["net"].step()
            aux_loss = net.aux_loss()
            aux_loss.backward()
            optimizer["aux"].step()
            step += 1
            if step % 10 == 0 or step == args.steps:
                print(
                    f"step {step}: loss {loss['loss'].item():.3f} "
                    f"bpp {loss['bpp_loss'].item():.3f} mse {loss['mse_loss'].item():.5f}"
                )
            if step == args.steps:
                break

    net.update(force=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "checkpoint.pth.tar")
        torch.save({"state_dict": net.state_dict()}, path)
        state_dict = load_state_dict(torch.load(path, map_location="cpu")["state_dict"])
    net = ScaleHyperprior.from_state_dict(state_dict).eval()

    bpps, psnrs = [], []
    with torch.no_grad():
        for x in test_dataset:
            x = x.unsqueeze(0)
            out = net.compress(x)
            x_hat = net.decompress(out["strings"], out["shape"])["x_hat"].clamp(0, 1)
            bits = sum(len(s[0]) for s in out["strings"]) * 8
            bpps.append(bits / (x.size(2) * x.size(3)))
            psnrs.append(-10 * math.log10(F.mse_loss(x_hat, x).item()))
    print(
        f"test: {len(bpps)} images, {sum(bpps) / len(bpps):.3f} bpp, "
        f"{sum(psnrs) / len(psnrs):.2f} dB PSNR"
    )


if __name__ == "__main__":
    main()
