"""Image files to arrays and back, keeping alpha and 16 bits per channel where the format can.

Pillow reads and writes most formats but not 16-bit colour PNGs; those go through ``pypng``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import png
from PIL import Image, UnidentifiedImageError

from liif_core.errors import InputError

WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}
READ_SUFFIXES = tuple(WRITE_FORMATS) + (".bmp", ".gif", ".tga", ".ppm", ".pgm")


def _read_png16(path: Path) -> np.ndarray | None:
    """A 16-bit PNG as ``uint16`` (H, W, planes), or ``None`` when the PNG has 8 bits or fewer."""
    with open(path, "rb") as f:
        width, height, rows, info = png.Reader(file=f).asDirect()
        if info["bitdepth"] != 16:
            return None
        arr = np.vstack([np.asarray(row, dtype=np.uint16) for row in rows])
    return arr.reshape(height, width, info["planes"])


def read_image(path: str | Path) -> np.ndarray:
    """Read ``path`` as H x W x C (C = 1..4) ``uint8``, ``uint16`` or (float TIFF) ``float32``.

    Errors say what is wrong; an animation or multi-page file gives its first frame and a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".png":
            deep = _read_png16(path)
            if deep is not None:
                return deep
        with Image.open(path) as im:
            im.load()
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                warnings.warn(f"{path}: has {frames} frames; only the first is upscaled", stacklevel=2)
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(im.convert("I")).astype(np.uint16)[..., None]
            if mode == "I":
                arr = np.asarray(im)
                return arr.clip(0, 65535).astype(np.uint16)[..., None]
            if mode == "F":
                return np.asarray(im, dtype=np.float32).clip(0, 1)[..., None]
            has_alpha = "A" in mode or "transparency" in im.info
            if mode in ("1", "L"):
                return np.asarray(im.convert("L"))[..., None]
            if mode == "LA" or (mode == "L" and has_alpha):
                return np.asarray(im.convert("LA"))
            target = "RGBA" if has_alpha else "RGB"
            return np.asarray(im.convert(target))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, png.FormatError) as e:
        raise InputError(f"{path}: cannot read this image ({e})") from None


def stored_dtype(path: str | Path, channels: int, dtype: np.dtype) -> np.dtype:
    """The sample type ``path``'s format will hold for such an image; raises if it cannot hold it.

    Called before the work as well as by :func:`write_image`, so that a batch learns that an output
    cannot be written before it spends minutes upscaling the input.
    """
    fmt = WRITE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InputError(f"{path}: unknown output format; use one of {', '.join(WRITE_FORMATS)}")
    if fmt == "JPEG" and channels in (2, 4):
        raise InputError(f"{path}: JPEG has no transparency; write .png, .webp or .tif to keep the alpha channel")
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return dtype
    if fmt == "PNG" or (fmt == "TIFF" and channels == 1):
        return np.dtype(np.float32) if fmt == "TIFF" and dtype == np.float32 else np.dtype(np.uint16)
    if dtype == np.float32 and fmt != "TIFF":
        return np.dtype(np.uint8)
    raise InputError(f"{path}: {fmt} cannot hold this {'float' if dtype == np.float32 else '16-bit'} "
                     "image here; write a .png to keep 16 bits")


def write_image(path: str | Path, image: np.ndarray) -> None:
    """Write an H x W x C array at the deepest precision the format holds here.

    16-bit data stays 16-bit in PNG (and single-channel TIFF); float32 becomes 16-bit PNG, float
    TIFF for one channel, and 8 bits in JPEG and WebP.
    """
    path = Path(path)
    arr = image if image.ndim == 3 else image[..., None]
    if arr.dtype.kind == "f" and arr.dtype != np.float32:
        arr = arr.astype(np.float32)
    if arr.dtype not in (np.uint8, np.uint16, np.float32):
        raise InputError(f"{path}: cannot write {arr.dtype} pixels; give uint8, uint16 or float values in 0..1")
    h, w, c = arr.shape
    stored = stored_dtype(path, c, arr.dtype)
    fmt = WRITE_FORMATS[path.suffix.lower()]
    if arr.dtype == np.float32 and stored != np.float32:
        arr = np.round(arr.clip(0, 1) * np.iinfo(stored).max).astype(stored)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "TIFF" and c == 1 and arr.dtype != np.uint8:
        Image.fromarray(np.ascontiguousarray(arr[..., 0])).save(path, format=fmt, compression="tiff_deflate")
        return
    if arr.dtype == np.uint16:
        writer = png.Writer(w, h, greyscale=c <= 2, alpha=c in (2, 4), bitdepth=16, compression=6)
        with open(path, "wb") as f:
            writer.write(f, arr.reshape(h, w * c))
        return
    if c == 1:
        im = Image.fromarray(arr[..., 0])
    elif c == 2:
        im = Image.merge("LA", [Image.fromarray(np.ascontiguousarray(arr[..., i])) for i in range(2)])
    else:
        im = Image.fromarray(arr)
    options = {"JPEG": {"quality": 95}, "WEBP": {"lossless": True}, "TIFF": {"compression": "tiff_deflate"},
               "PNG": {}}[fmt]
    if fmt == "WEBP" and c <= 2:
        im = im.convert("RGBA" if c == 2 else "RGB")
    im.save(path, format=fmt, **options)
