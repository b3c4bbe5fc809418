"""The scripting API, and the three steps both it and the dialog use: prepare, compute, apply.

For Krita's Scripter and batch scripts (also under ``kritarunner``, without any window)::

    import liif_upscale
    doc = Krita.instance().activeDocument()
    layer = liif_upscale.upscale_node(doc, doc.activeNode(), scale=2.5)

The work is split so that the dialog can run the slow middle step in a thread while Krita stays
responsive; Krita's own API (``Document``, ``Node``) is only touched on the calling (GUI) thread:

1. :func:`prepare` (GUI thread): checks the request, plans sizes and positions, reads the pixels
   (and the selection's mask). Changes nothing.
2. :func:`compute` (any thread): converts the pixels and runs the worker. Changes nothing.
3. :func:`apply` (GUI thread): builds the new layer (or document). Only this step changes
   anything, and it fills the new layer before adding it, so a cancel or an error in steps 1-2
   leaves the document exactly as it was.

:func:`upscale_image` does the same for every paint layer of a document at once (:func:`prepare_image`
makes an :class:`ImageJob`, which :func:`compute` and :func:`apply` take as well): the result is a new
document, a copy of the image in which Krita scaled everything and LIIF redrew each paint layer
(and each file layer, made a paint layer: Krita does not scale a file layer with the image).

Undo: with ``output="layer"`` the upscale is two steps in Krita's history, "Scale Image" (every
layer resampled by Krita, the canvas enlarged) and "Add Layer" (the LIIF layer, already filled);
undo twice to get the original back. It is a single "Add Layer" step when the canvas keeps its
size. A source layer whose colour space differs from the image's adds a third, invisible step
before these (the new layer's conversion to that colour space, done before it is added). With
``output="document"`` the source document is not touched at all.
"""

from __future__ import annotations

import os
import tempfile
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from krita import InfoObject, Krita

from . import origin
from .geometry import GeometryError, Plan, Rect, Scale, Size, factor_label, outside, plan
from .liif_common.client import (
    LiifClientError,
    SandboxBlocked,
    WorkerCancelled,
    WorkerClient,
    WorkerCrashed,
    WorkerError,
    WorkerNotConfigured,
    WorkerTimeout,
)
from .liif_common.model_choice import AUTO
from .liif_common.time_left import view_count
from .pixels import (
    PixelFormat,
    UnsupportedColorSpace,
    apply_mask,
    from_worker,
    is_opaque_mask,
    pixel_format,
    to_rgba8,
    to_worker,
    worker_samples,
)

SCOPES = ("auto", "layer", "selection")
RESAMPLER = "Bicubic"  # what Krita scales the other layers with ("layer" output)

Progress = Callable[[float], None]  # fraction done, 0..1
Cancel = Callable[[], bool]


class UpscaleError(ValueError):
    """The request cannot be carried out as asked (nothing was changed); the message says why and what to do."""


@dataclass
class UpscaleJob:
    """A checked request with the source pixels already read: the input of :func:`compute` and :func:`apply`."""

    document: Any  # krita.Document
    node: Any  # krita.Node
    plan: Plan
    fmt: PixelFormat
    pixels: bytes  # Krita's bytes of plan.source
    mask: bytes | None  # the selection's mask over plan.source, one byte per pixel; None: fully selected
    output: str
    model: str | None
    device: str
    tile: int | None
    layer_name: str
    resampler: str = RESAMPLER
    self_ensemble: bool | int = False  # True: 8 views, or their count (time_left.view_count)
    linear_render: bool = False  # a linear layer's values are upscaled as stored, not in sRGB form
    source_file: str = ""  # the file model "auto" goes by: the layer's or the document's (origin.of_layer)

    @property
    def step_weights(self) -> tuple[int, ...]:
        """Relative work of each worker call: the colour, then the selection's mask if any (one pass, always)."""
        colour = view_count(self.self_ensemble)
        return (colour, 1) if self.mask is not None else (colour,)

    @property
    def work(self) -> int:
        """Relative work of the whole job: result pixels times passes."""
        return self.plan.target.width * self.plan.target.height * sum(self.step_weights)

    @property
    def description(self) -> str:
        """What the progress dialog says is being done."""
        target = self.plan.target
        return f"Upscaling {self.node.name()!r} to {target.width} x {target.height} px..."

    @property
    def outcome(self) -> str:
        """What the finished job made, for the message after it."""
        return f"new {'document' if self.output == 'document' else 'layer'} {self.layer_name!r}"


