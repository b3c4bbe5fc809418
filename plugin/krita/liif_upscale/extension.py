"""The Krita extension: the "LIIF Upscale..." action in Filter > Enhance, and what it does when triggered.

The action only gathers the active document and layer, asks with :class:`UpscaleDialog`, and hands
the request to :class:`UpscaleRunner`; the work itself is :mod:`api`'s, which scripts use directly.
Its text, tooltip and "needs a paintable layer" condition come from ``liif_upscale.action``
(installed into Krita's ``actions/`` folder).
"""

from __future__ import annotations

from typing import Any

from krita import Extension, Krita

from . import api, origin
from .dialog import UpscaleDialog
from .job import TITLE, UpscaleRunner, show_error
from .qt import QApplication, QDialog, QIcon, QMessageBox, QWidget

ACTION_ID = "liif_upscale"
ACTION_TEXT = "LIIF Upscale..."
MENU_LOCATION = "filter/enhance_filters"  # Filter > Enhance (the objectName of Krita 5's submenu)


class LiifUpscaleExtension(Extension):
    """Registers the action in every main window and runs the dialog on the active layer."""

    def __init__(self, parent: Any):
        super().__init__(parent)
        self.runner: UpscaleRunner | None = None  # the running (or last) job; tests look at it

    def setup(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(api.close_shared_client)
        notifier = Krita.instance().notifier()  # each opened document: note a JPEG file it came from
        notifier.setActive(True)
        notifier.imageCreated.connect(origin.remember)

    def createActions(self, window: Any) -> None:  # noqa: N802  (Krita's name)
        action = window.createAction(ACTION_ID, ACTION_TEXT, MENU_LOCATION)
        action.setToolTip("Enlarge the active layer or the selection by any factor with LIIF")
        action.triggered.connect(self.upscale_active)

    def _parent(self) -> QWidget | None:
        window = Krita.instance().activeWindow()  # never keep the Window createActions got: it is temporary
        return window.qwindow() if window is not None else None

    def upscale_active(self) -> None:
        """Ask how to upscale the active layer, then run it with a progress dialog."""
        parent = self._parent()
        if self.runner is not None and self.runner.state == "running":
            return
        document = Krita.instance().activeDocument()
        node = api.layer_of(document.activeNode()) if document is not None else None  # a mask: its layer
        if document is None or node is None:
            QMessageBox.information(parent, TITLE, "Open an image and select the layer to upscale.")
            return
        try:
            api.check_node(node)  # a mask or a CMYK layer: say so before asking anything
        except api.UpscaleError as exc:
            show_error(parent, exc)
            return
        dialog = UpscaleDialog(document, node, api.shared_client(), parent)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            api.shared_client().forget()  # what the worker kept for the dialog's estimates: no job is coming
            return
        dialog.remember()
        try:
            job = dialog.job()
        except api.UpscaleError as exc:
            api.shared_client().forget()
            show_error(parent, exc)
            return
        self.runner = UpscaleRunner(job, api.shared_client(), parent, self._finished, estimate=dialog.estimate())
        self.runner.start()

    def _finished(self, runner: UpscaleRunner) -> None:
        if runner.state != "done":
            return
        window = Krita.instance().activeWindow()
        view = window.activeView() if window is not None else None
        if view is not None:
            view.showFloatingMessage(f"LIIF Upscale: {runner.job.outcome} in {runner.seconds:.1f} s", QIcon(), 4000, 1)
