"""The public entry point: any image array to any larger size, tile by tile, in bounded memory."""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from liif_core.devices import PRECISION_ENV, cpu_governor
from liif_core.errors import InputError, MemoryLimitError
from liif_core.flat import quiet_map
from liif_core.pixels import DTYPES, Beyond, beyond_range, check_image, split, srgb_decode, to_dtype
from liif_core.self_ensemble import View, views
from liif_core.tiling import Plan, input_window, plan_tiles, run_tiles
from liif_core.weights import Model, load_model

MEMORY_LIMIT_ENV = "LIIF_UPSCALE_MEMORY_LIMIT"
_CACHE: dict[tuple[str, str, str], Model] = {}
# the input planes and flat maps the last work() prepared, for the upscale of the same pixels that
# usually follows (an editor's estimate, then its job): (key, (colour, alpha, beyond, flat maps))
_kept: tuple[tuple, tuple] | None = None
_kept_lock = threading.Lock()


def output_size(in_hw: tuple[int, int], scale: float | Sequence[float] | None = None,
                size: Sequence[int] | None = None) -> tuple[int, int]:
    """The output ``(height, width)`` for a scale (``s`` or ``(sx, sy)``) or a size ``(width, height)``.

    ``size`` wins over ``scale``. Upscaling only: every output side must be at least the input's.
    """
    h, w = in_hw
    if size is not None:
        try:
            ow, oh = (int(v) for v in size)
        except (TypeError, ValueError):
            raise InputError(f"size must be (width, height) in whole pixels, got {size!r}") from None
        if ow < w or oh < h:
            raise InputError(f"size {ow} x {oh} is smaller than the image ({w} x {h}); LIIF Upscale only "
                             "enlarges: use your editor's own scaling to shrink")
        return oh, ow
    if scale is None:
        raise InputError("give a scale (e.g. 2.5 or (2, 3)) or a size (width, height)")
    try:
        sx, sy = (float(scale), float(scale)) if np.isscalar(scale) else (float(v) for v in scale)
    except (TypeError, ValueError):
        raise InputError(f"scale must be a number or an (x, y) pair, got {scale!r}") from None
    for s in (sx, sy):
        if not math.isfinite(s) or s <= 0:
            raise InputError(f"scale must be a positive number, got {s}")
        if s < 1:
            raise InputError(f"scale {s:g} is below 1; LIIF Upscale only enlarges (use 1 or more)")
    return max(h, round(h * sy)), max(w, round(w * sx))


