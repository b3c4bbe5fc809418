"""Files of more than 8 bits per sample that Pillow cannot read or write as stored: 16-bit and
float TIFFs (Pillow reads a 16-bit colour TIFF as 8 bits and cannot open a float colour one),
16-bit PPM and PGM (what ``dcraw -4`` pipes out; Pillow reads a 16-bit PPM as 8 bits), OpenEXR
(``.exr``, what Krita, Blender and compositors write for HDR work) and Radiance RGBE (``.hdr``,
the HDRI environment maps of 3D work).

``tifffile`` reads and writes TIFFs whatever their compression (``imagecodecs`` decodes LZW);
``OpenEXR`` and ``imagecodecs`` the HDR formats. OpenEXR and Radiance values are linear light by
convention and may exceed 1; they pass as they are (the engine keeps colour beyond 0..1,
``liif_core.pixels.beyond_range``). :mod:`liif_core.imageio` calls these; use its functions.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from tifffile import TiffFileError

from liif_core.errors import InputError

__all__ = ["TiffFileError", "read_exr", "read_pnm", "read_radiance", "read_tiff", "sniff", "tiff_metadata",
           "unpremultiply", "write_exr", "write_radiance", "write_tiff"]

TIFF_MAGIC = (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")  # classic and BigTIFF, either byte order
ICC_TAG, X_RESOLUTION, Y_RESOLUTION, RESOLUTION_UNIT = 34675, 282, 283, 296  # TIFF tags
# NewSubfileType's bit for a reduced-resolution copy of another image: the thumbnail GIMP 3.2 adds to the TIFFs
# it exports (a second directory, 256 px JPEG), which is no picture of its own
REDUCED = 1
PNM_MAGIC = (b"P5", b"P6")  # binary PGM and PPM
EXR_MAGIC = b"v/1\x01"
RADIANCE_MAGIC = (b"#?RADIANCE", b"#?RGBE")
# Header attributes that describe the file's layout, not the picture: written anew for the result (the
# windows too, scaled: :func:`write_exr`)
EXR_LAYOUT = frozenset({"channels", "type", "tiles", "chunkCount", "lineOrder", "name", "version", "preview",
                        "view", "multiView"})
LOSSLESS = ("NO_COMPRESSION", "RLE_COMPRESSION", "ZIPS_COMPRESSION", "ZIP_COMPRESSION", "PIZ_COMPRESSION")
# tifffile logs what it finds wrong in a file before raising; the error says it, once, as ours
logging.getLogger("tifffile").addHandler(logging.NullHandler())


def sniff(head: bytes) -> str | None:
    """``".tif"``, ``".exr"`` or ``".hdr"`` for the first bytes of such a file, else ``None``."""
    if head[:4] in TIFF_MAGIC:
        return ".tif"
    if head.startswith(EXR_MAGIC):
        return ".exr"
    if head.startswith(RADIANCE_MAGIC):
        return ".hdr"
    return None


def read_tiff(path: Path) -> np.ndarray | None:
    """A TIFF file (one :func:`sniff` calls so) that is grey or RGB with more than 8 bits per
    sample as ``uint16``, ``float32`` or ``float16`` (H, W, planes: colour, then alpha); ``None``
    for any other TIFF, which Pillow reads.

    Premultiplied alpha is undone (colour as :func:`read_image` gives it is straight); extra samples
    that are not alpha are left out; integer samples of other depths (10, 12, 32 bits) are scaled to
    16 bits.
    """
    try:
        return _read_tiff(path)
    except (TiffFileError, IndexError, KeyError, ValueError, TypeError, RuntimeError) as e:  # a damaged file
        raise InputError(f"{path}: cannot read this TIFF ({e or type(e).__name__})") from None


def _read_tiff(path: Path) -> np.ndarray | None:
    """:func:`read_tiff`, its errors as tifffile raises them."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[0]
        photometric = int(page.photometric)
        if page.bitspersample <= 8 or photometric not in (0, 1, 2) or page.sampleformat not in (1, 3):
            return None  # 8-bit, palette, CMYK, YCbCr, signed: Pillow's
        pages = sum(1 for each in tif.pages if not each.subfiletype & REDUCED)  # a thumbnail is no page
        if pages > 1:
            warnings.warn(f"{path}: has {pages} pages; only the first is upscaled", stacklevel=4)
        arr = page.asarray()
        arr = arr[..., None] if "S" not in page.axes else np.moveaxis(arr, page.axes.index("S"), -1)
        colour = 3 if photometric == 2 else 1
        alpha = page.extrasamples[0] if page.extrasamples else 0  # 1: premultiplied, 2: straight
        arr = arr[..., :colour + (alpha in (1, 2))]
        if photometric == 0:  # white is zero
            arr = arr.copy()
            arr[..., 0] = (1 - arr[..., 0]) if arr.dtype.kind == "f" else np.iinfo(arr.dtype).max - arr[..., 0]
    if arr.dtype.kind == "f" and arr.dtype != np.float16:  # half floats: the caller notes them
        arr = arr.astype(np.float32)
    elif arr.dtype.kind != "f" and arr.dtype != np.uint16:
        arr = _to_16_bits(arr, 2 ** page.bitspersample - 1)
    if alpha == 1:
        arr = unpremultiply(arr)
    return np.ascontiguousarray(arr)


