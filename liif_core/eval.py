"""Benchmark evaluation with the LIIF paper's protocol: ``python -m liif_core.eval`` (``liif-eval``).

What it measures, and why each choice (so that our numbers sit beside the paper's):

- Sets: Set5, Set14, B100, Urban100 (``../shared/datasets``), scales 2, 3, 4, 6, 8, plus three UI
  sets rendered here at scales 2, 3, 4 (:mod:`liif_core.eval_sets`): ``ui`` (our generator with a
  seed training never used), ``icons`` (Breeze and Papirus icon sheets) and ``docs`` (Debian
  Reference pages), the last two from Debian material reserved for evaluation.
- HR: the image as RGB (grey ones replicated), cropped top-left to a multiple of the scale, as
  LIIF's ``sr-implicit-paired`` / ``sr-implicit-downsampled`` wrappers do.
- LR (``--lr paper``, the default): for x2-x4 our bit-exact port of MATLAB's antialiased bicubic
  ``imresize`` (:mod:`liif_core.imresize`) of the uint8 HR, quantised to uint8, which is how the
  EDSR ``benchmark`` LR_bicubic images LIIF tests on were made; for x6 and x8 PIL's bicubic
  resize of the uint8 HR, which is what LIIF's test configs (``sr-implicit-downsampled``) do.
  ``--lr matlab`` uses the MATLAB port at every scale.
- SR: each method upscales the uint8 LR (as float in [0, 1]) to exactly the HR size; the result
  is clamped to [0, 1] and scored unquantised, as LIIF's ``test.py`` does.
- PSNR: LIIF's ``calc_psnr(dataset='benchmark')``: the RGB difference is mapped to Y with weights
  [65.738, 129.057, 25.064] / 256, ``scale`` pixels are shaved at each border, rgb_range 1; the
  mean of per-image PSNR is reported. Identical images score ``PSNR_CAP``.
- SSIM: on Y = 16 + 65.481 R + 128.553 G + 24.966 B (BT.601, [0, 255] scale) with the same shave,
  11 x 11 Gaussian window of sigma 1.5, valid region only, K = (0.01, 0.03), L = 255, as in
  Wang et al.'s ``ssim_index.m`` and the usual SR evaluation scripts.
- Baselines on the same LR: ``bicubic`` = our MATLAB ``imresize`` port upscaling (float, clamped;
  the classic SR-paper bicubic), ``lanczos`` = PIL's LANCZOS on each channel in float ("F" mode).

Output in ``--out`` (``docs/eval/``): ``report.md`` (table, protocol, timing, what is missing),
``crops.png`` (bicubic / ours / ground truth crops), ``records.jsonl`` (one line per image, so a
long run can be continued with ``--resume``). ``--card`` writes the table into the model's JSON
card under ``"evaluation"``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import itertools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from liif_core.errors import InputError, LiifError
from liif_core.eval_sets import BENCHMARKS, RENDERED_SETS, UI_SEED, package_versions
from liif_core.imresize import imresize

DATA_ENV = "LIIF_UPSCALE_DATASETS"
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
DEFAULT_OUT = Path("docs") / "eval"
ALL_SETS = BENCHMARKS + tuple(RENDERED_SETS)
SCALES = (2, 3, 4, 6, 8)
RENDERED_SCALES = (2, 3, 4)  # UI is enlarged 2-4x; beyond that the LR of a UI image is mostly illegible
SET_SIZES = {"Set5": 5, "Set14": 14, "B100": 100, "Urban100": 100} | {s.name: s.size for s in RENDERED_SETS.values()}
METHODS = ("bicubic", "lanczos", "ours")
VIEW_WORDS = {2: "the image and its half turn", 4: "the image's four rotations",
              8: "the image's 8 flips and rotations"}  # liif_core.self_ensemble.VIEW_SETS, in words
PSNR_CAP = 100.0  # dB reported for identical images (the true value is infinite)
LIIF_Y = np.array([65.738, 129.057, 25.064]) / 256.0  # LIIF utils.calc_psnr
BT601_Y = np.array([65.481, 128.553, 24.966])  # Y = 16 + BT601_Y . rgb, rgb in [0, 1]

# LIIF paper (Chen, Liu, Wang, CVPR 2021), Table 2: RDN-LIIF PSNR (dB) on the benchmarks, trained on
# DIV2K with scales U(1, 4). The paper gives EDSR-baseline-LIIF on DIV2K validation only (Table 1),
# so its benchmark column stays empty.
PAPER_RDN_LIIF: dict[str, dict[int, float]] = {
    "Set5": {2: 38.17, 3: 34.68, 4: 32.50, 6: 29.15, 8: 27.14},
    "Set14": {2: 33.97, 3: 30.53, 4: 28.80, 6: 26.64, 8: 25.15},
    "B100": {2: 32.32, 3: 29.26, 4: 27.74, 6: 25.98, 8: 24.91},
    "Urban100": {2: 32.87, 3: 28.82, 4: 26.68, 6: 24.20, 8: 22.79},
}
PAPER_EDSR_LIIF: dict[str, dict[int, float]] = {}
PAPER_EDSR_LIIF_DIV2K = {2: 34.67, 3: 30.96, 4: 29.00, 6: 26.75}  # Table 1, for the report's note

# Crops shown in the README: (set, image stem, scale).
CROPS = (("Urban100", "img_004", 4), ("Set14", "comic", 3), ("ui", f"qt_{UI_SEED}_00000", 3), ("icons", "icons_02", 3),
         ("docs", "docs_ch01", 3))
CROP_SIDE = 120  # HR pixels (a multiple of 2, 3, 4, 6 and 8)
CROP_ZOOM = 2


# ----------------------------------------------------------------------------------------------
# Metrics


def y_channel(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma on the [16, 235] scale from an ``H x W x 3`` RGB array in [0, 1] (float64)."""
    return 16.0 + np.asarray(rgb, dtype=np.float64) @ BT601_Y


