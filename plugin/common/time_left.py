"""How long an upscale will take: before it starts, from the speed the worker measured on earlier
jobs (the editors' dialogs), and while it runs, from its progress (their progress displays).

The engine reports work done at an even pace (the encoder and the decoder both counted), so the
rate since the first report predicts the rest. Standard library only, like the rest of the client.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

MIN_SECONDS = 2.0  # no estimate before the job has run this long ...
MIN_FRACTION = 0.03  # ... and done this much: early rates are noise


def format_seconds(seconds: float) -> str:
    """``"about 40 s"``, ``"about 3 min"``, ``"about 1 h 20 min"`` (rounded, not precise); below 2.5 s,
    ``"under 5 s"``: a small layer's job of a fraction of a second is not "about 5 s"."""
    fives = round(seconds / 5) * 5
    if fives < 5:
        return "under 5 s"
    if fives < 60:
        return f"about {fives} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} h {minutes} min" if minutes else f"about {hours} h"


VIEW_COUNTS = (1, 2, 4, 8)  # the self-ensemble's choices: how many views of the image are averaged


def view_count(self_ensemble: bool | int) -> int:
    """How many passes a request's ``self_ensemble`` makes: ``True`` 8, ``False`` 1, or the count itself
    (1, 2, 4 or 8; anything else raises ``ValueError``)."""
    count = (8 if self_ensemble else 1) if isinstance(self_ensemble, bool) else self_ensemble
    if count not in VIEW_COUNTS:
        raise ValueError(f"self_ensemble must be True, False or a number of views (1, 2, 4 or 8), "
                         f"got {self_ensemble!r}")
    return count


def estimate_seconds(info: dict[str, Any], model: str | None, device: str | None, in_pixels: int,
                     out_pixels: int, self_ensemble: bool | int = False) -> float | None:
    """Seconds a job would take, from the worker's ``info()`` (its ``speed`` per kind of device and
    ``work`` per model, both filled by finished jobs), or ``None`` until such a job has run.

    ``device`` is what the request would send (``auto``, ``gpu``, ``cpu``, ``cuda:1``...)."""
    work = (info.get("work") or {}).get(model or "default")
    speed = measured_speed(info, device)
    if not work or not speed:
        return None
    return view_count(self_ensemble) * (work[0] * in_pixels + work[1] * out_pixels) / speed


def measured_speed(info: dict[str, Any], device: str | None) -> float | None:
    """The speed (multiply-adds per second) the worker measured on the kind of device a request
    for ``device`` runs on, from its ``info()``; ``None`` before a job measured it."""
    if device in (None, "", "auto"):
        device = info.get("device")
    elif device == "gpu":
        device = next((d for d in info.get("devices", []) if d != "cpu"), None)
    return (info.get("speed") or {}).get((device or "").split(":")[0])


class TimeLeft:
    """Feed it each progress fraction (0 to 1); it answers the time left as text, or ``""`` while
    it cannot tell. Time is counted from the first fraction, so starting the worker and loading
    the model do not skew the rate. Until the rate can be measured, an ``estimate`` made before
    the job (:func:`estimate_seconds`, whole job in seconds) counts down instead."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, estimate: float | None = None) -> None:
        self._clock = clock
        self._estimate = estimate
        self._start: tuple[float, float] | None = None

    def update(self, fraction: float) -> str:
        now = self._clock()
        if self._start is None:
            self._start = (now, fraction)
        t0, f0 = self._start
        if fraction >= 1:
            return ""
        if now - t0 >= MIN_SECONDS and fraction - f0 >= MIN_FRACTION:
            return format_seconds((now - t0) * (1 - fraction) / (fraction - f0)) + " left"
        if self._estimate is not None and self._estimate - (now - t0) > 0:
            return format_seconds(self._estimate - (now - t0)) + " left"
        return ""
