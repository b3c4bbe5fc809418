"""Makes the JPEG XL files tests/test_jpeg_xl.py reads, with libjxl's own encoder (Debian's libjxl-tools,
cjxl 0.7.0): run once, the files are committed (the test machines have no cjxl).

    python3 tests/data/jxl/make.py   # from the repository root, with cjxl on PATH and the project's .venv
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import imagecodecs
import numpy as np
import png
from PIL import Image

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))
from test_jpeg_xl import EXIF_TAGS, P3_GAMMA, dark, pattern, smooth  # noqa: E402


def cjxl(src: Path, name: str, *options: str) -> None:
    subprocess.run(["cjxl", *options, str(src), str(HERE / name)], check=True, capture_output=True)


def main() -> None:
    rgb = pattern()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        Image.fromarray(rgb).save(tmp / "rgb.png")
        cjxl(tmp / "rgb.png", "p3.jxl", "-d", "0", "-x", "color_space=RGB_D65_DCI_Rel_SRG")
        Image.fromarray(rgb[..., 0]).save(tmp / "grey.png")
        cjxl(tmp / "grey.png", "gamma_grey.jxl", "-d", "0", "-x", "color_space=Gra_D65_Rel_g0.45455")
        cjxl(tmp / "rgb.png", "pq.jxl", "-d", "0", "-x", "color_space=RGB_D65_202_Rel_PeQ")
        Image.fromarray(rgb).save(tmp / "icc.png", icc_profile=imagecodecs.cms_profile(
            "rgb", whitepoint=[0.3127, 0.3290, 1.0], primaries=P3_GAMMA, gamma=2.2))
        cjxl(tmp / "icc.png", "icc.jxl", "-d", "0")
        Image.fromarray(smooth()).save(tmp / "icc_smooth.png", icc_profile=imagecodecs.cms_profile(
            "rgb", whitepoint=[0.3127, 0.3290, 1.0], primaries=P3_GAMMA, gamma=2.2))
        cjxl(tmp / "icc_smooth.png", "icc_lossy.jxl", "-d", "1")
        Image.fromarray(dark()).save(tmp / "dark.png", icc_profile=imagecodecs.cms_profile(
            "rgb", whitepoint=[0.3127, 0.3290, 1.0], primaries=P3_GAMMA, gamma=2.2))
        cjxl(tmp / "dark.png", "icc_lossy_dark.jxl", "-d", "1")
        exif = Image.Exif()
        exif.update({0x0112: 6, **EXIF_TAGS})
        Image.fromarray(smooth()).save(tmp / "photo.jpg", quality=90, exif=exif)
        cjxl(tmp / "photo.jpg", "jpeg.jxl")  # recompressed without loss: the JPEG comes back byte for byte
        Image.fromarray(smooth()).save(tmp / "turned.png", exif=exif)
        cjxl(tmp / "turned.png", "turned_lossy.jxl", "-d", "1")  # the orientation goes into the image header
        deep = pattern(np.uint16)
        png.from_array(deep.reshape(deep.shape[0], -1), "RGB;16").save(tmp / "deep.png")
        cjxl(tmp / "deep.png", "twelve_bits.jxl", "-d", "0", "--override_bitdepth=12")
        Image.fromarray(rgb).save(tmp / "anim.gif", save_all=True, append_images=[Image.fromarray(rgb[::-1])],
                                  duration=100, loop=0)
        cjxl(tmp / "anim.gif", "animation.jxl", "-d", "0")


if __name__ == "__main__":
    main()
