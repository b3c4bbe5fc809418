"""``liif-upscale`` on real files: sizes, formats, batches and bad inputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from liif_core.cli import main
from liif_core.errors import LiifError
from liif_core.imageio import read_image, write_image


@pytest.fixture
def images(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "in"
    folder.mkdir()
    Image.fromarray(rng.integers(0, 256, (10, 16, 3), np.uint8)).save(folder / "rgb.png")
    Image.fromarray(rng.integers(0, 256, (9, 7, 4), np.uint8)).save(folder / "rgba.png")
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), np.uint8)).save(folder / "photo.jpg")
    write_image(folder / "deep.png", rng.integers(0, 65536, (6, 5, 4), np.uint16))
    return folder


def run(tiny_model_path, *args):
    return main([*args, "--model", str(tiny_model_path), "-q"])


@pytest.mark.parametrize("args, size", [
    (["--scale", "2"], (32, 20)),
    (["--scale", "2.5x1.5"], (40, 15)),
    (["-s", "3"], (48, 30)),
    (["--size", "50x31"], (50, 31)),
    (["--width", "40"], (40, 25)),
    (["--height", "15"], (24, 15)),
    (["--width", "33", "--height", "12"], (33, 12)),
])
def test_sizes(tiny_model_path, images, tmp_path, args, size):
    out = tmp_path / "out.png"
    assert run(tiny_model_path, str(images / "rgb.png"), "-o", str(out), *args) == 0
    assert Image.open(out).size == size


@pytest.mark.parametrize("args, says", [
    (["--width", "0"], "--width is a whole number of pixels, 1 or more, got '0'"),
    (["--width", "0", "--height", "10"], "--width is a whole number"),  # was: 0 taken for "not given"
    (["--height", "-3"], "--height is a whole number of pixels, 1 or more, got '-3'"),
    (["--width", "12.5"], "--width is a whole number"),
    (["--size", "0x10"], "--size is in pixels, 1 or more, got '0x10'"),
])
def test_sizes_that_are_no_sizes_say_so(tiny_model_path, images, tmp_path, args, says, capsys):
    with pytest.raises(SystemExit) as e:
        run(tiny_model_path, str(images / "rgb.png"), "-o", str(tmp_path / "out.png"), *args)
    assert e.value.code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_batch_keeps_alpha_and_16_bits(tiny_model_path, images, tmp_path):
    out = tmp_path / "out"
    assert run(tiny_model_path, str(images), "--out-dir", str(out), "--scale", "2") == 0
    assert sorted(p.name for p in out.iterdir()) == ["deep.png", "photo.jpg", "rgb.png", "rgba.png"]
    assert Image.open(out / "rgba.png").mode == "RGBA"
    deep = read_image(out / "deep.png")
    assert deep.dtype == np.uint16 and deep.shape == (12, 10, 4)


def test_self_ensemble_option(tiny_model_path, images, tmp_path):
    import liif_core

    src = read_image(images / "rgba.png")
    assert run(tiny_model_path, str(images / "rgba.png"), "-o", str(tmp_path / "se.png"), "--size", "20x17",
               "--self-ensemble") == 0
    expected = liif_core.upscale(src, size=(20, 17), model=str(tiny_model_path), self_ensemble=True)
    assert np.array_equal(read_image(tmp_path / "se.png"), expected)
    # --views N: that many passes (4: the rotations), not the 8 of --self-ensemble
    assert run(tiny_model_path, str(images / "rgba.png"), "-o", str(tmp_path / "v4.png"), "--size", "20x17",
               "--views", "4") == 0
    four = liif_core.upscale(src, size=(20, 17), model=str(tiny_model_path), self_ensemble=4)
    assert np.array_equal(read_image(tmp_path / "v4.png"), four) and not np.array_equal(four, expected)


def test_linear_option(tiny_model_path, images, tmp_path):
    """``--linear`` upscales a linear-light image's colour in sRGB form (16 bits here, as a renderer's)."""
    import liif_core

    src = read_image(images / "deep.png")
    assert run(tiny_model_path, str(images / "deep.png"), "-o", str(tmp_path / "lin.png"), "--scale", "2",
               "--linear") == 0
    expected = liif_core.upscale(src, scale=2, model=str(tiny_model_path), linear=True)
    assert np.array_equal(read_image(tmp_path / "lin.png"), expected)
    assert not np.array_equal(expected, liif_core.upscale(src, scale=2, model=str(tiny_model_path)))


def test_precision_option(tiny_model_path, images, tmp_path):
    """``--precision`` reaches the decoder (16 bits, where bfloat16 rounding shows in the result)."""
    import liif_core

    src = read_image(images / "deep.png")
    assert run(tiny_model_path, str(images / "deep.png"), "-o", str(tmp_path / "bf.png"), "--scale", "2",
               "--precision", "bfloat16") == 0
    model = liif_core.load_model(tiny_model_path, device="cpu", precision="bfloat16")
    expected = liif_core.upscale(src, scale=2, model=model)
    assert np.array_equal(read_image(tmp_path / "bf.png"), expected)
    assert not np.array_equal(expected, liif_core.upscale(src, scale=2, model=str(tiny_model_path)))


def test_formats(tiny_model_path, images, tmp_path):
    for fmt, mode in (("webp", "RGBA"), ("avif", "RGBA"), ("heic", "RGBA"), ("tif", "RGBA"), ("png", "RGBA")):
        out = tmp_path / fmt
        assert run(tiny_model_path, str(images / "rgba.png"), "--out-dir", str(out), "--scale", "2",
                   "--format", fmt) == 0
        assert Image.open(out / f"rgba.{fmt}").mode == mode


def test_bad_inputs_do_not_stop_the_batch(tiny_model_path, images, tmp_path, capsys):
    (images / "broken.png").write_bytes(b"not an image")
    Image.new("RGB", (4, 4)).save(images / "z_small.png")
    out = tmp_path / "out"
    code = run(tiny_model_path, str(images / "broken.png"), str(images / "missing.png"), str(images / "rgb.png"),
               str(images / "rgba.png"), "--out-dir", str(out), "--scale", "2", "--format", "jpg")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert (out / "rgb.jpg").exists()
    assert len(err) == 3
    assert "broken.png: cannot read" in err[0] and "missing.png: no such file" in err[1]
    assert "JPEG has no transparency" in err[2]


def test_a_batch_never_replaces_its_own_output(tiny_model_path, images, tmp_path, capsys):
    """Two inputs of the same name (other folders, or x.jpg and x.png with --format) would write
    the same file: the second is refused, even with --overwrite, and the first result stays."""
    other = tmp_path / "other"
    other.mkdir()
    Image.fromarray(np.zeros((10, 16, 3), np.uint8)).save(other / "rgb.png")
    out = tmp_path / "out"
    code = run(tiny_model_path, str(images / "rgb.png"), str(other / "rgb.png"), str(images / "photo.jpg"),
               "--out-dir", str(out), "--scale", "2", "--overwrite")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "already holds the result of" in err[0] and str(other) in err[0]
    assert np.array_equal(read_image(out / "rgb.png"),
                          main_result(tiny_model_path, images / "rgb.png", tmp_path / "alone.png"))
    assert (out / "photo.jpg").exists()
    Image.open(images / "rgb.png").save(images / "rgb.webp", lossless=True)
    assert run(tiny_model_path, str(images / "rgb.png"), str(images / "rgb.webp"), "--out-dir", str(out),
               "--scale", "2", "--format", "png", "--overwrite") == 1
    assert "rgb.webp: its output" in capsys.readouterr().err


def main_result(tiny_model_path, src, out):
    """The result of upscaling ``src`` x2 on its own."""
    assert run(tiny_model_path, str(src), "-o", str(out), "--scale", "2") == 0
    return read_image(out)


def test_usage_errors(tiny_model_path, images, tmp_path):
    with pytest.raises(SystemExit) as e:
        run(tiny_model_path, str(images / "rgb.png"), "-o", str(tmp_path / "x.png"))
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        run(tiny_model_path, str(images), "--out-dir", str(tmp_path / "o"), "--scale", "2", "--format", "gif")
    assert e.value.code == 2 and not (tmp_path / "o").exists()
    assert run(tiny_model_path, str(images / "rgb.png"), "-o", str(tmp_path / "x.png"), "--scale", "0.5") == 1
    assert not (tmp_path / "x.png").exists()


def test_module_entry_point(tiny_model_path, images, tmp_path):
    out = tmp_path / "m.png"
    proc = subprocess.run([sys.executable, "-m", "liif_core", str(images / "rgb.png"), "-o", str(out),
                           "--scale", "3", "--model", str(tiny_model_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (48, 30)
    # not a terminal (a log, a pipe): no progress bars, one line per image
    assert "%|" not in proc.stderr and proc.stdout.strip() == f"{images / 'rgb.png'} -> {out} (48x30)"


def test_standard_input_and_output_make_a_pipeline(tiny_model_path, images, tmp_path):
    """``-`` reads the image from standard input and ``-o -`` writes the result to standard output,
    the same pixels as with files; messages go to standard error, so the output stays an image."""
    import io

    command = [sys.executable, "-m", "liif_core", "-", "-o", "-", "--model", str(tiny_model_path)]
    proc = subprocess.run(command + ["--scale", "2"], input=(images / "rgba.png").read_bytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr.decode().strip() == "<stdin> -> <stdout> (14x18)"
    assert run(tiny_model_path, str(images / "rgba.png"), "-o", str(tmp_path / "file.png"), "--scale", "2") == 0
    piped = np.asarray(Image.open(io.BytesIO(proc.stdout)))
    assert piped.shape == (18, 14, 4) and (piped == read_image(tmp_path / "file.png")).all()
    # a JPEG in, lossless WebP out (--format), a 16-bit PNG in and out
    proc = subprocess.run(command + ["--scale", "3", "--format", "webp"], input=(images / "photo.jpg").read_bytes(),
                          capture_output=True)
    assert proc.returncode == 0 and proc.stdout[:4] == b"RIFF", proc.stderr.decode()
    assert Image.open(io.BytesIO(proc.stdout)).size == (24, 24)
    proc = subprocess.run(command + ["--scale", "2"], input=(images / "deep.png").read_bytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    (tmp_path / "deep.png").write_bytes(proc.stdout)
    deep = read_image(tmp_path / "deep.png")
    assert deep.dtype == np.uint16 and deep.shape == (12, 10, 4)
    # standard input into a file, which is not replaced without --overwrite
    out = tmp_path / "from_stdin.png"
    for expected in (0, 1):
        proc = subprocess.run(command[:-4] + ["-o", str(out), "--scale", "2", "--model", str(tiny_model_path)],
                              input=(images / "rgb.png").read_bytes(), capture_output=True, text=False)
        assert proc.returncode == expected, proc.stderr.decode()
    assert Image.open(out).size == (32, 20) and b"exists" in proc.stderr
    # not an image: one line, nothing on standard output; "-" without -o is a usage error
    proc = subprocess.run(command + ["--scale", "2"], input=b"not an image", capture_output=True)
    assert proc.returncode == 1 and proc.stdout == b"" and b"standard input holds no image" in proc.stderr
    with pytest.raises(SystemExit) as e:
        run(tiny_model_path, "-", "--out-dir", str(tmp_path / "o"), "--scale", "2")
    assert e.value.code == 2


def test_16bit_png_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    for c in (1, 2, 3, 4):
        arr = rng.integers(0, 65536, (5, 4, c), np.uint16)
        write_image(tmp_path / f"{c}.png", arr)
        assert np.array_equal(read_image(tmp_path / f"{c}.png"), arr)


def test_unwritable_outputs_fail_before_the_work(tiny_model_path, images, tmp_path, capsys, monkeypatch):
    import liif_core.cli

    calls = []
    monkeypatch.setattr(liif_core.cli, "upscale", lambda *a, **k: calls.append(1))
    assert run(tiny_model_path, str(images / "rgb.png"), "-o", str(tmp_path / "x.gif"), "--scale", "2") == 1
    assert run(tiny_model_path, str(images / "rgba.png"), "-o", str(tmp_path / "x.jpg"), "--scale", "2") == 1
    err = capsys.readouterr().err
    assert "unknown output format" in err and "JPEG has no transparency" in err
    assert calls == [] and not list(tmp_path.glob("x.*"))


def test_gif_and_bmp_inputs_become_png_and_animations_warn(tiny_model_path, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    frames = [Image.new("RGB", (8, 6), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    Image.new("RGB", (5, 4), (0, 128, 0)).save(folder / "flat.bmp")
    out = tmp_path / "out"
    assert run(tiny_model_path, str(folder), "--out-dir", str(out), "--scale", "2") == 0
    assert sorted(p.name for p in out.iterdir()) == ["anim.png", "flat.png"]
    assert Image.open(out / "anim.png").size == (16, 12)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "anim.gif: has 2 frames; only the first is upscaled" in err[0]


def test_float_tiff_stays_float(tmp_path):
    arr = np.random.default_rng(2).random((6, 7, 1), dtype=np.float32)
    write_image(tmp_path / "f.tif", arr)
    back = read_image(tmp_path / "f.tif")
    assert back.dtype == np.float32 and np.array_equal(back, arr)


def test_float_tiff_keeps_hdr_values_beyond_0_1(tiny_model_path, tmp_path):
    arr = np.random.default_rng(4).random((6, 7, 1), dtype=np.float32)
    arr[1:4, 2:5] *= 10
    arr[5, :3] -= 0.5
    write_image(tmp_path / "hdr.tif", arr)
    assert run(tiny_model_path, str(tmp_path / "hdr.tif"), "-o", str(tmp_path / "big.tif"), "--scale", "2") == 0
    big = read_image(tmp_path / "big.tif")
    assert big.shape == (12, 14, 1) and big.max() > 5 and big.min() < -0.1


def test_sixteen_bit_colour_tiff_stays_sixteen_bit(tiny_model_path, tmp_path):
    """A 16-bit RGBA TIFF as an editor exports it (LZW): upscaled from all 16 bits, written in 16
    (Pillow alone read it as 8 bits, and could not write the result as TIFF)."""
    import tifffile

    from liif_core import upscale

    image = np.random.default_rng(7).integers(0, 65536, (6, 5, 4), np.uint16)
    tifffile.imwrite(tmp_path / "print.tif", image, photometric="rgb", extrasamples=["unassalpha"], compression="lzw")
    assert run(tiny_model_path, str(tmp_path / "print.tif"), "-o", str(tmp_path / "big.tif"), "--scale", "2") == 0
    big = read_image(tmp_path / "big.tif")
    assert big.dtype == np.uint16 and np.array_equal(big, upscale(image, scale=2, model=str(tiny_model_path)))
    assert len(np.unique(big[..., 0] % 257)) > 1  # not 8-bit values widened


def test_hdr_files_in_a_folder_keep_their_range_precision_and_header(tiny_model_path, tmp_path):
    """A folder with an OpenEXR render (half floats, premultiplied alpha, highlights up to 6) and a
    Radiance HDRI: each comes out in its own format, upscaled as ``liif_core.upscale`` does from the
    values as stored (linear light, as such files hold), highlights kept, the OpenEXR in half
    floats with its attributes; the same render through a pipe (its format told by its bytes)."""
    import OpenEXR

    from liif_core import upscale
    from liif_core.imageio import Metadata, read_image_and_metadata

    folder = tmp_path / "renders"
    folder.mkdir()
    rng = np.random.default_rng(12)
    render = (rng.random((8, 9, 4), dtype=np.float32) * [6, 6, 6, 1]).astype(np.float16).astype(np.float32)
    render[..., 3] = np.maximum(render[..., 3], 0.25)
    write_image(folder / "shot.exr", render, Metadata(attributes={"owner": "studio"}, half=True))
    write_image(folder / "sky.hdr", (rng.random((6, 10, 3), dtype=np.float32) * 20))
    out = tmp_path / "out"
    assert run(tiny_model_path, str(folder), "--out-dir", str(out), "--scale", "2") == 0
    assert sorted(p.name for p in out.iterdir()) == ["shot.exr", "sky.hdr"]
    image, _ = read_image_and_metadata(folder / "shot.exr")
    big, metadata = read_image_and_metadata(out / "shot.exr")
    assert big.shape == (16, 18, 4) and metadata.half and metadata.attributes["owner"] == "studio"
    want = upscale(image, scale=2, model=str(tiny_model_path))
    np.testing.assert_allclose(big, want, rtol=2e-3, atol=2e-3)  # half floats, premultiplied in the file
    assert big[..., :3].max() > 3
    sky = read_image(out / "sky.hdr")
    assert sky.shape == (12, 20, 3) and sky.max() > 10
    with pytest.warns(UserWarning, match="beyond 0..1 .HDR., which PNG cannot hold: stored clipped"):
        write_image(tmp_path / "sky.png", sky)  # the CLI prints it as a warning line

    command = [sys.executable, "-m", "liif_core", "-", "-o", "-", "--model", str(tiny_model_path), "--scale", "2",
               "--format", "exr"]
    proc = subprocess.run(command, input=(folder / "shot.exr").read_bytes(), capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    (tmp_path / "piped.exr").write_bytes(proc.stdout)
    assert np.array_equal(read_image(tmp_path / "piped.exr"), big)
    assert OpenEXR.File(str(tmp_path / "piped.exr")).header()["owner"] == "studio"


def test_a_crop_of_an_openexr_frame_stays_in_its_place(tiny_model_path, tmp_path):
    """A border render holds pixels for part of its frame: an OpenEXR data window (its pixels, at 10, 20)
    inside a display window (the 100 x 50 frame). Upscaled x2, the result is the data window's pixels
    upscaled, at 20, 40 in a 200 x 100 frame, where a compositor places it; a file whose windows are the
    picture itself keeps them so."""
    import OpenEXR

    from liif_core import upscale

    rng = np.random.default_rng(13)
    pixels = rng.random((3, 4, 3), dtype=np.float32) * 2
    corners = [np.array(c, np.int32) for c in ((10, 20), (13, 22), (0, 0), (99, 49))]
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
              "dataWindow": (corners[0], corners[1]), "displayWindow": (corners[2], corners[3])}
    channels = {name: np.ascontiguousarray(pixels[..., i]) for i, name in enumerate("RGB")}
    OpenEXR.File(header, channels).write(str(tmp_path / "border.exr"))
    write_image(tmp_path / "full.exr", pixels)
    assert run(tiny_model_path, str(tmp_path / "border.exr"), str(tmp_path / "full.exr"), "--out-dir",
               str(tmp_path / "out"), "--scale", "2") == 0
    result = OpenEXR.File(str(tmp_path / "out" / "border.exr"), separate_channels=True)
    windows = {key: [c.tolist() for c in result.header()[key]] for key in ("dataWindow", "displayWindow")}
    assert windows == {"dataWindow": [[20, 40], [27, 45]], "displayWindow": [[0, 0], [199, 99]]}
    want = upscale(pixels, scale=2, model=str(tiny_model_path))
    np.testing.assert_allclose(read_image(tmp_path / "out" / "border.exr"), want, rtol=1e-6, atol=1e-6)
    full = OpenEXR.File(str(tmp_path / "out" / "full.exr")).header()
    assert [c.tolist() for c in full["dataWindow"]] == [c.tolist() for c in full["displayWindow"]] == [[0, 0], [7, 5]]


def test_float64_is_written_like_float32(tmp_path):
    arr = np.random.default_rng(3).random((4, 5, 3))
    write_image(tmp_path / "d.png", arr)
    write_image(tmp_path / "s.png", arr.astype(np.float32))
    assert np.array_equal(read_image(tmp_path / "d.png"), read_image(tmp_path / "s.png"))
    with pytest.raises(LiifError, match="int64"):
        write_image(tmp_path / "i.png", np.zeros((2, 2, 3), np.int64))


def test_ctrl_c_stops_the_batch_with_a_line_and_whole_files(tiny_model_path, images, tmp_path, capsys, monkeypatch):
    """Ctrl-C during the second image: exit code 130, one line saying how far it got, the first
    result whole, no partial file of the second."""
    from liif_core import cli

    calls = []

    def interrupted_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    real = cli.upscale
    monkeypatch.setattr(cli, "upscale", interrupted_on_second)
    out = tmp_path / "out"
    code = run(tiny_model_path, str(images / "rgb.png"), str(images / "rgba.png"), str(images / "photo.jpg"),
               "--out-dir", str(out), "--scale", "2")
    assert code == 130
    assert capsys.readouterr().err.strip().splitlines() == ["liif-upscale: interrupted; 1 of 3 images written"]
    assert sorted(p.name for p in out.iterdir()) == ["rgb.png"]
    assert read_image(out / "rgb.png").shape == (20, 32, 3)


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    """A write that fails part-way (a full disk) keeps the file it was to replace and leaves no
    partial file behind."""
    target = tmp_path / "x.png"
    old = np.full((4, 4, 3), 7, np.uint8)
    write_image(target, old)

    def full_disk(self, fp, *args, **kwargs):
        Path(fp).write_bytes(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full_disk)
    with pytest.raises(OSError, match="No space"):
        write_image(target, np.zeros((8, 8, 3), np.uint8))
    monkeypatch.undo()
    assert np.array_equal(read_image(target), old)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_quality_of_jpeg_and_webp(tiny_model_path, images, tmp_path):
    """JPEG keeps full colour resolution (4:4:4) at quality 95 unless --quality says otherwise;
    WebP is lossless unless --quality asks for lossy."""
    from PIL import JpegImagePlugin

    src = str(images / "rgb.png")
    files = {}
    for name, extra in (("d.jpg", []), ("q40.jpg", ["--quality", "40"]), ("d.webp", []),
                        ("q80.webp", ["--quality", "80"]), ("d.png", [])):
        files[name] = tmp_path / name
        assert run(tiny_model_path, src, "-o", str(files[name]), "--scale", "4", *extra) == 0
    with Image.open(files["d.jpg"]) as im:
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
    assert files["q40.jpg"].stat().st_size < files["d.jpg"].stat().st_size
    exact = read_image(files["d.png"])
    assert np.array_equal(read_image(files["d.webp"]), exact)
    lossy = read_image(files["q80.webp"])
    assert lossy.shape == exact.shape and not np.array_equal(lossy, exact)
    with pytest.raises(SystemExit):
        run(tiny_model_path, src, "-o", str(tmp_path / "x.jpg"), "--scale", "2", "--quality", "0")


def test_a_deep_image_into_an_8_bit_format_is_reduced_with_a_warning(tiny_model_path, images, tmp_path, capsys):
    """JPEG and WebP hold 8 bits: asked for, they get the 16-bit result rounded to 8, and a line
    says so; PNG keeps the 16 bits."""
    assert run(tiny_model_path, str(images / "deep.png"), "-o", str(tmp_path / "deep.png"), "--scale", "2") == 0
    deep = read_image(tmp_path / "deep.png")
    assert run(tiny_model_path, str(images / "deep.png"), "-o", str(tmp_path / "deep.webp"), "--scale", "2") == 0
    assert "WEBP holds 8 bits per channel, so the 16-bit result is stored in 8" in capsys.readouterr().err
    reduced = read_image(tmp_path / "deep.webp")
    assert reduced.dtype == np.uint8
    assert np.array_equal(reduced, np.round(deep / 257).astype(np.uint8))


def test_recursive_folders_keep_their_tree_and_skip_the_output_folder(tiny_model_path, tmp_path, capsys):
    """--recursive takes the images of subfolders too and repeats the subfolders below --out-dir
    (two x.png in different subfolders are no clash there), hidden ones (a viewer's thumbnails)
    aside; an --out-dir inside the input folder is not read back as input on the next run."""
    root = tmp_path / "shots"
    for rel in ("a.png", "one/x.png", "two/x.png", "two/deeper/c.jpg", "notes.txt", ".thumbnails/a.png"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith(".txt"):
            (root / rel).write_text("not an image")
        else:
            Image.fromarray(np.full((6, 5, 3), len(rel), np.uint8)).save(root / rel)
    out = root / "big"

    def outputs():
        return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())

    assert run(tiny_model_path, str(root), "--out-dir", str(out), "--scale", "2") == 0
    assert outputs() == ["a.png"]
    for _ in range(2):  # the second run finds big/ inside shots/ and leaves it alone
        assert run(tiny_model_path, str(root), "--out-dir", str(out), "--scale", "2", "-r", "--overwrite") == 0
        assert outputs() == ["a.png", "one/x.png", "two/deeper/c.jpg", "two/x.png"]
    assert read_image(out / "two/deeper/c.jpg").shape == (12, 10, 3)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SystemExit) as e:
        run(tiny_model_path, str(empty), "--out-dir", str(out), "--scale", "2")
    assert e.value.code == 2 and "no images in" in capsys.readouterr().err


def test_list_models_names_each_with_what_it_is_for(capsys):
    from liif_core.weights import list_models, model_summaries

    assert main(["--list-models"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines] == list_models()  # the default first
    summaries = model_summaries()
    assert all(line == f"{name}\t{summaries[name]}".rstrip() for line, name in zip(lines, list_models()))
    assert summaries[list_models()[0]]  # the shipped default says what it is for


def test_jpeg_inputs_get_a_note_naming_the_model_made_for_them(tiny_model_path, images, tmp_path, capsys,
                                                                 monkeypatch):
    from liif_core import cli

    monkeypatch.setattr(cli, "jpeg_models", lambda: ["liif-edsr-jpeg"])
    note = "--model liif-edsr-jpeg is made for images saved as JPEG"
    args = ["--scale", "2", "--model", str(tiny_model_path)]
    assert main([str(images / "photo.jpg"), "-o", str(tmp_path / "a.png"), *args]) == 0
    assert note in capsys.readouterr().err
    assert main([str(images / "rgb.png"), "-o", str(tmp_path / "b.png"), *args]) == 0
    assert note not in capsys.readouterr().err  # not a JPEG
    assert main([str(images / "photo.jpg"), "-o", str(tmp_path / "c.png"), *args, "-q"]) == 0
    assert note not in capsys.readouterr().err  # quiet
    monkeypatch.setattr(cli, "jpeg_models", lambda: [tiny_model_path.stem])
    assert main([str(images / "photo.jpg"), "-o", str(tmp_path / "d.png"), *args]) == 0
    assert "note: JPEG" not in capsys.readouterr().err  # the model chosen is the one


def test_without_model_each_input_gets_the_model_made_for_it(images, tmp_path, capsys, monkeypatch):
    """``--model auto``, the default: JPEG files (also one piped in, told by its bytes), HEIC, AVIF and lossy
    WebP ones are upscaled with the bundled model made for JPEG files, other files (a lossless WebP among
    them) with the default, each loaded once;
    every line names the model; without a model for JPEG files, JPEGs get the default."""
    import io

    import liif_core
    from liif_core import cli
    from liif_core.weights import jpeg_models, list_models

    if not jpeg_models():
        pytest.skip("no bundled model made for JPEG files")
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", "1")
    default, for_jpeg = list_models()[0], jpeg_models()[0]
    loads = []
    real_load = cli.load_model
    monkeypatch.setattr(cli, "load_model", lambda name, *a: loads.append(name) or real_load(name, *a))
    out = tmp_path / "out"
    Image.open(images / "photo.jpg").save(images / "phone.heic")
    Image.open(images / "photo.jpg").save(images / "web.avif", quality=60)
    Image.open(images / "photo.jpg").save(images / "web.webp", quality=80)  # lossy
    Image.open(images / "rgb.png").save(images / "shot.webp", lossless=True)
    assert main([str(images / "photo.jpg"), str(images / "rgb.png"), str(images / "rgba.png"),
                 str(images / "phone.heic"), str(images / "web.avif"), str(images / "web.webp"),
                 str(images / "shot.webp"), "--out-dir", str(out), "--scale", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"{images / 'photo.jpg'} -> {out / 'photo.jpg'} (16x16, {for_jpeg})",
                     f"{images / 'rgb.png'} -> {out / 'rgb.png'} (32x20, {default})",
                     f"{images / 'rgba.png'} -> {out / 'rgba.png'} (14x18, {default})",
                     f"{images / 'phone.heic'} -> {out / 'phone.heic'} (16x16, {for_jpeg})",
                     f"{images / 'web.avif'} -> {out / 'web.avif'} (16x16, {for_jpeg})",
                     f"{images / 'web.webp'} -> {out / 'web.webp'} (16x16, {for_jpeg})",
                     f"{images / 'shot.webp'} -> {out / 'shot.webp'} (32x20, {default})"]
    assert sorted(loads) == sorted(["default", for_jpeg])  # each once
    photo = read_image(images / "photo.jpg")
    png = np.asarray(Image.open(images / "rgb.png"))
    with_jpeg_model = liif_core.upscale(photo, scale=2, model=for_jpeg)
    assert not np.array_equal(with_jpeg_model, liif_core.upscale(photo, scale=2, model="default"))
    write_image(tmp_path / "want.jpg", with_jpeg_model)  # the same JPEG encoding as the output's
    assert np.array_equal(read_image(out / "photo.jpg"), read_image(tmp_path / "want.jpg"))
    assert np.array_equal(read_image(out / "rgb.png"), liif_core.upscale(png, scale=2, model="default"))

    command = [sys.executable, "-m", "liif_core", "-", "-o", "-", "--scale", "2"]
    proc = subprocess.run(command, input=(images / "photo.jpg").read_bytes(), capture_output=True)
    assert proc.returncode == 0 and proc.stderr.decode().strip() == f"<stdin> -> <stdout> (16x16, {for_jpeg})"
    for piped, model in (("web.webp", for_jpeg), ("shot.webp", default)):  # a WebP piped in is read too
        webp = subprocess.run(command, input=(images / piped).read_bytes(), capture_output=True)
        assert webp.returncode == 0 and webp.stderr.decode().strip().endswith(f", {model})"), webp.stderr
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(proc.stdout))), with_jpeg_model)

    monkeypatch.setattr(cli, "jpeg_models", lambda: [])
    assert main([str(images / "photo.jpg"), "-o", str(tmp_path / "plain.png"), "--scale", "2"]) == 0
    assert capsys.readouterr().out.strip().endswith(f"(16x16, {default})")


def test_the_jpeg_model_on_other_inputs_gets_a_note_naming_the_default(tiny_model_path, images, tmp_path, capsys,
                                                                       monkeypatch):
    from liif_core import cli

    monkeypatch.setattr(cli, "jpeg_models", lambda: [tiny_model_path.stem])  # the model chosen is made for JPEG
    monkeypatch.setattr(cli, "list_models", lambda: ["liif-edsr", tiny_model_path.stem])
    note = ("no JPEG, HEIC, AVIF, lossy WebP or lossy JPEG XL inputs; the default model (liif-edsr, without --model) "
            "is sharper on them")
    args = ["--scale", "2", "--model", str(tiny_model_path)]
    assert main([str(images / "rgb.png"), "-o", str(tmp_path / "a.png"), *args]) == 0
    assert note in capsys.readouterr().err
    assert main([str(images / "rgb.png"), str(images / "photo.jpg"), "--out-dir", str(tmp_path / "b"), *args]) == 0
    assert "note:" not in capsys.readouterr().err  # a JPEG among them: the model suits it
    assert main([str(images / "rgb.png"), "-o", str(tmp_path / "c.png"), *args, "-q"]) == 0
    assert "note:" not in capsys.readouterr().err  # quiet
    monkeypatch.setattr(cli, "jpeg_models", lambda: [])
    assert main([str(images / "rgb.png"), "-o", str(tmp_path / "d.png"), *args]) == 0
    assert "note:" not in capsys.readouterr().err  # not made for JPEG


def test_sixteen_bit_ppm_from_a_raw_developer_pipes_in_at_sixteen_bits(tiny_model_path, tmp_path):
    """``dcraw -4 -c photo.CR2 | liif-upscale - ...``: a 16-bit PPM (Pillow reads its colour as 8
    bits) is upscaled from all 16 and written in 16; a 12-bit PGM's values are scaled to 0..65535."""
    import liif_core

    rng = np.random.default_rng(14)
    image = rng.integers(0, 65536, (6, 7, 3), np.uint16)
    ppm = b"P6\n# dcraw\n7 6\n65535\n" + image.astype(">u2").tobytes()
    command = [sys.executable, "-m", "liif_core", "-", "-o", str(tmp_path / "big.png"), "--scale", "2",
               "--model", str(tiny_model_path)]
    proc = subprocess.run(command, input=ppm, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    big = read_image(tmp_path / "big.png")
    assert big.dtype == np.uint16 and np.array_equal(big, liif_core.upscale(image, scale=2, model=str(tiny_model_path)))
    grey = rng.integers(0, 4096, (5, 4), np.uint16)
    (tmp_path / "scan.pgm").write_bytes(b"P5 4 5 4095\n" + grey.astype(">u2").tobytes())
    got = read_image(tmp_path / "scan.pgm")
    assert got.dtype == np.uint16 and np.array_equal(got[..., 0], np.round(grey * (65535 / 4095)).astype(np.uint16))
    (tmp_path / "short.ppm").write_bytes(ppm[:-10])
    with pytest.raises(LiifError, match="ends before its 7x6 pixels"):
        read_image(tmp_path / "short.ppm")
