"""Device choice and the CPU thread governor."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from liif_core.devices import ThreadGovernor, resolve_device
from liif_core.errors import InputError


def test_auto_and_cpu():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_missing_gpu_is_a_clear_error():
    with pytest.raises(InputError, match="no CUDA"):
        resolve_device("cuda")
    with pytest.raises(InputError, match="unknown device"):
        resolve_device("tpu")


def test_fixed_threads(monkeypatch):
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", "1")
    gov = ThreadGovernor()
    assert gov.update() == 1 and torch.get_num_threads() == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/stat")
def test_governor_yields_a_core_to_a_busy_process(monkeypatch):
    monkeypatch.delenv("LIIF_UPSCALE_THREADS", raising=False)
    before = torch.get_num_threads()
    gov = ThreadGovernor()
    if gov.cores < 2:
        pytest.skip("needs at least 2 cores")
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        gov.update()
        time.sleep(0.5)
        assert gov.update() <= gov.cores - 1
    finally:
        busy.kill()
        torch.set_num_threads(before)


def test_the_governor_is_kept_between_jobs(monkeypatch):
    """Each job resumes the process's governor: only the first looks at the others' load for 60 ms
    before it starts, and LIIF_UPSCALE_THREADS counts as it is at each job."""
    from liif_core import devices

    before = torch.get_num_threads()
    looks = []
    monkeypatch.setattr(devices.time, "sleep", looks.append)
    monkeypatch.setattr(devices, "_cpu_governor", None)
    monkeypatch.delenv("LIIF_UPSCALE_THREADS", raising=False)
    try:
        first = devices.cpu_governor()
        assert devices.cpu_governor() is first and devices.cpu_governor() is first
        assert len(looks) == (1 if first.cores > 1 and sys.platform.startswith("linux") else 0)
        monkeypatch.setenv("LIIF_UPSCALE_THREADS", "1")
        assert devices.cpu_governor().threads == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv("LIIF_UPSCALE_THREADS")
        torch.set_num_threads(1)
        governor = devices.cpu_governor()
        assert governor.fixed is None and torch.get_num_threads() == governor.threads
    finally:
        torch.set_num_threads(before)
