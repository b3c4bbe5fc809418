"""What a file says besides its pixels: orientation, colour profile, EXIF and print resolution,
read by ``liif_core.imageio`` and kept by ``liif-upscale`` (against Pillow's own reading)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from liif_core.cli import main
from liif_core.imageio import (
    EXIF_IFD,
    GPS_IFD,
    ORIENTATION,
    PIXEL_X,
    PIXEL_Y,
    Metadata,
    read_image,
    read_image_and_metadata,
    write_image,
)

SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
CMYK_PROFILE = Path("/usr/share/color/icc/ghostscript/default_cmyk.icc")  # Debian's libgs-common
TAKEN = 0x9003  # DateTimeOriginal, in the Exif sub-directory


def camera_exif(orientation: int, size: tuple[int, int]) -> Image.Exif:
    """EXIF as a camera writes it: make, orientation, capture date and pixel size, a GPS tag."""
    exif = Image.Exif()
    exif[0x010F] = "Camera"
    exif[ORIENTATION] = orientation
    exif[0x0100] = size[0]  # a TIFF layout tag: meaningless for another file, never carried over
    exif[EXIF_IFD] = {TAKEN: "2024:05:06 07:08:09", PIXEL_X: size[0], PIXEL_Y: size[1]}
    exif[GPS_IFD] = {1: "N"}
    return exif


def pixels(h: int = 20, w: int = 30, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), np.uint8)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_pixels_are_read_upright_as_viewers_show_them(tmp_path: Path, orientation: int) -> None:
    path = tmp_path / "o.png"
    Image.fromarray(pixels()).save(path, exif=camera_exif(orientation, (30, 20)))
    with Image.open(path) as im:
        shown = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    image, metadata = read_image_and_metadata(path)
    assert np.array_equal(image, shown)
    assert ORIENTATION not in metadata.exif


def test_the_cli_keeps_profile_exif_and_resolution(tiny_model_path: Path, tmp_path: Path) -> None:
    """A phone photograph stored sideways (orientation 6) with an embedded profile: every output
    format is upright, twice the shown size, with the same profile, the capture date and GPS, the
    EXIF pixel size of the result and the same dpi; no orientation tag is left to turn it again."""
    src = tmp_path / "phone.jpg"
    Image.fromarray(pixels()).save(src, exif=camera_exif(6, (30, 20)), icc_profile=SRGB, dpi=(300, 300))
    for name in ("out.png", "out.jpg", "out.webp", "out.avif", "out.heic", "out.tif"):
        out = tmp_path / name
        assert main([str(src), "-o", str(out), "--scale", "2", "--model", str(tiny_model_path), "-q"]) == 0
        with Image.open(out) as im:
            assert im.size == (40, 60), name
            assert im.info.get("icc_profile") == SRGB, name
            exif = im.getexif()
            assert exif.get(0x010F) == "Camera" and ORIENTATION not in exif and exif.get(0x0100) != 30, name
            if name not in ("out.webp", "out.avif", "out.heic"):
                assert im.info["dpi"] == pytest.approx((300, 300), abs=0.02), name
            if name != "out.tif":  # libtiff writes no sub-directories
                sub = exif.get_ifd(EXIF_IFD)
                assert (sub[TAKEN], sub[PIXEL_X], sub[PIXEL_Y]) == ("2024:05:06 07:08:09", 40, 60), name
                assert exif.get_ifd(GPS_IFD) == {1: "N"}, name


def test_a_phones_heic_photograph_reads_upright_and_stays_heic(tiny_model_path: Path, tmp_path: Path) -> None:
    """HEIC, as phones save photographs: one taken sideways (HEIF stores the turn as a transform, which
    pillow-heif makes of the EXIF orientation) reads upright with its profile and EXIF; upscaled, it is
    written as HEIC again, upright, with both, at full colour resolution (4:4:4)."""
    src = tmp_path / "IMG_0001.HEIC"
    y, x = np.mgrid[0:20, 0:30]
    smooth = np.dstack([x * 8, y * 12, 255 - x * 4]).astype(np.uint8)  # HEVC keeps a gradient, not noise
    Image.fromarray(smooth).save(src, exif=camera_exif(6, (30, 20)).tobytes(), icc_profile=SRGB, quality=100)
    image, metadata = read_image_and_metadata(src)
    assert image.shape == (30, 20, 3) and metadata.icc_profile == SRGB and metadata.exif[0x010F] == "Camera"
    error = {turn: np.abs(image.astype(int) - np.rot90(smooth, turn)).mean() for turn in (-1, 1)}
    assert error[-1] < 6 < 40 < error[1], error  # orientation 6: shown turned a quarter clockwise
    assert main([str(src), "--out-dir", str(tmp_path / "big"), "--scale", "2", "--model", str(tiny_model_path),
                 "-q"]) == 0
    with Image.open(tmp_path / "big" / "IMG_0001.HEIC") as im:
        assert im.format == "HEIF" and im.size == (40, 60) and im.info.get("chroma") == 444
        assert im.info.get("icc_profile") == SRGB and im.getexif().get(0x010F) == "Camera"


def test_sixteen_bit_png_keeps_profile_and_exif(tmp_path: Path) -> None:
    """pypng writes 16-bit PNGs: the profile and EXIF go in as chunks that Pillow reads back."""
    src = tmp_path / "deep.png"
    image = np.random.default_rng(1).integers(0, 65536, (6, 5, 3), np.uint16)
    exif = {0x010F: "Camera", EXIF_IFD: {TAKEN: "2024:05:06 07:08:09", PIXEL_X: 1, PIXEL_Y: 1}}
    write_image(src, image, Metadata(icc_profile=SRGB, exif=exif, dpi=(72.0, 72.0)))
    back, metadata = read_image_and_metadata(src)
    assert back.dtype == np.uint16 and np.array_equal(back, image)
    assert metadata.icc_profile == SRGB and metadata.dpi == pytest.approx((72, 72), abs=0.02)
    assert metadata.exif[0x010F] == "Camera"
    assert metadata.exif[EXIF_IFD] == {TAKEN: "2024:05:06 07:08:09", PIXEL_X: 5, PIXEL_Y: 6}


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint16, np.float32])
def test_deep_tiffs_keep_their_samples_and_metadata(tmp_path: Path, channels: int, dtype: type) -> None:
    """16-bit and float TIFFs of every channel count, float values beyond 0..1 included, come back
    as written, with their profile (colour only), first-directory EXIF tags and resolution."""
    rng = np.random.default_rng(channels)
    if dtype == np.uint16:
        image = rng.integers(0, 65536, (6, 5, channels), np.uint16)
    else:
        image = (rng.random((6, 5, channels), dtype=np.float32) * 6 - 1).astype(np.float32)
    exif = {0x010E: "a scan", 0x013B: "Artist", 0x0131: "GIMP 3.0", 0x4746: 4}
    profile = SRGB if channels >= 3 else None
    write_image(tmp_path / "deep.tif", image, Metadata(icc_profile=profile, exif=exif, dpi=(300.0, 300.0)))
    back, metadata = read_image_and_metadata(tmp_path / "deep.tif")
    assert back.dtype == dtype and np.array_equal(back, image)
    assert metadata.icc_profile == profile and metadata.dpi == pytest.approx((300, 300))
    assert metadata.exif == exif  # the input's Software tag, not the writer's


def test_deep_tiffs_as_other_programs_write_them(tmp_path: Path) -> None:
    """Planar LZW with straight alpha, premultiplied alpha, white-is-zero grey, half floats, several
    pages: read as the pixels they stand for."""
    import tifffile

    rng = np.random.default_rng(5)
    rgba = rng.integers(0, 65536, (6, 7, 4), np.uint16)
    tifffile.imwrite(tmp_path / "planar.tif", rgba.transpose(2, 0, 1), photometric="rgb", planarconfig="separate",
                     extrasamples=["unassalpha"], compression="lzw", predictor=True)
    assert np.array_equal(read_image(tmp_path / "planar.tif"), rgba)

    rgba[..., 3] = rng.integers(1, 65536, (6, 7))
    premultiplied = rgba.copy()
    premultiplied[..., :3] = np.round(rgba[..., :3] * (rgba[..., 3:] / 65535)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "premultiplied.tif", premultiplied, photometric="rgb", extrasamples=["assocalpha"])
    straight = read_image(tmp_path / "premultiplied.tif").astype(np.int64)
    assert np.array_equal(straight[..., 3], rgba[..., 3])
    # straight colour, up to the premultiplied file's rounding (half a step, divided by alpha) and its own
    err = np.abs(straight[..., :3] - rgba[..., :3]) * (rgba[..., 3:] / 65535)
    assert err.max() <= 1

    grey = rng.integers(0, 65536, (4, 5), np.uint16)
    tifffile.imwrite(tmp_path / "white_is_zero.tif", grey, photometric="miniswhite")
    assert np.array_equal(read_image(tmp_path / "white_is_zero.tif")[..., 0], 65535 - grey)

    half = (rng.random((4, 5, 3)) * 4).astype(np.float16)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:
        tif.write(half, photometric="rgb")
        tif.write(half[::-1], photometric="rgb")
    with pytest.warns(UserWarning, match="has 2 pages; only the first"):
        got, metadata = read_image_and_metadata(tmp_path / "pages.tif")
    assert got.dtype == np.float32 and np.array_equal(got, half.astype(np.float32)) and metadata.half
    write_image(tmp_path / "half.tif", got, metadata)  # a result of half-float input: stored in half floats
    assert tifffile.imread(tmp_path / "half.tif").dtype == np.float16
    assert np.array_equal(read_image(tmp_path / "half.tif"), got)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_tiffs_thumbnail_is_no_page_of_its_own(tmp_path: Path, dtype: type) -> None:
    """GIMP 3.2 exports TIFFs with a second directory holding a 256 px thumbnail, marked as a reduced-resolution
    copy (NewSubfileType 1): read without a word about pages (8 bits through Pillow, 16 through tifffile)."""
    import tifffile

    rng = np.random.default_rng(3)
    image = rng.integers(0, np.iinfo(dtype).max, (6, 7, 3), dtype=dtype, endpoint=True)
    with tifffile.TiffWriter(tmp_path / "gimp.tif") as tif:
        tif.write(image, photometric="rgb")
        tif.write(np.zeros((219, 256, 3), np.uint8), photometric="rgb", subfiletype=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = read_image(tmp_path / "gimp.tif")
    assert got.dtype == dtype and np.array_equal(got, image)
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tif:  # two full pictures: still said
        tif.write(image, photometric="rgb")
        tif.write(image[::-1], photometric="rgb")
    with pytest.warns(UserWarning, match="has 2 (pages|frames); only the first"):
        assert np.array_equal(read_image(tmp_path / "pages.tif"), image)


def test_a_float_colour_tiff_pillow_cannot_open_keeps_its_metadata(tmp_path: Path) -> None:
    """Turned upright by its orientation tag; its profile and resolution (in centimetres) kept."""
    import tifffile

    image = np.random.default_rng(6).random((4, 6, 3), dtype=np.float32) * 3
    tifffile.imwrite(tmp_path / "hdr.tif", image, photometric="rgb", iccprofile=SRGB, resolution=(40, 40),
                     resolutionunit="CENTIMETER", extratags=[(ORIENTATION, "H", 1, 6, True)], metadata=None)
    with pytest.raises(OSError):
        Image.open(tmp_path / "hdr.tif")
    back, metadata = read_image_and_metadata(tmp_path / "hdr.tif")
    assert np.array_equal(back, np.rot90(image, -1))
    assert metadata.icc_profile == SRGB and metadata.dpi == pytest.approx((101.6, 101.6))
    assert ORIENTATION not in (metadata.exif or {})


def test_a_profile_that_does_not_fit_the_pixels_is_left_out(tmp_path: Path) -> None:
    grey_profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    src = tmp_path / "lab.png"
    Image.fromarray(pixels()).save(src, icc_profile=grey_profile)
    with pytest.warns(UserWarning, match="colour profile"):
        image, metadata = read_image_and_metadata(src)
    assert metadata.icc_profile is None and image.shape == (20, 30, 3)


@pytest.mark.skipif(not CMYK_PROFILE.is_file(),
                    reason="needs the CMYK profile of Debian's libgs-common (tests/hosts/setup_hosts.sh installs it)")
def test_cmyk_is_converted_through_its_profile(tmp_path: Path) -> None:
    """A print-ready CMYK JPEG becomes the sRGB pixels its profile means (as LittleCMS converts
    it), closer to the colours it was made from than Pillow's plain conversion, and the CMYK
    profile does not travel to the RGB result."""
    icc = CMYK_PROFILE.read_bytes()
    y, x = np.mgrid[0:20, 0:30]
    original = np.stack([80 + 3 * x, 90 + 4 * y, 170 - 2 * x - y], axis=-1).astype(np.uint8)  # muted: in gamut
    rgb = Image.fromarray(original)
    cmyk = ImageCms.profileToProfile(rgb, ImageCms.createProfile("sRGB"), str(CMYK_PROFILE), outputMode="CMYK")
    src = tmp_path / "print.jpg"
    cmyk.save(src, icc_profile=icc, quality=100)
    image, metadata = read_image_and_metadata(src)
    with Image.open(src) as im:
        expected = ImageCms.profileToProfile(im, str(CMYK_PROFILE), ImageCms.createProfile("sRGB"), outputMode="RGB")
        naive = np.asarray(im.convert("RGB"))
    assert np.array_equal(image, np.asarray(expected)) and metadata.icc_profile is None
    error = {name: np.abs(got.astype(int) - original).mean() for name, got in (("ours", image), ("naive", naive))}
    assert error["ours"] < 4 < error["naive"], error


def test_metadata_a_format_will_not_take_costs_only_the_metadata(tmp_path: Path) -> None:
    out = tmp_path / "x.png"
    with pytest.warns(UserWarning, match="without the input's metadata"):
        write_image(out, pixels(), Metadata(exif={0x010F: object()}))
    assert np.array_equal(read_image(out), pixels())


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("half", [False, True])
def test_openexr_keeps_values_precision_and_attributes(tmp_path: Path, channels: int, half: bool) -> None:
    """OpenEXR pictures of every channel count come back as written, HDR values included, in half
    floats where the input had them, with its header attributes; alpha is stored premultiplied, as
    the format means it."""
    import OpenEXR

    rng = np.random.default_rng(channels)
    image = (rng.random((6, 5, channels), dtype=np.float32) * 6 - 1).astype(np.float32)
    if channels in (2, 4):
        image[..., -1] = rng.random((6, 5), dtype=np.float32) * 0.9 + 0.1
    if half:
        image = image.astype(np.float16).astype(np.float32)
    attributes = {"owner": "studio", "comments": "beauty pass", "compression": OpenEXR.DWAA_COMPRESSION}
    write_image(tmp_path / "a.exr", image, Metadata(attributes=attributes, half=half))
    back, metadata = read_image_and_metadata(tmp_path / "a.exr")
    assert back.dtype == np.float32 and back.shape == image.shape and metadata.half == half
    np.testing.assert_allclose(back, image, rtol=2e-3 if half else 1e-6, atol=1e-6)
    assert metadata.attributes["owner"] == "studio" and metadata.attributes["comments"] == "beauty pass"
    assert metadata.attributes["compression"] == OpenEXR.ZIP_COMPRESSION  # lossy DWAA: not for a result
    stored = OpenEXR.File(str(tmp_path / "a.exr"), separate_channels=True).channels()
    names = {1: "Y", 2: "YA", 3: "RGB", 4: "RGBA"}[channels]
    assert sorted(stored) == sorted(names)
    assert {c.pixels.dtype for c in stored.values()} == {np.dtype(np.float16 if half else np.float32)}
    if channels in (2, 4):
        np.testing.assert_allclose(stored[names[0]].pixels.astype(np.float32), image[..., 0] * image[..., -1],
                                   rtol=2e-3 if half else 1e-6, atol=1e-6)


def test_openexr_layers_and_what_cannot_be_upscaled(tmp_path: Path) -> None:
    """Krita names its layer's channels (``paint.R``); of several layers the first is read with a
    warning; a file without colour, or with integer channels, says so."""
    import OpenEXR

    from liif_core.errors import InputError

    rgb = np.random.default_rng(8).random((4, 5, 3), dtype=np.float32) * 3
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    layer = {f"paint.{c}": rgb[..., i].copy() for i, c in enumerate("RGB")}
    OpenEXR.File(header, layer).write(str(tmp_path / "krita.exr"))
    assert np.array_equal(read_image(tmp_path / "krita.exr"), rgb)
    both = {**layer, **{f"zz.{c}": rgb[..., i] * 2 for i, c in enumerate("RGB")}}
    OpenEXR.File(header, both).write(str(tmp_path / "layers.exr"))
    with pytest.warns(UserWarning, match="2 colour layers.*only paint"):
        assert np.array_equal(read_image(tmp_path / "layers.exr"), rgb)
    OpenEXR.File(header, {"Z": rgb[..., 0].copy()}).write(str(tmp_path / "depth.exr"))
    with pytest.raises(InputError, match="no R, G, B or Y channels .*Z"):
        read_image(tmp_path / "depth.exr")
    ids = {c: rgb[..., 0].astype(np.uint32) for c in "RGB"}
    OpenEXR.File(header, ids).write(str(tmp_path / "ids.exr"))
    with pytest.raises(InputError, match="integers"):
        read_image(tmp_path / "ids.exr")


def test_radiance_hdr_reads_its_shared_exponents_and_exposure(tmp_path: Path) -> None:
    """A flat Radiance file made by hand: each pixel is its mantissas times 2 ** (exponent - 136),
    divided by the header's EXPOSURE; what ``write_image`` writes reads back within the format's
    precision (1/128 of a pixel's brightest channel), colour below 0 stored as 0 with a warning."""
    from liif_core.errors import InputError

    pixels_ = np.array([[[128, 64, 32, 129], [255, 0, 0, 140]], [[0, 0, 0, 0], [200, 100, 50, 120]]], np.uint8)
    head = b"#?RADIANCE\nEXPOSURE=2.0\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 2\n"
    (tmp_path / "made.hdr").write_bytes(head + pixels_.tobytes())
    want = pixels_[..., :3] * 2.0 ** (pixels_[..., 3:].astype(int) - 136) * (pixels_[..., 3:] > 0) / 2.0
    got = read_image(tmp_path / "made.hdr")
    assert got.dtype == np.float32 and got.shape == (2, 2, 3)
    np.testing.assert_allclose(got, want, rtol=0.5 / 128, atol=0)  # a reader may add half a mantissa step

    light = (np.random.default_rng(9).random((7, 40, 3)) ** 3 * 50 - 0.5).astype(np.float32)
    with pytest.warns(UserWarning, match="no colour below 0"):
        write_image(tmp_path / "env.hdr", light)
    back = read_image(tmp_path / "env.hdr")
    clipped = light.clip(0, None)
    assert np.all(np.abs(back - clipped) <= clipped.max(axis=-1, keepdims=True) / 128 + 1e-30)
    with pytest.raises(InputError, match="Radiance HDR has no transparency"):
        write_image(tmp_path / "alpha.hdr", np.ones((2, 2, 4), np.float32))


@pytest.mark.parametrize("outer, inner", [("-Y", "+X"), ("+Y", "+X"), ("-Y", "-X"), ("+Y", "-X"),
                                          ("+X", "-Y"), ("+X", "+Y"), ("-X", "-Y"), ("-X", "+Y")])
def test_radiance_hdr_comes_upright_from_any_of_its_orientations(tmp_path: Path, outer: str, inner: str) -> None:
    """The format stores scanlines in one of eight orientations, named by its resolution line (``-Y 2 +X 3``:
    rows from the top, each from the left; Radiance's Y points up; ``+X 3 -Y 2``: columns as scanlines):
    each reads back as the same upright picture. The decoder alone knows only the first."""
    upright = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4) * 5 + 1
    upright[..., 3] = 129  # the shared exponent
    stored = upright
    if "+Y" in (outer, inner):
        stored = stored[::-1]
    if "-X" in (outer, inner):
        stored = stored[:, ::-1]
    if outer[1] == "X":
        stored = stored.transpose(1, 0, 2)
    counts = {"Y": 2, "X": 3}
    head = f"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n{outer} {counts[outer[1]]} {inner} {counts[inner[1]]}\n".encode()
    (tmp_path / "turned.hdr").write_bytes(head + np.ascontiguousarray(stored).tobytes())
    (tmp_path / "upright.hdr").write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 2 +X 3\n" + upright.tobytes())
    got, want = read_image(tmp_path / "turned.hdr"), read_image(tmp_path / "upright.hdr")
    assert got.shape == want.shape == (2, 3, 3) and np.array_equal(got, want)
    assert len(np.unique(want.reshape(-1, 3), axis=0)) == 6  # every pixel differs: a turn would show


