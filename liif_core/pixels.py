"""Pixel formats in and out: dtypes, grey and alpha, and colour under transparent pixels.

The network sees RGB in [0, 1]. Grey images are replicated to RGB and averaged back. Alpha is
upscaled by the network too (as a grey image), so shape edges get the same crispness as colour.
Colour under fully or partly transparent pixels is meaningless and often black or garbage; it
would bleed into visible edges as dark fringes. So before upscaling, colour is replaced where
alpha is low by an alpha-weighted average of the visible colour nearby (a push-pull pyramid),
and the result keeps straight (not premultiplied) colour. Float colour beyond [0, 1] (HDR) is
upscaled as a plane of its own and added back, so it keeps its range (:func:`beyond_range`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from liif_core.errors import InputError

DTYPES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0, np.dtype(np.float32): 1.0}


def check_image(image: np.ndarray) -> tuple[int, int, int]:
    """Validate an image array and return ``(height, width, channels)``."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"image must be a numpy array, got {type(image).__name__}")
    if image.dtype not in DTYPES:
        raise InputError(f"image dtype {image.dtype} is not supported; use uint8, uint16 or float32")
    if image.ndim == 2:
        h, w, c = *image.shape, 1
    elif image.ndim == 3:
        h, w, c = image.shape
    else:
        raise InputError(f"image must be H x W or H x W x C, got shape {image.shape}")
    if c not in (1, 2, 3, 4):
        raise InputError(f"image has {c} channels; supported are 1 (grey), 2 (grey+alpha), 3 (RGB), 4 (RGBA)")
    if h < 1 or w < 1:
        raise InputError(f"image is empty ({w} x {h} pixels)")
    if image.dtype == np.float32 and not np.isfinite(image).all():
        raise InputError("image contains NaN or infinite values")
    return h, w, c


def srgb_encode(linear: torch.Tensor) -> torch.Tensor:
    """Linear light in [0, 1] -> the sRGB curve's encoded values (IEC 61966-2-1)."""
    x = linear.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp_min(0.0031308) ** (1 / 2.4) - 0.055)


def srgb_decode(encoded: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded values in [0, 1] -> linear light: the inverse of :func:`srgb_encode`."""
    x = encoded.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp_min(0.04045) + 0.055) / 1.055) ** 2.4)


def split(image: np.ndarray, linear: bool = False,
          crop: tuple[int, int, int, int] | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(3, H, W)`` float RGB in [0, 1] and ``(H, W)`` alpha (``None`` when absent or fully opaque).

    ``linear``: the colour is linear light; it is returned sRGB-encoded, the form the model
    learned on (alpha is never encoded).

    ``crop = (row0, row1, col0, col1)``: only those pixels, the same values as cut from the whole
    image's (whether alpha counts, and the colour under transparent pixels, still follow the whole
    image). A preview of a big layer converts only what it reads."""
    h, w, c = check_image(image)
    r0, r1, c0, c1 = crop or (0, h, 0, w)
    arr = image.reshape(h, w, c)
    top = DTYPES[image.dtype]
    alpha_at = c - 1 if c in (2, 4) else None
    if alpha_at is not None and bool((arr[..., alpha_at] >= top).all()):
        alpha_at = None  # fully opaque: no alpha plane
    holes = alpha_at is not None and not bool((arr[..., alpha_at] > 0).all())

    def planes(part: np.ndarray) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = torch.from_numpy(np.ascontiguousarray(part).astype(np.float32, copy=False)) / top
        x = x.clamp(0, 1).permute(2, 0, 1).contiguous()  # planes of their own: later ops run 1.5x faster
        colour = x[:3] if c >= 3 else x[:1].expand(3, *x.shape[1:])
        return (srgb_encode(colour) if linear else colour), (x[alpha_at] if alpha_at is not None else None)

    if not holes:  # every pixel keeps its colour: the crop alone is enough
        colour, alpha = planes(arr[r0:r1, c0:c1])
        return colour.contiguous(), alpha
    colour, alpha = planes(arr)
    return fill_transparent(colour, alpha, (r0, r1, c0, c1)), alpha[r0:r1, c0:c1]


class Beyond(NamedTuple):
    """Float colour outside [0, 1] (:func:`beyond_range`)."""

    plane: torch.Tensor  # (3, H, W): 0.5 + (value - clipped value) / (2 * reach)
    reach: float  # the largest distance beyond [0, 1] in the whole image
    low: float  # the result's colour range: the input's, widened to hold [0, 1]
    high: float


def beyond_range(image: np.ndarray, crop: tuple[int, int, int, int] | None = None) -> Beyond | None:
    """Float colour outside [0, 1], which :func:`split` clips: ``None`` when there is none (always
    for integer images).

    HDR highlights above 1 in a float layer or image, and out-of-gamut colour below 0, would
    otherwise be lost. The part beyond the range becomes an image in [0, 1] (flat 0.5 where nothing
    is beyond) that the model upscales like any other, so its edges are as crisp as the colour's;
    the result's colour is the clipped colour's upscale plus ``2 * reach * (upscaled plane - 0.5)``,
    kept within the input's own range as an image within [0, 1] is kept within that. Stored
    values, never sRGB-encoded: for linear light the part beyond is added in linear light. Fully
    transparent pixels, whose colour nobody sees, add nothing. ``crop`` as for :func:`split`
    (``reach`` and the range still from the whole image, so a window is computed as in the whole)."""
    if image.dtype != np.float32:
        return None
    h, w, c = check_image(image)
    arr = image.reshape(h, w, c)
    colour = arr[..., :3 if c >= 3 else 1]
    low, high = float(colour.min()), float(colour.max())
    if low >= 0 and high <= 1:  # the usual case, found without a copy
        return None
    visible = arr[..., c - 1] > 0 if c in (2, 4) else None
    if visible is not None:  # only what can be seen counts
        seen = colour[visible]
        if seen.size == 0:
            return None
        low, high = float(seen.min()), float(seen.max())
        if low >= 0 and high <= 1:
            return None
    low, high = min(0.0, low), max(1.0, high)
    reach = max(-low, high - 1)
    r0, r1, c0, c1 = crop or (0, h, 0, w)
    part = colour[r0:r1, c0:c1]
    part = part - part.clip(0, 1)
    if visible is not None:
        part = np.where(visible[r0:r1, c0:c1, None], part, np.float32(0))
    plane = torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)).permute(2, 0, 1) / (2 * reach) + 0.5
    return Beyond(plane.expand(3, *plane.shape[1:]).contiguous(), reach, low, high)


