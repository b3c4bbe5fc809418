"""Image files to arrays and back, keeping alpha and 16 bits per channel where the format can.

Pillow reads and writes most formats, but not 16-bit colour PNGs (those go through ``pypng``) nor
TIFFs of more than 8 bits per sample: it reads a 16-bit colour TIFF as 8 bits and cannot open a
float colour one (what Krita, GIMP or a raw developer export for print or HDR work), 16-bit PPMs,
nor OpenEXR and Radiance HDR files: :mod:`liif_core.deep_files` reads and writes those as stored.

A photograph's file says more than its pixels: which way up it is (the EXIF orientation a camera or
phone writes instead of turning the pixels), which colours its numbers mean (an embedded ICC
profile: Display P3, Adobe RGB), when and where it was taken, and its print resolution. Reading
turns the pixels upright, so sizes and the result are as every viewer shows the image, and
:class:`Metadata` carries the rest to the upscaled file.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import png
from PIL import Image, ImageCms, UnidentifiedImageError

from liif_core import deep_files, jpeg_xl
from liif_core.errors import InputError

WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".avif": "AVIF", ".heic": "HEIF",
                 ".heif": "HEIF", ".tif": "TIFF", ".tiff": "TIFF", ".exr": "EXR", ".hdr": "HDR", ".jxl": "JXL"}
FLOAT_FORMATS = ("EXR", "HDR")  # hold floats only: integer pixels are written as values 0..1
HALF_MAX = 65504.0  # the largest half float
READ_SUFFIXES = tuple(WRITE_FORMATS) + (".bmp", ".gif", ".tga", ".ppm", ".pgm")
EIGHT_BIT_FORMATS = ("JPEG", "WEBP", "AVIF", "HEIF")  # 8 bits per sample as written here
# The lossy compression each suffix stands for, as notes name it; WebP, AVIF and JPEG XL files are read to tell
# lossless ones (lossy_compression). As plugin/common/model_choice.py (the plug-ins cannot import this; a test
# holds them equal).
LOSSY_SUFFIXES = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".heic": "HEIC", ".heif": "HEIC",
                  ".avif": "AVIF", ".webp": "lossy WebP", ".jxl": "lossy JPEG XL"}

try:  # HEIC/HEIF, the photographs of phones (iPhones save them by default): read and written through Pillow
    import pillow_heif
except ImportError:  # an environment made before it was a dependency; install.py adds it
    pillow_heif = None
else:
    pillow_heif.register_heif_opener()


def lossy_compression(path: Path) -> str:
    """The lossy compression the file at ``path`` was saved with ("JPEG", "HEIC", "AVIF", "lossy WebP", "lossy
    JPEG XL", "recompressed JPEG"), or '' for a file saved without loss: what model ``auto`` goes by. Told by the
    suffix, and for WebP, AVIF and JPEG XL by the file itself: a WebP file is lossy by its ``VP8`` chunk (``VP8L``
    is lossless), an AVIF file lossless by its identity colour matrix (lossless AV1 stores RGB so), a JPEG XL file
    lossy by its header's XYB flag, or "recompressed JPEG" when it holds a JPEG recompressed without loss
    (:func:`jpeg_xl.lossy_kind`).
    A WebP or JPEG XL file that cannot be read counts as lossless, an AVIF one as lossy (as most are)."""
    kind = LOSSY_SUFFIXES.get(path.suffix.lower(), "")
    if kind not in ("lossy WebP", "AVIF", "lossy JPEG XL"):
        return kind
    try:
        with open(path, "rb") as f:
            if kind == "lossy JPEG XL":
                return jpeg_xl.lossy_kind(f.read(jpeg_xl.HEADER_BYTES))
            if kind == "lossy WebP":
                return kind if _webp_codec(f) == b"VP8 " else ""
            at = (head := f.read(65536)).find(b"colrnclx")  # the colour properties, in the first boxes
            return "" if at >= 0 and head[at + 12:at + 14] == b"\x00\x00" else kind
    except OSError:
        return "" if kind != "AVIF" else kind


def _webp_codec(f: Any) -> bytes:
    """The name of the open WebP file ``f``'s first image chunk (``VP8 `` lossy, ``VP8L`` lossless; an
    animation's first frame's), b'' if none."""
    head = f.read(12)
    if head[:4] != b"RIFF" or head[8:] != b"WEBP":
        return b""
    while len(chunk := f.read(8)) == 8:
        name, size = chunk[:4], int.from_bytes(chunk[4:], "little")
        if name in (b"VP8 ", b"VP8L"):
            return name
        f.seek(16 if name == b"ANMF" else size + size % 2, os.SEEK_CUR)  # a frame's header, then its chunks
    return b""


ORIENTATION = 0x0112  # EXIF tag
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005  # pointers to sub-directories
PIXEL_X, PIXEL_Y = 0xA002, 0xA003  # the image size in the Exif sub-directory
# What the first EXIF directory keeps: descriptions, camera, dates, authorship, ratings. Not the
# layout of the old pixels (a TIFF's width, strips, compression: Pillow reads a TIFF's own tags
# as its EXIF), its resolution (kept as dpi) or a thumbnail of the old pixels.
KEPT_TAGS = frozenset({0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x013C, 0x8298,  # description..copyright
                       0x4746, 0x4749, 0x9C9B, 0x9C9C, 0x9C9D, 0x9C9E, 0x9C9F})  # rating, Windows' XP tags


@dataclass(frozen=True)
class Metadata:
    """What an upscaled file keeps of its input besides the pixels.

    ``icc_profile``: the embedded colour profile, only when it describes the pixels as read (an RGB
    profile for colour, a grey one for grey); ``exif``: EXIF tags (:data:`KEPT_TAGS`, and the Exif
    and GPS sub-directories as dicts), without the orientation, which reading has applied to the
    pixels; ``dpi``: the print resolution, kept as it is (the print grows with the pixels, as when
    an editor scales an image); ``attributes``: an OpenEXR file's header attributes (chromaticities,
    owner, comments...), for an OpenEXR output; ``half``: the input stored half floats (OpenEXR,
    TIFF), so a float output in those formats stores them too.
    """

    icc_profile: bytes | None = None
    exif: dict[int, Any] | None = None
    dpi: tuple[float, float] | None = None
    attributes: dict[str, Any] | None = None
    half: bool = False


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """The pixels as shown for an EXIF orientation (1-8; as ``PIL.ImageOps.exif_transpose``)."""
    return {2: lambda a: a[:, ::-1], 3: lambda a: a[::-1, ::-1], 4: lambda a: a[::-1],
            5: lambda a: a.transpose(1, 0, 2), 6: lambda a: np.rot90(a, -1),
            7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1], 8: lambda a: np.rot90(a, 1),
            }.get(orientation, lambda a: a)(arr)


def _profile_space(icc: bytes) -> str | None:
    """An ICC profile's colour space (``RGB``, ``GRAY``, ``CMYK``...), or ``None`` if unreadable."""
    try:
        return ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space.strip()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None


