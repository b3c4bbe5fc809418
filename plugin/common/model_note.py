"""What a dialog says under its model choice: shared by the Krita and GIMP plug-ins.

Neither editor's Python can load a model, so the worker's ``info()`` carries each bundled model's
summary (from its card) and the models made for images saved as JPEG.
"""

from __future__ import annotations

import os
from typing import Any

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")


def model_note(model: str | None, info: dict[str, Any], file_name: str | None) -> list[str]:
    """The lines under the model choice: what the chosen bundled model is for, and, for an image
    opened from a JPEG file (``file_name``), which bundled model is made for those, unless it is
    the one chosen. ``model`` is a bundled name, ``default`` (or None, empty) or a file's path,
    about which nothing is said."""
    models = info.get("models") or []
    name = (models[0] if models else "") if model in (None, "", "default") else model
    lines = []
    summary = (info.get("summaries") or {}).get(name, "")
    if summary:
        lines.append(summary)
    for_jpeg = info.get("jpeg_models") or []
    if for_jpeg and name not in for_jpeg and os.path.splitext(file_name or "")[1].lower() in JPEG_SUFFIXES:
        lines.append(f"This image was opened from a JPEG file: the model {for_jpeg[0]} is made for those.")
    return lines