def fill_transparent(colour: torch.Tensor, alpha: torch.Tensor,
                     crop: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """Colour where ``alpha`` is 0 replaced by nearby visible colour (push-pull), ``(3, H, W)``.

    Pixels with any alpha keep their colour; fully transparent ones take the alpha-weighted colour
    of the nearest visible pixels, coarser and smoother the farther those are. ``crop = (row0,
    row1, col0, col1)`` returns only that part, computing the fine levels only there.
    """
    h, w = alpha.shape
    r0, r1, c0, c1 = crop or (0, h, 0, w)
    if not bool((alpha > 0).any()):
        return torch.zeros(3, r1 - r0, c1 - c0)
    levels = []
    prem, a = (colour * alpha)[None], alpha[None, None]
    while True:
        levels.append((prem, a))
        lh, lw = prem.shape[-2:]
        if lh == 1 and lw == 1:
            break
        k = (min(lh, 2), min(lw, 2))
        prem = F.avg_pool2d(prem, k, ceil_mode=True) * (k[0] * k[1])
        a = F.avg_pool2d(a, k, ceil_mode=True) * (k[0] * k[1])
    # the part of each level that the finer one's part interpolates from
    parts = [(r0, r1, c0, c1)]
    for fine, coarse in zip(levels[:-1], levels[1:]):
        (fh, fw), (ch, cw), (y0, y1, x0, x1) = fine[0].shape[-2:], coarse[0].shape[-2:], parts[-1]
        rows, cols = _bilinear_taps(ch, fh, y0, y1), _bilinear_taps(cw, fw, x0, x1)
        parts.append((int(rows[0][0]), int(rows[1][-1]) + 1, int(cols[0][0]), int(cols[1][-1]) + 1))
    y0, y1, x0, x1 = parts[-1]
    filled = levels[-1][0][..., y0:y1, x0:x1] / levels[-1][1][..., y0:y1, x0:x1].clamp_min(1e-12)
    for depth in range(len(levels) - 2, -1, -1):
        (prem, a), (y0, y1, x0, x1), (cy0, _, cx0, _) = levels[depth], parts[depth], parts[depth + 1]
        (fh, fw), (ch, cw) = prem.shape[-2:], levels[depth + 1][0].shape[-2:]
        up = _bilinear_part(filled, (cy0, cx0), _bilinear_taps(ch, fh, y0, y1), _bilinear_taps(cw, fw, x0, x1))
        prem, a = prem[..., y0:y1, x0:x1], a[..., y0:y1, x0:x1]
        own = prem / a.clamp_min(1e-12)
        # on the image itself any visible pixel keeps its colour; coarser levels trust enough alpha mass
        wgt = (a > 0).float() if depth == 0 else a.clamp(0, 1)
        filled = own * wgt + up * (1 - wgt)
    return torch.where(alpha[r0:r1, c0:c1] > 0, colour[:, r0:r1, c0:c1], filled[0].clamp(0, 1))


def _bilinear_taps(n_in: int, n_out: int, first: int, end: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For output positions ``first..end-1`` of an ``n_in -> n_out`` bilinear resize (pixel
    centres aligned, as ``F.interpolate(align_corners=False)``): both source indices and the
    second one's weight. From global positions, so any part of a level is computed alike."""
    src = ((torch.arange(first, end, dtype=torch.float64) + 0.5) * (n_in / n_out) - 0.5).clamp_min(0)
    i0 = src.floor().long()
    return i0, (i0 + 1).clamp_max(n_in - 1), (src - i0).float()


def _bilinear_part(level: torch.Tensor, origin: tuple[int, int], rows: tuple, cols: tuple) -> torch.Tensor:
    """Rows, then columns, of a bilinear resize of ``level`` (whose first pixel is at ``origin``)."""
    (i0, i1, wr), (j0, j1, wc) = rows, cols
    wr = wr[:, None]  # one weight per row
    part = level.index_select(-2, i0 - origin[0]) * (1 - wr) + level.index_select(-2, i1 - origin[0]) * wr
    return part.index_select(-1, j0 - origin[1]) * (1 - wc) + part.index_select(-1, j1 - origin[1]) * wc


def to_dtype(values: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """Float values in [0, 1] (any shape) as an array of ``dtype``, rounded to nearest."""
    scale = DTYPES[np.dtype(dtype)]
    v = values.clamp(0, 1)
    if scale == 1.0:
        return v.cpu().numpy().astype(np.float32, copy=False)
    return torch.round(v * scale).cpu().numpy().astype(dtype)
