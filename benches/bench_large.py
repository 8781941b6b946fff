"""Large photographs: time and peak memory of ``tinify encode`` / ``decode`` at 12, 24 and 50 MP.

Every zoo image model at its highest quality (the smallest quantization step, 1, for the
variable-rate ``*-vbr`` models) on a 12 MP (4032x3024) and a 24 MP (6000x4000) photograph, and
the default model (what ``tinify encode`` uses without ``--model``: the bmshj2018-hyperprior
N=64/M=96 file shipped inside tinify) also on 50 MP (8192x6144). The photographs are made here
from Kodak tiles (``../shared/data/kodak`` beside the repository, or ``--kodak``) and written to
``--workdir`` (never to the repository). The random weights of each zoo model are calibrated as
in ``bench_models.calibrate``, built in CompressAI 1.2.8 when it is installed, and saved as a
state dict that both libraries load: ``tinify encode --checkpoint`` and CompressAI's zoo model.

Each measurement is one child process, so its peak memory is its own: ``tinify encode`` /
``tinify decode`` (``python -m tinify.codec.cli``), or for CompressAI a small child (this script
with ``--child``) that reads the PNG, pads it to a multiple of 64 and calls ``compress`` (writing
the strings) or ``decompress`` (writing the PNG). Times are the child's wall time, start to end
(interpreter, imports, weights, reading and writing files included: what a user waits for),
and in parentheses the job's own time (``tinify -v``'s, the same span in the CompressAI child:
torch imported, weights loaded, image read, coded and written; no interpreter start);
memory is the child's peak resident set size (``ru_maxrss`` from ``os.wait4``). Each child runs
under an address-space limit (``--mem-limit`` GiB, ``RLIMIT_AS``: virtual memory, a little more
than resident) and a ``--timeout``; running out of either is reported as ``out of memory`` or
``timeout`` in the table rather than stopping the run.

``--tile auto`` passes no tile option (tinify chooses); ``off`` passes ``--tile 0`` (the whole
image at once), a number ``--tile N``. Only asked-for values are passed, so the script also runs
on a tinify without ``--tile`` (those rows then say ``error``).

Run (from the repository root)::

    OMP_NUM_THREADS=2 PYTHONPATH=python python benches/bench_large.py \\
        --models bmshj2018-hyperprior --sizes 12 --paths float,fixed --json large.json
    # the whole sweep (hours on 2 cores):
    OMP_NUM_THREADS=2 PYTHONPATH=python python benches/bench_large.py --tile auto,off \\
        --timeout 7200 --json large-all.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
KODAK = REPO / ".." / "shared" / "data" / "kodak"
#: Megapixel label -> (width, height).
SIZES = {12: (4032, 3024), 24: (6000, 4000), 50: (8192, 6144)}
DEFAULT = "default"  # what `tinify encode` uses without --model
#: The quantization step of the variable-rate models' highest quality (CompressAI's are 10 ... 1).
VBR_STEP = 1.0
CAI = "CompressAI 1.2.8"
#: The job's own time in a child's stderr: ``tinify encode -v``'s line, or the CompressAI child's.
JOB_TIME = re.compile(r"^(?:tinify \w+|bench_large): ([\d.]+) s wall", re.M)
MEMORY_WORDS = ("out of memory", "can't allocate", "cannot allocate", "memoryerror", "bad_alloc")


# -- images -------------------------------------------------------------------------------------


def make_photo(kodak: Path, width: int, height: int, dest: Path) -> Path:
    """A ``width`` x ``height`` PNG tiled with the Kodak images (portrait ones turned), in
    order, row by row; made once and kept in ``dest``."""
    if dest.is_file():
        return dest
    import numpy as np
    from PIL import Image

    files = sorted(kodak.glob("kodim*.png"))
    if not files:
        raise SystemExit(f"no Kodak images in {kodak}: pass --kodak DIR")
    tiles = []
    for f in files:
        with Image.open(f) as im:
            a = np.asarray(im.convert("RGB"))
        tiles.append(a if a.shape[1] >= a.shape[0] else np.rot90(a).copy())
    th, tw = tiles[0].shape[:2]
    canvas = np.zeros((height, width, 3), np.uint8)
    k = 0
    for top in range(0, height, th):
        for left in range(0, width, tw):
            tile = tiles[k % len(tiles)]
            k += 1
            h, w = min(th, height - top), min(tw, width - left)
            canvas[top : top + h, left : left + w] = tile[:h, :w]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp.png")
    Image.fromarray(canvas).save(tmp, compress_level=1)
    tmp.replace(dest)
    return dest


# -- weights ------------------------------------------------------------------------------------


#: Registered image models outside the zoo (no pretrained weights in CompressAI 1.2.8 either):
#: the latent-codec models, benchmarked with uncalibrated random weights at their default size.
CODEC_MODELS = ("cheng2020-anchor-checkerboard", "elic2022-official", "elic2022-chandelier")


def all_models() -> list[str]:
    """Every zoo image model, then the default model (imported late: the CompressAI child
    must not load tinify, whose memory would count in its peak)."""
    from tinify.zoo import image_models

    return [*image_models, DEFAULT]


def known_models() -> list[str]:
    """What ``--models`` accepts: :func:`all_models` and :data:`CODEC_MODELS`."""
    return [*all_models(), *CODEC_MODELS]


def highest_quality(name: str) -> int:
    """The highest zoo quality of ``name`` (0 for the variable-rate models and the default)."""
    from tinify.zoo.pretrained import is_variable_rate, qualities

    if name == DEFAULT:
        from tinify.weights import DEFAULT_MODEL

        return int(DEFAULT_MODEL["quality"])
    if name in CODEC_MODELS:
        return 0
    return 0 if is_variable_rate(name) else max(qualities(name))


def make_checkpoint(name: str, quality: int, kodak: Path, dest: Path) -> Path:
    """Random calibrated weights of ``name`` at ``quality`` as a state dict with coding tables
    (built in CompressAI when installed, so that both libraries load the same file); for the
    default model, the shipped weights. Made once and kept in ``dest``."""
    if dest.is_file():
        return dest
    import torch

    from _common import compressai_zoo_model, optional
    from bench_models import calibrate, load_image

    if name == DEFAULT:
        from tinify.weights import load_default_model

        state = load_default_model().state_dict()
    elif name in CODEC_MODELS:
        # Random weights at the default size, tables built; not calibrated (bench_models'
        # calibration knows the zoo's layouts only): the symbols are mostly zero, so the
        # streams are small, while the shapes, hence memory and network time, are real.
        from tinify.zoo import model_architectures

        torch.manual_seed(0)
        net = model_architectures[name]().eval()
        net.update(force=True)
        state = net.state_dict()
    else:
        x = load_image(kodak / "kodim01.png")
        if x is None:
            raise SystemExit(f"no Kodak images in {kodak}: pass --kodak DIR")
        x = x[..., :256, :384]
        torch.manual_seed(0)
        if optional("compressai") is not None:
            net = compressai_zoo_model(name, quality).eval()
        else:
            from tinify.zoo import create_model

            net = create_model(name, quality or 1).eval()
        calibrate(net, x)
        net.update(force=True)
        state = net.state_dict()
    dest.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dest.with_suffix(".tmp"))
    dest.with_suffix(".tmp").replace(dest)
    return dest


# -- children -----------------------------------------------------------------------------------


@dataclass
class Run:
    """One child process: wall seconds, peak resident bytes, and how it ended."""

    seconds: float
    peak: int
    status: str  # "ok", "out of memory", "timeout" or "error: ..."
    job: float | None = None  # the job's own seconds, without interpreter start (when said)
    stderr: str = ""


def run_child(cmd: list[str], timeout: float, mem_limit: int, log: Path) -> Run:
    """Run ``cmd`` in its own process group under an address-space limit of ``mem_limit``
    bytes (0: none), killed after ``timeout`` seconds; its peak RSS comes from ``os.wait4``."""

    def limit() -> None:
        if mem_limit:
            resource.setrlimit(resource.RLIMIT_AS, (mem_limit, mem_limit))

    with open(log, "wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=err, preexec_fn=limit, start_new_session=True
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace")
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    lines = [line for line in text.splitlines() if line.strip()]
    if timed_out.is_set():
        state = "timeout"
    elif proc.returncode == -signal.SIGKILL:
        state = "out of memory"  # the kernel's OOM killer
    elif proc.returncode != 0 and any(w in text.lower() for w in MEMORY_WORDS):
        state = "out of memory"
    elif proc.returncode != 0:
        state = "error: " + (lines[-1] if lines else f"status {proc.returncode}")[-160:]
    else:
        state = "ok"
    said = JOB_TIME.findall(text)
    job = float(said[-1]) if said else None
    return Run(seconds, peak, state, job, text[-2000:])


@dataclass
class Row:
    """One table row: a library/path/tile setting of one model on one image size."""

    model: str
    quality: int
    megapixels: float
    width: int
    height: int
    library: str  # "tinify" or CAI
    path: str  # "float", "fixed" or "-" (CompressAI)
    tile: str
    encode: list[Run] = field(default_factory=list)
    decode: list[Run] = field(default_factory=list)
    bytes: int = 0
    psnr: float | None = None  # of the decoded image against the photograph, dB

    def best(self, op: str) -> Run | None:
        runs = getattr(self, op)
        if not runs:
            return None
        ok = [r for r in runs if r.status == "ok"]
        if not ok:
            return runs[-1]
        fastest = min(ok, key=lambda r: r.seconds)
        return Run(fastest.seconds, max(r.peak for r in ok), "ok", fastest.job)

    def summary(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("encode", "decode")}
        for op in ("encode", "decode"):
            run = self.best(op)
            out[op] = (
                None
                if run is None
                else {
                    "seconds": round(run.seconds, 3),
                    "job_seconds": None if run.job is None else round(run.job, 3),
                    "peak_bytes": run.peak,
                    "status": run.status,
                }
            )
        return out


def tinify_commands(
    row: Row, image: Path, checkpoint: Path | None, work: Path
) -> tuple[list[str], list[str], Path]:
    """The ``tinify encode`` and ``decode`` command lines of ``row``, and the .tfy path."""
    stem = f"{row.model}-{row.megapixels}mp-{row.path}-{row.tile}"
    tfy, png = work / f"{stem}.tfy", work / f"{stem}.png"
    cli = [sys.executable, "-m", "tinify.codec.cli"]
    pixels = ["--max-pixels", str(row.width * row.height)]
    model: list[str] = []
    if checkpoint is not None:
        model = ["--checkpoint", str(checkpoint), "-m", row.model]
        if row.quality:
            model += ["-q", str(row.quality)]
        if "vbr" in row.model:
            model += ["--quant-step", str(VBR_STEP)]
    tile = [] if row.tile == "auto" else ["--tile", "0" if row.tile == "off" else row.tile]
    encode = [*cli, "encode", str(image), "-o", str(tfy), "-f", "-v", "--coding", row.path]
    encode += [*model, *pixels, *tile]
    decode = [*cli, "decode", str(tfy), "-o", str(png), "-f", "-v", *pixels, *tile]
    if checkpoint is not None:
        decode += ["--checkpoint", str(checkpoint)]
    return encode, decode, tfy


def compressai_commands(
    row: Row, image: Path, checkpoint: Path, work: Path
) -> tuple[list[str], list[str], Path]:
    """This script's ``--child`` command lines coding ``row`` with CompressAI."""
    stem = f"{row.model}-{row.megapixels}mp-compressai"
    strings, png = work / f"{stem}.pkl", work / f"{stem}.png"
    me = [sys.executable, str(Path(__file__).resolve()), "--child"]
    common = [row.model, str(row.quality), str(checkpoint)]
    encode = [*me, "encode", *common, str(image), str(strings)]
    decode = [*me, "decode", *common, str(strings), str(png)]
    return encode, decode, strings


