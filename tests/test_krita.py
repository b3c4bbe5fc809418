"""The Krita plug-in (``plugin/krita``), tested in a real Krita (Debian: ``apt-get install krita python3-pyqt5 xvfb``).

How Krita is driven:

* ``install.py`` installs the plug-in into a throw-away profile (``HOME`` and ``XDG_*`` in a temp folder), exactly
  as a user gets it, including the worker configuration it writes.
* Scripting API: one ``kritarunner`` process (no window, ``QT_QPA_PLATFORM=offscreen``) imports this very module
  and runs :func:`krita_api_main`. It builds documents from the pixels pytest wrote, calls
  ``liif_upscale.upscale_node`` (the real worker, the tiny test model) and writes back what came out. pytest then
  compares every new layer's size, position and pixels with ``liif_core.upscale`` run here on the same input.
  Every API test runs three times (``krita_host``): with this machine's Krita (Debian 12: 5.1.5); with Krita 5.2
  (Debian trixie's) in the Flatpak ``tests/hosts/setup_flatpak.sh`` makes, where the plug-in's worker runs on the
  host through ``flatpak-spawn --host``; and with Krita 5.3 (Debian testing's) in the forky chroot that
  ``tests/hosts/setup_gimp.sh "" forky`` builds, run as GIMP is there (``gimp_chroot``), the worker this venv's
  Python bound in. Each Krita has a profile of its own; one that is missing is skipped, saying why.
* GUI: the full ``krita`` under ``xvfb-run`` (in each of the three Kritas, as above) with a
  test-only harness plug-in that runs :func:`run_in_krita` when the main window exists, step by step from Krita's
  own event loop (Krita 5.2 shows a script's active layer only from there), and ends Krita with its status. It
  checks that the plug-in is loaded, the action sits in Filter > Enhance, and that triggering it with the
  dialog's values set here produces the layer; then the remembered values, the two undo steps, a cancelled run
  (document unchanged), the error message box (no worker), and the model note of a document opened from a JPEG
  file. It saves a screenshot of the dialog.

Krita's own Python imports this module as well; it has neither pytest nor numpy, so everything that runs inside
Krita uses the standard library only and everything pytest-specific is guarded.

Unit tests of the plug-in's pure modules (``pixels.py``, ``geometry.py``) run without Krita.
"""

from __future__ import annotations

import gc
import hashlib
import html
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:  # pytest's side only: Krita's Python, which also imports this module, has neither
    import numpy as np
    import pytest
except ImportError:
    np = pytest = None

REPO = Path(__file__).resolve().parents[1]
PLUGIN = REPO / "plugin" / "krita" / "liif_upscale"
KRITA_DEPTHS = {"U8": "<u1", "U16": "<u2", "F16": "<f2", "F32": "<f4"}
WORKER_DTYPES = {"U8": "uint8", "U16": "uint16", "F16": "float32", "F32": "float32"}
RUNNER_TIMEOUT_S = 240
GUI_TIMEOUT_S = 180
SCREENSHOT_ENV = "LIIF_KRITA_SCREENSHOT"  # also copy the dialog screenshot there (for the README)


# =============================================================================================================
# inside Krita (standard library only)


def _flush_exit(code: int) -> None:
    """kritarunner always exits 0 and swallows exceptions: the status has to be set with os._exit."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _snapshot(doc: Any) -> dict[str, Any]:
    """Everything a failed or cancelled upscale must leave as it was: size, layers, pixels, selection."""
    from krita import Krita

    def walk(node: Any) -> list[Any]:
        out = []
        for child in node.childNodes():
            b = child.bounds()
            data = bytes(child.pixelData(b.x(), b.y(), b.width(), b.height())) if not b.isEmpty() else b""
            out.append([child.name(), child.type(), [b.x(), b.y(), b.width(), b.height()],
                        hashlib.sha1(data).hexdigest(), walk(child)])
        return out

    sel = doc.selection()
    selection = None
    if sel is not None:
        mask = bytes(sel.pixelData(sel.x(), sel.y(), sel.width(), sel.height()))
        selection = [sel.x(), sel.y(), sel.width(), sel.height(), hashlib.sha1(mask).hexdigest()]
    return {"size": [doc.width(), doc.height()], "resolution": [doc.xRes(), doc.yRes()],
            "nodes": walk(doc.rootNode()), "selection": selection, "documents": len(Krita.instance().documents())}


def _make_document(case: dict[str, Any], folder: Path) -> tuple[Any, Any]:
    """A batch-mode document with a white Background and the case's layer (and selection) on top."""
    from krita import Krita, Selection

    d = case["doc"]
    doc = Krita.instance().createDocument(d["w"], d["h"], case["name"], d["model"], d["depth"], "", 72.0)
    doc.setBatchmode(True)  # without it refreshProjection/export hang under kritarunner
    layer, parent = case["layer"], doc.rootNode()
    if case.get("group"):  # the layer inside a group; the group is what gets upscaled
        group = doc.createGroupLayer("Group")
        parent.addChildNode(group, None)
        parent = group
    if case.get("file_layer"):  # a file layer showing that file (named as Krita's dialog names it)
        node = doc.createFileLayer("File Layer 1", case["file_layer"], "None")
    else:
        node = doc.createNode(layer["name"], "paintlayer")
    parent.addChildNode(node, None)
    if case.get("layer_depth"):  # a layer whose colour space differs from the image's
        assert node.setColorSpace(d["model"], case["layer_depth"], "sRGB-elle-V2-g10.icc")
    if layer.get("file"):
        node.setPixelData((folder / layer["file"]).read_bytes(), layer["x"], layer["y"], layer["w"], layer["h"])
    look = case.get("look")
    if look:  # how the layer shows in the stack
        node.setOpacity(look["opacity"])
        node.setBlendingMode(look["blend"])
        node.setInheritAlpha(look["inherit_alpha"])
    doc.waitForDone()
    if case.get("group"):
        doc.refreshProjection()
        node = parent
    mask = None
    if case.get("filter_mask"):  # Invert through a selection: the layer shows partly inverted
        fm = case["filter_mask"]
        inside = Selection()
        inside.setPixelData((folder / fm["file"]).read_bytes(), fm["x"], fm["y"], fm["w"], fm["h"])
        mask = doc.createFilterMask("Invert", Krita.instance().filter("invert"), inside)
        node.addChildNode(mask, None)
        doc.refreshProjection()
        doc.waitForDone()
        w, h = d["w"], d["h"]  # the layer as it shows (what its result is made from)
        (folder / f"{case['name']}.shown").write_bytes(bytes(node.projectionPixelData(0, 0, w, h)))
        (folder / f"{case['name']}.raw").write_bytes(bytes(node.pixelData(0, 0, w, h)))
    if case.get("mask_node"):  # a mask of the layer is the active node (as while it is edited)
        if mask is None:  # a local selection (a transparency mask made by a script has no selection in Krita
            mask = doc.createSelectionMask("Mask")  # 5.1, which crashes Krita when the image is scaled)
            everything = Selection()
            everything.select(0, 0, d["w"], d["h"], 255)
            mask.setSelection(everything)
            node.addChildNode(mask, None)
        node = mask
    sel = case.get("selection")
    if sel:
        selection = Selection()
        selection.setPixelData((folder / sel["file"]).read_bytes(), sel["x"], sel["y"], sel["w"], sel["h"])
        doc.setSelection(selection)
    doc.waitForDone()
    return doc, node


def _client_for(kind: str | None, liif_upscale: Any) -> tuple[Any, Any]:
    """The worker client a case asks for, and a clean-up callable."""
    from liif_upscale.liif_common.client import WorkerClient

    if kind == "missing_python":
        return WorkerClient(python="/nonexistent/liif/python3"), lambda: None
    if kind == "memory_limit":
        old = os.environ.get("LIIF_UPSCALE_MEMORY_LIMIT")
        os.environ["LIIF_UPSCALE_MEMORY_LIMIT"] = "1K"  # inherited by this client's own worker only
        client = WorkerClient()
        client.start()
        if old is None:
            del os.environ["LIIF_UPSCALE_MEMORY_LIMIT"]
        else:
            os.environ["LIIF_UPSCALE_MEMORY_LIMIT"] = old
        return client, client.close
    return liif_upscale.shared_client(), lambda: None


def _layer_tree(doc: Any) -> list[Any]:
    """Each node's name, type and properties, depth first (what upscale_image must keep)."""
    def walk(node: Any) -> list[Any]:
        return [[n.name(), n.type(), n.opacity(), n.blendingMode(), n.visible(), n.locked(), n.colorDepth(),
                 walk(n)] for n in node.childNodes()]
    return walk(doc.rootNode())