def _read_png16(path: Path) -> np.ndarray | None:
    """A 16-bit PNG as ``uint16`` (H, W, planes), or ``None`` when the PNG has 8 bits or fewer."""
    with open(path, "rb") as f:
        width, height, rows, info = png.Reader(file=f).asDirect()
        if info["bitdepth"] != 16:
            return None
        arr = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return arr.reshape(height, width, info["planes"])


def _sniff(head: bytes) -> str | None:
    """The suffix of a format Pillow does not read as stored (``".tif"``, ``".exr"``, ``".hdr"``, ``".jxl"``)
    for a file's first 16 bytes, else ``None``."""
    return ".jxl" if jpeg_xl.is_jpeg_xl(head) else deep_files.sniff(head)


def suffix_of(data: bytes) -> str | None:
    """The file suffix of the format that an image file's bytes are in (``".png"``, ``".exr"``...),
    or ``None`` when no reader here knows them (or their header cannot be read: too large, damaged)."""
    kind = _sniff(data[:16])
    if kind is None:
        try:
            with Image.open(io.BytesIO(data)) as im:
                kind = f".{im.format.lower()}"
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error, RuntimeError,
                Image.DecompressionBombError):
            return None
    return kind


def read_image(path: str | Path) -> np.ndarray:
    """Read ``path`` as H x W x C (C = 1..4) ``uint8``, ``uint16`` or (float TIFF, OpenEXR,
    Radiance HDR) ``float32``, turned upright by its EXIF orientation.

    Errors say what is wrong; an animation or multi-page file gives its first frame and a warning.
    """
    return read_image_and_metadata(path)[0]


