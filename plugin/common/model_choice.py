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
# files saved with lossy compression, for which the JPEG model is made (docs/eval/jpeg_inputs.md), and on which it
# scored higher too: HEIC (what phones save photographs as), AVIF, lossy WebP and lossy JPEG XL
# (docs/eval/heic_inputs.md, avif_inputs.md, webp_inputs.md, jxl_inputs.md); the kind each suffix stands for, as
# the notes name it. A WebP file is lossy or lossless whatever its name, and so are AVIF and JPEG XL files:
# lossy_kind reads which (when the file can be read).
LOSSY_SUFFIXES = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".heic": "HEIC", ".heif": "HEIC",
                  ".avif": "AVIF", ".webp": "lossy WebP", ".jxl": "lossy JPEG XL"}
LOSSY = "JPEG, HEIC, AVIF, lossy WebP or lossy JPEG XL"  # the notes' name for them all
# files a layer may be named after: GIMP's Open as Layers and drops, and Krita's Import Layer, name the layer
# after its file ("photo.jpg"); copies keep that name with a word added ("photo.jpg copy")
IMAGE_SUFFIXES = tuple(LOSSY_SUFFIXES) + (
    ".png", ".jxl", ".jp2", ".tif", ".tiff", ".bmp", ".gif", ".tga", ".ico", ".ppm", ".pgm", ".pbm", ".pnm", ".exr",
    ".hdr", ".psd", ".xcf", ".kra", ".ora", ".svg", ".pdf", ".dng", ".cr2", ".nef", ".arw", ".raf")
_NAMED_FILE = re.compile(r"[^\s/\\]+(?:" + "|".join(re.escape(s) for s in sorted(IMAGE_SUFFIXES, key=len, reverse=True))
                         + r")(?![\w.])", re.IGNORECASE)
JPEG_HINT = "This image was opened from a {kind} file: the model {} is made for lossy compression."
CLEAN_HINT = f"This image was not opened from a {LOSSY} file: the default model, {{}}, is sharper on it."
# The file name that stands for a JPEG file whose name is gone: GIMP's JPEG loader leaves its settings
# on the image (the "jpeg-settings" parasite, kept in an XCF saved from it), not the file's name.
JPEG_NAME_UNKNOWN = "(a JPEG file).jpg"
# The same for a lossy WebP or JPEG XL file known by its name only (Krita's note of the file a document was opened
# from): such a file's name does not say lossy, so these do.
LOSSY_NAMES = {".webp": "(a lossy WebP file).webp", ".jxl": "(a lossy JPEG XL file).jxl"}
AUTO_TIP = ("The model made for the file this image was opened from (a layer named after a file, as imported layers "
            f"are, and a file layer go by that file): for a {LOSSY} file {{}}, for any other file (or an image not "
            "saved yet) the default")
OTHERS = "Other models: {}"
AUTO_JPEG = "Automatic: {}, made for images saved with lossy compression, as this one was ({kind})."
AUTO_CLEAN = f"Automatic: the default model, {{}}; an image opened from a {LOSSY} file would get {{}}."
# the same for a layer named after its file (layer_file), which goes by that file rather than the image's; such a
# layer's WebP file cannot be read (it is known by name only) and counts as lossless
LAYER_JPEG_HINT = "This layer is named after a {kind} file: the model {} is made for lossy compression."
LAYER_CLEAN_HINT = (f"This layer is named after a file not known to be {LOSSY}: the default model, {{}}, is sharper "
                    "on it.")
LAYER_AUTO_JPEG = ("Automatic: {}, made for images saved with lossy compression, as this layer's name says it was "
                   "({kind}).")
LAYER_AUTO_CLEAN = (f"Automatic: the default model, {{}}, as this layer is named after a file not known to be {LOSSY}; "
                    "a layer from such a file would get {}.")
# the same for a file layer (Krita's), which goes by the file it shows
FILE_LAYER_JPEG_HINT = "This file layer shows a {kind} file: the model {} is made for lossy compression."
FILE_LAYER_CLEAN_HINT = (f"This file layer shows a file that is not {LOSSY}: the default model, {{}}, is sharper "
                         "on it.")
FILE_LAYER_AUTO_JPEG = ("Automatic: {}, made for images saved with lossy compression, as the file this file layer "
                        "shows was ({kind}).")
FILE_LAYER_AUTO_CLEAN = (f"Automatic: the default model, {{}}, as this file layer shows a file that is not {LOSSY}; "
                         "a layer from such a file would get {}.")
