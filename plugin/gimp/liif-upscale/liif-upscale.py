#!/usr/bin/env python3
"""LIIF Upscale for GIMP 3: Filters > Enhance > LIIF Upscale..., procedure ``python-fu-liif-upscale``.

GIMP's Python cannot import torch, so the pixels go to the project's worker process
(``python -m liif_core.worker``, started by ``liif_common.client.WorkerClient`` with the Python
that ``install.py`` recorded). This file is only the GIMP side: arguments and dialog, pixels in
and out through Gegl buffers in the drawable's own precision, progress, and putting the result
into the image in one undo group. The arithmetic (formats, sizes, GIMP's rounding) lives in
``liif_plan.py`` beside it, which has no GIMP dependency and is unit-tested on its own.

Order of work, so that nothing is half done: read the pixels, run the worker, and only when its
result is here touch an image. An error before that point leaves the image as it was; GIMP's
cancel kills this process, and the worker then exits by itself (it watches its parent and stdin).

Installed layout (``install.py``): ``<profile>/plug-ins/liif-upscale/liif-upscale.py`` with
``liif_plan.py`` and the shared client in ``liif_common/`` in the same folder.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

import gi  # noqa: E402

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
import liif_plan  # noqa: E402
from gi.repository import Gegl, Gimp, GLib, GObject  # noqa: E402
from liif_common.client import LiifClientError, WorkerCancelled, WorkerClient  # noqa: E402
from liif_common.preview import dragged_centre, preview_window  # noqa: E402
from liif_common.time_left import TimeLeft, format_seconds, measured_speed  # noqa: E402
from liif_plan import PixelFormat, PlanError  # noqa: E402

PROC_NAME = "python-fu-liif-upscale"
MENU_PATH = "<Image>/Filters/Enhance"
PULSE_S = 0.25  # progress-bar pulse while the worker starts (importing torch takes seconds)
PREVIEW_SIZE = (360, 240)  # the dialog's preview, in result pixels (shown at 100%)
WHOLE_IMAGE = ("layers", "layers-in-place")  # the outputs that redraw every pixel layer of the image
PREVIEW_DELAY_MS = 400  # after the last change, so typing a size does not start a job per key


class UserError(Exception):
    """A failure the user can fix; its message is the procedure's error message."""


# ----------------------------------------------------------------------------- registration


def _choice(*entries: tuple[str, str, str]) -> Gimp.Choice:
    choice = Gimp.Choice.new()
    for i, (nick, label, blurb) in enumerate(entries):
        choice.add(nick, i, label, blurb)
    return choice


def define_arguments(procedure: Gimp.Procedure) -> None:
    """The PDB arguments (also the dialog's fields, in this order) and the return value."""
    rw = GObject.ParamFlags.READWRITE
    procedure.add_double_argument(
        "scale", "Sc_ale", "Enlargement factor (at least 1); used when width and height are both 0",
        0.0, 64.0, 2.0, rw)
    procedure.add_int_argument(
        "width", "_Width", "Result width in pixels; 0 = from the scale (or from the height, keeping the aspect)",
        0, liif_plan.MAX_SIDE, 0, rw)
    procedure.add_int_argument(
        "height", "_Height", "Result height in pixels; 0 = from the scale (or from the width, keeping the aspect)",
        0, liif_plan.MAX_SIDE, 0, rw)
    procedure.add_choice_argument(
        "output", "O_utput", "Where the result goes",
        _choice(("layer", "New layer (enlarges the image)",
                 "Scale the image with GIMP's interpolation and add the result above the source layer"),
                ("image", "New image", "Open the result as a new image; the source image is not changed"),
                ("layers", "New image, every layer",
                 "A copy of the whole image, scaled with GIMP's interpolation, in which LIIF redraws every pixel "
                 "layer from its own pixels; the layer stack stays as it was and the source image is not "
                 "changed. Scale, width and height refer to the image; the selection plays no part"),
                ("layers-in-place", "This image, every layer",
                 "This image scaled with GIMP's interpolation, every pixel layer redrawn by LIIF from its own "
                 "pixels, in one undo step (Edit > Undo restores the image as it was). Scale, width and height "
                 "refer to the image; the selection is scaled with it and plays no other part")),
        "layer", rw)
    procedure.add_string_argument(
        "model", "_Model", "A bundled model's name ('default') or the path of a .safetensors or .pth file",
        "default", rw)
    procedure.add_choice_argument(
        "device", "_Device", "Where the model runs",
        _choice(("auto", "Automatic", "A GPU when there is one, else the CPU"),
                ("cpu", "CPU", "The processor"),
                ("cuda", "NVIDIA GPU (CUDA)", "The first CUDA device"),
                ("mps", "Apple GPU (MPS)", "Metal on Apple silicon")),
        "auto", rw)
    procedure.add_int_argument(
        "tile", "_Tile size", "Tile side in input pixels; 0 = automatic from the free memory (lower it if "
        "the GPU runs out of memory)", 0, 8192, 0, rw)
    procedure.add_choice_argument(
        "quality", "_Quality", "Passes of the model over turned and mirrored copies of the image, averaged "
        "(self-ensemble): cleaner edges and text, each pass taking as long as the first",
        _choice(("one-pass", "One pass", "The model once: the fastest"),
                ("two-passes", "2 passes: upright and upside down (2x slower)", "About half of the 8 passes' gain"),
                ("four-passes", "4 passes: every quarter turn (4x slower)", "85-91% of the 8 passes' gain"),
                ("eight-passes", "8 passes: also mirrored, the best (8x slower)",
                 "Measured +0.1-0.2 dB on photographs, +0.6-1.2 dB on UI images")),
        "one-pass", rw)
    procedure.add_boolean_argument(
        "linear-render", "L_inear render: upscale the values as stored", "For an image with linear-light "
        "precision that is a render made in linear light: upscale the stored values, not their perceptual "
        "(sRGB) form, which suits photographs, screenshots and drawings; no effect on other images", False, rw)
    procedure.add_boolean_aux_argument(
        "preview", "_Preview: part of the result at 100%", "Compute only part of the result (up to "
        f"{PREVIEW_SIZE[0]} x {PREVIEW_SIZE[1]} pixels, the middle at first; drag it to look elsewhere) and show "
        "it under the fields, so it takes seconds; it follows each change", False, rw)
    procedure.add_layer_return_value(
        "layer", "Layer", "The new layer (in the enlarged image, or in the new image)", False, rw)


