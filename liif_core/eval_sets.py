"""UI evaluation sets rendered on this machine, next to the photographic benchmarks.

- ``ui``: our own generator (:mod:`liif_core.training.synth`) with a seed training never used. Same
  kind of material as the training data, so it measures fit, not generalisation.
- ``icons``: sheets of real icons from Debian's Breeze and Papirus themes (SVG), laid out as an icon
  view, a menu and a toolbar, with labels in the system font. Nothing of these themes is trained on.
- ``docs``: pages of the Debian Reference (Debian's HTML documentation, package
  ``debian-reference-en``) rendered by Qt's rich-text engine. Never trained on either.

``icons`` and ``docs`` are drawn as a 1x screen would show them at device pixel ratio 3, so the HR
image is what a 3x HiDPI screen shows: downscaled by 3 it is close to the 1x screenshot a user would
enlarge. Every choice (which icons, which part of a page) is a pure function of a fixed seed and the
installed package versions, which the report records. These folders are reserved for evaluation:
:func:`check_not_reserved` keeps training away from them and from the benchmark sets.
"""

from __future__ import annotations

import functools
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from liif_core.errors import InputError

BENCHMARKS = ("Set5", "Set14", "B100", "Urban100")  # photographic benchmark folders, never trained on
ICON_ROOT = Path("/usr/share/icons")
DOCS_ROOT = Path("/usr/share/debian-reference")
RESERVED = (ICON_ROOT, Path("/usr/share/doc"), DOCS_ROOT)
PACKAGES = ("breeze-icon-theme", "papirus-icon-theme", "debian-reference-en")

SHEET = 192  # logical side of an icon sheet
DPR = 3  # device pixel ratio of the HR rendering
ICON_SHEETS = 12
DOCS_VIEW = (320, 240)  # logical width and height of a page view
UI_SEED, UI_COUNT, UI_QT_COUNT = 1001, 30, 15  # training used seed 1: these images are unseen

# (theme, folder under the theme, size the icons are drawn for, logical px)
BIG_ICONS = (("breeze", "apps/48", 48), ("breeze", "places/64", 64), ("breeze", "mimetypes/64", 64),
             ("breeze", "devices/64", 64), ("Papirus", "64x64/apps", 64), ("Papirus", "64x64/places", 64),
             ("Papirus", "64x64/mimetypes", 64), ("Papirus", "64x64/devices", 64))
SMALL_ICONS = (("breeze", "actions/16", 16), ("breeze", "actions/22", 22), ("breeze", "status/22", 22),
               ("Papirus", "16x16/actions", 16), ("Papirus", "22x22/actions", 22))
DARK = {"breeze": "breeze-dark", "Papirus": "Papirus-Dark"}


@dataclass(frozen=True)
class RenderedSet:
    """An evaluation set made into a folder of PNGs at evaluation time."""

    name: str
    make: Callable[[Path], None]
    size: int
    description: str


def check_not_reserved(folder: str | Path) -> None:
    """Refuse to train on material reserved for evaluation (benchmarks, icon themes, Debian docs)."""
    resolved = Path(folder).resolve()
    if any(part in BENCHMARKS for part in resolved.parts):
        raise InputError(f"{folder} is a benchmark set ({', '.join(BENCHMARKS)}), reserved for evaluation: "
                         "never train on it")
    for root in RESERVED:
        if resolved == root or root in resolved.parents:
            raise InputError(f"{folder} is under {root}, which is reserved for evaluation: never train on it")