@dataclass
class ImageJob:
    """Every paint and file layer of a document, checked and read (one ``"layer"`` :class:`UpscaleJob` each): the input
    of :func:`compute` and :func:`apply` for :func:`upscale_image`."""

    document: Any  # krita.Document
    parts: list[UpscaleJob]  # in the order of the layer stack, bottom first
    title: str  # the new document's name

    @property
    def plan(self) -> Plan:
        """The first layer's plan: its ``canvas_size`` and ``factors`` are every layer's."""
        return self.parts[0].plan

    @property
    def output(self) -> str:
        return "document"

    @property
    def resampler(self) -> str:
        return self.parts[0].resampler

    @property
    def work(self) -> int:
        return sum(part.work for part in self.parts)

    @property
    def description(self) -> str:
        (width, height), name = self.plan.canvas_size, self.document.name() or "the image"
        count = len(self.parts)
        return f"Upscaling {count} layer{'s' * (count != 1)} of {name!r} to {width} x {height} px..."

    @property
    def outcome(self) -> str:
        return f"new document {self.title!r}"


# ------------------------------------------------------------------------------------------------ the worker

_client: WorkerClient | None = None
_client_lock = threading.Lock()


def shared_client() -> WorkerClient:
    """The worker client of this Krita session: started on first use, kept running (models stay loaded)."""
    global _client
    with _client_lock:
        if _client is None:
            _client = WorkerClient()
        return _client


def close_shared_client() -> None:
    """Stop the session's worker (Krita calls this on quit; the worker would also exit on its own)."""
    global _client
    with _client_lock:
        client, _client = _client, None
    if client is not None:
        client.close()


# ------------------------------------------------------------------------------------------------ the steps


def _rect(qrect: Any) -> Rect:
    return Rect(qrect.x(), qrect.y(), qrect.width(), qrect.height())


EFFECT_MASKS = ("transparencymask", "filtermask", "colorizemask", "transformmask")  # change how a layer shows


def layer_of(node: Any) -> Any:
    """The node a job upscales for the active node ``node``: for a mask (active while it is edited), the
    layer it belongs to; else ``node`` itself."""
    parent = node.parentNode() if node is not None and node.type().endswith("mask") else None
    return parent if parent is not None and parent.parentNode() is not None else node


def shows_masks(node: Any) -> bool:
    """Whether a visible mask changes how ``node`` shows (transparency, filter, colorize, transform;
    a local selection does not): its result is then made from the layer as it shows."""
    return any(child.type() in EFFECT_MASKS and child.visible() for child in node.childNodes())


def check_node(node: Any) -> PixelFormat:
    """The pixel format of ``node`` if it can be upscaled; else :class:`UpscaleError` saying why and what to do."""
    kind = node.type()
    if kind.endswith("mask") or node.parentNode() is None:
        raise UpscaleError(f"Select a layer to upscale; the active node is a {kind or 'root node'}, not a layer.")
    try:
        return pixel_format(node.colorModel(), node.colorDepth(), node.colorProfile())
    except UnsupportedColorSpace as exc:
        raise UpscaleError(str(exc)) from None