def read_image_and_metadata(path: str | Path) -> tuple[np.ndarray, Metadata]:
    """:func:`read_image`, with what :func:`write_image` should keep of the file (:class:`Metadata`).

    A CMYK image is converted to sRGB through its embedded profile when it has one; a profile that
    cannot be read or does not fit the pixels is left out, with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with open(path, "rb") as f:
        head = f.read(16)
    kind = _sniff(head)
    source: Path | io.BytesIO = path  # what Pillow opens
    try:
        if kind == ".jxl":
            data = path.read_bytes()
            jpeg = jpeg_xl.reconstructed_jpeg(data)
            if jpeg is None:
                return _jpeg_xl(path, data)
            source = io.BytesIO(jpeg)  # a JPEG recompressed without loss: read as that JPEG, its metadata too
        if kind == ".exr":
            arr, attributes, half = deep_files.read_exr(path)
            return arr, Metadata(attributes=attributes, half=half)
        if kind == ".hdr":
            return deep_files.read_radiance(path), Metadata()
        deep = None  # pixels that Pillow would cut to 8 bits, read here instead
        if kind == ".tif":
            deep = deep_files.read_tiff(path)
        elif head[:2] in deep_files.PNM_MAGIC:
            deep = deep_files.read_pnm(path)
        elif path.suffix.lower() == ".png":
            deep = _read_png16(path)
        try:
            with Image.open(source) as im:
                exif = im.getexif()
                icc = im.info.get("icc_profile") or None
                dpi = im.info.get("dpi")
                if deep is None:
                    arr, icc = _pixels(path, im, icc)
                else:
                    arr = deep
        except UnidentifiedImageError:
            if deep is None:
                raise
            tags, icc, dpi = deep_files.tiff_metadata(path)  # a float colour TIFF: Pillow cannot open it
            arr, exif = deep, Image.Exif()
            exif.update({tag: value for tag, value in tags.items() if tag in KEPT_TAGS or tag == ORIENTATION})
    except InputError:  # already says what is wrong with the file
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, png.FormatError,
            deep_files.TiffFileError, struct.error, RuntimeError) as e:  # RuntimeError: pillow-jxl-plugin's
        raise InputError(f"{path}: cannot read this image ({e})") from None
    except (Image.DecompressionBombError, MemoryError) as e:  # a header that says billions of pixels
        raise InputError(f"{path}: cannot read this image: it is too large ({e})") from None
    orientation = exif.get(ORIENTATION, 1)
    half = arr.dtype == np.float16  # a half-float TIFF: computed in float32, written back in half floats
    arr = _orient(arr, orientation if isinstance(orientation, int) else 1)
    arr = np.ascontiguousarray(arr, dtype=np.float32 if half else arr.dtype)
    dpi = tuple(float(d) for d in dpi) if isinstance(dpi, tuple) and len(dpi) == 2 and all(dpi) else None
    return arr, Metadata(icc_profile=_fitting_profile(path, icc, arr), exif=_kept_exif(exif), dpi=dpi, half=half)


def _fitting_profile(path: Path, icc: bytes | None, arr: np.ndarray) -> bytes | None:
    """``icc`` if it describes pixels of ``arr``'s kind (RGB, grey), else ``None``, with a warning."""
    if icc is not None:
        space = _profile_space(icc)
        if space != ("GRAY" if arr.shape[2] <= 2 else "RGB"):
            warnings.warn(f"{path}: its colour profile ({space or 'unreadable'}) does not fit the "
                          "pixels; the result is written without one", stacklevel=3)
            return None
    return icc


def _jpeg_xl(path: Path, data: bytes) -> tuple[np.ndarray, Metadata]:
    """A JPEG XL file's pixels (upright: the decoder applies the file's orientation) and metadata."""
    arr, icc, exif_data = jpeg_xl.read(path, data)
    exif = Image.Exif()
    if exif_data:
        try:
            exif.load(exif_data)
        except (OSError, ValueError, SyntaxError, struct.error):
            warnings.warn(f"{path}: its EXIF cannot be read; the result is written without it", stacklevel=3)
    return arr, Metadata(icc_profile=_fitting_profile(path, icc, arr), exif=_kept_exif(exif))