@pytest.mark.parametrize("name, head", [("scan.tif", b"II*\0"), ("render.exr", b"v/1\x01"),
                                        ("sky.hdr", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 5 +X 5\n")])
def test_damaged_deep_files_say_so_once(tmp_path: Path, name: str, head: bytes,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from liif_core.errors import InputError

    (tmp_path / name).write_bytes(head + b"\xff" * 40)
    with pytest.raises(InputError) as e:
        read_image(tmp_path / name)
    assert str(e.value).count(str(tmp_path / name)) == 1 and "cannot read this" in str(e.value)
    assert capsys.readouterr().err == ""


def test_a_header_that_says_billions_of_pixels_is_refused_in_one_line(tmp_path: Path) -> None:
    """A damaged (or hostile) header: a BMP that says 100000 x 100000 (Pillow's decompression-bomb guard), a
    16-bit TIFF that says 2**31 pixels wide (tifffile asks for 240 GiB). Each is one line a batch goes on
    from, not a traceback that ends it."""
    import struct

    import tifffile

    from liif_core.errors import InputError

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "big.bmp")
    data = bytearray((tmp_path / "big.bmp").read_bytes())
    data[18:26] = struct.pack("<ii", 100000, 100000)  # width, height
    (tmp_path / "big.bmp").write_bytes(data)
    tifffile.imwrite(tmp_path / "wide.tif", np.zeros((20, 30, 3), np.uint16), photometric="rgb")
    data = bytearray((tmp_path / "wide.tif").read_bytes())
    ifd = int.from_bytes(data[4:8], "little")
    for entry in range(ifd + 2, ifd + 2 + 12 * int.from_bytes(data[ifd:ifd + 2], "little"), 12):
        if data[entry:entry + 2] == struct.pack("<H", 256):  # ImageWidth, made a LONG of 2**31 - 1
            data[entry + 2:entry + 4], data[entry + 8:entry + 12] = struct.pack("<H", 4), struct.pack("<I", 2**31 - 1)
    (tmp_path / "wide.tif").write_bytes(data)
    for name in ("big.bmp", "wide.tif"):
        with pytest.raises(InputError, match=f"{name}: cannot read this image: it is too large"):
            read_image(tmp_path / name)
    from liif_core.imageio import suffix_of

    assert suffix_of((tmp_path / "big.bmp").read_bytes()) is None  # piped in: "no image that can be read"


def test_damaged_files_of_every_format_fail_in_one_line(tmp_path: Path) -> None:
    """Bytes changed in the header or anywhere, files cut short, in every format read here: each file reads, or
    fails with the one-line error a batch goes on from (a fixed sample of what fuzzing 18000 such files found:
    Pillow's bomb guard, tifffile's allocations and cut directories, OpenEXR's and libjxl's errors)."""
    import random

    from liif_core.errors import InputError
    from liif_core.imageio import Metadata, lossy_compression, write_image
    from plugin.common.model_choice import lossy_kind

    rng = np.random.default_rng(0)
    seeds = []
    for name, arr in (("a.png", pixels(20, 30)), ("b.png", (pixels(20, 30).astype(np.uint16) * 257)),
                      ("c.jpg", pixels(20, 30)), ("d.webp", pixels(20, 30)), ("e.avif", pixels(20, 30)),
                      ("f.heic", pixels(20, 30)), ("g.tif", pixels(20, 30).astype(np.uint16) * 257),
                      ("h.tif", rng.random((20, 30, 4), dtype=np.float32) * 3), ("i.exr", rng.random((20, 30, 4),
                      dtype=np.float32)), ("j.hdr", rng.random((20, 30, 3), dtype=np.float32)),
                      ("k.tif", pixels(20, 30))):
        write_image(tmp_path / name, arr, Metadata(), quality=80 if name.endswith(".webp") else None)
        seeds.append(tmp_path / name)
    for name in ("l.bmp", "m.gif"):  # formats read here, not written
        Image.fromarray(pixels(20, 30)).save(tmp_path / name)
        seeds.append(tmp_path / name)
    seeds += sorted((Path(__file__).parent / "data" / "jxl").glob("*.jxl"))
    pick = random.Random(4)
    outcomes: dict[str, set[str]] = {}
    for i in range(600):
        seed = seeds[i % len(seeds)]
        data = bytearray(seed.read_bytes())
        for _ in range(pick.randint(1, 4)):
            data[pick.randrange(0, min(len(data), pick.choice([64, 400, len(data)])))] = pick.randrange(256)
        path = tmp_path / f"damaged{i}{seed.suffix}"
        path.write_bytes(bytes(data[:pick.randrange(1, len(data))] if pick.random() < 0.3 else data))
        lossy_compression(path), lossy_kind(str(path))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                read_image(path)
            outcomes.setdefault(seed.suffix, set()).add("read")
        except InputError as e:
            assert str(e).startswith(str(path)), e
            outcomes.setdefault(seed.suffix, set()).add("error")
    assert all(outcomes[s] == {"read", "error"} for s in (".png", ".tif", ".bmp", ".jxl")), outcomes