def _run_image_case(case: dict[str, Any], spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``upscale_image`` on a document of several layers (case["layers"], bottom first, under the Background)."""
    import liif_upscale
    from krita import Krita, Selection

    d = case["doc"]
    doc = Krita.instance().createDocument(d["w"], d["h"], case["name"], d["model"], d["depth"], "", 72.0)
    doc.setBatchmode(True)
    made: dict[str, Any] = {}
    for layer in case["layers"]:
        parent = made[layer["parent"]] if layer.get("parent") else doc.rootNode()
        kind = layer["kind"]
        if kind == "grouplayer":
            node = doc.createGroupLayer(layer["name"])
        elif kind == "filelayer":  # showing a PNG file at its own size
            node = doc.createFileLayer(layer["name"], str(folder / layer["png"]), "None")
        elif kind == "clonelayer":
            node = doc.createCloneLayer(layer["name"], made[layer["source"]])
        else:
            node = doc.createNode(layer["name"], kind)
        parent.addChildNode(node, None)
        if layer.get("model"):  # a layer in another colour model than the image's
            assert node.setColorSpace(layer["model"], "U8", Krita.instance().profiles(layer["model"], "U8")[0])
        if layer.get("file"):
            node.setPixelData((folder / layer["file"]).read_bytes(), layer["x"], layer["y"], layer["w"], layer["h"])
        if layer.get("fill"):  # x, y, w, h, bytes per pixel: a grey patch in any colour model
            x, y, w, h, size = layer["fill"]
            node.setPixelData(bytes([100]) * (w * h * size), x, y, w, h)
        node.setOpacity(layer.get("opacity", 255))
        node.setBlendingMode(layer.get("blend", "normal"))
        node.setVisible(layer.get("visible", True))
        node.setLocked(layer.get("locked", False))
        if layer.get("filter_mask"):  # an Invert filter mask over all of it (kept on the layer, as Krita scales it)
            everything = Selection()
            everything.select(0, 0, d["w"], d["h"], 255)
            node.addChildNode(doc.createFilterMask("Invert", Krita.instance().filter("invert"), everything), None)
        made[layer["name"]] = node
    doc.waitForDone()
    before, tree = _snapshot(doc), _layer_tree(doc)
    progress: list[float] = []
    out: dict[str, Any] = {}
    try:
        result = liif_upscale.upscale_image(doc, model=spec["model"], progress=progress.append,
                                            cancel=(lambda: True) if case.get("cancel") else None, **case["call"])
    except Exception as exc:  # noqa: BLE001  (the error is what some cases check)
        out.update(error=type(exc).__name__, message=str(exc))
        result = None
    out.update(progress=progress[-1] if progress else None, steps=len(progress),
               source_unchanged=dict(_snapshot(doc), documents=None) == dict(before, documents=None),
               documents=len(Krita.instance().documents()))
    if result is not None:
        w, h = result.width(), result.height()
        out.update(size=[w, h], name=result.name(), file_name=result.fileName(), modified=result.modified(),
                   same_tree=_layer_tree(result) == tree, tree=_layer_tree(result), source_tree=tree,
                   resolution=[result.xRes(), result.yRes()])
        for node in liif_upscale.api.redrawn_layers(result) + [n for n in result.rootNode().childNodes()
                                                             if n.name() == "Off canvas"]:
            b = node.bounds()
            out.setdefault("bounds", {})[node.name()] = [b.x(), b.y(), b.width(), b.height()]
            (folder / f"{case['name']}.{node.name()}.out").write_bytes(bytes(node.pixelData(0, 0, w, h)))
        for node in result.rootNode().childNodes():  # a clone layer: what it shows, and what it is a clone of
            if node.type() == "clonelayer" and hasattr(node, "sourceNode"):
                shown = node.sourceNode()
                out.setdefault("clones", {})[node.name()] = [
                    shown.name(), bytes(node.projectionPixelData(0, 0, w, h)) == bytes(shown.projectionPixelData(
                        0, 0, w, h))]
        result.close()
    doc.close()
    return out


def _run_case(case: dict[str, Any], spec: dict[str, Any], folder: Path) -> dict[str, Any]:
    import liif_upscale
    from krita import InfoObject, Krita

    if case.get("layers"):
        return _run_image_case(case, spec, folder)
    doc, node = _make_document(case, folder)
    before = _snapshot(doc)
    client, cleanup = _client_for(case.get("client"), liif_upscale)
    progress: list[float] = []

    def on_progress(fraction: float) -> None:
        progress.append(fraction)
        if case.get("client") == "crash_midway" and len(progress) == 1:
            os.kill(client.pid, signal.SIGKILL)  # the worker dies in the middle of the job

    kwargs = dict(case.get("call", {}))
    if isinstance(kwargs.get("scale"), list):
        kwargs["scale"] = tuple(kwargs["scale"])
    out: dict[str, Any] = {"profile": node.colorProfile()}
    if case.get("preview"):  # the dialog's preview of the whole result, before the upscale changes anything
        from liif_upscale import api
        from liif_upscale.geometry import Rect

        job = api.prepare(doc, node, model=spec["model"], **kwargs)
        window = Rect(0, 0, job.plan.target.width, job.plan.target.height)
        (folder / f"{case['name']}.preview").write_bytes(api.preview(job, client, window))
    t0 = time.monotonic()
    try:
        result = liif_upscale.upscale_node(doc, node, model=spec["model"], client=client, progress=on_progress,
                                           cancel=(lambda: True) if case.get("cancel") else None, **kwargs)
    except Exception as exc:  # noqa: BLE001  (the error is what some cases check)
        out.update(error=type(exc).__name__, type=getattr(exc, "type", None), message=str(exc))
        result = None
    finally:
        cleanup()
    out["seconds"] = round(time.monotonic() - t0, 3)
    out["progress"] = progress[-1] if progress else None
    if result is not None and kwargs.get("output") == "document":
        out["source_unchanged"] = dict(_snapshot(doc), documents=None) == dict(before, documents=None)
        layers = result.rootNode().childNodes()
        out.update(kind="document", name=result.name(), size=[result.width(), result.height()],
                   layers=[n.name() for n in layers])
        w, h = result.width(), result.height()
        (folder / f"{case['name']}.out").write_bytes(bytes(layers[-1].pixelData(0, 0, w, h)))
        if case.get("export"):
            result.refreshProjection()
            result.waitForDone()
            out["exported"] = result.exportImage(str(folder / f"{case['name']}.png"), InfoObject())
        result.close()
    elif result is not None:
        w, h = doc.width(), doc.height()
        b = result.bounds()
        out.update(kind="layer", name=result.name(), size=[w, h], bounds=[b.x(), b.y(), b.width(), b.height()],
                   layers=[n.name() for n in doc.rootNode().childNodes() if n.type() != "selectionmask"],
                   type=result.type(), depth=result.colorDepth(),
                   look={"opacity": result.opacity(), "blend": result.blendingMode(),
                         "inherit_alpha": result.inheritAlpha()},
                   active=doc.activeNode().name() if doc.activeNode() else None)
        (folder / f"{case['name']}.out").write_bytes(bytes(result.pixelData(0, 0, w, h)))
    else:
        out["unchanged"] = _snapshot(doc) == before
        out["documents"] = len(Krita.instance().documents())
    doc.close()
    return out


def krita_api_main(args: list[str]) -> None:
    """kritarunner entry (``-f krita_api_main SPEC``): run the cases of SPEC, write ``result.json`` beside it."""
    code = 1
    try:
        spec_path = Path(args[0])
        folder = spec_path.parent
        spec = json.loads(spec_path.read_text())
        results = {}
        for case in spec["cases"]:
            try:
                results[case["name"]] = _run_case(case, spec, folder)
            except Exception:  # noqa: BLE001  (one broken case must not hide the others)
                results[case["name"]] = {"crash": traceback.format_exc()}
        (folder / "result.json").write_text(json.dumps(results, indent=1))
        code = 0
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    _flush_exit(code)


def krita_files_main(args: list[str]) -> None:
    """kritarunner entry (``-f krita_files_main SPEC``): Krita's own file export and import, for the
    file tests. SPEC's ``exports``: RGBA documents of a depth made from raw pixels and exported
    (``doc.exportImage``, with the export dialog's ``options``); its ``loads``: files opened as a user opens
    them, the first layer's raw pixels and its depth written out. Writes ``files.json`` beside SPEC."""
    from krita import InfoObject, Krita

    code = 1
    try:
        spec_path = Path(args[0])
        spec = json.loads(spec_path.read_text())
        Krita.instance().setBatchmode(True)  # no import or export dialogs
        results: dict[str, list[Any]] = {"exports": [], "loads": []}
        for item in spec["exports"]:
            try:
                doc = Krita.instance().createDocument(item["w"], item["h"], "export", "RGBA", item["depth"], "", 72.0)
                doc.setBatchmode(True)
                node = doc.createNode("pixels", "paintlayer")
                doc.rootNode().addChildNode(node, None)
                node.setPixelData(Path(item["raw"]).read_bytes(), 0, 0, item["w"], item["h"])
                for other in doc.rootNode().childNodes():  # only the layer made here: the export is its pixels
                    if other.name() != "pixels":
                        other.remove()
                doc.refreshProjection()
                doc.waitForDone()
                options = InfoObject()
                for key, value in item.get("options", {}).items():
                    options.setProperty(key, value)
                results["exports"].append({"ok": bool(doc.exportImage(item["path"], options))})
                doc.close()
            except Exception:  # noqa: BLE001
                results["exports"].append({"crash": traceback.format_exc()})
        for item in spec["loads"]:
            try:
                doc = Krita.instance().openDocument(item["path"])
                doc.setBatchmode(True)
                node = doc.topLevelNodes()[0]
                Path(item["raw"]).write_bytes(bytes(node.pixelData(0, 0, doc.width(), doc.height())))
                results["loads"].append({"w": doc.width(), "h": doc.height(), "model": node.colorModel(),
                                         "depth": node.colorDepth(), "profile": node.colorProfile()})
                doc.close()
            except Exception:  # noqa: BLE001
                results["loads"].append({"crash": traceback.format_exc()})
        (spec_path.parent / "files.json").write_text(json.dumps(results, indent=1))
        code = 0
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    _flush_exit(code)


def krita_auto_main(args: list[str]) -> None:
    """kritarunner entry (``-f krita_auto_main SPEC``): each of SPEC's ``files`` opened as a user opens it
    and its first layer upscaled x2 into a new document through the plug-in's API with the model left
    as it comes (``auto``); Krita's pixels of the layer and of the result written beside SPEC, with what
    the prepared job holds, into ``auto.json``. A name ``A+B``: the file A opened, and the file B brought
    in as a layer on top, named after its file as Krita's Import Layer names it (KisImportCatcher: the
    file's name), then that layer upscaled, and the whole image (both layers, into ``A+B.image.out``).
    A name ``A@B``: the file A opened, and a file layer showing the file B on top (named as Krita's dialog
    names it, "File Layer 1"), then that layer upscaled."""
    import liif_upscale
    from krita import InfoObject, Krita
    from liif_upscale import api, origin

    code = 1
    try:
        spec_path = Path(args[0])
        folder = spec_path.parent
        Krita.instance().setBatchmode(True)
        results = []
        for name in json.loads(spec_path.read_text())["files"]:
            try:
                if name.endswith(".kra"):  # the JPEG file of its name opened (and noted, as the plug-in does
                    made = Krita.instance().openDocument(str(folder / name.replace(".kra", ".jpg")))  # on opening)
                    origin.remember(made)
                    made.setBatchmode(True)
                    made.saveAs(str(folder / name))
                    made.close()
                base, _, imported = name.partition("+")
                base, _, shown = base.partition("@")
                doc = Krita.instance().openDocument(str(folder / base))
                doc.setBatchmode(True)
                node = doc.topLevelNodes()[0]
                if shown:
                    node = doc.createFileLayer("File Layer 1", str(folder / shown), "None")
                    doc.rootNode().addChildNode(node, None)
                    doc.waitForDone()
                if imported:
                    other = Krita.instance().openDocument(str(folder / imported))
                    other.setBatchmode(True)
                    pixels = other.topLevelNodes()[0].pixelData(0, 0, other.width(), other.height())
                    other.close()
                    node = doc.createNode(imported, "paintlayer")
                    doc.rootNode().addChildNode(node, None)
                    node.setPixelData(pixels, 0, 0, doc.width(), doc.height())
                    doc.waitForDone()
                read = node.projectionPixelData if shown else node.pixelData  # a file layer: as it shows
                (folder / f"{name}.in").write_bytes(bytes(read(0, 0, doc.width(), doc.height())))
                job = api.prepare(doc, node, scale=2, output="document", device="cpu")
                made = liif_upscale.upscale_node(doc, node, scale=2, output="document", device="cpu")
                layer = made.rootNode().childNodes()[-1]
                (folder / f"{name}.out").write_bytes(bytes(layer.pixelData(0, 0, made.width(), made.height())))
                results.append({"model": job.model, "source_file": job.source_file, "depth": node.colorDepth(),
                                "size": [made.width(), made.height()], "source": [doc.width(), doc.height()]})
                made.close()
                if imported:  # every layer by its own file: the imported one by its, the first by the document's
                    whole = api.prepare_image(doc, scale=2, device="cpu")
                    results[-1]["parts"] = [[part.node.name(), part.source_file] for part in whole.parts]
                    made = liif_upscale.upscale_image(doc, scale=2, device="cpu")
                    for suffix, image in (("image.in", doc), ("image.out", made)):  # the layers, bottom first
                        (folder / f"{name}.{suffix}").write_bytes(b"".join(
                            bytes(layer.pixelData(0, 0, image.width(), image.height()))
                            for layer in image.rootNode().childNodes()))
                    made.close()
                if name.endswith(".kra"):  # the note stays in the .kra: none of it in files exported from it
                    doc.refreshProjection()
                    doc.waitForDone()
                    exported = [folder / f"{name}.{ext}" for ext in ("png", "jpg", "tif", "webp")]
                    results[-1]["exported"] = [doc.exportImage(str(path), InfoObject()) for path in exported]
                    results[-1]["note_in_exports"] = [origin.ANNOTATION.encode() in path.read_bytes()
                                                      or b"holiday.jpg" in path.read_bytes() for path in exported]
                doc.close()
            except Exception:  # noqa: BLE001
                results.append({"crash": traceback.format_exc()})
        (folder / "auto.json").write_text(json.dumps(results, indent=1))
        code = 0
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    _flush_exit(code)


HARNESS = '''"""Test-only plug-in written by tests/test_krita.py (never shipped).

Once Krita's main window exists it runs test_krita.run_in_krita(window), a generator, step by step from
Krita's event loop and ends Krita with its status; LIIF_KRITA_TEST_TIMEOUT (seconds) guards hangs with status 124.
"""
import os
import sys
import traceback

from krita import Extension, Krita
from PyQt5.QtCore import QTimer


def _finish(code):
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class LiifTestHarness(Extension):
    started = False

    def setup(self):
        Krita.instance().notifier().windowCreated.connect(self._on_window)
        limit = float(os.environ.get("LIIF_KRITA_TEST_TIMEOUT", "150"))
        QTimer.singleShot(int(limit * 1000), self._timeout)
        import faulthandler  # and if Krita's event loop is stuck, so that the timer cannot fire: where it is
        faulthandler.dump_traceback_later(limit + 5)

    def _timeout(self):
        from PyQt5.QtWidgets import QApplication
        shown = QApplication.activeModalWidget() or QApplication.activePopupWidget()
        what = "nothing" if shown is None else (type(shown).__name__ + " " + repr(shown.windowTitle()) + " "
                                                + repr(getattr(shown, "text", lambda: "")()))
        lines, steps = [], getattr(self, "steps", None)  # where the test is: its line, then the helper's
        while steps is not None and getattr(steps, "gi_frame", None) is not None:
            lines.append(str(steps.gi_frame.f_lineno))
            steps = steps.gi_yieldfrom
        print("HARNESS: timeout; the modal window:", what, "; test_krita.py line", " > ".join(lines) or "?",
              flush=True)
        _finish(124)

    def createActions(self, window):
        pass

    def _on_window(self):
        if not self.started:
            self.started = True
            QTimer.singleShot(1000, self._run)  # let Krita finish its menus first

    def _run(self):
        try:
            import test_krita
            window = Krita.instance().activeWindow() or Krita.instance().windows()[0]
            self.steps = test_krita.run_in_krita(window)
        except Exception:
            traceback.print_exc()
            self._exit(1)
        self._step()

    def _step(self):
        """One step of the test's generator; Krita's event loop runs between steps, for as long as it asks."""
        try:
            wait = next(self.steps)
        except StopIteration as done:
            self._exit(int(done.value or 0))
        except Exception:
            traceback.print_exc()
            self._exit(1)
        else:
            QTimer.singleShot(int(wait * 1000), self._step)

    def _exit(self, code):
        print("HARNESS: exit", code, flush=True)
        _finish(code)


Krita.instance().addExtension(LiifTestHarness(Krita.instance()))
'''


def _pump(seconds: float, until: Any = None) -> bool:
    """Process Qt events for up to ``seconds`` (or until ``until()`` is true); returns ``until()``'s last value."""
    from PyQt5.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.02)
    return bool(until()) if until is not None else True


def _wait(seconds: float, until: Any = None) -> Iterator[float]:
    """Wait in Krita's own event loop (the harness resumes the generator) for up to ``seconds``, or until
    ``until()`` is true; returns ``until()``'s last value. Krita 5.2 applies a document's changes to its view
    (the Layers docker, the active layer) only from its top-level event loop: after ``setActiveNode`` in a
    nested one (``_pump``, or a ``QEventLoop``) the document's active layer stayed None (checked with Krita
    5.2.9); Krita 5.1 did either."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if until is not None and until():
            return True
        yield 0.02
    return bool(until()) if until is not None else True


def _menu_entries(menu: Any, path: list[str], labels: list[str], out: list[dict[str, str]]) -> None:
    for act in menu.actions():
        name, label = act.objectName() or act.text(), act.text().replace("&", "")
        out.append({"path": "/".join(path + [name]), "labels": " > ".join(labels + [label])})
        if act.menu() is not None:
            _menu_entries(act.menu(), path + [name], labels + [label], out)


def _accept_import_dialog(deadline: float) -> None:
    """Accept the next modal dialog that is not LIIF's before ``deadline``: Krita 5.1's WebP import asks for
    its options in one (each time a WebP file is opened or a file layer loads one), even in batch mode."""
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    dialog = QApplication.activeModalWidget()
    if dialog is not None and type(dialog).__name__ != "UpscaleDialog":
        dialog.accept()
    elif time.monotonic() < deadline:
        QTimer.singleShot(50, lambda: _accept_import_dialog(deadline))


def _dialog_driver(state: dict[str, Any], setup: Any, deadline: float, press: str = "Ok") -> None:
    """Wait for the modal LIIF dialog (and its worker info), let ``setup(dialog)`` fill it in, then press OK
    (or the button ``press`` names: ``Cancel``)."""
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication, QDialogButtonBox

    dialog = QApplication.activeModalWidget()
    ready = (dialog is not None and type(dialog).__name__ == "UpscaleDialog"
             and (dialog.info is not None or dialog.info_error is not None))
    if not ready and time.monotonic() < deadline:
        QTimer.singleShot(100, lambda: _dialog_driver(state, setup, deadline, press))
        return
    if dialog is None or type(dialog).__name__ != "UpscaleDialog":
        state["error"] = f"no LIIF dialog, the modal widget is {dialog!r}"
        return
    try:
        setup(dialog)
        state["result_label"] = dialog.result_label.text()
        state["status_label"] = dialog.status_label.text()
        state["ok_enabled"] = dialog.buttons.button(QDialogButtonBox.Ok).isEnabled()
    except Exception:  # noqa: BLE001
        state["error"] = traceback.format_exc()
        dialog.reject()
        return
    dialog.buttons.button(getattr(QDialogButtonBox, press)).click()


def _message_box_closer(state: dict[str, Any], deadline: float) -> None:
    """Wait for a modal message box, note its text, and close it (what a user reading it would do)."""
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication, QMessageBox

    box = QApplication.activeModalWidget()
    if isinstance(box, QMessageBox):
        state["text"] = box.text()
        box.accept()
    elif time.monotonic() < deadline:
        QTimer.singleShot(100, lambda: _message_box_closer(state, deadline))


def run_in_krita(window: Any) -> Iterator[float]:
    """Called by the harness plug-in in the full Krita: the plug-in's action, menu, dialog and job. A generator:
    it yields the seconds to spend in Krita's own event loop (see ``_wait``) and returns the exit status."""
    from krita import Krita
    from PyQt5.QtCore import QTimer

    out = Path(os.environ["LIIF_KRITA_TEST_OUT"])
    model = os.environ["LIIF_KRITA_TEST_MODEL"]
    krita = Krita.instance()
    res: dict[str, Any] = {"loaded": "liif_upscale" in sys.modules}
    # the plug-in's extension, found among Python's objects: Krita 5.3.4's Krita.extensions(), called once, left
    # its event loop stuck (a futex wait) as soon as a document was shown (bisected; 5.1 and 5.2 were fine)
    extensions = [e for e in gc.get_objects() if type(e).__name__ == "LiifUpscaleExtension"]
    res["extension"] = len(extensions)
    action = krita.action("liif_upscale")
    res["action_text"] = action.text() if action is not None else None
    entries: list[dict[str, str]] = []
    bar = window.qwindow().menuBar()
    for top in bar.actions():
        if top.menu() is not None:
            _menu_entries(top.menu(), [top.objectName()], [top.text().replace("&", "")], entries)
    res["menu"] = [e for e in entries if e["path"].endswith("/liif_upscale")]
    res["enabled_without_image"] = action.isEnabled() if action is not None else None

    # a document in a view, the layer active
    pixels = (out / "gui.in").read_bytes()
    doc = krita.createDocument(16, 12, "GuiTest", "RGBA", "U8", "", 72.0)
    node = doc.createNode("Icon", "paintlayer")
    node.setPixelData(pixels, 0, 0, 16, 12)
    node.setOpacity(230)  # a look of its own, which the LIIF layer takes (and undo still takes two steps)
    doc.rootNode().addChildNode(node, None)
    window.addView(doc)
    krita.setActiveDocument(doc)
    doc.setActiveNode(node)
    yield from _wait(1.0)
    res["enabled_with_layer"] = action.isEnabled() if action is not None else None
    res["active_layer"] = doc.activeNode().name() if doc.activeNode() is not None else None
    if res["active_layer"] is None:  # the action would only say "select the layer to upscale"
        (out / "gui_result.json").write_text(json.dumps(res, indent=1))
        return 0
    krita.writeSetting("liif_upscale", "output", "document")  # the dialog must show (and we then change) these
    krita.writeSetting("liif_upscale", "scale", "3.00")

    def setup(dialog: Any) -> None:
        res["restored"] = {"scale": dialog.scale_spin.value(), "document": dialog.output_document.isChecked()}
        res["linear_render_offered"] = dialog.isAncestorOf(dialog.linear_render)  # an 8-bit sRGB layer: no
        dialog.scale_spin.setValue(2.0)
        dialog.output_layer.setChecked(True)
        dialog.device_combo.setCurrentIndex(dialog.device_combo.findData("cpu"))
        dialog.tile_auto.setChecked(True)
        dialog.adjustSize()
        _pump(0.3)
        shot = dialog.grab()
        res["screenshot"] = shot.save(str(out / "dialog.png"))
        # what each bundled model is for: the default's under the list, every one's as its tooltip
        _pump(60, lambda: dialog.info is not None)
        combo = dialog.model_combo
        res["model_note"] = {"text": dialog.model_note.text(), "shown": dialog.model_note.isVisibleTo(dialog),
                             "tips": {combo.itemData(i) or "": combo.itemData(i, 3) for i in range(combo.count())},
                             "entries": [combo.itemText(i) for i in range(combo.count())]}
        dialog.add_model(model)  # after the screenshot: the picture shows the bundled model
        res["model_note"]["shown_for_a_file"] = dialog.model_note.isVisibleTo(dialog)
        dialog.quality.setCurrentIndex(dialog.quality.findData(4))  # ... and the default quality (4 passes here)
        dialog.preview_size = (20, 14)  # a window inside the 32 x 24 result
        dialog.preview_check.setChecked(True)
        shown = _pump(60, lambda: dialog.preview_image is not None)
        _pump(0.2)  # (the dialog takes its new size)
        res["preview"] = {"shown": shown, "status": dialog.preview_status.text(),
                          "dialog_size": [dialog.width(), dialog.height()]}
        if shown:
            image, window = dialog.preview_image, dialog.preview_window
            bits = image.constBits()
            bits.setsize(image.bytesPerLine() * image.height())
            (out / "gui.preview").write_bytes(bytes(bits))
            res["preview"].update(window=list(window), bytes_per_line=image.bytesPerLine())
            # a drag shows another window, and OK starts the job, both from the pixels already read
            api_module = sys.modules[type(dialog).__module__].api
            real_prepare = api_module.prepare
            api_module.prepare = lambda *a, **k: prepares.append(a) or real_prepare(*a, **k)
            restore.append(lambda: setattr(api_module, "prepare", real_prepare))
            dialog._preview_dragged(-4, 0)
            moved = _pump(60, lambda: dialog.preview_window is not None and dialog.preview_window != window)
            res["preview"]["dragged_to"] = list(dialog.preview_window) if moved else None

    dialog_state: dict[str, Any] = {}
    prepares: list[Any] = []
    restore: list[Any] = []
    QTimer.singleShot(200, lambda: _dialog_driver(dialog_state, setup, time.monotonic() + 90))
    before = _snapshot(doc)
    if action is not None:
        action.trigger()  # returns once the dialog is closed and the job has started
    for undo_patch in restore:
        undo_patch()
    res["prepared_after_preview"] = len(prepares)
    res["dialog"] = dialog_state
    ext = extensions[0] if extensions else None
    runner = ext.runner if ext is not None else None
    if runner is not None:
        yield from _wait(120, lambda: runner.state != "running")
        res["runner"] = {"state": runner.state, "error": str(runner.error) if runner.error else None,
                         "seconds": runner.seconds}
    res["size"] = [doc.width(), doc.height()]
    res["active_after_job"] = doc.activeNode().name() if doc.activeNode() is not None else None
    res["layers"] = [n.name() for n in doc.rootNode().childNodes()]
    new = [n for n in doc.rootNode().childNodes() if n.name().endswith("(LIIF)")]
    if new:
        b = new[0].bounds()
        res["bounds"] = [b.x(), b.y(), b.width(), b.height()]
        res["opacity"] = new[0].opacity()
        (out / "gui.out").write_bytes(bytes(new[0].pixelData(0, 0, doc.width(), doc.height())))
    res["remembered"] = {k: krita.readSetting("liif_upscale", k, "")
                         for k in ("scale", "output", "model", "device", "self_ensemble")}

    # undo: the first step removes the LIIF layer, the second restores the image's size and pixels
    undo = krita.action("edit_undo")
    steps = []
    for _ in range(2):
        undo.trigger()
        doc.waitForDone()
        yield from _wait(0.5)
        icon = [n for n in doc.rootNode().childNodes() if n.name() == "Icon"]
        data = bytes(icon[0].pixelData(0, 0, 16, 12)) if icon else b""
        steps.append({"size": [doc.width(), doc.height()], "layers": [n.name() for n in doc.rootNode().childNodes()],
                      "icon_restored": data == pixels})
    res["undo"] = steps

    # a dialog closed with Cancel after the worker estimated the job from the pixels: no job, the document
    # as it was, and the worker is told to release what it kept from the pixels for that job
    from liif_upscale import api

    closed_state: dict[str, Any] = {}

    def estimated(dialog: Any) -> None:
        dialog.scale_spin.setValue(3.0)
        _pump(30, lambda: dialog.exact_estimate() is not None)
        closed_state["exact"] = dialog.exact_estimate()

    before, runner = _snapshot(doc), ext.runner
    QTimer.singleShot(200, lambda: _dialog_driver(closed_state, estimated, time.monotonic() + 60, "Cancel"))
    action.trigger()
    replies = api.shared_client()._proc.messages.queue  # the worker's replies no request has taken

    def forgotten() -> list[int]:
        return [r[0]["released"] for r in list(replies) if isinstance(r, tuple) and r[0].get("event") == "forgotten"]

    yield from _wait(20, lambda: bool(forgotten()))
    res["dialog_closed"] = {"dialog": closed_state, "released": forgotten(), "unchanged": _snapshot(doc) == before,
                            "no_job": ext.runner is runner}

    # a second run, cancelled with the progress dialog's Cancel button: the document must not change
    before = _snapshot(doc)
    cancel_state: dict[str, Any] = {}

    def at_four(dialog: Any) -> None:  # x4, and the worker's estimate from the pixels on the Result line
        dialog.scale_spin.setValue(4.0)
        cancel_state["size_estimate"] = dialog.estimate()
        _pump(30, lambda: dialog.exact_estimate() is not None)
        cancel_state.update(exact=dialog.exact_estimate(), speed=dialog.info.get("speed"))

    QTimer.singleShot(200, lambda: _dialog_driver(cancel_state, at_four, time.monotonic() + 60))
    action.trigger()
    runner = ext.runner
    if runner.state == "running":
        from PyQt5.QtWidgets import QPushButton

        runner.progress.findChild(QPushButton).click()  # the progress dialog's Cancel button
    yield from _wait(2.0, lambda: runner.state != "running")
    yield from _wait(1.0)
    res["cancel"] = {"state": runner.state, "unchanged": _snapshot(doc) == before, "dialog": cancel_state}

    # an error (here: no worker) ends in a message box saying what to do, and the document stays as it was
    from liif_upscale.liif_common.client import WorkerClient

    saved, api._client = api._client, WorkerClient(python="/nonexistent/liif/python3")
    before = _snapshot(doc)
    error_state: dict[str, Any] = {}
    box: dict[str, Any] = {}
    QTimer.singleShot(200, lambda: _dialog_driver(error_state, lambda d: None, time.monotonic() + 30))
    QTimer.singleShot(300, lambda: _message_box_closer(box, time.monotonic() + 60))
    action.trigger()
    runner = ext.runner
    yield from _wait(60, lambda: runner.state != "running" and "text" in box)
    api._client = saved
    res["error"] = {"state": runner.state, "message": box.get("text"), "unchanged": _snapshot(doc) == before,
                    "dialog_status": error_state.get("status_label")}

    # the whole image: every paint layer redrawn, into a new document that gets its own view
    image_state: dict[str, Any] = {}

    def whole_image(dialog: Any) -> None:
        image_state["offered"] = dialog.scope_image.text()
        dialog.scope_image.setChecked(True)
        dialog.scale_spin.setValue(2.0)
        dialog.quality.setCurrentIndex(dialog.quality.findData(1))
        image_state["outputs_enabled"] = dialog.output_layer.isEnabled() or dialog.output_document.isEnabled()

    shapes = doc.createVectorLayer("Shapes")  # Krita scales it (only in the full Krita: under kritarunner,
    doc.rootNode().addChildNode(shapes, None)  # scaling an image with a vector layer sometimes never ends)
    shapes.addShapesFromSvg('<svg xmlns="http://www.w3.org/2000/svg" width="16" height="12">'
                            '<rect x="2" y="2" width="8" height="6" fill="#f00"/></svg>')
    doc.waitForDone()
    yield from _wait(1.0)  # the shape is drawn into the layer's pixels in the background
    before, views = _snapshot(doc), len(window.views())
    QTimer.singleShot(200, lambda: _dialog_driver(image_state, whole_image, time.monotonic() + 60))
    action.trigger()
    runner = ext.runner
    yield from _wait(60, lambda: runner.state != "running")
    yield from _wait(0.5)
    made = [d for d in krita.documents() if d.name().endswith("(LIIF)")]
    res["image"] = {"state": runner.state, "error": str(runner.error) if runner.error else None,
                    "dialog": image_state, "unchanged": dict(_snapshot(doc), documents=None) == dict(
                        before, documents=None), "new_views": len(window.views()) - views,
                    "documents": [[d.name(), d.width(), d.height(), d.fileName(), d.modified()] for d in made],
                    "active": krita.activeDocument().name() if krita.activeDocument() else None}
    if made:
        icon = [n for n in made[0].rootNode().childNodes() if n.name() == "Icon"]
        res["image"]["layers"] = [[n.name(), n.type()] for n in made[0].rootNode().childNodes()]
        res["image"]["shapes"] = [len(n.shapes()) for n in made[0].rootNode().childNodes() if n.type() == "vectorlayer"]
        if icon:
            (out / "gui_image.out").write_bytes(bytes(icon[0].pixelData(0, 0, 32, 24)))
            data = bytes(icon[0].pixelData(0, 0, 32, 24))
            undo.trigger()  # the new document's history is empty: nothing to take back
            made[0].waitForDone()
            yield from _wait(0.5)
            res["image"]["after_undo"] = {"size": [made[0].width(), made[0].height()],
                                          "same": bytes(icon[0].pixelData(0, 0, 32, 24)) == data}
    doc.setModified(False)

    # the note under the model list suits the file a document was opened from: for a photograph from a JPEG
    # file it names the model made for those; for a PNG with that model chosen, the default; either name is a
    # link that chooses its model (the dialog reads the document's file name; cancelled: no job)
    def note_case(path: Path, choose: str | None) -> Iterator[float]:
        opened = krita.openDocument(str(path))
        state: dict[str, Any] = {}

        def follow_link(dialog: Any) -> None:
            from PyQt5.QtCore import Qt
            from PyQt5.QtTest import QTest

            _pump(60, lambda: dialog.info is not None)
            state["file_name"] = opened.fileName()
            note = dialog.model_note
            combo = dialog.model_combo
            combo.setCurrentIndex(combo.findData("auto"))  # what "Automatic" stands for with this document
            _pump(0.2)
            state["auto"] = {"entry": combo.currentText(), "text": note.text(), "runs": dialog.job_model()}
            combo.setCurrentIndex(combo.findData(choose))
            _pump(0.2)
            state["before"] = {"text": note.text(), "shown": note.isVisibleTo(dialog)}
            # Tab reaches the note, Tab again its link, Return follows it
            note.setFocus(Qt.FocusReason.TabFocusReason)
            QTest.keyClick(note, Qt.Key.Key_Tab)
            QTest.keyClick(note, Qt.Key.Key_Return)
            _pump(0.2)
            state["followed"] = {"model": dialog.model_combo.currentData(), "text": note.text(),
                                 "shown": note.isVisibleTo(dialog), "dialog_open": dialog.isVisible(),
                                 "entries": dialog.model_combo.count()}

        if opened is not None:
            window.addView(opened)
            krita.setActiveDocument(opened)
            opened.setActiveNode(opened.topLevelNodes()[0])
            yield from _wait(1.0)
            runner = ext.runner
            QTimer.singleShot(200, lambda: _dialog_driver(state, follow_link, time.monotonic() + 60, "Cancel"))
            action.trigger()
            state["no_job"] = ext.runner is runner
        return state

    res["jpeg"] = yield from note_case(out / "photo.jpg", None)
    res["png"] = yield from note_case(out / "mockup.png", "liif-edsr-jpeg")

    # a photograph brought into the PNG's document as a layer named after its JPEG file (as Import Layer names
    # it): "Automatic" goes by that layer's file, and with "The whole image" by each layer's (cancelled)
    def layer_case(dialog: Any) -> None:
        _pump(60, lambda: dialog.info is not None)
        combo = dialog.model_combo
        combo.setCurrentIndex(combo.findData("auto"))
        dialog.scope_layer.setChecked(True)  # (the last job's scope, the whole image, comes back)
        _pump(0.2)
        layer_state["layer"] = {"entry": combo.currentText(), "text": dialog.model_note.text(),
                                "runs": dialog.job_model()}
        dialog.scope_image.setChecked(True)
        _pump(0.5)
        note = dialog.model_note  # a line longer: the dialog grows, so that no line of it is cut off
        layer_state["image"] = {"entry": combo.currentText(), "text": note.text(),
                                "runs": [dialog.job_model(layer) for layer in dialog.layers_redrawn],
                                "fits": note.height() >= note.heightForWidth(note.width())}
        dialog.scope_layer.setChecked(True)
        _pump(0.2)
        layer_state["back"] = {"entry": combo.currentText(), "text": dialog.model_note.text()}

    layer_state: dict[str, Any] = {}
    mixed = krita.openDocument(str(out / "mockup.png"))
    if mixed is not None:
        photo = mixed.createNode("photo.jpg", "paintlayer")
        mixed.rootNode().addChildNode(photo, None)
        photo.setPixelData((out / "gui.in").read_bytes(), 0, 0, 16, 12)
        mixed.waitForDone()
        window.addView(mixed)
        krita.setActiveDocument(mixed)
        mixed.setActiveNode(photo)
        yield from _wait(1.0)
        QTimer.singleShot(200, lambda: _dialog_driver(layer_state, layer_case, time.monotonic() + 60, "Cancel"))
        action.trigger()
        mixed.setModified(False)
    res["layer"] = layer_state
    # a file layer showing the JPEG file in the PNG's document (named as Krita's dialog names it): "Automatic"
    # goes by the file it shows, and the note says so (cancelled)
    file_layer_state: dict[str, Any] = {}

    def file_layer_case(dialog: Any) -> None:
        _pump(60, lambda: dialog.info is not None)
        combo = dialog.model_combo
        combo.setCurrentIndex(combo.findData("auto"))
        dialog.scope_layer.setChecked(True)
        _pump(0.2)
        file_layer_state.update(entry=combo.currentText(), text=dialog.model_note.text(), runs=dialog.job_model())
        dialog.scope_image.setChecked(True)  # the whole image makes the file layer a paint layer: the dialog says so
        _pump(0.2)
        file_layer_state.update(scope=dialog.scope_image.text().replace("&", ""), result=dialog.result_label.text())
        dialog.scope_layer.setChecked(True)

    shown = krita.openDocument(str(out / "mockup.png"))
    if shown is not None:
        _accept_import_dialog(time.monotonic() + 20)
        file_layer = shown.createFileLayer("File Layer 1", str(out / "web.webp"), "None")
        shown.rootNode().addChildNode(file_layer, None)
        shown.waitForDone()
        window.addView(shown)
        krita.setActiveDocument(shown)
        shown.setActiveNode(file_layer)
        yield from _wait(1.0)
        QTimer.singleShot(200, lambda: _dialog_driver(file_layer_state, file_layer_case, time.monotonic() + 60,
                                                      "Cancel"))
        action.trigger()
        shown.setModified(False)
    res["file_layer"] = file_layer_state
    # the photograph opened from its lossy WebP file (noted in the document, which stays unmodified), saved as
    # .kra and opened again from there: "Automatic" still stands for the model made for JPEG files (the first
    # document stays open: Krita 5.3.4 crashed opening the .kra after a script had closed it)
    from liif_upscale import origin

    _accept_import_dialog(time.monotonic() + 20)
    photo = krita.openDocument(str(out / "web.webp"))
    res["kra"] = {"noted": origin.ANNOTATION in photo.annotationTypes(), "modified": photo.modified()}
    photo.setBatchmode(True)
    res["kra"]["saved"] = photo.saveAs(str(out / "web.kra"))
    res["kra"].update((yield from note_case(out / "web.kra", None)))
    (out / "gui_result.json").write_text(json.dumps(res, indent=1))
    print("GUI-RESULT", json.dumps(res), flush=True)
    return 0


# =============================================================================================================
# pytest's side

if pytest is not None:
    sys.path.insert(0, str(Path(__file__).resolve().parent / "hosts"))
    import gimp_chroot  # tests/hosts: the Debian chroots setup_gimp.sh builds (forky's has Krita 5.3)
    import krita_home  # tests/hosts: Krita with a profile of its own (also used by docs/editor_scaling.py)

    def _load(name: str) -> Any:
        """One of the plug-in's pure modules, loaded from the source tree without its package (which needs Krita)."""
        spec = importlib.util.spec_from_file_location(f"liif_krita_{name}", PLUGIN / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        return module

    def krita_bytes(image: np.ndarray, depth: str) -> bytes:
        """An R,G,B,A (or grey, alpha) image as Krita's raw bytes: integer RGBA is stored B,G,R,A."""
        if image.shape[-1] == 4 and depth in ("U8", "U16"):
            image = image[..., [2, 1, 0, 3]]
        return np.ascontiguousarray(image.astype(KRITA_DEPTHS[depth])).tobytes()

    def from_krita_bytes(data: bytes, shape: tuple[int, int, int], depth: str) -> np.ndarray:
        image = np.frombuffer(data, dtype=KRITA_DEPTHS[depth]).reshape(shape)
        if shape[-1] == 4 and depth in ("U8", "U16"):
            image = image[..., [2, 1, 0, 3]]
        return image.astype(WORKER_DTYPES[depth])

    def random_layer(rng: np.random.Generator, h: int, w: int, channels: int, depth: str) -> np.ndarray:
        """Random colour, alpha from 1 (never fully transparent, so Krita's exact bounds are the whole rect)."""
        if depth in ("F16", "F32"):
            image = rng.random((h, w, channels), dtype=np.float32)
            image[..., -1] = np.maximum(image[..., -1], 0.01)
            return image.astype(np.float16).astype(np.float32) if depth == "F16" else image
        top = 255 if depth == "U8" else 65535
        image = rng.integers(0, top + 1, size=(h, w, channels)).astype(WORKER_DTYPES[depth])
        image[..., -1] = np.maximum(image[..., -1], 1)
        return image

    def ellipse_mask(w: int, h: int) -> np.ndarray:
        """A soft-edged ellipse touching all four sides of its ``w`` x ``h`` box (so the box is the selection's)."""
        y, x = np.mgrid[0:h, 0:w]
        r = ((x - (w - 1) / 2) / (w / 2)) ** 2 + ((y - (h - 1) / 2) / (h / 2)) ** 2
        mask = np.where(r <= 0.5, 255, np.where(r <= 1.0, 128, 0)).astype(np.uint8)
        assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()
        return mask

    # --- the cases run in kritarunner: (case for Krita, what pytest needs to compute the expected result)
    def api_cases(folder: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        from PIL import Image

        rng = np.random.default_rng(5)
        cases: list[dict[str, Any]] = []
        expect: dict[str, dict[str, Any]] = {}

        def add(name: str, model: str, depth: str, canvas: tuple[int, int], rect: tuple[int, int, int, int] | None,
                call: dict[str, Any], result: dict[str, Any] | None = None, mask_rect: tuple[int, ...] | None = None,
                doc_depth: str | None = None, hdr: bool = False, **extra: Any) -> None:
            channels = 4 if model == "RGBA" else 2
            layer: dict[str, Any] = {"name": "Icon"}
            image = mask = None
            if rect is not None:
                x, y, w, h = rect
                image = random_layer(rng, h, w, channels, depth)
                if hdr:  # highlights up to 8 and colour below 0, as HDR painting makes
                    image[1:4, 1:4, :-1] *= 8
                    image[-2:, :3, :-1] -= 0.5
                    image = image.astype(np.float16).astype(np.float32) if depth == "F16" else image
                (folder / f"{name}.in").write_bytes(krita_bytes(image, depth))
                layer.update(x=x, y=y, w=w, h=h, file=f"{name}.in")
            case = {"name": name, "doc": {"w": canvas[0], "h": canvas[1], "model": model, "depth": doc_depth or depth},
                    "layer": layer, "call": call, **extra}
            if doc_depth:
                case["layer_depth"] = depth
            if mask_rect is not None:
                mx, my, mw, mh = mask_rect
                mask = ellipse_mask(mw, mh)
                (folder / f"{name}.mask").write_bytes(mask.tobytes())
                case["selection"] = {"x": mx, "y": my, "w": mw, "h": mh, "file": f"{name}.mask"}
            cases.append(case)
            expect[name] = {"image": image, "rect": rect, "mask": mask, "mask_rect": mask_rect, "depth": depth,
                            "channels": channels, "self_ensemble": call.get("self_ensemble", False),
                            "linear_render": call.get("linear_render", False),
                            "source": "Group" if extra.get("group") else "Icon",
                            **(result or {})}

        # first a worker that dies mid-job: every later case then runs on the restarted worker
        add("worker_crash", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2}, client="crash_midway")
        # name, colour model, depth, canvas, layer rect, call, expected canvas + target (worked out by hand)
        add("rgba_u8", "RGBA", "U8", (10, 7), (0, 0, 10, 7), {"scale": 2},
            {"canvas": (20, 14), "target": (0, 0, 20, 14), "label": "x2.00"})
        add("rgba_u16", "RGBA", "U16", (9, 6), (0, 0, 9, 6), {"scale": 2.5},
            {"canvas": (23, 15), "target": (0, 0, 23, 15), "label": "x2.50"})
        add("rgba_f16", "RGBA", "F16", (7, 5), (0, 0, 7, 5), {"scale": 2},
            {"canvas": (14, 10), "target": (0, 0, 14, 10), "label": "x2.00"})
        add("rgba_f32", "RGBA", "F32", (7, 5), (0, 0, 7, 5), {"scale": 1.5},
            {"canvas": (11, 8), "target": (0, 0, 11, 8), "label": "x1.50"}, preview=True)
        # HDR: colour beyond 0..1 keeps its range
        add("rgba_f16_hdr", "RGBA", "F16", (7, 6), (0, 0, 7, 6), {"scale": 2},
            {"canvas": (14, 12), "target": (0, 0, 14, 12), "label": "x2.00"}, hdr=True)
        # a render made in linear light: its values upscaled as stored, not in sRGB form
        add("rgba_f32_linear_render", "RGBA", "F32", (7, 5), (0, 0, 7, 5), {"scale": 2, "linear_render": True},
            {"canvas": (14, 10), "target": (0, 0, 14, 10), "label": "x2.00"})
        add("graya_u8_per_axis_size", "GRAYA", "U8", (8, 8), (0, 0, 8, 8), {"size": [20, 13]},
            {"canvas": (20, 13), "target": (0, 0, 20, 13), "label": "x2.50×1.62"})
        add("graya_u16", "GRAYA", "U16", (6, 5), (0, 0, 6, 5), {"scale": 2},
            {"canvas": (12, 10), "target": (0, 0, 12, 10), "label": "x2.00"})
        # content (3, 2) 5 x 4 on 12 x 9, x2.5: canvas 30 x 23 (k = 2.5, 2.556), edges 7.5->8, 20; 5.1->5, 15.3->15
        add("transparent_edges", "RGBA", "U8", (12, 9), (3, 2, 5, 4), {"scale": 2.5},
            {"canvas": (30, 23), "target": (8, 5, 12, 10), "label": "x2.50"})
        add("group_layer", "RGBA", "U8", (8, 6), (0, 0, 8, 6), {"scale": 2},
            {"canvas": (16, 12), "target": (0, 0, 16, 12), "label": "x2.00"}, group=True)
        add("layer_in_its_own_colour_space", "RGBA", "U16", (8, 6), (0, 0, 8, 6), {"scale": 2},
            {"canvas": (16, 12), "target": (0, 0, 16, 12), "label": "x2.00"}, doc_depth="U8")
        add("selection", "RGBA", "U8", (12, 10), (0, 0, 12, 10), {"scale": 2},
            {"canvas": (24, 20), "target": (4, 6, 14, 10), "label": "x2.00"}, mask_rect=(2, 3, 7, 5))
        # self-ensemble: the colour is 8 averaged passes, the selection's mask one pass
        add("selection_self_ensemble", "RGBA", "U8", (12, 10), (0, 0, 12, 10), {"scale": 2, "self_ensemble": True},
            {"canvas": (24, 20), "target": (4, 6, 14, 10), "label": "x2.00"}, mask_rect=(2, 3, 7, 5))
        add("selection_document", "RGBA", "U8", (12, 10), (0, 0, 12, 10), {"size": [21, None], "output": "document"},
            {"canvas": (21, 15), "target": (0, 0, 21, 15), "label": "x3.00"}, mask_rect=(2, 3, 7, 5))
        add("document_per_axis", "RGBA", "U8", (9, 7), (0, 0, 9, 7), {"scale": [3, 2], "output": "document"},
            {"canvas": (27, 14), "target": (0, 0, 27, 14), "label": "x3.00×2.00"}, export=True)
        # failures: each must leave the document exactly as it was
        add("cancel", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2}, cancel=True)
        add("no_worker", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2}, client="missing_python")
        add("out_of_memory_limit", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2}, client="memory_limit")
        add("cmyk", "CMYKA", "U8", (6, 5), None, {"scale": 2})
        add("shrink", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 0.5})
        add("linear_render_not_a_flag", "RGBA", "F32", (6, 5), (0, 0, 6, 5), {"scale": 2, "linear_render": "yes"})
        add("no_selection", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2, "scope": "selection"})
        # a file layer whose file is gone (moved or renamed): it shows nothing, and the message says why
        add("file_layer_missing", "RGBA", "U8", (6, 5), None, {"scale": 2}, file_layer=str(folder / "gone.png"))
        # a layer with a mask that changes how it shows: the result is made from the layer as it shows; the
        # same with the mask as the active node (a mask: its layer); a local selection mask active: its layer
        for name, extra in (("filter_mask", {}), ("filter_mask_node", {"mask_node": True})):
            (folder / f"{name}.fmask").write_bytes(ellipse_mask(7, 5).tobytes())
            add(name, "RGBA", "U8", (10, 7), (0, 0, 10, 7), {"scale": 2},
                {"canvas": (20, 14), "target": (0, 0, 20, 14), "label": "x2.00"},
                filter_mask={"x": 2, "y": 1, "w": 7, "h": 5, "file": f"{name}.fmask"}, **extra)
        # a layer at 60% in Multiply, clipped to the layers below (inherit alpha): the new layer looks the same
        add("layer_look", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2},
            {"canvas": (12, 10), "target": (0, 0, 12, 10), "label": "x2.00"},
            look={"opacity": 153, "blend": "multiply", "inherit_alpha": True})
        add("mask_node", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2},
            {"canvas": (12, 10), "target": (0, 0, 12, 10), "label": "x2.00"}, mask_node=True)
        add("selection_document_untouched", "RGBA", "U8", (6, 5), (0, 0, 6, 5), {"scale": 2, "output": "document"},
            mask_rect=(1, 1, 3, 3), cancel=True)

        # the whole image: layers (bottom first) under the white Background of a 10 x 8 canvas
        def add_image(name: str, call: dict[str, Any], layers: list[dict[str, Any]], **extra: Any) -> None:
            images = {}
            for layer in layers:
                if "rect" in layer:
                    x, y, w, h = layer.pop("rect")
                    images[layer["name"]] = random_layer(rng, h, w, 4, "U8")
                    (folder / f"{name}.{layer['name']}.in").write_bytes(krita_bytes(images[layer["name"]], "U8"))
                    layer.update(x=x, y=y, w=w, h=h, file=f"{name}.{layer['name']}.in")
                if layer["kind"] == "filelayer":  # its PNG file: at the top left, its own size
                    w, h = layer.pop("size")
                    images[layer["name"]] = random_layer(rng, h, w, 4, "U8")
                    Image.fromarray(images[layer["name"]]).save(folder / f"{name}.{layer['name']}.png")
                    layer.update(x=0, y=0, w=w, h=h, png=f"{name}.{layer['name']}.png")
            cases.append({"name": name, "doc": {"w": 10, "h": 8, "model": "RGBA", "depth": "U8"}, "call": call,
                          "layers": layers, **extra})
            expect[name] = {"images": images, "layers": layers}

        add_image("image", {"scale": 2.5}, [
            {"name": "Group", "kind": "grouplayer", "opacity": 200},
            {"name": "Inner", "kind": "paintlayer", "parent": "Group", "rect": (1, 1, 6, 4), "opacity": 128,
             "blend": "multiply", "filter_mask": True},
            {"name": "Empty", "kind": "paintlayer"},
            {"name": "Off canvas", "kind": "paintlayer", "rect": (12, 0, 3, 3)},
            {"name": "Edge", "kind": "paintlayer", "rect": (7, 5, 5, 4), "visible": False, "locked": True}])
        # a file layer, which Krita leaves at its file's size: LIIF redraws it into a paint layer in its place
        add_image("image_file_layer", {"scale": 2.5}, [
            {"name": "File Layer 1", "kind": "filelayer", "size": (7, 5), "opacity": 180, "blend": "multiply",
             "locked": True, "filter_mask": True},
            {"name": "Clone", "kind": "clonelayer", "source": "File Layer 1"}])
        add_image("image_cancelled", {"size": [20, None]}, [
            {"name": "Inner", "kind": "paintlayer", "rect": (1, 1, 6, 4)}], cancel=True)
        add_image("image_with_a_cmyk_layer", {"scale": 2}, [
            {"name": "Inner", "kind": "paintlayer", "rect": (1, 1, 6, 4)},
            {"name": "Print", "kind": "paintlayer", "model": "CMYKA", "fill": [2, 2, 3, 3, 5]}])
        return cases, expect

    def krita_env(home: Path, **extra: str) -> dict[str, str]:
        """A Krita environment whose profile, settings and worker configuration all live under ``home``;
        the worker computes in the reference's precision (conftest); ``flatpak`` finds the test Flatpak."""
        return krita_home.krita_env(home, home.parent / "runtime", FLATPAK_SYSTEM_DIR=str(FLATPAK_SYSTEM_DIR),
                                    LIIF_UPSCALE_PRECISION=os.environ["LIIF_UPSCALE_PRECISION"], **extra)

    _PROFILE: dict[str, Path] = {}
    _API: dict[str, dict[str, Any]] = {}  # per Krita: "host", "flatpak" or "chroot" (see krita_host)
    _MODEL: dict[str, Any] = {}
    FLATPAK_KRITA = "org.kde.krita"  # Debian trixie's Krita 5.2 as a Flatpak: tests/hosts/setup_flatpak.sh
    FLATPAK_SYSTEM_DIR = gimp_chroot.FLATPAKS["trixie"]  # the installation holding it
    KRITA_CHROOT = gimp_chroot.CHROOTS["forky"]  # Debian testing, Krita 5.3: tests/hosts/setup_gimp.sh "" forky

    @pytest.fixture(params=["host", "flatpak", "chroot"], ids=["krita5.1", "krita5.2-flatpak", "krita5.3"])
    def krita_host(request: pytest.FixtureRequest) -> str:
        """Which Krita runs the API cases and the GUI test: this machine's (Debian 12: 5.1.5); Krita 5.2
        (Debian trixie's) in the test Flatpak, where the plug-in starts the worker outside the sandbox
        (``flatpak-spawn --host``); or Krita 5.3 (Debian testing's) in its chroot, as GIMP runs there (the
        worker: this venv's Python, bound in)."""
        if request.param == "flatpak" and (shutil.which("flatpak") is None
                                           or not (FLATPAK_SYSTEM_DIR / "app" / FLATPAK_KRITA / "current").exists()):
            pytest.skip(f"no Flatpak {FLATPAK_KRITA} in {FLATPAK_SYSTEM_DIR}: tests/hosts/setup_flatpak.sh makes it "
                        "(as root)")
        if request.param == "chroot":
            why = gimp_chroot.why_not_usable(KRITA_CHROOT)
            if why is None and not (KRITA_CHROOT / "usr/bin/kritarunner").exists():
                why = f"no Krita in {KRITA_CHROOT}: run tests/hosts/setup_gimp.sh \"\" forky again"
            why = why or gimp_chroot.why_not_this_python()
            if why is not None:
                pytest.skip(why)
        return request.param

    def run_krita(host: str, cmd: list[str], env: dict[str, str], cwd: Path, timeout: float,
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[int | str, str]:
        """Run ``cmd`` in ``cwd`` on this machine, or in Krita 5.3's chroot (``host`` "chroot": with the profile's
        part of ``env``, this repository and the Pythons read-only, the test session's folders writable);
        (its exit status, or why there is none; its output's end)."""
        if host == "chroot":
            log = cwd / "krita_chroot.log"
            kept = {k: v for k, v in env.items() if k == "HOME" or k.startswith(("XDG_", "QT_", "PYTHON", "LIIF_"))}
            status = gimp_chroot.run(f"cd {shlex.quote(str(cwd))} && exec {shlex.join(cmd)}", kept,
                                     gimp_chroot.with_this_python(REPO),
                                     [tmp_path_factory.getbasetemp()], log, timeout, chroot=KRITA_CHROOT)
            return status, log.read_text(errors="replace")[-6000:]
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=cwd)
            return proc.returncode, (proc.stdout + proc.stderr)[-6000:]
        except subprocess.TimeoutExpired as exc:
            return f"nothing: killed after {timeout} s", str(exc.stdout)[-6000:]

    def krita_profile(tmp_path_factory: pytest.TempPathFactory, host: str = "host") -> Path:
        """A throw-away home with the plug-in installed by install.py (once per test session and Krita
        ``host``: each its own, so that none starts with what another remembered or with its resources)."""
        if host not in _PROFILE:
            home = tmp_path_factory.mktemp(f"krita_{host}") / "home"
            home.mkdir()
            install_for_krita(home, home / ".local/share/krita", home / ".config/kritarc")
            _PROFILE[host] = home
        return _PROFILE[host]

    def install_for_krita(home: Path, krita_dir: Path, kritarc: Path) -> None:
        """install.py without a venv (the worker runs this Python), into ``krita_dir`` and ``kritarc``."""
        cmd = [sys.executable, str(REPO / "install.py"), "--no-venv", "--python", sys.executable,
               "--krita-dir", str(krita_dir), "--kritarc", str(kritarc), "--no-gimp", "--no-example", "-q"]
        proc = subprocess.run(cmd, env=krita_env(home), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def need(*programs: str) -> None:
        missing = [p for p in programs if shutil.which(p) is None]
        if missing:
            pytest.skip(f"{', '.join(missing)} not installed: the Krita tests need Debian's krita, python3-pyqt5, "
                        "xvfb and xauth (apt-get install krita python3-pyqt5 xvfb xauth)")

    def run_api(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory, host: str) -> dict[str, Any]:
        """Run every API case in one kritarunner process of ``host``'s Krita (cached for the session)."""
        if host == "host":
            need("kritarunner")
        api = _API.setdefault(host, {})
        if "failure" in api:  # one failed run is reported by every test that needs it, without rerunning it
            pytest.fail(api["failure"], pytrace=False)
        if "results" not in api:
            home = krita_profile(tmp_path_factory, host)
            folder = tmp_path_factory.mktemp("krita_api")
            cases, expect = api_cases(folder)
            (folder / "spec.json").write_text(json.dumps({"model": str(tiny_model_path), "cases": cases}))
            pythonpath = os.pathsep.join([str(Path(__file__).parent), str(home / ".local/share/krita/pykrita")])
            env = krita_env(home, QT_QPA_PLATFORM="offscreen", PYTHONPATH=pythonpath)
            t0 = time.monotonic()
            cmd = ["kritarunner", "-s", "test_krita", "-f", "krita_api_main", str(folder / "spec.json")]
            if host == "flatpak":  # the talk-name install.py grants (tested in test_flatpak.py), given here
                cmd = ["dbus-run-session", "--", "flatpak", "run", "--command=kritarunner",
                       "--talk-name=org.freedesktop.Flatpak", f"--env=PYTHONPATH={pythonpath}", FLATPAK_KRITA, *cmd[1:]]
            status, log = run_krita(host, cmd, env, folder, RUNNER_TIMEOUT_S, tmp_path_factory)
            if status != 0 or not (folder / "result.json").is_file():
                api["failure"] = f"kritarunner ({host}) exited {status}:\n{log}"
                pytest.fail(api["failure"], pytrace=False)
            api.update(results=json.loads((folder / "result.json").read_text()), expect=expect, folder=folder,
                       seconds=time.monotonic() - t0, log=log)
        return api

    def liif(image: np.ndarray, size: tuple[int, int], model_path: Path, self_ensemble: bool | int = False,
             linear: bool = False) -> np.ndarray:
        """What ``liif_core.upscale`` makes of ``image`` at ``size`` with the test model (the reference)."""
        import liif_core

        if "model" not in _MODEL:
            _MODEL["model"] = liif_core.load_model(model_path, device="cpu")
        return liif_core.upscale(image, size=size, model=_MODEL["model"], device="cpu", self_ensemble=self_ensemble,
                                 linear=linear)

    def expected_canvas(exp: dict[str, Any], model_path: Path, linear: bool = False) -> np.ndarray:
        """The whole new layer as it must be: transparent, with the LIIF result of the source at the target
        (``linear``: the layer's profile is linear, so its colour is upscaled in sRGB form)."""
        x, y, w, h = exp["rect"]
        image = exp["image"]
        if exp["mask_rect"] is not None:  # the selection's box is what gets upscaled
            mx, my, mw, mh = exp["mask_rect"]
            image = image[my - y:my - y + mh, mx - x:mx - x + mw]
        tx, ty, tw, th = exp["target"]
        result = liif(image, (tw, th), model_path, exp["self_ensemble"], linear)
        if exp["mask"] is not None:
            mask = liif(exp["mask"], (tw, th), model_path).astype(np.int64)
            alpha = result[..., -1]
            if result.dtype == np.float32:
                result[..., -1] = (alpha.astype(np.float64) * (mask / 255.0)).astype(np.float32)
            else:
                result[..., -1] = ((alpha.astype(np.int64) * mask + 127) // 255).astype(result.dtype)
        cw, ch = exp["canvas"]
        canvas = np.zeros((ch, cw, exp["channels"]), dtype=result.dtype)
        canvas[ty:ty + th, tx:tx + tw] = result
        return canvas

    def assert_pixels_match(got: np.ndarray, want: np.ndarray, depth: str) -> None:
        """Same pixels as ``liif_core.upscale``, up to one step of the depth (a half float's step grows
        with the value: HDR colour above 1)."""
        assert got.shape == want.shape
        tolerance = {"U8": 1, "U16": 1, "F16": 1e-3, "F32": 1e-5}[depth]
        if depth == "F16":
            want = want.astype(np.float16)
            tolerance = np.maximum(tolerance, np.spacing(np.abs(want)).astype(np.float64))
            want = want.astype(np.float32)
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        worst = np.unravel_index((diff - tolerance).argmax(), diff.shape)
        assert (diff <= tolerance).all(), f"difference {diff[worst]} at {worst}"

    def check_result(name: str, tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                     host: str) -> dict[str, Any]:
        api = run_api(tiny_model_path, tmp_path_factory, host)
        got, exp = api["results"][name], api["expect"][name]
        assert "crash" not in got and "error" not in got, got
        cw, ch = exp["canvas"]
        assert got["size"] == [cw, ch]
        label = f"{exp['source']} {exp['label']} (LIIF)"
        assert got["name"] == label or got["kind"] == "document"
        assert got["progress"] == 1.0
        data = (api["folder"] / f"{name}.out").read_bytes()
        pixels = from_krita_bytes(data, (ch, cw, exp["channels"]), exp["depth"])
        # Krita's 16-bit and float default; a linear render is upscaled as stored
        linear = _load("pixels").is_linear_profile(got["profile"]) and not exp["linear_render"]
        assert_pixels_match(pixels, expected_canvas(exp, tiny_model_path, linear), exp["depth"])
        if got["kind"] == "layer":
            tx, ty, tw, th = exp["target"]
            bx, by, bw, bh = got["bounds"]  # exact bounds: never outside the target
            assert tx <= bx and ty <= by and bx + bw <= tx + tw and by + bh <= ty + th, (got["bounds"], exp["target"])
            assert got["layers"] == ["Background", exp["source"], label]  # right above its source
            assert got["type"] == "paintlayer" and got["active"] in (None, got["name"])  # no views: no active node
            assert got["depth"] == exp["depth"]
        return got


# --------------------------------------------------------------------------------------- without Krita


def test_pixels_swap_red_blue_for_integer_rgba_and_round_trip() -> None:
    pixels = _load("pixels")
    rng = np.random.default_rng(1)
    for depth in ("U8", "U16", "F16", "F32"):
        fmt = pixels.pixel_format("RGBA", depth)
        image = random_layer(rng, 3, 5, 4, depth)
        data, shape, dtype = pixels.to_worker(krita_bytes(image, depth), 5, 3, fmt)
        assert shape == (3, 5, 4) and dtype == WORKER_DTYPES[depth]
        np.testing.assert_array_equal(np.frombuffer(data, dtype=dtype).reshape(shape), image)
        back = pixels.from_worker(pixels.worker_samples(data, dtype), fmt)
        assert back == krita_bytes(image, depth)
    fmt = pixels.pixel_format("GRAYA", "U16")
    assert fmt.channels == 2 and not fmt.swap_red_blue and fmt.pixel_bytes == 4


def test_pixels_half_floats_clamp_to_the_half_range() -> None:
    pixels = _load("pixels")
    samples = pixels.array("f", [0.5, 1e6, -1e6, 1.0])
    halves = np.frombuffer(pixels.from_worker(samples, pixels.pixel_format("GRAYA", "F16")), dtype="<f2")
    np.testing.assert_array_equal(halves, np.array([0.5, 65504, -65504, 1.0], dtype=np.float16))


def test_pixels_for_the_preview_are_8_bit_rgba() -> None:
    """The preview's screen bytes from each worker dtype: 16-bit keeps the high byte, floats are
    clamped and rounded (NaN black), grey and alpha become R = G = B and alpha."""
    pixels = _load("pixels")
    rgba = np.array([[[0, 1, 128, 255], [7, 200, 90, 3]]], dtype=np.uint8)
    assert pixels.to_rgba8(pixels.worker_samples(rgba.tobytes(), "uint8"), 4) == rgba.tobytes()
    wide = rgba.astype(np.uint16) * 256 + 177  # the low byte must not matter
    assert pixels.to_rgba8(pixels.worker_samples(wide.tobytes(), "uint16"), 4) == rgba.tobytes()
    floats = np.array([0.5, -0.2, 1.7, np.nan, 1 / 255, 0.999], dtype=np.float32)
    assert pixels.to_rgba8(pixels.worker_samples(floats.tobytes(), "float32"), 2) == bytes(
        [128, 128, 128, 0, 255, 255, 255, 0, 1, 1, 1, 255])


def test_pixels_linear_preview_uses_the_srgb_curve() -> None:
    """Linear profiles are recognised by name; the preview encodes their colour (not alpha) with
    the sRGB curve to within one 8-bit level, for every worker dtype and for grey."""
    pixels = _load("pixels")
    for name in ("sRGB-elle-V2-g10.icc", "Rec2020-elle-V4-g10.icc", "Gray-D50-elle-V2-g10.icc", "scRGB (linear)"):
        assert pixels.is_linear_profile(name), name
    for name in ("sRGB-elle-V2-srgbtrc.icc", "sRGB built-in", "Gray-D50-elle-V2-g22.icc", "WideRGB-elle-V2-g22.icc"):
        assert not pixels.is_linear_profile(name), name
    assert pixels.pixel_format("RGBA", "F32", "sRGB-elle-V2-g10.icc").linear
    assert not pixels.pixel_format("RGBA", "F32").linear
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.random(4000), [0, 1, 1.5, -0.1, 1e-4, np.nan, 0.5, 0.25]]).astype(np.float32)

    def srgb8(x: np.ndarray) -> np.ndarray:
        x = np.clip(np.nan_to_num(x.astype(np.float64)), 0, 1)
        return np.round(255 * np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055))

    for dtype, top in (("float32", 1), ("uint16", 65535), ("uint8", 255)):
        data = values if dtype == "float32" else np.round(np.clip(np.nan_to_num(values), 0, 1) * top).astype(dtype)
        for channels in (4, 2):
            got = np.frombuffer(pixels.to_rgba8(pixels.worker_samples(data.tobytes(), dtype), channels, linear=True),
                                np.uint8).reshape(-1, 4).astype(int)
            pixel = data.reshape(-1, channels).astype(np.float64) / top
            colour = pixel[:, :3] if channels == 4 else pixel[:, :1].repeat(3, axis=1)
            assert np.abs(got[:, :3] - srgb8(colour)).max() <= 1, (dtype, channels)
            plain = np.frombuffer(pixels.to_rgba8(pixels.worker_samples(data.tobytes(), dtype), channels), np.uint8)
            assert np.array_equal(got[:, 3], plain.reshape(-1, 4)[:, 3]), (dtype, channels)  # alpha as it is


