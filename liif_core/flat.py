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

# Half the side of the square around a pixel that must be flat for its queries to be skipped. The
# queries read the features of their pixel and of the next one (local ensemble), each of which
# sees its 3x3 neighbours; 4 leaves 2 pixels of flat context beyond those.
QUIET_RADIUS = 4


# rows of the map computed at once: a few times this many pixels of temporaries, whatever the image
BAND_ROWS = 256


def _window_any(m: torch.Tensor, dim: int, lo: int, hi: int, n_out: int) -> torch.Tensor:
    """Bool, ``n_out`` long along ``dim``: whether ``m`` holds any true value from ``i + lo`` to
    ``i + hi`` (inclusive, cut off at its ends) at each position ``i`` (running sums: any window size
    costs the same)."""
    first = list(m.shape)
    first[dim] = 1
    sums = torch.cat([torch.zeros(first, dtype=torch.int32), m.to(torch.int32).cumsum(dim)], dim)
    i = torch.arange(n_out)
    start, end = (i + lo).clamp(0, m.shape[dim]), (i + hi + 1).clamp(0, m.shape[dim])
    return sums.index_select(dim, end) > sums.index_select(dim, start)


def _busy(plane: torch.Tensor, alpha: torch.Tensor | None, r: int) -> torch.Tensor:
    """Bool ``(H, W)``: where the square of ``r`` pixels around holds two different neighbouring
    values of ``plane`` (it is not one colour) and, with ``alpha``, a visible pixel."""
    h, w = plane.shape[-2:]
    across = (plane[:, :, 1:] != plane[:, :, :-1]).any(dim=0)  # between columns x and x + 1
    down = (plane[:, 1:] != plane[:, :-1]).any(dim=0)  # between rows y and y + 1
    busy = _window_any(_window_any(across, 0, -r, r, h), 1, -r, r - 1, w)
    busy |= _window_any(_window_any(down, 0, -r, r - 1, h), 1, -r, r, w)
    if alpha is not None:
        busy &= _window_any(_window_any(alpha > 0, 0, -r, r, h), 1, -r, r, w)
    return busy


def quiet_map(plane: torch.Tensor, alpha: torch.Tensor | None = None, radius: int = QUIET_RADIUS) -> torch.Tensor:
    """Bool ``(H, W)``: where ``plane`` ``(C, H, W)`` is constant within ``radius`` pixels in every
    channel (the square cut off at the image's edges), or, with the layer's ``alpha`` ``(H, W)``,
    where no pixel within ``radius`` is visible."""
    h, w = plane.shape[-2:]
    quiet = torch.empty(h, w, dtype=torch.bool)
    for r0 in range(0, h, BAND_ROWS):  # in bands, with the rows their squares reach
        r1 = min(h, r0 + BAND_ROWS)
        a0, a1 = max(0, r0 - radius), min(h, r1 + radius)
        band = _busy(plane[:, a0:a1], None if alpha is None else alpha[a0:a1], radius)
        quiet[r0:r1] = ~band[r0 - a0:r1 - a0]
    return quiet
