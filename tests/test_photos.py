"""Photographs from Debian's wallpaper packages as training images (``liif_core.training.photos``)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from liif_core.errors import LiifError
from liif_core.imresize import imresize
from liif_core.training import photos
from liif_core.training.synth import generate

needs_dpkg = pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs Debian's dpkg-deb")
PATH = "usr/share/backgrounds/test/Leaves.jpg"


def _deb(tmp: Path, jpeg: Path) -> Path:
    """A minimal Debian package ``fake-wallpapers`` holding ``jpeg`` at ``PATH`` and one other file."""
    root = tmp / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text("Package: fake-wallpapers\nVersion: 1.0-1\nArchitecture: all\n"
                                             "Maintainer: Test <test@example.org>\nDescription: test\n")
    (root / PATH).parent.mkdir(parents=True)
    shutil.copy(jpeg, root / PATH)
    (root / "usr/share/backgrounds/test/Other.jpg").write_bytes(b"not wanted")
    deb = tmp / "fake-wallpapers_1.0-1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(root), str(deb)], check=True,
                   capture_output=True)
    return deb


@pytest.fixture
def package(tmp_path: Path) -> tuple[Path, np.ndarray, str]:
    """The package, the decoded pixels of its photograph and the photograph's SHA-256."""
    yy, xx = np.mgrid[0:131, 0:203]
    pixels = np.stack([(xx * 7 + yy * 3) % 256, (np.sin(xx / 5) * 100 + 120), (yy * 2) % 256], -1).astype(np.uint8)
    jpeg = tmp_path / "leaves.jpg"
    Image.fromarray(pixels).save(jpeg, quality=90)
    with Image.open(jpeg) as im:
        decoded = np.asarray(im.convert("RGB"))
    return _deb(tmp_path, jpeg), decoded, hashlib.sha256(jpeg.read_bytes()).hexdigest()


def _copier(deb: Path):
    def download(packages: list[str], dest: Path) -> None:
        assert packages == ["fake-wallpapers"]
        shutil.copy(deb, dest)
    return download


@needs_dpkg
def test_photographs_are_extracted_checked_and_reduced(package, tmp_path: Path) -> None:
    deb, decoded, digest = package
    out = tmp_path / "out"
    written = photos.write_debian_photos(out, (("fake-wallpapers", PATH, digest),), _copier(deb))
    assert [p.name for p in written] == ["photo_00_Leaves.png"] and list(out.iterdir()) == written
    with Image.open(written[0]) as im:
        got = np.asarray(im)
    # 203x131 is cut to 202x130 (a multiple of the factor 2), then reduced with MATLAB's bicubic
    assert got.shape == (65, 101, 3)
    np.testing.assert_array_equal(got, imresize(decoded[:130, :202], 0.5))


@needs_dpkg
def test_a_changed_or_missing_file_stops_with_a_clear_error(package, tmp_path: Path) -> None:
    deb, _, digest = package
    wrong = "0" * 64
    with pytest.raises(LiifError, match="Leaves.jpg of fake-wallpapers has changed"):
        photos.fetch(tmp_path / "a", (("fake-wallpapers", PATH, wrong),), _copier(deb))
    with pytest.raises(LiifError, match="Gone.jpg is not in the package fake-wallpapers"):
        photos.fetch(tmp_path / "b", (("fake-wallpapers", PATH.replace("Leaves", "Gone"), digest),), _copier(deb))
    with pytest.raises(LiifError, match="no .deb of fake-wallpapers"):
        photos.fetch(tmp_path / "c", (("fake-wallpapers", PATH, digest),), lambda packages, dest: None)
    broken = tmp_path / "broken" / deb.name
    broken.parent.mkdir()
    broken.write_bytes(b"!<arch>\nnot a package")
    with pytest.raises(LiifError, match="cannot read fake-wallpapers"):
        photos.fetch(tmp_path / "d", (("fake-wallpapers", PATH, digest),), _copier(broken))


def test_reduction_factor_keeps_the_long_side_at_most_max_side() -> None:
    wide = np.zeros((50, 6028, 3), np.uint8)
    assert photos.reduce(wide).shape == (50 // 3, 6028 // 3, 3)  # 6028 / 2 = 3014 > 2048: factor 3
    assert photos.reduce(np.zeros((1600, 2560, 3), np.uint8)).shape == (800, 1280, 3)  # never less than 2
    assert photos.reduce(np.zeros((100, 300, 3), np.uint8), max_side=50).shape == (16, 50, 3)  # factor 6


@needs_dpkg
def test_a_config_source_asks_for_the_photographs(package, tmp_path: Path, monkeypatch) -> None:
    """``"generate": {"debian_photos": true}`` in a config source goes through the same code."""
    deb, _, digest = package
    monkeypatch.setattr(photos, "PHOTOS", (("fake-wallpapers", PATH, digest),))
    monkeypatch.setattr(photos, "apt_download", _copier(deb))
    written = generate(tmp_path / "src", count=0, seed=0, debian_photos=True)
    assert [p.name for p in written] == ["photo_00_Leaves.png"]


def test_names_are_unique_and_in_table_order() -> None:
    names = [photos.photo_name(i, path) for i, (_, path, _) in enumerate(photos.PHOTOS)]
    assert len(set(names)) == len(names) == len(photos.PHOTOS)
    assert names == sorted(names)  # so a source's held-out images are the table's last ones
    assert names[22] == "photo_22_Grey.png"  # Plasma's images are named by their folder
    assert all(len(digest) == 64 for _, _, digest in photos.PHOTOS)


@pytest.mark.skipif(shutil.which("apt-get") is None, reason="needs Debian's apt-get")
def test_the_pinned_photographs_are_those_debian_serves(tmp_path: Path) -> None:
    """Downloads the real packages (about 170 MB) and checks every pinned file's SHA-256."""
    def download(packages: list[str], dest: Path) -> None:
        try:
            photos.apt_download(packages, dest)
        except LiifError as e:
            pytest.skip(f"no Debian mirror reachable: {e}")
    paths = photos.fetch(tmp_path, download=download)
    assert len(paths) == len(photos.PHOTOS) == 28