def package_versions() -> dict[str, str]:
    """Installed versions of the Debian packages the ``icons`` and ``docs`` sets are drawn from."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *PACKAGES],
                             capture_output=True, text=True, check=False).stdout
    except OSError:
        return {}
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def _svgs(root: Path, theme: str, sub: str) -> list[Path]:
    folder = root / theme / sub
    return sorted(p for p in folder.glob("*.svg") if not p.is_symlink()) if folder.is_dir() else []


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise InputError(f"{what} not found; install the Debian packages {' '.join(PACKAGES)} "
                         "(apt install ...) or leave the set out of --sets")


def _label(path: Path) -> str:
    return path.stem.replace("-", " ").replace("_", " ")


@functools.lru_cache(maxsize=4)
def _icon_files(root: Path) -> tuple[list[tuple[Path, int]], list[tuple[Path, int]]]:
    """The large and the small SVG icons under ``root`` the sheets draw from, with the size each is drawn for.

    Listed once per process and root (some 11,000 files, 0.2 s), not once per sheet.
    """
    big = [(p, size) for theme, sub, size in BIG_ICONS for p in _svgs(root, theme, sub)]
    small = [(p, size) for theme, sub, size in SMALL_ICONS for p in _svgs(root, theme, sub)]
    _need(len(big) >= 9 and bool(small), f"Breeze/Papirus icons under {root}")
    return big, small


def icon_sheet(index: int, seed: int = 2026, dpr: int = DPR):
    """Icon sheet ``index`` as a PIL image of ``SHEET * dpr`` pixels square.

    An icon view, a menu or a toolbar, light or dark. The layout depends only on ``seed`` and
    ``index``, so the same sheet drawn at ``dpr`` 1 is what a 1x screen shows of the HR one.
    """
    from PyQt5 import QtCore, QtGui, QtSvg

    from liif_core.training.synth import qimage_to_pil, qt_canvas

    big, small = _icon_files(ICON_ROOT)
    rng = random.Random(f"icons:{seed}:{index}")
    dark = index % 4 == 3
    bg = rng.choice([(35, 38, 41), (49, 54, 59)]) if dark else rng.choice([(255, 255, 255), (239, 240, 241)])
    img, p = qt_canvas(SHEET, SHEET, dpr, bg)
    text = QtGui.QColor(*((239, 240, 241) if dark else (35, 38, 41)))
    font = QtGui.QFont("DejaVu Sans")
    font.setPixelSize(rng.choice([11, 12, 13]))
    p.setFont(font)
    p.setPen(text)

    def icon(path: Path, x: float, y: float, size: float) -> None:
        QtSvg.QSvgRenderer(str(path)).render(p, QtCore.QRectF(x, y, size, size))

    kind = index % 3
    if kind == 0:  # icon view: large icons with their names below, as in a file manager
        cell = 64
        for i, (path, _) in enumerate(rng.sample(big, 9)):
            x, y = (i % 3) * cell, (i // 3) * cell
            size = rng.choice([32, 40])
            icon(path, x + (cell - size) / 2, y + 4, size)
            name = p.fontMetrics().elidedText(_label(path), QtCore.Qt.ElideRight, cell - 4)
            p.drawText(QtCore.QRectF(x + 2, y + size + 6, cell - 4, 18), QtCore.Qt.AlignHCenter, name)
    elif kind == 1:  # a menu: small action icons with their names
        row = 24
        for i in range(SHEET // row):
            path, size = small[rng.randrange(len(small))]
            path = _dark_variant(path) if dark else path
            icon(path, 6, i * row + (row - size) / 2, size)
            p.drawText(QtCore.QRectF(34, i * row, SHEET - 40, row), QtCore.Qt.AlignVCenter, _label(path).capitalize())
    else:  # a toolbar grid: small and mid-size icons on a regular pitch
        pitch = rng.choice([24, 32])
        for r in range(SHEET // pitch):
            for c in range(SHEET // pitch):
                path, size = small[rng.randrange(len(small))] if pitch == 24 else big[rng.randrange(len(big))]
                size = size if pitch == 24 else 24
                path = _dark_variant(path) if dark else path
                icon(path, c * pitch + (pitch - size) / 2, r * pitch + (pitch - size) / 2, size)
    p.end()
    return qimage_to_pil(img)


def _dark_variant(path: Path) -> Path:
    """The same icon from the theme's dark variant (light glyphs), when it has one."""
    theme = path.relative_to(ICON_ROOT).parts[0]
    other = ICON_ROOT / DARK.get(theme, theme) / path.relative_to(ICON_ROOT / theme)
    return other if other.is_file() else path


