"""The arithmetic of the GIMP plug-in, kept free of GIMP so it can be unit-tested with any Python.

What it decides: which Babl pixel format and worker dtype carry a drawable's pixels without
losing precision, how big the result is for a given scale or width/height, and where the result
goes when the whole image is enlarged with GIMP's own scaling (mirroring GIMP's rounding, so the
LIIF layer lines up exactly with the layers GIMP scales). Errors are :class:`PlanError` with a
message a user can act on; the plug-in shows it as the procedure's error.
"""

from __future__ import annotations

import array
import math
import sys
from typing import NamedTuple

MAX_SIDE = 524288  # GIMP's largest image side (GIMP_MAX_IMAGE_SIZE)
DEVICES = ("auto", "cpu", "cuda", "mps")
OUTPUTS = ("layer", "image")
# the Quality argument's choices: how many passes of the model over turned (and mirrored) copies of
# the image are averaged (the worker's self_ensemble)
PASSES = {"one-pass": 1, "two-passes": 2, "four-passes": 4, "eight-passes": 8}


class UserError(Exception):
    """A failure the user can fix; its message is the procedure's error message."""


class PlanError(ValueError):
    """A request that cannot be carried out; the message says what to change."""


class PixelFormat(NamedTuple):
    """How a drawable's pixels travel: Babl format name, worker dtype, channels, bytes per sample."""

    babl: str
    dtype: str
    channels: int
    itemsize: int


# GIMP precision nick prefix -> (Babl sample type, worker dtype, bytes per sample).
# 8 and 16 bit travel as they are; 32-bit integer, half, float and double as float32 (the
# engine's widest type): nothing an editor can display is lost.
_SAMPLES = {"u8": ("u8", "uint8", 1), "u16": ("u16", "uint16", 2)}
_FLOAT = ("float", "float32", 4)


def pixel_format(gray: bool, alpha: bool, precision: str, linear_render: bool = False) -> PixelFormat:
    """The format for a drawable: ``precision`` is a ``Gimp.Precision`` nick such as ``"u16-non-linear"``.

    Perceptual (primed) formats are used whatever the image's own encoding: the model was trained
    on sRGB-encoded pictures, and Babl converts linear images to and from them exactly enough.
    ``linear_render`` (a render made in linear light) reads a linear image's values as stored
    instead; it changes nothing for other images.
    """
    encoding = precision.split("-", 1)
    sample, dtype, size = _SAMPLES.get(encoding[0], _FLOAT)
    model = ("Y'A" if alpha else "Y'") if gray else ("R'G'B'A" if alpha else "R'G'B'")
    if linear_render and encoding[-1] == "linear":  # "u16-linear", not "u16-non-linear"
        model = model.replace("'", "")
    channels = (1 if gray else 3) + (1 if alpha else 0)
    return PixelFormat(f"{model} {sample}", dtype, channels, size)


def target_size(w: int, h: int, scale: float, width: int = 0, height: int = 0) -> tuple[int, int]:
    """``(width, height)`` of the upscaled ``w`` x ``h`` region.

    ``width``/``height`` win over ``scale``; one of them alone keeps the aspect ratio. Sizes from a
    scale are rounded as ``liif_core.output_size`` rounds them (Python's ``round``), so the
    plug-in, the command line and the Python API agree on the size of the same request.
    """
    if w < 1 or h < 1:
        raise PlanError(f"the area to upscale is empty ({w} x {h} pixels)")
    if width < 0 or height < 0:
        raise PlanError(f"width and height must be 0 (from the scale) or a size in pixels, got {width} x {height}")
    if width and height:
        ow, oh = width, height
    elif width:
        ow, oh = width, max(1, round(h * width / w))
    elif height:
        ow, oh = max(1, round(w * height / h)), height
    else:
        if not (isinstance(scale, (int, float)) and math.isfinite(scale)) or scale < 1:
            raise PlanError(f"scale must be at least 1 (got {scale:g}), or give a width or a height in pixels; "
                            "LIIF Upscale only enlarges")
        ow, oh = max(w, round(w * scale)), max(h, round(h * scale))
    if ow < w or oh < h:
        raise PlanError(f"{ow} x {oh} is smaller than the {w} x {h} area to upscale; LIIF Upscale only enlarges "
                        "(use Image > Scale Image to shrink)")
    if ow > MAX_SIDE or oh > MAX_SIDE:
        raise PlanError(f"{ow} x {oh} exceeds GIMP's largest image size ({MAX_SIDE} pixels a side)")
    return ow, oh