def test_pixels_mask_multiplies_alpha() -> None:
    pixels = _load("pixels")
    rng = np.random.default_rng(2)
    mask = rng.integers(0, 256, size=40, dtype=np.uint8)
    for dtype in ("uint8", "uint16", "float32"):
        image = random_layer(rng, 5, 8, 4, {"uint8": "U8", "uint16": "U16", "float32": "F32"}[dtype])
        samples = pixels.worker_samples(image.tobytes(), dtype)
        pixels.apply_mask(samples, 4, mask.tobytes())
        got = np.frombuffer(samples.tobytes(), dtype=dtype).reshape(image.shape)
        np.testing.assert_array_equal(got[..., :3], image[..., :3])
        alpha = image[..., 3].reshape(-1)
        if dtype == "float32":
            want = (alpha.astype(np.float64) * (mask / 255.0)).astype(np.float32)
        else:
            want = (alpha.astype(np.int64) * mask + 127) // 255
        np.testing.assert_array_equal(got[..., 3].reshape(-1), want)
    assert pixels.is_opaque_mask(b"\xff" * 9) and not pixels.is_opaque_mask(b"\xff\xfe\xff")


def test_pixels_refuse_other_colour_models_with_advice() -> None:
    pixels = _load("pixels")
    with pytest.raises(pixels.UnsupportedColorSpace, match="CMYK.*Convert"):
        pixels.pixel_format("CMYKA", "U8")
    with pytest.raises(pixels.UnsupportedColorSpace, match="depth"):
        pixels.pixel_format("RGBA", "U32")


