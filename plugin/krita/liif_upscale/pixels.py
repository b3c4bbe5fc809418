"""Krita's raw pixel bytes <-> the worker's ``(bytes, shape, dtype)`` images, in pure Python.

Krita hands out a layer's pixels as one ``QByteArray`` in the layer's own colour space. The worker
(``liif_core.worker``) takes little-endian ``uint8``, ``uint16`` or ``float32`` samples with the
channels in R, G, B, A (or grey, alpha) order. What differs, per Krita colour depth:

============  ==================  ==============  ====================================
model/depth   Krita's bytes       worker dtype    conversion
============  ==================  ==============  ====================================
RGBA U8       B, G, R, A  uint8   uint8           swap B and R
RGBA U16      B, G, R, A  uint16  uint16          swap B and R
RGBA F16      R, G, B, A  half    float32         half -> float (and back)
RGBA F32      R, G, B, A  float   float32         none
GRAYA any     grey, alpha         as above        only the half -> float step for F16
============  ==================  ==============  ====================================

Every other colour model (CMYK, Lab, XYZ, YCbCr, a bare alpha mask) is refused with a message
saying how to convert the layer, rather than guessed at.

This module imports neither Krita nor Qt nor numpy: it runs in any Python 3.8+ (Krita embeds
3.10 to 3.13), and its conversions are C-speed slice copies on ``array.array``; only half floats
go through ``struct``, chunk by chunk.
"""

from __future__ import annotations

import struct
import sys
from array import array
from itertools import repeat
from operator import add, floordiv, mul
from typing import NamedTuple

CHUNK = 1 << 18  # values per struct call / mask step: bounds temporary memory, lets other threads run


class UnsupportedColorSpace(ValueError):
    """The layer's colour model or depth is one LIIF Upscale does not handle; the message says what to do."""


class PixelFormat(NamedTuple):
    """How one Krita colour space maps onto the worker's image format."""

    model: str  # Krita's colour model id: "RGBA" or "GRAYA"
    depth: str  # Krita's depth id: "U8", "U16", "F16" or "F32"
    channels: int  # 4 for RGBA, 2 for GRAYA (the alpha channel is always last)
    krita_bytes: int  # bytes per sample in Krita's data
    dtype: str  # the worker's dtype: "uint8", "uint16" or "float32"
    swap_red_blue: bool  # Krita's integer RGBA is stored B, G, R, A
    linear: bool = False  # the profile stores linear light: upscaled in sRGB form, shown sRGB-encoded

    @property
    def pixel_bytes(self) -> int:
        """Bytes per pixel in Krita's data."""
        return self.channels * self.krita_bytes


_CHANNELS = {"RGBA": 4, "GRAYA": 2}
_DEPTHS = {"U8": (1, "uint8"), "U16": (2, "uint16"), "F16": (2, "float32"), "F32": (4, "float32")}
_TYPECODES = {"uint8": "B", "uint16": "H", "float32": "f"}
_MODEL_NAMES = {"CMYKA": "CMYK", "LABA": "Lab", "XYZA": "XYZ", "YCbCrA": "YCbCr", "A": "alpha mask"}


def is_linear_profile(profile: str) -> bool:
    """Whether a Krita colour profile (``node.colorProfile()``) stores linear light: Krita's own are
    named ``...-g10.icc`` (gamma 1.0; its default for 16-bit and float images), others say "linear"."""
    name = profile.lower()
    return "-g10" in name or "linear" in name


def pixel_format(model: str, depth: str, profile: str = "") -> PixelFormat:
    """The format of a Krita layer with colour model ``model``, depth ``depth`` and colour profile
    ``profile`` (``node.colorModel()``, ...).

    Raises :class:`UnsupportedColorSpace` for anything but RGBA or GRAYA in U8, U16, F16 or F32.
    """
    if model not in _CHANNELS:
        name = _MODEL_NAMES.get(model, model)
        raise UnsupportedColorSpace(
            f"LIIF Upscale works on RGB and greyscale layers; this layer is {name} ({model}/{depth}). Convert it "
            "first with Layer > Convert > Convert Layer Color Space (RGB/Alpha or Grayscale/Alpha), or convert "
            "the whole image with Image > Convert Image Color Space.")
    if depth not in _DEPTHS:
        raise UnsupportedColorSpace(
            f"LIIF Upscale handles 8-bit and 16-bit integer and 16-bit and 32-bit float layers; this layer's depth "
            f"is {depth!r}. Convert it first with Layer > Convert > Convert Layer Color Space.")
    size, dtype = _DEPTHS[depth]
    return PixelFormat(model, depth, _CHANNELS[model], size, dtype, model == "RGBA" and depth in ("U8", "U16"),
                       is_linear_profile(profile))


def _swap_red_blue(samples: array) -> None:
    """Swap channels 0 and 2 of 4-channel interleaved samples, in place."""
    first = samples[0::4]
    samples[0::4] = samples[2::4]
    samples[2::4] = first


def _half_to_float(data: bytes | bytearray | memoryview) -> array:
    """Little-endian IEEE half floats -> ``array('f')``."""
    out = array("f")
    count = len(data) // 2
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        out.extend(struct.unpack_from(f"<{n}e", data, 2 * start))
    return out


def _float_to_half(values: array) -> bytes:
    """``array('f')`` -> little-endian IEEE half floats; values beyond half's range become +-65504 (its max)."""
    parts = []
    for start in range(0, len(values), CHUNK):
        chunk = values[start:start + CHUNK]
        try:
            parts.append(struct.pack(f"<{len(chunk)}e", *chunk))
        except OverflowError:
            clamped = [min(max(v, -65504.0), 65504.0) for v in chunk]
            parts.append(struct.pack(f"<{len(chunk)}e", *clamped))
    return b"".join(parts)