class LiifUpscale(Gimp.PlugIn):
    """Registers ``python-fu-liif-upscale``."""

    def do_set_i18n(self, name: str) -> bool:
        return False

    def do_query_procedures(self) -> list[str]:
        return [PROC_NAME]

    def do_create_procedure(self, name: str) -> Gimp.Procedure:
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, run, None)
        procedure.set_image_types("RGB*, GRAY*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("LIIF _Upscale...")
        procedure.add_menu_path(MENU_PATH)
        procedure.set_documentation(
            "Enlarge a layer to any size with LIIF (AI upscaling)",
            "Upscales the selected layer (or the selection's bounding box, whose mask becomes the result's "
            "alpha) to any size with a Local Implicit Image Function model, keeping the layer's precision and "
            "transparency. Output 'layer' scales the image with GIMP's interpolation and puts the result above "
            "the source layer; output 'image' opens a new image; output 'layers' opens a copy of the whole "
            "image in which every pixel layer is redrawn; output 'layers-in-place' does that to the image itself, "
            "in one undo step. Needs the LIIF Upscale worker set up by install.py.",
            name)
        procedure.set_attribution("LIIF Upscale contributors", "LIIF Upscale contributors", "2026")
        define_arguments(procedure)
        return procedure


# ----------------------------------------------------------------------------- pixels


def drawable_format(image: Gimp.Image, drawable: Gimp.Drawable, alpha: bool, linear_render: bool) -> PixelFormat:
    return liif_plan.pixel_format(drawable.is_gray(), alpha, image.get_precision().value_nick, linear_render)


def read_region(image: Gimp.Image, drawable: Gimp.Drawable, fmt: PixelFormat, rect: tuple[int, int, int, int],
                masked: bool) -> bytes:
    """The pixels of ``rect`` (drawable coordinates) in ``fmt``; with ``masked``, alpha times the selection.

    The multiplication runs in GEGL (``gegl:opacity`` with the selection as aux), so a large layer
    costs no Python loop. The selection lives in image coordinates, hence the translate.
    """
    x, y, w, h = rect
    region = Gegl.Rectangle.new(x, y, w, h)
    if not masked:
        return bytes(drawable.get_buffer().get(region, 1.0, fmt.babl, Gegl.AbyssPolicy.NONE))
    _, ox, oy = drawable.get_offsets()
    Gegl.init(None)  # libgimp makes buffers without it, but GEGL's operations need it (idempotent)
    graph = Gegl.Node.new()
    source = graph.create_child("gegl:buffer-source")
    source.set_property("buffer", drawable.get_buffer())
    mask = graph.create_child("gegl:buffer-source")
    mask.set_property("buffer", image.get_selection().get_buffer())
    shift = graph.create_child("gegl:translate")
    shift.set_property("x", float(-ox))
    shift.set_property("y", float(-oy))
    opacity = graph.create_child("gegl:opacity")
    out = Gegl.Buffer.new(fmt.babl, x, y, w, h)
    sink = graph.create_child("gegl:write-buffer")
    sink.set_property("buffer", out)
    source.link(opacity)
    mask.link(shift)
    shift.connect_to("output", opacity, "aux")
    opacity.link(sink)
    sink.process()
    return bytes(out.get(region, 1.0, fmt.babl, Gegl.AbyssPolicy.NONE))


def layer_type(gray: bool, alpha: bool) -> Gimp.ImageType:
    if gray:
        return Gimp.ImageType.GRAYA_IMAGE if alpha else Gimp.ImageType.GRAY_IMAGE
    return Gimp.ImageType.RGBA_IMAGE if alpha else Gimp.ImageType.RGB_IMAGE


def new_layer(image: Gimp.Image, name: str, fmt: PixelFormat, gray: bool, alpha: bool, size: tuple[int, int],
              data: bytes) -> Gimp.Layer:
    """A layer of ``image`` (not yet inserted) holding ``data``."""
    w, h = size
    layer = Gimp.Layer.new(image, name, w, h, layer_type(gray, alpha), 100.0, Gimp.LayerMode.NORMAL)
    buffer = layer.get_buffer()
    buffer.set(Gegl.Rectangle.new(0, 0, w, h), fmt.babl, liif_plan.from_little_endian(data, fmt.itemsize))
    buffer.flush()
    return layer


def pixel_layers(image: Gimp.Image, copy: Gimp.Image | None = None) -> list[Gimp.Layer]:
    """The layers output "layers" redraws: every layer with pixels of its own, also in groups (not groups
    themselves, which show their children). Text layers count: GIMP's scaling turns them into scaled pixels
    (a text layer marked as modified, as Image > Scale Image leaves it), so LIIF redraws those pixels. With
    ``copy``, a duplicate of ``image``, the layers at the same places in it."""
    found = []

    def walk(layers: list[Gimp.Layer], twins: list[Gimp.Layer]) -> None:
        if [layer.get_name() for layer in layers] != [twin.get_name() for twin in twins]:
            raise UserError("GIMP's copy of the image does not have the layers of the image.")
        for layer, twin in zip(layers, twins):
            if layer.is_group_layer():
                walk(layer.get_children(), twin.get_children())
            else:
                found.append(twin)

    walk(image.get_layers(), (copy or image).get_layers())
    return found


def checked(result: bytes, shape: tuple[int, ...], dtype: str, fmt: PixelFormat, hw: tuple[int, int]) -> bytes:
    """``result`` if the worker's reply is ``hw`` pixels of ``fmt``, else :class:`UserError`."""
    expected = (*hw, fmt.channels)
    if tuple(shape) not in (expected, expected[:2]) or dtype != fmt.dtype:
        raise UserError(f"The worker returned {shape} {dtype}, expected {expected} {fmt.dtype}; "
                        "the plug-in and the worker are from different versions: run install.py again.")
    return result


# ----------------------------------------------------------------------------- the job


class Piece(NamedTuple):
    """One worker call: ``data`` (little-endian, ``fmt``) of ``shape`` ``(w, h)``, upscaled to ``size``."""

    data: bytes
    fmt: PixelFormat
    shape: tuple[int, int]
    size: tuple[int, int]


def job_seconds(client: WorkerClient, pieces: list[Piece], options: dict[str, Any],
                cancel: Callable[[], bool]) -> float | None:
    """Seconds the worker expects sending it ``pieces`` with ``options`` to take, from their pixels (flat
    areas cost nothing) and the speed an earlier job measured on that device (the worker keeps it on
    disk); ``None`` before such a job, without sending the pixels. ``cancel`` is also polled while the
    worker starts."""
    if not measured_speed(client.info(idle=cancel), options["device"]):
        return None
    total = 0.0
    for p in pieces:
        seconds = client.estimate(p.data, (p.shape[1], p.shape[0], p.fmt.channels), p.fmt.dtype, size=p.size,
                                  cancel=cancel, **options)
        if seconds is None:
            return None
        total += seconds
    return total


def redraw(image: Gimp.Image, layers: list[Gimp.Layer], pieces: list[Piece], plans: list[liif_plan.LayerPlan],
           results: list[bytes], size: tuple[int, int], undo: bool) -> None:
    """Scale ``image`` to ``size`` with GIMP, then write each LIIF result into its layer, where GIMP put
    the layer's scaled pixels. With ``undo`` (the image itself, in the caller's undo group), each write
    is an undo step of its own and updates the canvas, as plug-ins are meant to change pixels: through
    the shadow buffer. GIMP merges that only inside the selection, so a selection is set aside
    meanwhile and then restored."""
    if not image.scale(*size):
        raise UserError(f"GIMP could not scale the image to {size[0]} x {size[1]}.")
    for layer, plan in zip(layers, plans):
        _, x, y = layer.get_offsets()
        placed = (x, y, layer.get_width(), layer.get_height())
        if placed != (plan.x, plan.y, plan.width, plan.height):
            raise UserError(f"GIMP scaled the layer {layer.get_name()!r} to {placed}, not to {tuple(plan)[2:]} "
                            "as planned; please report this." + (" Edit > Undo restores the image." if undo else ""))
    selection = Gimp.Selection.save(image) if undo and not Gimp.Selection.is_empty(image) else None
    if selection is not None:
        Gimp.Selection.none(image)
    try:
        for layer, piece, plan, result in zip(layers, pieces, plans, results):
            rect = Gegl.Rectangle.new(0, 0, plan.width, plan.height)
            buffer = layer.get_shadow_buffer() if undo else layer.get_buffer()
            buffer.set(rect, piece.fmt.babl, liif_plan.from_little_endian(result, piece.fmt.itemsize))
            buffer.flush()
            if undo:
                layer.merge_shadow(True)
                layer.update(0, 0, plan.width, plan.height)
    finally:
        if selection is not None:
            image.select_item(Gimp.ChannelOps.REPLACE, selection)
            image.remove_channel(selection)


class Job:
    """One run: the source region, the plan, the worker call, and placing the result."""

    def __init__(self, image: Gimp.Image, drawables: list[Gimp.Drawable], config: Gimp.ProcedureConfig):
        if len(drawables) != 1 or not drawables[0].is_layer():
            raise UserError("Select exactly one layer to upscale (not a mask or a channel).")
        self.image = image
        self.drawable = drawable = drawables[0]
        self.config = config
        self.selected = not Gimp.Selection.is_empty(image)
        overlap, x, y, w, h = drawable.mask_intersect()
        self._region = (x, y, w, h) if overlap and w >= 1 and h >= 1 else None
        self.gray = drawable.is_gray()
        self._pixels: dict[int, tuple[tuple[Any, ...], bytes]] = {}  # layer id -> (what was read, its pixels)

    @property
    def whole(self) -> bool:
        """Output "layers" or "layers-in-place": the whole image, every pixel layer; the selection plays no part."""
        return self.config.get_property("output") in WHOLE_IMAGE

    @property
    def masked(self) -> bool:
        return self.selected and not self.whole

    @property
    def alpha(self) -> bool:
        return self.drawable.has_alpha() or self.masked

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """The part of the layer that is upscaled (layer coordinates): the selection's box, or the whole layer."""
        if self.whole or not self.selected:
            return (0, 0, self.drawable.get_width(), self.drawable.get_height())
        if self._region is None:
            raise UserError("The selection does not overlap the layer; select part of the layer, or nothing.")
        return self._region

    @property
    def image_xy(self) -> tuple[int, int]:
        _, ox, oy = self.drawable.get_offsets()
        x, y, _, _ = self.rect
        return ox + x, oy + y

    @property
    def fmt(self) -> PixelFormat:
        """How the pixels travel: the layer's, as the current *Linear render* choice reads them."""
        return drawable_format(self.image, self.drawable, self.alpha, bool(self.config.get_property("linear-render")))

    def source(self) -> bytes:
        """The region's pixels in :attr:`fmt`, little-endian."""
        return self.read(self.drawable, self.fmt, self.rect, self.masked)

    def read(self, layer: Gimp.Layer, fmt: PixelFormat, rect: tuple[int, int, int, int], masked: bool) -> bytes:
        """A layer's pixels in ``fmt`` (little-endian) inside ``rect``, read once per format and region (the
        dialog's preview and estimate share them) until :meth:`reread`."""
        key = (fmt, rect, masked)
        cached = self._pixels.get(layer.get_id())
        if cached is None or cached[0] != key:
            data = liif_plan.to_little_endian(read_region(self.image, layer, fmt, rect, masked), fmt.itemsize)
            self._pixels[layer.get_id()] = cached = (key, data)
        return cached[1]

    def reread(self) -> None:
        """Read the pixels again when next needed: GIMP's dialogs are not modal, so the image may have been
        painted on while the dialog was open."""
        self._pixels.clear()

    def pieces(self) -> tuple[list[Piece], list[liif_plan.LayerPlan | None], list[Gimp.Layer]]:
        """What the worker is sent (raises :class:`PlanError`, :class:`UserError`): the region, or for the
        whole image every pixel layer, each with its size and place in the result and the layer it came from."""
        if not self.whole:
            _, _, w, h = self.rect
            size, plan = self.target()
            return [Piece(self.source(), self.fmt, (w, h), size)], [plan], [self.drawable]
        image, linear_render = self.image, bool(self.config.get_property("linear-render"))
        width, height = image.get_width(), image.get_height()
        new_w, new_h = self.size()
        layers = pixel_layers(image)
        if not layers:
            raise UserError("This image has no pixel layer for LIIF to redraw; use Image > Scale Image.")
        pieces, plans = [], []
        for layer in layers:
            fmt = drawable_format(image, layer, layer.has_alpha(), linear_render)
            w, h = layer.get_width(), layer.get_height()
            _, x, y = layer.get_offsets()
            plan = liif_plan.scaled_item(width, height, new_w, new_h, x, y, w, h)
            pieces.append(Piece(self.read(layer, fmt, (0, 0, w, h), False), fmt, (w, h), (plan.width, plan.height)))
            plans.append(plan)
        return pieces, plans, layers

    def size(self) -> tuple[int, int]:
        """The requested result size of the region, or of the whole image (output "layers" or "layers-in-place"; raises
        :class:`PlanError`)."""
        c = self.config
        if self.whole:
            w, h = self.image.get_width(), self.image.get_height()
        else:
            _, _, w, h = self.rect
        return liif_plan.target_size(w, h, c.get_property("scale"), c.get_property("width"), c.get_property("height"))

    def target(self) -> tuple[tuple[int, int], liif_plan.LayerPlan | None]:
        """The result's size and, for output "layer", where it goes in the enlarged image (GIMP's
        rounding may change the size by a pixel); for the whole image, this layer's size and place
        in the scaled image; raises :class:`PlanError`."""
        _, _, w, h = self.rect
        ow, oh = self.size()
        output = self.config.get_property("output")
        if output == "image":
            return (ow, oh), None
        width, height = self.image.get_width(), self.image.get_height()
        if self.whole:
            plan = liif_plan.scaled_item(width, height, ow, oh, *self.image_xy, w, h)
        else:
            plan = liif_plan.layer_plan(width, height, *self.image_xy, w, h, ow, oh)
        return (plan.width, plan.height), plan

    def summary(self, count: int | None = None) -> str:
        """The dialog's line about the result (raises :class:`PlanError`); ``count``: the number of pixel
        layers the whole image has, when the caller has them already."""
        ow, oh = self.size()
        if self.whole:
            count = len(pixel_layers(self.image)) if count is None else count
            text = liif_plan.size_summary(self.image.get_width(), self.image.get_height(), ow, oh)
            where = " in place" if self.config.get_property("output") == "layers-in-place" else ""
            return f"{text}, {count} layer{'s' * (count != 1)} redrawn{where}"
        _, _, w, h = self.rect
        return liif_plan.size_summary(w, h, ow, oh)

    def options(self) -> dict[str, Any]:
        """The worker's options from the fields: model, device, tile, quality (the self-ensemble's passes)."""
        c = self.config
        return {"model": (c.get_property("model") or "").strip() or None, "device": c.get_property("device"),
                "tile": c.get_property("tile") or None, "self_ensemble": liif_plan.PASSES[c.get_property("quality")]}

    def run(self, client: WorkerClient) -> Gimp.Layer:
        if self.whole:
            return self.run_whole(client)
        c = self.config
        pieces, (plan,), _ = self.pieces()
        (w, h), (ow, oh) = pieces[0].shape, pieces[0].size
        label = f"LIIF Upscale: {liif_plan.size_summary(w, h, ow, oh)}"
        Gimp.progress_init(label)
        result = self.upscale(client, pieces, label)[0]
        name = liif_plan.layer_name(self.drawable.get_name(), c.get_property("scale"), c.get_property("width"),
                                    c.get_property("height"), ow, oh)
        layer = self.into_image(name, result, (ow, oh), plan) if plan else self.new_image(name, result, (ow, oh))
        Gimp.progress_update(1.0)
        Gimp.progress_end()
        return layer

    def run_whole(self, client: WorkerClient) -> Gimp.Layer:
        """Every pixel layer upscaled, then the image scaled by GIMP with each of them replaced: a copy of
        the image (output "layers"), or the image itself in one undo group ("layers-in-place"). Returns
        the selected layer's counterpart (or the first pixel layer's)."""
        image = self.image
        new_w, new_h = self.size()
        pieces, plans, layers = self.pieces()
        in_place = self.config.get_property("output") == "layers-in-place"
        locked = [layer.get_name() for layer in layers if layer.get_lock_content()]
        if in_place and locked:
            raise UserError(f"The pixels of the layer {locked[0]!r} are locked, so LIIF cannot redraw them in "
                            "place; unlock them (Layers dialog), or choose the output New image, every layer.")
        label = f"LIIF Upscale: {self.summary(len(layers))}"
        Gimp.progress_init(label)
        results = self.upscale(client, pieces, label)
        if in_place:
            image.undo_group_start()
            try:
                redraw(image, layers, pieces, plans, results, (new_w, new_h), undo=True)
            finally:
                image.undo_group_end()
            targets = layers
        else:
            copy = image.duplicate()
            copy.undo_disable()  # the copy's making is not something to undo
            try:
                targets = pixel_layers(image, copy)
                redraw(copy, targets, pieces, plans, results, (new_w, new_h), undo=False)
            except BaseException:
                copy.delete()
                raise
            copy.undo_enable()
        Gimp.progress_update(1.0)
        Gimp.progress_end()
        ids = [layer.get_id() for layer in layers]
        return targets[ids.index(self.drawable.get_id())] if self.drawable.get_id() in ids else targets[0]

    def upscale(self, client: WorkerClient, pieces: list[Piece], label: str) -> list[bytes]:
        """Send each piece to the worker; progress of them all into GIMP's bar (pulsing until the
        worker starts the job), the time left beside ``label``."""
        state = {"started": False, "pulse": 0.0, "text": ""}
        work = [piece.size[0] * piece.size[1] for piece in pieces]  # the decoder's share dominates
        total, before = sum(work), [0]

        def progress(done: int, of: int) -> None:
            state["started"] = True
            fraction = (before[0] + work[index] * (done / of if of else 1.0)) / total
            Gimp.progress_update(fraction)
            text = time_left.update(fraction)
            if text != state["text"]:
                state["text"] = text
                Gimp.progress_set_text(f"{label}, {text}" if text else label)

        def poll() -> bool:  # polled every 50 ms by the client while it waits
            now = time.monotonic()
            if not state["started"] and now - state["pulse"] >= PULSE_S:
                state["pulse"] = now
                Gimp.progress_pulse()
            return False  # GIMP cancels by killing this process; nothing to poll

        options = self.options()
        time_left = TimeLeft(estimate=job_seconds(client, pieces, options, poll))  # from the start
        results = []
        for index, piece in enumerate(pieces):
            (w, h), fmt = piece.shape, piece.fmt
            result, shape, dtype = client.upscale(piece.data, (h, w, fmt.channels), fmt.dtype, size=piece.size,
                                                  progress=progress, cancel=poll, **options)
            results.append(checked(result, shape, dtype, fmt, (piece.size[1], piece.size[0])))
            before[0] += work[index]
        return results

    def into_image(self, name: str, data: bytes, size: tuple[int, int], plan: liif_plan.LayerPlan) -> Gimp.Layer:
        """Output "layer": scale the image with GIMP, add the result above the source; one undo group."""
        image, source = self.image, self.drawable
        image.undo_group_start()
        try:
            layer = new_layer(image, name, self.fmt, self.gray, self.alpha, size, data)
            if not image.scale(plan.image_width, plan.image_height):
                raise UserError(f"GIMP could not scale the image to {plan.image_width} x {plan.image_height}.")
            image.insert_layer(layer, source.get_parent(), image.get_item_position(source))
            layer.set_offsets(plan.x, plan.y)
            image.set_selected_layers([layer])
        finally:
            image.undo_group_end()
        return layer

    def new_image(self, name: str, data: bytes, size: tuple[int, int]) -> Gimp.Layer:
        """Output "image": a new image holding only the result; the source image is not touched."""
        base = Gimp.ImageBaseType.GRAY if self.gray else Gimp.ImageBaseType.RGB
        image = Gimp.Image.new_with_precision(size[0], size[1], base, self.image.get_precision())
        image.undo_disable()  # its creation is not something to undo
        profile = self.image.get_color_profile()
        if profile is not None:
            image.set_color_profile(profile)
        layer = new_layer(image, name, self.fmt, self.gray, self.alpha, size, data)
        image.insert_layer(layer, None, 0)
        image.undo_enable()
        return layer


# ----------------------------------------------------------------------------- dialog


class WorkerRequest:
    """Something the dialog asks the worker a moment after the last change (so typing a size does not
    send a request per key), in a thread so that the dialog stays responsive: :meth:`start` in the
    subclass. A newer change cancels the running request and drops its answer."""

    def __init__(self) -> None:
        self.generation = 0  # bumped by every change: answers to older requests are dropped
        self.timer: int | None = None

    def stop(self) -> None:
        """No request pending, a running one cancelled."""
        self.generation += 1
        if self.timer is not None:
            GLib.source_remove(self.timer)
            self.timer = None

    def later(self) -> None:
        """Make the request after the delay, unless another change comes first."""
        self.stop()
        self.timer = GLib.timeout_add(PREVIEW_DELAY_MS, self.start)

    def start(self) -> bool:
        raise NotImplementedError


class Preview(WorkerRequest):
    """The dialog's view of part of the result at 100% (the middle at first; a drag moves it): the
    worker computes only that window (the same pixels as in the full result), in a thread, so the
    dialog stays responsive; a newer request cancels the running one."""

    def __init__(self, job: Job, client: WorkerClient, frame: Any, picture: Any, status: Any):
        super().__init__()
        self.job, self.client, self.frame, self.picture, self.status = job, client, frame, picture, status
        self.centre = (0.5, 0.5)  # of the window, in fractions of the result's width and height
        self.window: tuple[int, int, int, int] | None = None  # the last one asked for
        self.result_size = (0, 0)
        self.pressed: tuple[float, float] | None = None
        frame.connect("button-press-event", self.press)
        frame.connect("button-release-event", self.release)

    def press(self, _widget: Any, event: Any) -> bool:
        self.pressed = (event.x_root, event.y_root)
        return True

    def release(self, _widget: Any, event: Any) -> bool:
        """A drag moves the window over the result by as many pixels, then computes it."""
        if self.pressed is None or self.window is None:
            return True
        dx, dy = event.x_root - self.pressed[0], event.y_root - self.pressed[1]
        self.pressed = None
        if dx or dy:
            self.centre = dragged_centre(self.window, *self.result_size, dx, dy)
            self.generation += 1
            self.start()
        return True

    def changed(self) -> None:
        """The fields changed: compute again a moment after the last change (or hide the preview)."""
        shown = bool(self.job.config.get_property("preview"))
        self.frame.set_visible(shown)
        self.status.set_visible(shown)
        if shown:
            self.later()
        else:
            self.stop()

    def start(self) -> bool:
        """Read what the request needs here (GIMP's calls belong to this thread), then ask the worker."""
        self.timer = None
        job, generation = self.job, self.generation
        try:
            (ow, oh), _ = job.target()
            data, fmt, options = job.source(), job.fmt, job.options()
        except (PlanError, UserError) as exc:
            self.status.set_text(f"No preview: {exc}")
            return False
        window = preview_window(ow, oh, PREVIEW_SIZE, self.centre)
        self.window, self.result_size = window, (ow, oh)
        self.status.set_text("Computing the preview...")
        _, _, w, h = job.rect

        def compute() -> None:
            t0 = time.monotonic()
            try:
                result, shape, dtype = self.client.upscale(
                    data, (h, w, fmt.channels), fmt.dtype, size=(ow, oh), region=window,
                    cancel=lambda: generation != self.generation, **options)
                result = checked(result, shape, dtype, fmt, (window[3], window[2]))  # no GIMP calls here
                GLib.idle_add(self.show, generation, result, fmt, window, time.monotonic() - t0)
            except WorkerCancelled:
                pass
            except Exception as exc:  # noqa: BLE001  (shown under the preview)
                GLib.idle_add(self.failed, generation, exc)

        threading.Thread(target=compute, name="liif-upscale-preview", daemon=True).start()
        return False

    def show(self, generation: int, result: bytes, fmt: PixelFormat, window: tuple[int, int, int, int],
             seconds: float) -> bool:
        """Show a computed window (main loop), unless a newer request superseded it."""
        if generation == self.generation:
            gi.require_version("GdkPixbuf", "2.0")
            from gi.repository import GdkPixbuf

            x, y, w, h = window
            rgba = display_rgba(liif_plan.from_little_endian(result, fmt.itemsize), fmt, w, h)
            self.picture.set_from_pixbuf(GdkPixbuf.Pixbuf.new_from_bytes(
                GLib.Bytes.new(rgba), GdkPixbuf.Colorspace.RGB, True, 8, w, h, 4 * w))
            self.status.set_text(f"{w} x {h} pixels of the result at 100%, from x {x}, y {y} ({seconds:.1f} s). "
                                 "Drag it to look elsewhere.")
        return False

    def failed(self, generation: int, exc: Exception) -> bool:
        """Say under the preview why there is none (main loop)."""
        if generation == self.generation:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            self.status.set_text(f"No preview: {first}")
        return False


class Estimate(WorkerRequest):
    """The time the job as chosen will take, for the dialog's Result line: the worker's estimate from
    the job's pixels, asked in a thread a moment after the last change (a newer change cancels it);
    none before a job measured the speed of the chosen device."""

    def __init__(self, job: Job, client: WorkerClient, show: Callable[[], None]):
        super().__init__()
        self.job, self.client, self.show = job, client, show  # show(): redraw the Result line
        self.seconds: float | None = None  # for the choices as they are

    def changed(self) -> None:
        self.seconds = None
        self.later()

    def start(self) -> bool:
        """Read what the request needs here (GIMP's calls belong to this thread), then ask the worker."""
        self.timer = None
        generation = self.generation
        try:
            pieces, _, _ = self.job.pieces()
            options = self.job.options()
        except (PlanError, UserError):  # the Result line says why
            return False

        def compute() -> None:
            try:
                seconds = job_seconds(self.client, pieces, options, lambda: generation != self.generation)
            except Exception:  # noqa: BLE001  (cancelled, or a worker error that OK reports): no time shown
                return
            if seconds is not None:
                GLib.idle_add(self.arrived, generation, seconds)

        threading.Thread(target=compute, name="liif-upscale-estimate", daemon=True).start()
        return False

    def arrived(self, generation: int, seconds: float) -> bool:
        """Show an answer (main loop), unless a newer change superseded it."""
        if generation == self.generation:
            self.seconds = seconds
            self.show()
        return False


def display_rgba(data: bytes, fmt: PixelFormat, w: int, h: int) -> bytes:
    """8-bit sRGB-encoded RGBA of ``w`` x ``h`` pixels in ``fmt``, for the screen (Babl converts;
    a linear render's values are encoded as the canvas shows them)."""
    Gegl.init(None)  # Babl's conversions need it (libgimp's own buffers do not); idempotent
    rect = Gegl.Rectangle.new(0, 0, w, h)
    buffer = Gegl.Buffer.new(fmt.babl, 0, 0, w, h)
    buffer.set(rect, fmt.babl, data)
    return bytes(buffer.get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE))


