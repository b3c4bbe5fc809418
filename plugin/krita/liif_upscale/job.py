"""Running one upscale from the GUI: a worker thread, a progress dialog with Cancel, the result applied at the end.

Krita's API and Qt widgets belong to the GUI thread, so only :func:`api.compute` (pixel conversion
and waiting on the worker process) runs in a Python thread; it touches neither. The GUI thread
polls the thread's messages with a ``QTimer`` (no cross-thread Qt signals, which have crashed other
Krita plug-ins), keeps repainting, and applies the result when it arrives. The progress dialog is
window-modal: Krita stays responsive (it repaints, the dialog moves and cancels) but the document
cannot be edited under a running job, so the result always fits the document it was computed for.

Cancel closes the dialog at once and discards whatever the thread still delivers: the document is
left exactly as it was, because nothing is written before the whole result is there.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from . import api
from .liif_common.client import WorkerCancelled, WorkerClient
from .liif_common.time_left import TimeLeft
from .qt import QMessageBox, QObject, QProgressDialog, Qt, QTimer, QWidget

POLL_MS = 40
TITLE = "LIIF Upscale"


def show_error(parent: QWidget | None, exc: BaseException) -> None:
    """The message box every failure ends in: what happened and what to do."""
    box = QMessageBox(QMessageBox.Icon.Warning, TITLE, api.explain(exc), QMessageBox.StandardButton.Ok, parent)
    details = getattr(exc, "stderr", "")
    if details:
        box.setDetailedText(details)
    box.exec()


class UpscaleRunner(QObject):
    """Runs one prepared :class:`api.UpscaleJob` (or :class:`api.ImageJob`); ``state`` ends as ``"done"``,
    ``"cancelled"`` or ``"failed"``.

    ``estimate`` is the dialog's (seconds for the whole job, or ``None``): the progress dialog
    shows the time left from the start, not only once the job has run a few seconds."""

    def __init__(self, job: api.UpscaleJob | api.ImageJob, client: WorkerClient, parent: QWidget | None = None,
                 on_finished: Callable[[UpscaleRunner], None] | None = None, estimate: float | None = None):
        super().__init__(parent)
        self.job, self.client, self.parent_widget, self.on_finished = job, client, parent, on_finished
        self.state = "idle"
        self.result: Any = None  # the new Node or Document once done
        self.error: BaseException | None = None
        self.seconds = 0.0
        self._messages: queue.Queue = queue.Queue()
        self._cancel = threading.Event()
        self._fraction = 0.0
        self._reported = False  # the worker has begun the job (it reports 0 first)
        self._time_left = TimeLeft(estimate=estimate)  # the dialog's, counting down until a rate is measured
        self._time_text = ""
        self._started = 0.0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._poll)
        self._label = job.description
        self.progress = QProgressDialog(self._label, "Cancel", 0, 1000, parent)
        self.progress.setWindowTitle(TITLE)
        self.progress.setWindowModality(Qt.WindowModality.WindowModal)
        self.progress.setMinimumDuration(0)
        self.progress.setAutoClose(False)
        self.progress.setAutoReset(False)
        self.progress.canceled.connect(self.cancel)

    def start(self) -> None:
        """Show the progress dialog and start the thread; returns at once."""
        self.state = "running"
        self._started = time.monotonic()
        self.progress.setValue(0)
        self.progress.show()
        threading.Thread(target=self._run, name="liif-upscale-job", daemon=True).start()
        self._timer.start(POLL_MS)

    def cancel(self) -> None:
        """Stop the job; the document stays as it was. Safe to call more than once."""
        if self.state != "running":
            return
        self._cancel.set()
        self.client.cancel()
        self._finish("cancelled")

    # the thread ---------------------------------------------------------------------------
    def _set_fraction(self, fraction: float) -> None:
        self._fraction = fraction  # a float store is atomic; the GUI thread reads it on its next poll
        self._reported = True

    def _run(self) -> None:
        try:
            pixels = api.compute(self.job, self.client, self._set_fraction, self._cancel.is_set)
            self._messages.put(("done", pixels))
        except BaseException as exc:  # noqa: BLE001  (everything must reach the GUI thread)
            if not isinstance(exc, (api.LiifClientError, api.UpscaleError)):
                traceback.print_exc()
            self._messages.put(("error", exc))

    # the GUI thread -----------------------------------------------------------------------
    def _poll(self) -> None:
        if self.state != "running":
            return
        self.progress.setValue(int(self._fraction * 1000))
        if self._reported:
            text = self._time_left.update(self._fraction)
            if text != self._time_text:
                self._time_text = text
                self.progress.setLabelText(f"{self._label}\n{text}" if text else self._label)
        try:
            kind, value = self._messages.get_nowait()
        except queue.Empty:
            return
        if kind == "error":
            self.error = value
            self._finish("cancelled" if isinstance(value, WorkerCancelled) else "failed")
            return
        try:
            self.result = api.apply(self.job, value)
        except Exception as exc:  # noqa: BLE001  (shown to the user, never swallowed)
            traceback.print_exc()
            self.error = exc
            self._finish("failed")
            return
        self._finish("done")

    def _finish(self, state: str) -> None:
        self.state = state
        self.seconds = time.monotonic() - self._started
        self._timer.stop()
        self.progress.hide()
        self.progress.deleteLater()
        if state == "failed" and self.error is not None:
            show_error(self.parent_widget, self.error)
        if self.on_finished is not None:
            self.on_finished(self)