def prepare(document: Any, node: Any, scale: Scale | None = None, size: Size | None = None, output: str = "layer",
            model: str | None = AUTO, device: str = "auto", tile: int | None = None, scope: str = "auto",
            resampler: str = RESAMPLER, self_ensemble: bool | int = False, linear_render: bool = False,
            cache: dict[tuple[Any, ...], bytes] | None = None, as_shown: bool = True) -> UpscaleJob:
    """Check a request and read what it needs from ``document``; raises :class:`UpscaleError`. Changes nothing.

    A paint layer is read as it shows (``as_shown``: its masks applied, when it has any that change it),
    since its result goes above it or on its own; without ``as_shown``, its own pixels (for a layer
    redrawn in place, which keeps its masks).

    ``cache``: pixels read by earlier calls with the same dictionary, by node and rectangle, so that a
    dialog that asks again for another size reads a layer only once (a modal dialog's document cannot
    change meanwhile)."""
    if document is None or node is None:
        raise UpscaleError("Open an image and select the layer to upscale.")
    if scope not in SCOPES:
        raise UpscaleError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    _check_options(tile, self_ensemble, linear_render)
    node = layer_of(node)
    fmt = check_node(node)
    kind = node.type()
    document.waitForDone()  # pending strokes and projections first: read what the user sees
    canvas = Rect(0, 0, document.width(), document.height())
    selection = document.selection() if scope != "layer" else None
    if scope == "selection" and selection is None:
        raise UpscaleError("There is no selection: select an area first, or upscale the whole layer.")
    reference = canvas.intersected(_rect(selection)) if selection is not None else canvas
    if reference.is_empty():
        raise UpscaleError("The selection is empty (or outside the canvas); select an area first.")
    try:
        where = plan((canvas.width, canvas.height), reference, _rect(node.bounds()), scale, size, output)
    except GeometryError as exc:
        raise UpscaleError(f"{node.name()}: {_missing_file(document, node) or exc}") from None
    src = where.source
    # a paint layer's own pixels, unless masks change how it shows; any other layer as Krita composes it, for a
    # file layer redrawn in place without the masks it keeps (Krita holds no pixels of its own for it)
    masked = as_shown and shows_masks(node)
    if kind == "paintlayer" and not masked:
        read = node.pixelData
    elif masked or not shows_masks(node):
        read = node.projectionPixelData
    else:
        def read(*rect: int) -> bytes:
            return _without_masks(document, node, *rect)
    pixels = _read(cache, (node.uniqueId().toString(), masked, tuple(src)), lambda: read(src.x, src.y, src.width,
                                                                                          src.height))
    if len(pixels) != src.width * src.height * fmt.pixel_bytes:
        raise UpscaleError(f"Krita returned no pixels for the {kind} {node.name()!r}; convert it to a paint layer "
                           "(Layer > Convert > to Paint Layer) and try again.")
    mask = None
    if selection is not None:
        mask = _read(cache, ("selection", tuple(src)), lambda: selection.pixelData(src.x, src.y, src.width, src.height))
        if not mask.strip(b"\x00"):
            raise UpscaleError("The selected area of this layer is empty: nothing is selected where it has pixels.")
        if is_opaque_mask(mask):
            mask = None
    name = f"{node.name()} {factor_label(where.factors)} (LIIF)"
    return UpscaleJob(document, node, where, fmt, pixels, mask, output, model, device, tile, name, resampler,
                      self_ensemble, linear_render, origin.of_layer(document, node))


def _without_masks(document: Any, node: Any, x: int, y: int, width: int, height: int) -> bytes:
    """The pixels ``node`` shows with its masks hidden (a file layer: its file), read from a copy of ``document``:
    hiding them in the user's image would show on the canvas and count as a change to it."""
    copy = document.clone()
    if copy is None:
        raise UpscaleError("Krita could not copy the image (not enough memory?); nothing was changed.")
    copy.setBatchmode(True)
    twin = next(n for n in _descendants(copy.rootNode()) if n.uniqueId() == node.uniqueId())
    for mask in twin.childNodes():
        mask.setVisible(False)
    copy.refreshProjection()
    copy.waitForDone()
    return bytes(twin.projectionPixelData(x, y, width, height))


def _missing_file(document: Any, node: Any) -> str:
    """Why a file layer shows nothing when the file it shows is not there (moved, renamed, on a drive not
    connected); '' otherwise."""
    path = origin.shows(node, document)
    if not path or os.path.exists(path):
        return ""
    return (f"this file layer shows nothing: its file {path} was not found (moved or renamed?). Point the layer "
            "at it again in its Layer Properties and try again.")


def _read(cache: dict[tuple[Any, ...], bytes] | None, key: tuple[Any, ...], read: Callable[[], Any]) -> bytes:
    """``read()`` as bytes, or what ``cache`` holds for ``key`` (where it is then kept)."""
    if cache is None:
        return bytes(read())
    if key not in cache:
        cache[key] = bytes(read())
    return cache[key]


def _check_options(tile: int | None, self_ensemble: bool | int, linear_render: bool) -> None:
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 8):
        raise UpscaleError(f"tile must be a whole number of at least 8 pixels (or None for automatic), got {tile!r}")
    try:
        view_count(self_ensemble)
    except ValueError as exc:
        raise UpscaleError(str(exc)) from None
    if not isinstance(linear_render, bool):
        raise UpscaleError(f"linear_render must be True or False, got {linear_render!r}")


def _descendants(node: Any) -> list[Any]:
    """Every node below ``node``, depth first, each before its own children (bottom of the stack first)."""
    out = []
    for child in node.childNodes():
        out.append(child)
        out.extend(_descendants(child))
    return out


REDRAWN = ("paintlayer", "filelayer")  # the kinds of layer upscale_image has LIIF redraw


