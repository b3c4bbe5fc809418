"""LIIF Upscale for Krita: enlarge a layer or a selection by any factor with a LIIF model.

Importing the package (Krita does, when the plug-in is enabled) registers the extension whose
action "LIIF Upscale..." sits in Filter > Enhance. Scripts use :func:`upscale_node`::

    from liif_upscale import upscale_node
    layer = upscale_node(doc, doc.activeNode(), scale=3)
    copy = upscale_image(doc, scale=3)  # every paint layer, into a new document

The heavy work runs in a separate process, ``python -m liif_core.worker`` from the project's own
environment (set up by install.py), reached through ``liif_common.client``; nothing here imports
torch or numpy, so it runs in any Krita's Python.
"""

from krita import Krita

from .api import (
    UpscaleError,
    close_shared_client,
    compute,
    prepare,
    prepare_image,
    shared_client,
    upscale_image,
    upscale_node,
)
from .extension import LiifUpscaleExtension
from .liif_common.client import (
    LiifClientError,
    WorkerCancelled,
    WorkerCrashed,
    WorkerError,
    WorkerNotConfigured,
    WorkerTimeout,
)

__all__ = [
    "LiifClientError",
    "LiifUpscaleExtension",
    "UpscaleError",
    "WorkerCancelled",
    "WorkerCrashed",
    "WorkerError",
    "WorkerNotConfigured",
    "WorkerTimeout",
    "close_shared_client",
    "compute",
    "prepare",
    "prepare_image",
    "shared_client",
    "upscale_image",
    "upscale_node",
]

Krita.instance().addExtension(LiifUpscaleExtension(Krita.instance()))
