"""A Krita environment of its own: profile, settings, caches and runtime folder under one home.

Used by tests/test_krita.py and docs/editor_scaling.py, so that a run neither reads nor changes
the user's Krita (its kritarc, resources and installed plug-ins) and starts from the same state
every time. Variables that would point Krita or its Python elsewhere (XDG, Qt, Python, a display,
this project's worker settings) are left out; the caller adds what it needs.
"""

from __future__ import annotations

import os
from pathlib import Path

DROPPED_PREFIXES = ("LIIF_UPSCALE_", "XDG_", "QT_", "PYTHON")


def krita_env(home: Path, runtime: Path, **extra: str) -> dict[str, str]:
    """This process's environment with Krita's profile under ``home`` and its runtime folder at
    ``runtime`` (made, private), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES) and k != "DISPLAY"}
    home.mkdir(parents=True, exist_ok=True)
    runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_RUNTIME_DIR=str(runtime), **extra)
    return env
