"""Pixel formats in and out: dtypes, grey and alpha, and colour under transparent pixels.

The network sees RGB in [0, 1]. Grey images are replicated to RGB and averaged back. Alpha is
upscaled by the network too (as a grey image), so shape edges get the same crispness as colour.
Colour under fully or partly transparent pixels is meaningless and often black or garbage; it
would bleed into visible edges as dark fringes. So before upscaling, colour is replaced where
alpha is low by an alpha-weighted average of the visible colour nearby (a push-pull pyramid),
and the result keeps straight (not premultiplied) colour.
"""

from __future__ import annotations

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


def split(image: np.ndarray, linear: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(3, H, W)`` float RGB in [0, 1] and ``(H, W)`` alpha (``None`` when absent or fully opaque).

    ``linear``: the colour is linear light; it is returned sRGB-encoded, the form the model
    learned on (alpha is never encoded)."""
    h, w, c = check_image(image)
    arr = image.reshape(h, w, c)
    x = torch.from_numpy(np.ascontiguousarray(arr).astype(np.float32, copy=False)) / DTYPES[image.dtype]
    x = x.clamp(0, 1).permute(2, 0, 1)
    colour = x[:3] if c >= 3 else x[:1].expand(3, h, w)
    if linear:
        colour = srgb_encode(colour)
    alpha = x[3] if c == 4 else x[1] if c == 2 else None
    if alpha is not None and bool((alpha >= 1).all()):
        alpha = None
    if alpha is not None:
        colour = fill_transparent(colour, alpha)
    return colour.contiguous(), alpha


def fill_transparent(colour: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Colour where ``alpha`` is low replaced by nearby visible colour (push-pull), ``(3, H, W)``.

    Pixels with any alpha keep their colour; fully transparent ones take the alpha-weighted colour
    of the nearest visible pixels, coarser and smoother the farther those are.
    """
    if not bool((alpha > 0).any()):
        return torch.zeros_like(colour)
    levels = []
    prem, a = (colour * alpha)[None], alpha[None, None]
    while True:
        levels.append((prem, a))
        h, w = prem.shape[-2:]
        if h == 1 and w == 1:
            break
        k = (min(h, 2), min(w, 2))
        prem = F.avg_pool2d(prem, k, ceil_mode=True) * (k[0] * k[1])
        a = F.avg_pool2d(a, k, ceil_mode=True) * (k[0] * k[1])
    filled = levels[-1][0] / levels[-1][1].clamp_min(1e-12)
    for depth in range(len(levels) - 2, -1, -1):
        prem, a = levels[depth]
        up = F.interpolate(filled, size=prem.shape[-2:], mode="bilinear", align_corners=False)
        own = prem / a.clamp_min(1e-12)
        # on the image itself any visible pixel keeps its colour; coarser levels trust enough alpha mass
        wgt = (a > 0).float() if depth == 0 else a.clamp(0, 1)
        filled = own * wgt + up * (1 - wgt)
    return torch.where(alpha > 0, colour, filled[0].clamp(0, 1))


def to_dtype(values: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """Float values in [0, 1] (any shape) as an array of ``dtype``, rounded to nearest."""
    scale = DTYPES[np.dtype(dtype)]
    v = values.clamp(0, 1)
    if scale == 1.0:
        return v.cpu().numpy().astype(np.float32, copy=False)
    return torch.round(v * scale).cpu().numpy().astype(dtype)
