"""Where the model runs (``auto`` picks CUDA, then Apple's MPS, then the CPU), in what precision
the decoder computes, and how many CPU threads it uses."""

from __future__ import annotations

import os
import platform
import time

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


PRECISION_ENV = "LIIF_UPSCALE_PRECISION"
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX: recent Xeons, AMD Zen 4
    and later). Elsewhere bfloat16 matrix products are emulated and no faster than float32."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # private in torch, hence the care
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_precision(precision: str | None, device: torch.device) -> torch.dtype:
    """The dtype of the decoder's hidden layers for ``precision`` (``None``: ``LIIF_UPSCALE_PRECISION``,
    else ``auto``).

    ``auto`` is bfloat16 on a CPU that computes it natively and float32 elsewhere. The encoder, the
    decoder's first-layer map and its output layer stay float32 in every case: in bfloat16 the
    encoder alone cost 0.008 dB on Set5 x3, while the hidden layers, most of the work, cost nothing
    measurable (docs/eval/precision.md).
    """
    name = (precision or os.environ.get(PRECISION_ENV) or "auto").strip().lower()
    if name == "auto":
        return torch.bfloat16 if device.type == "cpu" and native_bfloat16() else torch.float32
    if name not in PRECISIONS:
        where = f"{PRECISION_ENV}={name!r}" if not precision else f"precision {name!r}"
        raise InputError(f"unknown {where}; use auto, {', '.join(PRECISIONS)}")
    return PRECISIONS[name]


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _wanted_threads() -> int | None:
    """The thread count ``LIIF_UPSCALE_THREADS`` fixes, or ``None``."""
    wanted = os.environ.get("LIIF_UPSCALE_THREADS")
    return max(1, int(wanted)) if wanted else None


def _busy_and_total_ticks() -> tuple[int, int] | None:
    """System-wide (busy, total) CPU ticks from /proc/stat, or ``None`` where there is none."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle, sum(fields[:8])


class ThreadGovernor:
    """Uses the cores other processes leave free, re-checked between chunks of work.

    With an editor busy beside the worker, running as many OpenMP threads as cores makes every
    parallel region wait for the thread that shares a core: measured here, 2 threads on 2 cores
    with one core busy elsewhere ran 3x slower than 1 thread. So the thread count follows the
    cores that are idle apart from our own use (Linux; elsewhere, and with
    ``LIIF_UPSCALE_THREADS`` set, the count is fixed).
    """

    def __init__(self) -> None:
        self.cores = usable_cores()
        self.fixed = _wanted_threads()
        self.threads = self.fixed or self._first_guess()
        torch.set_num_threads(self.threads)
        self._last = self._sample()

    def _first_guess(self) -> int:
        """Before any work of ours: the cores other processes leave idle over a short look.

        (The load average would lag and, in a long-lived worker, count our own previous job.)
        """
        self.threads = self.cores
        if self.cores == 1 or _busy_and_total_ticks() is None:
            return self.cores
        self._last = self._sample()
        time.sleep(0.06)  # /proc/stat counts in 10 ms ticks: enough of them to tell a busy core
        return self.update()

    def resume(self) -> int:
        """At the start of a job: the others' load since the last look (over the time between the
        jobs, our own use subtracted), or ``LIIF_UPSCALE_THREADS`` as it is now; sets and returns
        the thread count."""
        self.fixed = _wanted_threads()
        self.threads = self.fixed or self.update()
        torch.set_num_threads(self.threads)  # also if someone else changed it meanwhile
        return self.threads

    @staticmethod
    def _sample() -> tuple[tuple[int, int] | None, float, float]:
        t = os.times()
        return _busy_and_total_ticks(), t.user + t.system, time.monotonic()

    def update(self) -> int:
        """Re-measure the others' load since the last call and set the thread count; returns it."""
        if self.fixed:
            return self.fixed
        now = self._sample()
        (ticks0, own0, wall0), (ticks1, own1, wall1) = self._last, now
        if ticks0 is None or ticks1 is None or wall1 - wall0 < 0.05:
            return self.threads
        self._last = now
        busy, total = ticks1[0] - ticks0[0], ticks1[1] - ticks0[1]
        if total <= 0:
            return self.threads
        n_cpu = os.cpu_count() or self.cores
        busy_cores = busy / total * n_cpu
        others = max(0.0, busy_cores - (own1 - own0) / (wall1 - wall0))
        threads = int(min(self.cores, max(1, round(self.cores - others))))
        if threads != self.threads:
            torch.set_num_threads(threads)
            self.threads = threads
        return threads


_cpu_governor: ThreadGovernor | None = None


def cpu_governor() -> ThreadGovernor:
    """The process's governor, resumed for each job (:meth:`ThreadGovernor.resume`). Kept between
    jobs, it knows the others' load from the time in between, so a job starts at once instead of
    first looking for 60 ms (7% of a preview's time, almost half a small layer's)."""
    global _cpu_governor
    if _cpu_governor is None:
        _cpu_governor = ThreadGovernor()
    else:
        _cpu_governor.resume()
    return _cpu_governor