def _kept_exif(exif: Image.Exif) -> dict[int, Any] | None:
    """The tags of ``exif`` that still hold for the upscaled image (:class:`Metadata`)."""
    kept: dict[int, Any] = {tag: value for tag, value in exif.items() if tag in KEPT_TAGS}
    try:
        for pointer in (EXIF_IFD, GPS_IFD):
            sub = {tag: value for tag, value in exif.get_ifd(pointer).items() if tag != INTEROP_IFD}
            if sub:
                kept[pointer] = sub
    except (OSError, ValueError, SyntaxError, KeyError, TypeError):  # a broken sub-directory: left out
        pass
    return kept or None


def _picture_count(im: Image.Image) -> int:
    """How many pictures an opened file holds (frames, pages), leaving it at the first: a TIFF's
    reduced-resolution copies (a thumbnail) are not counted."""
    frames = getattr(im, "n_frames", 1)
    if frames > 1 and im.format == "TIFF":
        full = 0
        for index in range(frames):
            im.seek(index)
            full += not int(im.tag_v2.get(254, 0)) & deep_files.REDUCED  # 254: NewSubfileType
        im.seek(0)
        return full
    return frames


def _pixels(path: Path, im: Image.Image, icc: bytes | None) -> tuple[np.ndarray, bytes | None]:
    """An opened Pillow image's pixels as :func:`read_image` gives them, and the profile that
    still describes them (``None`` once a CMYK image is converted to sRGB)."""
    frames = _picture_count(im)
    im.load()
    if frames > 1:
        warnings.warn(f"{path}: has {frames} frames; only the first is upscaled", stacklevel=3)
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(im.convert("I")).astype(np.uint16)[..., None], icc
    if mode == "I":
        return np.asarray(im).clip(0, 65535).astype(np.uint16)[..., None], icc
    if mode == "F":
        return np.asarray(im, dtype=np.float32)[..., None], icc  # HDR values beyond 0..1 are kept
    if mode == "CMYK":
        if icc is not None and _profile_space(icc) == "CMYK":
            srgb = ImageCms.createProfile("sRGB")
            return np.asarray(ImageCms.profileToProfile(im, io.BytesIO(icc), srgb, outputMode="RGB")), None
        return np.asarray(im.convert("RGB")), None
    has_alpha = "A" in mode or "transparency" in im.info
    if mode in ("1", "L") and not has_alpha:
        return np.asarray(im.convert("L"))[..., None], icc
    if mode in ("LA", "L"):
        return np.asarray(im.convert("LA")), icc
    return np.asarray(im.convert("RGBA" if has_alpha else "RGB")), icc


def stored_dtype(path: str | Path, channels: int, dtype: np.dtype, metadata: Metadata | None = None) -> np.dtype:
    """The sample type ``path``'s format will hold for such an image (with ``metadata``: its colour profile);
    raises if it cannot hold it.

    Called before the work as well as by :func:`write_image`, so that a batch learns that an output
    cannot be written before it spends minutes upscaling the input.
    """
    fmt = WRITE_FORMATS.get(Path(path).suffix.lower())
    if fmt == "JXL" and metadata is not None and jpeg_xl.colours_of(metadata.icc_profile, channels <= 2) is None:
        raise InputError(f"{path}: a JPEG XL file names its colour space in its header here, and this image's colour "
                         f"profile{_profile_name(metadata.icc_profile)} is none it can name (sRGB, Display P3, Adobe "
                         "RGB, ProPhoto, Rec. 2020...); write .png, .tif, .webp or .avif to keep it")
    if fmt is None:
        raise InputError(f"{path}: unknown output format; use one of {', '.join(WRITE_FORMATS)}")
    if fmt == "HEIF" and pillow_heif is None:
        raise InputError(f"{path}: writing HEIC needs the package pillow-heif; run install.py again")
    if fmt in ("JPEG", "HDR") and channels in (2, 4):
        name = "JPEG" if fmt == "JPEG" else "Radiance HDR"
        raise InputError(f"{path}: {name} has no transparency; write "
                         f"{'.png, .webp' if fmt == 'JPEG' else '.exr'} or .tif to keep the alpha channel")
    if fmt in FLOAT_FORMATS:
        return np.dtype(np.float32)
    dtype = np.dtype(dtype)
    if dtype == np.uint8 or fmt == "JXL":  # JPEG XL holds each as it is
        return dtype
    if fmt in EIGHT_BIT_FORMATS:  # 8-bit here by nature: asked for, so given (write_image warns)
        return np.dtype(np.uint8)
    return np.dtype(np.float32) if fmt == "TIFF" and dtype == np.float32 else np.dtype(np.uint16)


