"""How models enlarge JPEG photographs: docs/eval/jpeg_inputs.md (and HEIC ones: docs/eval/heic_inputs.md).

    .venv/bin/python docs/jpeg_inputs.py [MODEL ...] [--qualities 100,98,95,90,75,50] [--scales 2,4] [--ui]
        [--sets photos,Set5,Set14,ui,icons,docs] [--codec jpeg|heic|webp|avif|jxl] [--out FILE]

A MODEL is ``default``, a bundled name or a ``.safetensors`` path, or ``NAME=MODEL`` to label it
``NAME`` (default: the shipped model).

The benchmark protocol gives every method a clean small image: the HR downscaled with MATLAB's
bicubic and quantised to 8 bits. Most photographs a user enlarges were saved as JPEG, whose
blocks and ringing a model trained on clean images may take for detail and sharpen. Here the same
small image is also saved as JPEG (Pillow, 4:2:0 chroma, as cameras and most programs write it)
at each quality and read back before it is enlarged, and every result is scored against the
clean HR (Y-PSNR with ``scale`` pixels shaved, as liif-eval). Images: the photographs the shipped
training config holds out of T91 and BSD200 (never trained on), Set5 and Set14 (evaluation sets:
measured here, never tuned on), and with ``--ui`` the UI sets of liif-eval (``ui``, ``icons``,
``docs``, rendered here; ``ui`` about 30 minutes on a 2-core CPU, ``docs`` longer): screenshots get
saved as JPEG too, and ``liif-upscale`` gives every JPEG file the model made for those. ``--sets``
names the groups to measure (``photos`` are the held-out photographs); docs/eval/jpeg_inputs_ui.md
is ``--sets ui,icons --out docs/eval/jpeg_inputs_ui.md`` (written before quality 100 was among the
defaults: ``--qualities 98,95,90,75,50`` gives it again, as it gives jpeg_inputs_docs.md with ``--sets docs``).
Quality 100 quantizes every frequency by 1 but keeps Pillow's 4:2:0 chroma, as most programs save it.

``--codec heic`` saves the small image as HEIC instead (HEVC through libheif and x265, as ``pillow-heif``
writes it; 4:2:0 chroma, as phones save photographs): docs/eval/heic_inputs.md is
``--codec heic --qualities 100,95,90,75,50 --sets photos,Set5 liif-edsr liif-edsr-jpeg --out docs/eval/heic_inputs.md``
(pillow-heif's 95 and 100 give the same file: its encoder's finest). ``--codec webp``: lossy WebP, as web
pages serve pictures (docs/eval/webp_inputs.md); ``--codec avif``: AVIF (docs/eval/avif_inputs.md,
``--codec avif --qualities 100,90,75,50 --sets photos,Set5 liif-edsr liif-edsr-jpeg``); ``--codec jxl``: lossy
JPEG XL (docs/eval/jxl_inputs.md, ``--codec jxl --qualities 100,95,90,75,50 --sets photos,Set5 liif-edsr
liif-edsr-jpeg --out docs/eval/jxl_inputs.md``). ``auto`` reads such a file to tell lossy from lossless
(``liif_core.imageio.lossy_compression``).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from liif_core import eval as ev
from liif_core import jpeg_xl
from liif_core.training.data import jpeg_round_trip
from liif_core.training.train import _source_images as source_images
from liif_core.training.train import load_config

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "eval" / "jpeg_inputs.md"
CONFIG = ROOT / "weights" / "liif-edsr.train.json"
CROP_QUALITY = 75
UI_SETS = {"ui": "ui (our UI generator, a seed never trained on)", "icons": "icons (Breeze and Papirus sheets)",
           "docs": "docs (Debian Reference pages)"}  # liif-eval's rendered sets, with their headings here


def held_out_photos(data: Path) -> list[Path]:
    """The T91 and BSD200 images the shipped config keeps out of training (the last ``holdout`` by name)."""
    sources = load_config(CONFIG)["data"]["sources"]
    return [path for spec in sources if spec["path"] in ("T91", "BSD200") for path in source_images(data, spec)[1]]


def jpeg(lr: np.ndarray, quality: int | None) -> np.ndarray:
    """``lr`` (uint8 RGB) saved as JPEG at ``quality`` and read back as training does; ``None``: as it is."""
    if quality is None:
        return lr
    back = jpeg_round_trip(torch.from_numpy(lr).permute(2, 0, 1).float().div(255), quality)
    return back.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def heic(lr: np.ndarray, quality: int | None) -> np.ndarray:
    """``lr`` (uint8 RGB) saved as HEIC at ``quality`` (4:2:0) and read back; ``None``: as it is."""
    if quality is None:
        return lr
    import pillow_heif

    encoded = io.BytesIO()
    pillow_heif.from_bytes("RGB", lr.shape[1::-1], lr.tobytes()).save(encoded, quality=quality, chroma=420)
    return np.asarray(pillow_heif.open_heif(io.BytesIO(encoded.getvalue()), convert_hdr_to_8bit=True)).copy()


def webp(lr: np.ndarray, quality: int | None) -> np.ndarray:
    """``lr`` (uint8 RGB) saved as lossy WebP at ``quality`` (Pillow, VP8: 4:2:0) and read back."""
    if quality is None:
        return lr
    encoded = io.BytesIO()
    Image.fromarray(lr).save(encoded, format="WEBP", quality=quality)
    return np.asarray(Image.open(io.BytesIO(encoded.getvalue())).convert("RGB"))


def avif(lr: np.ndarray, quality: int | None) -> np.ndarray:
    """``lr`` (uint8 RGB) saved as AVIF at ``quality`` (Pillow: AV1 through libavif, 4:2:0) and read back."""
    if quality is None:
        return lr
    encoded = io.BytesIO()
    Image.fromarray(lr).save(encoded, format="AVIF", quality=quality, subsampling="4:2:0")
    return np.asarray(Image.open(io.BytesIO(encoded.getvalue())).convert("RGB"))


def jxl(lr: np.ndarray, quality: int | None) -> np.ndarray:
    """``lr`` (uint8 RGB) saved as lossy JPEG XL at ``quality`` (libjxl through imagecodecs; cjxl's mapping of a
    quality to a distance: 90 is distance 1.0, cjxl's default) and read back."""
    if quality is None:
        return lr
    import imagecodecs

    return imagecodecs.jpegxl_decode(imagecodecs.jpegxl_encode(lr, distance=jpeg_xl.distance(quality), lossless=False))


CODECS = {"jpeg": ("JPEG", "JPEG (Pillow, 4:2:0)", jpeg),
          "heic": ("HEIC", "HEIC (pillow-heif: libheif and x265, 4:2:0)", heic),
          "webp": ("WebP", "lossy WebP (Pillow: VP8, 4:2:0)", webp),
          "avif": ("AVIF", "AVIF (Pillow: AV1 through libavif, 4:2:0)", avif),
          "jxl": ("JPEG XL", "lossy JPEG XL (libjxl's VarDCT in XYB, as cjxl writes it; quality q is cjxl's: distance "
                  "0.1 + (100 - q) x 0.09, so 90 is distance 1.0, the default of cjxl and of GIMP's export)", jxl)}


def crop(ups: list[np.ndarray], hr: np.ndarray, scale: int) -> list[np.ndarray]:
    """The same window of each result (floats in [0, 1]) and of ``hr``, as uint8: the window where
    the first result (bicubic, which no model's output sways) shows the most structure."""
    r, c, side = ev.crop_window(ups[0], scale)
    return [np.round(up[r:r + side, c:c + side] * 255).astype(np.uint8) for up in ups] + [hr[r:r + side, c:c + side]]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=["default"],
                        help="default, a bundled name or a .safetensors; NAME=MODEL labels it NAME")
    parser.add_argument("--qualities", default="100,98,95,90,75,50", help="JPEG qualities, besides the clean input")
    parser.add_argument("--scales", default="2,4")
    parser.add_argument("--data", type=Path, default=None, help="benchmark folder (default: as liif-eval)")
    parser.add_argument("--ui", action="store_true", help="also the UI sets ui, icons and docs (rendered)")
    parser.add_argument("--sets", default=None, help="the groups to measure, of photos, Set5, Set14, "
                        + ", ".join(UI_SETS) + " (default: photos,Set5,Set14, with --ui also the UI sets)")
    parser.add_argument("--codec", choices=sorted(CODECS), default="jpeg", help="what the small image is saved as")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Markdown file to write (default {OUT}); its "
                        "crops (the first image of each group at the largest scale and quality 75) beside it as PNG")
    args = parser.parse_args(argv)
    data = ev.data_root(args.data)
    models = ev.compared_models(args.models)
    qualities: list[int | None] = [None] + [int(q) for q in args.qualities.split(",")]
    scales = [int(s) for s in args.scales.split(",")]
    chosen = args.sets.split(",") if args.sets else ["photos", "Set5", "Set14"] + (list(UI_SETS) if args.ui else [])
    unknown = sorted(set(chosen) - {"photos", "Set5", "Set14", *UI_SETS})
    if unknown:
        parser.error(f"unknown sets: {', '.join(unknown)}")
    groups = {}
    if "photos" in chosen:
        groups["held-out training photographs (T91, BSD200)"] = held_out_photos(data)
    groups.update({name: sorted((data / name).glob("*.png")) for name in ("Set5", "Set14") if name in chosen})
    ui_sets = [name for name in UI_SETS if name in chosen]
    rendered_in = tempfile.TemporaryDirectory(prefix="jpeg-inputs-")  # the UI sets, drawn for this run
    rendered = ev.render_sets(ui_sets, Path(rendered_in.name))
    groups.update({UI_SETS[name]: ev.list_images(name, data, rendered) for name in ui_sets})
    names = ["bicubic", "Lanczos"] + [n for n, _ in models]
    codec, saved_as, compress = CODECS[args.codec]
    panels: list[tuple[str, list[np.ndarray]]] = []
    text = [f"# Enlarging images saved as {codec}" if ui_sets else f"# Enlarging {codec} photographs", "",
            f"Mean Y-PSNR (dB) against the clean HR; the small image was saved as {saved_as} at the "
            "quality given, or left clean, before it was enlarged. Written by `docs/jpeg_inputs.py` (its "
            "docstring says why and how).", "", ev.models_legend(models), ""]
    for group, paths in groups.items():
        text += [f"## {group}: {len(paths)} images", "",
                 f"| Scale | {codec} quality | " + " | ".join(names) + " | "
                 + " | ".join(f"{n} - bicubic" for n, _ in models) + " |",
                 "| ---: | ---: |" + " ---: |" * (len(names) + len(models))]
        for s in scales:
            for q in qualities:
                scores = np.zeros((len(paths), len(names)))
                for i, path in enumerate(paths):
                    hr = ev.modcrop(ev.load_rgb(path), s)
                    lr = compress(ev.make_lr(hr, s), q)
                    ups = [ev.upscale_bicubic(lr, hr.shape[:2]), ev.upscale_lanczos(lr, hr.shape[:2])]
                    ups += [ev.upscale_ours(lr, hr.shape[:2], m) for _, m in models]
                    scores[i] = [ev.psnr_y(up, hr.astype(np.float64) / 255.0, s) for up in ups]
                    if i == 0 and s == max(scales) and q == CROP_QUALITY:
                        shown = [ups[0]] + ups[2:]  # Lanczos left out: it looks like bicubic
                        panels.append((f"{path.stem} x{s}, {codec} quality {q}", crop(shown, hr, s)))
                mean = scores.mean(axis=0)
                gains = [f"{mean[2 + j] - mean[0]:+.2f}" for j in range(len(models))]
                text.append(f"| x{s} | {q or 'clean'} | " + " | ".join(f"{v:.2f}" for v in mean) + " | "
                            + " | ".join(gains) + " |")
                print(text[-1], flush=True)
        text.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if panels:
        sheet = ev.write_crops(args.out.with_suffix(".png"), panels,
                               ["bicubic"] + [n for n, _ in models] + ["ground truth"])
        text += ["Crops (the first image of each group; the window where bicubic shows the most structure):", "",
                 f"![bicubic / {' / '.join(n for n, _ in models)} / ground truth]({sheet.name})", ""]
    args.out.write_text("\n".join(text))
    rendered_in.cleanup()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
