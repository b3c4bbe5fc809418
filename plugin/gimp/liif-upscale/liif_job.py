"""One run of LIIF Upscale in GIMP: what is sent to the worker (the region, or every pixel layer of
the image), the worker calls with progress and the time left, and putting the results into the
image (a new layer, a new image, a copy with every layer redrawn, or the image itself), each in one
undo group. Nothing in an image changes before every result is here."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
import liif_plan  # noqa: E402
from gi.repository import Gegl, Gimp  # noqa: E402
from liif_common.client import WorkerClient  # noqa: E402
from liif_common.model_choice import JPEG_NAME_UNKNOWN, from_lossy_file, origin  # noqa: E402
from liif_common.time_left import TimeLeft, measured_speed  # noqa: E402
from liif_pixels import checked, drawable_format, gimp_drawn_layers, linked_pixels, new_layer, pixel_layers, read_region  # noqa: E402
from liif_plan import PixelFormat, UserError  # noqa: E402

PULSE_S = 0.25  # progress-bar pulse while the worker starts (importing torch takes seconds)
WHOLE_IMAGE = ("layers", "layers-in-place")  # the outputs that redraw every pixel layer of the image


class Piece(NamedTuple):
    """One worker call: ``data`` (little-endian, ``fmt``) of ``shape`` ``(w, h)``, upscaled to ``size``; model
    ``auto`` goes by the file ``opened_from`` (:meth:`Job.opened_from` of the piece's layer)."""

    data: bytes
    fmt: PixelFormat
    shape: tuple[int, int]
    size: tuple[int, int]
    opened_from: str


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
                                  cancel=cancel, **dict(options, opened_from=p.opened_from))
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
    for layer in layers:
        if linked_pixels(layer):  # a link layer holds LIIF's pixels only as a pixel layer (GIMP's undo step)
            layer.rasterize()
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


def source_file_name(image: Gimp.Image) -> str:
    """The file the image was opened or imported from ('' if none): model ``auto`` and the dialog's
    model note go by it. An image GIMP's JPEG loader made keeps that loader's settings (the persistent
    "jpeg-settings" parasite) when it is saved as XCF, while GIMP forgets the JPEG file's name: such an
    image counts as opened from a JPEG file (:data:`JPEG_NAME_UNKNOWN`) whatever its file is now."""
    name = ""
    for get in (image.get_imported_file, image.get_file):
        file = get()
        if file is not None and file.get_path():
            name = file.get_path()
            break
    if not from_lossy_file(name) and image.get_parasite("jpeg-settings") is not None:
        return JPEG_NAME_UNKNOWN
    return name


def copy_look(source: Gimp.Layer, layer: Gimp.Layer) -> None:
    """Give the result placed above ``source`` its opacity and layer mode (a group's pass-through, which a
    pixel layer cannot have, stays Normal): with the source hidden, the image looks as it did, enlarged."""
    layer.set_opacity(source.get_opacity())
    if source.get_mode() != Gimp.LayerMode.PASS_THROUGH:
        layer.set_mode(source.get_mode())
        layer.set_blend_space(source.get_blend_space())
        layer.set_composite_space(source.get_composite_space())
        layer.set_composite_mode(source.get_composite_mode())


