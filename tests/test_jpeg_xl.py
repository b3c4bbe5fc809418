"""JPEG XL inputs: pixels as libjxl decodes them, the colour space and metadata from the file itself; and the
JPEG XL files written here (``write_image``, the CLI's ``.jxl`` outputs).

The files in tests/data/jxl were written by libjxl's own encoder (cjxl, ``tests/data/jxl/make.py``) from
:func:`pattern` (the lossy ones from :func:`smooth` and :func:`dark`); others here by libjxl through imagecodecs.
"""

from __future__ import annotations

import io
import sys
import warnings
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
from PIL import Image, ImageCms

from liif_core import jpeg_xl
from liif_core.cli import main
from liif_core.errors import InputError
from liif_core.imageio import (
    EXIF_IFD,
    PIXEL_X,
    PIXEL_Y,
    Metadata,
    lossy_compression,
    read_image,
    read_image_and_metadata,
    suffix_of,
    write_image,
)

DATA = Path(__file__).resolve().parent / "data" / "jxl"
EXIF_TAGS = {0x010F: "Camera maker", 0x0132: "2026:01:02 03:04:05"}
P3_GAMMA = [0.680, 0.320, 1.0, 0.265, 0.690, 1.0, 0.150, 0.060, 1.0]  # the primaries of icc.png's profile


def pattern(dtype: type = np.uint8) -> np.ndarray:
    """The 24 x 16 RGB picture the files in tests/data/jxl hold."""
    values = np.random.default_rng(7).integers(0, 65536, (16, 24, 3))
    return (values >> 8).astype(np.uint8) if dtype == np.uint8 else values.astype(np.uint16)


def smooth() -> np.ndarray:
    """The 24 x 16 RGB picture of the lossy files in tests/data/jxl: gradients, which lossy coding keeps close."""
    y, x = np.mgrid[0:16, 0:24]
    return np.stack([x * 10 + 10, y * 14 + 20, 240 - x * 4 - y * 6], axis=-1).astype(np.uint8)


def dark() -> np.ndarray:
    """A 64 x 96 RGBA picture of gentle gradients in the shadows (sRGB levels 4 to 54) behind a ramp of alpha."""
    y, x = np.mgrid[0:64, 0:96]
    rgb = np.stack([4 + x * 0.5, 8 + y * 0.6, 50 - x * 0.3 - y * 0.2], axis=-1)
    return np.dstack([rgb, 255 - x * 2]).round().astype(np.uint8)


def read(name: str | Path) -> tuple[np.ndarray, object, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        arr, metadata = read_image_and_metadata(DATA / name)
    return arr, metadata, [str(w.message) for w in caught]


def srgb_from(linear_rgb: np.ndarray) -> np.ndarray:
    """Linear sRGB values (0..1) as 8-bit sRGB."""
    v = np.clip(linear_rgb, 0, 1)
    return np.round(255 * np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055))


def linear_from_srgb(encoded: np.ndarray) -> np.ndarray:
    v = encoded / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def xyz_matrix(primaries: list[tuple[float, float]], white: tuple[float, float]) -> np.ndarray:
    """RGB to XYZ for these chromaticities (the textbook construction)."""
    xyz = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    w = np.array([white[0] / white[1], 1.0, (1 - white[0] - white[1]) / white[1]])
    return xyz * np.linalg.solve(xyz, w)


def in_srgb(arr: np.ndarray, icc: bytes) -> np.ndarray:
    """``arr`` (8-bit) converted from ``icc`` to sRGB by LittleCMS, as a colour-managed viewer shows it."""
    im = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr)
    srgb = ImageCms.createProfile("sRGB")
    return np.asarray(ImageCms.profileToProfile(im, io.BytesIO(icc), srgb, outputMode="RGB")).astype(float)


