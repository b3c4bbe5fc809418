"""Where the model runs: ``auto`` picks CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import os

import torch

from liif_core.errors import InputError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Turn ``auto``, ``gpu``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps`` into an available device."""
    if isinstance(device, torch.device):
        return device
    name = (device or "auto").strip().lower()
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if name == "gpu":
        if cuda or mps:
            return torch.device("cuda" if cuda else "mps")
        raise InputError("no GPU is available to PyTorch here; choose device 'cpu' or 'auto'")
    if name.startswith("cuda"):
        if not cuda:
            raise InputError(f"device {device!r}: this PyTorch has no CUDA GPU; choose 'cpu' or 'auto'")
        dev = torch.device(name)
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) present")
        return dev
    if name == "mps":
        if not mps:
            raise InputError("device 'mps': Apple's Metal backend is not available here; choose 'cpu' or 'auto'")
        return torch.device("mps")
    if name == "cpu":
        return torch.device("cpu")
    raise InputError(f"unknown device {device!r}; use auto, gpu, cpu, cuda, cuda:N or mps")


def use_all_cores() -> None:
    """Let PyTorch use every core this process may run on (``LIIF_UPSCALE_THREADS`` overrides)."""
    wanted = os.environ.get("LIIF_UPSCALE_THREADS")
    if wanted:
        torch.set_num_threads(max(1, int(wanted)))
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    if torch.get_num_threads() != cores:
        torch.set_num_threads(cores)