def redrawn_layers(document: Any) -> list[Any]:
    """The layers :func:`upscale_image` redraws: paint and file layers with pixels on the canvas, also in groups."""
    canvas = Rect(0, 0, document.width(), document.height())
    return [node for node in _descendants(document.rootNode())
            if node.type() in REDRAWN and not canvas.intersected(_rect(node.bounds())).is_empty()]


def prepare_image(document: Any, scale: Scale | None = None, size: Size | None = None, model: str | None = AUTO,
                  device: str = "auto", tile: int | None = None, resampler: str = RESAMPLER,
                  self_ensemble: bool | int = False, linear_render: bool = False,
                  cache: dict[tuple[Any, ...], bytes] | None = None) -> ImageJob:
    """Check a whole-image request and read the pixels of every paint and file layer; raises
    :class:`UpscaleError`. Changes nothing. ``cache`` as for :func:`prepare`.

    Paint and file layers (also inside groups, hidden or locked ones) are what LIIF redraws; an empty one, or
    one with no pixels on the canvas, is left to Krita's scaling like every other kind of node. An animated
    paint layer is refused: only one frame could be redrawn."""
    if document is None:
        raise UpscaleError("Open an image to upscale.")
    _check_options(tile, self_ensemble, linear_render)
    document.waitForDone()
    parts = []
    for node in redrawn_layers(document):
        if node.animated():
            raise UpscaleError(f"The layer {node.name()!r} is animated, and LIIF Upscale redraws one frame only. "
                               "Upscale a copy without animation, or its frames one by one as layers.")
        try:
            check_node(node)
        except UpscaleError as exc:
            raise UpscaleError(f"The layer {node.name()!r}: {exc}") from None
        parts.append(prepare(document, node, scale, size, "layer", model, device, tile, "layer", resampler,
                             self_ensemble, linear_render, cache, as_shown=False))  # it keeps its masks
    if not parts:
        raise UpscaleError("This image has no paint layer with pixels on the canvas, so there is nothing for LIIF "
                           "to redraw; use Image > Scale Image To New Size.")
    title = f"{document.name() or 'Untitled'} {factor_label(parts[0].plan.factors)} (LIIF)"
    return ImageJob(document, parts, title)


def compute(job: UpscaleJob | ImageJob, client: WorkerClient, progress: Progress | None = None,
            cancel: Cancel | None = None) -> bytes | list[bytes]:
    """Upscale the job's pixels with the worker; returns Krita's bytes for ``job.plan.target`` (for an
    :class:`ImageJob`, those of each part, in order). Any thread.

    Raises the client's exceptions (:class:`WorkerCancelled` when ``cancel()`` turned true).
    """
    if isinstance(job, ImageJob):
        results, done, total = [], 0, job.work
        for part in job.parts:
            step = None if progress is None else (
                lambda fraction, before=done, share=part.work: progress((before + share * fraction) / total))
            results.append(compute(part, client, step, cancel))
            done += part.work
        return results
    samples = _upscaled(job, client, progress, cancel)
    if cancel is not None and cancel():
        raise WorkerCancelled("Cancelled", "upscale cancelled")
    if progress is not None:
        progress(1.0)
    return from_worker(samples, job.fmt)


def estimate(job: UpscaleJob | ImageJob, client: WorkerClient, cancel: Cancel | None = None) -> float | None:
    """Seconds :func:`compute` would take, from the worker's plan of the job's own pixels (flat and
    transparent areas cost nothing) at the speed it measured on that device; ``None`` before a job
    has measured it. Any thread; changes nothing. Raises the client's exceptions."""
    if isinstance(job, ImageJob):
        seconds = [estimate(part, client, cancel) for part in job.parts]
        return None if None in seconds else sum(seconds)
    src, size = job.plan.source, job.plan.target_size
    options = {"size": size, "model": job.model, "device": job.device, "tile": job.tile, "cancel": cancel,
               "opened_from": job.source_file}
    data, shape, dtype = to_worker(job.pixels, src.width, src.height, job.fmt)
    seconds = client.estimate(data, shape, dtype, self_ensemble=job.self_ensemble,
                              linear=job.fmt.linear and not job.linear_render, **options)
    if seconds is None or job.mask is None:
        return seconds
    mask = client.estimate(job.mask, (src.height, src.width), "uint8", **options)
    return None if mask is None else seconds + mask