def test_a_wide_gamut_file_keeps_its_colours_through_a_profile_made_from_its_header() -> None:
    """A Display P3 file names its colour space in its header; the result carries an ICC profile of it, so
    a viewer shows the same colours: converted to sRGB, they are the textbook P3 -> sRGB conversion."""
    arr, metadata, caught = read("p3.jxl")
    assert caught == []
    assert np.array_equal(arr, pattern())  # stored without loss: the samples as they were
    p3 = xyz_matrix([(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)], (0.3127, 0.3290))
    srgb = xyz_matrix([(0.64, 0.33), (0.30, 0.60), (0.15, 0.06)], (0.3127, 0.3290))
    expected = srgb_from(linear_from_srgb(arr.astype(float)) @ (np.linalg.inv(srgb) @ p3).T)
    shown = in_srgb(arr, metadata.icc_profile)
    assert np.abs(shown - expected).max() <= 2
    assert np.abs(shown - arr).max() > 20  # P3's numbers are not sRGB's: without the profile they would look wrong


def test_a_grey_file_with_a_gamma_gets_a_grey_profile_of_that_gamma() -> None:
    arr, metadata, caught = read("gamma_grey.jxl")
    assert caught == [] and np.array_equal(arr, pattern()[..., :1])
    shown = in_srgb(arr, metadata.icc_profile)[..., 0]
    expected = srgb_from((arr[..., 0] / 255.0) ** 2.2)
    assert np.abs(shown - expected).max() <= 2


def test_an_embedded_icc_profile_lossless_and_lossy() -> None:
    """Stored without loss, the samples are in the file's embedded ICC profile, which the result keeps (the very
    profile the PNG given to cjxl held, made again here). Coded lossy (in XYB), libjxl converts them to linear
    sRGB itself, which reading encodes as sRGB: no profile needed, the colours as in the original."""
    original = imagecodecs.cms_profile("rgb", whitepoint=[0.3127, 0.3290, 1.0], primaries=P3_GAMMA, gamma=2.2)
    arr, metadata, caught = read("icc.jxl")
    assert caught == [] and np.array_equal(arr, pattern())
    assert np.array_equal(in_srgb(arr, metadata.icc_profile), in_srgb(arr, original))  # (its date is another)
    lossy, metadata, caught = read("icc_lossy.jxl")
    assert caught == [] and metadata.icc_profile is None
    assert np.abs(lossy - in_srgb(smooth(), original)).mean() < 2
    assert np.abs(lossy.astype(float) - smooth()).mean() > 5  # the P3 numbers differ from sRGB's


def test_a_lossy_file_with_a_profile_keeps_the_levels_of_its_shadows() -> None:
    """libjxl gives such a file's pixels as linear light, in as many bits as its header says: 8 bits of linear
    light would leave 8 levels of this gradient's green where the original, shown in sRGB, has 44. Read with
    12, every level is there; the alpha ramp (stored without loss) within a level."""
    arr, metadata, caught = read("icc_lossy_dark.jxl")
    assert caught == [] and metadata.icc_profile is None and arr.dtype == np.uint8
    original = imagecodecs.cms_profile("rgb", whitepoint=[0.3127, 0.3290, 1.0], primaries=P3_GAMMA, gamma=2.2)
    shown = in_srgb(dark()[..., :3], original)
    assert len(np.unique(arr[..., 1])) >= len(np.unique(shown[..., 1])) - 2
    assert np.abs(arr[..., :3] - shown).mean() < 1 and np.abs(arr[..., :3] - shown).max() <= 6
    assert np.abs(arr[..., 3].astype(int) - dark()[..., 3]).max() <= 1


def test_a_recompressed_jpeg_reads_as_that_jpeg_with_its_exif() -> None:
    """cjxl recompresses a JPEG without loss; the file gives that JPEG back byte for byte, read as a JPEG
    file is: its EXIF kept, turned upright by its orientation (6: the pixels stored turned)."""
    arr, metadata, caught = read("jpeg.jxl")
    assert caught == []
    jpeg = Image.open(io.BytesIO(jpeg_xl.reconstructed_jpeg((DATA / "jpeg.jxl").read_bytes())))
    assert jpeg.format == "JPEG" and jpeg.getexif()[0x0112] == 6
    assert np.array_equal(arr, np.rot90(np.asarray(jpeg), -1))
    assert np.abs(arr.astype(int) - np.rot90(smooth(), -1)).mean() < 3  # the JPEG of the picture, turned
    assert {tag: metadata.exif[tag] for tag in EXIF_TAGS} == EXIF_TAGS and 0x0112 not in metadata.exif
    assert lossy_compression(DATA / "jpeg.jxl") == "recompressed JPEG"  # auto: the model made for JPEG


