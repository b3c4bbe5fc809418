"""The time-left estimate the Krita and GIMP progress displays show (``plugin/common/time_left.py``)."""

from __future__ import annotations

import pytest

from plugin.common.time_left import TimeLeft, estimate_seconds, format_seconds


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


def test_an_estimate_made_before_the_job_counts_down_until_the_rate_is_known():
    clock = Clock()
    left = TimeLeft(clock, estimate=42.0)
    assert left.update(0.0) == "about 40 s left"  # at once, where the rate alone says nothing yet
    clock.now += 1.0
    assert left.update(0.01) == "about 40 s left"  # 41 s
    clock.now += 1.0
    assert left.update(0.02) == "about 40 s left"  # still too little progress for a rate
    clock.now += 8.0
    assert left.update(0.5) == "about 10 s left"  # measured: 10 s for half
    assert left.update(1.0) == ""
    late = TimeLeft(clock, estimate=3.0)  # an estimate that ran out says nothing, rather than "0 s"
    late.update(0.0)
    clock.now += 4.0
    assert late.update(0.01) == ""


def test_a_job_that_starts_part_way_counts_only_its_own_progress():
    clock = Clock()
    left = TimeLeft(clock)
    left.update(0.5)  # e.g. the second of two requests, colour done
    clock.now += 60.0
    assert left.update(0.75) == "about 1 min left"


@pytest.mark.parametrize("seconds, text", [
    (0.1, "under 5 s"), (2.4, "under 5 s"), (2.6, "about 5 s"), (12, "about 10 s"),
    (55, "about 55 s"), (58, "about 1 min"),
    (150, "about 2 min"), (3599, "about 1 h"), (4800, "about 1 h 20 min"),
])
def test_format(seconds, text):
    assert format_seconds(seconds) == text


INFO = {"device": "cpu", "devices": ["cpu", "cuda:0"], "speed": {"cpu": 1e9, "cuda": 4e10},
        "work": {"default": [200, 100], "/models/other.safetensors": [400, 100]}}


def test_estimate_before_a_job():
    """Work per input and output pixel over the measured speed of the device the request would use."""
    assert estimate_seconds(INFO, None, "auto", 1000, 4000) == (200 * 1000 + 100 * 4000) / 1e9
    assert estimate_seconds(INFO, None, "cpu", 1000, 4000, self_ensemble=True) == 8 * 6e5 / 1e9
    assert estimate_seconds(INFO, None, "cpu", 1000, 4000, self_ensemble=4) == 4 * 6e5 / 1e9
    with pytest.raises(ValueError, match="1, 2, 4 or 8"):
        estimate_seconds(INFO, None, "cpu", 1000, 4000, self_ensemble=3)
    assert estimate_seconds(INFO, None, "gpu", 1000, 4000) == 6e5 / 4e10  # the first GPU, by its kind
    assert estimate_seconds(INFO, None, "cuda:1", 1000, 4000) == 6e5 / 4e10
    assert estimate_seconds(INFO, "/models/other.safetensors", "cpu", 1000, 4000) == 8e5 / 1e9


def test_no_estimate_without_a_measurement():
    assert estimate_seconds(INFO, "never-used", "cpu", 1000, 4000) is None  # no job ran this model
    assert estimate_seconds(INFO, None, "mps", 1000, 4000) is None  # nor on this device
    assert estimate_seconds({"device": "cpu", "devices": ["cpu"]}, None, "auto", 1000, 4000) is None  # old worker
    assert estimate_seconds({"device": "cpu", "devices": ["cpu"], "speed": INFO["speed"], "work": INFO["work"]},
                            None, "gpu", 1000, 4000) is None  # no GPU here