def test_geometry_maps_edges_like_kritas_scaling() -> None:
    geometry = _load("geometry")
    rect = geometry.Rect
    canvas = rect(0, 0, 12, 9)
    p = geometry.plan((12, 9), canvas, rect(3, 2, 5, 4), scale=2.5)
    assert p.canvas_size == (30, 23) and p.target == rect(8, 5, 12, 10)
    p = geometry.plan((8, 8), rect(0, 0, 8, 8), rect(0, 0, 8, 8), size=(20, 13))
    assert p.canvas_size == (20, 13) and p.target == rect(0, 0, 20, 13) and geometry.factor_label(p.factors) == \
        "x2.50×1.62"
    p = geometry.plan((12, 10), rect(2, 3, 7, 5), rect(0, 0, 12, 10), size=(21, None), output="document")
    assert p.canvas_size == (21, 15) and p.source == rect(2, 3, 7, 5) and p.target == rect(0, 0, 21, 15)
    with pytest.raises(geometry.GeometryError, match="1 or more"):
        geometry.plan((4, 4), rect(0, 0, 4, 4), rect(0, 0, 4, 4), scale=0.5)
    with pytest.raises(geometry.GeometryError, match="no pixels"):
        geometry.plan((4, 4), rect(0, 0, 4, 4), rect(0, 0, 0, 0), scale=2)