def preview(job: UpscaleJob, client: WorkerClient, window: Rect, cancel: Cancel | None = None) -> bytes:
    """One window of the job's result (``window`` in the coordinates of ``job.plan.target``), as
    8-bit R, G, B, A bytes for the screen (:func:`pixels.to_rgba8`). Any thread; changes nothing.

    The worker computes only that window, from the input pixels it depends on, so a preview of
    a long job takes seconds; it is the same as the window of the full result."""
    return to_rgba8(_upscaled(job, client, None, cancel, window), job.fmt.channels, job.fmt.linear)


def _upscaled(job: UpscaleJob, client: WorkerClient, progress: Progress | None, cancel: Cancel | None,
              window: Rect | None = None) -> array:
    """The worker's samples of the job's result (or of its ``window``), the selection's mask applied."""
    src, (width, height) = job.plan.source, job.plan.target_size
    options = {"size": (width, height), "model": job.model, "device": job.device, "tile": job.tile, "cancel": cancel,
               "opened_from": job.source_file,
               "region": None if window is None else (window.x, window.y, window.width, window.height)}
    weights = job.step_weights

    def step(index: int) -> Callable[[int, int], None] | None:
        if progress is None:
            return None
        before, share = sum(weights[:index]) / sum(weights), weights[index] / sum(weights)
        return lambda done, total: progress(before + share * (done / total if total else 1.0))

    data, shape, dtype = to_worker(job.pixels, src.width, src.height, job.fmt)
    out, out_shape, out_dtype = client.upscale(data, shape, dtype, progress=step(0),
                                               self_ensemble=job.self_ensemble,
                                               linear=job.fmt.linear and not job.linear_render, **options)
    expected = (height, width, job.fmt.channels) if window is None else (window.height, window.width,
                                                                          job.fmt.channels)
    if tuple(out_shape) != expected or out_dtype != dtype:  # e.g. a worker from before regions sends it all
        raise WorkerError("InternalError", f"the worker returned {out_shape} {out_dtype}, expected {expected} "
                          f"{dtype}; the plug-in and the worker differ in version: run install.py again")
    samples = worker_samples(out, out_dtype)
    del data, out
    if job.mask is not None:
        mask, _, _ = client.upscale(job.mask, (src.height, src.width), "uint8", progress=step(1), **options)
        apply_mask(samples, job.fmt.channels, mask)
    return samples


def _same_space(a: Any, b: Any) -> bool:
    return (a.colorModel(), a.colorDepth(), a.colorProfile()) == (b.colorModel(), b.colorDepth(), b.colorProfile())


def apply(job: UpscaleJob | ImageJob, pixels: bytes | list[bytes]) -> Any:
    """Put the computed pixels into a new layer above the source (or a new document); GUI thread.

    Returns the new ``Node`` ("layer" output) or the new ``Document`` ("document" output, and an :class:`ImageJob`).
    """
    if isinstance(job, ImageJob):
        return _apply_image(job, pixels)
    target = job.plan.target
    if job.output == "document":
        return _apply_document(job, pixels)
    doc, node = job.document, job.node
    if not any(d == doc for d in Krita.instance().documents()):
        raise UpscaleError("The image was closed while it was being upscaled; nothing was changed.")
    parent = node.parentNode()
    if parent is None:
        raise UpscaleError(f"The layer {node.name()!r} was removed while it was being upscaled; nothing was changed.")
    layer = doc.createNode(job.layer_name, "paintlayer")
    # a source in its own colour space (unlike the image's): the new layer gets that space before it is filled
    if not _same_space(layer, node) and not layer.setColorSpace(node.colorModel(), node.colorDepth(),
                                                                node.colorProfile()):
        raise UpscaleError(f"Krita could not create a layer in the colour space of {node.name()!r} "
                           f"({node.colorModel()}/{node.colorDepth()}, {node.colorProfile()}); convert the "
                           "layer to the image's colour space and try again. Nothing was changed.")
    layer.setPixelData(pixels, target.x, target.y, target.width, target.height)  # filled before it is added
    _copy_look(node, layer)
    new_w, new_h = job.plan.canvas_size
    if (new_w, new_h) != (doc.width(), doc.height()):
        doc.scaleImage(new_w, new_h, round(doc.xRes()), round(doc.yRes()), job.resampler)
        doc.waitForDone()
    if not parent.addChildNode(layer, node):
        raise UpscaleError(f"Krita refused to add the new layer next to {node.name()!r} (is its group locked?).")
    doc.setActiveNode(layer)
    doc.waitForDone()
    return layer