def test_the_orientation_in_the_image_header_turns_the_pixels() -> None:
    arr, metadata, caught = read("turned_lossy.jxl")
    assert caught == [] and arr.shape == (24, 16, 3)
    assert np.abs(arr.astype(int) - np.rot90(smooth(), -1)).mean() < 4  # turned a quarter clockwise,
    assert np.abs(arr.astype(int) - np.rot90(smooth(), 1)).mean() > 20  # not anticlockwise
    assert lossy_compression(DATA / "turned_lossy.jxl") == "lossy JPEG XL"


def test_twelve_bits_fill_the_sixteen_bit_range_as_other_deep_files() -> None:
    arr, _, caught = read("twelve_bits.jxl")
    assert caught == [] and arr.dtype == np.uint16
    twelve = np.round(pattern(np.uint16) * (4095 / 65535))  # what cjxl kept of the 16-bit samples
    assert np.abs(arr.astype(int) - np.round(twelve * 65535 / 4095)).max() <= 1


def test_without_pillow_jxl_plugin_an_embedded_profile_is_left_out_with_a_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An environment made before the package was a dependency: the pixels still read, the profile says what to do."""
    monkeypatch.setitem(sys.modules, "pillow_jxl", None)  # as if not installed: importing it fails
    arr, metadata, caught = read("icc.jxl")
    assert np.array_equal(arr, pattern()) and metadata.icc_profile is None
    assert len(caught) == 1 and "pillow-jxl-plugin" in caught[0] and "install.py" in caught[0]


def test_an_animation_gives_its_first_frame_and_hdr_says_what_it_lacks() -> None:
    arr, _, caught = read("animation.jxl")
    assert arr.shape[:2] == (16, 24) and caught == [f"{DATA / 'animation.jxl'}: is an animation; only the first "
                                                    "frame is upscaled"]
    arr, metadata, caught = read("pq.jxl")
    assert np.array_equal(arr, pattern()) and metadata.icc_profile is None
    assert len(caught) == 1 and "PQ" in caught[0]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_what_libjxl_writes_reads_back_as_stored(tmp_path: Path, dtype: type, channels: int) -> None:
    """imagecodecs tags 8-bit files sRGB and deeper ones linear sRGB: the linear ones get a linear profile."""
    rgb = pattern(np.uint16 if dtype != np.uint8 else np.uint8)
    arr = np.dstack([rgb, rgb[..., :1]])[..., :channels] if channels != 1 else rgb[..., :1]
    arr = arr.astype(np.float32) / 65535 if dtype == np.float32 else arr
    path = tmp_path / "x.jxl"
    path.write_bytes(imagecodecs.jpegxl_encode(arr[..., 0] if channels == 1 else arr, lossless=True))
    got, metadata = read_image_and_metadata(path)
    assert got.dtype == np.dtype(dtype) and np.array_equal(got, arr)
    head = jpeg_xl.header(jpeg_xl.layout(path.read_bytes()).codestream)
    assert (head.alpha, head.xyb, head.transfer) == (channels == 4, False, "sRGB" if dtype == np.uint8 else "linear")
    if dtype == np.uint8:
        assert metadata.icc_profile is None
    else:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(metadata.icc_profile)).profile
        assert profile.xcolor_space.strip() == ("GRAY" if channels == 1 else "RGB")
        grey = np.full((1, 1, min(channels, 3)), 128, np.uint8)  # linear light's half is sRGB's 188
        assert np.abs(in_srgb(grey, metadata.icc_profile) - srgb_from(np.full(3, 128 / 255))).max() <= 1
    assert lossy_compression(path) == ""


def test_the_cli_reads_jpeg_xl_files_and_piped_ones(tiny_model_path: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    capsysbinary: pytest.CaptureFixture) -> None:
    """A folder's .jxl files are inputs; the results are PNGs unless --format says otherwise (a JPEG XL input may
    hold what a written one cannot name: PQ, any ICC profile), the P3 one with its profile."""
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("p3.jxl", "jpeg.jxl"):
        (folder / name).write_bytes((DATA / name).read_bytes())
    assert main([str(folder), "--out-dir", str(tmp_path / "out"), "--scale", "2", "--model", str(tiny_model_path),
                 "-q"]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["jpeg.png", "p3.png"]
    big = Image.open(tmp_path / "out" / "p3.png")
    assert big.size == (48, 32) and big.info["icc_profile"] == read_image_and_metadata(DATA / "p3.jxl")[1].icc_profile
    assert Image.open(tmp_path / "out" / "jpeg.png").size == (32, 48)  # upright
    assert suffix_of((DATA / "p3.jxl").read_bytes()) == ".jxl"
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO((DATA / "p3.jxl").read_bytes())))
    capsysbinary.readouterr()
    assert main(["-", "-o", "-", "--scale", "2", "--model", str(tiny_model_path), "-q"]) == 0
    assert Image.open(io.BytesIO(capsysbinary.readouterr().out)).size == (48, 32)


def linear_profile(grey: bool) -> bytes:
    """An ICC profile of linear-light sRGB (grey: of linear light), as Krita's -g10 profiles are."""
    return jpeg_xl.colour_profile(jpeg_xl.Colours(D65, None if grey else SRGB, 1.0))


