"""Generated training material for UI upscaling: text, flat icons, line art, Qt widgets, documents.

Users mostly enlarge UI images: crisp text, one-pixel lines, flat colour. Natural-image datasets
have little of that, so we render it ourselves at high resolution. Each image is a pure function
of ``(seed, index)``; training and UI evaluation use disjoint seeds, so they never share an image.
Debian's icon themes and HTML documentation are never used here: they are reserved for evaluation.

Run ``python -m liif_core.training.synth OUT_DIR --count N --seed S`` (``--qt-count N`` adds
widget screenshots, ``--hidpi-text-count N`` text drawn at 2x/3x and ``--document-count N``
made-up documentation pages at 2x/3x, through PyQt5 offscreen, when PyQt5 is installed;
``--structure-count N`` adds photograph-like views of buildings, see
:mod:`liif_core.training.structures`; ``--debian-photos`` adds real photographs from Debian's
wallpaper packages, see :mod:`liif_core.training.photos`).
"""

from __future__ import annotations

import argparse
import glob
import math
import multiprocessing
import os
import random
import string
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = 384  # side of each generated HR image
# The DejaVu family (Debian's fonts-dejavu-core and -extra: Sans, Serif, Mono, bold, oblique,
# condensed, light; 22 faces). A fixed family, because every font another package brings along
# (Krita pulls in Droid, Noto and URW fonts) would otherwise change which font each image gets.
FONT_GLOBS = ("/usr/share/fonts/truetype/dejavu/*.ttf",)


def fonts() -> list[str]:
    """The font files text images are drawn with, sorted so that the choice is reproducible."""
    return sorted({p for g in FONT_GLOBS for p in glob.glob(g)})


def _colour(rng: random.Random) -> tuple[int, int, int]:
    return tuple(rng.randrange(256) for _ in range(3))


def _contrasting(rng: random.Random, bg: tuple[int, int, int]) -> tuple[int, int, int]:
    lum = 0.299 * bg[0] + 0.587 * bg[1] + 0.114 * bg[2]
    while True:
        c = _colour(rng)
        if abs(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2] - lum) > 90:
            return c


def _word(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "  .,:;!?()-/%&@#"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(2, 10)))


def _background(rng: random.Random) -> Image.Image:
    bg = _colour(rng) if rng.random() < 0.6 else rng.choice([(255, 255, 255), (240, 240, 240), (30, 30, 30)])
    im = Image.new("RGB", (SIZE, SIZE), bg)
    if rng.random() < 0.3:  # a soft vertical gradient, as in title bars and buttons
        other = _colour(rng)
        draw = ImageDraw.Draw(im)
        for y in range(SIZE):
            t = y / (SIZE - 1)
            draw.line([(0, y), (SIZE, y)], fill=tuple(round(a + (b - a) * t) for a, b in zip(bg, other)))
    return im


