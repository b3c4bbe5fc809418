"""Shared by the Krita and GIMP plug-ins: the standard-library client of ``liif_core.worker``."""

from .client import (
    LiifClientError,
    SandboxBlocked,
    WorkerCancelled,
    WorkerClient,
    WorkerCrashed,
    WorkerError,
    WorkerNotConfigured,
    WorkerTimeout,
    config_path,
    find_python,
)

__all__ = [
    "LiifClientError",
    "SandboxBlocked",
    "WorkerCancelled",
    "WorkerClient",
    "WorkerCrashed",
    "WorkerError",
    "WorkerNotConfigured",
    "WorkerTimeout",
    "config_path",
    "find_python",
]