def _copy_look(source: Any, layer: Any) -> None:
    """Give the new layer ``source``'s opacity, blending mode and inherit alpha: with the source hidden, the
    image looks as it did, enlarged. Krita's scripting records each change as an undo step of its own, so
    only what differs is set, and before the image is scaled: two undo steps still give the image back
    (the ones below them change only the layer those two took away)."""
    if layer.opacity() != source.opacity():
        layer.setOpacity(source.opacity())
    if layer.blendingMode() != source.blendingMode():
        layer.setBlendingMode(source.blendingMode())
    if layer.inheritAlpha() != source.inheritAlpha():
        layer.setInheritAlpha(source.inheritAlpha())


def _apply_document(job: UpscaleJob, pixels: bytes) -> Any:
    krita, source, node, target = Krita.instance(), job.document, job.node, job.plan.target
    width, height = job.plan.canvas_size
    title = f"{source.name() or 'Untitled'} {factor_label(job.plan.factors)} (LIIF)"
    doc = krita.createDocument(width, height, title, node.colorModel(), node.colorDepth(), node.colorProfile(),
                               source.xRes())
    if doc is None:
        raise UpscaleError(f"Krita could not create a {width} x {height} document (not enough memory?).")
    doc.setBatchmode(source.batchmode() or not krita.windows())  # without windows (kritarunner) it must be
    layer = doc.createNode(job.layer_name, "paintlayer")
    layer.setPixelData(pixels, target.x, target.y, target.width, target.height)
    root = doc.rootNode()
    for child in root.childNodes():  # the white "Background" createDocument adds: transparency stays visible
        child.remove()
    root.addChildNode(layer, None)
    doc.setActiveNode(layer)
    doc.waitForDone()
    _show(doc)
    return doc


def _show(doc: Any) -> None:
    window = Krita.instance().activeWindow()
    if window is not None and not doc.batchmode():
        window.addView(doc)


def _apply_image(job: ImageJob, results: list[bytes]) -> Any:
    """A copy of the image, scaled by Krita, each paint layer replaced by its LIIF result: a new document.

    The copy is made and changed off the document list (``Document.clone``), then saved to a temporary
    ``.kra`` and opened from it, so that Krita manages it like any document and its undo history starts
    clean: an undo cannot take back Krita's scaling under the LIIF pixels."""
    krita, source = Krita.instance(), job.document
    if not any(d == source for d in krita.documents()):
        raise UpscaleError("The image was closed while it was being upscaled; nothing was changed.")
    copy = source.clone()
    if copy is None:
        raise UpscaleError("Krita could not copy the image (not enough memory?); nothing was changed.")
    copy.setBatchmode(True)
    copy.setName(job.title)
    nodes = {node.uniqueId(): node for node in _descendants(copy.rootNode())}
    for part in job.parts:  # a file layer keeps its file's size when Krita scales the image: LIIF redraws it
        node = nodes.get(part.node.uniqueId())
        if node is not None and node.type() == "filelayer":
            nodes[part.node.uniqueId()] = _as_paint_layer(copy, node, list(nodes.values()))
    width, height = job.plan.canvas_size
    copy.scaleImage(width, height, round(source.xRes()), round(source.yRes()), job.resampler)
    copy.waitForDone()
    canvas = Rect(0, 0, width, height)
    for part, pixels in zip(job.parts, results):
        node, target = nodes.get(part.node.uniqueId()), part.plan.target
        if node is None:
            raise UpscaleError(f"The layer {part.node.name()!r} was removed while the image was being upscaled; "
                               "nothing was changed.")
        # Krita's scaled pixels go, also its resampling's soft fringe around them; any off the canvas stay
        for rect in outside(canvas.intersected(_rect(node.bounds())), target):
            node.setPixelData(bytes(rect.width * rect.height * part.fmt.pixel_bytes), *rect)
        node.setPixelData(pixels, *target)
    copy.waitForDone()
    handle, path = tempfile.mkstemp(prefix="liif-upscale-", suffix=".kra")
    os.close(handle)
    try:
        if not copy.exportImage(path, InfoObject()):
            raise UpscaleError(f"Krita could not write the upscaled image to {path} (is the disk full?); nothing "
                               "was changed.")
        # the copy lives on until the new document is open: deleted just before, Krita 5.3.4 crashed in
        # openDocument (in the events it processes while loading) in 2 of 3 GUI runs; kept, in none of 6
        doc = krita.openDocument(path)
    finally:
        os.remove(path)
    if doc is None:
        raise UpscaleError(f"Krita could not open the upscaled image it wrote to {path}; nothing was changed.")
    doc.setBatchmode(source.batchmode() or not krita.windows())
    doc.setFileName("")  # no file yet: Save asks where, never over the temporary file
    doc.setModified(True)  # and closing it asks before the result is lost
    _show(doc)
    return doc


