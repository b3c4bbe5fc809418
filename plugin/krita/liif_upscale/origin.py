"""The file a Krita document was opened from, as the automatic model choice needs it.

Krita knows only a document's current file: a photograph opened from a JPEG file and saved as
``.kra`` would no longer count as "opened from a JPEG file", and "Automatic" would give it the
default model, which sharpens JPEG artefacts. So when a document is opened from a file saved with lossy
compression (JPEG, HEIC, AVIF, lossy WebP, lossy JPEG XL: ``model_choice.lossy_kind``), the
plug-in notes that file's name in the document itself (a Krita annotation, saved inside the
``.kra``; the name only, not its folder, so a ``.kra`` passed on tells nothing of where it was made),
and the choice goes by the note first.

A layer brought in from another file (Layer > Import/Export > Import Layer) is named after that file,
and a job on it goes by that file (``model_choice.origin``); a file layer (Layer > New > File Layer,
named "File Layer 1" by Krita) goes by the file it shows.
"""

from __future__ import annotations

import os
from typing import Any

from .liif_common.model_choice import LOSSY_NAMES, from_lossy_file, origin

ANNOTATION = "liif-upscale-opened-from"
DESCRIPTION = ("LIIF Upscale: the name of the lossy file (JPEG, HEIC, AVIF, WebP or JPEG XL) this image was opened "
               "from (its model choice goes by it)")


def remember(document: Any) -> None:
    """Note in ``document`` the name of the file saved with lossy compression (JPEG, HEIC, AVIF, lossy WebP, lossy
    JPEG XL: ``model_choice.lossy_kind``) it was just opened from (nothing for any other file, or a document that has
    its note already). A note, not an edit: an untouched document stays
    untouched."""
    name = document.fileName() if document is not None else ""
    if not from_lossy_file(name) or not hasattr(document, "setAnnotation") or ANNOTATION in document.annotationTypes():
        return
    modified = document.modified()
    document.setAnnotation(ANNOTATION, DESCRIPTION, os.path.basename(name).encode("utf-8"))
    document.setModified(modified)


def opened_from(document: Any) -> str:
    """The file the model choice goes by: the lossy file ``document`` was first opened from (its name), if
    noted, else its current file ('' for a document never saved)."""
    if hasattr(document, "annotationTypes") and ANNOTATION in document.annotationTypes():
        noted = bytes(document.annotation(ANNOTATION)).decode("utf-8", "replace")
        if noted:  # only a lossy file is noted, and a WebP or JPEG XL file's name does not say it is one
            stand_in = LOSSY_NAMES.get(os.path.splitext(noted)[1].lower())
            return stand_in if stand_in and not from_lossy_file(noted) else noted
    return document.fileName() or ""


def shows(node: Any, document: Any) -> str:
    """The path of the file ``node`` of ``document`` shows, for a file layer ('' for any other node): a
    relative path is the document's folder's, as Krita keeps it."""
    path = str(node.path() or "") if node.type() == "filelayer" and hasattr(node, "path") else ""
    return os.path.join(os.path.dirname(document.fileName() or ""), path) if path else ""


def of_layer(document: Any, node: Any) -> str:
    """The file the model choice goes by for a job on ``node`` of ``document`` (:func:`of_node`)."""
    return of_node(document, opened_from(document), node)


def of_node(document: Any, document_file: str, node: Any) -> str:
    """The file the model choice goes by for a job on ``node`` of ``document``, which goes by ``document_file``
    (:func:`opened_from`, asked once by a dialog): the file a file layer shows, or the file the layer is named
    after, if it is; else ``document_file``."""
    return origin(document_file, node.name(), shows(node, document))