D65, D50 = (0.3127, 0.3290), (0.3457, 0.3585)
SRGB = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
# the profiles of the written files (grey images take their white and curve): their headers' colour spaces
SPACES = {"none": None,
          "linear": jpeg_xl.Colours(D65, SRGB, "linear"),
          "display-p3": jpeg_xl.Colours(D65, ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)), "sRGB"),
          "adobe-rgb": jpeg_xl.Colours(D65, ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06)), 256 / 563),
          "prophoto": jpeg_xl.Colours(D50, ((0.7347, 0.2653), (0.1596, 0.8404), (0.0366, 0.0001)), 1 / 1.8)}


def space_profile(space: str, grey: bool) -> bytes | None:
    colours = SPACES[space]
    return None if colours is None else jpeg_xl.colour_profile(colours._replace(primaries=None) if grey else colours)


def same_colours(icc: bytes | None, other: bytes | None, grey: bool) -> bool:
    """Whether two profiles (None: sRGB) make the same colours, within half an 8-bit level."""
    srgb = jpeg_xl.colour_profile(jpeg_xl.srgb(grey))
    steps = np.linspace(0, 1, 9, dtype=np.float32)
    samples = steps.reshape(1, -1) if grey else np.stack(np.meshgrid(steps, steps, steps), axis=-1).reshape(1, -1, 3)
    space = "gray" if grey else "rgb"
    a, b = (imagecodecs.cms_transform(samples, p or srgb, srgb, colorspace=space, outcolorspace=space)
            for p in (icc, other))
    return float(np.abs(a - b).max()) <= 0.002


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("space", list(SPACES))
def test_written_files_hold_every_sample_and_name_their_colour_space(tmp_path: Path, dtype: type, channels: int,
                                                                     space: str) -> None:
    """Without loss (no quality): every sample as given, HDR floats too; the header names the colour space of the
    image's profile (sRGB without one; libjxl alone names every 8-bit file sRGB and every 16-bit and float one
    linear sRGB, seen above): read back, its colours are the original's. libjxl's own reader (pillow-jxl-plugin,
    8-bit) takes the files."""
    rgb = pattern(np.uint16 if dtype != np.uint8 else np.uint8)
    arr = np.dstack([rgb, rgb[..., :1]])[..., :channels] if channels != 2 else np.dstack([rgb[..., :1], rgb[..., 1:2]])
    arr = arr.astype(np.float32) / 65535 * 3 - 1 if dtype == np.float32 else arr  # -1..2
    grey = channels <= 2
    icc = space_profile(space, grey)
    path = tmp_path / "x.jxl"
    write_image(path, arr, Metadata(icc_profile=icc))
    got, metadata = read_image_and_metadata(path)
    assert got.dtype == arr.dtype and np.array_equal(got, arr)
    head = jpeg_xl.header(jpeg_xl.layout(path.read_bytes()).codestream)
    assert (head.xyb, head.alpha, head.colour_space) == (False, channels in (2, 4), jpeg_xl.GREY if grey else 0)
    assert (metadata.icc_profile is None) == (space == "none" or grey and space == "display-p3")  # grey: sRGB's
    assert same_colours(metadata.icc_profile, icc, grey)
    if dtype == np.uint8 and space == "none":
        with Image.open(path) as im:  # pillow-jxl-plugin, registered by liif_core.jpeg_xl's reading
            assert np.array_equal(np.asarray(im).reshape(arr.shape), arr)