class Job:
    """One run: the source region, the plan, the worker call, and placing the result."""

    def __init__(self, image: Gimp.Image, drawables: list[Gimp.Drawable], config: Gimp.ProcedureConfig):
        if len(drawables) == 1 and drawables[0].is_layer_mask():  # the mask being edited: its layer is meant
            drawables = [Gimp.Layer.from_mask(drawables[0])]
        if len(drawables) != 1 or not drawables[0].is_layer():
            raise UserError("Select exactly one layer to upscale (not a channel).")
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
    def shown_mask(self) -> Gimp.LayerMask | None:
        """The layer's mask, when GIMP applies it and the result is this layer's alone (not the whole image's,
        whose layers keep their masks): it becomes the result's transparency, so the result looks as the layer
        does (an unmasked copy above it would show what the mask hides). Asked each time: the dialog is not
        modal, so the mask may be added or switched off while it is open."""
        mask = None if self.whole else self.drawable.get_mask()
        return mask if mask is not None and self.drawable.get_apply_mask() else None

    @property
    def alpha(self) -> bool:
        return self.drawable.has_alpha() or self.masked or self.shown_mask is not None

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
        return self.read(self.drawable, self.fmt, self.rect, self.masked, self.shown_mask)

    def read(self, layer: Gimp.Layer, fmt: PixelFormat, rect: tuple[int, int, int, int], masked: bool,
             layer_mask: Gimp.LayerMask | None = None) -> bytes:
        """A layer's pixels in ``fmt`` (little-endian) inside ``rect`` (alpha times the selection when ``masked``,
        and times ``layer_mask``), read once per format and region (the dialog's preview and estimate share
        them) until :meth:`reread`."""
        key = (fmt, rect, masked, layer_mask is not None)
        cached = self._pixels.get(layer.get_id())
        if cached is None or cached[0] != key:
            data = liif_plan.to_little_endian(read_region(self.image, layer, fmt, rect, masked, layer_mask),
                                              fmt.itemsize)
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
            piece = Piece(self.source(), self.fmt, (w, h), size, self.opened_from(self.drawable))
            return [piece], [plan], [self.drawable]
        image, linear_render = self.image, bool(self.config.get_property("linear-render"))
        width, height = image.get_width(), image.get_height()
        new_w, new_h = self.size()
        layers = pixel_layers(image)
        if not layers:
            raise UserError("This image has no pixel layer for LIIF to redraw (GIMP draws vector layers anew at "
                            "any size); use Image > Scale Image.")
        pieces, plans = [], []
        for layer in layers:
            fmt = drawable_format(image, layer, layer.has_alpha(), linear_render)
            w, h = layer.get_width(), layer.get_height()
            _, x, y = layer.get_offsets()
            plan = liif_plan.scaled_item(width, height, new_w, new_h, x, y, w, h)
            pieces.append(Piece(self.read(layer, fmt, (0, 0, w, h), False), fmt, (w, h), (plan.width, plan.height),
                                self.opened_from(layer)))
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

    def summary(self, layers: list[Gimp.Layer] | None = None) -> str:
        """The dialog's line about the result (raises :class:`PlanError`); ``layers``: the pixel layers of the
        whole image (:func:`pixel_layers`), when the caller has them already."""
        ow, oh = self.size()
        if self.whole:
            layers = pixel_layers(self.image) if layers is None else layers
            count, linked = len(layers), sum(map(linked_pixels, layers))
            text = liif_plan.size_summary(self.image.get_width(), self.image.get_height(), ow, oh)
            where = " in place" if self.config.get_property("output") == "layers-in-place" else ""
            vector = len(gimp_drawn_layers(self.image))
            return (f"{text}, {count} layer{'s' * (count != 1)} redrawn{where}"
                    + (f" ({linked} link layer{'s' * (linked != 1)} rasterized)" if linked else "")
                    + (f", {vector} vector layer{'s' * (vector != 1)} drawn anew by GIMP" if vector else ""))
        _, _, w, h = self.rect
        return liif_plan.size_summary(w, h, ow, oh)

    @functools.cached_property
    def image_file(self) -> str:
        """The file the image came from (:func:`source_file_name`), asked once: a Save As while the dialog is
        open gives an XCF, which counts as before (GIMP keeps its JPEG loader's settings in it)."""
        return source_file_name(self.image)

    def opened_from(self, layer: Gimp.Layer) -> str:
        """The file model ``auto`` goes by for ``layer``: the file it is named after (a layer GIMP's Open as
        Layers brought in is named after its file), else the image's (:attr:`image_file`)."""
        return origin(self.image_file, layer.get_name())

    def options(self) -> dict[str, Any]:
        """The worker's options from the fields: model, device, tile, quality (the self-ensemble's passes),
        and the file model ``auto`` goes by for the selected layer (each :class:`Piece` has its own)."""
        c = self.config
        return {"model": (c.get_property("model") or "").strip() or None,
                "opened_from": self.opened_from(self.drawable), "device": c.get_property("device"),
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
        label = f"LIIF Upscale: {self.summary(layers)}"
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
                                                  progress=progress, cancel=poll,
                                                  **dict(options, opened_from=piece.opened_from))
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
            copy_look(source, layer)
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
