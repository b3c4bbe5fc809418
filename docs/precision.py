"""What the bfloat16 decoder costs in quality and gains in speed: docs/eval/precision.md.

    .venv/bin/python docs/precision.py [--sets Set5,Set14,ui,icons,docs] [--scales 2,3,4] [--out FILE]
                                       [--device cpu|cuda|mps] [--precision bfloat16|float16]

On a CPU that multiplies bfloat16 natively, ``precision="auto"`` runs the decoder's hidden layers
(most of the work) in bfloat16 (``liif_core.devices.resolve_precision``). This scores the shipped
model both ways on the same LR images by the benchmark protocol (MATLAB bicubic LR, Y-PSNR and SSIM
with ``scale`` pixels shaved) and times each upscale. liif-eval itself always scores in float32.
The times are only comparable on the machine the table names, with nothing else running.

On a GPU ``auto`` stays float32 until this has been run there (``--device cuda``, with
``--precision bfloat16`` and ``float16``; a lent GPU machine has only the photograph sets).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from liif_core import eval as ev
from liif_core.devices import PRECISIONS, cpu_name, native_bfloat16, resolve_device
from liif_core.eval_sets import RENDERED_SETS
from liif_core.weights import load_model

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "eval" / "precision.md"
BASE = "float32"


def score_set(set_name: str, scale: int, images: list[Path], models: dict, low: str) -> dict:
    """Per precision (float32 and ``low``): mean PSNR and SSIM, seconds; between them: the largest
    per-image PSNR change and the largest pixel difference (0-255 levels)."""
    psnr = {p: [] for p in models}
    ssim = {p: [] for p in models}
    seconds = dict.fromkeys(models, 0.0)
    largest_pixel = 0.0
    for path in images:
        hr = ev.modcrop(ev.load_rgb(path), scale)
        lr = ev.make_lr(hr, scale)
        ref = hr.astype(np.float64) / 255.0
        outs = {}
        for name, model in models.items():
            start = time.perf_counter()
            outs[name] = ev.upscale_ours(lr, hr.shape[:2], model)
            seconds[name] += time.perf_counter() - start
            psnr[name].append(ev.psnr_y(outs[name], ref, scale))
            ssim[name].append(ev.ssim_y(outs[name], ref, scale))
        largest_pixel = max(largest_pixel, float(np.abs(outs[BASE] - outs[low]).max() * 255))
    change = np.array(psnr[low]) - np.array(psnr[BASE])
    return {"psnr": {p: float(np.mean(v)) for p, v in psnr.items()},
            "ssim": {p: float(np.mean(v)) for p, v in ssim.items()},
            "seconds": seconds, "largest_change": float(change[np.argmax(np.abs(change))]),
            "largest_pixel": largest_pixel, "images": len(images)}


def row(set_name: str, scale: int, r: dict, low: str) -> str:
    f32, b16 = (f"{r['psnr'][p]:.3f} / {r['ssim'][p]:.5f}" for p in (BASE, low))
    diff = r["psnr"][low] - r["psnr"][BASE]
    t32, t16 = r["seconds"][BASE], r["seconds"][low]
    return (f"| {set_name} | x{scale} | {r['images']} | {f32} | {b16} | {diff:+.4f} | {r['largest_change']:+.4f} | "
            f"{r['largest_pixel']:.2f} | {t32:.1f} | {t16:.1f} | {t32 / t16:.2f}x |")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="Set5,Set14,ui,icons,docs")
    parser.add_argument("--scales", default="2,3,4")
    parser.add_argument("--data", help="the benchmark sets' folder (default ../shared/datasets)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Markdown table to write (default {OUT})")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or mps (default cpu)")
    parser.add_argument("--precision", default="bfloat16", choices=[p for p in PRECISIONS if p != BASE],
                        help="the decoder precision compared with float32 (default bfloat16)")
    args = parser.parse_args(argv)
    sets = ev._parse_list(args.sets, ev.ALL_SETS, str, "sets")
    scales = ev._parse_scales(args.scales)
    device, low = resolve_device(args.device), args.precision
    models = {p: load_model("default", device, p) for p in (BASE, low)}
    for model in models.values():  # the first run of each sets up its kernels: not part of any row's time
        ev.upscale_ours(np.zeros((32, 32, 3), np.uint8), (96, 96), model)
    root = ev.data_root(args.data) if any(s not in RENDERED_SETS for s in sets) else None
    tmp = Path(tempfile.mkdtemp(prefix="liif-precision-"))
    rows = []
    try:
        rendered = ev.render_sets(sets, tmp)
        for set_name in sets:
            images = ev.list_images(set_name, root, rendered)
            for scale in scales:
                rows.append(row(set_name, scale, score_set(set_name, scale, images, models, low), low))
                print(rows[-1], flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    steps = models[BASE].card.get("training", {}).get("steps")
    machine = (f"{cpu_name()}, {torch.get_num_threads()} threads, native bfloat16 {native_bfloat16()}"
               if device.type == "cpu" else
               torch.cuda.get_device_name(device) if device.type == "cuda" else str(device))
    args.out.write_text(
        f"# The {low} decoder\n\n"
        "The shipped model (`weights/liif-edsr`, "
        f"{steps} training steps) on the same LR images with the decoder's hidden layers in float32 and in "
        f"{low} (the encoder, the first-layer map and the output layer are float32 in both; "
        "`precision=\"auto\"` picks bfloat16 on CPUs that multiply it natively). Benchmark protocol as in "
        "report.md: MATLAB bicubic LR, mean Y-PSNR (dB) / SSIM with `scale` pixels shaved. *Largest change*: "
        "the image whose PSNR moved most; *largest pixel difference*: between the two results, in 0-255 levels; "
        "seconds: the model's upscales of the whole row, with nothing else running. "
        f"Written by `docs/precision.py` on {_dt.date.today().isoformat()}, on {machine}, "
        f"torch {torch.__version__}.\n\n"
        f"| Set | Scale | Images | float32 PSNR / SSIM | {low} PSNR / SSIM | {low} − float32 (dB) | "
        f"Largest change (dB) | Largest pixel difference | float32 s | {low} s | Speed-up |\n"
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n" + "\n".join(rows) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