def make_icon_set(folder: Path, seed: int = 2026) -> None:
    """:data:`ICON_SHEETS` sheets of Breeze and Papirus icons into ``folder`` (needs PyQt5 with QtSvg)."""
    _icon_files(ICON_ROOT)  # fail before making the folder
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(ICON_SHEETS):
        icon_sheet(i, seed).save(folder / f"icons_{i:02d}.png")


def docs_pages() -> list[Path]:
    """The Debian Reference pages the ``docs`` set shows, sorted."""
    pages = sorted(DOCS_ROOT.glob("*.en.html"))
    _need(bool(pages), f"the Debian Reference HTML pages in {DOCS_ROOT}")
    return pages


def docs_view(page: Path, seed: int = 2026, dpr: int = DPR):
    """A :data:`DOCS_VIEW` view of ``page`` at a seeded scroll position, as a PIL image at ``dpr``."""
    from PyQt5 import QtCore, QtGui

    from liif_core.training.synth import qimage_to_pil, qt_app, qt_canvas

    qt_app()
    w, h = DOCS_VIEW
    rng = random.Random(f"docs:{seed}:{page.name}")
    doc = QtGui.QTextDocument()
    font = QtGui.QFont("DejaVu Sans")
    font.setPixelSize(12)
    doc.setDefaultFont(font)
    doc.setHtml(page.read_text(errors="replace"))
    doc.setTextWidth(w)
    top = rng.uniform(0, max(0.0, doc.size().height() - h))
    img, p = qt_canvas(w, h, dpr, (255, 255, 255))
    p.translate(0, -top)
    doc.drawContents(p, QtCore.QRectF(0, top, w, h))
    p.end()
    return qimage_to_pil(img)


def make_docs_set(folder: Path, seed: int = 2026) -> None:
    """One view of each Debian Reference page into ``folder``, at a seeded scroll position."""
    pages = docs_pages()
    folder.mkdir(parents=True, exist_ok=True)
    for page in pages:
        docs_view(page, seed).save(folder / f"docs_{page.name.split('.')[0]}.png")


def make_ui_set(folder: Path) -> None:
    """The held-out images of our own UI generator (seed :data:`UI_SEED`); widget shots need PyQt5."""
    from liif_core.training.synth import generate

    try:
        generate(folder, UI_COUNT, UI_SEED, UI_QT_COUNT)
    except ImportError as e:  # no PyQt5: drawn images only, and say so
        print(f"warning: no Qt widget screenshots in the UI set ({e}); install PyQt5 for them", file=sys.stderr)
        generate(folder, UI_COUNT, UI_SEED, 0)


RENDERED_SETS = {s.name: s for s in (
    RenderedSet("ui", make_ui_set, UI_COUNT + UI_QT_COUNT,
                f"{UI_COUNT + UI_QT_COUNT} images from `liif_core.training.synth.generate(count={UI_COUNT}, "
                f"seed={UI_SEED}, qt_count={UI_QT_COUNT})` (text, icons, line art, Qt widgets); training used "
                "seed 1, so none was trained on, but it is the training data's kind (in distribution)"),
    RenderedSet("icons", make_icon_set, ICON_SHEETS,
                f"{ICON_SHEETS} sheets ({SHEET * DPR} px square) of Debian's Breeze and Papirus SVG icons as an icon "
                f"view with labels, a menu and a toolbar, light and dark, drawn by Qt at device pixel ratio {DPR} "
                "(`liif_core.eval_sets`); reserved for evaluation, never trained on"),
    RenderedSet("docs", make_docs_set, 15,
                f"one {DOCS_VIEW[0] * DPR} x {DOCS_VIEW[1] * DPR} view of each of the 15 Debian Reference pages "
                f"(`/usr/share/debian-reference/*.en.html`) drawn by Qt's rich-text engine at device pixel ratio "
                f"{DPR}; reserved for evaluation, never trained on"),
)}