# -- the CompressAI child -----------------------------------------------------------------------


def compressai_child(op: str, name: str, quality: int, checkpoint: str, src: str, dst: str) -> None:
    """Encode a PNG into pickled strings, or decode them into a PNG, with CompressAI 1.2.8;
    say the time from the imports to the written file (the span ``tinify -v`` reports)."""
    start, cpu = time.perf_counter(), time.process_time()
    import numpy as np
    import torch
    import torch.nn.functional as F
    from compressai import models as cai_models
    from PIL import Image

    from _common import compressai_zoo_model

    torch.set_grad_enabled(False)
    state = torch.load(checkpoint, weights_only=True)
    if name == DEFAULT:
        net = cai_models.ScaleHyperprior.from_state_dict(state)
    elif name in CODEC_MODELS:
        from compressai.registry import MODELS

        net = MODELS[name]()
        net.load_state_dict(state)
    else:
        net = compressai_zoo_model(name, quality)
        net.load_state_dict(state)
    net.eval()
    # CompressAI codes at inputscale = float32(1 / step), a tensor (as tinify's quant_step).
    scale = torch.tensor(1.0 / VBR_STEP, dtype=torch.float32)
    rate = {"stage": 2, "s": 0, "inputscale": scale} if "vbr" in name else {}
    if op == "encode":
        with Image.open(src) as im:
            a = np.asarray(im.convert("RGB"))
        h, w = a.shape[:2]
        x = torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).float().div_(255)
        del a
        ph, pw = -h % 64, -w % 64
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        out = net.compress(x, **rate)
        with open(dst, "wb") as f:
            pickle.dump({"strings": out["strings"], "shape": out["shape"], "size": (h, w)}, f)
    else:
        with open(src, "rb") as f:
            data = pickle.load(f)
        x_hat = net.decompress(data["strings"], data["shape"], **rate)["x_hat"]
        h, w = data["size"]
        top, left = (x_hat.size(2) - h) // 2, (x_hat.size(3) - w) // 2
        x_hat = x_hat[0, :, top : top + h, left : left + w]
        a = x_hat.clamp_(0, 1).mul_(255).round_().byte().permute(1, 2, 0).numpy()
        Image.fromarray(a).save(dst, compress_level=1)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"bench_large: {wall:.3f} s wall, {cpu:.3f} s CPU ({op}, after the imports)",
        file=sys.stderr,
    )