def check_region(region: Sequence[int] | None, out_hw: tuple[int, int]) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the requested window of an ``out_hw`` result (the whole one for ``None``)."""
    oh, ow = out_hw
    if region is None:
        return 0, 0, ow, oh
    try:
        x, y, rw, rh = region
    except (TypeError, ValueError):
        raise InputError(f"region must be (x, y, width, height) in output pixels, got {region!r}") from None
    if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (x, y, rw, rh)):
        raise InputError(f"region must be (x, y, width, height) in whole output pixels, got {region!r}")
    if rw < 1 or rh < 1 or x < 0 or y < 0 or x + rw > ow or y + rh > oh:
        raise InputError(f"region {tuple(region)} is not inside the {ow} x {oh} result")
    return int(x), int(y), int(rw), int(rh)


def memory_limit() -> int:
    """Bytes an upscale may use for its output (``LIIF_UPSCALE_MEMORY_LIMIT``, e.g. ``8G``; default: half of RAM)."""
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if text:
        units = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
        mult = units.get(text[-1].lower(), 1)
        try:
            return int(float(text[:-1] if text[-1].lower() in units else text) * mult)
        except ValueError:
            raise InputError(f"{MEMORY_LIMIT_ENV}={text!r} is not a size like 4G or 500M") from None
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def auto_tile(model: Model) -> int:
    """A tile side (input pixels) whose encoder activations fit comfortably in memory."""
    if model.device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(model.device)
        budget = free // 4
    else:
        budget = min(memory_limit() // 4, 2 * 2**30)
    per_px = 4 * (getattr(model.net.encoder, "peak_channels", 512) + 2 * model.net.imnet.linears[0].out_features)
    side = int(math.sqrt(budget / per_px)) - 2 * model.net.receptive_radius
    return int(min(1024, max(64, side)))


def get_model(model: Model | str | os.PathLike | None, device: str | torch.device) -> Model:
    """A loaded model: the given one, or one loaded (once per process) by name or path, in the
    precision ``LIIF_UPSCALE_PRECISION`` asks for."""
    if isinstance(model, Model):
        return model
    key = (os.fspath(model) if model is not None else "default", str(device), os.environ.get(PRECISION_ENV, ""))
    if key not in _CACHE:
        _CACHE[key] = load_model(key[0], device)
    return _CACHE[key]


class _Job:
    """One upscale, checked and prepared: the model, the input planes (colour, and alpha where it is
    visible), where each is flat, and the passes; :meth:`plan` gives a pass's tiles. Shared by
    :func:`upscale`, which runs the passes, and :func:`work`, which only counts them."""

    def __init__(self, image: np.ndarray, scale: float | Sequence[float] | None, size: Sequence[int] | None,
                 model: Model | str | os.PathLike | None, device: str, tile: int | None, self_ensemble: bool | int,
                 region: Sequence[int] | None, linear: bool, keep: bool = False) -> None:
        h, w, c = check_image(image)
        oh, ow = output_size((h, w), scale, size)
        x0, y0, rw, rh = check_region(region, (oh, ow))
        if not isinstance(linear, bool):
            raise InputError(f"linear must be true or false, got {linear!r}")
        self.views = views(self_ensemble)
        if tile is not None and (int(tile) != tile or tile < 8):
            raise InputError(f"tile must be a whole number of at least 8 pixels, got {tile!r}")
        m = get_model(model, device if not isinstance(model, Model) else model.device)
        # the input pixels the result (or its window) depends on, in every view: only these are prepared
        parts = [view.source_window(input_window(m.net, view.out_hw((h, w)), view.out_hw((oh, ow)),
                                                 view.window((y0, y0 + rh), (x0, x0 + rw), (oh, ow))), (h, w))
                 for view in self.views] if region is not None else [(0, h, 0, w)]
        part = (min(p[0] for p in parts), max(p[1] for p in parts), min(p[2] for p in parts), max(p[3] for p in parts))
        need = rh * rw * c * image.dtype.itemsize + (part[1] - part[0]) * (part[3] - part[2]) * 4 * 3 * 3 + (
            rh * rw * 3 * 4 if len(self.views) > 1 else 0)
        limit = memory_limit()
        if need > limit:
            raise MemoryLimitError(f"the {rw} x {rh} result needs about {need / 2**30:.1f} GiB, over the limit of "
                                   f"{limit / 2**30:.1f} GiB; choose a smaller size or raise {MEMORY_LIMIT_ENV}")
        self.model, self.part, self.tile = m, part, int(tile) if tile else auto_tile(m)
        self.in_hw, self.out_hw, self.window, self.channels = (h, w), (oh, ow), (x0, y0, rw, rh), c
        colour, alpha, beyond, self.quiet = _prepare(image, linear, part, m.net.skip is not None, keep,
                                                     region is None)
        self.alpha = alpha
        self.planes = [colour] + ([alpha.expand(3, *alpha.shape)] if alpha is not None else [])
        self.kinds = ["colour"] + (["alpha"] if alpha is not None else [])
        self.beyond = beyond  # float colour beyond [0, 1]: its own plane (pixels.beyond_range)
        if beyond is not None:
            self.planes.append(beyond.plane)
            self.kinds.append("beyond")

    def plan(self, i: int, view: View) -> Plan:
        """The tiles of plane i's pass through ``view``, decoding only where it is not flat."""
        (h, w), (oh, ow), (x0, y0, rw, rh) = self.in_hw, self.out_hw, self.window
        quiet = self.quiet[i]
        return plan_tiles(self.model.net, view.out_hw((h, w)), view.out_hw((oh, ow)), self.tile,
                          view.window((y0, y0 + rh), (x0, x0 + rw), (oh, ow)),
                          None if quiet is None else view.apply(quiet[None, None])[0, 0],
                          self.origin(view), self.model.device)

    def origin(self, view: View) -> tuple[int, int]:
        """Where the prepared input part starts in the view's input."""
        origin = view.window(self.part[:2], self.part[2:], self.in_hw)
        return origin[0], origin[2]

    def work(self) -> int:
        """The work of every pass, in :func:`upscale`'s progress units."""
        return sum(self.plan(i, view).work for i in range(len(self.planes)) for view in self.views)


