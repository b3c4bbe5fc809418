"""Against the editors' own scaling: docs/eval/editor_scaling.md.

    .venv/bin/python docs/editor_scaling.py [--sets Set5,Set14,B100,ui,icons,docs] [--scales 2,3,4] [--out FILE]

A Krita or GIMP user who does not use this plug-in enlarges with the editor's own Scale Image. The
benchmark report compares the model with MATLAB's bicubic and PIL's Lanczos; here the real editors
enlarge the same small images with each of their interpolation methods: GIMP 3.0 (None, Linear,
Cubic, NoHalo, LoHalo; ``Gimp.Image.scale``, run headless in the trixie chroot that
tests/hosts/setup_gimp.sh builds) and Krita (each filter of ``Document.scaleImage``, run headless
by ``kritarunner``). The small images are made as ``liif-eval`` makes them (HR cropped to a multiple
of the scale, MATLAB's bicubic downscaling, 8-bit PNG); the model enlarges them on the CPU in full
float32 and its result is rounded to 8 bits, as an 8-bit layer holds it (the editors' results are
8-bit layers exported as PNG). Every result is scored as ``liif-eval`` scores (Y-PSNR and SSIM with
``scale`` pixels shaved). A probe of one-pixel stripes shows how each method blends: in the stored
sRGB values or in linear light. Needs root for GIMP's chroot; without it, or without Krita, that
editor is left out and the report says so. Every result stays in ``--work``: a rerun reuses them.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from liif_core import eval as ev
from liif_core.pixels import srgb_encode

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "eval" / "editor_scaling.md"
sys.path.insert(0, str(ROOT / "tests" / "hosts"))
import gimp_chroot  # noqa: E402  (tests/hosts: how the GIMP chroot is run)
import krita_home  # noqa: E402  (tests/hosts: Krita with a profile of its own)

GIMP_METHODS = ("none", "linear", "cubic", "nohalo", "lohalo")
GIMP_NAMES = {"none": "None", "linear": "Linear", "cubic": "Cubic", "nohalo": "NoHalo", "lohalo": "LoHalo"}
KRITA_METHODS = ("NearestNeighbor", "Bilinear", "Bicubic", "Hermite", "Bell", "BSpline", "Mitchell", "Lanczos3")
CROPS = (("Set14", "comic", 3), ("icons", "icons_02", 3), ("docs", None, 3))  # None: the set's first image
CROP_METHODS = ("GIMP Cubic", "GIMP NoHalo", "Krita Bicubic", "Krita Lanczos3", "ours")
EDITOR_TIMEOUT_S = 1800


def run_gimp(job: Path, work: Path) -> str | None:
    """Scale the job's images in GIMP; ``None`` if it ran, else why not (with its log's tail)."""
    if (why := gimp_chroot.why_not_usable()) is not None:
        return why
    batch = f"exec(open({str(ROOT / 'docs' / 'editor_scaling_gimp.py')!r}).read())"
    command = f"exec {gimp_chroot.GIMP} -i -d -f --batch-interpreter=python-fu-eval -b {shlex.quote(batch)} --quit"
    env = {"HOME": str(work / "gimp-home"), "GIMP3_DIRECTORY": str(work / "gimp-profile"),
           "XDG_CONFIG_HOME": str(work / "gimp-config"), "XDG_CACHE_HOME": str(work / "gimp-cache"),
           "XDG_DATA_HOME": str(work / "gimp-data"), "LIIF_SCALING_JOB": str(job)}
    log = work / "gimp.log"
    code = gimp_chroot.run(command, env, gimp_chroot.outermost([ROOT]), [work], log, EDITOR_TIMEOUT_S)
    return None if code == 0 else f"gimp-console exited with {code}:\n{log.read_text(errors='replace')[-3000:]}"


def run_krita(job: Path, work: Path) -> str | None:
    """Scale the job's images in Krita (kritarunner); ``None`` if it ran, else why not."""
    if shutil.which("kritarunner") is None:
        return "kritarunner not found (apt-get install krita python3-pyqt5)"
    env = krita_home.krita_env(work / "krita-home", work / "krita-runtime", QT_QPA_PLATFORM="offscreen",
                               PYTHONPATH=str(ROOT / "docs"))
    runs_before = len(editor_runs(work, "Krita"))
    proc = subprocess.run(["kritarunner", "-s", "editor_scaling_krita", "-f", "main", str(job)], env=env, cwd=work,
                          capture_output=True, text=True, timeout=EDITOR_TIMEOUT_S)
    ran = len(editor_runs(work, "Krita")) > runs_before  # kritarunner exits 0 whatever happened
    return None if ran else f"kritarunner did not finish the job:\n{(proc.stdout + proc.stderr)[-3000:]}"


EDITORS = {"GIMP": (GIMP_METHODS, run_gimp), "Krita": (KRITA_METHODS, run_krita)}


