"""Rendered UI evaluation sets (icons, docs) and the guard that keeps training off evaluation data."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PyQt5.QtSvg", reason="the rendered sets need PyQt5 with QtSvg")

from liif_core import eval as ev  # noqa: E402
from liif_core import eval_sets  # noqa: E402
from liif_core.errors import InputError  # noqa: E402
from liif_core.training import train  # noqa: E402

SVG = ('<svg xmlns="http://www.w3.org/2000/svg" width="{s}" height="{s}" viewBox="0 0 {s} {s}">'
       '<rect x="2" y="2" width="{h}" height="{h}" fill="{c}"/><circle cx="{h}" cy="{h}" r="{q}" fill="#fff"/></svg>')


def _fake_themes(root: Path) -> None:
    """A few SVG icons in every folder the icon sheets draw from (and a symlink, which must be skipped)."""
    colours = ["#1d99f3", "#da4453", "#27ae60", "#f67400"]
    for theme, sub, size in eval_sets.BIG_ICONS + eval_sets.SMALL_ICONS:
        folder = root / theme / sub
        folder.mkdir(parents=True, exist_ok=True)
        for i, c in enumerate(colours):
            (folder / f"icon-{i}.svg").write_text(SVG.format(s=size, h=size // 2, q=size // 4, c=c))
        (folder / "alias.svg").symlink_to(folder / "icon-0.svg")


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("*.png"))}


def test_icon_sheets_are_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_themes(tmp_path / "icons")
    monkeypatch.setattr(eval_sets, "ICON_ROOT", tmp_path / "icons")
    listed = eval_sets._svgs(tmp_path / "icons", "breeze", "apps/48")
    assert "alias.svg" not in {p.name for p in listed}  # links would count twice
    eval_sets.make_icon_set(tmp_path / "a")
    eval_sets.make_icon_set(tmp_path / "b")
    first = _digests(tmp_path / "a")
    assert len(first) == eval_sets.ICON_SHEETS and first == _digests(tmp_path / "b")
    side = eval_sets.SHEET * eval_sets.DPR
    for path in sorted((tmp_path / "a").glob("*.png")):
        with Image.open(path) as im:
            arr = np.asarray(im)
        assert arr.shape == (side, side, 3)
        assert len(np.unique(arr.reshape(-1, 3), axis=0)) > 20  # icons and antialiased text, not a blank sheet
    # the same sheet at 1x, as a user's screenshot would be: a third of the side, the same layout
    small = np.asarray(eval_sets.icon_sheet(0, dpr=1), dtype=float)
    assert small.shape == (eval_sets.SHEET, eval_sets.SHEET, 3)
    with Image.open(tmp_path / "a" / "icons_00.png") as im:
        big = np.asarray(im.resize(small.shape[:2][::-1], Image.Resampling.BOX), dtype=float)
    assert np.abs(big - small).mean() < 12  # differences at edges only: hinting and pixel snapping
    # another seed lays out other sheets
    eval_sets.make_icon_set(tmp_path / "c", seed=7)
    assert _digests(tmp_path / "c") != first
    # a dark sheet (every fourth) uses a dark background
    with Image.open(tmp_path / "a" / "icons_03.png") as im:
        assert np.asarray(im)[0, 0].max() < 80


def test_docs_views_render_the_page_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pages = tmp_path / "ref"
    pages.mkdir()
    body = "".join(f"<p>Paragraph {i}: <b>apt</b> installs packages; <a href='#'>see also</a>.</p>" for i in range(80))
    (pages / "ch01.en.html").write_text(f"<html><body><h1>Chapter</h1>{body}</body></html>")
    (pages / "ch02.en.html").write_text("<table border=1><tr><td>a</td><td>b</td></tr></table>")
    monkeypatch.setattr(eval_sets, "DOCS_ROOT", pages)
    eval_sets.make_docs_set(tmp_path / "out")
    names = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert names == ["docs_ch01.png", "docs_ch02.png"]
    with Image.open(tmp_path / "out" / "docs_ch01.png") as im:
        arr = np.asarray(im)
    w, h = eval_sets.DOCS_VIEW
    assert arr.shape == (h * eval_sets.DPR, w * eval_sets.DPR, 3)
    dark = arr.min(axis=2) < 128
    assert 0.02 < dark.mean() < 0.5  # lines of text on white


def test_missing_packages_give_an_actionable_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eval_sets, "ICON_ROOT", tmp_path / "none")
    monkeypatch.setattr(eval_sets, "DOCS_ROOT", tmp_path / "none")
    with pytest.raises(InputError, match="breeze-icon-theme"):
        eval_sets.make_icon_set(tmp_path / "a")
    with pytest.raises(InputError, match="debian-reference-en"):
        eval_sets.make_docs_set(tmp_path / "b")
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize("path", ["/usr/share/icons/breeze/apps/48", "/usr/share/doc/python3", "/usr/share/icons",
                                  "/data/datasets/Urban100", "/data/datasets/Set5/HR"])
def test_training_refuses_evaluation_material(path: str) -> None:
    with pytest.raises(InputError, match="reserved for evaluation"):
        eval_sets.check_not_reserved(path)


def test_training_sources_are_checked(tmp_path: Path) -> None:
    (tmp_path / "T91").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "T91" / "a.png")
    train_files, _ = train._source_images(tmp_path, {"path": "T91"})
    assert [p.name for p in train_files] == ["a.png"]
    (tmp_path / "B100").mkdir()
    with pytest.raises(InputError, match="benchmark set"):
        train._source_images(tmp_path, {"path": "B100"})


def test_real_icon_and_docs_sets(tmp_path: Path, tiny_model_path: Path) -> None:
    """On a machine with the Debian packages: complete sets, and an evaluation run that reports them."""
    if not (eval_sets.ICON_ROOT / "breeze").is_dir() or not eval_sets.DOCS_ROOT.is_dir():
        pytest.skip(f"Debian packages {' '.join(eval_sets.PACKAGES)} are not installed")
    rendered = {}
    for name in ("icons", "docs"):
        rendered[name] = tmp_path / name
        eval_sets.RENDERED_SETS[name].make(rendered[name])
        assert len(ev.list_images(name, tmp_path, rendered)) == ev.SET_SIZES[name]
    assert set(eval_sets.package_versions()) == set(eval_sets.PACKAGES)
    rows = ev.evaluate(["icons", "docs"], [3], tiny_model_path, tmp_path / "out", limit=1, progress=False)
    assert [(r["set"], r["scale"], r["images"]) for r in rows] == [("icons", 3, 1), ("docs", 3, 1)]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "breeze-icon-theme" in report and "| icons | x3 | 1 (subset) |" in report
    assert (tmp_path / "out" / "crops.png").is_file()