def work(image: np.ndarray, *, scale: float | Sequence[float] | None = None, size: Sequence[int] | None = None,
         model: Model | str | os.PathLike | None = None, device: str = "auto", tile: int | None = None,
         self_ensemble: bool | int = False, region: Sequence[int] | None = None, linear: bool = False) -> int:
    """The work :func:`upscale` with the same arguments would do, in the units its ``progress``
    counts (its ``total``): what a job will cost, found before it runs, from the pixels. Flat
    areas cost nothing (:mod:`liif_core.flat`), so on UI images and painted layers it can be half
    of what the size alone suggests. Plans only: the network does not run (on a 2-core CPU 0.6 s for
    an opaque 4000 x 3000 layer, 2.4 s with transparency, most of it filling the colour under
    transparent pixels as the job does). What it prepared from the pixels is kept for the next
    :func:`upscale` of the same pixels, which then starts that much sooner, as does the next
    ``work`` of them (another size: the editors' estimate as the user types); the next call of
    either for the whole result releases it (about 200 MB for 4000 x 3000 with transparency), and so
    does :func:`forget` (the job is not coming).
    Raises what ``upscale`` would for the same arguments, except :class:`~liif_core.errors.Cancelled`."""
    return _Job(image, scale, size, model, device, tile, self_ensemble, region, linear, keep=True).work()


def forget() -> int:
    """Release what :func:`work` kept for the job it expected (an editor's dialog was cancelled, so
    that job never comes); returns the bytes it held, 0 when nothing was kept."""
    global _kept
    with _kept_lock:
        kept, _kept = _kept, None
    if kept is None:
        return 0
    colour, alpha, beyond, quiet = kept[1]
    planes = (colour, alpha, beyond.plane if beyond is not None else None, *quiet)
    return sum(t.nbytes for t in planes if t is not None)


def _prepare(image: np.ndarray, linear: bool, part: tuple[int, int, int, int], skip: bool, keep: bool,
             whole: bool) -> tuple[torch.Tensor, torch.Tensor | None, Beyond | None, list[torch.Tensor | None]]:
    """The colour and alpha planes of ``image``'s ``part``, the float colour beyond [0, 1]
    (:func:`~liif_core.pixels.beyond_range`) and, per plane, where the result is the
    skip alone (flat areas; only a model with a ``skip`` has them): what :func:`work` kept for the
    same pixels when there is such, else made now. ``keep`` (work): kept in turn. A job of the
    whole result (``whole``) releases what was kept either way; a preview's leaves it alone."""
    global _kept
    found, key = None, None
    if keep or whole:
        with _kept_lock:
            if keep or _kept is not None:  # the pixels' digest: 0.08 s for 4000 x 3000 RGBA here
                data = memoryview(np.ascontiguousarray(image)).cast("B")
                key = (hashlib.blake2b(data, digest_size=16).digest(), image.shape, image.dtype.str, linear, part,
                       skip)
            if _kept is not None and _kept[0] == key:
                found = _kept[1]
            _kept = None
    if found is None:
        colour, alpha = split(image, linear, part)
        beyond = beyond_range(image, part)
        extra = ([alpha[None]] if alpha is not None else []) + ([beyond.plane] if beyond is not None else [])
        quiet: list[torch.Tensor | None] = [None] * (1 + len(extra))
        if skip:
            quiet = [quiet_map(colour, alpha)] + [quiet_map(p) for p in extra]
        found = (colour, alpha, beyond, quiet)
    if keep:
        with _kept_lock:
            _kept = (key, found)
    return found


