"""Flat areas, where the decoder is skipped: the model's skip alone is the result there.

A model with a bicubic skip learns the residual over the bicubic upscale. Where the input is one
flat colour for a few pixels around, the bicubic upscale is that colour and the residual the
network adds is almost zero, so the decoder is not run there (nor the encoder of a tile that
needs no decoding). UI images have large flat areas and painted layers are mostly transparent or
opaque; photographs have almost none and take the same time. Measured with the shipped model
(``bench/flat_areas.py``, x3, on this project's 2-core CPU): the example dialog 1.6 times faster
with not one 8-bit value changed; Set14's slide ``ppt3`` 1.3 times faster, 5 of its 9.4 million
values 1 level apart; painted layers 1.15 to 1.8 times faster, a few values 1 level apart, and
colour changed otherwise only under fully transparent pixels, which nothing shows. At the image's
edges the network's zero padding makes it add a little even to a flat input; the skip keeps a
flat edge flat.

Two things are flat in this sense: a plane constant around a pixel (colour, or an alpha plane of
0, 1 or any other constant value), and, in the colour plane, pixels with no alpha anywhere
around: the result there is fully transparent, whatever its colour.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Half the side of the square around a pixel that must be flat for its queries to be skipped. The
# queries read the features of their pixel and of the next one (local ensemble), each of which
# sees its 3x3 neighbours; 4 leaves 2 pixels of flat context beyond those.
QUIET_RADIUS = 4


def _extremes(x: torch.Tensor, radius: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest and smallest value of each ``(C, H, W)`` channel in the square around each pixel
    (cut off at the edges)."""
    padded = F.pad(x.unsqueeze(0), (radius,) * 4, mode="replicate")
    size = 2 * radius + 1
    return F.max_pool2d(padded, size, 1)[0], -F.max_pool2d(-padded, size, 1)[0]


def quiet_map(plane: torch.Tensor, alpha: torch.Tensor | None = None, radius: int = QUIET_RADIUS) -> torch.Tensor:
    """Bool ``(H, W)``: where ``plane`` ``(C, H, W)`` is constant within ``radius`` pixels in every
    channel, or, with the layer's ``alpha`` ``(H, W)``, where no pixel within ``radius`` is visible."""
    high, low = _extremes(plane, radius)
    quiet = (high == low).all(dim=0)
    if alpha is not None:
        quiet |= _extremes(alpha.unsqueeze(0), radius)[0][0] == 0
    return quiet