def test_geometry_outside_a_hole_covers_the_rest_once() -> None:
    geometry = _load("geometry")
    rect = geometry.Rect
    area = rect(2, 1, 9, 7)
    for hole in (rect(4, 3, 3, 2), rect(0, 0, 5, 4), rect(2, 1, 9, 7), rect(20, 20, 2, 2), rect(5, 0, 2, 20)):
        covered = np.zeros((10, 12), int)
        for r in geometry.outside(area, hole):
            covered[r.y:r.bottom, r.x:r.right] += 1
        want = np.zeros((10, 12), int)
        want[area.y:area.bottom, area.x:area.right] = 1
        want[max(hole.y, 0):hole.bottom, max(hole.x, 0):hole.right] = 0
        assert (covered == want).all(), hole
    assert geometry.outside(rect(0, 0, 0, 5), rect(0, 0, 1, 1)) == []


# --------------------------------------------------------------------------------------- kritarunner


def test_api_rgba_u8(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                     krita_host: str) -> None:
    check_result("rgba_u8", tiny_model_path, tmp_path_factory, krita_host)


def test_api_rgba_u16_non_integer_scale(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                        krita_host: str) -> None:
    check_result("rgba_u16", tiny_model_path, tmp_path_factory, krita_host)


def test_api_rgba_float_depths(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                               krita_host: str) -> None:
    check_result("rgba_f16", tiny_model_path, tmp_path_factory, krita_host)
    check_result("rgba_f32", tiny_model_path, tmp_path_factory, krita_host)


