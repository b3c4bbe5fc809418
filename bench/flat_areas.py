"""What skipping flat areas (liif_core.flat) saves, and what it changes, on realistic inputs.

Each image is upscaled twice in this process with the shipped model: decoding every query (as
before flat areas were known) and as shipped. Reports both times (best of ``--repeat``), the
work the engine counted, and how many 8-bit values differ: visible ones, and colour under fully
transparent result pixels, which nothing shows.

Inputs: the bundled example dialog, two painted layers drawn here (``painted``: the dialog with
soft blobs of opacity; ``strokes``: brush strokes and discs on a transparent 600 x 450 layer),
and any image files given.

``--score SETS`` instead scores both ways by the benchmark protocol (``liif-eval``'s LR, Y-PSNR,
float32 model) on evaluation sets such as ``Set14,icons,docs``: the change in quality, if any.

    .venv/bin/python bench/flat_areas.py --scale 3 [--repeat 2] [more.png ...]
    .venv/bin/python bench/flat_areas.py --scale 3 --score Set5,Set14,icons,docs
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFilter

import liif_core
from liif_core import speed_memory

ROOT = Path(__file__).resolve().parent.parent
UPSCALE = sys.modules["liif_core.upscale"]  # the package's name "upscale" is the function


def painted() -> np.ndarray:
    """The example dialog as a layer with soft blobs of full and half opacity and a stroke."""
    rgb = Image.open(ROOT / "examples" / "dialog.png").convert("RGB")
    w, h = rgb.size
    alpha = Image.new("L", (w * 4, h * 4), 0)
    draw = ImageDraw.Draw(alpha)
    draw.ellipse((40, 40, 400, 330), fill=255)
    draw.rectangle((450, 60, 800, 300), fill=128)
    draw.line((100, 500, 820, 420), fill=255, width=30)
    rgb.putalpha(alpha.filter(ImageFilter.GaussianBlur(3)).resize((w, h), Image.LANCZOS))
    return np.asarray(rgb)


def strokes(seed: int = 0) -> np.ndarray:
    """Opaque brush strokes and discs of random colours on a transparent 600 x 450 layer."""
    rng = np.random.default_rng(seed)
    w, h = 600, 450
    layer = Image.new("RGBA", (w * 2, h * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    for _ in range(40):
        points = [(int(x), int(y)) for x, y in rng.uniform(0, [w * 2, h * 2], (4, 2))]
        colour = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
        draw.line(points, fill=colour, width=int(rng.integers(4, 30)), joint="curve")
    for _ in range(6):
        x, y = rng.uniform(0, [w * 2, h * 2])
        r = rng.uniform(40, 160)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,))
    return np.asarray(layer.resize((w, h), Image.LANCZOS))


def run(image: np.ndarray, scale: float, flat: bool, repeat: int,
        model: liif_core.Model | None = None) -> tuple[np.ndarray, float, int]:
    """Result, best time and counted work of one upscale, flat areas skipped or not."""
    real = UPSCALE.quiet_map
    if not flat:
        UPSCALE.quiet_map = lambda plane, alpha=None: torch.zeros(plane.shape[-2:], dtype=torch.bool)
    try:
        best, totals = float("inf"), []
        for _ in range(repeat):
            start = time.perf_counter()
            out = liif_core.upscale(image, scale=scale, model=model, progress=lambda d, t: totals.append(t))
            best = min(best, time.perf_counter() - start)
    finally:
        UPSCALE.quiet_map = real
    return out, best, totals[-1]


def score(sets: list[str], scale: int) -> None:
    """Mean Y-PSNR of the float32 model on each set, decoding every query and as shipped."""
    from liif_core import eval as ev

    root = ev.data_root()
    [(_, model)] = ev.compared_models(["default"])
    print(f"{speed_memory.device_identity(model.device, model.decoder_dtype)}, x{scale}, the paper's LR\n")
    print("| set | images | every query | flat areas skipped | largest change of one image |")
    print("| --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        rendered = ev.render_sets(sets, Path(tmp))
        for name in sets:
            scores = []
            for path in ev.list_images(name, root, rendered):
                hr = ev.modcrop(ev.load_rgb(path), scale)
                lr = ev.make_lr(hr, scale, "paper")
                image = lr.astype(np.float32) / 255
                pair = [run(image, scale, flat, 1, model)[0] for flat in (False, True)]
                scores.append([ev.psnr_y(np.clip(sr, 0, 1).astype(np.float64), hr / 255, scale) for sr in pair])
            dense, fast = np.array(scores).T
            print(f"| {name} | {len(scores)} | {dense.mean():.4f} dB | {fast.mean():.4f} dB | "
                  f"{np.abs(fast - dense).max():.4f} dB |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="*", type=Path)
    p.add_argument("--scale", type=float, default=3)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--score", help="comma-separated evaluation sets to score instead (Set5, Set14, icons, docs...)")
    args = p.parse_args()
    if args.score:
        score(args.score.split(","), int(args.scale))
        return
    inputs = [("examples/dialog.png", np.asarray(Image.open(ROOT / "examples" / "dialog.png").convert("RGB"))),
              ("painted", painted()), ("strokes", strokes())]
    for path in args.images:
        image = Image.open(path)
        inputs.append((path.name, np.asarray(image.convert("RGBA" if "A" in image.getbands() else "RGB"))))
    model = liif_core.load_model()
    print(f"{speed_memory.device_identity(model.device, model.decoder_dtype)}, {torch.get_num_threads()} threads, "
          f"torch {torch.__version__}, x{args.scale:g}, best of {args.repeat}\n")
    print("| image | size | every query | flat areas skipped | speed-up | work counted | values changed: visible "
          "(largest) / under alpha 0 |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- |")
    liif_core.upscale(inputs[0][1][:32, :32], scale=2)  # load the model, warm up
    for name, image in inputs:
        full, full_s, full_work = run(image, args.scale, False, args.repeat)
        fast, fast_s, fast_work = run(image, args.scale, True, args.repeat)
        diff = np.abs(full.astype(int) - fast.astype(int))
        visible = fast[..., 3] > 0 if image.shape[-1] == 4 else np.ones(fast.shape[:2], bool)
        shown = np.concatenate([diff[visible].reshape(-1), diff[..., 3].reshape(-1)]) if image.shape[-1] == 4 \
            else diff.reshape(-1)
        hidden = int((diff[~visible][:, :3] > 0).sum()) if image.shape[-1] == 4 else 0
        print(f"| {name} | {image.shape[1]} x {image.shape[0]} | {full_s:.2f} s | {fast_s:.2f} s | "
              f"{full_s / fast_s:.2f}x | {fast_work / full_work:.0%} | {int((shown > 0).sum())} of {diff.size} "
              f"({int(shown.max())}) / {hidden} |")


if __name__ == "__main__":
    main()