# -- the table ----------------------------------------------------------------------------------


def _cell(run: Run | None) -> tuple[str, str]:
    if run is None:
        return "-", "-"
    if run.status != "ok":  # the peak it had reached when it stopped
        return run.status, f"{run.peak / 2**30:.2f} at stop" if run.peak else "-"
    job = "" if run.job is None else f" ({run.job:.1f})"
    return f"{run.seconds:.1f}{job}", f"{run.peak / 2**30:.2f}"


def table(rows: list[Row]) -> str:
    """The results as a markdown table."""
    lines = [
        "| model | q | MP | library | path | tile | encode s (job) | encode GiB "
        "| decode s (job) | decode GiB | bpp | PSNR dB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        enc_s, enc_m = _cell(r.best("encode"))
        dec_s, dec_m = _cell(r.best("decode"))
        bpp = f"{8 * r.bytes / (r.width * r.height):.3f}" if r.bytes else "-"
        q = f"step {VBR_STEP:g}" if "vbr" in r.model else str(r.quality)
        psnr = "-" if r.psnr is None else f"{r.psnr:.2f}"
        lines.append(
            f"| {r.model} | {q} | {r.megapixels} | {r.library} | {r.path} | {r.tile} | {enc_s} "
            f"| {enc_m} | {dec_s} | {dec_m} | {bpp} | {psnr} |"
        )
    return "\n".join(lines)


def parse_size(text: str) -> tuple[int, int]:
    """``12``, ``24`` or ``50`` (megapixels, see :data:`SIZES`), or ``WxH`` (a quick check)."""
    if text.isdigit() and int(text) in SIZES:
        return SIZES[int(text)]
    parts = text.lower().split("x")
    if len(parts) == 2 and all(p.isdigit() and int(p) >= 64 for p in parts):
        return int(parts[0]), int(parts[1])
    raise SystemExit(f"--sizes: 12, 24, 50 or WxH (at least 64x64), got {text!r}")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--models",
        help=f"comma-separated zoo image models and/or {DEFAULT!r} (default: all of them), "
        f"or the latent-codec models {', '.join(CODEC_MODELS)} (random weights)",
    )
    p.add_argument(
        "--sizes",
        default="12,24,50",
        help="megapixels among 12, 24, 50 (50 for the default model only), or WxH for a quick "
        "check (default: 12,24,50)",
    )
    p.add_argument("--paths", default="float,fixed", help="tinify coding paths: float, fixed")
    p.add_argument(
        "--tile",
        default="auto",
        help="comma-separated: auto (no option: tinify decides), off (--tile 0: whole image), "
        "or a tile size N (--tile N)",
    )
    p.add_argument(
        "--compressai",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run CompressAI 1.2.8 with the same weights (default: when installed)",
    )
    p.add_argument("--repeat", type=int, default=1, help="runs per measurement (best time)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per child (1800)")
    p.add_argument(
        "--mem-limit",
        type=float,
        default=16,
        help="address-space limit per child in GiB (16; 0 = none)",
    )
    p.add_argument("--kodak", type=Path, default=KODAK, help="folder of kodim*.png")
    p.add_argument(
        "--workdir",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "tinify-bench-large",
        help="where the photographs, weights and coded files go (default $TMPDIR/...)",
    )
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    known = known_models()
    models = _csv(args.models) if args.models else all_models()
    unknown = [m for m in models if m not in known]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choose from {', '.join(known)}")
    sizes = [parse_size(s) for s in _csv(args.sizes)]
    paths = _csv(args.paths)
    if any(p not in ("float", "fixed") for p in paths):
        raise SystemExit("--paths: float and/or fixed")
    tiles = _csv(args.tile)
    if any(t not in ("auto", "off") and not t.isdigit() for t in tiles):
        raise SystemExit("--tile: auto, off or a size")
    use_cai = args.compressai
    if use_cai:
        import importlib.util

        if importlib.util.find_spec("compressai") is None:
            print("compressai is not installed: tinify only", file=sys.stderr)
            use_cai = False
    work = args.workdir.resolve()
    (work / "out").mkdir(parents=True, exist_ok=True)
    mem_limit = int(args.mem_limit * 2**30)
    threads = int(os.environ.get("OMP_NUM_THREADS", "0") or 0)
    print(
        f"# bench_large: {os.cpu_count()} CPUs, OMP_NUM_THREADS={threads or 'unset'}, "
        f"memory limit {args.mem_limit:g} GiB per child, timeout {args.timeout:g} s",
        file=sys.stderr,
    )

    rows: list[Row] = []
    for name in models:
        quality = highest_quality(name)
        ckpt = make_checkpoint(
            name, quality, args.kodak, work / "weights" / f"{name}-q{quality}.pth"
        )
        for width, height in sizes:
            mp = round(width * height / 1e6, 1)
            if (width, height) == SIZES[50] and name != DEFAULT:
                continue
            image = make_photo(args.kodak, width, height, work / f"photo-{width}x{height}.png")
            settings = [("tinify", p, t) for p in paths for t in tiles]
            if use_cai:
                settings.append((CAI, "-", "-"))
            for library, path, tile in settings:
                row = Row(name, quality, mp, width, height, library, path, tile)
                if library == CAI:
                    enc, dec, out = compressai_commands(row, image, ckpt, work / "out")
                else:
                    ckpt_arg = None if name == DEFAULT else ckpt
                    enc, dec, out = tinify_commands(row, image, ckpt_arg, work / "out")
                for _ in range(args.repeat):
                    log = out.with_suffix(".encode.log")  # the child's stderr, kept
                    row.encode.append(run_child(enc, args.timeout, mem_limit, log))
                    if row.encode[-1].status != "ok":
                        break
                    row.bytes = _coded_bytes(out, library)
                    log = out.with_suffix(".decode.log")
                    row.decode.append(run_child(dec, args.timeout, mem_limit, log))
                    if row.decode[-1].status != "ok":
                        break
                if row.decode and row.decode[-1].status == "ok":
                    row.psnr = decoded_psnr(image, out.with_suffix(".png"))
                rows.append(row)
                last = table([row]).splitlines()[-1]
                print(last, file=sys.stderr, flush=True)
    print(table(rows))
    if args.json:
        doc = {
            "cpus": os.cpu_count(),
            "omp_num_threads": threads or None,
            "mem_limit_gib": args.mem_limit,
            "timeout_s": args.timeout,
            "vbr_quant_step": VBR_STEP,
            "rows": [r.summary() for r in rows],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


def decoded_psnr(original: Path, decoded: Path, band: int = 512) -> float:
    """PSNR (8-bit) of ``decoded`` against ``original``, ``band`` rows at a time (a 50 MP
    photograph in float64 at once would take gigabytes in this parent process)."""
    import numpy as np
    import torch
    from PIL import Image

    from tinify.utils.metrics import psnr

    with Image.open(original) as a_im, Image.open(decoded) as b_im:
        a, b = np.array(a_im.convert("RGB")), np.array(b_im.convert("RGB"))  # writable
    total = 0.0
    for top in range(0, a.shape[0], band):
        x, y = (torch.from_numpy(v[top : top + band]) for v in (a, b))
        db = psnr(x, y)
        total += 0.0 if math.isinf(db) else x.numel() * 255**2 / 10 ** (db / 10)
    return math.inf if total == 0 else 10 * math.log10(255**2 * a.size / total)


def _coded_bytes(out: Path, library: str) -> int:
    if library != CAI:
        return out.stat().st_size
    with open(out, "rb") as f:
        strings = pickle.load(f)["strings"]
    return sum(len(s) for group in strings for s in group)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        op, name, quality, ckpt, src, dst = sys.argv[2:8]
        compressai_child(op, name, int(quality), ckpt, src, dst)
        sys.exit(0)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