def test_api_hdr_float_layer_keeps_colour_beyond_0_1(tiny_model_path: Path,
                                                     tmp_path_factory: pytest.TempPathFactory,
                                                     krita_host: str) -> None:
    """A half-float layer with highlights up to 8 and colour below 0 (Krita's HDR painting) comes back
    with that range, as ``liif_core.upscale`` makes it, not clipped to 0..1."""
    check_result("rgba_f16_hdr", tiny_model_path, tmp_path_factory, krita_host)
    api = run_api(tiny_model_path, tmp_path_factory, krita_host)
    pixels = from_krita_bytes((api["folder"] / "rgba_f16_hdr.out").read_bytes(), (12, 14, 4), "F16")
    assert pixels[..., :3].max() > 4 and pixels[..., :3].min() < -0.1


def test_deep_and_hdr_files_pass_between_krita_and_the_engine(tmp_path_factory: pytest.TempPathFactory) -> None:
    """What Krita exports for print and HDR work (16-bit TIFF, half and full float OpenEXR, float TIFF)
    reads as Krita held it, HDR values included, and what ``write_image`` writes (the CLI's outputs:
    16-bit and float TIFF, half-float OpenEXR, JPEG XL) opens in Krita at that depth with the same values
    (JPEG XL: in the profile its header names).
    Pillow alone could read none of these as stored. (Krita 5.1.5 here takes a Radiance ``.hdr``
    for a camera raw file and cannot open it.)"""
    from test_jpeg_xl import linear_profile, space_profile

    from liif_core.imageio import Metadata, read_image_and_metadata, write_image

    need("kritarunner")
    home = krita_profile(tmp_path_factory)
    folder = tmp_path_factory.mktemp("krita_files")
    rng = np.random.default_rng(40)
    hdr = (rng.random((5, 7, 4), dtype=np.float32) * 6 - 1)  # highlights up to 5, colour below 0
    hdr[..., 3] = rng.random((5, 7), dtype=np.float32)
    made = {"k_u16.tif": (random_layer(rng, 6, 5, 4, "U16"), "U16"),
            "k_f16.exr": (hdr.astype(np.float16).astype(np.float32), "F16"),
            "k_f32.exr": (hdr, "F32"), "k_f32.tif": (hdr, "F32"),
            # JPEG XL without loss, 16 and 8 bits with alpha
            "k_u16.jxl": (random_layer(rng, 6, 5, 4, "U16"), "U16"),
            "k_u8.jxl": (random_layer(rng, 6, 5, 4, "U8"), "U8")}
    exports = []
    for name, (image, depth) in made.items():
        (folder / f"{name}.raw").write_bytes(krita_bytes(image, depth))
        exports.append({"raw": str(folder / f"{name}.raw"), "w": image.shape[1], "h": image.shape[0],
                        "depth": depth, "path": str(folder / name),
                        "options": {"alpha": True, "compressiontype": 3} if name.endswith(".tif")
                        else {"lossless": True} if name.endswith(".jxl") else {}})
    ours = {"o_u16.tif": (random_layer(rng, 4, 6, 4, "U16"), Metadata(), "U16"),
            "o_f16.exr": (hdr.astype(np.float16).astype(np.float32), Metadata(half=True), "F16"),
            "o_f32.tif": (hdr, Metadata(), "F32"),
            # JPEG XL without loss: sRGB's curve in 16 bits (libjxl alone would name it linear light) and linear light
            "o_u16.jxl": (random_layer(rng, 4, 6, 4, "U16"), Metadata(), "U16"),
            "o_u16_linear.jxl": (random_layer(rng, 4, 6, 4, "U16"), Metadata(icc_profile=linear_profile(False)), "U16"),
            "o_f32.jxl": (hdr, Metadata(), "F32"),
            "o_p3.jxl": (random_layer(rng, 4, 6, 4, "U16"),
                         Metadata(icc_profile=space_profile("display-p3", False)), "U16"),
            "o_adobe_rgb.jxl": (random_layer(rng, 4, 6, 4, "U8"),
                                Metadata(icc_profile=space_profile("adobe-rgb", False)), "U8")}
    for name, (image, metadata, _) in ours.items():
        write_image(folder / name, image, metadata)
    loads = [{"path": str(folder / name), "raw": str(folder / f"{name}.out")} for name in ours]
    (folder / "spec.json").write_text(json.dumps({"exports": exports, "loads": loads}))
    env = krita_env(home, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(Path(__file__).parent))
    proc = subprocess.run(["kritarunner", "-s", "test_krita", "-f", "krita_files_main", str(folder / "spec.json")],
                          env=env, capture_output=True, text=True, timeout=RUNNER_TIMEOUT_S, cwd=folder)
    assert proc.returncode == 0 and (folder / "files.json").is_file(), (proc.stdout + proc.stderr)[-6000:]
    results = json.loads((folder / "files.json").read_text())
    assert results["exports"] == [{"ok": True}] * len(exports), results["exports"]

    def same(got: np.ndarray, want: np.ndarray, name: str, depth: str) -> None:
        """Equal; through OpenEXR's premultiplied colour, within the rounding of the product (half or full float)."""
        if name.endswith(".exr"):
            np.testing.assert_allclose(got, want, rtol=2e-3 if depth == "F16" else 1e-6, atol=1e-7, err_msg=name)
        else:
            assert np.array_equal(got, want), name

    for name, (image, depth) in made.items():
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # nothing left out
            got, metadata = read_image_and_metadata(folder / name)
        assert got.shape == image.shape and got.dtype == image.dtype, name
        if name.endswith(".jxl"):  # Krita's 16-bit documents are linear sRGB (its default profile), and say so
            assert (metadata.icc_profile is not None) == (depth == "U16"), name
        same(got, image, name, depth)
        assert metadata.half == (depth == "F16"), name
    for (name, (image, _, depth)), res in zip(ours.items(), results["loads"]):
        assert "crash" not in res, res["crash"]
        assert (res["model"], res["depth"], res["h"], res["w"]) == ("RGBA", depth, *image.shape[:2]), (name, res)
        same(from_krita_bytes((folder / f"{name}.out").read_bytes(), image.shape, depth), image, name, depth)
        if name.endswith(".jxl"):  # in the profile its header names: sRGB's curve, linear light (-g10), P3
            assert ("-g10" in res["profile"]) == ("linear" in name), (name, res)
            assert ("P3" in res["profile"]) == ("p3" in name), (name, res)
            # (Krita 5.1.5 gives a file of custom primaries and a gamma, Adobe RGB's, its "Rec. 709 sRGB trc"
            # profile: GIMP reads them, test_gimp.py)