@pytest.mark.parametrize("space", ["none", "display-p3", "adobe-rgb"])
def test_lossy_files_keep_the_picture_at_every_depth(tmp_path: Path, space: str) -> None:
    """With a quality: libjxl's lossy coding, from the pixels as linear-light sRGB where they are not 8-bit sRGB,
    the header naming the colour space they were in and their depth, which libjxl decodes them back to: a 16-bit
    and a float picture come back as close as an 8-bit one, in any of these colour spaces, each at its depth.
    libjxl handed 16-bit samples as they are would take them for linear sRGB, and they would come back far off."""
    picture = dark()
    icc = space_profile(space, False)
    deep = {"uint8": picture, "uint16": picture.astype(np.uint16) * 257,
            "float32": picture.astype(np.float32) / 255}
    for name, arr in deep.items():
        path = tmp_path / f"{name}.jxl"
        write_image(path, arr, Metadata(icc_profile=icc), quality=90)
        assert lossy_compression(path) == "lossy JPEG XL"
        got, metadata = read_image_and_metadata(path)
        assert same_colours(metadata.icc_profile, icc, False) and (metadata.icc_profile is None) == (space == "none")
        assert got.dtype == arr.dtype, name  # the header says the depth it was written from
        levels = got * 255 if got.dtype == np.float32 else got / (np.iinfo(got.dtype).max / 255)
        assert np.abs(levels - picture).mean() < 1.0, name
    naive = imagecodecs.jpegxl_decode(imagecodecs.jpegxl_encode(deep["uint16"], lossless=False, distance=1.0))
    assert np.abs(srgb_from(naive[..., :3] / 65535) - picture[..., :3]).mean() > 20
    hdr = np.full((16, 16, 3), [2.0, 0.5, -0.25], np.float32)
    write_image(tmp_path / "hdr.jxl", hdr, Metadata(icc_profile=linear_profile(False)), quality=90)
    assert np.abs(read_image(tmp_path / "hdr.jxl") - hdr).max() < 0.02


def test_a_written_file_keeps_the_exif_with_the_new_size(tmp_path: Path) -> None:
    """EXIF goes into the container's Exif box, the image size in it updated; libjxl's own reader sees it."""
    metadata = Metadata(exif={0x010F: "Camera maker", EXIF_IFD: {PIXEL_X: 24, PIXEL_Y: 16, 0x829A: (1, 200)}})
    big = np.repeat(np.repeat(pattern(), 2, axis=0), 2, axis=1)
    path = tmp_path / "photo.jxl"
    write_image(path, big, metadata)
    got, read_back = read_image_and_metadata(path)
    assert np.array_equal(got, big)
    assert read_back.exif[0x010F] == "Camera maker"
    assert (read_back.exif[EXIF_IFD][PIXEL_X], read_back.exif[EXIF_IFD][PIXEL_Y]) == (48, 32)
    with Image.open(path) as im:
        assert im.getexif()[0x010F] == "Camera maker" and np.array_equal(np.asarray(im), big)