def editor_runs(work: Path, editor: str) -> list[dict[str, Any]]:
    """What each run of ``editor`` in ``work`` did (a line per run, written by the editor's script)."""
    path = work / f"{editor.lower()}_runs.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def result_path(work: Path, editor: str, method: str, lr_name: str) -> Path:
    """Where an editor's method (or, for ``ours``, the model) left its enlargement of ``lr_name``."""
    return work / "out" / editor.lower() / method / lr_name


def without_results(work: Path, editor: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items that lack a result of at least one of ``editor``'s methods."""
    methods = EDITORS[editor][0]
    return [i for i in items if any(not result_path(work, editor, m, Path(i["lr"]).name).is_file() for m in methods)]


def stripes_item(work: Path) -> dict[str, Any]:
    """A probe for the editors: 8 x 4 columns of white and black, to be enlarged to 16 x 8."""
    path = work / "lr" / "probe-stripes.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.zeros((4, 8, 3), np.uint8)
    a[:, ::2] = 255
    Image.fromarray(a).save(path)
    return {"lr": str(path), "width": 16, "height": 8}


def stripes_text(work: Path, columns: list[tuple[str, str, str]]) -> list[str]:
    """The stripes probe as Markdown: where a method blends, in stored values or in linear light."""
    stored = [round(255 * w) for w in (0.75, 0.25)]
    light = [round(255 * float(srgb_encode(torch.tensor(w)))) for w in (0.75, 0.25)]
    text = ["## One-pixel stripes", "",
            "An 8 x 4 image of white and black columns (255, 0, 255, ...) enlarged to 16 x 8 by each editor "
            "method; the output pixels 1 to 4 of a row lie a quarter, three quarters, five quarters and seven "
            f"quarters of an input pixel from the first column's centre. Blending the stored sRGB values gives "
            f"{stored[0]}, {stored[1]}, {stored[1]}, {stored[0]} with linear weights; blending linear light and "
            f"encoding the result again gives {light[0]}, {light[1]}, {light[1]}, {light[0]}.", "",
            "| Method | Output pixels 1-4 |", "| --- | --- |"]
    for label, editor, method in columns:
        row = read_png(result_path(work, editor, method, "probe-stripes.png"))[2, 1:5, 0] * 255.0
        text.append(f"| {label} | {', '.join(str(round(v)) for v in row)} |")
    return text + [""]


def read_png(path: Path) -> np.ndarray:
    """A result as RGB floats in [0, 1]."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.float64) / 255.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="Set5,Set14,B100,ui,icons,docs")
    parser.add_argument("--scales", default="2,3,4")
    parser.add_argument("--model", default="default", help="default, a bundled name or a .safetensors")
    parser.add_argument("--data", type=Path, default=None, help="benchmark folder (default: as liif-eval)")
    parser.add_argument("--work", type=Path, default=None, help="keep the small images and every result here; "
                        "a rerun with the same folder reuses the results already there (the model's: same weights)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"Markdown file to write (default {OUT}); "
                        "its crops beside it as PNG")
    args = parser.parse_args(argv)
    sets, scales = args.sets.split(","), [int(s) for s in args.scales.split(",")]
    data = ev.data_root(args.data)
    work = args.work or Path(tempfile.mkdtemp(prefix="editor-scaling-"))
    work.mkdir(parents=True, exist_ok=True)
    rendered = ev.render_sets(sets, work / "rendered")
    (name, model), = ev.compared_models([args.model])
    weights = "{name}-{sha256}".format(**ev.model_id(model, args.model))  # the model's results are kept apart

    # the small images, as liif-eval makes them
    tasks = [(s, k, p) for s in sets for k in scales for p in ev.list_images(s, data, rendered)]
    items = []
    for set_name, scale, path in tasks:
        hr = ev.modcrop(ev.load_rgb(path), scale)
        lr_path = work / "lr" / f"{set_name}-x{scale}-{path.stem}.png"
        lr_path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(ev.make_lr(hr, scale)).save(lr_path)
        items.append({"lr": str(lr_path), "width": hr.shape[1], "height": hr.shape[0]})
    probe = stripes_item(work)

    editors: dict[str, str | None] = {}  # editor: why it is left out (None: its results are all there)
    for editor, (methods, runner) in EDITORS.items():
        todo = [dict(i, out=str(work / "out" / editor.lower())) for i in without_results(work, editor, [*items, probe])]
        why = None
        if todo:
            job = work / f"{editor.lower()}_job.json"
            job.write_text(json.dumps({"methods": list(methods), "items": todo}))
            t0 = time.monotonic()
            why = runner(job, work)
            print(f"{editor}: {len(todo)} images {'not scaled' if why else 'scaled'} in {time.monotonic() - t0:.0f} s",
                  flush=True)
        runs = editor_runs(work, editor)
        if runs and runs[-1]["failed"]:
            print("\n".join(runs[-1]["failed"][:10]), file=sys.stderr)
        left = len(without_results(work, editor, [*items, probe]))
        editors[editor] = (why or f"{left} images without its results") if left else None
        if why:
            print(why, file=sys.stderr)

    columns = [(f"GIMP {GIMP_NAMES[m]}", "GIMP", m) for m in GIMP_METHODS if editors["GIMP"] is None]
    columns += [(f"Krita {m}", "Krita", m) for m in KRITA_METHODS if editors["Krita"] is None]
    labels = [label for label, _, _ in columns] + ["ours"]
    psnr: dict[str, dict[tuple[str, int], list[float]]] = {c: {} for c in labels}
    ssim: dict[str, dict[tuple[str, int], list[float]]] = {c: {} for c in labels}
    crops = {}
    wanted_crops = {(s, stem or ev.list_images(s, data, rendered)[0].stem, k) for s, stem, k in CROPS if s in sets}
    t0 = time.monotonic()
    for (set_name, scale, path), item in zip(tasks, items):
        hr = ev.modcrop(ev.load_rgb(path), scale)
        hr_f = hr.astype(np.float64) / 255.0
        lr_name = Path(item["lr"]).name
        ours = result_path(work, "ours", weights, lr_name)
        if not ours.is_file():  # rounded to 8 bits, as an 8-bit layer holds it: a PNG keeps it exactly
            ours.parent.mkdir(parents=True, exist_ok=True)
            sr = ev.upscale_ours(ev.load_rgb(Path(item["lr"])), hr.shape[:2], model)
            Image.fromarray(np.round(sr * 255.0).astype(np.uint8)).save(ours)
        outs = {label: read_png(result_path(work, editor, method, lr_name)) for label, editor, method in columns}
        outs["ours"] = read_png(ours)
        for label, sr in outs.items():
            if sr.shape != hr_f.shape:
                raise SystemExit(f"{label} made {sr.shape[1]} x {sr.shape[0]} of {lr_name}, not "
                                 f"{hr.shape[1]} x {hr.shape[0]}")
            psnr[label].setdefault((set_name, scale), []).append(ev.psnr_y(sr, hr_f, scale))
            ssim[label].setdefault((set_name, scale), []).append(ev.ssim_y(sr, hr_f, scale))
        if (set_name, path.stem, scale) in wanted_crops:
            lr = ev.load_rgb(Path(item["lr"]))
            r, c, side = ev.crop_window(ev.upscale_bicubic(lr, hr.shape[:2]), scale)
            tiles = [np.round(outs[m][r:r + side, c:c + side] * 255).astype(np.uint8) for m in CROP_METHODS
                     if m in outs]
            crops[(set_name, path.stem, scale)] = tiles + [hr[r:r + side, c:c + side]]
    print(f"scored {len(tasks)} images in {time.monotonic() - t0:.0f} s", flush=True)

    text = ["# Against the editors' own scaling", "",
            "Mean Y-PSNR (dB) / SSIM of each editor's Scale Image methods and of the model, on the same small "
            "images (made as `liif-eval` makes them). Written by `docs/editor_scaling.py` (its docstring says "
            "how); in each row the best editor method is in bold.", "", ev.models_legend([(name, model)]), ""]
    for editor, why in editors.items():
        runs = editor_runs(work, editor)
        if why is None and runs:
            extra = (f"; default interpolation in its preferences: {GIMP_NAMES[runs[-1]['default_interpolation']]}"
                     if editor == "GIMP" else f"; filters offered: {', '.join(sorted(runs[-1]['filters']))}")
            text.append(f"- {runs[-1]['editor']}: {sum(r['done'] for r in runs)} results in "
                        f"{sum(r['seconds'] for r in runs):.0f} s{extra}")
        else:
            text.append(f"- {editor}: left out ({(why or 'not run').strip().splitlines()[0]})")
    text += [f"- the model and the scores: {ev.machine()}", ""]
    text += ["| Set | Scale | Images | " + " | ".join(labels) + " | ours − best editor (dB) |",
             "| --- | ---: | ---: |" + " ---: |" * (len(labels) + 1)]
    for set_name in sets:
        for scale in scales:
            key = (set_name, scale)
            means = {c: (float(np.mean(psnr[c][key])), float(np.mean(ssim[c][key]))) for c in labels}
            editor_cols = [c for c in labels if c != "ours"]
            best = max(editor_cols, key=lambda c: means[c][0]) if editor_cols else None
            cells = [(f"**{means[c][0]:.2f} / {means[c][1]:.4f}**" if c == best else f"{means[c][0]:.2f} / "
                      f"{means[c][1]:.4f}") for c in labels]
            lead = f"{means['ours'][0] - means[best][0]:+.2f} ({best})" if best else "–"
            text.append(f"| {set_name} | x{scale} | {len(psnr['ours'][key])} | " + " | ".join(cells) + f" | {lead} |")
            print(text[-1], flush=True)
    text.append("")
    if columns:
        text += stripes_text(work, columns)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if crops:
        shown = [m for m in CROP_METHODS if m in labels]
        panels = [(f"{s} {stem} x{k}", tiles) for (s, stem, k), tiles in sorted(crops.items())]
        sheet = ev.write_crops(args.out.with_suffix(".png"), panels, shown + ["ground truth"])
        text += ["Crops (the window where bicubic shows the most structure):", "",
                 f"![{' / '.join(shown)} / ground truth]({sheet.name})", ""]
    args.out.write_text("\n".join(text))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
