"""Self-ensemble: the model's result averaged over flips and transposes of the input.

The network is trained on flipped and transposed patches but is not exactly equivariant to them,
so each view of the image gives a slightly different estimate; their mean has less error
(the geometric self-ensemble of Lim et al., EDSR, 2017). All 8 views cost 8 full passes for
+0.1-0.2 dB on photographs and +0.6-1.2 dB on UI images with the shipped model
(docs/eval/self_ensemble/gain*.md); the 4 rotations give 85-91% of that at half the cost, the
half turn alone 47-59% (docs/eval/self_ensemble/views.md). An option, never the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from liif_core.errors import InputError


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
HALF_TURN = View(flip_rows=True, flip_cols=True)
QUARTER_TURNS = (View(transpose=True, flip_cols=True), View(transpose=True, flip_rows=True))  # one each way
ALL_VIEWS = tuple(View(t, fr, fc) for t in (False, True) for fr in (False, True) for fc in (False, True))
# the views averaged for each count a caller may ask for: the most gain per pass (views.md)
VIEW_SETS: dict[int, tuple[View, ...]] = {1: IDENTITY, 2: (View(), HALF_TURN),
                                          4: (View(), QUARTER_TURNS[0], HALF_TURN, QUARTER_TURNS[1]), 8: ALL_VIEWS}


def views(self_ensemble: bool | int) -> tuple[View, ...]:
    """The views averaged for ``self_ensemble``: ``True`` (all 8) or ``False`` (one), or a count of
    views, 1, 2 (the half turn added), 4 (the rotations) or 8; raises :class:`InputError` otherwise."""
    count = (8 if self_ensemble else 1) if isinstance(self_ensemble, bool) else self_ensemble
    if not isinstance(count, int) or count not in VIEW_SETS:
        raise InputError(f"self_ensemble must be true, false or a number of views (1, 2, 4 or 8), "
                         f"got {self_ensemble!r}")
    return VIEW_SETS[count]
