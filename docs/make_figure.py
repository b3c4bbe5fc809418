"""Draw docs/how_it_works.png: input pixels -> encoder features -> one function, any output size.

    .venv/bin/python docs/make_figure.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

import liif_core

ROOT = Path(__file__).resolve().parents[1]
PANEL = 288


def label(im: Image.Image, text: str) -> Image.Image:
    out = Image.new("RGB", (im.width, im.height + 26), "white")
    out.paste(im, (0, 26))
    try:
        font = ImageFont.truetype("DejaVuSans.ttf", 15)
    except OSError:
        font = ImageFont.load_default()
    ImageDraw.Draw(out).text((4, 4), text, fill="black", font=font)
    return out


def main() -> None:
    src = np.asarray(Image.open(ROOT / "examples" / "dialog.png").convert("RGB"))[4:40, 6:78]  # "Export layer"
    h, w = src.shape[:2]
    model = liif_core.load_model("default", device="cpu")
    with torch.no_grad():
        inp = (torch.from_numpy(src.astype(np.float32) / 255).permute(2, 0, 1)[None] - 0.5) / 0.5
        feat = model.net.gen_feat(inp)[0].reshape(feat_dim := model.net.encoder.out_dim, -1).T
        feat = feat - feat.mean(0)
        _, _, v = torch.pca_lowrank(feat, q=3)
        pcs = feat @ v[:, :3]
        pcs = (pcs - pcs.min(0).values) / (pcs.max(0).values - pcs.min(0).values + 1e-9)
    features = (pcs.reshape(h, w, 3).numpy() * 255).astype(np.uint8)
    width = PANEL * 2
    size = (width, round(width * h / w))
    panels = [
        label(Image.fromarray(src).resize(size, Image.NEAREST), f"input: {w}x{h} pixels"),
        label(Image.fromarray(features).resize(size, Image.NEAREST),
              f"encoder: a {feat_dim}-number feature per pixel (3 shown)"),
        label(Image.fromarray(liif_core.upscale(src, scale=2.5, model=model)).resize(size, Image.NEAREST),
              "decoded at x2.5"),
        label(Image.fromarray(liif_core.upscale(src, size=size, model=model)), f"decoded at x{width / w:.2f}"),
    ]
    out = Image.new("RGB", (width * 2 + 12, (panels[0].height) * 2 + 12), "white")
    for i, p in enumerate(panels):
        out.paste(p, ((i % 2) * (width + 12), (i // 2) * (p.height + 12)))
    out.save(ROOT / "docs" / "how_it_works.png")
    print(ROOT / "docs" / "how_it_works.png")


if __name__ == "__main__":
    main()