def signed_round(x: float) -> int:
    """GIMP's ``SIGNED_ROUND``: halves away from zero (the rounding of its item scaling)."""
    return int(x - 0.5) if x < 0 else int(x + 0.5)


class LayerPlan(NamedTuple):
    """Output "new layer": the enlarged image's size and the LIIF layer's offsets and size in it."""

    image_width: int
    image_height: int
    x: int
    y: int
    width: int
    height: int


def layer_plan(image_w: int, image_h: int, x: int, y: int, w: int, h: int, ow: int, oh: int) -> LayerPlan:
    """Where the result of upscaling the region ``(x, y, w, h)`` (image coordinates) to ``ow`` x ``oh`` goes.

    The image is enlarged by the region's factors (``ow / w``, ``oh / h``) with ``Gimp.Image.scale``,
    which moves and scales every item by ``new_size / old_size`` and rounds each edge with
    ``SIGNED_ROUND`` (``gimp_item_scale_by_factors_with_origin``). Placing the LIIF layer's edges
    the same way makes it cover exactly the pixels that GIMP's copy of the region covers. When the
    region is the whole image the layer is exactly ``ow`` x ``oh``; otherwise it may differ by a
    pixel from the requested size, which is the price of staying aligned.
    """
    new_w = max(1, round(image_w * ow / w))
    new_h = max(1, round(image_h * oh / h))
    if new_w > MAX_SIDE or new_h > MAX_SIDE:
        raise PlanError(f"the enlarged image would be {new_w} x {new_h}, over GIMP's largest image size "
                        f"({MAX_SIDE} pixels a side); choose output 'new image' or a smaller size")
    return scaled_item(image_w, image_h, new_w, new_h, x, y, w, h)


def scaled_item(image_w: int, image_h: int, new_w: int, new_h: int, x: int, y: int, w: int, h: int) -> LayerPlan:
    """Where ``Gimp.Image.scale`` to ``new_w`` x ``new_h`` puts the item ``(x, y, w, h)`` (image coordinates):
    every edge scaled by the image's factors and rounded with ``SIGNED_ROUND``."""
    fx, fy = new_w / image_w, new_h / image_h
    left, top = signed_round(fx * x), signed_round(fy * y)
    width = max(1, signed_round(fx * (x + w)) - left)
    height = max(1, signed_round(fy * (y + h)) - top)
    return LayerPlan(new_w, new_h, left, top, width, height)


def factor_text(w: int, h: int, ow: int, oh: int) -> str:
    """The enlargement as people write it: ``"2.5"``, or ``"2.5 x 3"`` when the axes differ."""
    fx, fy = ow / w, oh / h
    sx, sy = f"{fx:.3g}", f"{fy:.3g}"
    return sx if sx == sy else f"{sx} x {sy}"


def layer_name(source: str, scale: float, width: int, height: int, ow: int, oh: int) -> str:
    """The result layer's name: the source's plus what was asked, e.g. ``"Background x2.5 (LIIF)"``.

    The requested scale reads better than the exact factor of the rounded size (``x2.5``, not
    ``x2.57 x 2.4`` for a 7 x 5 layer); an explicit size is named as the size.
    """
    return f"{source} {ow}x{oh} (LIIF)" if width or height else f"{source} x{scale:g} (LIIF)"


def size_summary(w: int, h: int, ow: int, oh: int) -> str:
    """One line for the dialog: ``"640 x 480 -> 1600 x 1200 (x2.5)"``."""
    return f"{w} x {h} \u2192 {ow} x {oh} px (\u00d7{factor_text(w, h, ow, oh)})"


def to_little_endian(data: bytes, itemsize: int) -> bytes:
    """Gegl hands out native-endian samples; the worker protocol is little-endian (a no-op on x86/ARM)."""
    if itemsize == 1 or sys.byteorder == "little":
        return data
    samples = array.array({2: "H", 4: "f"}[itemsize])
    samples.frombytes(data)
    samples.byteswap()
    return samples.tobytes()


from_little_endian = to_little_endian  # swapping is its own inverse