def _as_paint_layer(document: Any, layer: Any, others: list[Any]) -> Any:
    """Put an empty paint layer in the place of ``layer`` (a file layer), as Layer > Convert > to Paint Layer
    does: its name, look, locks, layer style and masks; its pixels come later. Clone layers of it (in
    ``others``) show the new layer where Krita lets a script say so (5.2 and later); Krita 5.1 turns them
    into paint layers holding what they showed when ``layer`` goes."""
    paint = document.createNode(layer.name(), "paintlayer")
    if not _same_space(paint, layer) and not paint.setColorSpace(layer.colorModel(), layer.colorDepth(),
                                                                  layer.colorProfile()):
        raise UpscaleError(f"Krita could not make a paint layer in the colour space of the file layer "
                           f"{layer.name()!r}; convert it to a paint layer and try again. Nothing was changed.")
    for prop in ("Opacity", "BlendingMode", "Visible", "InheritAlpha", "AlphaLocked", "ColorLabel", "Collapsed"):
        getattr(paint, f"set{prop}")(getattr(layer, prop[0].lower() + prop[1:])())
    if layer.layerStyleToAsl():
        paint.setLayerStyleFromAsl(layer.layerStyleToAsl())
    for mine, theirs in zip(paint.channels(), layer.channels()):
        mine.setVisible(theirs.visible())
    if not layer.parentNode().addChildNode(paint, layer):
        raise UpscaleError(f"Krita refused to put a paint layer in the place of the file layer {layer.name()!r} (is "
                           "its group locked?); convert it to a paint layer and try again. Nothing was changed.")
    for mask in layer.childNodes():  # bottom first, each put on top: their order stays
        mask.remove()
        paint.addChildNode(mask, None)
    for clone in others:
        shown = clone.sourceNode() if clone.type() == "clonelayer" and hasattr(clone, "setSourceNode") else None
        if shown is not None and shown.uniqueId() == layer.uniqueId():
            clone.setSourceNode(paint)
    layer.remove()
    paint.setLocked(layer.locked())
    return paint


def upscale_node(document: Any, node: Any, scale: Scale | None = None, size: Size | None = None,
                 output: str = "layer", model: str | None = AUTO, device: str = "auto", tile: int | None = None,
                 *, scope: str = "auto", resampler: str = RESAMPLER, self_ensemble: bool | int = False,
                 linear_render: bool = False, progress: Progress | None = None, cancel: Cancel | None = None,
                 client: WorkerClient | None = None) -> Any:
    """Upscale ``node`` of ``document`` with LIIF and return the new layer (or, with ``output="document"``, the new
    document). Blocks until done; works without a window (``kritarunner``).

    - ``scale``: a factor (``2.5``) or per-axis factors (``(3, 2)``), 1 or more; or ``size``: ``(width, height)``
      in pixels (one side may be None to keep the aspect ratio). They refer to the whole canvas, or to the
      selection's bounding box when a selection is upscaled.
    - ``output="layer"``: Krita scales the image (every layer, with ``resampler``) and the LIIF result is a new
      paint layer "<name> x2.50 (LIIF)" right above ``node``; ``"document"``: a new document holding just that
      layer, the source document untouched (the new one is shown when Krita has a window).
    - ``scope``: ``"auto"`` upscales the selection if there is one, else the layer; ``"layer"`` or
      ``"selection"`` force one. With a selection, its bounding box is upscaled and its (upscaled) mask becomes
      the new layer's transparency.
    - ``model``: ``"auto"`` (the default) takes the bundled model made for the file the document was opened
      from, or the file the layer is named after (as Import Layer names it): for a file saved with lossy
      compression (JPEG, HEIC, AVIF, lossy WebP, lossy JPEG XL) ``liif-edsr-jpeg`` (better from JPEG quality 95
      down), else the default model, which
      ``None`` or ``"default"`` names; or a bundled model's name, or a ``.safetensors``/``.pth`` path;
      ``device``: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``; ``tile``: tile size in pixels
      (None: chosen from free memory).
    - ``self_ensemble``: average 8 flipped and transposed passes of the model: better (measured +0.1-0.2 dB
      on photographs, +0.6-1.2 dB on UI images), 8 times slower; or the number of passes, 2 (the half turn
      added: half of that gain) or 4 (the rotations: 85-91% of it). The selection's mask is always one pass.
    - A layer whose profile stores linear light (Krita's default for 16-bit and float images) is upscaled in
      sRGB form, the form the model was trained on: best for photographs, screenshots and paintings (measured
      +1.4-1.5 dB on photographs, +6.8-11.4 dB on UI images reduced in sRGB form, docs/eval/linear_light.md).
      ``linear_render=True`` upscales its values as stored instead: best for a render made in linear light
      (measured +1.4-1.6 dB on photographs, +5.2-6.6 dB on UI images reduced in linear light). It changes
      nothing for other layers.
    - ``progress(fraction)`` is called as the work goes on; ``cancel()`` is polled, and when it returns true
      the job stops with :class:`WorkerCancelled` and nothing is changed.

    Raises :class:`UpscaleError` for a request that cannot work (nothing is changed), and the worker client's
    :class:`WorkerNotConfigured`, :class:`WorkerCrashed`, :class:`WorkerError`, :class:`WorkerCancelled`.
    """
    job = prepare(document, node, scale, size, output, model, device, tile, scope, resampler, self_ensemble,
                  linear_render)
    result = compute(job, client or shared_client(), progress, cancel)
    return apply(job, result)