def upscale(image: np.ndarray, *, scale: float | Sequence[float] | None = None, size: Sequence[int] | None = None,
            model: Model | str | os.PathLike | None = None, device: str = "auto", tile: int | None = None,
            progress: Callable[[int, int], None] | None = None,
            cancel: Callable[[], bool] | None = None, self_ensemble: bool | int = False,
            region: Sequence[int] | None = None, linear: bool = False) -> np.ndarray:
    """Upscale ``image`` (H x W or H x W x C; uint8, uint16 or float32) to exactly the requested size.

    Returns a new array with the input's dtype and channels; the input is never modified. Float
    values lie in [0, 1], except where the input's colour goes beyond (HDR highlights, colour below
    0): that part is upscaled too and the result keeps the input's range
    (:func:`~liif_core.pixels.beyond_range`). Raises
    :class:`~liif_core.errors.InputError` for unusable input and
    :class:`~liif_core.errors.Cancelled` when ``cancel()`` returns true (no partial result).
    ``self_ensemble`` averages passes over flipped and transposed views of the input, for a slightly
    better result at as many times the work: ``True`` all 8, or a count, 2 (the half turn added) or
    4 (the rotations, most of the 8's gain) (:mod:`liif_core.self_ensemble`). ``progress(done, total)``
    counts the work of every pass (the colour, a visible alpha, float colour beyond [0, 1], each once
    per view) in decoded output pixels, the encoder's work converted at its cost
    (:class:`~liif_core.tiling.Plan`). Flat areas
    take a model's skip alone, decode nothing and count nothing (:mod:`liif_core.flat`): on UI
    images and painted layers often a quarter to a half of the work.

    ``region = (x, y, width, height)`` returns only that window of the result, computed from the
    input pixels it depends on: the same values as cutting it from the whole result (to float
    rounding), at a fraction of the cost. A preview of a long job. Progress then counts the
    window's work.

    ``linear``: the colour channels hold linear light (an editor layer with a linear profile).
    The model learned on sRGB-encoded images, so the colour is sRGB-encoded for it and decoded
    back; alpha is not light and is left alone. As GIMP's plug-in reads such images in perceptual
    form, the Krita plug-in sets this for linear profiles (measured: docs/eval/linear_light.md).
    """
    job = _Job(image, scale, size, model, device, tile, self_ensemble, region, linear)
    m, views, planes, alpha, c = job.model, job.views, job.planes, job.alpha, job.channels
    (oh, ow), (x0, y0, rw, rh) = job.out_hw, job.window
    governor = cpu_governor() if m.device.type == "cpu" else None

    def between_chunks() -> bool:
        """Called by the tiler before every chunk: adapt CPU threads, then ask the caller's cancel."""
        if governor:
            governor.update()
        return bool(cancel and cancel())

    out = np.empty((rh, rw, c), dtype=image.dtype)
    # every pass is planned again just before it runs: keeping all 16 plans of a self-ensemble with
    # alpha would hold 16 copies of the flat map, and a plan is cheap (0.07 s for 4000 x 3000 x2 here)
    total = job.work()
    before, reported = 0, []
    for i, plane in enumerate(planes):
        inp = ((plane.to(m.device) - 0.5) / 0.5).unsqueeze(0)

        def store(rows: slice, cols: slice, block: torch.Tensor, kind: str = job.kinds[i]) -> None:
            """Write a normalised ``(rows, cols, 3)`` block of plane i into the result (window coordinates)."""
            values = block.float() * 0.5 + 0.5
            if kind == "alpha":  # the mean of the three identical-input channels
                out[rows, cols, c - 1] = to_dtype(values.mean(dim=-1), image.dtype)
                return
            if kind == "beyond":  # added to the colour stored before it (float images only)
                b = job.beyond
                part = values if c >= 3 else values.mean(dim=-1, keepdim=True)  # grey: the mean
                part = (part.clamp(0, 1) - 0.5) * (2 * b.reach)  # the plane's upscale, clipped as any image's
                n = part.shape[-1]
                out[rows, cols, :n] = np.clip(out[rows, cols, :n] + part.cpu().numpy(), b.low, b.high)
                return
            colour = values if c >= 3 else values.mean(dim=-1)  # grey: the mean of the three
            if linear:
                colour = srgb_decode(colour)
            if c >= 3:
                out[rows, cols, :3] = to_dtype(colour, image.dtype)
            else:
                out[rows, cols, 0] = to_dtype(colour, image.dtype)

        total_sum = torch.zeros(rh, rw, 3) if len(views) > 1 else None
        for view in views:
            def report(done: int, _: int, before: int = before) -> None:
                """The pass's own count, after the passes before it; (0, total) only once, at the start."""
                if progress and (done or not reported):
                    reported.append(done)
                    progress(before + done, total)

            def emit(r0: int, c0: int, block: torch.Tensor, view: View = view,
                     total_sum: torch.Tensor | None = total_sum) -> None:
                rows, cols, block = view.place(r0, c0, block, (oh, ow))
                rows, cols = slice(rows.start - y0, rows.stop - y0), slice(cols.start - x0, cols.stop - x0)
                if total_sum is None:
                    store(rows, cols, block)
                else:
                    total_sum[rows, cols] += block.float().cpu()

            with torch.inference_mode():
                pass_plan = job.plan(i, view)
                run_tiles(m.net, view.apply(inp), pass_plan, emit, report, between_chunks, job.origin(view),
                          m.decoder_dtype)
            before += pass_plan.work
        if total_sum is not None:
            store(slice(None), slice(None), total_sum / len(views))
    if alpha is None and c in (2, 4):
        out[..., c - 1] = DTYPES[image.dtype]
    return out.reshape(rh, rw) if image.ndim == 2 else out

