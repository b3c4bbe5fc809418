"""Where a dialog's preview window sits over the result: shared by the Krita and GIMP plug-ins."""

from __future__ import annotations

import math


def preview_window(ow: int, oh: int, size: tuple[int, int] = (360, 240),
                   centre: tuple[float, float] = (0.5, 0.5)) -> tuple[int, int, int, int]:
    """``(x, y, width, height)`` of the preview: at most ``size`` of an ``ow`` x ``oh`` result, around
    ``centre`` (fractions of the result's width and height), inside the result."""
    w, h = min(size[0], ow), min(size[1], oh)
    x = min(max(0, math.floor(centre[0] * ow - w / 2 + 0.5)), ow - w)
    y = min(max(0, math.floor(centre[1] * oh - h / 2 + 0.5)), oh - h)
    return x, y, w, h


def dragged_centre(window: tuple[int, int, int, int], ow: int, oh: int, dx: float,
                   dy: float) -> tuple[float, float]:
    """The preview's new centre after a drag by ``(dx, dy)`` screen pixels over ``window``: the window
    moves against the drag, like a picture pushed under a frame."""
    x, y, w, h = window
    return (x + w / 2 - dx) / ow, (y + h / 2 - dy) / oh