def _samples(data: bytes | bytearray | memoryview, typecode: str) -> array:
    """Native-order samples from little-endian bytes."""
    samples = array(typecode)
    samples.frombytes(bytes(data))
    if sys.byteorder == "big" and samples.itemsize > 1:
        samples.byteswap()
    return samples


def _little_endian_bytes(samples: array) -> bytes:
    if sys.byteorder == "big" and samples.itemsize > 1:
        samples = array(samples.typecode, samples)
        samples.byteswap()
    return samples.tobytes()


def to_worker(data: bytes | bytearray | memoryview, width: int, height: int,
              fmt: PixelFormat) -> tuple[bytes, tuple[int, int, int], str]:
    """Krita pixel bytes of a ``width`` x ``height`` region -> ``(bytes, (h, w, c), dtype)`` for the worker."""
    expected = width * height * fmt.pixel_bytes
    if len(data) != expected:
        raise ValueError(f"got {len(data)} bytes for {width} x {height} {fmt.model}/{fmt.depth}, expected {expected}")
    shape = (height, width, fmt.channels)
    if fmt.depth == "F16":
        return _little_endian_bytes(_half_to_float(data)), shape, fmt.dtype
    if not fmt.swap_red_blue:
        return bytes(data), shape, fmt.dtype
    samples = _samples(data, _TYPECODES[fmt.dtype])
    _swap_red_blue(samples)
    return _little_endian_bytes(samples), shape, fmt.dtype


def worker_samples(data: bytes, dtype: str) -> array:
    """The worker's little-endian result bytes as a native ``array`` (for :func:`apply_mask`)."""
    return _samples(data, _TYPECODES[dtype])


def from_worker(samples: array, fmt: PixelFormat) -> bytes:
    """Worker samples (R, G, B, A or grey, alpha order) -> Krita pixel bytes in ``fmt``; ``samples`` may change."""
    if fmt.depth == "F16":
        return _float_to_half(samples)
    if fmt.swap_red_blue:
        _swap_red_blue(samples)
    return _little_endian_bytes(samples)


_SRGB8: bytes | None = None  # 8-bit sRGB encoding of linear light at 4096 steps from 0 to 1


def _srgb8() -> bytes:
    global _SRGB8
    if _SRGB8 is None:
        _SRGB8 = bytes(round(255 * (12.92 * x if x <= 0.0031308 else 1.055 * x ** (1 / 2.4) - 0.055))
                       for x in (i / 4095 for i in range(4096)))
    return _SRGB8


def to_rgba8(samples: array, channels: int, linear: bool = False) -> bytes:
    """Worker samples (R, G, B, A or grey, alpha) -> 8-bit R, G, B, A bytes for a ``QImage`` on screen.

    16-bit values keep their high byte; floats are clamped to [0, 1]. ``linear`` (a layer with a
    linear profile, :func:`is_linear_profile`) encodes the colour with the sRGB curve, as Krita's
    canvas shows it on an sRGB screen, so the preview is not darker than the layer; otherwise
    values are shown as they are. No further colour management: enough to judge edges and detail,
    which is what the dialog's preview is for."""
    if linear:
        table, top = _srgb8(), {"B": 255, "H": 65535, "f": 1}[samples.typecode]
        eight = bytearray(len(samples))
        for k in range(channels):
            part = samples[k::channels]
            if k == channels - 1:  # alpha is not light
                eight[k::channels] = _plain8(part)
            else:
                eight[k::channels] = bytes(255 if v >= top else 0 if not v > 0 else table[int(v / top * 4095 + 0.5)]
                                           for v in part)
        eight = bytes(eight)
    else:
        eight = _plain8(samples)
    if channels == 4:
        return eight
    out = bytearray(len(eight) * 2)  # grey, alpha -> grey, grey, grey, alpha
    for k in range(3):
        out[k::4] = eight[0::2]
    out[3::4] = eight[1::2]
    return bytes(out)


def _plain8(samples: array) -> bytes:
    """Samples as 8-bit values, as they are: 16-bit keeps the high byte, floats are clamped and rounded."""
    if samples.typecode == "B":
        return bytes(samples)
    if samples.typecode == "H":
        return _little_endian_bytes(samples)[1::2]
    return bytes(255 if v >= 1 else 0 if not v > 0 else int(v * 255 + 0.5) for v in samples)


def apply_mask(samples: array, channels: int, mask: bytes | bytearray) -> None:
    """Multiply the alpha (last) channel of interleaved ``samples`` by ``mask`` (one byte per pixel, 255 = keep).

    Integer alpha is rounded to nearest; float alpha is scaled by ``mask / 255``. In place, chunk by chunk.
    """
    pixels = len(samples) // channels
    if len(mask) != pixels:
        raise ValueError(f"mask has {len(mask)} values for {pixels} pixels")
    floats = samples.typecode == "f"
    weights = [m / 255.0 for m in range(256)]
    for start in range(0, pixels, CHUNK):
        stop = min(pixels, start + CHUNK)
        first, last = start * channels + channels - 1, stop * channels
        alpha = samples[first:last:channels]
        part = mask[start:stop]
        if floats:
            scaled = array("f", map(mul, alpha, map(weights.__getitem__, part)))
        else:
            scaled = array(samples.typecode, map(floordiv, map(add, map(mul, alpha, part), repeat(127)), repeat(255)))
        samples[first:last:channels] = scaled


def is_opaque_mask(mask: bytes | bytearray) -> bool:
    """Whether every value of a selection mask is 255 (then no mask needs to be applied)."""
    return not mask.strip(b"\xff")
