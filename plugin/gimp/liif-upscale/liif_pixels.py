"""GIMP's pixels in and out for LIIF Upscale: a layer's region read through Gegl in the format the
worker gets (the selection's mask as alpha), a layer made from the worker's result, the layers a
whole-image output redraws, and the preview's pixels for the screen."""

from __future__ import annotations

import gi

gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
import liif_plan  # noqa: E402
from gi.repository import Gegl, Gimp  # noqa: E402
from liif_plan import PixelFormat, UserError  # noqa: E402


def drawable_format(image: Gimp.Image, drawable: Gimp.Drawable, alpha: bool, linear_render: bool) -> PixelFormat:
    return liif_plan.pixel_format(drawable.is_gray(), alpha, image.get_precision().value_nick, linear_render)


def read_region(image: Gimp.Image, drawable: Gimp.Drawable, fmt: PixelFormat, rect: tuple[int, int, int, int],
                masked: bool, layer_mask: Gimp.LayerMask | None = None) -> bytes:
    """The pixels of ``rect`` (drawable coordinates) in ``fmt``; with ``masked``, alpha times the selection,
    and with ``layer_mask``, alpha times that mask: the layer as it shows.

    The multiplications run in GEGL (``gegl:opacity`` with the mask as aux), so a large layer costs no
    Python loop. The selection lives in image coordinates, hence its translate; a layer mask in the
    layer's.
    """
    x, y, w, h = rect
    region = Gegl.Rectangle.new(x, y, w, h)
    if not masked and layer_mask is None:
        return bytes(drawable.get_buffer().get(region, 1.0, fmt.babl, Gegl.AbyssPolicy.NONE))
    _, ox, oy = drawable.get_offsets()
    Gegl.init(None)  # libgimp makes buffers without it, but GEGL's operations need it (idempotent)
    graph = Gegl.Node.new()
    node = graph.create_child("gegl:buffer-source")
    node.set_property("buffer", drawable.get_buffer())
    masks = [(layer_mask, 0, 0)] if layer_mask is not None else []
    if masked:
        masks.append((image.get_selection(), -ox, -oy))
    for channel, dx, dy in masks:
        mask = graph.create_child("gegl:buffer-source")
        mask.set_property("buffer", channel.get_buffer())
        shift = graph.create_child("gegl:translate")
        shift.set_property("x", float(dx))
        shift.set_property("y", float(dy))
        opacity = graph.create_child("gegl:opacity")
        node.link(opacity)
        mask.link(shift)
        shift.connect_to("output", opacity, "aux")
        node = opacity
    out = Gegl.Buffer.new(fmt.babl, x, y, w, h)
    sink = graph.create_child("gegl:write-buffer")
    sink.set_property("buffer", out)
    node.link(sink)
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


# the files a GIMP 3.2 link layer draws anew at any size (as GIMP opens them: rendered, not scaled pixels)
VECTOR_FILES = {"image/svg+xml", "application/pdf", "application/postscript", "image/x-eps"}


def _from_source(layer: Gimp.Layer) -> bool:
    """Whether GIMP 3.2 still draws ``layer`` from its source (a text, vector or link layer not rasterized);
    GIMP 3.0 has no such layers."""
    rasterized = getattr(layer, "is_rasterized", None)
    return rasterized is not None and not rasterized()


def drawn_by_gimp(layer: Gimp.Layer) -> bool:
    """Whether GIMP draws ``layer`` anew from its source when it scales the image, exact at any size: a vector
    layer (GIMP 3.2: from its path) or a link layer to a vector file (SVG, PDF), not rasterized. LIIF leaves
    these to GIMP: it could only do worse, and GIMP would draw them from their source again anyway (pixels
    written into them are gone once the image is saved and opened again)."""
    return _from_source(layer) and (layer.is_vector_layer()
                                    or (layer.is_link_layer() and layer.get_mime_type() in VECTOR_FILES))


def linked_pixels(layer: Gimp.Layer) -> bool:
    """Whether ``layer`` is a link layer to a raster file (GIMP 3.2), not rasterized: GIMP draws it from its
    file again when the image is opened, so LIIF's pixels stay only once it is rasterized."""
    return _from_source(layer) and layer.is_link_layer() and layer.get_mime_type() not in VECTOR_FILES


def _leaves(image: Gimp.Image, copy: Gimp.Image | None = None) -> list[tuple[Gimp.Layer, Gimp.Layer]]:
    """Every layer of ``image`` that is not a group (groups show their children), also in groups, paired with
    the layer at the same place in ``copy``, a duplicate of ``image`` (or with itself)."""
    found = []

    def walk(layers: list[Gimp.Layer], twins: list[Gimp.Layer]) -> None:
        if [layer.get_name() for layer in layers] != [twin.get_name() for twin in twins]:
            raise UserError("GIMP's copy of the image does not have the layers of the image.")
        for layer, twin in zip(layers, twins):
            if layer.is_group_layer():
                walk(layer.get_children(), twin.get_children())
            else:
                found.append((layer, twin))

    walk(image.get_layers(), (copy or image).get_layers())
    return found


def pixel_layers(image: Gimp.Image, copy: Gimp.Image | None = None) -> list[Gimp.Layer]:
    """The layers output "layers" redraws: every layer with pixels of its own, also in groups, but none GIMP
    draws anew when it scales (:func:`drawn_by_gimp`). Text layers count: GIMP's scaling turns them into scaled
    pixels (a text layer marked as modified, as Image > Scale Image leaves it), so LIIF redraws those pixels.
    With ``copy``, a duplicate of ``image``, the layers at the same places in it."""
    return [twin for layer, twin in _leaves(image, copy) if not drawn_by_gimp(layer)]


def gimp_drawn_layers(image: Gimp.Image) -> list[Gimp.Layer]:
    """The layers of ``image`` GIMP draws anew when it scales it (:func:`drawn_by_gimp`), which LIIF leaves."""
    return [layer for layer, _ in _leaves(image) if drawn_by_gimp(layer)]


def checked(result: bytes, shape: tuple[int, ...], dtype: str, fmt: PixelFormat, hw: tuple[int, int]) -> bytes:
    """``result`` if the worker's reply is ``hw`` pixels of ``fmt``, else :class:`UserError`."""
    expected = (*hw, fmt.channels)
    if tuple(shape) not in (expected, expected[:2]) or dtype != fmt.dtype:
        raise UserError(f"The worker returned {shape} {dtype}, expected {expected} {fmt.dtype}; "
                        "the plug-in and the worker are from different versions: run install.py again.")
    return result



def display_rgba(data: bytes, fmt: PixelFormat, w: int, h: int) -> bytes:
    """8-bit sRGB-encoded RGBA of ``w`` x ``h`` pixels in ``fmt``, for the screen (Babl converts;
    a linear render's values are encoded as the canvas shows them)."""
    Gegl.init(None)  # Babl's conversions need it (libgimp's own buffers do not); idempotent
    rect = Gegl.Rectangle.new(0, 0, w, h)
    buffer = Gegl.Buffer.new(fmt.babl, 0, 0, w, h)
    buffer.set(rect, fmt.babl, data)
    return bytes(buffer.get(rect, 1.0, "R'G'B'A u8", Gegl.AbyssPolicy.NONE))
