"""The Krita plug-in's Qt code under PyQt6, the binding Qt 6 builds of Krita (Krita 6) embed.

No Krita 6 runs here (Debian has Krita 5.1, tested for real in test_krita.py). This test checks
what changes between the bindings: the plug-in must pick the PyQt that Krita loaded, and every
enum name, dialog, timer and message box it uses must work under PyQt6. ``krita`` is a stand-in
module that loads PyQt6 first, as Krita's own module does, with the few calls the dialog makes.
It runs in its own process so that PyQt5 (used by other tests) is never loaded beside PyQt6.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent('''
    import os
    import sys
    import types

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PyQt6 import QtCore, QtWidgets
    from PyQt6.QtTest import QTest

    krita = types.ModuleType("krita")

    class Krita:
        settings = {}
        added = []

        @classmethod
        def instance(cls):
            return cls._instance

        def readSetting(self, group, key, default):
            return self.settings.get((group, key), default)

        def writeSetting(self, group, key, value):
            self.settings[(group, key)] = value

        def addExtension(self, extension):
            self.added.append(extension)

    Krita._instance = Krita()

    class Extension(QtCore.QObject):
        def __init__(self, parent):
            super().__init__()

    krita.Krita, krita.Extension, krita.InfoObject = Krita, Extension, object
    sys.modules["krita"] = krita
    app = QtWidgets.QApplication([])
    sys.path.insert(0, sys.argv[1])

    import liif_upscale
    from liif_upscale import dialog, job, qt

    assert qt.BINDING == "PyQt6", qt.BINDING
    assert "PyQt5" not in sys.modules
    assert type(Krita.added[0]).__name__ == "LiifUpscaleExtension"

    class Rect:
        def __init__(self, x, y, w, h):
            self.v = (x, y, w, h)

        def x(self): return self.v[0]
        def y(self): return self.v[1]
        def width(self): return self.v[2]
        def height(self): return self.v[3]

    class Document:
        layers = ()  # the paint layers of the image, under its root

        def width(self): return 200
        def height(self): return 100
        def selection(self): return Rect(10, 10, 50, 40)
        def rootNode(self): return types.SimpleNamespace(childNodes=lambda: list(self.layers))
        def name(self): return ""
        def fileName(self): return ""

    class Node:  # a float layer with Krita's default (linear) profile: the dialog offers the colour choice
        def bounds(self): return Rect(0, 0, 200, 100)
        def name(self): return "Paint Layer 1"
        def type(self): return "paintlayer"
        def parentNode(self): return object()
        def colorModel(self): return "RGBA"
        def colorDepth(self): return "F32"
        def colorProfile(self): return "sRGB-elle-V2-g10.icc"
        def childNodes(self): return []

    class Client:
        def info(self):
            return {"models": ["liif-edsr"], "devices": ["cpu"], "device": "cpu", "torch": "2.13.0"}

    d = dialog.UpscaleDialog(Document(), Node(), Client())
    assert d.linear and d.isAncestorOf(d.linear_render) and d.request()["linear_render"] is False
    d.linear_render.setChecked(True)
    assert d.request()["linear_render"] is True
    d.scope_layer.setChecked(True)
    d.scale_spin.setValue(3.0)
    assert d.target_size() == (600, 300), d.target_size()
    d.keep_aspect.setChecked(False)
    d.height_spin.setValue(250)
    assert d.target_size() == (600, 250), d.target_size()
    d.scope_selection.setChecked(True)
    d.keep_aspect.setChecked(True)
    d.width_spin.setValue(100)
    assert d.target_size() == (100, 80), d.target_size()
    ok = d.buttons.button(qt.QDialogButtonBox.StandardButton.Ok)
    assert ok.text() == "Upscale" and ok.isEnabled()
    for _ in range(100):  # the worker info arrives through a thread, a queue and a QTimer
        app.processEvents()
        if d.info:
            break
        QtCore.QThread.msleep(10)
    entries = [d.model_combo.itemText(i) for i in range(d.model_combo.count())]
    assert d.info and entries == ["Automatic (liif-edsr)", "Default (liif-edsr)"], entries  # no JPEG model
    assert d.model_combo.currentData() == "auto" and d.request()["model"] == "auto"
    assert "no GPU found" in d.status_label.text()
    tip = d.model_combo.itemData(1, qt.Qt.ItemDataRole.ToolTipRole)
    assert tip == "The default model", tip
    QtCore.QTimer.singleShot(0, d.accept)
    assert d.exec() == qt.QDialog.DialogCode.Accepted
    request = d.request()
    assert request["size"] == (100, 80) and request["scope"] == "selection" and request["device"] == "auto"
    d.remember()
    assert Krita.settings[("liif_upscale", "scale")] == "2.00", Krita.settings
    assert Krita.settings[("liif_upscale", "model")] == "auto", Krita.settings
    for stored, shown in (("default", None), ("", "auto"), ("/m/x.pth", "/m/x.pth")):  # "": an earlier version's
        Krita.settings[("liif_upscale", "model")] = stored  # default, now automatic
        assert dialog.UpscaleDialog(Document(), Node(), Client()).model_combo.currentData() == shown, stored
    Krita.settings[("liif_upscale", "model")] = "auto"
    assert Krita.settings[("liif_upscale", "self_ensemble")] == "1", Krita.settings  # one pass by default
    Krita.settings[("liif_upscale", "self_ensemble")] = "true"  # stored by an earlier version: all 8 passes
    assert dialog.UpscaleDialog(Document(), Node(), Client()).quality.currentData() == 8
    Krita.settings[("liif_upscale", "self_ensemble")] = "3"  # not a choice: one pass
    assert dialog.UpscaleDialog(Document(), Node(), Client()).quality.currentData() == 1

    # once a job has run in this session, the worker's info has its speed: the Result line
    # says how long the next job would take, and follows the choices that change it
    class MeasuredClient:
        def info(self):
            return dict(Client().info(), speed={"cpu": 1e9}, work={"default": [2000, 1000]})

    d = dialog.UpscaleDialog(Document(), Node(), MeasuredClient())
    d.scope_layer.setChecked(True)
    d.keep_aspect.setChecked(True)
    d.scale_spin.setValue(3.0)
    before = d.result_label.text()
    for _ in range(100):
        app.processEvents()
        if d.info:
            break
        QtCore.QThread.msleep(10)
    # (2000 * 200 * 100 + 1000 * 600 * 300) / 1e9 = 0.22 s: no more than that is claimed
    assert d.result_label.text() == before + "; under 5 s", (before, d.result_label.text())
    d.scale_spin.setValue(12.0)  # 2400 x 1200: 2.92 s of decoder work
    assert d.result_label.text().endswith("; about 5 s"), d.result_label.text()
    d.quality.setCurrentIndex(d.quality.findData(8))  # 8 passes: 23.4 s
    assert d.result_label.text().endswith("; about 25 s"), d.result_label.text()
    assert abs(d.estimate() - 8 * (2000 * 200 * 100 + 1000 * 2400 * 1200) / 1e9) < 1e-9, d.estimate()
    d.reject()

    # the whole image: every paint layer with pixels on the canvas, always into a new document; the
    # estimate is the sum of each layer's own
    class Corner(Node):  # 50 x 20 pixels, half of them off the canvas
        def bounds(self): return Rect(175, 90, 50, 20)
        def colorDepth(self): return "U8"
        def colorProfile(self): return "sRGB-elle-V2-srgbtrc.icc"

    class Empty(Node):
        def bounds(self): return Rect(0, 0, 0, 0)

    class Layered(Document):
        layers = (Node(), Empty(), Corner())

    d = dialog.UpscaleDialog(Layered(), Corner(), MeasuredClient())
    assert d.linear is False and d.any_linear and d.isAncestorOf(d.linear_render)  # the float layer is linear
    assert d.scope_image.isEnabled() and "(2)" in d.scope_image.text(), d.scope_image.text()
    for _ in range(100):
        app.processEvents()
        if d.info:
            break
        QtCore.QThread.msleep(10)
    d.scope_image.setChecked(True)
    d.scale_spin.setValue(2.0)
    assert not d.output_layer.isEnabled() and not d.output_document.isEnabled()
    text = d.result_label.text()
    assert text.startswith("a new 400\u00a0×\u00a0200\u00a0px document (×2.00), 2 paint layers redrawn"), text
    # the float layer 200 x 100 -> 400 x 200, the corner's 25 x 10 on the canvas -> 50 x 20
    want = (2000 * 200 * 100 + 1000 * 400 * 200 + 2000 * 25 * 10 + 1000 * 50 * 20) / 1e9
    assert abs(d.estimate() - want) < 1e-9, (d.estimate(), want)
    assert d.request()["scope"] == "image"
    d.remember()
    assert Krita.settings[("liif_upscale", "scope")] == "image"
    d.reject()
    d = dialog.UpscaleDialog(Layered(), Corner(), MeasuredClient())
    assert d.scope_image.isChecked() and not d.output_layer.isEnabled()  # remembered
    d.reject()
    d = dialog.UpscaleDialog(Document(), Node(), MeasuredClient())  # no paint layer: not offered, nor forgotten
    assert not d.scope_image.isEnabled() and not d.scope_image.isChecked() and d.output_layer.isEnabled()
    d.remember()
    assert Krita.settings[("liif_upscale", "scope")] == "image"
    d.reject()

    # what each bundled model is for, under the list; for an image opened from a JPEG file, the
    # model made for those is named, until it is the one chosen
    class TwoModels:
        def info(self):
            return dict(Client().info(), models=["liif-edsr", "liif-edsr-jpeg"], jpeg_models=["liif-edsr-jpeg"],
                        summaries={"liif-edsr": "For clean images.", "liif-edsr-jpeg": "For JPEG <photos>."})

    class FromJpeg(Document):
        def fileName(self): return "/home/me/Holiday.JPG"

    def with_info(doc):
        """The dialog for ``doc``, once the worker's info has arrived."""
        d = dialog.UpscaleDialog(doc, Node(), TwoModels())
        for _ in range(100):
            app.processEvents()
            if d.info:
                break
            QtCore.QThread.msleep(10)
        return d

    def follow_link(d):
        """Shown, Tab reaches the note, Tab again its link, Return follows it."""
        d.show()
        d.activateWindow()
        app.processEvents()
        d.model_note.setFocus(qt.Qt.FocusReason.TabFocusReason)  # as Tab reaches the note ...
        QTest.keyClick(d.model_note, qt.Qt.Key.Key_Tab)  # ... and, once more, its link
        assert app.focusWidget() is d.model_note, app.focusWidget()
        QTest.keyClick(d.model_note, qt.Qt.Key.Key_Return)

    from liif_upscale.liif_common.model_choice import AUTO_CLEAN, AUTO_JPEG, AUTO_TIP, shown_name

    for doc, hint in ((Document(), False), (FromJpeg(), True)):
        d = with_info(doc)
        # "Automatic" (as it comes): the model made for the document's file, and why, under the list
        runs = "liif-edsr-jpeg" if hint else "liif-edsr"
        assert d.model_combo.currentText() == f"Automatic ({runs})", d.model_combo.currentText()
        assert d.job_model() == (runs if hint else None) and d.request()["model"] == "auto"
        shown = shown_name(runs)  # in the note: hyphens that do not break
        why = AUTO_JPEG.format(shown, kind='JPEG') if hint else AUTO_CLEAN.format(shown, shown_name("liif-edsr-jpeg"))
        summary = "For JPEG &lt;photos&gt;." if hint else "For clean images."
        assert d.model_note.text() == f"<small>{summary}<br>{why}</small>", d.model_note.text()
        assert d.model_note.focusPolicy() == qt.Qt.FocusPolicy.NoFocus  # no link: nothing for Tab to stop at
        d.model_combo.setCurrentIndex(d.model_combo.findData(None))  # the default, chosen by hand
        note = d.model_note.text()
        assert d.model_note.isVisibleTo(d) and note.startswith("<small>For clean images."), note
        link = f'<a href="liif-edsr-jpeg">{shown_name("liif-edsr-jpeg")}</a> is made for lossy compression'
        assert ("opened from a JPEG file" in note and link in note) is hint, note
        tips = [d.model_combo.itemData(i, qt.Qt.ItemDataRole.ToolTipRole) for i in range(d.model_combo.count())]
        assert tips == [AUTO_TIP.format("liif-edsr-jpeg"), "The default model: For clean images.",
                        "For JPEG <photos>."], tips
        assert (d.model_note.focusPolicy() == qt.Qt.FocusPolicy.StrongFocus) is hint  # Tab stops for a link only
        if hint:  # the model's name is a link: reached with Tab and activated with Return, it is chosen
            follow_link(d)
            assert d.model_combo.currentData() == "liif-edsr-jpeg" and d.isVisible(), d.model_combo.currentData()
        d.model_combo.setCurrentIndex(d.model_combo.findData("liif-edsr-jpeg"))
        assert d.model_note.text() == "<small>For JPEG &lt;photos&gt;.</small>", d.model_note.text()
        d.add_model("/models/mine.safetensors")  # a file: nothing to say about it, but the JPEG hint
        assert d.model_note.isVisibleTo(d) is hint, d.model_note.text()
        d.reject()

    class FromPng(Document):
        def fileName(self): return "/home/me/mockup.png"

    # the JPEG model chosen for an image from a PNG file: the note links back to the default
    d = with_info(FromPng())
    d.model_combo.setCurrentIndex(d.model_combo.findData(None))
    assert d.model_note.text() == "<small>For clean images.</small>", d.model_note.text()
    d.model_combo.setCurrentIndex(d.model_combo.findData("liif-edsr-jpeg"))
    back = f'<a href="default">{shown_name("liif-edsr")}</a>, is sharper on it'
    note = d.model_note.text()
    assert "not opened from a JPEG, HEIC, AVIF, lossy WebP or lossy JPEG XL file" in note and back in note, note
    assert d.model_note.focusPolicy() == qt.Qt.FocusPolicy.StrongFocus
    follow_link(d)
    assert d.model_combo.currentIndex() == 1 and d.model_combo.currentData() is None, d.model_combo.currentData()
    assert d.model_combo.count() == 3 and d.model_note.text() == "<small>For clean images.</small>"  # no new entry
    d.reject()

    shown = []

    def close_box():
        for w in app.topLevelWidgets():
            if isinstance(w, qt.QMessageBox) and w.isVisible():
                shown.append((w.icon(), w.text()))
                w.accept()

    QtCore.QTimer.singleShot(50, close_box)
    job.show_error(None, liif_upscale.UpscaleError("the layer is empty"))
    assert shown and shown[0][0] == qt.QMessageBox.Icon.Warning and "the layer is empty" in shown[0][1], shown

    # the progress dialog's label gains the time left once the job has run a while (GUI side only:
    # the fractions are fed as the job thread would, the clock is a counter)
    from liif_upscale.liif_common.time_left import TimeLeft

    from liif_upscale import api, geometry, pixels

    def a_job():
        """A real job's description: Node upscaled x3, a 600 x 300 result."""
        whole = geometry.Rect(0, 0, 200, 100)
        where = geometry.plan((200, 100), whole, whole, scale=3)
        fmt = pixels.pixel_format("RGBA", "F32", "sRGB-elle-V2-g10.icc")
        return api.UpscaleJob(Document(), Node(), where, fmt, b"", None, "layer", None, "cpu", None, "x3")

    Job = a_job
    whole = api.ImageJob(Layered(), [a_job(), a_job()], "Image x3.00 (LIIF)")
    assert job.UpscaleRunner(whole, Client())._label == "Upscaling 2 layers of 'the image' to 600 x 300 px..."
    assert whole.outcome == "new document 'Image x3.00 (LIIF)'" and whole.work == 2 * 600 * 300
    runner = job.UpscaleRunner(Job(), Client())
    clock = [0.0]
    runner._time_left = TimeLeft(lambda: clock[0])
    runner.state = "running"
    runner._set_fraction(0.0)
    runner._poll()
    assert runner.progress.labelText() == "Upscaling 'Paint Layer 1' to 600 x 300 px...", runner.progress.labelText()
    clock[0] = 10.0
    runner._set_fraction(0.25)
    runner._poll()
    assert runner.progress.labelText().endswith("px...\\nabout 30 s left"), runner.progress.labelText()
    assert runner.progress.value() == 250

    # with the dialog's estimate the time left shows from the worker's first report on
    runner = job.UpscaleRunner(Job(), Client(), estimate=40.0)
    runner.state = "running"
    runner._set_fraction(0.0)
    runner._poll()
    assert runner.progress.labelText().endswith("px...\\nabout 40 s left"), runner.progress.labelText()

    # the preview: one window of the result, centred, from the worker's region; a drag moves it
    from PyQt6 import QtGui, QtTest

    class PaintDocument(Document):
        def selection(self): return None
        def waitForDone(self): pass

    class PaintLayer(Node):
        def colorDepth(self): return "U8"
        def colorProfile(self): return "sRGB-elle-V2-srgbtrc.icc"
        def pixelData(self, x, y, w, h): return bytes(w * h * 4)
        def uniqueId(self): return QtCore.QUuid("{6b1c3c55-0000-4000-8000-000000000001}")

    class WindowClient(Client):
        """Answers a region with pixels that say where they are: R = x % 256, G = y % 256."""
        regions = []

        def upscale(self, data, shape, dtype, size=None, region=None, **options):
            self.regions.append((tuple(size), tuple(region)))
            x0, y0, w, h = region
            pixels = bytes(v for y in range(y0, y0 + h) for x in range(x0, x0 + w) for v in (x % 256, y % 256, 7, 255))
            return pixels, (h, w, 4), "uint8"

    d = dialog.UpscaleDialog(PaintDocument(), PaintLayer(), WindowClient())
    d.scope_layer.setChecked(True)
    d.scale_spin.setValue(4.0)  # an 800 x 400 result
    d.preview_check.setChecked(True)
    for _ in range(300):
        app.processEvents()
        if d.preview_image is not None:
            break
        QtCore.QThread.msleep(10)
    assert WindowClient.regions[-1] == ((800, 400), (220, 80, 360, 240)), WindowClient.regions
    assert not d.preview_label.isHidden() and d.preview_window == (220, 80, 360, 240), d.preview_window
    colour = d.preview_image.pixelColor(0, 0)
    assert (colour.red(), colour.green(), colour.blue()) == (220, 80, 7), colour.getRgb()
    QtTest.QTest.mousePress(d.preview_label, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(100, 100))
    QtTest.QTest.mouseRelease(d.preview_label, QtCore.Qt.MouseButton.LeftButton, pos=QtCore.QPoint(40, 150))
    for _ in range(300):
        app.processEvents()
        if d.preview_window != (220, 80, 360, 240):
            break
        QtCore.QThread.msleep(10)
    assert d.preview_window == (280, 30, 360, 240), d.preview_window  # dragged left and down: right and up
    d.remember()
    assert Krita.settings[("liif_upscale", "preview")] == "true"
    d.reject()
    print("ok")
''')


def test_plugin_qt_code_under_pyqt6(tmp_path: Path) -> None:
    found = subprocess.run([sys.executable, "-c", "import PyQt6.QtWidgets"], capture_output=True)
    if found.returncode:
        pytest.skip("PyQt6 is not installed here (it is in the dev extra: pip install -e '.[dev]')")
    shutil.copytree(REPO / "plugin" / "krita" / "liif_upscale", tmp_path / "liif_upscale")
    shutil.copytree(REPO / "plugin" / "common", tmp_path / "liif_upscale" / "liif_common")
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stdout + proc.stderr