def run_dialog(procedure: Gimp.Procedure, config: Gimp.ProcedureConfig, job: Job, client: WorkerClient) -> bool:
    """The procedure dialog (fields from the arguments, the resulting size, the preview); True on OK."""
    gi.require_version("GimpUi", "3.0")
    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk, GimpUi, Gtk

    GimpUi.init(PROC_NAME)
    dialog = GimpUi.ProcedureDialog.new(procedure, config, "LIIF Upscale")
    label = dialog.get_label("result-size", "", False, False)
    picture, status, frame = Gtk.Image(), Gtk.Label(xalign=0.0), Gtk.EventBox()
    frame.add(picture)
    frame.add_events(Gdk.EventMask.BUTTON_PRESS_MASK | Gdk.EventMask.BUTTON_RELEASE_MASK)
    frame.set_size_request(*PREVIEW_SIZE)
    status.set_line_wrap(True)
    preview = Preview(job, client, frame, picture, status)

    def show_size(*_args: Any) -> None:
        try:
            text = f"Result: {job.summary()}"
        except (PlanError, UserError) as exc:
            text = str(exc)
        else:
            if estimate.seconds is not None:
                text += f"; {format_seconds(estimate.seconds)}"
        label.set_text(text)

    estimate = Estimate(job, client, show_size)

    def changed(*_args: Any) -> None:
        estimate.changed()
        show_size()
        preview.changed()

    config.connect("notify", changed)
    show_size()
    dialog.fill(["scale", "width", "height", "result-size", "output", "model", "device", "quality",
                 "linear-render", "tile", "preview"])
    area = dialog.get_content_area()
    area.pack_start(frame, False, False, 0)
    area.pack_start(status, False, False, 0)
    dialog.show_all()
    preview.changed()  # hides the preview, or starts it when it was on last time
    estimate.changed()  # the time, once a job measured the speed
    ok = dialog.run()
    preview.stop()  # the job is next, or nothing
    estimate.stop()
    dialog.destroy()
    return ok


