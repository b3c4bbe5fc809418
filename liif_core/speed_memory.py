"""How fast this machine upscaled last time, kept on disk between worker runs.

The editors' dialogs estimate a job's time before it starts from the speed the worker measured
(``Engine.info()``'s ``speed``). A worker lives as long as an editor session (Krita) or a single
call (GIMP), so without memory the first job of every session had no estimate, and GIMP never had
one. The speed is remembered per device (the CPU's model and core count, the GPU's name) and per
decoder precision, so a changed machine, a second GPU or a switch between float32 and bfloat16
(1.4-2.1x apart on a CPU) does not inherit a wrong number.

The file is a cache: it is rewritten whole after each measured job, and anything unreadable in it
is ignored (the next job writes a good one).
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch

FILE_VERSION = 1


def cache_dir() -> Path:
    """``~/.cache/liif-upscale`` (``$XDG_CACHE_HOME``), ``~/Library/Caches/liif-upscale`` on macOS,
    ``%LOCALAPPDATA%\\liif-upscale`` on Windows."""
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "liif-upscale"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "liif-upscale"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "liif-upscale"


def speed_file() -> Path:
    return cache_dir() / "speed.json"


def device_identity(device: torch.device, decoder_dtype: torch.dtype = torch.float32) -> str:
    """What a measured speed belongs to: ``cpu: <model> x<cores>``, ``cuda: <GPU name>``,
    ``mps: <machine>``, followed by the decoder's dtype when it is not float32 (so that speeds
    remembered before there was a choice keep meaning float32)."""
    from liif_core.devices import cpu_name, usable_cores

    if device.type == "cuda":
        identity = f"cuda: {torch.cuda.get_device_name(device)}"
    elif device.type == "cpu":
        identity = f"cpu: {cpu_name()} x{usable_cores()}"
    else:
        identity = f"{device.type}: {platform.machine()}"
    if decoder_dtype != torch.float32:
        identity += f" {str(decoder_dtype).removeprefix('torch.')}"
    return identity


def load() -> dict[str, float]:
    """Every remembered speed (multiply-adds per second) by device identity; ``{}`` when none."""
    try:
        data = json.loads(speed_file().read_text())
    except (OSError, ValueError):
        return {}
    speeds = data.get("speed") if isinstance(data, dict) and data.get("version") == FILE_VERSION else None
    if not isinstance(speeds, dict):
        return {}
    return {k: float(v) for k, v in speeds.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0}


def remember(identity: str, speed: float) -> None:
    """Store ``speed`` for ``identity`` beside the others. A file that cannot be written only costs
    the next session its first estimate, so failures are silent."""
    speeds = {**load(), identity: speed}
    path = speed_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".speed-", suffix=".json")
    except OSError:
        return
    try:
        with os.fdopen(fd, "w") as f:
            json.dump({"version": FILE_VERSION, "speed": speeds}, f, indent=1)
        os.replace(tmp, path)  # whole or not at all, also with two workers finishing together
    except OSError:
        Path(tmp).unlink(missing_ok=True)