def upscale_image(document: Any, scale: Scale | None = None, size: Size | None = None, model: str | None = AUTO,
                  device: str = "auto", tile: int | None = None, *, resampler: str = RESAMPLER,
                  self_ensemble: bool | int = False, linear_render: bool = False, progress: Progress | None = None,
                  cancel: Cancel | None = None, client: WorkerClient | None = None) -> Any:
    """Upscale the whole image, every paint layer with LIIF, and return the new document (``document`` is not
    touched). Blocks until done; works without a window (``kritarunner``).

    The new document is a copy of the image that Krita scaled (every layer, mask and vector shape, with
    ``resampler``), with each paint layer redrawn by LIIF from its own pixels: its name, place in the layer
    stack, opacity, blending mode, visibility, masks and colour space stay as they were. Paint layers inside
    groups count too. A file layer, which Krita would leave at its file's size, becomes a paint layer holding
    the LIIF result of the file it shows (what Layer > Convert > to Paint Layer keeps of it stays: name, look,
    masks). Other layers (vector, fill, filter, clone layers) keep Krita's scaling, which suits them, and
    groups show their upscaled children. It has no file yet (saving asks where).

    ``scale``/``size`` refer to the canvas; the other arguments mean what they mean for :func:`upscale_node`
    (``linear_render`` applies to each paint layer with a linear profile). The job takes as long as upscaling
    each paint layer on its own. Raises :class:`UpscaleError` (an animated paint layer, a CMYK one, no paint
    layer with pixels), and the worker client's exceptions; in every case nothing is changed.
    """
    job = prepare_image(document, scale, size, model, device, tile, resampler, self_ensemble, linear_render)
    result = compute(job, client or shared_client(), progress, cancel)
    return apply(job, result)


# ------------------------------------------------------------------------------------------------ messages


def explain(exc: BaseException) -> str:
    """A message for the user: what went wrong and what to do about it."""
    if isinstance(exc, SandboxBlocked):
        return f"{exc}\n\nNothing was changed."
    if isinstance(exc, WorkerNotConfigured):
        return (f"{exc}\n\nNothing was changed. install.py is in the LIIF Upscale folder (python3 install.py); "
                "once it has run, try again (Krita need not be restarted).")
    if isinstance(exc, WorkerCrashed):
        return (f"{exc}\n\nNothing was changed. Try again (the worker restarts). If it keeps happening, choose "
                "Device: CPU or a smaller tile size, and run install.py again to repair the installation.")
    if isinstance(exc, WorkerTimeout):
        return f"{exc}\n\nNothing was changed. Try a smaller scale or tile size."
    if isinstance(exc, WorkerError):
        hints = {"OutOfMemory": "Choose a smaller tile size (e.g. 256), Device: CPU, or a smaller scale.",
                 "MemoryLimitError": "Upscale a smaller area (select part of the layer) or choose a smaller scale.",
                 "ModelError": "Choose another model, or check the model file."}
        hint = hints.get(exc.type, "")
        return f"{exc.message}\n\nNothing was changed.{' ' + hint if hint else ''}"
    if isinstance(exc, (UpscaleError, LiifClientError)):
        return str(exc)
    return f"Unexpected error: {type(exc).__name__}: {exc}\n\nNothing was changed."
