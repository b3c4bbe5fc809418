"""How well models enlarge regular man-made structure: docs/eval/structures.md.

    .venv/bin/python docs/structures.py [MODEL ...] [--out FILE]    (default: the shipped model)

A MODEL is ``default``, a bundled name or a ``.safetensors`` path, or ``NAME=MODEL`` to label it ``NAME``.

Our photo scores trail the paper most on Urban100 (buildings). To work on that without tuning on
Urban100, training gained a source of rendered building views
(``liif_core.training.structures``); this script scores models on views from the same renderer
with a seed training never uses, by the benchmark protocol (MATLAB bicubic LR, Y-PSNR with
``scale`` pixels shaved). It measures what a model learned from the source, not how that carries
over to real photographs: liif-eval's Urban100 and B100 rows are the check for that.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

import numpy as np

from liif_core import eval as ev
from liif_core.training.structures import structure_image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "eval" / "structures.md"
SEED = 1004  # training renders seed 4: these views are unseen
COUNT = 48
SCALES = (2, 3, 4)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["default"],
                        help="default, a bundled name or a .safetensors; NAME=MODEL labels it NAME")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Markdown table to write (default {OUT})")
    args = parser.parse_args(argv)
    models = ev.compared_models(args.models)
    views = [np.asarray(structure_image(random.Random(f"{SEED}:struct:{i}"))) for i in range(COUNT)]
    names = ["bicubic", "Lanczos"] + [n for n, _ in models]
    rows = ["| Scale | " + " | ".join(names) + " | " + " | ".join(f"{n} - bicubic" for n, _ in models) + " |",
            "| ---: |" + " ---: |" * (len(names) + len(models))]
    for s in SCALES:
        scores = np.zeros((COUNT, len(names)))
        for i, view in enumerate(views):
            hr = ev.modcrop(view, s)
            lr = ev.make_lr(hr, s)
            ref = hr.astype(np.float64) / 255.0
            ups = [ev.upscale_bicubic(lr, hr.shape[:2]), ev.upscale_lanczos(lr, hr.shape[:2])]
            ups += [ev.upscale_ours(lr, hr.shape[:2], m) for _, m in models]
            scores[i] = [ev.psnr_y(up, ref, s) for up in ups]
        mean = scores.mean(axis=0)
        gains = [f"{mean[2 + j] - mean[0]:+.2f}" for j in range(len(models))]
        rows.append(f"| x{s} | " + " | ".join(f"{v:.2f}" for v in mean) + " | " + " | ".join(gains) + " |")
        print(rows[-1], flush=True)
    labels = ev.models_legend(models)
    args.out.write_text(
        "# Regular structure\n\n"
        f"Mean Y-PSNR (dB) over {COUNT} rendered building views ({structure_image.__module__}, seed {SEED}, "
        f"{views[0].shape[1]}x{views[0].shape[0]}), downscaled with MATLAB bicubic and enlarged back; written "
        "by `docs/structures.py`. Training renders the same kind of view with another seed (from step 50206), "
        "so for models trained past that step this is in-distribution: Urban100 and B100 in report.md are "
        f"the check on real photographs.\n\n{labels}\n\n" + "\n".join(rows) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
