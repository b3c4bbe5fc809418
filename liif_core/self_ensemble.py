"""Self-ensemble: the model's result averaged over the 8 flips and transposes of the input.

The network is trained on flipped and transposed patches but is not exactly equivariant to them,
so each view of the image gives a slightly different estimate; their mean has less error
(the geometric self-ensemble of Lim et al., EDSR, 2017). Costs 8 full passes for +0.1-0.2 dB
on photographs and +0.6-1.2 dB on UI images with the shipped model (docs/eval/self_ensemble/gain*.md);
an option, never the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class View:
    """One element of the square's symmetry group: transpose first, then flip rows and/or columns."""

    transpose: bool = False
    flip_rows: bool = False
    flip_cols: bool = False

    def apply(self, image: torch.Tensor) -> torch.Tensor:
        """The ``(n, c, h, w)`` image as this view sees it."""
        if self.transpose:
            image = image.transpose(-2, -1)
        dims = [d for d, on in ((-2, self.flip_rows), (-1, self.flip_cols)) if on]
        return image.flip(dims) if dims else image

    def out_hw(self, out_hw: tuple[int, int]) -> tuple[int, int]:
        """The output size to request from the view for an ``out_hw`` result."""
        return (out_hw[1], out_hw[0]) if self.transpose else out_hw

    def window(self, rows: tuple[int, int], cols: tuple[int, int],
               out_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """The part ``(row0, row1, col0, col1)`` of this view's output that lands on the result's
        ``rows`` x ``cols`` (both ``(first, end)``)."""
        (r0, r1), (c0, c1) = rows, cols
        if self.transpose:  # the view's rows are the result's columns
            (r0, r1), (c0, c1) = (c0, c1), (r0, r1)
        return self._flipped((r0, r1, c0, c1), out_hw)

    def source_window(self, rect: tuple[int, int, int, int], out_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """The part ``(row0, row1, col0, col1)`` of the result that this view's ``rect`` shows:
        the inverse of :meth:`window`."""
        r0, r1, c0, c1 = self._flipped(rect, out_hw)
        return (c0, c1, r0, r1) if self.transpose else (r0, r1, c0, c1)

    def _flipped(self, rect: tuple[int, int, int, int], out_hw: tuple[int, int]) -> tuple[int, int, int, int]:
        """``rect`` of this view's output mirrored by its flips (its own inverse)."""
        r0, r1, c0, c1 = rect
        view_h, view_w = self.out_hw(out_hw)
        if self.flip_rows:
            r0, r1 = view_h - r1, view_h - r0
        if self.flip_cols:
            c0, c1 = view_w - c1, view_w - c0
        return r0, r1, c0, c1

    def place(self, row0: int, col0: int, block: torch.Tensor,
              out_hw: tuple[int, int]) -> tuple[slice, slice, torch.Tensor]:
        """Where a ``(rows, cols, channels)`` block of this view's output lands in the result, and as what."""
        view_h, view_w = self.out_hw(out_hw)
        bh, bw = block.shape[0], block.shape[1]
        if self.flip_rows:
            row0, block = view_h - row0 - bh, block.flip(0)
        if self.flip_cols:
            col0, block = view_w - col0 - bw, block.flip(1)
        if self.transpose:
            row0, col0, bh, bw, block = col0, row0, bw, bh, block.transpose(0, 1)
        return slice(row0, row0 + bh), slice(col0, col0 + bw), block


IDENTITY = (View(),)
ALL_VIEWS = tuple(View(t, fr, fc) for t in (False, True) for fr in (False, True) for fc in (False, True))
