"""How close the dialogs' time estimates come to the time a job then takes, through a real worker.

Before a job the dialogs say how long it will take. From the sizes alone (``time_left.estimate_seconds``,
what a dialog shows at once) every output pixel counts as decoded once; the worker's own estimate
(``WorkerClient.estimate``: the job planned from its pixels, ``liif_core.work``) counts flat areas as
free and a varying alpha as a second pass. This starts a worker with an empty speed memory, lets a
warm-up job of noise measure the speed, then for each image asks both estimates and runs the job, as
a user would one after the other (each job's speed is what the next estimate uses).

Inputs: the bundled example dialog, it tiled to 1280 x 960 (a screenshot), the painted layers of
``bench/flat_areas.py``, noise, and any image files given.

    .venv/bin/python bench/estimate.py [--scale 3] [more.png ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from flat_areas import painted, strokes  # noqa: E402

from liif_core.eval import machine  # noqa: E402
from plugin.common import WorkerClient  # noqa: E402
from plugin.common.time_left import estimate_seconds  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="*", type=Path)
    p.add_argument("--scale", type=float, default=3)
    p.add_argument("--device", default="auto")
    args = p.parse_args()
    dialog = np.asarray(Image.open(ROOT / "examples" / "dialog.png").convert("RGB"))
    rng = np.random.default_rng(0)
    inputs = [("examples/dialog.png", dialog), ("dialog tiled (a screenshot)", np.tile(dialog, (6, 6, 1))[:960, :1280]),
              ("painted", painted()), ("strokes", strokes()),
              ("noise, opaque", rng.integers(0, 256, (300, 400, 3), np.uint8)),
              ("noise, varying alpha", rng.integers(0, 256, (300, 400, 4), np.uint8))]
    for path in args.images:
        image = Image.open(path)
        inputs.append((path.name, np.asarray(image.convert("RGBA" if "A" in image.getbands() else "RGB"))))
    os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="liif-estimate-")  # no speed remembered yet
    with WorkerClient(python=sys.executable, repo=str(ROOT)) as client:
        warm = rng.integers(0, 256, (200, 200, 3), np.uint8)
        client.upscale(warm.tobytes(), warm.shape, "uint8", scale=args.scale, device=args.device)
        info = client.info()
        print(f"{machine()}; worker device {info['device']}, x{args.scale:g}; the speed of a warm-up job of noise, "
              "then of each job before\n")
        print("| image | size | from the sizes | worker's estimate (its own time) | the job took | sizes / job | "
              "worker / job |")
        print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
        for name, image in inputs:
            h, w = image.shape[:2]
            oh, ow = round(h * args.scale), round(w * args.scale)
            options = {"scale": args.scale, "device": args.device}
            info = client.info()
            sizes = estimate_seconds(info, None, args.device, h * w, oh * ow)
            t0 = time.perf_counter()
            worker = client.estimate(image.tobytes(), image.shape, "uint8", **options)
            asked = time.perf_counter() - t0
            t0 = time.perf_counter()
            client.upscale(image.tobytes(), image.shape, "uint8", **options)
            took = time.perf_counter() - t0
            print(f"| {name} | {w} x {h} | {sizes:.2f} s | {worker:.2f} s ({asked:.2f} s) | {took:.2f} s | "
                  f"{sizes / took:.2f} | {worker / took:.2f} |")


if __name__ == "__main__":
    main()