def read_pnm(path: Path) -> np.ndarray | None:
    """A binary PGM or PPM (a file that starts with :data:`PNM_MAGIC`) of more than 8 bits (maximum
    value above 255) as ``uint16`` (H, W, 1 or 3), its values scaled to 0..65535 from its maximum
    (a 12-bit 4095 becomes 65535); ``None`` for one of 8 bits, which Pillow reads."""
    with open(path, "rb") as f:
        data = f.read(512)
        tokens, i = [], 2
        while len(tokens) < 3:  # width, height, maximum: whitespace and # comments between them
            while i < len(data) and data[i:i + 1].isspace():
                i += 1
            if data[i:i + 1] == b"#":
                i = data.find(b"\n", i) + 1 or len(data)
                continue
            start = i
            while i < len(data) and data[i:i + 1].isdigit():
                i += 1
            if i == start:
                raise InputError(f"{path}: cannot read this PNM header")
            tokens.append(int(data[start:i]))
        width, height, top = tokens
        if top <= 255:
            return None
        channels = 3 if data[:2] == b"P6" else 1
        f.seek(i + 1)  # one whitespace character ends the header
        samples = np.fromfile(f, dtype=">u2", count=width * height * channels)
    if samples.size != width * height * channels:
        raise InputError(f"{path}: ends before its {width}x{height} pixels")
    return _to_16_bits(samples.reshape(height, width, channels), top)


def _to_16_bits(arr: np.ndarray, top: int) -> np.ndarray:
    """Integer samples whose largest value is ``top`` as ``uint16`` samples whose largest is 65535."""
    if top == 65535:
        return arr.astype(np.uint16)
    return np.round(arr * (65535 / top)).clip(0, 65535).astype(np.uint16)


def unpremultiply(arr: np.ndarray) -> np.ndarray:
    """Straight colour from colour multiplied by the alpha in the last plane (TIFF's associated
    alpha, OpenEXR's always), left as it is where the alpha is zero."""
    top = 1.0 if arr.dtype.kind == "f" else float(np.iinfo(arr.dtype).max)
    alpha = arr[..., -1:].astype(np.float64) / top
    colour = np.where(alpha > 0, arr[..., :-1] / np.maximum(alpha, 1e-12), arr[..., :-1])
    if arr.dtype.kind != "f":
        colour = np.round(colour.clip(0, top))
    return np.concatenate([colour.astype(arr.dtype), arr[..., -1:]], axis=-1)