def _shave(a: np.ndarray, shave: int) -> np.ndarray:
    if shave <= 0:
        return a
    if 2 * shave >= min(a.shape[:2]):
        raise InputError(f"image {a.shape[1]} x {a.shape[0]} is too small to shave {shave} pixels at each border")
    return a[shave:-shave, shave:-shave]


def psnr_y(sr: np.ndarray, hr: np.ndarray, shave: int) -> float:
    """LIIF's benchmark PSNR (dB): Y-channel of ``sr - hr`` (RGB in [0, 1]), ``shave`` pixels cut per border.

    Identical images give :data:`PSNR_CAP` instead of infinity so that means stay finite.
    """
    if sr.shape != hr.shape or sr.ndim != 3 or sr.shape[2] != 3:
        raise InputError(f"psnr_y needs two H x W x 3 arrays of one shape, got {sr.shape} and {hr.shape}")
    diff = (np.asarray(sr, dtype=np.float64) - np.asarray(hr, dtype=np.float64)) @ LIIF_Y
    mse = float(np.mean(_shave(diff, shave) ** 2))
    return PSNR_CAP if mse == 0 else min(PSNR_CAP, -10.0 * math.log10(mse))


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x ** 2) / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D float64 array with the 1-D window ``g`` on both axes."""
    n = g.size
    rows = sum(g[k] * a[k:a.shape[0] - n + 1 + k] for k in range(n))
    return sum(g[k] * rows[:, k:rows.shape[1] - n + 1 + k] for k in range(n))


def ssim_y(sr: np.ndarray, hr: np.ndarray, shave: int) -> float:
    """SSIM of the BT.601 Y channels ([0, 255] scale) after shaving ``shave`` pixels per border.

    Gaussian 11 x 11 window, sigma 1.5, valid region only, K1 = 0.01, K2 = 0.03, L = 255.
    """
    if sr.shape != hr.shape or sr.ndim != 3 or sr.shape[2] != 3:
        raise InputError(f"ssim_y needs two H x W x 3 arrays of one shape, got {sr.shape} and {hr.shape}")
    a, b = _shave(y_channel(sr), shave), _shave(y_channel(hr), shave)
    if min(a.shape) < 11:
        raise InputError(f"image is too small for an 11 x 11 SSIM window after shaving ({a.shape[1]} x {a.shape[0]})")
    g = _gaussian_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a ** 2
    var_b = _filter_valid(b * b, g) - mu_b ** 2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(ssim_map.mean())


# ----------------------------------------------------------------------------------------------
# Degradation and the three upscalers


def modcrop(hr: np.ndarray, scale: int) -> np.ndarray:
    """The top-left part of ``hr`` whose sides are multiples of ``scale`` (LIIF's HR crop)."""
    h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    if h == 0 or w == 0:
        raise InputError(f"image {hr.shape[1]} x {hr.shape[0]} is smaller than the scale {scale}")
    return hr[:h, :w]


def make_lr(hr: np.ndarray, scale: int, mode: str = "paper") -> np.ndarray:
    """The uint8 LR of a modcropped uint8 HR: MATLAB bicubic (x2-x4, or all with ``mode='matlab'``), else PIL."""
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    if mode == "matlab" or (mode == "paper" and scale <= 4):
        return imresize(hr, scale=1.0 / scale, output_shape=(h, w))
    if mode == "paper":
        return np.asarray(Image.fromarray(hr).resize((w, h), Image.Resampling.BICUBIC))
    raise InputError(f"unknown LR mode {mode!r}; use 'paper' or 'matlab'")


def upscale_bicubic(lr: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """MATLAB-port bicubic upscaling of a uint8 LR, float in [0, 1], unquantised."""
    out = imresize(lr.astype(np.float64) / 255.0, output_shape=out_hw)
    return np.clip(out, 0.0, 1.0)


def upscale_lanczos(lr: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """PIL LANCZOS upscaling of a uint8 LR, channel by channel in float ("F" mode), clamped to [0, 1]."""
    planes = [np.asarray(Image.fromarray(lr[..., c].astype(np.float32) / 255.0).resize(
        (out_hw[1], out_hw[0]), Image.Resampling.LANCZOS)) for c in range(lr.shape[2])]
    return np.clip(np.stack(planes, axis=-1).astype(np.float64), 0.0, 1.0)


def upscale_ours(lr: np.ndarray, out_hw: tuple[int, int], model: Any, self_ensemble: bool | int = False) -> np.ndarray:
    """Our model on a uint8 LR given as float32 in [0, 1]; float result clamped to [0, 1].
    ``self_ensemble``: as :func:`liif_core.upscale` (``True``, or 2, 4 or 8 averaged views)."""
    from liif_core.upscale import upscale

    out = upscale(lr.astype(np.float32) / 255.0, size=(out_hw[1], out_hw[0]), model=model,
                  self_ensemble=self_ensemble)
    return np.clip(out.astype(np.float64), 0.0, 1.0)


def compared_models(sources: Sequence[str]) -> list[tuple[str, Any]]:
    """The models a comparison script was given, loaded on the CPU in full float32 (as the protocol
    scores) and named as given (``default`` as ``shipped``), or ``NAME=MODEL``: ``MODEL`` named
    ``NAME``, so that a candidate file scored from a scratch folder is labelled as it will ship."""
    from liif_core.weights import load_model

    models = []
    for source in sources:
        name, sep, model = source.partition("=")
        if not sep or not name or "/" in name or "\\" in name:  # a path that holds "=" is a path
            name, model = source, source
        models.append((name if name != "default" else "shipped", load_model(model, device="cpu", precision="float32")))
    return models


def models_legend(models: Sequence[tuple[str, Any]]) -> str:
    """A Markdown list of each compared model's training steps, for the table it heads."""
    return "\n".join(f"- `{n}`: {m.card.get('training', {}).get('steps', '?')} training steps" for n, m in models)


def run_method(method: str, lr: np.ndarray, out_hw: tuple[int, int], model: Any,
               self_ensemble: bool | int = False) -> np.ndarray:
    """Upscale ``lr`` to ``out_hw`` with ``bicubic``, ``lanczos`` or ``ours`` (optionally self-ensembled)."""
    if method == "bicubic":
        return upscale_bicubic(lr, out_hw)
    if method == "lanczos":
        return upscale_lanczos(lr, out_hw)
    if method == "ours":
        return upscale_ours(lr, out_hw, model, self_ensemble)
    raise InputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


# ----------------------------------------------------------------------------------------------
# Data


def data_root(path: str | os.PathLike | None = None) -> Path:
    """The benchmark folder: ``path``, else ``$LIIF_UPSCALE_DATASETS``, else ``../shared/datasets``."""
    root = Path(path or os.environ.get(DATA_ENV) or DEFAULT_DATA)
    if not root.is_dir():
        raise InputError(f"benchmark data folder {root} not found; pass --data DIR or set {DATA_ENV} "
                         "(it must hold Set5/, Set14/, B100/ and Urban100/ with HR PNGs)")
    return root


def set_folder(set_name: str, root: Path, rendered: dict[str, Path]) -> Path | None:
    """Where a set's HR PNGs are: a benchmark under ``root``, a rendered set in ``rendered`` (if made)."""
    return rendered.get(set_name) if set_name in RENDERED_SETS else root / set_name


def render_sets(sets: Sequence[str], folder: Path) -> dict[str, Path]:
    """Make the rendered sets among ``sets`` into subfolders of ``folder``: their folders by name."""
    rendered = {name: folder / name for name in sets if name in RENDERED_SETS}
    for name, path in rendered.items():
        RENDERED_SETS[name].make(path)
    return rendered


def list_images(set_name: str, root: Path, rendered: dict[str, Path], limit: int | None = None) -> list[Path]:
    """The HR PNGs of one set in sorted order (the first ``limit`` if given)."""
    folder = set_folder(set_name, root, rendered)
    if folder is None or not folder.is_dir():
        raise InputError(f"set {set_name!r}: folder {folder} not found")
    paths = sorted(folder.glob("*.png"))
    if not paths:
        raise InputError(f"set {set_name!r}: no PNG images in {folder}")
    return paths[:limit] if limit else paths


def load_rgb(path: Path) -> np.ndarray:
    """A uint8 ``H x W x 3`` array (grey and palette images converted, as LIIF's loader does)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


# ----------------------------------------------------------------------------------------------
# Evaluation loop and records


@dataclass
class Task:
    """One (set, scale, image) to score."""

    set: str
    scale: int
    path: Path


def model_id(model: Any, source: str | os.PathLike) -> dict[str, Any]:
    """Name, weights file and a short sha256 of it, to keep records of different models apart."""
    from liif_core.weights import _resolve

    path = _resolve(source)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return {"name": model.name, "file": path.name, "sha256": digest}


def score_image(task: Task, model: Any, lr_mode: str, self_ensemble: bool | int = False) -> dict[str, Any]:
    """Scores of all methods on one image, as a JSON-ready record."""
    rec, lr, hr_f = _score_baselines(task, lr_mode)
    sr, seconds = _run_ours(rec, lr, model, self_ensemble)
    _add_scores(rec, "ours", seconds, psnr_y(sr, hr_f, task.scale), ssim_y(sr, hr_f, task.scale))
    return rec


def _score_baselines(task: Task, lr_mode: str) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """A record with every method but ours scored, the LR image, and the HR in [0, 1]."""
    hr = modcrop(load_rgb(task.path), task.scale)
    lr = make_lr(hr, task.scale, lr_mode)
    hr_f = hr.astype(np.float64) / 255.0
    rec: dict[str, Any] = {"set": task.set, "scale": task.scale, "image": task.path.stem,
                           "hr": [hr.shape[1], hr.shape[0]], "psnr": {}, "ssim": {}, "seconds": {}}
    for method in METHODS[:-1]:
        t0 = time.perf_counter()
        sr = run_method(method, lr, hr.shape[:2], None)
        _add_scores(rec, method, time.perf_counter() - t0, psnr_y(sr, hr_f, task.scale),
                    ssim_y(sr, hr_f, task.scale))
    return rec, lr, hr_f


def _run_ours(rec: dict[str, Any], lr: np.ndarray, model: Any, self_ensemble: bool | int) -> tuple[np.ndarray, float]:
    t0 = time.perf_counter()
    sr = upscale_ours(lr, (rec["hr"][1], rec["hr"][0]), model, self_ensemble)
    return sr, time.perf_counter() - t0


def _add_scores(rec: dict[str, Any], method: str, seconds: float, psnr: float, ssim: float) -> None:
    rec["seconds"][method] = round(seconds, 3)
    rec["psnr"][method] = psnr
    rec["ssim"][method] = ssim


def _baselines_job(task: Task, lr_mode: str) -> tuple[dict[str, Any], np.ndarray]:
    """:func:`_score_baselines` in a helper process: the record and the LR (the HR stays there)."""
    rec, lr, _ = _score_baselines(task, lr_mode)
    return rec, lr


def _ours_job(task: Task, sr: np.ndarray) -> tuple[float, float]:
    """PSNR and SSIM of our result in a helper process (it reads the HR again: cheaper than sending it)."""
    hr_f = modcrop(load_rgb(task.path), task.scale).astype(np.float64) / 255.0
    return psnr_y(sr, hr_f, task.scale), ssim_y(sr, hr_f, task.scale)


def default_jobs(device: Any) -> int:
    """Helper processes for scoring: none on a CPU (the model needs every core), else most cores.

    On a GPU the model takes a fraction of each image's time; reading, degrading, interpolating and
    the metrics take the rest, on one core, unless spread over the others."""
    if str(device).startswith("cpu"):
        return 1
    return max(1, min(8, (os.cpu_count() or 1) - 2))


def scored_records(todo: Sequence[Task], model: Any, lr_mode: str, self_ensemble: bool | int = False,
                   jobs: int = 1) -> Iterator[dict[str, Any]]:
    """Records of ``todo`` in order. With ``jobs`` > 1, helper processes read, degrade, interpolate
    and score the images while this process runs the model: the same numbers, sooner on a GPU."""
    if jobs <= 1:
        for task in todo:
            yield score_image(task, model, lr_mode, self_ensemble)
        return
    import collections
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    single = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    saved = {k: os.environ.get(k) for k in single}
    os.environ.update(single)  # the helpers start with these: one thread each, no oversubscription
    try:
        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            tasks = iter(todo)
            ahead = collections.deque((t, pool.submit(_baselines_job, t, lr_mode))
                                      for t in itertools.islice(tasks, 2 * jobs))
            scoring: collections.deque = collections.deque()
            while ahead:
                task, baselines = ahead.popleft()
                following = next(tasks, None)
                if following is not None:
                    ahead.append((following, pool.submit(_baselines_job, following, lr_mode)))
                rec, lr = baselines.result()
                sr, seconds = _run_ours(rec, lr, model, self_ensemble)
                scoring.append((rec, seconds, pool.submit(_ours_job, task, sr)))
                while scoring and (scoring[0][2].done() or len(scoring) > jobs):
                    rec, seconds, scores = scoring.popleft()
                    _add_scores(rec, "ours", seconds, *scores.result())
                    yield rec
            for rec, seconds, scores in scoring:
                _add_scores(rec, "ours", seconds, *scores.result())
                yield rec
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def read_records(path: Path, ident: dict[str, Any], lr_mode: str) -> list[dict[str, Any]]:
    """Records in ``path`` made by the same model weights, LR mode and number of self-ensemble views
    (others are dropped)."""
    if not path.is_file():
        return []
    kept, dropped = [], 0
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        model = dict(rec.get("model", {}))
        if model.get("self_ensemble") is True:  # written before the view counts: all 8 views
            model["self_ensemble"] = 8
        same_model = all(model.get(k) == ident.get(k) for k in ("sha256", "self_ensemble"))
        if same_model and rec.get("lr_mode") == lr_mode:
            kept.append(rec)
        else:
            dropped += 1
    if dropped:
        print(f"note: ignoring {dropped} records in {path} from other weights, LR mode or self-ensemble setting",
              file=sys.stderr)
    return kept


def summarise(records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean PSNR / SSIM per (set, scale) and method, in table order, with the paper's numbers."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for rec in records:
        groups.setdefault((rec["set"], int(rec["scale"])), []).append(rec)
    order = {name: i for i, name in enumerate(ALL_SETS)}
    rows = []
    for (set_name, scale), recs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        row: dict[str, Any] = {"set": set_name, "scale": scale, "images": len(recs),
                               "full_set": len(recs) >= SET_SIZES.get(set_name, 0)}
        for method in METHODS:
            row[method] = {"psnr": round(float(np.mean([r["psnr"][method] for r in recs])), 3),
                           "ssim": round(float(np.mean([r["ssim"][method] for r in recs])), 4)}
        row["seconds_ours"] = round(float(sum(r["seconds"]["ours"] for r in recs)), 1)
        row["paper_rdn_liif"] = PAPER_RDN_LIIF.get(set_name, {}).get(scale)
        row["paper_edsr_baseline_liif"] = PAPER_EDSR_LIIF.get(set_name, {}).get(scale)
        rows.append(row)
    return rows


def _fmt(v: float | None, digits: int = 2, sign: bool = False) -> str:
    if v is None:
        return "–"
    return f"{v:+.{digits}f}" if sign else f"{v:.{digits}f}"


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The results table in Markdown: PSNR / SSIM per method, gains, and the paper's PSNR."""
    head = ("| Set | Scale | Images | Bicubic PSNR / SSIM | Lanczos PSNR / SSIM | Ours PSNR / SSIM | Ours − bicubic "
            "(dB) | RDN-LIIF (paper) | EDSR-baseline-LIIF (paper) | Ours − RDN-LIIF (dB) |")
    lines = [head, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        cells = [f"{m['psnr']:.2f} / {m['ssim']:.4f}" for m in (r["bicubic"], r["lanczos"], r["ours"])]
        gain = r["ours"]["psnr"] - r["bicubic"]["psnr"]
        paper = r["paper_rdn_liif"]
        gap = r["ours"]["psnr"] - paper if paper is not None and r["full_set"] else None  # subsets: no gap
        images = str(r["images"]) + ("" if r["full_set"] else " (subset)")
        lines.append(f"| {r['set']} | x{r['scale']} | {images} | {' | '.join(cells)} | {_fmt(gain, sign=True)} | "
                     f"{_fmt(paper)} | {_fmt(r['paper_edsr_baseline_liif'])} | {_fmt(gap, sign=True)} |")
    return "\n".join(lines) + "\n"


def missing_cells(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The protocol's (set, scale) cells with no or partial results, e.g. ``Urban100 x6``."""
    have = {(r["set"], r["scale"]): r for r in rows}
    out = []
    for set_name in ALL_SETS:
        for scale in (RENDERED_SCALES if set_name in RENDERED_SETS else SCALES):
            r = have.get((set_name, scale))
            if r is None:
                out.append(f"{set_name} x{scale}")
            elif not r["full_set"]:
                out.append(f"{set_name} x{scale} (only {r['images']} of {SET_SIZES[set_name]} images)")
    return out


@contextlib.contextmanager
def full_float32(device: Any) -> Iterator[None]:
    """Score in full float32 on CUDA, as on a CPU (cuDNN and cuBLAS would otherwise round to TF32).

    The flags are global to the process, so they are restored on the way out: a training loop
    that validates through :func:`evaluate` keeps its TF32 speed.
    """
    if getattr(device, "type", None) != "cuda":
        yield
        return
    import torch

    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def machine() -> str:
    """A one-line description of where this ran (CPU model and cores, torch threads, device)."""
    import torch

    from liif_core.devices import cpu_name, usable_cores

    cpu, cores = cpu_name(), usable_cores()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", CPU only"
    return f"{cpu}, {cores} cores{gpu}, torch {torch.__version__} with {torch.get_num_threads()} threads"


def machines_text(records: Iterable[dict[str, Any]], here: str) -> str:
    """Where the records were measured: one machine, or each machine with the sets it ran.

    A report may merge records from several runs (``--resume``), e.g. the photo sets on a GPU and the
    rest on a CPU; records from before machines were recorded count as ``here``.
    """
    sets_by_machine: dict[str, list[str]] = {}
    for rec in records:
        sets = sets_by_machine.setdefault(rec.get("machine", here), [])
        if rec["set"] not in sets:
            sets.append(rec["set"])
    if len(sets_by_machine) <= 1:
        return next(iter(sets_by_machine), here)
    return "; ".join(f"{m} ({', '.join(sets)})" for m, sets in sets_by_machine.items())


def write_report(out_dir: Path, rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> Path:
    """``report.md``: what was measured and how, the table, what is missing, timing."""
    missing = missing_cells(rows)
    lr_text = ("x2-x4: MATLAB `imresize` bicubic port (bit-exact with MATLAB on the Set5 reference images) of "
               "the uint8 HR, quantised to uint8; x6, x8: PIL bicubic of the uint8 HR, as LIIF's test configs do"
               if meta["lr_mode"] == "paper" else
               "MATLAB `imresize` bicubic port (bit-exact with MATLAB on the Set5 reference images) of the uint8 HR, "
               "quantised to uint8, at every scale")
    div2k = ", ".join(f"x{s} {v:.2f}" for s, v in PAPER_EDSR_LIIF_DIV2K.items())
    text = [
        "# LIIF Upscale: benchmark evaluation",
        "",
        f"Model `{meta['model']['name']}` ({meta['model']['file']}, sha256 {meta['model']['sha256']}…"
        f"{', ' + str(meta['steps']) + ' training steps' if meta.get('steps') else ''}). "
        f"Generated {meta['date']} by `python -m liif_core.eval` (liif_core/eval.py).",
        "",
        *([f"**Self-ensemble** (`--views {passes}`): the Ours columns are the mean of {passes} passes over "
           f"{VIEW_WORDS[passes]} (the LR image's views). The paper's numbers, and the model's card, are "
           "single passes.", ""]
          if (passes := meta["model"].get("self_ensemble")) else []),
        "## Protocol",
        "",
        "LIIF's benchmark protocol (Chen et al., CVPR 2021, `test.py` with `eval_type=benchmark-s`):",
        "",
        "- HR: dataset image as RGB, cropped top-left to a multiple of the scale.",
        f"- LR: {lr_text}.",
        "- Every method upscales the same uint8 LR to exactly the HR size; outputs are clamped to [0, 1] and "
        "scored in float (no quantisation).",
        "- PSNR: Y channel of the difference (weights [65.738, 129.057, 25.064] / 256, RGB in [0, 1]), `scale` "
        "pixels shaved at each border, mean of per-image PSNR (LIIF `calc_psnr`).",
        "- SSIM: BT.601 Y on the [0, 255] scale, same shave, Gaussian 11 x 11 window, sigma 1.5, K = (0.01, 0.03).",
        "- Bicubic: MATLAB `imresize` port upscaling (float). Lanczos: PIL LANCZOS per channel (float).",
        *([f"- Ours beyond x{meta['scale_max']:g}, the largest scale the model was trained on: the decoder is given "
           f"the cell of x{meta['scale_max']:g} (cell clipping, as LTE's test code does); the paper's code gives the "
           "true cell, so its x6/x8 numbers are without it."] if meta.get("scale_max") else []),
        *[f"- `{s.name}`: {s.description}." for s in RENDERED_SETS.values()],
        *([f"- Debian packages of the `icons` and `docs` sets: {meta['packages']}."] if meta.get("packages") else []),
        "- RDN-LIIF: the paper's Table 2 (a 22M-parameter RDN encoder, DIV2K, 1000 epochs on GPUs). The paper "
        "reports EDSR-baseline-LIIF (our architecture) on DIV2K only "
        f"({div2k}; RDN-LIIF is 0.2-0.3 dB above it there), so that column is empty on these sets.",
        "",
        "## Results (PSNR in dB on Y; SSIM on Y)",
        "",
        markdown_table(rows),
    ]
    if missing:
        text += ["Not measured in this report: " + "; ".join(missing) + ".", ""]
    if (out_dir / "crops.png").is_file():  # not made with --no-crops
        text += ["![Crops: bicubic / ours / ground truth](crops.png)", ""]
    text += [
        "## Timing",
        "",
        f"- Measured on: {meta['machine']}.",
        f"- Wall time of the runs behind this report: {meta['wall_seconds'] / 60:.1f} min in total; our model's "
        f"share {sum(r['seconds_ours'] for r in rows) / 60:.1f} min.",
        "",
    ]
    path = out_dir / "report.md"
    path.write_text("\n".join(text))
    return path


def card_path(source: str | os.PathLike) -> Path:
    """The JSON card beside a ``.safetensors`` model (official ``.pth`` files have none)."""
    from liif_core.weights import _resolve

    path = _resolve(source)
    if path.suffix != ".safetensors":
        raise InputError(f"--card needs a .safetensors model with a JSON card beside it; {path} has none")
    return path.with_suffix(".json")


def update_card(path: Path, rows: Sequence[dict[str, Any]], meta: dict[str, Any]) -> None:
    """Write the table into the card's ``"evaluation"`` key, replacing rows of the same set and scale."""
    card = json.loads(path.read_text()) if path.is_file() else {}
    old = card.get("evaluation") or {}
    merged = {(r["set"], r["scale"]): r for r in old.get("results", [])}
    merged.update({(r["set"], r["scale"]): dict(r) for r in rows if r["full_set"]})
    order = {name: i for i, name in enumerate(ALL_SETS)}
    results = sorted(merged.values(), key=lambda r: (order.get(r["set"], 99), r["scale"]))
    card["evaluation"] = {
        "protocol": "LIIF benchmark protocol; PSNR on Y with scale px shaved (LIIF calc_psnr), SSIM on Y (11x11 "
                    "Gaussian, sigma 1.5); outputs unquantised; see docs/eval/report.md",
        "lr": meta["lr_mode"],
        "date": meta["date"],
        "hardware": meta["machine"],
        "results": results,
    }
    path.write_text(json.dumps(card, indent=2) + "\n")


# ----------------------------------------------------------------------------------------------
# Crops


def _busiest_window(img: np.ndarray, side: int, step: int) -> tuple[int, int]:
    """Top-left of the ``side`` x ``side`` window (on a ``step`` grid) with the most gradient energy.

    ``img`` is RGB in [0, 1]; the caller passes the bicubic upscaling of the LR, so the window holds
    structure the LR still shows (edges, text) rather than detail aliased away by the downscaling,
    and the choice does not depend on our model's output.
    """
    y = y_channel(img)
    energy = np.zeros_like(y)
    energy[:, 1:] += np.abs(np.diff(y, axis=1))
    energy[1:, :] += np.abs(np.diff(y, axis=0))
    integral = np.pad(energy, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    best, best_yx = -1.0, (0, 0)
    margin = side // 4
    for r in range(margin - margin % step, img.shape[0] - side - margin + 1, step):
        for c in range(margin - margin % step, img.shape[1] - side - margin + 1, step):
            e = integral[r + side, c + side] - integral[r, c + side] - integral[r + side, c] + integral[r, c]
            if e > best:
                best, best_yx = e, (r, c)
    return best_yx


def crop_window(bicubic: np.ndarray, scale: int) -> tuple[int, int, int]:
    """``(row, col, side)`` of the crop to show from a ``scale`` x result: the busiest
    :data:`CROP_SIDE` window (smaller in a small image) of ``bicubic``, the bicubic upscaling of the
    LR, so that no model's output sways the choice."""
    side = min(CROP_SIDE, (min(bicubic.shape[:2]) // scale) * scale)
    return (*_busiest_window(bicubic, side, scale * 4), side)


def crop_tiles(hr_full: np.ndarray, scale: int, model: Any, lr_mode: str,
               self_ensemble: bool | int = False) -> list[np.ndarray]:
    """Bicubic, ours and ground-truth uint8 crops of the busiest window, from an LR patch with context."""
    hr = modcrop(hr_full, scale)
    lr = make_lr(hr, scale, lr_mode)
    r, c, side = crop_window(upscale_bicubic(lr, hr.shape[:2]), scale)
    halo = int(getattr(model.net, "receptive_radius", 40)) + 4  # LR pixels of context: exact result inside
    lr0r, lr0c = max(0, r // scale - halo), max(0, c // scale - halo)
    lr1r = min(lr.shape[0], (r + side) // scale + halo)
    lr1c = min(lr.shape[1], (c + side) // scale + halo)
    patch = lr[lr0r:lr1r, lr0c:lr1c]
    out_hw = (patch.shape[0] * scale, patch.shape[1] * scale)
    rr, cc = r - lr0r * scale, c - lr0c * scale
    tiles = []
    for method in ("bicubic", "ours"):
        sr = run_method(method, patch, out_hw, model, self_ensemble)
        tiles.append(np.round(sr[rr:rr + side, cc:cc + side] * 255).astype(np.uint8))
    tiles.append(hr[r:r + side, c:c + side])
    return tiles


def write_crops(path: Path, panels: Sequence[tuple[str, list[np.ndarray]]],
                columns: Sequence[str] = ("bicubic", "ours (LIIF)", "ground truth"), zoom: int = CROP_ZOOM) -> Path:
    """A PNG grid: one row per example (caption above), one column per method, enlarged ``zoom`` times."""
    font = ImageFont.load_default(size=18)
    tile_h = max(t.shape[0] for _, tiles in panels for t in tiles) * zoom
    tile_w = max(t.shape[1] for _, tiles in panels for t in tiles) * zoom
    gap, caption, header = 8, 26, 30
    width = len(columns) * tile_w + (len(columns) + 1) * gap
    height = header + len(panels) * (caption + tile_h + gap) + gap
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, name in enumerate(columns):
        draw.text((gap + i * (tile_w + gap) + tile_w // 2, header // 2), name, fill=(0, 0, 0), font=font, anchor="mm")
    y = header
    for label, tiles in panels:
        draw.text((gap, y + caption // 2), label, fill=(60, 60, 60), font=font, anchor="lm")
        y += caption
        for i, t in enumerate(tiles):
            im = Image.fromarray(t).resize((t.shape[1] * zoom, t.shape[0] * zoom), Image.Resampling.NEAREST)
            sheet.paste(im, (gap + i * (tile_w + gap), y))
        y += tile_h + gap
    sheet.save(path, optimize=True)
    return path


def make_crops(out_dir: Path, root: Path, rendered: dict[str, Path], model: Any, lr_mode: str,
               tasks: Sequence[Task], self_ensemble: bool | int = False) -> Path | None:
    """``crops.png`` for the :data:`CROPS` images that exist here (rendered ones when their set is evaluated).

    Crops do not depend on which sets were scored: they are cut from small LR patches, so even a
    run without Urban100 shows the Urban100 crop. With none of them available, the first evaluated
    image is shown instead.
    """
    chosen = []
    for set_name, stem, scale in CROPS:
        folder = set_folder(set_name, root, rendered)
        if folder is not None and (folder / f"{stem}.png").is_file():
            chosen.append((set_name, folder / f"{stem}.png", scale))
    if not chosen and tasks:
        chosen = [(tasks[0].set, tasks[0].path, tasks[0].scale)]
    if not chosen:
        return None
    panels = [(f"{s} {p.stem} x{k}", crop_tiles(load_rgb(p), k, model, lr_mode, self_ensemble))
              for s, p, k in chosen]
    return write_crops(out_dir / "crops.png", panels)


# ----------------------------------------------------------------------------------------------
# Driver


def _parse_list(text: str, allowed: Sequence[Any], kind: type, what: str) -> list[Any]:
    try:
        values = [kind(v.strip()) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--{what}: {text!r} is not a comma-separated list like "
                         f"{','.join(str(a) for a in allowed)}") from None
    lookup = {str(a).lower(): a for a in allowed}
    out = []
    for v in values:
        if str(v).lower() not in lookup:
            raise InputError(f"--{what}: unknown {v!r}; choose from {', '.join(str(a) for a in allowed)}")
        out.append(lookup[str(v).lower()])
    if not out:
        raise InputError(f"--{what} is empty")
    return out


def _parse_scales(text: str) -> list[int]:
    try:
        scales = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--scales: {text!r} is not a comma-separated list of whole numbers like 2,3,4") from None
    if not scales or min(scales) < 2:
        raise InputError(f"--scales: give whole-number scales of 2 or more, got {text!r}")
    return list(dict.fromkeys(scales))


def evaluate(sets: Sequence[str] = ALL_SETS, scales: Sequence[int] = SCALES, model: str | os.PathLike = "default",
             out_dir: str | os.PathLike = DEFAULT_OUT, limit: int | None = None, data: str | os.PathLike | None = None,
             lr_mode: str = "paper", resume: bool = False, card: bool = False, device: str = "auto",
             crops: bool = True, progress: bool = True, self_ensemble: bool | int = False,
             jobs: int | None = None) -> list[dict[str, Any]]:
    """Run the protocol, write ``report.md`` (and ``crops.png``) in ``out_dir``; return the table rows.

    ``self_ensemble`` scores our model as the mean of several flipped/rotated passes (``True``: all
    8; or 2, 4 or 8, as :func:`liif_core.upscale`); the paper's numbers are single passes. Records
    of each view count are kept apart from the others and never go into a card.

    Scales are run in the order given; ``ui`` only at scales 2-4. Each image's scores are appended to
    ``records.jsonl`` as soon as they exist; ``resume`` keeps that file's records (same weights and
    LR mode) and skips those images, and the report covers every record in the file. ``jobs``: helper
    processes for everything but the model (default :func:`default_jobs`).
    """
    from tqdm import tqdm

    from liif_core.self_ensemble import views
    from liif_core.weights import load_model

    if lr_mode not in ("paper", "matlab"):
        raise InputError(f"unknown LR mode {lr_mode!r}; use 'paper' or 'matlab'")
    if card and limit:
        raise InputError("--card records whole-set results only; drop --limit (or drop --card)")
    passes = len(views(self_ensemble))
    if card and passes > 1:
        raise InputError("--card records the model's single-pass results; drop --views/--self-ensemble "
                         "(or drop --card)")
    t_start = time.perf_counter()
    root = data_root(data) if any(s not in RENDERED_SETS for s in sets) else Path(data or DEFAULT_DATA)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    net = load_model(model, device, precision="float32")  # the protocol scores in full float32
    here = machine()
    ident = model_id(net, model)
    if passes > 1:
        ident["self_ensemble"] = passes
    rec_path = out_dir / "records.jsonl"
    records = read_records(rec_path, ident, lr_mode) if resume else []
    previous_wall = sum(r.get("wall", 0.0) for r in records)
    if not resume:
        rec_path.write_text("")
    done = {(r["set"], int(r["scale"]), r["image"]) for r in records}
    tmp = Path(tempfile.mkdtemp(prefix="liif-eval-rendered-"))
    with contextlib.ExitStack() as scoring:
        scoring.enter_context(full_float32(net.device))
        scoring.callback(shutil.rmtree, tmp, ignore_errors=True)
        rendered = render_sets(sets, tmp)
        tasks = [Task(s, k, p) for k in scales for s in sets if s not in RENDERED_SETS or k in RENDERED_SCALES
                 for p in list_images(s, root, rendered, limit)]
        todo = [t for t in tasks if (t.set, t.scale, t.path.stem) not in done]
        jobs = default_jobs(net.device) if jobs is None else jobs
        with rec_path.open("a") as sink:
            t0 = time.perf_counter()
            for rec in tqdm(scored_records(todo, net, lr_mode, self_ensemble, jobs), total=len(todo),
                            desc="liif-eval", unit="img", disable=not progress, dynamic_ncols=True):
                now = time.perf_counter()  # since the last record: with helpers, images overlap
                rec.update(model=ident, lr_mode=lr_mode, wall=round(now - t0, 3), machine=here)
                t0 = now
                sink.write(json.dumps(rec) + "\n")
                sink.flush()
                records.append(rec)
        crops_path = make_crops(out_dir, root, rendered, net, lr_mode, tasks, self_ensemble) if crops else None
    rows = summarise(records)
    meta = {"model": ident, "steps": net.card.get("training", {}).get("steps"), "lr_mode": lr_mode,
            "date": _dt.date.today().isoformat(), "machine": machines_text(records, here),
            "wall_seconds": previous_wall + (time.perf_counter() - t_start), "scale_max": net.net.scale_max}
    if any(r["set"] in ("icons", "docs") for r in rows):
        meta["packages"] = ", ".join(f"{k} {v}" for k, v in package_versions().items())
    report = write_report(out_dir, rows, meta)
    if card:
        if model_id(net, model)["sha256"] == ident["sha256"]:
            update_card(card_path(model), rows, meta)
        else:  # the weights were replaced while we ran: these numbers belong to the old ones
            print(f"warning: {ident['file']} changed during the evaluation; the card was not updated",
                  file=sys.stderr)
    if progress:
        print(markdown_table(rows))
        print(f"wrote {report}" + (f" and {crops_path}" if crops_path else ""))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """``liif-eval``: the benchmark table of a model against bicubic, Lanczos and the LIIF paper."""
    parser = argparse.ArgumentParser(prog="liif-eval", description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default=",".join(ALL_SETS),
                        help="comma-separated, from " + ", ".join(ALL_SETS) + " (default: all)")
    parser.add_argument("--scales", default=",".join(map(str, SCALES)),
                        help="comma-separated whole-number scales, run in this order (default: "
                             + ",".join(map(str, SCALES)) + "; ui, icons, docs: 2-4 only)")
    parser.add_argument("--model", default="default",
                        help="bundled model name, .safetensors or official .pth (default: the default model)")
    parser.add_argument("--limit", type=int, default=None, help="first N images per set (quick runs)")
    parser.add_argument("--out", default=str(DEFAULT_OUT),
                        help=f"folder for report.md, crops.png, records.jsonl (default: {DEFAULT_OUT})")
    parser.add_argument("--data", default=None, help=f"benchmark folder (default: ${DATA_ENV}, else {DEFAULT_DATA})")
    parser.add_argument("--lr", dest="lr_mode", choices=("paper", "matlab"), default="paper",
                        help="LR images: 'paper' (default) = MATLAB bicubic for x2-x4 and PIL bicubic above, as "
                             "LIIF; 'matlab' = MATLAB bicubic at every scale")
    parser.add_argument("--card", action="store_true", help="write the table into the model card (JSON) too")
    parser.add_argument("--resume", action="store_true", help="keep records.jsonl of an earlier run, skip done images")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for PyTorch (default: all cores)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="helper processes for reading, degrading, interpolating and scoring (default: 1 on "
                             "a CPU, where the model needs every core; up to 8 beside a GPU)")
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    parser.add_argument("--no-crops", dest="crops", action="store_false", help="skip crops.png")
    passes = parser.add_mutually_exclusive_group()
    passes.add_argument("--self-ensemble", dest="views", action="store_const", const=8, default=1,
                        help="score our model as the mean of 8 flipped/rotated passes (--views 8)")
    passes.add_argument("--views", type=int, choices=(1, 2, 4, 8), default=1,
                        help="score our model as the mean of this many passes over flipped/rotated views, "
                             "as liif-upscale --views (default: 1, as the paper)")
    args = parser.parse_args(argv)
    try:
        if args.limit is not None and args.limit < 1:
            raise InputError("--limit must be at least 1")
        if args.jobs is not None and args.jobs < 1:
            raise InputError("--jobs must be at least 1")
        if args.threads is not None:
            if args.threads < 1:
                raise InputError("--threads must be at least 1")
            import torch

            os.environ["LIIF_UPSCALE_THREADS"] = str(args.threads)
            torch.set_num_threads(args.threads)
        sets = _parse_list(args.sets, ALL_SETS, str, "sets")
        scales = _parse_scales(args.scales)
        evaluate(sets, scales, args.model, args.out, args.limit, args.data, args.lr_mode, args.resume, args.card,
                 args.device, args.crops, self_ensemble=args.views, jobs=args.jobs)
    except LiifError as e:
        print(f"liif-eval: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
