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
CLEAN_HINT = "This image was not opened from a JPEG file: the default model, {}, is sharper on it."


def model_note(model: str | None, info: dict[str, Any], file_name: str | None, line_break: str = "\n") -> str:
    """The text under the model choice, as markup that Qt's rich text and GTK's Pango both read
    (lines joined by ``line_break``): what the chosen bundled model is for, and a hint where the
    file the image was opened from (``file_name``) calls for another bundled model: for a JPEG
    file, the model made for those, unless it is the one chosen; for any other file, the default
    model, when the one chosen is made for JPEG files (an image never saved gets no hint: where it
    came from is unknown). The suggested model's name is a link whose target is its name (the
    default's is ``default``): the dialogs choose the model when it is activated, so the hint is
    one click from being followed. ``model`` is a bundled name, ``default`` (or None, empty) or a
    file's path, about which nothing is said."""
    models = info.get("models") or []
    name = (models[0] if models else "") if model in (None, "", "default") else model
    summary = str((info.get("summaries") or {}).get(name, ""))
    lines = [html.escape(summary, quote=False)] if summary else []
    for_jpeg = info.get("jpeg_models") or []
    from_jpeg = os.path.splitext(file_name or "")[1].lower() in JPEG_SUFFIXES
    if for_jpeg and from_jpeg and name not in for_jpeg:
        lines.append(_hint(JPEG_HINT, str(for_jpeg[0]), str(for_jpeg[0])))
    elif file_name and not from_jpeg and name in for_jpeg and models and models[0] not in for_jpeg:
        lines.append(_hint(CLEAN_HINT, "default", str(models[0])))
    return line_break.join(lines)


def _hint(text: str, target: str, shown: str) -> str:
    """``text`` with a link to the model ``target`` (shown as ``shown``) in place of its ``{}``."""
    return html.escape(text, quote=False).format(f'<a href="{html.escape(target)}">{html.escape(shown)}</a>')