def test_api_model_auto_takes_the_jpeg_model_for_a_document_opened_from_a_jpeg_file(
        tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The API's model argument left as it comes (``auto``): a photograph Krita opened from a JPEG file
    is upscaled by the bundled model made for those, a picture opened from a PNG file by the default
    (each the same pixels as ``liif_core.upscale`` with that model on what Krita loaded, and the JPEG
    one unlike the default's); so is the photograph saved as .kra after it was opened from its JPEG file
    (the plug-in's note of that file, kept in the .kra). A lossy JPEG XL file gets the JPEG model too, a
    lossless one the default."""
    import imagecodecs
    from PIL import Image

    import liif_core
    from liif_core.weights import jpeg_models

    need("kritarunner")
    monkeypatch.setenv("LIIF_UPSCALE_THREADS", "1")  # the worker's and this process's pixels alike
    home = krita_profile(tmp_path_factory)
    folder = tmp_path_factory.mktemp("krita_auto")
    rng = np.random.default_rng(41)
    picture = rng.integers(0, 256, (18, 26, 3), dtype=np.uint8)
    Image.fromarray(picture).save(folder / "holiday.jpg", quality=80)
    Image.fromarray(picture).save(folder / "mockup.png")
    # also the photograph saved as .kra after it was opened from its JPEG file: still the JPEG model
    jpeg = (jpeg_models() or ["default"])[0]
    # also a layer brought in from a JPEG file into the PNG's document, and one from the PNG into the JPEG's:
    # each by the file it is named after
    # and a file layer showing the JPEG file in the PNG's document, and the reverse: each by the file it shows
    # and JPEG XL files, lossy (coded in XYB, as cjxl and GIMP write them by default) or not: the file is read
    (folder / "web.jxl").write_bytes(imagecodecs.jpegxl_encode(picture, distance=1.0))
    (folder / "shot.jxl").write_bytes(imagecodecs.jpegxl_encode(picture, lossless=True))
    files = {"holiday.jpg": jpeg, "mockup.png": "default", "holiday.kra": jpeg, "mockup.png+holiday.jpg": jpeg,
             "holiday.jpg+mockup.png": "default", "mockup.png@holiday.jpg": jpeg, "holiday.jpg@mockup.png": "default",
             "web.jxl": jpeg, "shot.jxl": "default"}
    (folder / "spec.json").write_text(json.dumps({"files": list(files)}))
    pythonpath = os.pathsep.join([str(Path(__file__).parent), str(home / ".local/share/krita/pykrita")])
    env = krita_env(home, QT_QPA_PLATFORM="offscreen", PYTHONPATH=pythonpath)
    proc = subprocess.run(["kritarunner", "-s", "test_krita", "-f", "krita_auto_main", str(folder / "spec.json")],
                          env=env, capture_output=True, text=True, timeout=RUNNER_TIMEOUT_S, cwd=folder)
    assert proc.returncode == 0 and (folder / "auto.json").is_file(), (proc.stdout + proc.stderr)[-6000:]
    for (name, model), res in zip(files.items(), json.loads((folder / "auto.json").read_text())):
        assert "crash" not in res, res["crash"]
        base, _, imported = name.partition("+")
        shown = name.partition("@")[2]
        # the .kra's note and an imported layer's name give a file's name only; a file layer shows a path
        opened = "holiday.jpg" if name.endswith(".kra") else imported or str(folder / (shown or name))
        assert res["model"] == "auto" and res["source_file"] == opened, res
        if name.endswith(".kra"):
            assert res["exported"] == [True] * 4 and res["note_in_exports"] == [False] * 4, res
        assert (res["depth"], res["source"], res["size"]) == ("U8", [26, 18], [52, 36]), res
        source = from_krita_bytes((folder / f"{name}.in").read_bytes(), (18, 26, 4), "U8")
        got = from_krita_bytes((folder / f"{name}.out").read_bytes(), (36, 52, 4), "U8")
        expected = liif_core.upscale(source, scale=2, model=model, device="cpu")
        assert_pixels_match(got, expected, "U8")
        if model != "default":  # the choice mattered: the default model gives other pixels
            assert not np.array_equal(got, liif_core.upscale(source, scale=2, model="default", device="cpu")), name
        if imported:  # the whole image: the first layer by the document's file, the brought-in one by its own
            assert res["parts"] == [["Background", str(folder / base)], [imported, imported]], res
            layers = from_krita_bytes((folder / f"{name}.image.in").read_bytes(), (2 * 18, 26, 4), "U8")
            results = from_krita_bytes((folder / f"{name}.image.out").read_bytes(), (2 * 36, 52, 4), "U8")
            for layer, result, file_name in ((layers[:18], results[:36], base), (layers[18:], results[36:], imported)):
                expected = liif_core.upscale(layer, scale=2, model=files[file_name], device="cpu")
                assert_pixels_match(result, expected, "U8")


def test_api_linear_render_upscales_the_values_as_stored(tiny_model_path: Path,
                                                         tmp_path_factory: pytest.TempPathFactory,
                                                         krita_host: str) -> None:
    got = check_result("rgba_f32_linear_render", tiny_model_path, tmp_path_factory, krita_host)
    assert _load("pixels").is_linear_profile(got["profile"])  # else the flag would change nothing
    api = run_api(tiny_model_path, tmp_path_factory, krita_host)
    exp = api["expect"]["rgba_f32_linear_render"]
    pixels = from_krita_bytes((api["folder"] / "rgba_f32_linear_render.out").read_bytes(), (10, 14, 4), "F32")
    srgb_form = expected_canvas(exp, tiny_model_path, linear=True)  # what the layer gets without the flag
    assert np.abs(pixels[..., :3] - srgb_form[..., :3]).max() > 1e-3


def test_preview_of_a_linear_float_layer_is_srgb_encoded(tiny_model_path: Path,
                                                         tmp_path_factory: pytest.TempPathFactory,
                                                         krita_host: str) -> None:
    """Krita gives new 16-bit and float images a linear profile (8-bit ones sRGB's curve); the
    preview shows such a layer's result with the sRGB curve, as the canvas does, not darker."""
    pixels = _load("pixels")
    api = run_api(tiny_model_path, tmp_path_factory, krita_host)
    results = api["results"]
    assert [pixels.is_linear_profile(results[n]["profile"]) for n in ("rgba_f16", "rgba_f32", "rgba_u16", "rgba_u8")
            ] == [True, True, True, False], {n: results[n]["profile"] for n in results}
    assert pixels.is_linear_profile(results["layer_in_its_own_colour_space"]["profile"])  # set to ...-g10.icc
    exp = api["expect"]["rgba_f32"]
    result = liif(exp["image"], (11, 8), tiny_model_path, linear=True)  # the layer fills the image: the window
    shown = np.frombuffer((api["folder"] / "rgba_f32.preview").read_bytes(), np.uint8).reshape(8, 11, 4)
    linear = np.clip(result[..., :3].astype(np.float64), 0, 1)
    encoded = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    assert np.abs(shown[..., :3] - np.round(encoded * 255)).max() <= 1
    assert np.abs(shown[..., 3] - np.round(np.clip(result[..., 3], 0, 1) * 255)).max() <= 1
    assert (shown[..., :3].astype(int) - np.round(linear * 255)).mean() > 20  # not the values as they are


def test_api_graya_and_per_axis_size(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                     krita_host: str) -> None:
    check_result("graya_u8_per_axis_size", tiny_model_path, tmp_path_factory, krita_host)
    check_result("graya_u16", tiny_model_path, tmp_path_factory, krita_host)


def test_api_group_and_layer_with_own_colour_space(tiny_model_path: Path,
                                                   tmp_path_factory: pytest.TempPathFactory,
                                                   krita_host: str) -> None:
    check_result("group_layer", tiny_model_path, tmp_path_factory, krita_host)
    check_result("layer_in_its_own_colour_space", tiny_model_path, tmp_path_factory, krita_host)


def test_api_layer_with_transparent_edges(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                          krita_host: str) -> None:
    got = check_result("transparent_edges", tiny_model_path, tmp_path_factory, krita_host)
    assert got["bounds"][:2] >= [8, 5]


def test_api_selection_mask_becomes_transparency(tiny_model_path: Path,
                                                 tmp_path_factory: pytest.TempPathFactory,
                                                 krita_host: str) -> None:
    check_result("selection", tiny_model_path, tmp_path_factory, krita_host)
    got = check_result("selection_document", tiny_model_path, tmp_path_factory, krita_host)
    assert got["source_unchanged"] and got["layers"] == ["Icon x3.00 (LIIF)"]


def test_api_a_layers_masks_shape_its_result_and_a_mask_stands_for_its_layer(
        tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
        krita_host: str) -> None:
    """A paint layer under a filter mask (Invert through a soft ellipse) is upscaled as it shows, not as its
    own pixels; with the mask as the active node, its layer is upscaled all the same; a local selection mask
    active (before: refused as "not a layer"), its layer, from its own pixels (such a mask changes no pixel)."""
    api = run_api(tiny_model_path, tmp_path_factory, krita_host)
    for name in ("filter_mask", "filter_mask_node"):
        got, exp = api["results"][name], api["expect"][name]
        assert "crash" not in got and "error" not in got, got
        assert got["name"] == "Icon x2.00 (LIIF)" and got["layers"] == ["Background", "Icon", got["name"]], got
        shown = from_krita_bytes((api["folder"] / f"{name}.shown").read_bytes(), (7, 10, 4), "U8")
        raw = from_krita_bytes((api["folder"] / f"{name}.raw").read_bytes(), (7, 10, 4), "U8")
        assert np.array_equal(raw, exp["image"]) and (shown != raw).sum() > 40, "the mask changed nothing"
        result = from_krita_bytes((api["folder"] / f"{name}.out").read_bytes(), (14, 20, 4), "U8")
        assert_pixels_match(result, liif(shown, (20, 14), tiny_model_path), "U8")
        assert not np.array_equal(result, liif(raw, (20, 14), tiny_model_path))
    check_result("mask_node", tiny_model_path, tmp_path_factory, krita_host)


def test_api_the_new_layer_takes_its_sources_look(tiny_model_path: Path,
                                                  tmp_path_factory: pytest.TempPathFactory,
                                                  krita_host: str) -> None:
    """Opacity, blending mode and inherit alpha of the source go to the LIIF layer above it (with the source
    hidden, the image looks as it did, enlarged); a plain source gives a plain layer."""
    got = check_result("layer_look", tiny_model_path, tmp_path_factory, krita_host)
    assert got["look"] == {"opacity": 153, "blend": "multiply", "inherit_alpha": True}, got["look"]
    plain = check_result("rgba_u8", tiny_model_path, tmp_path_factory, krita_host)
    assert plain["look"] == {"opacity": 255, "blend": "normal", "inherit_alpha": False}, plain["look"]


def test_api_self_ensemble(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                           krita_host: str) -> None:
    check_result("selection_self_ensemble", tiny_model_path, tmp_path_factory, krita_host)
    exp = run_api(tiny_model_path, tmp_path_factory, krita_host)["expect"]["selection_self_ensemble"]
    exp = dict(exp, self_ensemble=False)
    single = expected_canvas(exp, tiny_model_path).astype(int)  # one pass must not have passed the check above
    assert np.abs(single - expected_canvas(dict(exp, self_ensemble=True), tiny_model_path).astype(int)).max() > 1


def test_api_document_output_leaves_source_alone(tiny_model_path: Path,
                                                 tmp_path_factory: pytest.TempPathFactory,
                                                 krita_host: str) -> None:
    from PIL import Image

    got = check_result("document_per_axis", tiny_model_path, tmp_path_factory, krita_host)
    assert got["source_unchanged"] and got["layers"] == ["Icon x3.00×2.00 (LIIF)"]
    assert got["name"] == "document_per_axis x3.00×2.00 (LIIF)"
    # Krita's own PNG export of the new document: the colour order is right end to end
    assert got["exported"]
    api = run_api(tiny_model_path, tmp_path_factory, krita_host)
    exported = np.asarray(Image.open(api["folder"] / "document_per_axis.png").convert("RGBA"))
    assert_pixels_match(exported, expected_canvas(api["expect"]["document_per_axis"], tiny_model_path), "U8")


def test_api_cancel_and_errors_leave_the_document_as_it_was(tiny_model_path: Path,
                                                            tmp_path_factory: pytest.TempPathFactory,
                                                            krita_host: str) -> None:
    results = run_api(tiny_model_path, tmp_path_factory, krita_host)["results"]
    expected = {"cancel": "WorkerCancelled", "no_worker": "WorkerNotConfigured", "worker_crash": "WorkerCrashed",
                "out_of_memory_limit": "WorkerError", "cmyk": "UpscaleError", "shrink": "UpscaleError",
                "no_selection": "UpscaleError", "file_layer_missing": "UpscaleError",
                "linear_render_not_a_flag": "UpscaleError", "selection_document_untouched": "WorkerCancelled"}
    for name, error in expected.items():
        got = results[name]
        assert got.get("error") == error, (name, got)
        assert got["unchanged"], f"{name} changed the document"
        assert got["documents"] == 1, f"{name} left a document behind"
    assert results["out_of_memory_limit"]["type"] == "MemoryLimitError"
    assert "install.py" in results["no_worker"]["message"]
    assert "CMYK" in results["cmyk"]["message"] and "Convert" in results["cmyk"]["message"]
    assert "linear_render must be True or False" in results["linear_render_not_a_flag"]["message"]
    assert "gone.png was not found" in results["file_layer_missing"]["message"], results["file_layer_missing"]


def test_api_whole_image_redraws_every_paint_layer(tiny_model_path: Path,
                                                   tmp_path_factory: pytest.TempPathFactory,
                                                   krita_host: str) -> None:
    """upscale_image: a new document, the layer stack as it was, each paint layer (in a group, hidden and
    locked, partly off the canvas, the Background) exactly its own LIIF result and transparent elsewhere (a
    layer's masks stay on it: its own pixels are redrawn, not as the filter mask shows them)."""
    geometry = _load("geometry")
    api = run_api(tiny_model_path, tmp_path_factory, krita_host)
    got, exp = api["results"]["image"], api["expect"]["image"]
    assert "crash" not in got and "error" not in got, got
    assert got["size"] == [25, 20] and got["resolution"] == [72.0, 72.0]
    assert got["name"] == "image x2.50 (LIIF)" and got["file_name"] == "" and got["modified"]
    assert got["same_tree"], got["tree"]
    assert got["source_unchanged"] and got["documents"] == 2 and got["progress"] == 1.0 and got["steps"] > 3
    canvas = geometry.Rect(0, 0, 10, 8)
    images = dict(exp["images"], Background=np.full((8, 10, 4), 255, np.uint8))  # createDocument's white one
    rects = {layer["name"]: (layer["x"], layer["y"], layer["w"], layer["h"]) for layer in exp["layers"]
             if "x" in layer}
    rects["Background"] = (0, 0, 10, 8)
    assert sorted(got["bounds"]) == ["Background", "Edge", "Inner", "Off canvas"]
    for name in ("Background", "Inner", "Edge"):
        where = geometry.plan((10, 8), canvas, geometry.Rect(*rects[name]), scale=2.5)
        src, (tx, ty, tw, th) = where.source, where.target
        x, y = rects[name][:2]
        part = images[name][src.y - y:src.bottom - y, src.x - x:src.right - x]
        want = np.zeros((20, 25, 4), np.uint8)
        want[ty:ty + th, tx:tx + tw] = liif(part, (tw, th), tiny_model_path)
        pixels = from_krita_bytes((api["folder"] / f"image.{name}.out").read_bytes(), (20, 25, 4), "U8")
        assert_pixels_match(pixels, want, "U8")
    assert (tx, ty, tw, th) == (18, 13, 7, 7)  # Edge: its 3 x 3 pixels on the canvas, at its corner
    # a layer with no pixels on the canvas is Krita's, scaled with the rest: kept, off the canvas
    assert got["bounds"]["Off canvas"][0] >= 25
    assert not (api["folder"] / "image.Off canvas.out").read_bytes().strip(b"\x00")


def test_api_whole_image_makes_a_file_layer_a_paint_layer_redrawn_by_liif(
        tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory, krita_host: str) -> None:
    """upscale_image on a file layer (which Krita's scaling leaves at its file's size): in the new document a
    paint layer in its place, with its look, locks and filter mask, holding the LIIF result of the file it
    showed (its own pixels, not as the mask shows them); a clone layer of it goes on showing it (Krita 5.2
    and later; Krita 5.1 makes the clone a paint layer when its source goes)."""
    geometry = _load("geometry")
    api = run_api(tiny_model_path, tmp_path_factory, krita_host)
    got, exp = api["results"]["image_file_layer"], api["expect"]["image_file_layer"]
    assert "error" not in got, got
    assert got["size"] == [25, 20] and got["source_unchanged"] and got["documents"] == 2, got
    clone = "paintlayer" if krita_host == "host" else "clonelayer"
    background, file_layer, clone_layer = got["source_tree"]
    assert file_layer[:2] == ["File Layer 1", "filelayer"] and file_layer[2:6] == [180, "multiply", True, True]
    assert [mask[:2] for mask in file_layer[-1]] == [["Invert", "filtermask"]]
    assert got["tree"] == [background, ["File Layer 1", "paintlayer", *file_layer[2:]],
                           ["Clone", clone, *clone_layer[2:]]], got["tree"]
    if clone == "clonelayer":
        assert got["clones"] == {"Clone": ["File Layer 1", True]}, got
    where = geometry.plan((10, 8), geometry.Rect(0, 0, 10, 8), geometry.Rect(0, 0, 7, 5), scale=2.5)
    tx, ty, tw, th = where.target
    want = np.zeros((20, 25, 4), np.uint8)
    want[ty:ty + th, tx:tx + tw] = liif(exp["images"]["File Layer 1"], (tw, th), tiny_model_path)
    pixels = from_krita_bytes((api["folder"] / "image_file_layer.File Layer 1.out").read_bytes(), (20, 25, 4), "U8")
    assert (tw, th) == (18, 13)  # 7 x 5 at x2.5, where Krita's scaling leaves it at 7 x 5
    assert_pixels_match(pixels, want, "U8")


def test_api_whole_image_cancel_and_errors_leave_it_as_it_was(tiny_model_path: Path,
                                                            tmp_path_factory: pytest.TempPathFactory,
                                                            krita_host: str) -> None:
    results = run_api(tiny_model_path, tmp_path_factory, krita_host)["results"]
    for name, error in (("image_cancelled", "WorkerCancelled"), ("image_with_a_cmyk_layer", "UpscaleError")):
        got = results[name]
        assert got.get("error") == error, (name, got)
        assert got["source_unchanged"] and got["documents"] == 1, (name, got)
    message = results["image_with_a_cmyk_layer"]["message"]
    assert "'Print'" in message and "CMYK" in message, message


def test_api_worker_restarts_after_a_crash(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                           krita_host: str) -> None:
    results = run_api(tiny_model_path, tmp_path_factory, krita_host)["results"]
    names = list(results)
    assert names[0] == "worker_crash" and results["worker_crash"]["error"] == "WorkerCrashed"
    assert "rgba_u8" in names[1:] and "error" not in results["rgba_u8"]  # the same client, its worker restarted


# --------------------------------------------------------------------------------------- the full Krita


def test_gui_action_in_filter_enhance_runs_the_dialog(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory,
                                                      krita_host: str) -> None:
    import liif_core
    from liif_core.query import work_per_pixel
    from plugin.common.time_left import format_seconds

    if krita_host != "chroot":
        need("xvfb-run", "xauth", *(["krita"] if krita_host == "host" else []))
    home = krita_profile(tmp_path_factory, krita_host)
    out = tmp_path_factory.mktemp(f"krita_gui_{krita_host}")
    # a speed an earlier session measured (the jobs here are far too short to measure one; about what two
    # Zen 4 cores do): the dialogs tell the time from it
    with pytest.MonkeyPatch.context() as mp:
        import torch

        from liif_core import speed_memory
        from liif_core.devices import resolve_precision

        mp.setenv("XDG_CACHE_HOME", str(home / ".cache"))
        cpu = torch.device("cpu")
        precision = resolve_precision(None, cpu)  # the worker's: krita_env passes LIIF_UPSCALE_PRECISION on
        speed_memory.remember(speed_memory.device_identity(cpu, precision), 1e11)
    krita_dir, kritarc = home / ".local/share/krita", home / ".config/kritarc"
    if krita_host == "flatpak":  # the sandbox's own folders for this app (install.py finds them for users)
        app = home / ".var/app" / FLATPAK_KRITA
        krita_dir, kritarc = app / "data/krita", app / "config/kritarc"
        if not kritarc.is_file():
            install_for_krita(home, krita_dir, kritarc)
    pykrita = krita_dir / "pykrita"
    (pykrita / "liif_test_harness").mkdir(exist_ok=True)
    (pykrita / "liif_test_harness" / "__init__.py").write_text(HARNESS)
    (pykrita / "liif_test_harness.desktop").write_text(
        "[Desktop Entry]\nType=Service\nServiceTypes=Krita/PythonPlugin\nX-KDE-Library=liif_test_harness\n"
        "X-Python-2-Compatible=false\nName=LIIF test harness\nComment=Test-only\n")
    text = kritarc.read_text()
    if "enable_liif_test_harness=true" not in text:
        kritarc.write_text(text.replace("[python]\n", "[python]\nenable_liif_test_harness=true\n", 1))
    from PIL import Image

    image = random_layer(np.random.default_rng(9), 12, 16, 4, "U8")
    (out / "gui.in").write_bytes(krita_bytes(image, "U8"))
    Image.fromarray(image[..., :3]).save(out / "photo.jpg", quality=90)
    Image.fromarray(image[..., :3]).save(out / "web.webp", quality=80)  # lossy: its name does not say so
    Image.fromarray(image[..., :3]).save(out / "mockup.png")
    env = krita_env(home, PYTHONPATH=str(Path(__file__).parent), LIIF_KRITA_TEST_OUT=str(out),
                    LIIF_KRITA_TEST_MODEL=str(tiny_model_path), LIIF_KRITA_TEST_TIMEOUT=str(GUI_TIMEOUT_S - 50))
    krita = ["krita", "--nosplash"]
    if krita_host == "flatpak":  # with the talk-name install.py grants (tested in test_flatpak.py)
        krita = ["dbus-run-session", "--", "flatpak", "run", "--talk-name=org.freedesktop.Flatpak",
                 f"--env=PYTHONPATH={env['PYTHONPATH']}", FLATPAK_KRITA, "--nosplash"]
    cmd = ["timeout", "-k", "10", str(GUI_TIMEOUT_S), "xvfb-run", "-a", "-s", "-screen 0 1280x1024x24", *krita]
    status, log = run_krita(krita_host, cmd, env, out, GUI_TIMEOUT_S + 30, tmp_path_factory)
    assert status == 0 and (out / "gui_result.json").is_file(), f"krita exited {status}:\n{log}"
    res = json.loads((out / "gui_result.json").read_text())

    assert res["loaded"] and res["extension"] == 1
    assert res["active_layer"] == "Icon", res  # the harness made it the active layer
    assert res["action_text"] == "LIIF Upscale..."
    assert [m["path"].lower() for m in res["menu"]] == ["filter/enhance_filters/liif_upscale"], res["menu"]
    assert res["menu"][0]["labels"] == "Filter > Enhance > LIIF Upscale..."
    assert res["enabled_without_image"] is False and res["enabled_with_layer"] is True
    assert "error" not in res["dialog"], res["dialog"]
    assert res["restored"] == {"scale": 3.0, "document": True}  # last used values come back
    assert res["linear_render_offered"] is False  # the colour choice shows for linear layers only
    from liif_core.weights import jpeg_models, list_models, model_summaries  # not at the top: Krita runs this file
    from plugin.common.model_choice import (
        AUTO_CLEAN,
        AUTO_JPEG,
        AUTO_TIP,
        FILE_LAYER_AUTO_JPEG,
        LAYER_AUTO_JPEG,
        LAYERS_JPEG,
        shown_name,
    )

    summaries = model_summaries()  # from the cards in weights/, as the worker reads them
    default, *others = list_models()
    assert summaries[default] and res["model_note"]["shown"], res["model_note"]
    jpeg_model = jpeg_models()[0]  # "Automatic" (a new document, not opened from a JPEG file): the default
    why = AUTO_CLEAN.format(shown_name(default), shown_name(jpeg_model))  # names with hyphens that do not break
    assert res["model_note"]["text"] == (f"<small>{html.escape(summaries[default], quote=False)}<br>"
                                         f"{why}</small>"), res["model_note"]
    assert res["model_note"]["entries"][:2] == [f"Automatic ({default})", f"Default ({default})"], res["model_note"]
    assert res["model_note"]["tips"] == {"auto": AUTO_TIP.format(jpeg_model),
                                         "": f"The default model: {summaries[default]}",
                                         **{name: summaries[name] for name in others}}, res["model_note"]
    assert res["model_note"]["shown_for_a_file"] is False
    label = res["dialog"]["result_label"].replace("\u00a0", " ")
    # (the worker also tells the time, from the speed remembered in this home)
    assert re.fullmatch(r"a 32 × 24 px layer \(×2\.00\); the image grows from 16 × 12 px to 32 × 24 px(; under 5 s)?",
                        label), label
    assert res["dialog"]["status_label"].startswith("Worker ready")
    assert res["runner"]["state"] == "done", res["runner"]
    assert res["size"] == [32, 24] and res["layers"] == ["Background", "Icon", "Icon x2.00 (LIIF)"]
    assert res["active_after_job"] == "Icon x2.00 (LIIF)"  # the new layer is the one to work on next
    got = from_krita_bytes((out / "gui.out").read_bytes(), (24, 32, 4), "U8")
    assert_pixels_match(got, liif(image, (32, 24), tiny_model_path, self_ensemble=4), "U8")
    assert res["remembered"] == {"scale": "2.00", "output": "layer", "model": str(tiny_model_path), "device": "cpu",
                                 "self_ensemble": "4"}
    assert res["opacity"] == 230  # the source's
    assert res["undo"] == [  # as plugin/krita/README.md says: two steps, the source comes back exactly
        {"size": [32, 24], "layers": ["Background", "Icon"], "icon_restored": False},
        {"size": [16, 12], "layers": ["Background", "Icon"], "icon_restored": True}]
    # the preview: the middle 20 x 14 of the same result, as RGBA
    assert res["preview"]["shown"], res["preview"]
    # the preview sits beside the fields: with it, the dialog still fits a 1366 x 768 laptop screen (under them it
    # made the dialog about 860 px tall)
    width, height = res["preview"]["dialog_size"]
    assert height <= 700 and width <= 1300, res["preview"]
    assert res["preview"]["window"] == [6, 5, 20, 14] and res["preview"]["bytes_per_line"] == 80, res["preview"]
    assert res["preview"]["dragged_to"] == [10, 5, 20, 14], res["preview"]  # against the drag, as far
    assert res["prepared_after_preview"] == 0  # neither the drag nor OK read the layer again
    shown = np.frombuffer((out / "gui.preview").read_bytes(), np.uint8).reshape(14, 20, 4)
    assert_pixels_match(shown, liif(image, (32, 24), tiny_model_path, self_ensemble=4)[5:19, 6:26], "U8")
    closed = res["dialog_closed"]
    assert "error" not in closed["dialog"] and closed["dialog"]["exact"] is not None, closed
    assert closed["unchanged"] and closed["no_job"], closed
    assert len(closed["released"]) == 1 and closed["released"][0] >= 16 * 12 * 4 * 4, closed  # the float planes
    assert res["cancel"]["state"] == "cancelled" and res["cancel"]["unchanged"], res["cancel"]
    # the second dialog knows the worker's speed too: its Result line says how long the job takes, at first
    # from the sizes, then as the worker planned it from the pixels: here noise with a varying alpha,
    # so the alpha's pass too (4 views each: the quality remembered from the first dialog), which the sizes
    # alone leave out
    second, state = res["cancel"]["dialog"]["result_label"].replace("\u00a0", " "), res["cancel"]["dialog"]
    assert re.fullmatch(r"a 64 × 48 px layer \(×4\.00\); the image grows from 16 × 12 px to 64 × 48 px; under 5 s",
                        second), second
    tiny = liif_core.load_model(tiny_model_path, device="cpu")
    work = liif_core.work(image, size=(64, 48), model=tiny, self_ensemble=4)
    assert state["exact"] == pytest.approx(work * work_per_pixel(tiny.net)[1] / state["speed"]["cpu"]), state
    assert state["exact"] > 1.5 * state["size_estimate"] and second.endswith(format_seconds(state["exact"]))
    assert res["error"]["state"] == "failed" and res["error"]["unchanged"], res["error"]
    assert "install.py" in res["error"]["message"] and "not available" in res["error"]["dialog_status"]
    whole = res["image"]
    assert whole["state"] == "done" and whole["unchanged"], whole
    assert "(2)" in whole["dialog"]["offered"] and not whole["dialog"]["outputs_enabled"], whole["dialog"]
    assert whole["dialog"]["result_label"].replace("\u00a0", " ").startswith(
        "a new 32 × 24 px document (×2.00), 2 paint layers redrawn"), whole["dialog"]
    assert whole["documents"] == [["GuiTest x2.00 (LIIF)", 32, 24, "", True]], whole
    assert whole["new_views"] == 1 and whole["active"] == "GuiTest x2.00 (LIIF)", whole
    assert whole["layers"] == [["Background", "paintlayer"], ["Icon", "paintlayer"], ["Shapes", "vectorlayer"]]
    assert whole["shapes"] == [1]  # the vector layer came through Krita's scaling and the .kra
    assert whole["after_undo"] == {"size": [32, 24], "same": True}, whole
    got = from_krita_bytes((out / "gui_image.out").read_bytes(), (24, 32, 4), "U8")
    assert_pixels_match(got, liif(image, (32, 24), tiny_model_path), "U8")
    jpeg = res["jpeg"]  # a document opened from a JPEG file: its name, the hint, gone once the model is chosen
    assert "error" not in jpeg and jpeg["file_name"] == str(out / "photo.jpg") and jpeg["no_job"], jpeg
    link = f'<a href="liif-edsr-jpeg">{shown_name("liif-edsr-jpeg")}</a>'
    note = (f"<small>{html.escape(summaries[default], quote=False)}<br>This image was opened from a JPEG file: "
            f"the model {link} is made for lossy compression.</small>")
    assert jpeg["before"] == {"text": note, "shown": True}, jpeg
    # before that, "Automatic" stood for the JPEG model, and the note said why
    assert jpeg["auto"] == {"entry": "Automatic (liif-edsr-jpeg)", "runs": "liif-edsr-jpeg",
                            "text": f"<small>{html.escape(summaries['liif-edsr-jpeg'], quote=False)}<br>"
                                    f"{AUTO_JPEG.format(shown_name('liif-edsr-jpeg'), kind='JPEG')}"
                                    "</small>"}, jpeg
    chosen = f"<small>{html.escape(summaries['liif-edsr-jpeg'], quote=False)}</small>"
    entries = jpeg["followed"]["entries"]
    assert jpeg["followed"] == {"model": "liif-edsr-jpeg", "text": chosen, "shown": True, "dialog_open": True,
                                "entries": entries}, jpeg
    png = res["png"]  # the JPEG model chosen for a PNG: the note links back to the default, which the link chooses
    assert "error" not in png and png["file_name"] == str(out / "mockup.png") and png["no_job"], png
    back = (f"{chosen[:-len('</small>')]}<br>This image was not opened from a JPEG, HEIC, AVIF, lossy WebP or lossy "
            f'JPEG XL file: the default model, <a href="default">{shown_name(default)}</a>, is sharper on it.</small>')
    assert png["before"] == {"text": back, "shown": True}, png
    assert png["auto"] == {"entry": f"Automatic ({default})", "runs": None,
                           "text": f"<small>{html.escape(summaries[default], quote=False)}<br>"
                                   f"{why}</small>"}, png
    layer = res["layer"]  # a layer named after a JPEG file in the PNG's document
    assert layer["layer"] == {"entry": "Automatic (liif-edsr-jpeg)", "runs": "liif-edsr-jpeg",
                              "text": f"<small>{html.escape(summaries['liif-edsr-jpeg'], quote=False)}<br>"
                                      f"{LAYER_AUTO_JPEG.format(shown_name('liif-edsr-jpeg'), kind='JPEG')}"
                                      "</small>"}, layer
    layers_line = LAYERS_JPEG.format(shown_name("liif-edsr-jpeg"), "photo.jpg")
    assert layer["image"] == {"entry": f"Automatic ({default}, liif-edsr-jpeg)", "runs": [None, "liif-edsr-jpeg"],
                              "fits": True,
                              "text": f"<small>{html.escape(summaries[default], quote=False)}<br>{why}<br>"
                                      f"{layers_line}</small>"}, layer
    assert layer["back"] == {key: layer["layer"][key] for key in ("entry", "text")}, layer
    file_layer = res["file_layer"]  # a file layer showing the lossy WebP file in the PNG's document
    assert {key: file_layer.get(key) for key in ("entry", "runs", "text")} == {
        "entry": "Automatic (liif-edsr-jpeg)", "runs": "liif-edsr-jpeg",
        "text": f"<small>{html.escape(summaries['liif-edsr-jpeg'], quote=False)}<br>"
                f"{FILE_LAYER_AUTO_JPEG.format(shown_name('liif-edsr-jpeg'), kind='lossy WebP')}</small>"}, file_layer
    assert file_layer["scope"] == "The whole image: every paint and file layer (2), into a new document", file_layer
    assert ", 2 layers redrawn (1 file layer made a paint layer)" in file_layer["result"], file_layer
    kra = res["kra"]  # opened from a lossy WebP file, saved as .kra, opened again
    assert kra["noted"] and not kra["modified"] and kra["saved"] and kra["file_name"] == str(out / "web.kra"), kra
    assert kra["auto"]["entry"] == "Automatic (liif-edsr-jpeg)" and kra["auto"]["runs"] == "liif-edsr-jpeg", kra
    assert kra["auto"]["text"].endswith(f"{AUTO_JPEG.format(shown_name('liif-edsr-jpeg'), kind='lossy WebP')}"
                                        "</small>"), kra
    assert png["followed"] == {"model": None, "text": f"<small>{html.escape(summaries[default], quote=False)}</small>",
                               "shown": True, "dialog_open": True, "entries": entries}, png  # no entry added
    assert res["screenshot"]
    shot = os.environ.get(SCREENSHOT_ENV)
    if shot and krita_host == "host":  # one picture: the one the README has always shown
        shutil.copyfile(out / "dialog.png", shot)
