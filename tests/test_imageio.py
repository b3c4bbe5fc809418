"""What a file says besides its pixels: orientation, colour profile, EXIF and print resolution,
read by ``liif_core.imageio`` and kept by ``liif-upscale`` (against Pillow's own reading)."""

from __future__ import annotations

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
    for name in ("out.png", "out.jpg", "out.webp", "out.tif"):
        out = tmp_path / name
        assert main([str(src), "-o", str(out), "--scale", "2", "--model", str(tiny_model_path), "-q"]) == 0
        with Image.open(out) as im:
            assert im.size == (40, 60), name
            assert im.info.get("icc_profile") == SRGB, name
            exif = im.getexif()
            assert exif.get(0x010F) == "Camera" and ORIENTATION not in exif and exif.get(0x0100) != 30, name
            if name != "out.webp":
                assert im.info["dpi"] == pytest.approx((300, 300), abs=0.02), name
            if name != "out.tif":  # libtiff writes no sub-directories
                sub = exif.get_ifd(EXIF_IFD)
                assert (sub[TAKEN], sub[PIXEL_X], sub[PIXEL_Y]) == ("2024:05:06 07:08:09", 40, 60), name
                assert exif.get_ifd(GPS_IFD) == {1: "N"}, name


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
