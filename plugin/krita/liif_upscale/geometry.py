"""Where the upscaled pixels go: sizes and positions for both outputs, in pure Python.

Terms used throughout the plug-in:

* the *reference* rectangle is what the scale factor and the target size refer to: the whole
  canvas when upscaling a layer, the selection's bounding box when upscaling a selection;
* the *source* rectangle is the part of the layer actually sent to the worker: the layer's
  content bounds clipped to the reference (transparent margins are not upscaled);
* the *target* is where the result lands: in the enlarged canvas ("layer" output, the image is
  scaled by Krita to ``canvas_size``) or in a new document of ``canvas_size`` whose origin is
  the reference's corner ("document" output).

Edges are mapped, not sizes: a source edge at ``x`` lands at ``round(x * k)`` with ``k`` the
canvas's real scale (new width / old width), so the new layer lines up with the layers Krita
scaled itself to within half a pixel, for any factor and per-axis sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

OUTPUTS = ("layer", "document")
MAX_SIDE = 100_000  # Krita refuses much larger images anyway; catches typos like 2000 for 2.000


class GeometryError(ValueError):
    """The requested scale or size cannot be used; the message names the bad value."""


class Rect(NamedTuple):
    """An integer rectangle ``x, y, width, height`` (Krita's ``QRect`` without the Qt)."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        """One past the last column."""
        return self.x + self.width

    @property
    def bottom(self) -> int:
        """One past the last row."""
        return self.y + self.height

    def is_empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def intersected(self, other: Rect) -> Rect:
        x0, y0 = max(self.x, other.x), max(self.y, other.y)
        x1, y1 = min(self.right, other.right), min(self.bottom, other.bottom)
        return Rect(x0, y0, max(0, x1 - x0), max(0, y1 - y0))


class Plan(NamedTuple):
    """Everything the plug-in needs to place one upscale."""

    factors: tuple[float, float]  # requested (x, y) factor of the reference; used in the layer's name
    canvas_size: tuple[int, int]  # the enlarged canvas ("layer") or the new document ("document")
    source: Rect  # the pixels to upscale, in the source image
    target: Rect  # where the result goes, in the enlarged canvas / new document

    @property
    def target_size(self) -> tuple[int, int]:
        """``(width, height)`` to ask the worker for."""
        return self.target.width, self.target.height


Scale = float | Sequence[float]
Size = Sequence[int | None]


def round_half_up(value: float) -> int:
    """Round half up (Python's ``round`` rounds half to even, which would make edges jitter)."""
    return int(math.floor(value + 0.5))


def factors_for(reference: Rect, scale: Scale | None = None, size: Size | None = None) -> tuple[float, float]:
    """The ``(x, y)`` factors that take ``reference`` to ``size`` (``(w, h)``, one may be None) or ``scale``.

    ``size`` wins when both are given. A ``None`` side keeps the aspect ratio of the other one.
    """
    if size is not None:
        try:
            width, height = size
        except (TypeError, ValueError):
            raise GeometryError(f"size must be (width, height) in pixels, got {size!r}") from None
        if width is None and height is None:
            raise GeometryError("size needs a width or a height")
        fx = _positive(width, "width") / reference.width if width is not None else None
        fy = _positive(height, "height") / reference.height if height is not None else None
        fx = fx if fx is not None else fy
        fy = fy if fy is not None else fx
    elif scale is not None:
        if isinstance(scale, (int, float)):
            fx = fy = float(scale)
        else:
            try:
                fx, fy = (float(s) for s in scale)
            except (TypeError, ValueError):
                raise GeometryError(f"scale must be a number or an (x, y) pair, got {scale!r}") from None
    else:
        raise GeometryError("give a scale (e.g. 2.5 or (2, 3)) or a size (width, height)")
    for f in (fx, fy):
        if not math.isfinite(f) or f < 1:
            raise GeometryError(f"the scale factor must be 1 or more (LIIF Upscale only enlarges), got {f:g}; "
                                "use Image > Scale Image To New Size to shrink")
    return fx, fy


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise GeometryError(f"{name} must be a whole number of pixels, got {value!r}")
    return value


def plan(canvas: tuple[int, int], reference: Rect, content: Rect, scale: Scale | None = None,
         size: Size | None = None, output: str = "layer") -> Plan:
    """Plan an upscale of ``content`` (the layer's bounds) clipped to ``reference``, in a ``canvas`` of ``(w, h)``.

    ``scale``/``size`` refer to ``reference`` (see :func:`factors_for`). Raises :class:`GeometryError`
    for unusable values and when the layer has no pixels inside the reference.
    """
    if output not in OUTPUTS:
        raise GeometryError(f"output must be 'layer' or 'document', got {output!r}")
    if reference.is_empty():
        raise GeometryError("the area to upscale is empty")
    fx, fy = factors_for(reference, scale, size)
    source = content.intersected(reference)
    if source.is_empty():
        raise GeometryError("the layer has no pixels in the area to upscale (it is empty there)")
    if size is not None and output == "document":
        # the new document has exactly the size asked for (a None side follows the aspect ratio)
        new_w = size[0] if size[0] is not None else round_half_up(reference.width * fx)
        new_h = size[1] if size[1] is not None else round_half_up(reference.height * fy)
    elif output == "document":
        new_w, new_h = round_half_up(reference.width * fx), round_half_up(reference.height * fy)
    elif reference == Rect(0, 0, canvas[0], canvas[1]) and size is not None:
        new_w = size[0] if size[0] is not None else round_half_up(canvas[0] * fx)
        new_h = size[1] if size[1] is not None else round_half_up(canvas[1] * fy)
    else:
        new_w, new_h = round_half_up(canvas[0] * fx), round_half_up(canvas[1] * fy)
    if max(new_w, new_h) > MAX_SIDE:
        raise GeometryError(f"the result would be {new_w} x {new_h} pixels, over the limit of {MAX_SIDE} per side")
    if output == "document":
        origin_x, origin_y = reference.x, reference.y
        kx, ky = new_w / reference.width, new_h / reference.height
    else:
        origin_x, origin_y = 0, 0
        kx, ky = new_w / canvas[0], new_h / canvas[1]
    x0, x1 = round_half_up((source.x - origin_x) * kx), round_half_up((source.right - origin_x) * kx)
    y0, y1 = round_half_up((source.y - origin_y) * ky), round_half_up((source.bottom - origin_y) * ky)
    target = Rect(x0, y0, max(x1 - x0, source.width), max(y1 - y0, source.height))
    return Plan((fx, fy), (new_w, new_h), source, target)


def outside(area: Rect, hole: Rect) -> list[Rect]:
    """``area`` less ``hole``, as up to four non-overlapping rectangles (bands above and below, strips beside)."""
    hole = area.intersected(hole)
    if hole.is_empty():
        return [] if area.is_empty() else [area]
    parts = [Rect(area.x, area.y, area.width, hole.y - area.y),
             Rect(area.x, hole.bottom, area.width, area.bottom - hole.bottom),
             Rect(area.x, hole.y, hole.x - area.x, hole.height),
             Rect(hole.right, hole.y, area.right - hole.right, hole.height)]
    return [r for r in parts if not r.is_empty()]


def factor_label(factors: tuple[float, float]) -> str:
    """``x3.00`` for a uniform factor, ``x3.00×2.50`` for per-axis factors (two decimals, as in the dialog)."""
    fx, fy = (f"{f:.2f}" for f in factors)
    return f"x{fx}" if fx == fy else f"x{fx}×{fy}"