def text_image(rng: random.Random, font_files: list[str]) -> Image.Image:
    """Lines of text in one font and size, sometimes rendered without antialiasing."""
    im = _background(rng)
    bg = im.getpixel((0, 0))
    draw = ImageDraw.Draw(im)
    if rng.random() < 0.25:
        draw.fontmode = "1"
    size = rng.choice([9, 11, 13, 16, 20, 26, 34, 44, 56])
    font = ImageFont.truetype(rng.choice(font_files), size) if font_files else ImageFont.load_default()
    fill = _contrasting(rng, bg)
    y = rng.randrange(-size // 2, size)
    while y < SIZE:
        line = " ".join(_word(rng) for _ in range(rng.randint(2, 12)))
        draw.text((rng.randrange(-20, 20), y), line, fill=fill, font=font)
        y += int(size * rng.uniform(1.1, 1.8))
    return im


def icon_image(rng: random.Random) -> Image.Image:
    """Flat shapes with crisp or antialiased edges: icons, badges, buttons."""
    ss = rng.choice([1, 4])  # 1: aliased pixel edges; 4: supersampled, antialiased edges
    im = _background(rng).resize((SIZE * ss, SIZE * ss), Image.NEAREST)
    draw = ImageDraw.Draw(im)
    for _ in range(rng.randint(3, 14)):
        x0, y0 = rng.randrange(SIZE * ss), rng.randrange(SIZE * ss)
        w, h = rng.randint(8, 160) * ss, rng.randint(8, 160) * ss
        box = [x0, y0, x0 + w, y0 + h]
        fill = _colour(rng)
        outline = _colour(rng) if rng.random() < 0.5 else None
        width = rng.randint(1, 6) * ss
        kind = rng.randrange(5)
        if kind == 0:
            draw.rectangle(box, fill=fill, outline=outline, width=width)
        elif kind == 1:
            draw.rounded_rectangle(box, radius=rng.randint(2, 30) * ss, fill=fill, outline=outline, width=width)
        elif kind == 2:
            draw.ellipse(box, fill=fill, outline=outline, width=width)
        elif kind == 3:
            n = rng.randint(3, 8)
            cx, cy, r = x0 + w / 2, y0 + h / 2, min(w, h) / 2
            pts = [(cx + r * math.cos(2 * math.pi * i / n + 0.3), cy + r * math.sin(2 * math.pi * i / n + 0.3))
                   for i in range(n)]
            draw.polygon(pts, fill=fill, outline=outline)
        else:
            draw.line([x0, y0, x0 + w, y0 + h * rng.choice([0, 1])], fill=fill, width=width)
    return im.resize((SIZE, SIZE), Image.BOX) if ss > 1 else im


def line_art_image(rng: random.Random) -> Image.Image:
    """Thin strokes, curves and hatching, dark on light or light on dark."""
    im = Image.new("RGB", (SIZE * 4, SIZE * 4), (255, 255, 255) if rng.random() < 0.7 else (20, 20, 20))
    bg = im.getpixel((0, 0))
    draw = ImageDraw.Draw(im)
    for _ in range(rng.randint(5, 25)):
        fill = _contrasting(rng, bg) if rng.random() < 0.4 else (0, 0, 0) if bg[0] > 128 else (255, 255, 255)
        width = rng.choice([2, 4, 4, 6, 8, 12])
        pts = [(rng.randrange(SIZE * 4), rng.randrange(SIZE * 4))]
        for _ in range(rng.randint(1, 5)):
            x, y = pts[-1]
            pts.append((x + rng.randint(-400, 400), y + rng.randint(-400, 400)))
        if rng.random() < 0.5:  # smooth the polyline into a curve
            curve = []
            for (xa, ya), (xb, yb) in zip(pts[:-1], pts[1:]):
                for t in range(8):
                    u = t / 8
                    curve.append((xa + (xb - xa) * u + 40 * math.sin(u * math.pi) * rng.choice([-1, 1]),
                                  ya + (yb - ya) * u))
            pts = curve + [pts[-1]]
        draw.line(pts, fill=fill, width=width, joint="curve")
    return im.resize((SIZE, SIZE), Image.BOX)


_APP = []  # holds the QApplication we create: Qt crashes if Python frees it while it is in use


def qt_app():
    """The process's ``QApplication``, created offscreen when there is none (needs PyQt5)."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(["liif-render"])
        _APP.append(app)
    return app


def qimage_to_pil(qimg) -> Image.Image:
    """An RGB PIL copy of a ``QImage`` (any format)."""
    from PyQt5 import QtGui

    qimg = qimg.convertToFormat(QtGui.QImage.Format_RGB888)
    ptr = qimg.constBits()
    ptr.setsize(qimg.byteCount())
    im = Image.frombuffer("RGB", (qimg.width(), qimg.height()), bytes(ptr), "raw", "RGB", qimg.bytesPerLine(), 1)
    return im.copy()


def qt_canvas(w: int, h: int, dpr: int, bg: tuple[int, int, int]):
    """A ``QImage`` of ``w`` x ``h`` logical pixels at device pixel ratio ``dpr``, filled with ``bg``,
    and a ``QPainter`` on it with antialiased shapes and text, as a HiDPI screen draws them.

    Returns ``(image, painter)``; the caller ends the painter before reading the image.
    """
    from PyQt5 import QtGui

    qt_app()
    img = QtGui.QImage(w * dpr, h * dpr, QtGui.QImage.Format_RGB32)
    img.setDevicePixelRatio(dpr)
    img.fill(QtGui.QColor(*bg))
    painter = QtGui.QPainter(img)
    painter.setRenderHints(QtGui.QPainter.Antialiasing | QtGui.QPainter.TextAntialiasing)
    return img, painter


def qt_images(rng: random.Random, count: int) -> list[Image.Image]:
    """Screenshots of Qt widgets rendered offscreen at device pixel ratios 2 and 3."""
    from PyQt5 import QtCore, QtGui, QtWidgets

    app = qt_app()
    styles = [s for s in QtWidgets.QStyleFactory.keys()]  # noqa: SIM118 (a QStringList)
    out = []
    for _ in range(count):
        app.setStyle(rng.choice(styles))
        dlg = QtWidgets.QWidget()
        pal = dlg.palette()
        if rng.random() < 0.4:
            pal.setColor(QtGui.QPalette.Window, QtGui.QColor(*_colour(rng)))
            pal.setColor(QtGui.QPalette.Button, QtGui.QColor(*_colour(rng)))
            pal.setColor(QtGui.QPalette.Highlight, QtGui.QColor(*_colour(rng)))
        dlg.setPalette(pal)
        font = dlg.font()
        font.setPointSize(rng.choice([8, 9, 10, 11, 12, 14]))
        dlg.setFont(font)
        grid = QtWidgets.QGridLayout(dlg)
        for row in range(rng.randint(3, 7)):
            for col in range(rng.randint(1, 3)):
                kind = rng.randrange(9)
                text = " ".join(_word(rng) for _ in range(rng.randint(1, 3)))
                if kind == 0:
                    w = QtWidgets.QPushButton(text)
                elif kind == 1:
                    w = QtWidgets.QCheckBox(text)
                    w.setChecked(rng.random() < 0.5)
                elif kind == 2:
                    w = QtWidgets.QRadioButton(text)
                    w.setChecked(rng.random() < 0.5)
                elif kind == 3:
                    w = QtWidgets.QSlider(QtCore.Qt.Horizontal)
                    w.setValue(rng.randrange(100))
                elif kind == 4:
                    w = QtWidgets.QComboBox()
                    w.addItems([text, _word(rng)])
                elif kind == 5:
                    w = QtWidgets.QLineEdit(text)
                elif kind == 6:
                    w = QtWidgets.QSpinBox()
                    w.setValue(rng.randrange(99))
                elif kind == 7:
                    w = QtWidgets.QProgressBar()
                    w.setValue(rng.randrange(100))
                else:
                    w = QtWidgets.QLabel(text)
                grid.addWidget(w, row, col)
        dlg.resize(rng.randint(180, 320), rng.randint(120, 260))
        dpr = rng.choice([2, 3])
        pix = QtGui.QPixmap(dlg.size() * dpr)
        pix.setDevicePixelRatio(dpr)
        pix.fill(pal.color(QtGui.QPalette.Window))
        dlg.render(pix)
        out.append(qimage_to_pil(pix.toImage()))
        dlg.deleteLater()
    return out


# Text colours of real UI themes: Breeze light/dark, Adwaita, Windows and macOS defaults, and the
# greys of secondary, disabled and placeholder text. Dark-grey text is the norm, pure black rare.
UI_TEXT_ON_LIGHT = [(35, 38, 41), (49, 54, 59), (46, 52, 54), (0, 0, 0), (33, 33, 33), (51, 51, 51),
                    (68, 68, 68), (85, 85, 85), (102, 102, 102), (112, 125, 138), (128, 128, 128),
                    (61, 174, 233), (41, 128, 185), (218, 68, 83), (39, 174, 96)]
UI_TEXT_ON_DARK = [(239, 240, 241), (252, 252, 252), (255, 255, 255), (222, 222, 222), (189, 195, 199),
                   (160, 160, 160), (138, 142, 146), (61, 174, 233), (246, 116, 0)]
UI_LIGHT_BG = [(255, 255, 255), (239, 240, 241), (252, 252, 252), (246, 245, 244), (240, 240, 240),
               (250, 250, 250), (232, 232, 231), (227, 241, 250)]
UI_DARK_BG = [(35, 38, 41), (49, 54, 59), (42, 46, 50), (30, 30, 30), (53, 53, 53), (24, 25, 26)]
QT_FAMILIES = ("DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono", "DejaVu Sans Condensed")


def hidpi_text_image(rng: random.Random) -> Image.Image:
    """UI text as a HiDPI screen shows it: Qt's antialiased text at device pixel ratio 2 or 3.

    :func:`text_image` draws text at 1x, where strokes are one pixel wide; downscaled, such a stroke
    looks like a much darker thin one. Trained mostly on those and on Qt widgets in black text, the
    model learned that text strokes are black, and darkened the dark-grey and grey text of real
    themes (2-3 dB lower PSNR at x2 on Breeze-coloured labels than on black ones). These images
    show text of realistic stroke width in the colours themes use.
    """
    from PyQt5 import QtCore, QtGui

    dpr = rng.choice([2, 3])
    dark = rng.random() < 0.3
    if rng.random() < 0.75:
        bg = rng.choice(UI_DARK_BG if dark else UI_LIGHT_BG)
        fg = rng.choice(UI_TEXT_ON_DARK if dark else UI_TEXT_ON_LIGHT)
    else:
        bg = _colour(rng)
        fg = _contrasting(rng, bg)
    side = SIZE // dpr
    img, p = qt_canvas(side, side, dpr, bg)
    font = QtGui.QFont(rng.choice(QT_FAMILIES))
    font.setPixelSize(rng.choice([9, 10, 11, 12, 13, 14, 16, 18, 22]))
    font.setBold(rng.random() < 0.2)
    font.setItalic(rng.random() < 0.1)
    p.setFont(font)
    p.setPen(QtGui.QColor(*fg))
    line = p.fontMetrics().height() * rng.uniform(1.0, 1.6)
    y = rng.uniform(-line / 2, line)
    while y < side:
        x = rng.uniform(-10, 12)
        if rng.random() < 0.3:  # an icon-sized glyph box before the text, as in menus and lists
            p.drawRect(QtCore.QRectF(x + 2, y + 2, line - 4, line - 4))
            x += line + 4
        text = " ".join(_word(rng) for _ in range(rng.randint(1, 8)))
        p.drawText(QtCore.QRectF(x, y, side * 2, line), QtCore.Qt.AlignVCenter, text)
        y += line
    p.end()
    return qimage_to_pil(img)


DOC_RULE_COLOURS = ["#808080", "#a0a0a0", "#c0c0c0", "#d0d0d0", "#cccccc", "#999999", "#bbbbbb", "#dee2e6",
                    "#444444", "#000000", "#6c7a89", "#b0c4de"]
DOC_FILLS = ["#f4f4f4", "#eeeeee", "#f8f8f8", "#e8e8e8", "#fffbe6", "#eef5ff", "#f0f0f8", "#dddddd", "#ffffff"]
DOC_FILLS_DARK = ["#31363b", "#2a2e32", "#3b4045", "#232629", "#1b1e20", "#404552"]


def _doc_words(rng: random.Random, n: int) -> str:
    words = [_word(rng).replace("&", "&amp;").replace("<", "").replace(">", "") for _ in range(n)]
    for i in range(len(words)):  # inline markup, as documentation mixes it into its prose
        r = rng.random()
        if r < 0.06:
            words[i] = f"<b>{words[i]}</b>"
        elif r < 0.1:
            words[i] = f"<code>{words[i]}</code>"
        elif r < 0.13:
            words[i] = f'<a href="#">{words[i]}</a>'
        elif r < 0.15:
            words[i] = f"<i>{words[i]}</i>"
    return " ".join(words)


def _doc_table(rng: random.Random, fills: list[str]) -> str:
    border = rng.choice([1, 1, 1, 1, 2, 3])
    style = rng.choice(["", "", "solid", "outset", "inset", "double", "groove", "ridge", "dotted", "dashed"])
    css = f"border-style:{style};" if style else ""
    if rng.random() < 0.5:
        css += f"border-color:{rng.choice(DOC_RULE_COLOURS)};"
    if rng.random() < 0.4:
        css += "border-collapse:collapse;"
    head_fill = rng.choice(fills) if rng.random() < 0.6 else None
    cols = rng.randint(2, 5)
    rows = []
    for r in range(rng.randint(2, 7)):
        cell = "th" if r == 0 and rng.random() < 0.7 else "td"
        fill = f' bgcolor="{head_fill}"' if r == 0 and head_fill else ""
        rows.append(f"<tr{fill}>" + "".join(f"<{cell}>{_doc_words(rng, rng.randint(1, 4))}</{cell}>"
                                            for _ in range(cols)) + "</tr>")
    return (f'<table border="{border}" cellspacing="{rng.choice([0, 0, 1, 2, 3])}" '
            f'cellpadding="{rng.randint(1, 6)}" width="{rng.choice([60, 80, 100])}%" style="{css}">'
            + "".join(rows) + "</table>")


def _doc_block(rng: random.Random, fills: list[str]) -> str:
    kind = rng.choices(["p", "h", "table", "list", "pre", "hr", "box"], [5, 2, 4, 2, 1.5, 1, 1.5])[0]
    if kind == "h":
        level = rng.randint(1, 4)
        return f"<h{level}>{_doc_words(rng, rng.randint(1, 5))}</h{level}>"
    if kind == "table":
        return _doc_table(rng, fills)
    if kind == "list":
        tag = rng.choice(["ul", "ol"])
        return f"<{tag}>" + "".join(f"<li>{_doc_words(rng, rng.randint(2, 10))}</li>"
                                    for _ in range(rng.randint(2, 5))) + f"</{tag}>"
    if kind == "pre":
        lines = "\n".join(_doc_words(rng, rng.randint(1, 6)).replace("<", "&lt;").replace(">", "&gt;")
                          for _ in range(rng.randint(1, 4)))
        return f'<pre style="background-color:{rng.choice(fills)}">{lines}</pre>'
    if kind == "hr":
        return "<hr/>"
    if kind == "box":  # a note or warning: a one-cell table with a rule around a paragraph
        return (f'<table border="1" cellpadding="{rng.randint(3, 8)}" cellspacing="0" width="100%" '
                f'style="border-color:{rng.choice(DOC_RULE_COLOURS)};border-style:solid" '
                f'bgcolor="{rng.choice(fills)}"><tr><td><b>{_word(rng)}</b> '
                f"{_doc_words(rng, rng.randint(5, 30))}</td></tr></table>")
    return f"<p>{_doc_words(rng, rng.randint(5, 60))}</p>"


def document_image(rng: random.Random) -> Image.Image:
    """A view of a documentation page as a HiDPI screen shows it: Qt's rich-text engine drawing
    made-up HTML (tables with ruled borders, boxed notes, code blocks, lists, horizontal rules) at
    device pixel ratio 2 or 3.

    Documentation screenshots are full of thin grey rules that are one logical pixel wide, so soft
    and antialiased once downscaled. The model over-sharpened them (darker line, lighter halo): the
    text and widget images have few such rules. The HTML is random, never Debian's documentation
    (reserved for evaluation).
    """
    from PyQt5 import QtCore, QtGui

    qt_app()
    dpr = rng.choice([2, 3])
    side = SIZE // dpr
    dark = rng.random() < 0.15
    bg = rng.choice(UI_DARK_BG if dark else UI_LIGHT_BG)
    fg = rng.choice(UI_TEXT_ON_DARK if dark else UI_TEXT_ON_LIGHT[:10])
    fills = DOC_FILLS_DARK if dark else DOC_FILLS
    doc = QtGui.QTextDocument()
    font = QtGui.QFont(rng.choice(QT_FAMILIES))
    font.setPixelSize(rng.choice([10, 11, 12, 12, 13, 14, 16]))
    doc.setDefaultFont(font)
    doc.setDefaultStyleSheet(f"body {{ color: rgb{fg}; }}")
    doc.setHtml("<body>" + "".join(_doc_block(rng, fills) for _ in range(rng.randint(6, 14))) + "</body>")
    width = rng.uniform(280, 720)  # a page as wide as a window; the view is a part of it
    doc.setTextWidth(width)
    top = rng.uniform(0, max(0.0, doc.size().height() - side))
    left = rng.uniform(-8, max(0.0, width - side))
    img, p = qt_canvas(side, side, dpr, bg)
    p.translate(-left, -top)
    doc.drawContents(p, QtCore.QRectF(left, top, side, side))
    p.end()
    return qimage_to_pil(img)


def generate(out_dir: str | Path, count: int, seed: int, qt_count: int = 0, hidpi_text_count: int = 0,
             structure_count: int = 0, document_count: int = 0, debian_photos: bool = False) -> list[Path]:
    """Write ``count`` drawn images, ``qt_count`` Qt widget screenshots, ``hidpi_text_count``
    HiDPI text images (:func:`hidpi_text_image`), ``structure_count`` views of building faces
    (:func:`liif_core.training.structures.structure_image`), ``document_count`` documentation
    views (:func:`document_image`) and, with ``debian_photos``, the photographs of Debian's wallpaper
    packages (:mod:`liif_core.training.photos`, downloaded with apt-get) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    font_files = fonts()
    paths = []
    for i in range(count):
        rng = random.Random(f"{seed}:{i}")
        kind = i % 3
        im = text_image(rng, font_files) if kind == 0 else icon_image(rng) if kind == 1 else line_art_image(rng)
        path = out_dir / f"{('text', 'icon', 'line')[kind]}_{seed}_{i:05d}.png"
        im.save(path, optimize=False)
        paths.append(path)
    if qt_count:
        for i, im in enumerate(qt_images(random.Random(f"{seed}:qt"), qt_count)):
            path = out_dir / f"qt_{seed}_{i:05d}.png"
            im.save(path)
            paths.append(path)
    for i in range(hidpi_text_count):
        path = out_dir / f"hitext_{seed}_{i:05d}.png"
        hidpi_text_image(random.Random(f"{seed}:hitext:{i}")).save(path)
        paths.append(path)
    for i in range(document_count):
        path = out_dir / f"doc_{seed}_{i:05d}.png"
        document_image(random.Random(f"{seed}:doc:{i}")).save(path)
        paths.append(path)
    if structure_count:  # about 1 s each: rendered on every core (each a pure function of its index)
        jobs = [(out_dir / f"struct_{seed}_{i:05d}.png", f"{seed}:struct:{i}") for i in range(structure_count)]
        workers = min(os.cpu_count() or 1, structure_count)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            paths += pool.map(_write_structure, jobs, chunksize=max(1, structure_count // (4 * workers)))
    if debian_photos:
        from liif_core.training.photos import write_debian_photos

        paths += write_debian_photos(out_dir)
    return paths


def _write_structure(job: tuple[Path, str]) -> Path:
    from liif_core.training.structures import structure_image

    path, key = job
    structure_image(random.Random(key)).save(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir")
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--qt-count", type=int, default=0, help="Qt widget screenshots to add (needs PyQt5)")
    parser.add_argument("--hidpi-text-count", type=int, default=0, help="HiDPI Qt text images to add (needs PyQt5)")
    parser.add_argument("--structure-count", type=int, default=0, help="views of building faces to add")
    parser.add_argument("--document-count", type=int, default=0,
                        help="HiDPI views of made-up documentation pages to add (needs PyQt5)")
    parser.add_argument("--debian-photos", action="store_true",
                        help="add the photographs of Debian's wallpaper packages (needs apt-get and a Debian mirror)")
    args = parser.parse_args()
    paths = generate(args.out_dir, args.count, args.seed, args.qt_count, args.hidpi_text_count, args.structure_count,
                     args.document_count, args.debian_photos)
    print(f"wrote {len(paths)} images to {args.out_dir}")


if __name__ == "__main__":
    main()
