"""How long a running upscale still needs, from its progress, for the editors' progress displays.

The engine reports work done at an even pace (the encoder and the decoder both counted), so the
rate since the first report predicts the rest. Standard library only, like the rest of the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable

MIN_SECONDS = 2.0  # no estimate before the job has run this long ...
MIN_FRACTION = 0.03  # ... and done this much: early rates are noise


def format_seconds(seconds: float) -> str:
    """``"about 40 s left"``, ``"about 3 min left"``, ``"about 1 h 20 min left"`` (rounded, not precise)."""
    fives = round(seconds / 5) * 5
    if fives < 60:
        return f"about {max(5, fives)} s left"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min left"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min left" if minutes else f"about {hours} h left"


class TimeLeft:
    """Feed it each progress fraction (0 to 1); it answers the estimate as text, or ``""`` while
    it cannot tell yet. Time is counted from the first fraction, so starting the worker and
    loading the model do not skew the rate."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._start: tuple[float, float] | None = None

    def update(self, fraction: float) -> str:
        now = self._clock()
        if self._start is None:
            self._start = (now, fraction)
            return ""
        t0, f0 = self._start
        if now - t0 < MIN_SECONDS or fraction - f0 < MIN_FRACTION or fraction >= 1:
            return ""
        return format_seconds((now - t0) * (1 - fraction) / (fraction - f0))