def tiff_metadata(path: Path) -> tuple[dict[int, Any], bytes | None, tuple[float, float] | None]:
    """The tags of a TIFF's first directory (which Pillow calls its EXIF), its colour profile and
    print resolution in dots per inch: for a TIFF that Pillow cannot open."""
    with tifffile.TiffFile(path) as tif:
        tags = {tag.code: tag.value for tag in tif.pages[0].tags}
    icc = tags.get(ICC_TAG)
    dpi = None
    if X_RESOLUTION in tags and Y_RESOLUTION in tags and tags.get(RESOLUTION_UNIT, 2) in (2, 3):
        per_inch = 2.54 if tags.get(RESOLUTION_UNIT, 2) == 3 else 1.0
        dpi = tuple(n / d * per_inch if d else 0.0 for n, d in (tags[X_RESOLUTION], tags[Y_RESOLUTION]))
    return tags, bytes(icc) if icc else None, dpi


def write_tiff(path: Path, arr: np.ndarray, icc_profile: bytes | None, dpi: tuple[float, float] | None,
               tags: dict[int, Any]) -> None:
    """A 16-bit or float (full or half) TIFF, Deflate with a predictor as every editor reads, with
    straight alpha, the colour profile, print resolution and ``tags`` of the first directory
    (descriptions, authorship: those of their values a TIFF tag can hold)."""
    c = arr.shape[2]
    extratags = [entry for code, value in tags.items() for entry in _tiff_tag(code, value)]
    tifffile.imwrite(path, arr if c > 1 else arr[..., 0], photometric="rgb" if c >= 3 else "minisblack",
                     extrasamples=["unassalpha"] if c in (2, 4) else None, compression="zlib", predictor=True,
                     iccprofile=icc_profile, resolution=tuple(dpi) if dpi else None,
                     resolutionunit="INCH" if dpi else None, software=False, metadata=None, extratags=extratags)


def _tiff_tag(code: int, value: Any) -> list[tuple]:
    """A tag of the first directory as tifffile's ``extratags`` entry (none for other values)."""
    if isinstance(value, str):
        return [(code, "s", 0, value, True)]
    if isinstance(value, bytes):
        return [(code, "B", len(value), value, True)]
    if isinstance(value, int) and 0 <= value < 2**32:
        return [(code, "H" if value < 2**16 else "I", 1, value, True)]
    return []


def read_exr(path: Path) -> tuple[np.ndarray, dict[str, Any], bool]:
    """An OpenEXR file's picture as float32 (H, W, C: R, G, B and A, or Y and A), its header
    attributes that describe the picture (chromaticities, white luminance, owner, comments,
    capture date...) and its compression, and whether its pixels were half floats.

    The colour comes straight, divided by the alpha that the file stores it multiplied by. Of a
    file of several parts or several layers, the first is read, with a warning.

    The pixels are the data window's (what the file holds); the attributes keep it and the display
    window (the frame it sits in: a crop or border render holds part of it, an overscan more), which
    :func:`write_exr` scales with the picture.
    """
    import OpenEXR

    try:
        exr = OpenEXR.File(str(path), separate_channels=True)
    except Exception as e:  # OpenEXR raises plain exceptions for damaged files
        raise InputError(f"{path}: cannot read this OpenEXR file ({str(e).replace(str(path), path.name)})") from None
    if len(exr.parts) > 1:
        warnings.warn(f"{path}: has {len(exr.parts)} parts; only the first is upscaled", stacklevel=4)
    header, channels = exr.header(), exr.channels()
    layers = _colour_layers(set(channels))
    if not layers:
        raise InputError(f"{path}: holds no R, G, B or Y channels (it has {', '.join(sorted(channels)) or 'none'}); "
                         "only colour and grey images can be upscaled")
    layer, names = layers[0]
    if len(layers) > 1:
        warnings.warn(f"{path}: holds {len(layers)} colour layers ({', '.join(n or '(unnamed)' for n, _ in layers)}); "
                      f"only {layer or 'the unnamed one'} is upscaled", stacklevel=4)
    planes = [channels[f"{layer}.{n}" if layer else n].pixels for n in names]
    if any(p.dtype.kind != "f" for p in planes):
        raise InputError(f"{path}: its channels hold integers (an ID or mask pass?), not colour; only float "
                         "colour can be upscaled")
    if len({p.shape for p in planes}) > 1:
        raise InputError(f"{path}: its channels are subsampled (luminance/chroma); save it as RGB to upscale it")
    kept = {key: value for key, value in header.items() if key not in EXR_LAYOUT}
    half = all(p.dtype == np.float16 for p in planes)
    image = np.stack(planes, axis=-1).astype(np.float32)
    return unpremultiply(image) if names[-1] == "A" else image, kept, half


