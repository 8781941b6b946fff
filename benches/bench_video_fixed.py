"""ssf2020 rate cost of coding mode 1 (``entropy_path="fixed"``) against mode 0 on DAVIS clips.

For every clip in ``--data`` (default ``../shared/data/video``): the first ``--frames`` frames,
downscaled by ``--scale`` (area averaging), coded with both entropy paths by one model; prints
the payload bytes of each and the difference, per clip and in total, plus the mean PSNR of the
decoded frames (the same in both modes up to the rounding of the means).

Weights: no published ssf2020 checkpoint ships with tinify, so the model is a seeded random
initialisation whose encoders' last layers are scaled up (``--gain``) so that the latents carry
a few units and the coded rate is not trivially zero; ``--checkpoint`` takes real weights.

Run: ``python benches/bench_video_fixed.py [--frames 3] [--scale 2] [--checkpoint ssf.pth.tar]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

from _common import set_threads
from bench_video import stream_bytes
from tinify.io.video import read_png_frames
from tinify.models.video import ScaleSpaceFlow
from tinify.utils.checkpoint import read_state_dict

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "video"


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = float(((a - b) ** 2).mean())
    return 10 * torch.log10(torch.tensor(1 / max(mse, 1e-12))).item()


def build_model(checkpoint: Path | None, gain: float) -> ScaleSpaceFlow:
    if checkpoint is not None:
        model = ScaleSpaceFlow.from_state_dict(read_state_dict(checkpoint).state)
        assert isinstance(model, ScaleSpaceFlow)
    else:
        torch.manual_seed(0)
        model = ScaleSpaceFlow()
        with torch.no_grad():
            for name in ("img", "res", "motion"):
                last = getattr(model, f"{name}_encoder")[6]
                last.weight.mul_(gain)
                last.bias.mul_(gain)
                hyper = getattr(model, f"{name}_hyperprior")
                hyper.hyper_encoder[4].weight.mul_(gain)
                hyper.hyper_encoder[4].bias.mul_(gain)
                hyper.hyper_decoder_scale.deconv3.bias.add_(1.5)
    model.update(force=True)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--scale", type=int, default=2, help="downscale factor (1: full size)")
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--gain", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()

    set_threads(args.threads)
    model = build_model(args.checkpoint, args.gain)
    clips = sorted(p for p in args.data.iterdir() if p.is_dir())
    weights = "checkpoint" if args.checkpoint else f"random-init weights (gain {args.gain})"
    print(f"## ssf2020 coding mode 1 vs 0: {args.frames} frames per clip, 1/{args.scale} size,")
    print(f"{weights}\n")
    print("| clip | size | mode 0 bytes | mode 1 bytes | mode 1 - mode 0 | PSNR 0 / 1 dB |")
    print("|---|---|---|---|---|---|")
    totals = [0, 0]
    for clip in clips:
        frames = read_png_frames(clip, count=args.frames)
        if args.scale > 1:
            frames = [F.avg_pool2d(x, args.scale) for x in frames]
        sizes, quality = [], []
        for path in ("float", "fixed"):
            out = model.compress(frames, entropy_path=path)
            decoded = model.decompress(*out, x_size=out.x_size, entropy_path=path)
            sizes.append(stream_bytes(out.strings))
            quality.append(sum(psnr(a, b) for a, b in zip(decoded, frames)) / len(frames))
        totals = [totals[0] + sizes[0], totals[1] + sizes[1]]
        h, w = frames[0].shape[-2:]
        diff = sizes[1] - sizes[0]
        print(
            f"| {clip.name} | {w}x{h} | {sizes[0]} | {sizes[1]} | {diff:+d} "
            f"({100 * diff / sizes[0]:+.3f}%) | {quality[0]:.2f} / {quality[1]:.2f} |"
        )
    diff = totals[1] - totals[0]
    print(f"| total | | {totals[0]} | {totals[1]} | {diff:+d} ({100 * diff / totals[0]:+.4f}%) | |")


if __name__ == "__main__":
    main()