# a whole-image job whose layers do not all go by the image's file: which get another model, and why
LAYERS_JPEG = f"Layers named after a {LOSSY} file get {{}}: {{}}."
LAYERS_CLEAN = f"Layers named after a file not known to be {LOSSY} get the default model, {{}}: {{}}."
LAYERS_LISTED = 3  # layer names listed in such a line; more are counted


def lossy_kind(file_name: str | None) -> str:
    """The lossy compression the file ``file_name`` was saved with, as the notes name it (a value of
    :data:`LOSSY_SUFFIXES`, or "recompressed JPEG"), or '' for a file saved without loss. Told by the file's name,
    and for WebP, AVIF and JPEG XL by the file itself where it can be read: a WebP file is lossy by its ``VP8``
    chunk (``VP8L`` is lossless; one that cannot be read counts as lossless), an AVIF file lossless by its
    identity colour matrix (lossless AV1 stores RGB so; one that cannot be read counts as lossy, as most are), a
    JPEG XL file lossy by its header's XYB flag, and a JPEG recompressed by one (its ``jbrd`` box) is a JPEG (one
    that cannot be read counts as lossless). Only an absolute path is read: a name (a layer's) says nothing of
    where its file is."""
    kind = LOSSY_SUFFIXES.get(os.path.splitext(file_name or "")[1].lower(), "")
    readable = file_name if file_name and os.path.isabs(file_name) else ""  # a layer's name is no path to read
    if file_name in LOSSY_NAMES.values():
        return kind
    if kind == "lossy WebP":
        return kind if _webp_codec(readable) == b"VP8 " else ""
    if kind == "lossy JPEG XL":
        return _jpeg_xl_kind(readable)
    if kind == "AVIF":
        return "" if _avif_identity_matrix(readable) else kind
    return kind


def _webp_codec(path: str) -> bytes:
    """The name of a WebP file's first image chunk (``VP8 `` lossy, ``VP8L`` lossless; an animation's
    first frame's), b'' where there is none or the file cannot be read."""
    if not path:
        return b""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] != b"RIFF" or head[8:] != b"WEBP":
                return b""
            while len(chunk := f.read(8)) == 8:
                name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
                if name in (b"VP8 ", b"VP8L"):
                    return name
                f.seek(16 if name == b"ANMF" else size + size % 2, os.SEEK_CUR)  # a frame holds its chunks
    except OSError:
        pass
    return b""


def _avif_identity_matrix(path: str) -> bool:
    """Whether an AVIF file's colour properties (its ``colr`` box of type ``nclx``, among the first
    64 KiB) give the identity matrix, as lossless AVIF is written; False where the file cannot be read."""
    if not path:
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(65536)
    except OSError:
        return False
    at = head.find(b"colrnclx")
    return at >= 0 and head[at + 12:at + 14] == b"\x00\x00"


def _jpeg_xl_kind(path: str) -> str:
    """"recompressed JPEG" for a JPEG XL file holding a JPEG (a ``jbrd`` box), "lossy JPEG XL" for one coded in
    XYB (its image header's flag, after the fields before it), else '' (also where it cannot be read)."""
    if not path:
        return ""
    try:
        with open(path, "rb") as f:
            data = f.read(65536)
    except OSError:
        return ""
    stream, at = [], 0
    if data.startswith(b"\0\0\0\x0cJXL \r\n\x87\n"):  # a container: the codestream is in boxes
        while at + 8 <= len(data):
            size, kind = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8]
            start = at + (16 if size == 1 else 8)
            size = int.from_bytes(data[at + 8:at + 16], "big") if size == 1 else size
            end = len(data) if size == 0 else min(at + size, len(data))
            if kind == b"jbrd":
                return "recompressed JPEG"
            if kind in (b"jxlc", b"jxlp"):
                stream.append(data[start + (4 if kind == b"jxlp" else 0):end])
            if end <= at:
                break
            at = end
        data = b"".join(stream)
    if not data.startswith(b"\xff\x0a"):
        return ""
    bits, at = int.from_bytes(data[2:], "little"), 0

    def u(n: int) -> int:
        nonlocal at
        at += n
        return (bits >> (at - n)) & ((1 << n) - 1)

    def u32(*choices: tuple[int, int]) -> int:
        offset, n = choices[u(2)]
        return offset + u(n)

    def size() -> None:
        small = u(1)
        u(5) if small else u32((0, 9), (0, 13), (0, 18), (0, 30))
        if not u(3):
            u(5) if small else u32((0, 9), (0, 13), (0, 18), (0, 30))

    def bit_depth() -> None:
        if u(1):
            u32((32, 0), (16, 0), (24, 0), (1, 6))
            u(4)
        else:
            u32((8, 0), (10, 0), (12, 0), (1, 6))

    size()
    if u(1):  # all default: coded in XYB
        return "lossy JPEG XL"
    if u(1):  # extra fields: orientation, intrinsic size, preview, animation
        u(3)
        if u(1):
            size()
        if u(1):
            preview = ((16, 0), (32, 0), (1, 5), (33, 9)) if u(1) else ((1, 6), (65, 8), (321, 10), (1345, 12))
            u32(*preview)
            if not u(3):
                u32(*preview)
        if u(1):
            u32((100, 0), (1000, 0), (1, 10), (1, 30)), u32((1, 0), (1001, 0), (1, 8), (1, 10))
            u32((0, 0), (0, 3), (0, 16), (0, 32)), u(1)
    bit_depth()
    u(1)
    for _ in range(u32((0, 0), (1, 0), (2, 4), (1, 12))):  # extra channels
        if u(1):
            continue
        kind = u32((0, 0), (1, 0), (2, 4), (18, 6))
        bit_depth()
        u32((0, 0), (3, 0), (4, 0), (1, 3))
        u(8 * u32((0, 0), (0, 4), (16, 5), (48, 10)))
        u(1) if kind == 0 else u(64) if kind == 2 else u32((1, 0), (0, 2), (3, 4), (19, 8)) if kind == 5 else 0
    return "lossy JPEG XL" if at < len(data) * 8 - 16 and u(1) else ""


