"""Enlarge real 1x UI renders 3x and compare with the same UI drawn at 3x: docs/eval/native_ui.{md,png}.

    .venv/bin/python docs/native_ui.py

The benchmark protocol makes its low-resolution input by bicubic downscaling. A user's small UI
image is different: a screenshot drawn at 1x, with hinted, pixel-snapped text and icons. Here
every ``icons`` and ``docs`` image of the evaluation (liif_core/eval_sets.py, never trained on)
is drawn twice by Qt, at device pixel ratio 1 (the input) and 3 (the reference), and the 1x one
is enlarged 3x. The reference is not an exact enlargement of the input: text is laid out and
hinted separately at each ratio, so glyphs sit up to a pixel or two apart and PSNR measures that
misplacement as much as sharpness. The crops show what a user sees.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from liif_core import eval as ev
from liif_core import eval_sets as es
from liif_core.weights import load_model

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "eval"
SCALE = es.DPR
METHODS = ("bicubic", "lanczos", "ours")
CROPS = {("docs", "docs_ch01"): (150, 0), ("icons", "icons_01"): (0, 0), ("icons", "icons_00"): (0, 96)}  # top-left
CROP = (240, 384)  # HR rows, columns


def pairs() -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(set, name, 1x render, 3x render) for every image of the icons and docs sets."""
    out = []
    for i in range(es.ICON_SHEETS):
        out.append(("icons", f"icons_{i:02d}", np.asarray(es.icon_sheet(i, dpr=1)), np.asarray(es.icon_sheet(i))))
    for page in es.docs_pages():
        name = "docs_" + page.name.split(".")[0]
        out.append(("docs", name, np.asarray(es.docs_view(page, dpr=1)), np.asarray(es.docs_view(page))))
    return out


def main() -> int:
    net = load_model("default", "cpu", "float32")
    t0 = time.perf_counter()
    scores: dict[tuple[str, str], list[tuple[float, float]]] = {}
    crops: dict[str, list[np.ndarray]] = {}
    below: list[str] = []  # images where ours scores under bicubic (README: most likely misplaced glyphs)
    for set_name, name, lr, hr in pairs():
        hr_f = hr / 255.0
        outs = {}
        for m in METHODS:
            sr = ev.run_method(m, lr, hr.shape[:2], net)
            outs[m] = sr
            scores.setdefault((set_name, m), []).append((ev.psnr_y(sr, hr_f, SCALE), ev.ssim_y(sr, hr_f, SCALE)))
        if (set_name, name) in CROPS:
            r, c = CROPS[(set_name, name)]
            window = (slice(r, r + CROP[0]), slice(c, c + CROP[1]))
            tiles = [np.round(outs[m][window] * 255).astype(np.uint8) for m in ("lanczos", "ours")]
            crops[name] = tiles + [hr[window]]
        print(f"{name}: " + ", ".join(f"{m} {scores[(set_name, m)][-1][0]:.2f}" for m in METHODS), file=sys.stderr)
        gain = scores[(set_name, "ours")][-1][0] - scores[(set_name, "bicubic")][-1][0]
        if gain < 0:
            below.append(f"{name} ({gain:+.2f} dB)")
    seconds = time.perf_counter() - t0
    rows = ["| Set | Images | Bicubic PSNR / SSIM | Lanczos PSNR / SSIM | Ours PSNR / SSIM |",
            "| --- | ---: | ---: | ---: | ---: |"]
    for set_name in ("icons", "docs"):
        cells = []
        for m in METHODS:
            vals = np.array(scores[(set_name, m)])
            cells.append(f"{vals[:, 0].mean():.2f} / {vals[:, 1].mean():.4f}")
        rows.append(f"| {set_name} | {len(scores[(set_name, 'ours')])} | " + " | ".join(cells) + " |")
    panels = [(f"{name}: 1x render enlarged x{SCALE}", tiles) for name, tiles in crops.items()]
    sheet = ev.write_crops(OUT / "native_ui.png", panels, ("Lanczos", "ours (LIIF)", "3x render"), zoom=1)
    versions = ", ".join(f"{k} {v}" for k, v in es.package_versions().items())
    text = [
        "# Real 1x UI renders enlarged 3x",
        "",
        (__doc__ or "").split("\n\n", 2)[2].strip(),
        "",
        f"Model `{net.name}` ({net.card.get('training', {}).get('steps', '?')} training steps); "
        f"PSNR and SSIM on Y with {SCALE} pixels shaved, as in report.md. Debian packages: "
        f"{versions}. Machine: {ev.machine()}; {seconds / 60:.1f} min.",
        "",
        *rows,
        "",
        f"Below bicubic by PSNR: {', '.join(below) if below else 'none'}.",
        "",
        "Columns of the crops: Lanczos, ours, the 3x render (the reference), pixel for pixel.",
        "",
        "![1x renders enlarged: Lanczos / ours / 3x render](native_ui.png)",
        "",
    ]
    (OUT / "native_ui.md").write_text("\n".join(text))
    print("\n".join(rows))
    print(f"wrote {OUT / 'native_ui.md'} and {sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
