"""Exceptions with messages a user can act on; every public function raises only these for bad input."""

from __future__ import annotations


class LiifError(Exception):
    """Base class of all errors ``liif_core`` raises on purpose."""


class InputError(LiifError, ValueError):
    """The image, scale, size or option is unusable; the message says what to change."""


class MemoryLimitError(InputError):
    """The requested output would exceed the memory limit (``LIIF_UPSCALE_MEMORY_LIMIT``)."""


class ModelError(LiifError):
    """A model file is missing, unreadable, unsafe or of an unknown architecture."""


class Cancelled(LiifError):
    """The caller's ``cancel()`` returned true; no partial result is produced."""