# ----------------------------------------------------------------------------- entry point


def failure(procedure: Gimp.Procedure, status: Gimp.PDBStatusType, message: str) -> Gimp.ValueArray:
    return procedure.new_return_values(status, GLib.Error(message))


def run(procedure: Gimp.Procedure, run_mode: Gimp.RunMode, image: Gimp.Image, drawables: list[Gimp.Drawable],
        config: Gimp.ProcedureConfig, data: Any) -> Gimp.ValueArray:
    """The procedure: validate, ask (interactive only), upscale, place; errors become a PDB error status."""
    try:
        job = Job(image, list(drawables), config)
        with WorkerClient() as client:  # started by the first request: the preview's, or the job's
            if run_mode == Gimp.RunMode.INTERACTIVE:
                if not run_dialog(procedure, config, job, client):
                    return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())
                job.reread()
            try:
                job.size()
            except PlanError as exc:
                return failure(procedure, Gimp.PDBStatusType.CALLING_ERROR, f"LIIF Upscale: {exc}")
            layer = job.run(client)
        if run_mode == Gimp.RunMode.INTERACTIVE and layer.get_image().get_id() != image.get_id():
            Gimp.Display.new(layer.get_image())
        Gimp.displays_flush()
    except WorkerCancelled:
        return failure(procedure, Gimp.PDBStatusType.CANCEL, "LIIF Upscale was cancelled.")
    except (UserError, PlanError, LiifClientError) as exc:
        return failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR, f"LIIF Upscale: {exc}")
    except Exception:  # noqa: BLE001  (a bug: report it rather than crash the plug-in)
        return failure(procedure, Gimp.PDBStatusType.EXECUTION_ERROR,
                       "LIIF Upscale failed unexpectedly; please report this:\n" + traceback.format_exc())
    values = procedure.new_return_values(Gimp.PDBStatusType.SUCCESS, GLib.Error())
    values.remove(1)
    values.insert(1, GObject.Value(Gimp.Layer, layer))
    return values


if __name__ == "__main__":
    Gimp.main(LiifUpscale.__gtype__, sys.argv)