def test_a_colour_space_a_written_file_cannot_name_is_refused_before_the_work(
        tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """A JPEG XL file names its colour space in its header here: a profile it names none of (odd primaries) is
    refused with a message before the image is upscaled, where an sRGB profile is as good as none and a Display
    P3 one is named. --format jxl with --quality writes lossy files."""
    odd = jpeg_xl.colour_profile(jpeg_xl.Colours(D65, ((0.66, 0.33), (0.28, 0.62), (0.14, 0.07)), 1 / 2.0))
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(pattern()).save(folder / "odd.png", icc_profile=odd)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pattern()).save(folder / "plain.png", icc_profile=srgb)
    Image.fromarray(pattern()).save(folder / "wide.png", icc_profile=space_profile("display-p3", False))
    args = ["--scale", "2", "--model", str(tiny_model_path), "-q"]
    assert main([str(folder / "odd.png"), "-o", str(tmp_path / "odd.jxl"), *args]) == 1
    err = capsys.readouterr().err
    assert "odd.jxl: a JPEG XL file names its colour space" in err and ".png" in err, err
    assert not (tmp_path / "odd.jxl").exists()
    with pytest.raises(InputError, match="is none it can name"):
        write_image(tmp_path / "direct.jxl", pattern(), Metadata(icc_profile=odd))
    assert main([str(folder), "--out-dir", str(tmp_path / "out"), "--format", "jxl", "--quality", "80", *args]) == 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["plain.jxl", "wide.jxl"]
    got, metadata = read_image_and_metadata(tmp_path / "out" / "plain.jxl")
    assert got.shape == (32, 48, 3) and metadata.icc_profile is None
    assert lossy_compression(tmp_path / "out" / "plain.jxl") == "lossy JPEG XL"
    head = jpeg_xl.header(jpeg_xl.layout((tmp_path / "out" / "wide.jxl").read_bytes()).codestream)
    assert head.primaries == SPACES["display-p3"].primaries and head.transfer == "sRGB"


@pytest.mark.parametrize("cut", [0, 14, 40])
def test_a_damaged_file_says_so(tmp_path: Path, cut: int) -> None:
    data = (DATA / "jpeg.jxl").read_bytes()
    path = tmp_path / "broken.jxl"
    path.write_bytes(data[:cut] if cut else data[:12] + b"\0\0\0\x08jxlc")  # cut; an empty codestream box
    with pytest.raises(InputError, match="broken.jxl: cannot read this"):
        read_image(path)


def test_damaged_files_raise_only_the_one_line_error(tmp_path: Path) -> None:
    """Bytes changed in the boxes and header, files cut short: each reads, or fails with the one-line error
    (libjxl's RuntimeErrors, and pillow-jxl-plugin's once Pillow knows JPEG XL, included); telling its kind for
    ``auto`` never fails, in the CLI or in the plug-ins."""
    import pillow_jxl  # noqa: F401  (as after a file with an embedded profile: Pillow then opens JPEG XL too)

    from plugin.common.model_choice import lossy_kind as plugin_kind

    rng = np.random.default_rng(5)
    files = sorted(DATA.glob("*.jxl"))
    outcomes = set()
    for i in range(150):
        data = bytearray(files[i % len(files)].read_bytes())
        for at in rng.integers(0, min(len(data), 300), rng.integers(1, 5)):
            data[at] = rng.integers(0, 256)
        path = tmp_path / f"{i}.jxl"
        path.write_bytes(bytes(data[:rng.integers(2, len(data))] if i % 3 == 0 else data))
        lossy_compression(path), plugin_kind(str(path))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # what a damaged file's header says (an animation...)
                read_image(path)
            outcomes.add("read")
        except InputError as e:
            assert str(e).startswith(f"{path}: cannot read this"), e
            outcomes.add("error")
    assert outcomes == {"read", "error"}