def write_image(path: str | Path, image: np.ndarray, metadata: Metadata | None = None,
                quality: int | None = None) -> None:
    """Write an H x W x C array at the deepest precision the format holds here, with ``metadata``
    (a colour profile, EXIF with the new size, print resolution) where the format holds it.

    16-bit data stays 16-bit in PNG, TIFF and JPEG XL; float32 becomes float TIFF, OpenEXR or JPEG XL (values
    beyond 0..1 kept; half floats where the input had them), Radiance HDR (no colour below 0), 16-bit PNG,
    and 8 bits in JPEG, WebP, AVIF and HEIC; integers in OpenEXR and Radiance HDR become floats 0..1.
    ``quality`` (1-100) is JPEG's (default 95), AVIF's and HEIC's (default 90) and makes WebP and JPEG XL
    lossy (default lossless); JPEG, AVIF and HEIC keep full colour resolution (4:4:4), so coloured edges stay
    as crisp as the upscale drew them. A JPEG XL file names its colour space in its header, from the profile
    (:func:`jpeg_xl.colours_of`): one it cannot name is refused (:func:`stored_dtype`).
    """
    path = Path(path)
    arr = image if image.ndim == 3 else image[..., None]
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise InputError(f"{path}: cannot write {arr.dtype} pixels; give uint8, uint16 or float values in 0..1")
    h, w, c = arr.shape
    stored = stored_dtype(path, c, arr.dtype, metadata)
    fmt = WRITE_FORMATS[path.suffix.lower()]
    if stored == np.uint8 and arr.dtype != np.uint8:
        warnings.warn(f"{path}: {fmt} holds 8 bits per channel, so the "
                      f"{'float' if arr.dtype == np.float32 else '16-bit'} result is stored in 8; "
                      "write a .png to keep 16", stacklevel=2)
    if arr.dtype == np.float32 and stored != np.float32:
        beyond = int(((arr < 0) | (arr > 1)).any(axis=-1).sum())
        if beyond:
            warnings.warn(f"{path}: {beyond} pixels hold colour beyond 0..1 (HDR), which {fmt} cannot hold: "
                          "stored clipped; write a .exr or .tif to keep it", stacklevel=2)
        arr = np.round(arr.clip(0, 1) * np.iinfo(stored).max).astype(stored)
    elif arr.dtype != np.float32 and stored == np.float32:
        arr = arr.astype(np.float32) / np.iinfo(arr.dtype).max
    elif arr.dtype == np.uint16 and stored == np.uint8:
        arr = ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    below = int((arr < 0).any(axis=-1).sum()) if fmt == "HDR" else 0
    if below:
        warnings.warn(f"{path}: Radiance HDR holds no colour below 0; {below} pixels are stored as 0 (write a "
                      ".exr or .tif to keep them)", stacklevel=2)
    if stored == np.float32 and metadata is not None and metadata.half and fmt in ("TIFF", "EXR"):
        arr = arr.clip(-HALF_MAX, HALF_MAX).astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    # written beside it and renamed: an interrupted or failed write never leaves half a file, nor
    # replaces the one that was there
    partial = path.with_name(f".{path.name}.partial")
    try:
        if metadata is not None:
            try:
                _write(partial, arr, fmt, _save_options(metadata, fmt, (w, h)), quality)
                os.replace(partial, path)
                return
            except (ValueError, TypeError, RuntimeError, KeyError, struct.error) as e:  # odd metadata
                warnings.warn(f"{path}: written without the input's metadata, which {fmt} did not take ({e})",
                              stacklevel=2)
        _write(partial, arr, fmt, {}, quality)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _write(path: Path, arr: np.ndarray, fmt: str, extra: dict, quality: int | None) -> None:
    """:func:`write_image`'s writing, once the samples are in their stored type."""
    h, w, c = arr.shape
    if fmt == "EXR":
        deep_files.write_exr(path, arr, extra.get("attributes"))
        return
    if fmt == "HDR":
        deep_files.write_radiance(path, arr if c == 3 else np.repeat(arr, 3, axis=2))
        return
    if fmt == "JXL":  # its colour space named in the header (stored_dtype refused a profile it cannot name)
        path.write_bytes(jpeg_xl.encode(arr, quality, extra.get("exif"), jpeg_xl.colours_of(extra.get("icc_profile"),
                                                                                             c <= 2)))
        return
    if fmt == "TIFF" and arr.dtype != np.uint8:
        exif = Image.Exif()
        if "exif" in extra:
            exif.load(extra["exif"])
        deep_files.write_tiff(path, arr, extra.get("icc_profile"), extra.get("dpi"),
                              {tag: value for tag, value in exif.items() if tag in KEPT_TAGS})
        return
    if arr.dtype == np.uint16:
        _write_png16(path, arr, extra)
        return
    if c == 1:
        im = Image.fromarray(arr[..., 0])
    elif c == 2:
        im = Image.merge("LA", [Image.fromarray(np.ascontiguousarray(arr[..., i])) for i in range(2)])
    else:
        im = Image.fromarray(arr)
    options = {"JPEG": {"quality": quality or 95, "subsampling": 0},
               "WEBP": {"quality": quality} if quality else {"lossless": True, "exact": True},
               "AVIF": {"quality": quality or 90, "subsampling": "4:4:4"},
               "HEIF": {"quality": quality or 90, "chroma": 444},
               "TIFF": {"compression": "tiff_deflate"}, "PNG": {}}[fmt]
    if fmt in ("WEBP", "AVIF", "HEIF") and c <= 2:
        im = im.convert("RGBA" if c == 2 else "RGB")
        extra = {k: v for k, v in extra.items() if k != "icc_profile"}  # a grey one cannot describe RGB
    im.save(path, format=fmt, **options, **extra)


