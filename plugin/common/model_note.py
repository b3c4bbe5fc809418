"""What a dialog says under its model choice: shared by the Krita and GIMP plug-ins.

Neither editor's Python can load a model, so the worker's ``info()`` carries each bundled model's
summary (from its card) and the models made for images saved as JPEG.
"""

from __future__ import annotations

import html
import os
from typing import Any

JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif")
JPEG_HINT = "This image was opened from a JPEG file: the model {} is made for those."


def model_note(model: str | None, info: dict[str, Any], file_name: str | None, line_break: str = "\n") -> str:
    """The text under the model choice, as markup that Qt's rich text and GTK's Pango both read
    (lines joined by ``line_break``): what the chosen bundled model is for, and, for an image opened
    from a JPEG file (``file_name``), which bundled model is made for those, unless it is the one
    chosen. That model's name is a link whose target is the name: the dialogs choose the model
    when it is activated, so the hint is one click from being followed. ``model`` is a bundled
    name, ``default`` (or None, empty) or a file's path, about which nothing is said."""
    models = info.get("models") or []
    name = (models[0] if models else "") if model in (None, "", "default") else model
    summary = str((info.get("summaries") or {}).get(name, ""))
    lines = [html.escape(summary, quote=False)] if summary else []
    for_jpeg = info.get("jpeg_models") or []
    if for_jpeg and name not in for_jpeg and os.path.splitext(file_name or "")[1].lower() in JPEG_SUFFIXES:
        link = html.escape(str(for_jpeg[0]))
        lines.append(html.escape(JPEG_HINT, quote=False).format(f'<a href="{link}">{link}</a>'))
    return line_break.join(lines)
