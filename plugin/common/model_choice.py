"""Which model a plug-in job runs with, and what a dialog says under its model choice: shared by the
Krita and GIMP plug-ins.

Neither editor's Python can load a model, so the worker's ``info()`` carries each bundled model's
summary (from its card) and the models made for images saved as JPEG. The automatic choice is the
CLI's ``--model auto`` rule (``liif_core.cli``), written again here because an editor's Python
cannot import ``liif_core``; a test holds the two equal.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Sequence
from typing import Any

AUTO = "auto"  # the model made for the file the image was opened from
# files saved with lossy photograph compression, for which the JPEG model is made: JPEG, and HEIC (HEVC, what phones
# save photographs as), on which it scored higher too (docs/eval/heic_inputs.md)
JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".heic", ".heif")
# files a layer may be named after: GIMP's Open as Layers and drops, and Krita's Import Layer, name the layer
# after its file ("photo.jpg"); copies keep that name with a word added ("photo.jpg copy")
IMAGE_SUFFIXES = JPEG_SUFFIXES + (".png", ".webp", ".avif", ".jxl", ".jp2", ".tif", ".tiff", ".bmp",
                                  ".gif", ".tga", ".ico", ".ppm", ".pgm", ".pbm", ".pnm", ".exr", ".hdr", ".psd",
                                  ".xcf", ".kra", ".ora", ".svg", ".pdf", ".dng", ".cr2", ".nef", ".arw", ".raf")
_NAMED_FILE = re.compile(r"[^\s/\\]+(?:" + "|".join(re.escape(s) for s in sorted(IMAGE_SUFFIXES, key=len, reverse=True))
                         + r")(?![\w.])", re.IGNORECASE)
JPEG_HINT = "This image was opened from a JPEG or HEIC file: the model {} is made for those."
CLEAN_HINT = "This image was not opened from a JPEG or HEIC file: the default model, {}, is sharper on it."
# The file name that stands for a JPEG file whose name is gone: GIMP's JPEG loader leaves its settings
# on the image (the "jpeg-settings" parasite, kept in an XCF saved from it), not the file's name.
JPEG_NAME_UNKNOWN = "(a JPEG file).jpg"
AUTO_TIP = ("The model made for the file this image was opened from (a layer named after a file, as imported layers "
            "are, and a file layer go by that file): for a JPEG or HEIC file {}, for any other file (or an image not "
            "saved yet) the default")
OTHERS = "Other models: {}"
AUTO_JPEG = "Automatic: {}, made for images opened from a JPEG or HEIC file, as this one was."
AUTO_CLEAN = "Automatic: the default model, {}; an image opened from a JPEG or HEIC file would get {}."
# the same for a layer named after its file (layer_file), which goes by that file rather than the image's
LAYER_JPEG_HINT = "This layer is named after a JPEG or HEIC file: the model {} is made for those."
LAYER_CLEAN_HINT = ("This layer is named after a file that is neither JPEG nor HEIC: the default model, {}, is sharper "
                    "on it.")
LAYER_AUTO_JPEG = "Automatic: {}, made for images from a JPEG or HEIC file, as this layer's name says it is."
LAYER_AUTO_CLEAN = ("Automatic: the default model, {}, as this layer is named after a file that is neither JPEG nor "
                    "HEIC; a layer from a JPEG or HEIC file would get {}.")
# the same for a file layer (Krita's), which goes by the file it shows
FILE_LAYER_JPEG_HINT = "This file layer shows a JPEG or HEIC file: the model {} is made for those."
FILE_LAYER_CLEAN_HINT = ("This file layer shows a file that is neither JPEG nor HEIC: the default model, {}, is "
                         "sharper on it.")
FILE_LAYER_AUTO_JPEG = "Automatic: {}, made for images from a JPEG or HEIC file, as this file layer shows one."
FILE_LAYER_AUTO_CLEAN = ("Automatic: the default model, {}, as this file layer shows a file that is neither JPEG nor "
                         "HEIC; a layer from a JPEG or HEIC file would get {}.")
# a whole-image job whose layers do not all go by the image's file: which get another model, and why
LAYERS_JPEG = "Layers named after a JPEG or HEIC file get {}: {}."
LAYERS_CLEAN = "Layers named after a file that is neither JPEG nor HEIC get the default model, {}: {}."
LAYERS_LISTED = 3  # layer names listed in such a line; more are counted


def from_jpeg_file(file_name: str | None) -> bool:
    """Whether the image was opened from a JPEG file, or a HEIC one (told by the file's name)."""
    return os.path.splitext(file_name or "")[1].lower() in JPEG_SUFFIXES


def layer_file(layer_name: str | None) -> str:
    """The image file a layer is named after ('' if none): the layer of a file brought into another image
    (GIMP's Open as Layers or a drop, Krita's Import Layer) is named after that file, and a copy of it keeps
    the name with a word added ("photo.jpg copy", "photo.jpg ×2 (LIIF)")."""
    found = _NAMED_FILE.search(layer_name or "")
    return found.group(0) if found else ""


def origin(file_name: str | None, layer_name: str | None = None, shows: str | None = None) -> str:
    """The file a job on the layer ``layer_name`` of an image opened from ``file_name`` goes by: for a file
    layer, the file it shows (``shows``, its path; the name only is kept); else the file the layer is named
    after (:func:`layer_file`), else the image's ('' for an image never saved). A photograph brought in from
    a JPEG file into a screenshot's image is still a JPEG photograph."""
    return _base_name(shows) or layer_file(layer_name) or file_name or ""


def _base_name(path: str | None) -> str:
    """A path's last part, with either kind of slash (a file layer made on Windows keeps its path so)."""
    return re.split(r"[/\\]", path or "")[-1]


def shown_name(name: str) -> str:
    """A model's name as the note shows it: with non-breaking hyphens, so that a narrow dialog wraps
    the line between words rather than inside the name ("liif-" / "edsr-jpeg")."""
    return name.replace("-", "\u2011")


def chosen_model(model: str | None, info: dict[str, Any], file_name: str | None) -> str | None:
    """The model a job runs with when ``model`` was chosen for an image opened from ``file_name``:
    for ``auto``, the bundled model made for JPEG files when the image came from one (and the
    worker, whose ``info`` this is, has such a model), else ``None``, the default; any other
    ``model`` stands for itself. JPEG compression is what the default model was not trained on
    (docs/eval/jpeg_inputs.md: the JPEG model is ahead from quality 95 down, level at 98)."""
    if model != AUTO:
        return model
    for_jpeg = info.get("jpeg_models") or []
    return str(for_jpeg[0]) if for_jpeg and from_jpeg_file(file_name) else None


def model_note(model: str | None, info: dict[str, Any], file_name: str | None, line_break: str = "\n", *,
               layer: str | None = None, shows: str | None = None, layers: Sequence[str] = ()) -> str:
    """The text under the model choice, as markup that Qt's rich text and GTK's Pango both read
    (lines joined by ``line_break``): what the bundled model the job runs with is for, and then

    - for ``auto``: why it was chosen (the file the image was opened from, ``file_name``);
    - for a model chosen by hand, a hint where that file calls for another bundled model: for a
      JPEG file, the model made for those, unless it is the one chosen; for any other file, the
      default model, when the one chosen is made for JPEG files (an image never saved gets no
      hint: where it came from is unknown). The suggested model's name is a link whose target is
      its name (the default's is ``default``): the dialogs choose the model when it is activated,
      so the hint is one click from being followed.

    A job on one layer passes its name, ``layer``, and for a file layer the file it shows, ``shows``: the
    layer goes by that file, or by the file it is named after (:func:`origin`), and the note says so where it
    is not the image's own file. A job on the whole image passes its layers' names, ``layers``: with
    ``auto``, a line names those that get another model than the image's file calls for.

    ``model`` is ``auto``, a bundled name, ``default`` (or None, empty) or a file's path, about
    which nothing is said."""
    named = _base_name(shows) or layer_file(layer)  # GIMP names an opened file's layer after it: the image's file
    by_layer = bool(named) and named.lower() != os.path.basename(file_name or "").lower()
    if not by_layer:
        jpeg_hint, clean_hint, auto_jpeg, auto_clean = JPEG_HINT, CLEAN_HINT, AUTO_JPEG, AUTO_CLEAN
    elif shows:
        jpeg_hint, clean_hint = FILE_LAYER_JPEG_HINT, FILE_LAYER_CLEAN_HINT
        auto_jpeg, auto_clean = FILE_LAYER_AUTO_JPEG, FILE_LAYER_AUTO_CLEAN
    else:
        jpeg_hint, clean_hint = LAYER_JPEG_HINT, LAYER_CLEAN_HINT
        auto_jpeg, auto_clean = LAYER_AUTO_JPEG, LAYER_AUTO_CLEAN
    file_name = origin(file_name, layer, shows)
    models = info.get("models") or []
    runs = chosen_model(model, info, file_name)
    name = (models[0] if models else "") if runs in (None, "", "default") else runs
    summary = str((info.get("summaries") or {}).get(name, ""))
    lines = [html.escape(summary, quote=False)] if summary else []
    for_jpeg = info.get("jpeg_models") or []
    from_jpeg = from_jpeg_file(file_name)
    if model == AUTO:
        if for_jpeg and from_jpeg:
            why = auto_jpeg.format(shown_name(name))
            lines.append(html.escape(why, quote=False))
        elif for_jpeg and name not in for_jpeg:
            why = auto_clean.format(shown_name(name), shown_name(for_jpeg[0]))
            lines.append(html.escape(why, quote=False))
        others = [n for n in layers if (f := layer_file(n)) and from_jpeg_file(f) != from_jpeg]
        if for_jpeg and models and others:
            listed = ", ".join(others[:LAYERS_LISTED]) + (f" and {len(others) - LAYERS_LISTED} more"
                                                         if len(others) > LAYERS_LISTED else "")
            line = (LAYERS_CLEAN.format(shown_name(str(models[0])), listed) if from_jpeg
                    else LAYERS_JPEG.format(shown_name(str(for_jpeg[0])), listed))
            lines.append(html.escape(line, quote=False))
    elif for_jpeg and from_jpeg and name not in for_jpeg:
        lines.append(_hint(jpeg_hint, str(for_jpeg[0]), str(for_jpeg[0])))
    elif file_name and not from_jpeg and name in for_jpeg and models and models[0] not in for_jpeg:
        lines.append(_hint(clean_hint, "default", str(models[0])))
    return line_break.join(lines)


def other_models(info: dict[str, Any], model: str | None) -> str:
    """For a dialog whose model field is typed in (GIMP's), a line of links to the field's other values:
    ``auto``, ``default`` and each bundled model but the default, the one in the field left out; each
    link's target is the value it puts in the field (the dialogs choose it when it is activated). Empty
    until the worker's ``info`` has come."""
    models = info.get("models") or []
    if not models:
        return ""
    current = model or "default"
    links = [_link(value, value) for value in [AUTO, "default", *map(str, models[1:])] if value != current]
    return OTHERS.format(", ".join(links))


def _hint(text: str, target: str, shown: str) -> str:
    """``text`` with a link to the model ``target`` (shown as ``shown``) in place of its ``{}``."""
    return html.escape(text, quote=False).format(_link(target, shown))


def _link(target: str, shown: str) -> str:
    """A link that chooses the model ``target``, showing the name ``shown`` (hyphens that do not break)."""
    return f'<a href="{html.escape(target)}">{html.escape(shown_name(shown))}</a>'