def _save_options(metadata: Metadata, fmt: str, size: tuple[int, int]) -> dict:
    """``metadata`` as Pillow's ``save`` options for ``fmt``, the EXIF image size set to ``size``
    (for OpenEXR: its attributes; Radiance HDR keeps nothing)."""
    if fmt in FLOAT_FORMATS:
        return {"attributes": metadata.attributes} if fmt == "EXR" and metadata.attributes else {}
    extra: dict = {}
    if metadata.icc_profile:
        extra["icc_profile"] = metadata.icc_profile
    if metadata.exif:
        exif = Image.Exif()
        # libtiff, which writes compressed TIFFs, takes no sub-directories: a TIFF keeps the first one
        exif.update({tag: value for tag, value in metadata.exif.items()
                     if fmt != "TIFF" or tag not in (EXIF_IFD, GPS_IFD)})
        if EXIF_IFD in exif:
            sub = dict(exif[EXIF_IFD])  # a copy: the caller's stays as it was
            for tag, value in ((PIXEL_X, size[0]), (PIXEL_Y, size[1])):
                if tag in sub:
                    sub[tag] = value
            exif[EXIF_IFD] = sub
        extra["exif"] = exif.tobytes()
    if metadata.dpi and fmt not in ("WEBP", "AVIF", "HEIF", "JXL"):
        extra["dpi"] = metadata.dpi
    return extra


def _profile_name(icc: bytes | None) -> str:
    """An ICC profile's own description in parentheses (" (Display P3)"), or '' where it has no telling one
    (LittleCMS's "RGB built-in", as :mod:`liif_core.jpeg_xl` makes them from a JPEG XL header)."""
    try:
        name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip()
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return ""
    return f" ({name})" if name and not name.endswith("built-in") else ""


def _write_png16(path: Path, arr: np.ndarray, extra: dict) -> None:
    """A 16-bit PNG with pypng; the profile and EXIF go in as iCCP and eXIf chunks, which pypng
    does not write itself."""
    h, w, c = arr.shape
    dpi = extra.get("dpi")
    ppm = {"x_pixels_per_unit": round(dpi[0] / 0.0254), "y_pixels_per_unit": round(dpi[1] / 0.0254),
           "unit_is_meter": True} if dpi else {}
    writer = png.Writer(w, h, greyscale=c <= 2, alpha=c in (2, 4), bitdepth=16, compression=6, **ppm)
    data = io.BytesIO()
    writer.write(data, arr.reshape(h, w * c))
    added = []
    if "icc_profile" in extra:
        added.append((b"iCCP", b"ICC profile\0\0" + zlib.compress(extra["icc_profile"])))
    if "exif" in extra:
        added.append((b"eXIf", extra["exif"].removeprefix(b"Exif\0\0")))
    chunks = list(png.Reader(bytes=data.getvalue()).chunks())
    with open(path, "wb") as f:
        png.write_chunks(f, chunks[:1] + added + chunks[1:])  # after IHDR, before the pixels