def _colour_layers(names: set[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The layers of an OpenEXR file's channel names that hold a picture, each with its channels
    (R, G, B and A, or Y and A): the unnamed layer first (``R``, ``G``...), then those named as
    Krita and renderers name them (``paint.R``, ``diffuse.R``), in name order."""
    found = []
    for layer in sorted({name.rpartition(".")[0] for name in names}, key=lambda n: (n != "", n)):
        prefix = f"{layer}." if layer else ""
        group = next((g for g in (("R", "G", "B", "A"), ("R", "G", "B"), ("Y", "A"), ("Y",))
                      if all(prefix + n in names for n in g)), None)
        if group:
            found.append((layer, group))
    return found


def write_exr(path: Path, image: np.ndarray, attributes: dict[str, Any] | None) -> None:
    """``image`` (H, W, C float32 or float16: grey, grey+alpha, RGB, RGBA; straight colour, stored
    premultiplied as OpenEXR wants it) as an OpenEXR file of full or half floats, with
    ``attributes`` (from :func:`read_exr`; the compression only when lossless; the data and display
    windows scaled as the data window's pixels were to ``image``: a crop of a frame stays in its place)."""
    import OpenEXR

    names = {1: "Y", 2: "YA", 3: "RGB", 4: "RGBA"}[image.shape[2]]
    if names.endswith("A"):  # OpenEXR colour is premultiplied by its alpha
        alpha = image[..., -1:].astype(np.float32)
        image = np.concatenate([image[..., :-1] * alpha, alpha], axis=-1).astype(image.dtype)
    channels = {n: np.ascontiguousarray(image[..., i]) for i, n in enumerate(names)}
    header = dict(attributes or {})
    if getattr(header.get("compression"), "name", None) not in LOSSLESS:  # none given, or lossy (DWA, B44)
        header["compression"] = OpenEXR.ZIP_COMPRESSION
    header["type"] = OpenEXR.scanlineimage
    header.update(_scaled_windows(header.get("dataWindow"), header.get("displayWindow"), *image.shape[1::-1]))
    OpenEXR.File(header, channels).write(str(path))


def _scaled_windows(data: Any, display: Any, width: int, height: int) -> dict[str, Any]:
    """OpenEXR's ``dataWindow`` and ``displayWindow`` for a picture of ``width`` x ``height`` made from
    the pixels of the data window ``data`` (inclusive corners), the frame ``display`` scaled by as
    much; without them, both are the picture itself."""
    def corners(x0: int, y0: int, x1: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
        return np.array([x0, y0], np.int32), np.array([x1, y1], np.int32)

    if data is None:
        data = ((0, 0), (width - 1, height - 1))
    (x0, y0), (x1, y1) = (int(v) for v in data[0]), (int(v) for v in data[1])
    sx, sy = width / (x1 - x0 + 1), height / (y1 - y0 + 1)
    left, top = round(x0 * sx), round(y0 * sy)
    (dx0, dy0), (dx1, dy1) = ((int(v) for v in corner) for corner in (display if display is not None else data))
    return {"dataWindow": corners(left, top, left + width - 1, top + height - 1),
            "displayWindow": corners(round(dx0 * sx), round(dy0 * sy), round((dx1 + 1) * sx) - 1,
                                     round((dy1 + 1) * sy) - 1)}


RADIANCE_SIZE = re.compile(rb"([-+])([XY]) (\d+) ([-+])([XY]) (\d+)")  # the resolution line


def read_radiance(path: Path) -> np.ndarray:
    """A Radiance RGBE file as float32 RGB (H, W, 3), its ``EXPOSURE`` undone (values as measured),
    upright whichever of the format's eight orientations it is stored in."""
    import imagecodecs

    data = path.read_bytes()
    end = data.find(b"\n\n") + 2  # the header's end; the resolution line follows
    size_end = data.find(b"\n", end)
    size = RADIANCE_SIZE.fullmatch(data[end:size_end].strip()) if end > 1 and size_end > 0 else None
    if size is not None and {size[2], size[5]} != {b"X", b"Y"}:
        size = None  # not a resolution line: the decoder says what is wrong
    if size is not None:
        # the decoder knows "-Y rows +X columns" alone: scanlines top to bottom, each left to right
        data = data[:end] + b"-Y %s +X %s" % (size[3], size[6]) + data[size_end:]
    try:
        image = np.asarray(imagecodecs.rgbe_decode(data), dtype=np.float32)
    except Exception as e:  # imagecodecs' codec errors
        raise InputError(f"{path}: cannot read this Radiance HDR file ({e})") from None
    if size is not None:
        image = _radiance_upright(image, size[1] + size[2], size[4] + size[5])
    head = data[:end].decode("latin-1")
    exposure = float(np.prod([float(v) for v in re.findall(r"^EXPOSURE=\s*([0-9.eE+-]+)", head, re.M)] or [1.0]))
    return image / np.float32(exposure) if exposure not in (0.0, 1.0) else image


def _radiance_upright(image: np.ndarray, outer: bytes, inner: bytes) -> np.ndarray:
    """Scanlines as stored (``outer``: the axis from scanline to scanline, ``inner``: along one, such
    as ``b"-Y"`` and ``b"+X"``) turned into rows from the top and columns from the left. Radiance's
    Y axis points up, so ``-Y`` runs from the top."""
    if outer[1:] == b"X":  # each scanline is a column
        image = image.transpose(1, 0, 2)
    signs = dict((axis[1:], axis[:1]) for axis in (outer, inner))
    if signs[b"Y"] == b"+":
        image = image[::-1]
    if signs[b"X"] == b"-":
        image = image[:, ::-1]
    return np.ascontiguousarray(image)


def write_radiance(path: Path, image: np.ndarray) -> None:
    """RGB float32 as a Radiance RGBE file; colour below 0, which the format cannot hold, is stored
    as 0. Scanlines are stored flat, not run-length encoded: every Radiance reader reads the flat
    form, and GIMP 3.0's (GEGL's) cannot read imagecodecs' run-length encoding."""
    rgb = np.ascontiguousarray(image, dtype=np.float32).clip(0, 2.0 ** 127 * 0.999)  # the exponent's range
    top = rgb.max(axis=-1)
    mantissa, exponent = np.frexp(top)  # top = mantissa * 2 ** exponent, mantissa in [0.5, 1)
    lit = top > 1e-32
    scale = np.where(lit, mantissa * 256 / np.where(lit, top, 1), 0)
    rgbe = np.empty((*rgb.shape[:2], 4), np.uint8)
    rgbe[..., :3] = np.minimum(rgb * scale[..., None], 255)  # truncated, as Radiance's own writer does
    rgbe[..., 3] = np.where(lit, exponent + 128, 0)
    head = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y {rgb.shape[0]} +X {rgb.shape[1]}\n".encode()
    path.write_bytes(head + rgbe.tobytes())