def from_lossy_file(file_name: str | None) -> bool:
    """Whether the image was opened from a file saved with lossy compression (:func:`lossy_kind`)."""
    return bool(lossy_kind(file_name))


def layer_file(layer_name: str | None) -> str:
    """The image file a layer is named after ('' if none): the layer of a file brought into another image
    (GIMP's Open as Layers or a drop, Krita's Import Layer) is named after that file, and a copy of it keeps
    the name with a word added ("photo.jpg copy", "photo.jpg ×2 (LIIF)")."""
    found = _NAMED_FILE.search(layer_name or "")
    return found.group(0) if found else ""


def origin(file_name: str | None, layer_name: str | None = None, shows: str | None = None) -> str:
    """The file a job on the layer ``layer_name`` of an image opened from ``file_name`` goes by: for a file
    layer, the file it shows (``shows``, its path: an absolute one is read, as :func:`lossy_kind` may); else the
    file the layer is named
    after (:func:`layer_file`), else the image's ('' for an image never saved). A photograph brought in from
    a JPEG file into a screenshot's image is still a JPEG photograph. A layer named after the image's own file
    (GIMP names an opened file's layer so) goes by that file's path, which may be read."""
    named = layer_file(layer_name)
    if named and named.lower() == _base_name(file_name).lower():
        named = ""
    return shows or named or file_name or ""


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
    return str(for_jpeg[0]) if for_jpeg and from_lossy_file(file_name) else None


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
    kind = lossy_kind(file_name)
    from_jpeg = bool(kind)
    if model == AUTO:
        if for_jpeg and from_jpeg:
            why = auto_jpeg.format(shown_name(name), kind=kind)
            lines.append(html.escape(why, quote=False))
        elif for_jpeg and name not in for_jpeg:
            why = auto_clean.format(shown_name(name), shown_name(for_jpeg[0]))
            lines.append(html.escape(why, quote=False))
        others = [n for n in layers if (f := layer_file(n)) and from_lossy_file(f) != from_jpeg]
        if for_jpeg and models and others:
            listed = ", ".join(others[:LAYERS_LISTED]) + (f" and {len(others) - LAYERS_LISTED} more"
                                                         if len(others) > LAYERS_LISTED else "")
            line = (LAYERS_CLEAN.format(shown_name(str(models[0])), listed) if from_jpeg
                    else LAYERS_JPEG.format(shown_name(str(for_jpeg[0])), listed))
            lines.append(html.escape(line, quote=False))
    elif for_jpeg and from_jpeg and name not in for_jpeg:
        lines.append(_hint(jpeg_hint, str(for_jpeg[0]), str(for_jpeg[0]), kind=kind))
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


def _hint(text: str, target: str, shown: str, kind: str = "") -> str:
    """``text`` with a link to the model ``target`` (shown as ``shown``) in place of its ``{}``, and the
    file's kind (:func:`lossy_kind`) in place of its ``{kind}``."""
    return html.escape(text, quote=False).format(_link(target, shown), kind=html.escape(kind, quote=False))


def _link(target: str, shown: str) -> str:
    """A link that chooses the model ``target``, showing the name ``shown`` (hyphens that do not break)."""
    return f'<a href="{html.escape(target)}">{html.escape(shown_name(shown))}</a>'
