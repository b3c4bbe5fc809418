"""What keeping ``liif_core.work``'s preparation saves: an editor's estimates as the user changes the
size, then the job, on one large layer with transparency.

``work`` prepares the colour and alpha planes (the colour under transparent pixels filled) and the
flat maps before it plans; for a large layer that is most of its time. It keeps them for the next
``work`` or ``upscale`` of the same pixels. This times three estimates at other scales, a preview,
one more estimate, and how long the job takes to report its first progress (then it is cancelled),
against the same job with nothing kept.

    .venv/bin/python bench/kept_planes.py [--size 4000x3000] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import liif_core  # noqa: E402
from liif_core.eval import machine  # noqa: E402


def first_progress(image: np.ndarray, model: liif_core.Model, scale: float) -> float:
    """Seconds until a job's first progress report (the job is cancelled there)."""
    start, seen = time.perf_counter(), []
    try:
        liif_core.upscale(image, scale=scale, model=model, progress=lambda d, t: seen.append(time.perf_counter()),
                          cancel=lambda: bool(seen))
    except liif_core.Cancelled:
        pass
    return seen[0] - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT of the layer")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    model = liif_core.load_model("default", device=args.device)
    rng = np.random.default_rng(0)
    image = np.empty((h, w, 4), np.uint8)
    image[..., :3] = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:h, :w]
    image[..., 3] = np.where((yy - h / 2) ** 2 + (xx - w / 2) ** 2 < (0.4 * h) ** 2, 255, 0)  # an opaque disc
    print(f"{w} x {h} RGBA, noise inside an opaque disc; {machine()}")
    for scale in (2, 2.5, 3):
        t = time.perf_counter()
        liif_core.work(image, scale=scale, model=model)
        print(f"estimate x{scale}: {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    liif_core.upscale(image, scale=3, model=model, region=(w, h, 360, 240))
    print(f"preview x3 (360 x 240): {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    liif_core.work(image, scale=3, model=model)
    print(f"estimate x3 again: {time.perf_counter() - t:.2f} s")
    print(f"the job x3: first progress after {first_progress(image, model, 3):.2f} s")
    print(f"the job x3, nothing kept: first progress after {first_progress(image, model, 3):.2f} s")


if __name__ == "__main__":
    main()
