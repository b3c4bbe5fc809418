"""The time-left estimate the Krita and GIMP progress displays show (``plugin/common/time_left.py``)."""

from __future__ import annotations

import pytest

from plugin.common.time_left import TimeLeft, format_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_is_measured_from_the_first_report():
    clock = Clock()
    left = TimeLeft(clock)
    assert left.update(0.0) == ""  # the worker began; starting it and loading the model do not count
    clock.now += 1.0
    assert left.update(0.05) == ""  # too early to tell
    clock.now += 9.0
    assert left.update(0.25) == "about 30 s left"  # 10 s for a quarter: 30 s for the rest
    clock.now += 30.0
    assert left.update(0.5) == "about 40 s left"  # the mean rate since the start, not the last step
    assert left.update(1.0) == ""


def test_a_job_that_starts_part_way_counts_only_its_own_progress():
    clock = Clock()
    left = TimeLeft(clock)
    left.update(0.5)  # e.g. the second of two requests, colour done
    clock.now += 60.0
    assert left.update(0.75) == "about 1 min left"


@pytest.mark.parametrize("seconds, text", [
    (0.4, "about 5 s left"), (12, "about 10 s left"), (55, "about 55 s left"), (58, "about 1 min left"),
    (150, "about 2 min left"), (3599, "about 1 h left"), (4800, "about 1 h 20 min left"),
])
def test_format(seconds, text):
    assert format_seconds(seconds) == text
