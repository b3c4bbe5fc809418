"""JPEG XL files (``.jxl``): what their pixels mean, read from the file's own header; and writing them.

libjxl (through ``imagecodecs``, already a dependency for TIFF and Radiance files) decodes the
pixels, turned upright and at their depth (16 bits, floats), but its call hands over nothing else: not
the colour space, not the EXIF, not whether the file is a JPEG recompressed without loss. This module
reads those from the file: the ISO BMFF boxes of the container (``Exif``, ``jbrd``, the codestream in
``jxlc`` or ``jxlp`` boxes) and the codestream's image header (ISO/IEC 18181-1: its bundles of bit
fields, least significant bit first), as far as the colour encoding. An ICC profile embedded there is
entropy-coded: ``pillow-jxl-plugin`` (libjxl again, whose pixels come in 8 bits only) gives it.

What the decoder's pixels mean, measured against libjxl's ``djxl`` (which writes the profile beside
them): a file stored without loss gives its samples as stored, in the colour space the header
names; a lossy one (coded in XYB) is converted back to that colour space when the header names it
with its enumerated fields, and to linear sRGB when it carries an ICC profile instead (even in 8 bits:
:func:`read` encodes those as sRGB again, the form the model learned on).

Writing (:func:`encode`) goes through libjxl too, whose call here names the colour space after the sample type:
sRGB for 8 bits, linear sRGB for 16 bits and floats, whatever they hold. So the header's colour encoding is
rewritten to the image's (:func:`colours_of`: the colour spaces a header can name without an ICC profile, which
libjxl's call cannot embed), the frames after it moved to the next whole byte. A file written without loss keeps
its samples as given; a lossy one is handed linear-light sRGB as floats, which decoders turn back into the named
space at the depth the header then says (the image's).
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from liif_core.errors import InputError
from liif_core.pixels import srgb_decode, srgb_encode

CODESTREAM = b"\xff\x0a"
CONTAINER = b"\0\0\0\x0cJXL \r\n\x87\n"
HEADER_BYTES = 65536  # ample for the image header: an extra channel's name is at most 1071 bytes
# The enumerated values of the header's colour encoding (ISO/IEC 18181-1, ColourEncoding)
RGB, GREY, XYB = 0, 1, 2
D65 = 1
SRGB_PRIMARIES = 1
TRANSFERS = {1: "BT.709", 2: "unknown", 8: "linear", 13: "sRGB", 16: "PQ", 17: "DCI", 18: "HLG"}
WHITE_POINTS = {1: (0.3127, 0.3290), 10: (1 / 3, 1 / 3), 11: (0.314, 0.351)}  # D65, E, DCI
PRIMARIES = {1: ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06)),  # sRGB / BT.709
             9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)),  # BT.2100 / BT.2020
             11: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))}  # P3
ALPHA_CHANNEL, SPOT_CHANNEL, CFA_CHANNEL = 0, 2, 5
# The (offset, bits) choices of header fields that both reading and writing use: an Enum, the bits of integer
# samples, a custom chromaticity's packed millionths
ENUM = ((0, 0), (1, 0), (2, 4), (18, 6))
INTEGER_BITS = ((8, 0), (10, 0), (12, 0), (1, 6))
CUSTOM_XY = ((0, 19), (524288, 19), (1048576, 20), (2097152, 21))


@dataclass(frozen=True)
class Header:
    """What a JPEG XL codestream's image header says (the fields :func:`read` and :func:`encode` need).

    ``transfer``: a gamma (the exponent that encodes linear values, as 1/2.2) or a name of
    :data:`TRANSFERS`; ``white`` and ``primaries``: CIE xy chromaticities, ``None`` where the file
    carries an ICC profile (``icc``) or is grey (primaries).
    """

    width: int
    height: int
    orientation: int = 1
    bits: int = 8
    float_samples: bool = False
    alpha: bool = False
    xyb: bool = True
    icc: bool = False
    colour_space: int = RGB
    white: tuple[float, float] | None = WHITE_POINTS[D65]
    primaries: tuple[tuple[float, float], ...] | None = PRIMARIES[SRGB_PRIMARIES]
    transfer: float | str = "sRGB"
    animation: bool = False
    depth_at: int = 0  # where the image's BitDepth bundle starts, in bits from the codestream's first (0: none)
    depth_end: int = 0  # and where it ends
    # where the colour encoding starts and ends and the image header's last bundle ends, likewise (0: not read,
    # as for a header that embeds an ICC profile); the first frame starts at the next whole byte
    colour_at: int = 0
    colour_end: int = 0
    end: int = 0

    @property
    def srgb(self) -> bool:
        """The pixels as decoded are sRGB (or grey with sRGB's curve): they need no profile."""
        return (not self.icc and self.transfer == "sRGB" and self.white == WHITE_POINTS[D65]
                and (self.colour_space == GREY or self.primaries == PRIMARIES[SRGB_PRIMARIES]))


class Colours(NamedTuple):
    """A colour space as a JPEG XL header names it without an ICC profile: white and primaries as CIE xy
    (``primaries`` None: grey), the transfer function as :class:`Header`'s (a name or a gamma)."""

    white: tuple[float, float]
    primaries: tuple[tuple[float, float], ...] | None
    transfer: float | str


@dataclass(frozen=True)
class Layout:
    """The parts of a JPEG XL file: the start of its codestream, its EXIF (a TIFF structure, as
    Pillow loads it) and whether it holds a JPEG file recompressed without loss (a ``jbrd`` box)."""

    codestream: bytes
    exif: bytes | None = None
    jpeg: bool = False


def is_jpeg_xl(head: bytes) -> bool:
    """Whether a file starting with ``head`` (12 bytes or more) is JPEG XL: a bare codestream or a container."""
    return head.startswith(CODESTREAM) or head.startswith(CONTAINER)


def layout(data: bytes, whole: bool = True) -> Layout:
    """Split a JPEG XL file's bytes into its parts; raises ``ValueError`` for a broken container. Not
    ``whole``: ``data`` is the file's start, and a box it cuts off gives what it holds of it."""
    if data.startswith(CODESTREAM):
        return Layout(data)
    codestream, exif, jpeg, at = [], None, False, 0
    while at + 8 <= len(data):
        size, kind, start = int.from_bytes(data[at:at + 4], "big"), data[at + 4:at + 8], at + 8
        if size == 1:
            size, start = int.from_bytes(data[at + 8:at + 16], "big"), at + 16
        end = len(data) if size == 0 or (not whole and at + size > len(data)) else at + size
        if end < start or end > len(data):
            raise ValueError(f"a broken {kind.decode('latin-1')!r} box")
        if kind == b"jxlc":
            codestream.append(data[start:end])
        elif kind == b"jxlp":
            codestream.append(data[start + 4:end])  # after the part's index
        elif kind == b"Exif" and exif is None:
            offset = int.from_bytes(data[start:start + 4], "big")  # where the TIFF header starts
            exif = data[start + 4 + offset:end]
        elif kind == b"jbrd":
            jpeg = True
        at = end
    if not codestream:
        raise ValueError("no codestream")
    return Layout(b"".join(codestream), exif, jpeg)


class _Bits:
    """The codestream's bits, least significant first, and the header's field types."""

    def __init__(self, data: bytes) -> None:
        self.value = int.from_bytes(data, "little")
        self.length = len(data) * 8
        self.at = 0

    def u(self, n: int) -> int:
        if self.at + n > self.length:
            raise ValueError("the header is cut off")
        value = (self.value >> self.at) & ((1 << n) - 1)
        self.at += n
        return value

    def bool(self) -> bool:
        return self.u(1) == 1

    def u32(self, *choices: tuple[int, int]) -> int:
        """One of four (offset, bits) distributions, chosen by two bits."""
        offset, bits = choices[self.u(2)]
        return offset + self.u(bits)

    def enum(self) -> int:
        return self.u32(*ENUM)

    def f16(self) -> None:
        self.u(16)

    def size(self) -> tuple[int, int]:
        """A SizeHeader: (width, height)."""
        small = self.bool()
        height = (self.u(5) + 1) * 8 if small else 1 + self.u32((0, 9), (0, 13), (0, 18), (0, 30))
        ratio = self.u(3)
        if ratio:
            num, den = ((1, 1), (12, 10), (4, 3), (3, 2), (16, 9), (5, 4), (2, 1))[ratio - 1]
            return height * num // den, height
        return ((self.u(5) + 1) * 8 if small else 1 + self.u32((0, 9), (0, 13), (0, 18), (0, 30))), height

    def bit_depth(self) -> tuple[int, bool]:
        """A BitDepth: (bits per sample, float)."""
        if self.bool():
            bits = self.u32((32, 0), (16, 0), (24, 0), (1, 6))
            self.u(4)  # the exponent's bits
            return bits, True
        return self.u32(*INTEGER_BITS), False

    def u64(self) -> int:
        """A U64: two bits choose 0, 1-16, 17-272 or a longer number in 12 + 8-bit steps."""
        choice = self.u(2)
        if choice < 3:
            return (0, 1, 17)[choice] + self.u((0, 4, 8)[choice])
        value, shift = self.u(12), 12
        while self.bool():
            if shift == 60:
                return value | self.u(4) << shift
            value |= self.u(8) << shift
            shift += 8
        return value

    def tail(self, extra_fields: bool, xyb: bool) -> None:
        """The image header after the colour encoding: tone mapping, extensions, the custom transform data."""
        if extra_fields and not self.bool():  # tone mapping, not its defaults
            self.f16(), self.f16(), self.bool(), self.f16()
        extensions = self.u64()
        sizes = [self.u64() for i in range(64) if extensions >> i & 1]
        for size in sizes:
            self.u(size)
        if not self.bool():  # the transform data, not its defaults
            if xyb and not self.bool():  # the opsin inverse matrix, not its defaults
                for _ in range(16):
                    self.f16()
            weights = self.u(3)  # the custom upsampling weights given
            for flag, count in ((1, 15), (2, 55), (4, 210)):
                if weights & flag:
                    for _ in range(count):
                        self.f16()

    def xy(self) -> tuple[float, float]:
        """A custom chromaticity: two signed numbers in millionths."""
        def signed() -> float:
            v = self.u32(*CUSTOM_XY)
            return (-(v + 1) // 2 if v & 1 else v // 2) / 1e6
        x = signed()
        return x, signed()


def header(codestream: bytes) -> Header:
    """The image header of a codestream, read to its end where :func:`encode` may rewrite its colour encoding (not
    in one that embeds an ICC profile or keeps every default); ``ValueError`` when it is not one."""
    if not codestream.startswith(CODESTREAM):
        raise ValueError("not a JPEG XL codestream")
    b = _Bits(codestream[2:HEADER_BYTES])
    width, height = b.size()
    if b.bool():  # all default: 8-bit sRGB, coded in XYB
        return Header(width, height)
    orientation, animation = 1, False
    extra_fields = b.bool()
    if extra_fields:
        orientation = 1 + b.u(3)
        if b.bool():
            b.size()  # intrinsic size
        if b.bool():  # a preview
            if b.bool():
                b.u32((16, 0), (32, 0), (1, 5), (33, 9))
                if not b.u(3):
                    b.u32((16, 0), (32, 0), (1, 5), (33, 9))
            else:
                b.u32((1, 6), (65, 8), (321, 10), (1345, 12))
                if not b.u(3):
                    b.u32((1, 6), (65, 8), (321, 10), (1345, 12))
        animation = b.bool()
        if animation:
            b.u32((100, 0), (1000, 0), (1, 10), (1, 30))  # ticks per second: numerator,
            b.u32((1, 0), (1001, 0), (1, 8), (1, 10))  # denominator
            b.u32((0, 0), (0, 3), (0, 16), (0, 32))  # loops
            b.bool()  # timecodes
    depth_at = 16 + b.at  # (after the signature's two bytes)
    bits, float_samples = b.bit_depth()
    depth_end = 16 + b.at
    b.bool()  # modular 16-bit buffers
    alpha = False
    for _ in range(b.u32((0, 0), (1, 0), (2, 4), (1, 12))):  # extra channels
        if b.bool():  # all default: an alpha channel
            alpha = True
            continue
        kind = b.enum()
        b.bit_depth()
        b.u32((0, 0), (3, 0), (4, 0), (1, 3))  # dimension shift
        b.u(8 * b.u32((0, 0), (0, 4), (16, 5), (48, 10)))  # name
        if kind == ALPHA_CHANNEL:
            b.bool()  # premultiplied
            alpha = True
        elif kind == SPOT_CHANNEL:
            for _ in range(4):
                b.f16()
        elif kind == CFA_CHANNEL:
            b.u32((1, 0), (0, 2), (3, 4), (19, 8))
    xyb = b.bool()
    common = dict(width=width, height=height, orientation=orientation, bits=bits, float_samples=float_samples,
                  alpha=alpha, xyb=xyb, animation=animation, depth_at=depth_at, depth_end=depth_end)
    colour_at = 16 + b.at
    colours: dict = {}
    if not b.bool():  # not the colour encoding's defaults (sRGB)
        icc = b.bool()
        space = b.enum()
        if icc:  # the ICC profile follows the header
            return Header(**common, icc=True, colour_space=space, white=None, primaries=None, transfer="unknown")
        white, primaries = None, None
        if space != XYB:
            w = b.enum()
            white = b.xy() if w == 2 else WHITE_POINTS.get(w)
            if space != GREY:
                p = b.enum()
                primaries = (b.xy(), b.xy(), b.xy()) if p == 2 else PRIMARIES.get(p)
        transfer: float | str = b.u(24) / 1e7 if b.bool() else TRANSFERS.get(b.enum(), "unknown")
        b.enum()  # rendering intent
        colours = dict(colour_space=space, white=white, primaries=primaries, transfer=transfer)
    colour_end = 16 + b.at
    b.tail(extra_fields, xyb)
    return Header(**common, **colours, colour_at=colour_at, colour_end=colour_end, end=16 + b.at)


def lossy_kind(head: bytes) -> str:
    """The lossy compression of the JPEG XL file starting with ``head`` (its first 64 KiB), as
    :func:`liif_core.imageio.lossy_compression` names it: "recompressed JPEG" for a JPEG recompressed without
    loss (its pixels are that JPEG's), "lossy JPEG XL" for one coded in XYB (libjxl's lossy mode), else ''."""
    try:
        parts = layout(head, whole=False)
        if parts.jpeg:
            return "recompressed JPEG"
        return "lossy JPEG XL" if header(parts.codestream).xyb else ""
    except ValueError:
        return ""


def reconstructed_jpeg(data: bytes) -> bytes | None:
    """The JPEG file a JPEG XL file recompressed, byte for byte, or ``None`` if it holds none."""
    import imagecodecs

    try:
        if not layout(data).jpeg:
            return None
        return bytes(imagecodecs.jpegxl_decode_jpeg(data, numthreads=1))
    except (ValueError, RuntimeError):
        return None


def read(path: Path, data: bytes) -> tuple[np.ndarray, bytes | None, bytes | None]:
    """The pixels of the JPEG XL file ``data`` (read from ``path``) upright, as H x W x C ``uint8``, ``uint16``
    or ``float32``; the ICC profile that describes them (``None`` for sRGB); its EXIF (a TIFF structure)."""
    import imagecodecs

    try:
        parts = layout(data)
        head = header(parts.codestream)
        finer = _twelve_bits(parts.codestream, head) if head.icc and head.xyb else None
        arr = imagecodecs.jpegxl_decode(finer or data, index=0 if head.animation else None, numthreads=1)
    except (ValueError, RuntimeError) as e:  # imagecodecs.JpegxlError is a RuntimeError, not its only one
        raise InputError(f"{path}: cannot read this JPEG XL file ({e})") from None
    if head.animation:
        warnings.warn(f"{path}: is an animation; only the first frame is upscaled", stacklevel=3)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.dtype == np.float16:
        arr = arr.astype(np.float32)
    if head.icc and head.xyb:  # decoded to linear sRGB
        head = replace(head, icc=False, white=WHITE_POINTS[D65], primaries=PRIMARIES[SRGB_PRIMARIES], transfer="linear")
        if arr.dtype.kind == "u":
            top = 4095 if finer else (1 << head.bits) - 1
            arr = _srgb_encoded(arr, top, np.dtype(np.uint8 if head.bits <= 8 else np.uint16))
            head = replace(head, transfer="sRGB")
    elif arr.dtype.kind == "u" and head.bits not in (8, 16):  # given as stored, 0..2**bits - 1
        arr = np.round(arr * (np.iinfo(arr.dtype).max / ((1 << head.bits) - 1))).astype(arr.dtype)
    return arr, _profile(path, head, data), parts.exif


def _twelve_bits(codestream: bytes, head: Header) -> bytes | None:
    """The codestream of a lossy file whose header says 8 or 10 bits per sample, saying 12 instead, or
    ``None``. libjxl gives a lossy file that embeds a profile as linear light, in as many bits as the header
    says: 8 bits of linear light leave the shadows 8 levels where sRGB has 44 (measured on a dark gradient
    saved by cjxl at distance 1), 12 keep them all. A lossy (XYB) codestream's depth only says how to hand
    its pixels over; the field's two choice bits (8: 0, 10: 1, 12: 2) are rewritten in place."""
    if not head.depth_at or head.float_samples or head.bits not in (8, 10):
        return None
    at = head.depth_at + 1  # after the float flag
    bits = bytearray(codestream)
    if (bits[at // 8] >> at % 8) & 1 != (head.bits == 10) or (bits[(at + 1) // 8] >> (at + 1) % 8) & 1:
        return None  # the depth written another way (1 + 6 bits): left as it is
    bits[at // 8] &= ~(1 << at % 8)
    bits[(at + 1) // 8] |= 1 << (at + 1) % 8
    return bytes(bits)


def _srgb_encoded(arr: np.ndarray, top: int, dtype: np.dtype) -> np.ndarray:
    """Integer linear-light colour of the range 0..``top`` (alpha alike) encoded with sRGB's curve, as ``dtype``
    (its whole range)."""
    colour = 1 if arr.shape[2] <= 2 else 3
    scale = float(np.iinfo(dtype).max)
    out = np.empty(arr.shape, dtype)
    out[..., :colour] = np.round(srgb_encode(torch.from_numpy(arr[..., :colour] / top)).numpy() * scale)
    out[..., colour:] = np.round(arr[..., colour:] * (scale / top))
    return out


def _embedded_profile(data: bytes) -> tuple[bytes | None, str]:
    """The ICC profile a JPEG XL file embeds in its header (entropy-coded there), through libjxl as the package
    ``pillow-jxl-plugin`` binds it (which decodes the pixels again, in 8 bits: only the profile is kept); or
    ``None`` and why not."""
    try:
        from pillow_jxl import Decoder
    except ImportError:
        return None, "it needs the package pillow-jxl-plugin: run install.py again"
    try:
        return bytes(Decoder(num_threads=1)(data)[3] or b"") or None, "the file holds none"
    except RuntimeError as e:
        return None, f"pillow-jxl-plugin could not read it: {e}"


def _profile(path: Path, head: Header, data: bytes) -> bytes | None:
    """An ICC profile for what the decoded pixels of the JPEG XL file ``data`` hold: the file's own for one stored
    without loss, one made from the colour space its header names, ``None`` for sRGB or where none can be made
    (with a warning that says what the result lacks)."""
    if head.srgb:
        return None
    if head.icc:
        embedded, why = _embedded_profile(data)
        if embedded is None:
            warnings.warn(f"{path}: its colour profile cannot be read ({why}); the result is written without one "
                          "(viewers will show its colours as sRGB)", stacklevel=4)
        return embedded
    curve = _curve(head.transfer)
    if curve is None or head.white is None or (head.colour_space != GREY and head.primaries is None):
        hdr = " (HDR video's)" if head.transfer in ("PQ", "HLG") else ""
        warnings.warn(f"{path}: its colours are encoded with the {head.transfer} transfer curve{hdr}, which an ICC "
                      "profile here cannot describe; the result is written without one, its values as stored",
                      stacklevel=4)
        return None
    primaries = None if head.colour_space == GREY else head.primaries
    return colour_profile(Colours(head.white, primaries, head.transfer))


def colour_profile(colours: Colours) -> bytes:
    """An ICC profile (LittleCMS's) of ``colours``, a colour space a JPEG XL header can name."""
    import imagecodecs

    white, curve = [*colours.white, 1.0], _curve(colours.transfer)
    if colours.primaries is None:
        return imagecodecs.cms_profile("gray", whitepoint=white, **curve)
    primaries = [v for xy in colours.primaries for v in (*xy, 1.0)]
    return imagecodecs.cms_profile("rgb", whitepoint=white, primaries=primaries, **curve)


def _curve(transfer: float | str) -> dict | None:
    """``cms_profile``'s arguments for a transfer function: encoded values to linear light."""
    if isinstance(transfer, float):
        return {"gamma": 1 / transfer}
    if transfer == "linear":
        return {"gamma": 1.0}
    x = np.linspace(0, 1, 1024)
    if transfer == "sRGB":
        linear = srgb_decode(torch.from_numpy(x)).numpy()
    elif transfer == "BT.709":
        linear = np.where(x < 0.081, x / 4.5, ((x + 0.099) / 1.099) ** (1 / 0.45))
    elif transfer == "DCI":
        linear = x ** 2.6
    else:
        return None
    return {"transferfunction": linear.astype(np.float32)}


# ---------------------------------------------------------------------------------------------
# writing

SAME_COLOURS = 0.002  # the largest difference (0..1) a profile may make from a header's colour space to be it
D50 = (0.3457, 0.3585)
# The colour spaces images are made in (primaries, white), and their transfer curves: a profile is named by the
# first pair and curve that make its colours (Display P3, Adobe RGB, ProPhoto, Rec. 2020, ACEScg, Krita's "elle"
# profiles)
KNOWN_SPACES = (
    (PRIMARIES[SRGB_PRIMARIES], WHITE_POINTS[D65]),
    (PRIMARIES[11], WHITE_POINTS[D65]),  # Display P3
    (((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)), WHITE_POINTS[D65]),  # Adobe RGB (1998), ClayRGB
    (PRIMARIES[9], WHITE_POINTS[D65]),  # Rec. 2020
    (((0.7347, 0.2653), (0.1596, 0.8404), (0.0366, 0.0001)), D50),  # ProPhoto (ROMM RGB)
    (((0.7347, 0.2653), (0.1152, 0.8264), (0.1566, 0.0177)), D50),  # Wide Gamut RGB
    (((0.713, 0.293), (0.165, 0.830), (0.128, 0.044)), (0.32168, 0.33767)),  # ACEScg
)
KNOWN_TRANSFERS: tuple[float | str, ...] = ("sRGB", "linear", 1 / 2.2, 256 / 563, 1 / 1.8, "BT.709")


def distance(quality: int) -> float:
    """libjxl's distance for a quality of 1-100, as cjxl maps it: 90 is distance 1.0 (the default of cjxl and
    of GIMP's export), 100 is 0.1."""
    return 0.1 + (100 - quality) * 0.09 if quality >= 30 else 53 / 3000 * quality ** 2 - 23 / 20 * quality + 25


def srgb(grey: bool) -> Colours:
    """sRGB (grey: its white and curve), what an image without a profile holds."""
    return Colours(WHITE_POINTS[D65], None if grey else PRIMARIES[SRGB_PRIMARIES], "sRGB")


@functools.lru_cache(maxsize=16)  # asked before the work and when writing; a batch's photos share their profiles
def colours_of(icc: bytes | None, grey: bool) -> Colours | None:
    """The colour space a JPEG XL header names for pixels the ICC profile ``icc`` describes (``None``: sRGB's):
    the first of :data:`KNOWN_SPACES` with one of :data:`KNOWN_TRANSFERS` whose colours it makes to within
    :data:`SAME_COLOURS`; ``None`` for any other profile (a printer's, a camera's measured one...)."""
    import imagecodecs

    if icc is None:
        return srgb(grey)
    if grey:
        samples = np.linspace(0, 1, 33, dtype=np.float32).reshape(1, -1)
        spaces = [(None, white) for white in dict.fromkeys(white for _, white in KNOWN_SPACES)]
    else:
        steps = np.linspace(0, 1, 9, dtype=np.float32)
        samples = np.stack(np.meshgrid(steps, steps, steps), axis=-1).reshape(1, -1, 3)
        spaces = list(KNOWN_SPACES)
    space = "gray" if grey else "rgb"
    for primaries, white in spaces:
        for transfer in KNOWN_TRANSFERS:
            colours = Colours(white, primaries, transfer)
            try:
                got = imagecodecs.cms_transform(samples, icc, colour_profile(colours), colorspace=space,
                                                outcolorspace=space)
            except (RuntimeError, ValueError):  # not a profile of this kind of pixels, or not one at all
                return None
            if float(np.abs(got - samples).max()) <= SAME_COLOURS:
                return colours
    return None


def encode(arr: np.ndarray, quality: int | None = None, exif: bytes | None = None,
           colours: Colours | None = None) -> bytes:
    """A JPEG XL file of ``arr`` (H x W x C: grey, grey and alpha, RGB, RGBA; ``uint8``, ``uint16`` or
    ``float32``, floats beyond 0..1 kept) whose header names ``colours`` (default: sRGB), the colour space its
    pixels are in (:func:`colours_of`).

    ``quality`` None: without loss, every sample as given; else lossy (libjxl's VarDCT, at cjxl's quality 1-100:
    :func:`distance`), from the pixels as linear-light sRGB (colours beyond sRGB's as values beyond 0..1), which
    decoders turn back into ``colours``. ``exif``: a TIFF structure (as Pillow's ``Exif.tobytes()`` gives it,
    with or without ``Exif\\0\\0``), put in the container's ``Exif`` box."""
    import imagecodecs

    grey = arr.shape[2] <= 2
    colours = colours or srgb(grey)
    depth = None  # the bits per sample decoders are to hand over, where libjxl's header says others
    if quality is None:
        file = imagecodecs.jpegxl_encode(_planes(arr), lossless=True, numthreads=_threads())
    else:
        if arr.dtype != np.uint8 or colours != srgb(grey):  # libjxl codes 8 bits as sRGB, the rest as linear sRGB
            depth = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}.get(arr.dtype)  # (floats stay floats)
            arr = _linear_srgb(arr, colours)
        file = imagecodecs.jpegxl_encode(_planes(arr), lossless=False, distance=distance(quality),
                                         numthreads=_threads())
    parts = layout(file)
    codestream = parts.codestream
    head = header(codestream)
    if Colours(head.white, None if grey else head.primaries, head.transfer) != colours or depth:
        codestream = _rewritten(codestream, head, colours, depth)
    if codestream is parts.codestream and not exif:
        return bytes(file)
    return _container(codestream, exif, _box(file, b"jxll"))


def _planes(arr: np.ndarray) -> np.ndarray:
    """``arr`` as libjxl's call takes it: grey without its channel axis."""
    return arr[..., 0] if arr.shape[2] == 1 else np.ascontiguousarray(arr)


def _threads() -> int:
    return max(1, torch.get_num_threads())


def _linear_srgb(arr: np.ndarray, colours: Colours) -> np.ndarray:
    """``arr``'s colour in ``colours`` as float32 linear-light sRGB (grey: linear light), unbounded; alpha as
    0..1."""
    import imagecodecs

    out = arr.astype(np.float32)
    if arr.dtype.kind == "u":
        out /= np.iinfo(arr.dtype).max
    grey = arr.shape[2] <= 2
    linear = srgb(grey)._replace(transfer="linear")
    colour = 1 if grey else 3
    plane = out[..., 0] if grey else np.ascontiguousarray(out[..., :3])
    space = "gray" if grey else "rgb"
    converted = imagecodecs.cms_transform(plane, colour_profile(colours), colour_profile(linear), colorspace=space,
                                          outcolorspace=space, outdtype=np.float32)
    out[..., :colour] = converted.reshape(*arr.shape[:2], colour)
    return out


class _BitWriter:
    """Header fields as bits, least significant first (as :class:`_Bits` reads them)."""

    def __init__(self) -> None:
        self.value = 0
        self.length = 0

    def u(self, n: int, value: int) -> None:
        self.value |= value << self.length
        self.length += n

    def u32(self, value: int, *choices: tuple[int, int]) -> None:
        for choice, (offset, bits) in enumerate(choices):
            if 0 <= value - offset < 1 << bits:
                self.u(2, choice)
                self.u(bits, value - offset)
                return
        raise ValueError(f"{value} does not fit the field")

    def enum(self, value: int) -> None:
        self.u32(value, *ENUM)

    def xy(self, xy: tuple[float, float]) -> None:
        for v in (round(c * 1e6) for c in xy):
            self.u32(2 * v if v >= 0 else -2 * v - 1, *CUSTOM_XY)


def _rewritten(codestream: bytes, head: Header, colours: Colours, depth: int | None = None) -> bytes:
    """``codestream`` (as libjxl wrote it: no ICC profile, no preview) with its colour encoding naming ``colours``
    and, given ``depth``, its samples' bit depth that many bits of integers (a lossy file's: how decoders hand its
    pixels over). The header's other bits are kept; the frames move to the next whole byte after it."""
    if not head.end:
        raise ValueError("libjxl's header was not read to its end")
    parts = [(head.colour_at, head.colour_end, _colour_bits(colours))]
    if depth:
        bits = _BitWriter()
        bits.u(1, 0)  # integers
        bits.u32(depth, *INTEGER_BITS)
        parts.insert(0, (head.depth_at, head.depth_end, bits))
    old = int.from_bytes(codestream[:(head.end + 7) // 8], "little")
    out = _BitWriter()
    at = 0
    for start, end, bits in parts:
        out.u(start - at, old >> at & ((1 << (start - at)) - 1))
        out.u(bits.length, bits.value)
        at = end
    out.u(head.end - at, old >> at & ((1 << (head.end - at)) - 1))
    return out.value.to_bytes((out.length + 7) // 8, "little") + codestream[(head.end + 7) // 8:]


def _colour_bits(colours: Colours) -> _BitWriter:
    """A ColourEncoding bundle naming ``colours`` (no ICC profile; rendering intent relative, as libjxl's)."""
    out = _BitWriter()
    out.u(2, 0)  # not the defaults; no ICC profile
    out.enum(GREY if colours.primaries is None else RGB)
    white = {xy: key for key, xy in WHITE_POINTS.items()}.get(colours.white)
    out.enum(white or 2)
    if white is None:
        out.xy(colours.white)
    if colours.primaries is not None:
        primaries = {xy: key for key, xy in PRIMARIES.items()}.get(colours.primaries)
        out.enum(primaries or 2)
        if primaries is None:
            for xy in colours.primaries:
                out.xy(xy)
    if isinstance(colours.transfer, float):
        out.u(1, 1)
        out.u(24, round(colours.transfer * 1e7))
    else:
        out.u(1, 0)
        out.enum({name: key for key, name in TRANSFERS.items()}[colours.transfer])
    out.enum(1)
    return out


def _box(file: bytes, kind: bytes) -> bytes | None:
    """The whole box ``kind`` of a container file (its size and type included), or ``None``."""
    at = 0
    while file.startswith(CONTAINER) and at + 8 <= len(file):
        size = int.from_bytes(file[at:at + 4], "big")
        if file[at + 4:at + 8] == kind:
            return file[at:at + size]
        if size < 8:
            return None
        at += size
    return None


def _container(codestream: bytes, exif: bytes | None, level: bytes | None) -> bytes:
    """A JPEG XL container: the signature, the file type, the codestream's level (``jxll``, as libjxl wrote it,
    where it did), the EXIF and the codestream."""
    def box(kind: bytes, payload: bytes) -> bytes:
        return (8 + len(payload)).to_bytes(4, "big") + kind + payload

    parts = [CONTAINER, box(b"ftyp", b"jxl \0\0\0\0jxl "), level or b""]
    if exif:
        tiff = exif[6:] if exif.startswith(b"Exif\0\0") else exif
        parts.append(box(b"Exif", b"\0\0\0\0" + tiff))  # the TIFF header's offset, then the TIFF structure
    parts.append(box(b"jxlc", codestream))
    return b"".join(parts)
